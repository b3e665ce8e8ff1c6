#!/usr/bin/env bash
# Prints the int8 kernel this CPU must run (`avx512-vnni`, `sdot` or `portable`), read from
# /proc/cpuinfo rather than from the Rust feature detection the kernels use, so that CI can
# set A4MER_EXPECT_INT8_KERNEL to it and the kernel tests assert the choice instead of only
# printing it: a detection that quietly fell back to the portable kernel fails there.
set -euo pipefail
flags="$(grep -m1 -E '^(flags|Features)[[:space:]]*:' /proc/cpuinfo || true)"
has() { printf '%s\n' "$flags" | grep -qw -- "$1"; }
case "$(uname -m)" in
    x86_64) if has avx512f && has avx512_vnni; then echo avx512-vnni; else echo portable; fi ;;
    aarch64) if has asimddp; then echo sdot; else echo portable; fi ;;
    *) echo portable ;;
esac
