#!/usr/bin/env python3
"""scripts/make-keystore.sh: the SROS2 keystore it makes, checked with openssl.

Run:  python3 scripts/tests/test_keystore.py          (or pytest)
Needs: bash, openssl, GNU coreutils. Optional: a Python that imports sros2 (a ROS 2
install, or SROS2_PYTHON=/path/to/python) for the cross-check against a keystore made by
sros2 itself; without one that test is skipped, saying so.

Every certificate must chain to the CA, every .p7s verify against the permissions CA
and carry its XML, the node's grant name exactly its topics, a tampered signed file
must fail, and an expired identity must show as expired.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "make-keystore.sh")
NODE = "/a4mer/a4mer_node"
OTHER = "/talker"

SERVICES = ["change_state", "describe_parameters", "get_available_states", "get_available_transitions",
            "get_parameter_types", "get_parameters", "get_state", "get_transition_graph",
            "list_parameters", "set_parameters", "set_parameters_atomically"]


def node_topics(fqn="/a4mer_node"):
    """The DDS topics a4mer_node (ros/src/node) and ros2-client create, by direction.

    Written out here, not read from the script, so a topic dropped from or added to
    the script's policy shows up as a difference.
    """
    p = "rt" + fqn
    publish = {p + "/forecast", p + "/forecast_markers", p + "/motifs", p + "/person_markers",
               p + "/transition_event", "rt/diagnostics", "rt/parameter_events", "rt/rosout"}
    publish |= {f"rr{fqn}/{s}Reply" for s in SERVICES}
    subscribe = {p + "/poses", "rt/clock", "rt/tf", "rt/tf_static"}
    subscribe |= {f"rq{fqn}/{s}Request" for s in SERVICES}
    return publish, subscribe


WILDCARD = {"rt/*", "rq/*Request", "rr/*Reply"} | {
    f"{k}/*/_action/{a}{s}" for a in ("cancel_goal", "get_result", "send_goal")
    for k, s in (("rq", "Request"), ("rr", "Reply"))} | {"rt/*/_action/feedback", "rt/*/_action/status"}

# Relative path -> symlink target, or None for a regular file.
CA_FILES = {
    "public/ca.cert.pem": None,
    "public/identity_ca.cert.pem": "ca.cert.pem",
    "public/permissions_ca.cert.pem": "ca.cert.pem",
    "private/ca.key.pem": None,
    "private/identity_ca.key.pem": "ca.key.pem",
    "private/permissions_ca.key.pem": "ca.key.pem",
    "enclaves/governance.xml": None,
    "enclaves/governance.p7s": None,
}


def enclave_files(enclave):
    d = "enclaves" + enclave
    up = "../" * enclave.count("/")
    return {
        f"{d}/cert.pem": None,
        f"{d}/key.pem": None,
        f"{d}/permissions.xml": None,
        f"{d}/permissions.p7s": None,
        f"{d}/governance.p7s": up + "governance.p7s",
        f"{d}/identity_ca.cert.pem": "../" + up + "public/identity_ca.cert.pem",
        f"{d}/permissions_ca.cert.pem": "../" + up + "public/permissions_ca.cert.pem",
    }


def run(*cmd, env=None, check=True, data=None):
    p = subprocess.run(cmd, capture_output=True, env=env, input=data)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode()[-3000:]}")
    return p


def make(ks, *args, env_extra=None, check=True):
    env = dict(os.environ)
    env.pop("ROS_DOMAIN_ID", None)
    env.pop("A4MER_KEYSTORE_DAYS", None)
    env.update(env_extra or {})
    return run("bash", SCRIPT, ks, *args, env=env, check=check)


def listing(root):
    """Every file and symlink under root: relative path -> link target or None."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            full = os.path.join(d, f)
            out[os.path.relpath(full, root)] = os.readlink(full) if os.path.islink(full) else None
    return out


def smime_content(p7s, ca, content=None):
    """The verified content of a clear-signed S/MIME file, or None if it does not verify."""
    cmd = ["openssl", "smime", "-verify", "-text", "-in", p7s, "-CAfile", ca]
    if content:
        cmd += ["-content", content]
    p = run(*cmd, check=False)
    # Text mode signs the canonical (CRLF) form, and hands it back that way.
    return p.stdout.replace(b"\r\n", b"\n") if p.returncode == 0 else None


def grant_topics(xml_path):
    """(publish, subscribe, grant) from a permissions.xml with one grant of allow rules."""
    root = ET.parse(xml_path).getroot()
    grants = root.findall("permissions/grant")
    assert len(grants) == 1, f"{xml_path}: {len(grants)} grants"
    pub, sub = [], []
    for rule in grants[0].findall("allow_rule"):
        pub += [t.text for t in rule.findall("publish/topics/topic")]
        sub += [t.text for t in rule.findall("subscribe/topics/topic")]
    return pub, sub, grants[0]


def cert_field(path, field):
    return run("openssl", "x509", "-in", path, "-noout", f"-{field}").stdout.decode().strip()


def cert_time(path, which):
    s = cert_field(path, which).split("=", 1)[1]
    return datetime.strptime(s, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc)


class Keystore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="keystore-test-")
        cls.ks = os.path.join(cls.tmp, "ks")
        make(cls.ks, OTHER)
        cls.expired = os.path.join(cls.tmp, "expired")
        make(cls.expired, "--expired")
        cls.ca = os.path.join(cls.ks, "public", "ca.cert.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.ks, *parts)

    def test_layout_is_sros2s(self):
        want = dict(CA_FILES, **enclave_files(NODE), **enclave_files(OTHER), **{"policy.xml": None})
        self.assertEqual(listing(self.ks), want)
        # Every symlink resolves inside the keystore (relative, so the keystore can move).
        for rel, target in want.items():
            if target:
                real = os.path.realpath(self.path(rel))
                self.assertTrue(os.path.isfile(real), rel)
                self.assertTrue(real.startswith(os.path.realpath(self.ks) + os.sep), rel)

    def test_keys_are_prime256v1_pkcs8_and_private(self):
        for key in ("private/ca.key.pem", f"enclaves{NODE}/key.pem", f"enclaves{OTHER}/key.pem"):
            with open(self.path(key)) as f:
                self.assertTrue(f.read().startswith("-----BEGIN PRIVATE KEY-----"), key)
            text = run("openssl", "pkey", "-in", self.path(key), "-noout", "-text").stdout.decode()
            self.assertIn("prime256v1", text, key)
            self.assertEqual(os.stat(self.path(key)).st_mode & 0o077, 0, key)

    def test_certificates_chain_to_the_ca(self):
        text = run("openssl", "x509", "-in", self.ca, "-noout", "-text").stdout.decode()
        self.assertIn("CA:TRUE, pathlen:1", text)
        self.assertEqual(cert_field(self.ca, "subject"), "subject=CN = sros2CA")
        run("openssl", "verify", "-CAfile", self.ca, self.ca)
        for enclave in (NODE, OTHER):
            d = self.path("enclaves" + enclave.replace("/", os.sep))
            cert = os.path.join(d, "cert.pem")
            out = run("openssl", "verify", "-CAfile", os.path.join(d, "identity_ca.cert.pem"), cert)
            self.assertIn(b": OK", out.stdout)
            self.assertEqual(cert_field(cert, "subject"), f"subject=CN = {enclave}")
            self.assertEqual(cert_field(cert, "issuer"), "issuer=CN = sros2CA")
            self.assertIn("CA:FALSE", run("openssl", "x509", "-in", cert, "-noout", "-text").stdout.decode())
            # Each identity's key is the one its certificate names.
            pub_cert = run("openssl", "x509", "-in", cert, "-noout", "-pubkey").stdout
            pub_key = run("openssl", "pkey", "-in", os.path.join(d, "key.pem"), "-pubout").stdout
            self.assertEqual(pub_cert, pub_key, enclave)
        # A certificate from another keystore's CA does not chain to this one.
        other = os.path.join(self.expired, "public", "ca.cert.pem")
        p = run("openssl", "verify", "-CAfile", other, self.path(f"enclaves{NODE}", "cert.pem"), check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_every_p7s_verifies_and_carries_its_xml(self):
        signed = {"enclaves/governance.p7s": "enclaves/governance.xml"}
        for enclave in (NODE, OTHER):
            d = "enclaves" + enclave
            signed[f"{d}/permissions.p7s"] = f"{d}/permissions.xml"
            signed[f"{d}/governance.p7s"] = "enclaves/governance.xml"
        for p7s, xml in signed.items():
            content = smime_content(self.path(p7s), self.path("public", "permissions_ca.cert.pem"))
            self.assertIsNotNone(content, f"{p7s} does not verify")
            with open(self.path(xml), "rb") as f:
                self.assertEqual(content, f.read(), p7s)
            with open(self.path(p7s), "rb") as f:
                head = f.read(400)
            self.assertIn(b'multipart/signed; protocol="application/x-pkcs7-signature"; micalg="sha-256"', head)

    def test_node_permissions_grant_exactly_its_topics(self):
        xml = self.path(f"enclaves{NODE}", "permissions.xml")
        pub, sub, grant = grant_topics(xml)
        want_pub, want_sub = node_topics()
        self.assertEqual(set(pub), want_pub | {"ros_discovery_info"})
        self.assertEqual(set(sub), want_sub | {"ros_discovery_info"})
        self.assertEqual(len(pub), len(set(pub)))
        self.assertEqual(grant.get("name"), NODE)
        self.assertEqual(grant.findtext("subject_name"), f"CN={NODE}")
        self.assertEqual(grant.findtext("default"), "DENY")
        self.assertEqual(grant.findall("deny_rule"), [])
        self.assertEqual({i.text for i in grant.findall("allow_rule/domains/id")}, {"0"})
        # Nothing wildcarded, and no topic of another node.
        self.assertFalse([t for t in pub + sub if "*" in t])
        cert = self.path(f"enclaves{NODE}", "cert.pem")
        iso = "%Y-%m-%dT%H:%M:%S"
        self.assertEqual(grant.findtext("validity/not_before"), cert_time(cert, "startdate").strftime(iso))
        self.assertEqual(grant.findtext("validity/not_after"), cert_time(cert, "enddate").strftime(iso))

    def test_other_enclaves_get_sros2s_wildcard(self):
        pub, sub, grant = grant_topics(self.path(f"enclaves{OTHER}", "permissions.xml"))
        self.assertEqual(set(pub), WILDCARD | {"ros_discovery_info"})
        self.assertEqual(set(sub), WILDCARD | {"ros_discovery_info"})
        self.assertEqual(grant.findtext("subject_name"), f"CN={OTHER}")

    def test_tampered_permissions_fail_verification(self):
        ca = self.path("public", "permissions_ca.cert.pem")
        p7s = self.path(f"enclaves{NODE}", "permissions.p7s")
        with open(p7s, "rb") as f:
            signed = f.read()
        self.assertIn(b"<topic>rt/tf_static</topic>", signed)
        # Widen the grant inside the signed file: what an attacker would do.
        bad = os.path.join(self.tmp, "tampered.p7s")
        with open(bad, "wb") as f:
            f.write(signed.replace(b"<topic>rt/tf_static</topic>", b"<topic>rt/cmd_vel__</topic>", 1))
        self.assertIsNone(smime_content(bad, ca))
        # An edited permissions.xml checked against the original signature fails too.
        xml = os.path.join(self.tmp, "tampered.xml")
        with open(self.path(f"enclaves{NODE}", "permissions.xml"), "rb") as f:
            text = f.read()
        with open(xml, "wb") as f:
            f.write(text.replace(b"<default>DENY</default>", b"<default>ALLOW</default>"))
        self.assertIsNone(smime_content(p7s, ca, content=xml))
        # The untouched pair still verifies (the failures above are the edits').
        self.assertIsNotNone(smime_content(p7s, ca))
        # Signed by a different CA: fails against this keystore's.
        other = os.path.join(self.expired, "enclaves", "a4mer", "a4mer_node", "permissions.p7s")
        self.assertIsNone(smime_content(other, ca))

    def test_expired_identity_is_detected(self):
        ca = os.path.join(self.expired, "public", "ca.cert.pem")
        cert = os.path.join(self.expired, "enclaves", "a4mer", "a4mer_node", "cert.pem")
        p = run("openssl", "verify", "-CAfile", ca, cert, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"certificate has expired", p.stdout + p.stderr)
        self.assertNotEqual(run("openssl", "x509", "-in", cert, "-noout", "-checkend", "0", check=False).returncode, 0)
        # The CA itself, and the fresh keystore's identity, are fine.
        self.assertEqual(run("openssl", "x509", "-in", ca, "-noout", "-checkend", "86400").returncode, 0)
        fresh = self.path(f"enclaves{NODE}", "cert.pem")
        self.assertEqual(run("openssl", "x509", "-in", fresh, "-noout", "-checkend", "86400").returncode, 0)
        # The grant follows the certificate, so Enforce has two reasons to refuse.
        _, _, grant = grant_topics(os.path.join(self.expired, "enclaves", "a4mer", "a4mer_node", "permissions.xml"))
        not_after = datetime.strptime(grant.findtext("validity/not_after"), "%Y-%m-%dT%H:%M:%S")
        self.assertLess(not_after.replace(tzinfo=timezone.utc), datetime.now(timezone.utc))
        # Still correctly signed: expiry, not tampering, is what must be caught.
        self.assertIsNotNone(smime_content(os.path.join(self.expired, "enclaves", "a4mer", "a4mer_node",
                                                        "permissions.p7s"), ca))

    def test_days_sets_validity(self):
        ks = os.path.join(self.tmp, "short")
        make(ks, "--days", "2")
        cert = os.path.join(ks, "enclaves", "a4mer", "a4mer_node", "cert.pem")
        span = cert_time(cert, "enddate") - cert_time(cert, "startdate")
        self.assertEqual(span.days, 3)  # back-dated a day, as sros2 does
        ks2 = os.path.join(self.tmp, "short-env")
        make(ks2, env_extra={"A4MER_KEYSTORE_DAYS": "5"})
        cert = os.path.join(ks2, "public", "ca.cert.pem")
        self.assertEqual((cert_time(cert, "enddate") - cert_time(cert, "startdate")).days, 6)
        self.assertNotEqual(make(os.path.join(self.tmp, "bad"), "--days", "0", check=False).returncode, 0)

    def test_refuses_to_overwrite_unless_forced(self):
        ks = os.path.join(self.tmp, "again")
        make(ks)
        with open(os.path.join(ks, "public", "ca.cert.pem"), "rb") as f:
            first = f.read()
        p = make(ks, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"--force", p.stderr)
        with open(os.path.join(ks, "public", "ca.cert.pem"), "rb") as f:
            self.assertEqual(f.read(), first)
        make(ks, "--force", OTHER)
        with open(os.path.join(ks, "public", "ca.cert.pem"), "rb") as f:
            self.assertNotEqual(f.read(), first)
        self.assertEqual(set(listing(ks)), set(CA_FILES) | set(enclave_files(NODE)) | set(enclave_files(OTHER))
                         | {"policy.xml"})

    def test_failure_leaves_no_half_keystore(self):
        # An openssl that cannot sign: the run fails after the CA exists.
        fake = os.path.join(self.tmp, "fakebin")
        os.makedirs(fake, exist_ok=True)
        with open(os.path.join(fake, "openssl"), "w") as f:
            f.write(f'#!/bin/sh\n[ "$1" = smime ] && exit 1\nexec {shutil.which("openssl")} "$@"\n')
        os.chmod(os.path.join(fake, "openssl"), 0o755)
        ks = os.path.join(self.tmp, "half")
        p = make(ks, env_extra={"PATH": fake + os.pathsep + os.environ["PATH"]}, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(listing(ks), {})
        make(ks)  # and a plain re-run needs no --force
        self.assertIn("enclaves/governance.p7s", listing(ks))

    def test_bad_enclave_names_are_refused(self):
        for name in ("a4mer", "/a4mer/", "/1robot", "/a b", "/a//b"):
            p = make(os.path.join(self.tmp, "bad-name"), name, check=False)
            self.assertNotEqual(p.returncode, 0, name)
            self.assertIn(b"invalid enclave name", p.stderr, name)

    def test_namespace_and_domain_follow_the_node(self):
        ks = os.path.join(self.tmp, "robot1")
        make(ks, "--node", "/robot1/a4mer_node", "--node-enclave", "/robot1/a4mer",
             env_extra={"ROS_DOMAIN_ID": "7"})
        pub, sub, grant = grant_topics(os.path.join(ks, "enclaves", "robot1", "a4mer", "permissions.xml"))
        want_pub, want_sub = node_topics("/robot1/a4mer_node")
        self.assertEqual(set(pub), want_pub | {"ros_discovery_info"})
        self.assertEqual(set(sub), want_sub | {"ros_discovery_info"})
        self.assertEqual({i.text for i in grant.findall("allow_rule/domains/id")}, {"7"})
        gov = ET.parse(os.path.join(ks, "enclaves", "governance.xml")).getroot()
        self.assertEqual([i.text for i in gov.findall("domain_access_rules/domain_rule/domains/id")], ["7"])


SROS2_MAKE = r"""
import pathlib, sys
import sros2.keystore as ks
from sros2.keystore import _permission
root = pathlib.Path(sys.argv[1])
ks.create_keystore(root)
for e in sys.argv[3:]:
    ks.create_enclave(root, e)
_permission.create_permission(root, sys.argv[3], pathlib.Path(sys.argv[2]))
"""


def sros2_python():
    """A Python that imports sros2 (with its rclpy), or None."""
    for py in filter(None, (os.environ.get("SROS2_PYTHON"), sys.executable, shutil.which("python3"))):
        if subprocess.run([py, "-c", "import sros2.keystore, sros2.keystore._permission"],
                          capture_output=True).returncode == 0:
            return py
    return None


class AgainstSros2(unittest.TestCase):
    """The same keystore made by sros2 itself: same files, same XML."""

    @classmethod
    def setUpClass(cls):
        cls.py = sros2_python()
        if cls.py is None:
            raise unittest.SkipTest("sros2 is not importable (no ROS 2 install; set SROS2_PYTHON): "
                                    "cross-check against sros2 skipped")
        cls.tmp = tempfile.mkdtemp(prefix="keystore-sros2-")
        cls.ours = os.path.join(cls.tmp, "ours")
        make(cls.ours, OTHER)
        cls.theirs = os.path.join(cls.tmp, "theirs")
        env = dict(os.environ)
        env.pop("ROS_DOMAIN_ID", None)
        # The ros_discovery_info rule is sros2's for these RMWs; RustDDS needs it too.
        env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
        run(cls.py, "-c", SROS2_MAKE, cls.theirs, os.path.join(cls.ours, "policy.xml"), NODE, OTHER, env=env)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_same_files_and_symlinks(self):
        ours = listing(self.ours)
        del ours["policy.xml"]
        self.assertEqual(ours, listing(self.theirs))

    def test_same_xml(self):
        def text(root, rel):
            with open(os.path.join(root, rel)) as f:
                return re.sub(r"<not_(before|after)>[^<]*<", r"<not_\1>DATE<", f.read())
        rels = ["enclaves/governance.xml"] + [f"enclaves{e}/permissions.xml" for e in (NODE, OTHER)]
        for rel in rels:
            self.assertEqual(text(self.ours, rel), text(self.theirs, rel), rel)

    def test_same_certificate_shape(self):
        def shape(path):
            t = run("openssl", "x509", "-in", path, "-noout", "-text").stdout.decode()
            t = re.sub(r"(Serial Number:|pub:|Signature Value:)\n(\s+[0-9a-f:]+\n)+", r"\1 X\n", t)
            t = re.sub(r"Serial Number:.*", "Serial Number: X", t)
            return re.sub(r"(Not Before|Not After) *:.*", r"\1: DATE", t)
        for rel in ["public/ca.cert.pem"] + [f"enclaves{e}/cert.pem" for e in (NODE, OTHER)]:
            self.assertEqual(shape(os.path.join(self.ours, rel)), shape(os.path.join(self.theirs, rel)), rel)

    def test_sros2_signatures_verify_like_ours(self):
        for root in (self.ours, self.theirs):
            ca = os.path.join(root, "public", "permissions_ca.cert.pem")
            for rel in ("enclaves/governance.p7s", f"enclaves{NODE}/permissions.p7s"):
                self.assertIsNotNone(smime_content(os.path.join(root, rel), ca), f"{root}: {rel}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
