#!/usr/bin/env bash
# make-keystore.sh: an SROS2 keystore made with openssl alone, laid out as
# `ros2 security create_keystore` + `create_enclave` (sros2 0.13, ROS 2 Jazzy) lay it out,
# for machines without a ROS install (the pip wheels carry no sros2).
#
#   scripts/make-keystore.sh [options] DIR [ENCLAVE...]
#
#   DIR/public/{ca,identity_ca,permissions_ca}.cert.pem   (the last two: symlinks to ca)
#   DIR/private/{ca,identity_ca,permissions_ca}.key.pem
#   DIR/enclaves/governance.{xml,p7s}
#   DIR/enclaves/<enclave>/{cert.pem,key.pem,governance.p7s,identity_ca.cert.pem,
#                           permissions_ca.cert.pem,permissions.xml,permissions.p7s}
#   DIR/policy.xml    the node's policy (sros2 policy format 0.2.0); not part of sros2's
#                     layout, kept so `ros2 security create_permission DIR ENCLAVE
#                     DIR/policy.xml` can regenerate the node's permissions.
#
# The node's enclave (--node-enclave, default /a4mer/a4mer_node) gets permissions from
# that policy: subscribe to its poses, /tf, /tf_static, /clock; publish its outputs,
# /diagnostics, /rosout, /parameter_events, ~/transition_event; serve its parameter and
# lifecycle services. Every other ENCLAVE gets sros2's default wildcard permissions,
# as `create_enclave` gives (a test publisher, `ros2 topic echo`, ...).
#
# Options:
#   --days N            validity of every certificate (env A4MER_KEYSTORE_DAYS; default
#                       3650, sros2's)
#   --expired           enclave certificates (and so their grants) that expired yesterday;
#                       the CA stays valid. For testing that Enforce refuses them.
#   --node-enclave E    the node's enclave (default /a4mer/a4mer_node)
#   --node FQN          the node's fully qualified name, for `~/` topics (default
#                       /a4mer_node; /robot1/a4mer_node after `-r __ns:=/robot1`)
#   --force             replace DIR's keystore (public/ private/ enclaves/ policy.xml)
# Env: ROS_DOMAIN_ID (default 0) goes into governance and permissions, as in sros2.
set -euo pipefail
# Bash's [[ < ]] and sort then compare bytes, as libxslt's xsl:sort does.
export LC_ALL=C

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { echo "make-keystore.sh: $*" >&2; exit 1; }

days="${A4MER_KEYSTORE_DAYS:-3650}"
expired=0
force=0
node_enclave=/a4mer/a4mer_node
node_fqn=/a4mer_node
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --days) days="${2:?--days needs a number}"; shift 2 ;;
        --days=*) days="${1#*=}"; shift ;;
        --expired) expired=1; shift ;;
        --node-enclave) node_enclave="${2:?}"; shift 2 ;;
        --node) node_fqn="${2:?}"; shift 2 ;;
        --force) force=1; shift ;;
        -h|--help) usage ;;
        --) shift; args+=("$@"); break ;;
        -*) die "unknown option $1" ;;
        *) args+=("$1"); shift ;;
    esac
done
[[ ${#args[@]} -ge 1 ]] || usage
ks="${args[0]}"
enclaves=("$node_enclave")
for e in "${args[@]:1}"; do
    [[ "$e" == "$node_enclave" ]] || enclaves+=("$e")
done
[[ "$days" =~ ^[1-9][0-9]*$ ]] || die "--days must be a positive whole number, not '$days'"
domain="${ROS_DOMAIN_ID:-0}"
[[ "$domain" =~ ^[0-9]+$ ]] || die "ROS_DOMAIN_ID must be a number, not '$domain'"
command -v openssl >/dev/null || die "openssl is not installed"

# rclpy's validate_namespace, which sros2 applies to enclave names, less the bare "/"
# (which would put an identity straight into enclaves/).
name_re='^(/[A-Za-z_][A-Za-z0-9_]*)+$'
for e in "${enclaves[@]}"; do
    [[ "$e" =~ $name_re ]] || die "invalid enclave name '$e' (want e.g. /a4mer/a4mer_node)"
done
[[ "$node_fqn" =~ $name_re ]] || die "invalid node name '$node_fqn' (want e.g. /a4mer_node)"
node_name="${node_fqn##*/}"
node_ns="${node_fqn%/*}"
node_ns="${node_ns:-/}"

if [[ -e "$ks/public" || -e "$ks/private" || -e "$ks/enclaves" || -e "$ks/policy.xml" ]]; then
    # A second run would mint a new CA and orphan every identity signed by the old one.
    [[ $force -eq 1 ]] || die "$ks already holds a keystore; pass --force to replace it"
    rm -rf -- "$ks/public" "$ks/private" "$ks/enclaves" "$ks/policy.xml"
fi
mkdir -p "$ks/public" "$ks/private" "$ks/enclaves"
ks="$(cd "$ks" && pwd)"

work="$(mktemp -d)"
complete=0
# A half-made keystore would make the next run demand --force; these paths are ours
# (checked absent, or removed with --force, above).
cleanup() {
    rm -rf -- "$work"
    [[ $complete -eq 1 ]] || rm -rf -- "$ks/public" "$ks/private" "$ks/enclaves" "$ks/policy.xml"
}
trap cleanup EXIT
# `openssl ca`, not `req -x509`/`x509 -req`: OpenSSL 3.0 can set an arbitrary notBefore
# only there, and sros2 back-dates by a day (Connext rejects "future" certificates).
mkdir "$work/new"
: >"$work/index.txt"
echo 01 >"$work/serial"
cat >"$work/openssl.cnf" <<EOF
[ ca ]
default_ca = keystore_ca
[ keystore_ca ]
database = $work/index.txt
# Looked up even with -rand_serial, which is what sets the (sros2-like 159-bit) serials.
serial = $work/serial
new_certs_dir = $work/new
default_md = sha256
policy = any_cn
unique_subject = no
copy_extensions = none
email_in_dn = no
[ any_cn ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
# UTF8String subjects, as sros2 writes: RustDDS compares the grant's subject_name
# (parsed as UTF8String) with the certificate's DER for equality.
string_mask = utf8only
[ req_dn ]
CN = unused
# sros2's certificates carry BasicConstraints and nothing else.
# OpenSSL would add key identifiers of its own accord.
[ ca_ext ]
basicConstraints = critical,CA:TRUE,pathlen:1
subjectKeyIdentifier = none
authorityKeyIdentifier = none
[ identity_ext ]
basicConstraints = CA:FALSE
subjectKeyIdentifier = none
authorityKeyIdentifier = none
EOF

stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ca_start="$(stamp "$now - 1 day")"
ca_end="$(stamp "$now + $days days")"
if [[ $expired -eq 1 ]]; then
    id_start="$(stamp "$now - 2 days")"
    id_end="$(stamp "$now - 1 day")"
else
    id_start="$ca_start"
    id_end="$ca_end"
fi

new_key() {
    # PKCS#8 PEM, unencrypted, named curve: what sros2 writes. Private: 0600, unlike sros2.
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 \
        -pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null)
}

# csr KEY CN OUT: the subject goes through a config file, since -subj would split an
# enclave name like /a4mer/a4mer_node at its slashes.
csr() {
    sed "s|^CN = .*|CN = $2|" "$work/openssl.cnf" >"$work/req.cnf"
    openssl req -new -config "$work/req.cnf" -key "$1" -out "$3"
}

# sign CSR OUT EXT START END [selfsign KEY]
sign() {
    local extra=(-cert "$ks/public/ca.cert.pem" -keyfile "$ks/private/ca.key.pem")
    [[ "${6:-}" == selfsign ]] && extra=(-selfsign -keyfile "$7")
    openssl ca -batch -notext -rand_serial -preserveDN -config "$work/openssl.cnf" \
        -extensions "$3" -startdate "$4" -enddate "$5" "${extra[@]}" \
        -in "$1" -out "$2" 2>"$work/ca.log" || { cat "$work/ca.log" >&2; die "openssl ca failed"; }
}

# S/MIME clear-signed, text/plain: sros2's PKCS7 Text|DetachedSignature with SHA-256,
# and the `openssl smime -sign -text` that RustDDS's own example keystore uses.
smime_sign() {
    openssl smime -sign -text -md sha256 -in "$1" -out "$2" \
        -signer "$ks/public/permissions_ca.cert.pem" -inkey "$ks/private/permissions_ca.key.pem"
}

# The grant's validity is the certificate's own, as sros2 takes it (isoformat, UTC).
cert_date() {
    date -u -d "$(openssl x509 -in "$1" -noout "-$2" | cut -d= -f2)" +%Y-%m-%dT%H:%M:%S
}

# --- the CA: one key and certificate serving as identity and permissions CA ----------
new_key "$ks/private/ca.key.pem"
csr "$ks/private/ca.key.pem" sros2CA "$work/ca.csr"
sign "$work/ca.csr" "$ks/public/ca.cert.pem" ca_ext "$ca_start" "$ca_end" selfsign "$ks/private/ca.key.pem"
for role in identity_ca permissions_ca; do
    ln -s ca.cert.pem "$ks/public/$role.cert.pem"
    ln -s ca.key.pem "$ks/private/$role.key.pem"
done

# --- governance: sros2's default, as lxml writes it back (no XML declaration) ---------
cat >"$ks/enclaves/governance.xml" <<EOF
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd">
    <domain_access_rules>
        <domain_rule>
            <domains>
              <id>$domain</id>
            </domains>
            <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
            <enable_join_access_control>true</enable_join_access_control>
            <discovery_protection_kind>ENCRYPT</discovery_protection_kind>
            <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
            <rtps_protection_kind>SIGN</rtps_protection_kind>
            <topic_access_rules>
                <topic_rule>
                    <topic_expression>*</topic_expression>
                    <enable_discovery_protection>true</enable_discovery_protection>
                    <enable_liveliness_protection>true</enable_liveliness_protection>
                    <enable_read_access_control>true</enable_read_access_control>
                    <enable_write_access_control>true</enable_write_access_control>
                    <metadata_protection_kind>ENCRYPT</metadata_protection_kind>
                    <data_protection_kind>ENCRYPT</data_protection_kind>
                </topic_rule>
            </topic_access_rules>
        </domain_rule>
    </domain_access_rules>
</dds>
EOF
smime_sign "$ks/enclaves/governance.xml" "$ks/enclaves/governance.p7s"

# --- the node's policy ------------------------------------------------------------------
# What a4mer_node creates (ros/src/node/mod.rs, services.rs) and what ros2-client 0.12
# adds for it: rosout and parameter_events writers (Node::new), a /clock reader and the
# ros_discovery_info reader (Spinner::spin, whether or not use_sim_time is set).
node_publishes=('~/forecast' '~/forecast_markers' '~/motifs' '~/person_markers'
    '~/transition_event' /diagnostics /parameter_events /rosout)
node_subscribes=('~/poses' /clock /tf /tf_static)
node_serves=('~/change_state' '~/describe_parameters' '~/get_available_states'
    '~/get_available_transitions' '~/get_parameter_types' '~/get_parameters' '~/get_state'
    '~/get_transition_graph' '~/list_parameters' '~/set_parameters'
    '~/set_parameters_atomically')

{
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<policy version="0.2.0"'
    echo '  xmlns:xi="http://www.w3.org/2001/XInclude">'
    echo '  <enclaves>'
    echo "    <enclave path=\"$node_enclave\">"
    echo '      <profiles>'
    echo "        <profile ns=\"$node_ns\" node=\"$node_name\">"
    echo '          <topics publish="ALLOW">'
    printf '            <topic>%s</topic>\n' "${node_publishes[@]}"
    echo '          </topics>'
    echo '          <topics subscribe="ALLOW">'
    printf '            <topic>%s</topic>\n' "${node_subscribes[@]}"
    echo '          </topics>'
    echo '          <services reply="ALLOW">'
    printf '            <service>%s</service>\n' "${node_serves[@]}"
    echo '          </services>'
    echo '        </profile>'
    echo '      </profiles>'
    echo '    </enclave>'
    echo '  </enclaves>'
    echo '</policy>'
} >"$ks/policy.xml"

# A ROS name as sros2's permissions.xsl resolves it against the profile's ns and node.
resolve() {
    local ns="$node_ns"
    [[ "$ns" == */ ]] || ns="$ns/"
    case "$1" in
        /*) printf '%s' "$1" ;;
        \~*) printf '%s%s%s' "$ns" "$node_name" "${1:1}" ;;
        *) printf '%s%s' "$ns" "$1" ;;
    esac
}

# emit_topics INDENT GROUP...: the XSLT's "sort" then "prune" passes. Each GROUP is one
# <topics> the translation made (newline-separated, in policy order); groups are ordered
# by their first topic, their topics kept in order, then later repeats are dropped.
emit_topics() {
    local indent="$1"; shift
    local g
    for g in "$@"; do printf '%s\t%s\n' "${g%%$'\n'*}" "$(printf '%s' "$g" | tr '\n' '\v')"; done |
        sort -s -t $'\t' -k1,1 | cut -f2- | tr '\v' '\n' | awk 'NF && !seen[$0]++' |
        while IFS= read -r t; do printf '%s<topic>%s</topic>\n' "$indent" "$t"; done
}

rule() {  # rule PUBLISH_GROUPS_VAR SUBSCRIBE_GROUPS_VAR
    local -n pub="$1" sub="$2"
    echo '      <allow_rule>'
    echo '        <domains>'
    echo "          <id>$domain</id>"
    echo '        </domains>'
    if [[ ${#pub[@]} -gt 0 ]]; then
        printf '        <publish>\n          <topics>\n'
        emit_topics '            ' "${pub[@]}"
        printf '          </topics>\n        </publish>\n'
    fi
    if [[ ${#sub[@]} -gt 0 ]]; then
        printf '        <subscribe>\n          <topics>\n'
        emit_topics '            ' "${sub[@]}"
        printf '          </topics>\n        </subscribe>\n'
    fi
    echo '      </allow_rule>'
}

lines() { local pre="$1" suf="$2" x; shift 2; for x in "$@"; do printf '%s%s%s\n' "$pre" "$(resolve "$x")" "$suf"; done; }

# permissions ENCLAVE CERT OUT node|wildcard
permissions() {
    local pub_groups=() sub_groups=()
    if [[ "$4" == node ]]; then
        pub_groups+=("$(lines rt '' "${node_publishes[@]}")")
        sub_groups+=("$(lines rt '' "${node_subscribes[@]}")")
        pub_groups+=("$(lines rr Reply "${node_serves[@]}")")
        sub_groups+=("$(lines rq Request "${node_serves[@]}")")
    else
        # sros2's policy/defaults/policy.xml: topics, services and actions "/*", all ALLOW.
        local a=/_action/
        pub_groups+=("rt/*" "rq/*Request" "rr/*Reply"
            "rq/*${a}cancel_goalRequest"$'\n'"rq/*${a}get_resultRequest"$'\n'"rq/*${a}send_goalRequest"
            "rr/*${a}cancel_goalReply"$'\n'"rr/*${a}get_resultReply"$'\n'"rr/*${a}send_goalReply"$'\n'"rt/*${a}feedback"$'\n'"rt/*${a}status")
        sub_groups+=("${pub_groups[@]}")
    fi
    # rmw_fastrtps/rmw_cyclonedds get this rule from sros2; ros2-client publishes and
    # reads ros_discovery_info the same way.
    local disc=(ros_discovery_info)
    {
        echo '<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd">'
        echo '  <permissions>'
        echo "    <grant name=\"$1\">"
        echo "      <subject_name>CN=$1</subject_name>"
        echo '      <validity>'
        echo "        <not_before>$(cert_date "$2" startdate)</not_before>"
        echo "        <not_after>$(cert_date "$2" enddate)</not_after>"
        echo '      </validity>'
        rule pub_groups sub_groups
        rule disc disc
        echo '      <default>DENY</default>'
        echo '    </grant>'
        echo '  </permissions>'
        echo '</dds>'
    } >"$3"
}

# --- enclaves -------------------------------------------------------------------------
for e in "${enclaves[@]}"; do
    dir="$ks/enclaves/${e#/}"
    mkdir -p "$dir"
    rel="$(realpath --relative-to="$dir" "$ks")"
    ln -s "$rel/public/identity_ca.cert.pem" "$dir/identity_ca.cert.pem"
    ln -s "$rel/public/permissions_ca.cert.pem" "$dir/permissions_ca.cert.pem"
    ln -s "$(realpath --relative-to="$dir" "$ks/enclaves")/governance.p7s" "$dir/governance.p7s"
    new_key "$dir/key.pem"
    csr "$dir/key.pem" "$e" "$work/id.csr"
    sign "$work/id.csr" "$dir/cert.pem" identity_ext "$id_start" "$id_end"
    kind=wildcard
    [[ "$e" == "$node_enclave" ]] && kind=node
    permissions "$e" "$dir/cert.pem" "$dir/permissions.xml" "$kind"
    smime_sign "$dir/permissions.xml" "$dir/permissions.p7s"
done

complete=1
echo "keystore: $ks (enclaves: ${enclaves[*]}; node policy: $ks/policy.xml)"
