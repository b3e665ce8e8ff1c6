#!/usr/bin/env bash
# The only `unsafe` in a4mer's runtime, the AVX-512 VNNI int8 kernel (kernels/), under Miri
# and AddressSanitizer on the nightly toolchain. The kernel crate has no burn, so both take
# a minute or two. Miri gets the CPU features statically, so it interprets the VNNI path
# itself (it implements `vpdpbusd`), not only the portable fallback.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0
target="${A4MER_UNSAFE_TARGET_DIR:-$HOME/.cache/a4mer-target-unsafe}"
step() { printf '\n==> %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

step "install: nightly with miri"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component add miri rust-src --toolchain nightly >/dev/null

step "miri: the int8 kernels, VNNI path included"
# cargo-miri's test "binaries" record the checkout they were built in and run from there;
# another clone would reuse them and fail once the first clone is gone. One dir per checkout.
miri_dir="$target/miri-$(printf '%s' "$PWD" | sha256sum | cut -c1-16)"
# The features are on statically, so the VNNI kernel is asserted whatever this CPU has; Miri
# hides the host environment unless told to forward a variable.
CARGO_TARGET_DIR="$miri_dir" RUSTFLAGS="-C target-feature=+avx512f,+avx512vnni" \
    A4MER_EXPECT_INT8_KERNEL=avx512-vnni MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-env-forward=A4MER_EXPECT_INT8_KERNEL" \
    cargo +nightly miri test --locked -p a4mer-kernels --lib -- --nocapture

step "AddressSanitizer: the int8 kernels at full size"
log="$(mktemp)"
# The kernel this CPU must pick is asserted, as in the workspace tests.
CARGO_TARGET_DIR="$target/asan" RUSTFLAGS="-Zsanitizer=address" \
    A4MER_EXPECT_INT8_KERNEL="$(bash scripts/expected-int8-kernel.sh)" \
    cargo +nightly test --locked -p a4mer-kernels --lib --target x86_64-unknown-linux-gnu -- --nocapture 2>&1 | tee "$log"
# The sanitizer is really in the binary (a check that cannot pass without it).
bin="$(ls -t "$target"/asan/x86_64-unknown-linux-gnu/debug/deps/a4mer_kernels-* | grep -v '\.d$' | head -1)"
# (grep -c, not -q: an early exit would kill nm with SIGPIPE and fail the pipeline.)
checks="$(nm "$bin" | grep -c '__asan_report_load' || true)"
[ "$checks" -gt 0 ] || { echo "error: $bin has no AddressSanitizer instrumentation" >&2; exit 1; }
echo "AddressSanitizer instrumentation in the test binary: $checks load-check entry points"
if grep -q avx512_vnni /proc/cpuinfo; then
    grep -q "AVX-512 VNNI on this machine: true" "$log" || { echo "error: the VNNI kernel did not run under ASan" >&2; exit 1; }
else
    echo "note: this CPU has no AVX-512 VNNI; ASan covered the portable kernel only (Miri covered VNNI)"
fi
