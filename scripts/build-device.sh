#!/usr/bin/env bash
# Builds everything that ships to a Jetson, into the places `a4mer bundle` reads:
#   $CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/dist/{a4mer,a4mer_node}
#       linked by zig against glibc 2.31 symbol versions, so one binary runs on
#       JetPack 5 (Ubuntu 20.04, glibc 2.31) and JetPack 6 (Ubuntu 22.04, glibc 2.35);
#   $CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/a4mer-mcu-mps2-an386   (the safety MCU image).
# Then checks every device binary's newest GLIBC_ symbol version with objdump -T.
#
# Installs what it needs: the rustup targets, and cargo-zigbuild with zig from PyPI (no
# cross gcc or sysroot: zig carries the glibc stubs for each version).
#
#   scripts/build-device.sh             # glibc 2.31
#   A4MER_DEVICE_GLIBC=2.35 scripts/build-device.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
glibc="${A4MER_DEVICE_GLIBC:-2.31}"
triple=aarch64-unknown-linux-gnu
# Versions pinned so a rebuild links the same way.
zigbuild_version=0.24.1
zig_version=0.17.1

step() { printf '\n==> %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

step "device build: tools (rustup targets, cargo-zigbuild $zigbuild_version, zig $zig_version)"
rustup target add "$triple" thumbv7em-none-eabihf >/dev/null
if ! command -v cargo-zigbuild >/dev/null || ! cargo-zigbuild --version | grep -q " $zigbuild_version\$" \
    || ! python3 -m ziglang version 2>/dev/null | grep -qx "$zig_version"; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "cargo-zigbuild==$zigbuild_version" "ziglang==$zig_version"
fi
cargo-zigbuild --version
printf 'zig %s\n' "$(python3 -m ziglang version)"

step "device build: a4mer_node and a4mer for $triple, glibc $glibc (dist profile: release, stripped)"
# The node on its own package: what `-p a4mer-node` links is what ships, whatever features
# another package in the same invocation would turn on.
# SROS2 with OpenSSL built from source and linked statically (vendored-openssl): the
# JetPacks' libssl versions differ, and a cross build has neither.
cargo zigbuild --locked --profile dist --target "$triple.$glibc" -p a4mer-node --bin a4mer_node \
    --features vendored-openssl
# The device `a4mer` (verify, selftest, bench, replay, ...) without the `training` feature:
# no `a4mer train`, no a4mer-train linked.
cargo zigbuild --locked --profile dist --target "$triple.$glibc" -p a4mer-cli --bin a4mer --no-default-features

step "device build: the safety MCU image (thumbv7em-none-eabihf, MPS2 AN386)"
cargo build --locked --release -p a4mer-mcu-mps2-an386 --target thumbv7em-none-eabihf

step "device build: what each binary needs"
objdump=""
for o in aarch64-linux-gnu-objdump llvm-objdump; do
    command -v "$o" >/dev/null && { objdump="$o"; break; }
done
[ -n "$objdump" ] || { echo "error: no objdump that reads aarch64 (apt-get install binutils-aarch64-linux-gnu or llvm)" >&2; exit 1; }
dist="$CARGO_TARGET_DIR/$triple/dist"
for b in a4mer_node a4mer; do
    need="$("$objdump" -T "$dist/$b" | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -1)"
    [ -n "$need" ] || { echo "error: $objdump -T $dist/$b lists no GLIBC_ versions" >&2; exit 1; }
    stat -c %s "$dist/$b" | awk -v b="$b" -v g="$need" '{ printf "%-11s %5.1f MB stripped, needs %s\n", b, $1 / 1e6, g }'
    # sort -V: the newer of the two is the last; anything past the target fails the build.
    newest="$(printf '%s\nGLIBC_%s\n' "$need" "$glibc" | sort -V | tail -1)"
    if [ "$newest" != "GLIBC_$glibc" ]; then
        echo "error: $b needs $need, newer than the glibc $glibc it was built for" >&2
        exit 1
    fi
done
# Panic locations name their source files even in a stripped binary: none may be burn's.
if grep -aq 'burn-tensor' "$dist/a4mer_node"; then
    echo "error: $dist/a4mer_node links burn; the node is built from a4mer-runtime without it" >&2
    exit 1
fi
echo "a4mer_node  links no burn"
if "$objdump" -p "$dist/a4mer_node" | grep -E 'NEEDED +lib(ssl|crypto)\.so'; then
    echo "error: $dist/a4mer_node links a shared OpenSSL; JetPack 5 and 6 ship different ones" >&2
    exit 1
fi
grep -aq 'DDS:Auth:PKI-DH' "$dist/a4mer_node" \
    || { echo "error: $dist/a4mer_node has no DDS Security: built without sros2?" >&2; exit 1; }
echo "a4mer_node  SROS2 with OpenSSL linked statically"
if grep -aq 'train/src/fit' "$dist/a4mer"; then
    echo "error: $dist/a4mer links the training code; the device CLI is built without \`training\`" >&2
    exit 1
fi
echo "a4mer       links no training code"
mcu="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/a4mer-mcu-mps2-an386"
stat -c %s "$mcu" | awk '{ printf "mcu image   %5.1f kB (ELF with symbols)\n", $1 / 1e3 }'
echo "next: a4mer bundle --target $triple --model models/a4mer-small-int8.a4m"
