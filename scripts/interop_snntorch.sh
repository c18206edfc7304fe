#!/usr/bin/env bash
# NIR -> snnTorch interop check (test-only; not in the default CI because of the torch install).
#
# Makes its own venv (.venv-interop) with CPU-only torch (torch==2.13.0: the +cpu wheel, never the
# multi-GB CUDA build of a plain `pip install torch`), snntorch and nirtorch, then runs
# scripts/interop_snntorch.py: synthetic EMG -> events -> a trained chip config -> `anp export
# --format nir` -> snnTorch's import_from_nir, and compares its spikes with the float twin's.
# Usage: bash scripts/interop_snntorch.sh [--epochs N] [--samples N]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-interop}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -e . snntorch nirtorch
export NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}
time "$VENV/bin/python" scripts/interop_snntorch.py "$@"
