"""Vector width of the compiled kernels.

LLVM tunes Intel server cores with AVX-512 to prefer 256-bit vectors (its ``prefer-256-bit``
tuning, chosen for Skylake-SP's clock drop on 512-bit instructions), so numba's loops use half the
lanes the CPU has. On the machine this project is measured on (Xeon, Emerald Rapids) the kernels
are faster at the full width: a training step at 5 % input 0.43 -> 0.40 ms, the forward pass
0.11 -> 0.105 ms (benchmarks/README.md).

``use_full_vector_width()`` asks numba for 512-bit vectors for the rest of the process if the CPU
has AVX-512, is not one of the 14 nm Skylake-derived cores whose clock drops on 512-bit code (the
reason for LLVM's preference), and the user has not chosen numba's CPU features
(``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES``: setting either opts out). It must run before
anything is compiled; the ``anp`` command and the benchmarks call it first thing. It is a
process-wide numba option, so the library does not call it on import: a library user opts in by
calling it. Results do not change: the integer kernels are exact, and numba does not reorder
float sums (no fastmath).
"""
from __future__ import annotations

import os

import numba
from llvmlite import binding as llvm

NO_256_BIT_PREFERENCE = "-prefer-256-bit"
SLOW_512_BIT_CPUS = ("skylake-avx512", "cascadelake", "cooperlake")   # LLVM's CPU names


def use_full_vector_width() -> bool:
    """Compile with the CPU's full vector width from now on; returns whether it was applied."""
    if os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES"):
        return False
    if numba.config.CPU_FEATURES is not None or not numba.config.ENABLE_AVX:
        return False
    try:
        features = llvm.get_host_cpu_features()
    except RuntimeError:
        return False
    if not features.get("avx512f", False) or llvm.get_host_cpu_name() in SLOW_512_BIT_CPUS:
        return False
    numba.config.CPU_FEATURES = f"{features.flatten()},{NO_256_BIT_PREFERENCE}"
    return True
