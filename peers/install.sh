#!/usr/bin/env bash
# Installs the Python peers' packages (peers/) into the python3 on PATH (or $PYTHON).
#
# torch 2.9.0 is the libtorch burn-tch links (LIBTORCH_USE_PYTORCH=1 can reuse this install).
# The CPU-only wheel lives on the PyTorch index; where that index is not reachable (this
# project's machines reach PyPI only) the PyPI wheel is used, which also pulls the CUDA
# runtime libraries (~3 GB on disk) but runs on the CPU all the same.
# A4MER_TORCH_INDEX="" goes straight to PyPI.
set -euo pipefail

PY=${PYTHON:-python3}
TORCH_INDEX=${A4MER_TORCH_INDEX-https://download.pytorch.org/whl/cpu}
PIP=("$PY" -m pip install --disable-pip-version-check --root-user-action=ignore --no-input -q)

if "$PY" -c 'import sys, torch; sys.exit(torch.__version__.split("+")[0] != "2.9.0")' 2>/dev/null; then
    echo "install.sh: torch 2.9.0 already installed"
elif [ -n "$TORCH_INDEX" ] && "${PIP[@]}" --retries 1 --timeout 30 --index-url "$TORCH_INDEX" "torch==2.9.0" 2>/dev/null; then
    echo "install.sh: torch 2.9.0 (CPU wheel) from $TORCH_INDEX"
else
    "${PIP[@]}" "torch==2.9.0"
    echo "install.sh: torch 2.9.0 from PyPI"
fi
"${PIP[@]}" "onnx==1.23.2" "onnxruntime==1.32.0" "cbor2==6.3.0" "numpy==2.4.6"
"$PY" - <<'PYEOF'
from importlib.metadata import version
import torch, onnx, onnxruntime, cbor2, numpy  # noqa: F401  (fails loudly if any is broken)
print("install.sh:", ", ".join(f"{p} {version(p)}" for p in ("torch", "onnx", "onnxruntime", "cbor2", "numpy")))
PYEOF
