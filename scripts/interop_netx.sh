#!/usr/bin/env bash
# lava-dl netx interop check (test-only, not in the default CI): netx's own reader builds our
# `anp export --format netx` file and Lava's CPU simulation runs it; spikes compared with the
# chip and the float twin. lava-dl 0.6 / lava-nc 0.10 declare Python < 3.11: they are installed
# with --ignore-requires-python, and lava-nc's one Python 3.11 incompatibility (mutable dataclass
# defaults in lava/magma/compiler/var_model.py) is patched inside that venv only.
# Usage: bash scripts/interop_netx.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-netx}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q --no-deps --ignore-requires-python lava-dl==0.6.0 lava-nc==0.10.0
"$VENV/bin/pip" install -q --only-binary=:all: "numpy<2" h5py scipy networkx asteval matplotlib \
    opencv-python-headless numba click pandas nir
"$VENV/bin/pip" install -q --no-deps -e .
VM=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/lava/magma/compiler/var_model.py
sed -i 's/: ByteEncoder = ByteEncoder()/: ByteEncoder = field(default_factory=ByteEncoder)/; s/^from dataclasses import dataclass, InitVar$/from dataclasses import dataclass, InitVar, field/' "$VM"
export NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}
time "$VENV/bin/python" scripts/interop_netx.py
