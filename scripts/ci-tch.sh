#!/usr/bin/env bash
# The tch CI job: the model on libtorch (burn-tch) against burn-ndarray on the bundled mocap.
# Separate from the main job so the default build never needs libtorch; it builds into its own
# target dir (burn with `tch` is a different build of burn) and leaves the main cache alone.
#
# libtorch comes from pip's torch, pinned to the version burn-tch 0.22 (tch 0.22) is built
# against. A4MER_TORCH_INDEX, when set, is a pip index to take torch from instead of PyPI, e.g.
# PyTorch's CPU-only wheel index (https://download.pytorch.org/whl/cpu): PyPI's x86_64 torch is
# the CUDA build, 4.1 GB of wheels and 6.6 GB installed. Either works here: with no GPU, libtorch
# reports no CUDA device and the tch-cuda tests print why they skip. A4MER_TORCH_KEEP=1 uses the
# torch already installed, whatever its version (a Jetson's JetPack PyTorch; burn-model/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.9.0
export CARGO_TARGET_DIR="${A4MER_TCH_TARGET_DIR:-$HOME/.cache/a4mer-target-tch}"
export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0

step() { printf '\n==> %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

installed_torch() { python3 -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true; }
if [ "${A4MER_TORCH_KEEP:-0}" = 1 ]; then
    # A device's own PyTorch (JetPack on a Jetson): never replace it from PyPI.
    step "install: keeping the installed torch ($(installed_torch))"
    if [ "$(installed_torch)" != "$TORCH_VERSION" ]; then
        echo "warning: torch $(installed_torch) is not $TORCH_VERSION; building with LIBTORCH_BYPASS_VERSION_CHECK=1" >&2
        export LIBTORCH_BYPASS_VERSION_CHECK=1
    fi
else
    step "install: torch==$TORCH_VERSION (libtorch for burn-tch)"
    if [ "$(installed_torch)" != "$TORCH_VERSION" ]; then
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-cache-dir \
            ${A4MER_TORCH_INDEX:+--index-url "$A4MER_TORCH_INDEX"} "torch==$TORCH_VERSION"
    fi
fi
TORCH_LIB="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
python3 -c 'import torch; print("torch", torch.__version__, "cuda available:", torch.cuda.is_available())'

# torch-sys asks python3 for libtorch's headers, libraries and C++ ABI; the binaries find the
# shared libraries at run time through LD_LIBRARY_PATH.
export LIBTORCH_USE_PYTORCH=1
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# One cargo invocation, one feature set: every tch test has `libtorch` in its name.
features=a4mer-burn-model/tch,a4mer-measure/tch,a4mer-cli/tch,a4mer-hw-tests/tch
packages=(-p a4mer-burn-model -p a4mer-measure -p a4mer-cli -p a4mer-hw-tests)
step "build (tch)"
cargo test --locked "${packages[@]}" --features "$features" --no-run
step "tests (tch): parity with ndarray on mocap (hw-tests: CUDA and its CPU twin), CLI backends and bench, tch-cuda skip reason"
cargo test --locked "${packages[@]}" --features "$features" -- libtorch --nocapture
step "bench on libtorch: CPU numbers, and CUDA's skip line on a machine without a GPU"
"$CARGO_TARGET_DIR/debug/a4mer" bench --backend tch-cpu --frames 300
"$CARGO_TARGET_DIR/debug/a4mer" bench --backend tch-cuda --frames 300
