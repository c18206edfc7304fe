"""Vector width of the compiled kernels.

LLVM tunes Intel server cores with AVX-512 to prefer 256-bit vectors (its ``prefer-256-bit``
tuning, chosen for Skylake-SP's clock drop on 512-bit instructions), so numba's loops use half the
lanes the CPU has. On the machine this project is measured on (Xeon, Emerald Rapids) the kernels
are faster at the full width: the weight update ~9 % and a training step ~5 % at 5 % input,
the neuron loop of the forward pass 30 % (benchmarks/README.md).

``use_full_vector_width()`` asks numba for 512-bit vectors for the rest of the process if the CPU
has AVX-512, is not one of the 14 nm Skylake-derived cores whose clock drops on 512-bit code (the
reason for LLVM's preference), and the user has not chosen numba's CPU features
(``NUMBA_CPU_NAME`` or ``NUMBA_CPU_FEATURES``: setting either opts out). numba fixes its code
generation when the first kernel of the process is *created* (decorated), not compiled, so this
must run before any module with a numba kernel is imported, and refuses (returns False) when it
is too late.

One setting for the command line and the Python API: ``import anp_emu`` applies it
(``apply_default``), so ``anp`` commands, notebooks, benchmarks and spawned sweep workers compile
the same code and share one on-disk cache (numba keys cache entries by the CPU features: before,
a notebook after ``anp demo`` compiled everything again). The switch, read by both:
``ANP_VECTOR_WIDTH=llvm`` keeps LLVM's own preference (numba's default) for the process;
``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` (numba's own switches) opt out as well. It is a
process-wide numba option: a program that created numba kernels of its own before importing
anp_emu keeps its setting (and compiles anp_emu's kernels anew for it). Results do not change:
the integer kernels are exact, and numba does not reorder float sums (no fastmath).
"""
from __future__ import annotations

import os

import numba
from llvmlite import binding as llvm
from numba.core.registry import cpu_target

SWITCH = "ANP_VECTOR_WIDTH"      # "full" (default) or "llvm" (LLVM's own preference)
NO_256_BIT_PREFERENCE = "-prefer-256-bit"
SLOW_512_BIT_CPUS = ("skylake-avx512", "cascadelake", "cooperlake")   # LLVM's CPU names


def code_generation_fixed() -> bool:
    """Whether numba has created its CPU code generator (with the CPU features of that moment):
    the first kernel created in the process does so (numba's lazily cached target context)."""
    return "_toplevel_target_context" in vars(cpu_target)


def use_full_vector_width() -> bool:
    """Compile with the CPU's full vector width from now on; returns whether it was applied
    (False: the user chose numba's CPU, the CPU gains nothing, or a kernel already exists)."""
    if os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES"):
        return False
    if code_generation_fixed():
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


def apply_default() -> bool:
    """The setting ``import anp_emu`` applies: the full vector width unless ``ANP_VECTOR_WIDTH``
    says ``llvm``; returns whether the full width was applied now."""
    choice = os.environ.get(SWITCH, "full").strip().lower()
    if choice in ("llvm", "default", "256"):
        return False
    return use_full_vector_width()


def current_settings() -> dict:
    """This process's code-generation choice, for worker processes to apply before their first
    kernel so that they load the same on-disk cache entries (numba keys them by CPU features)."""
    return {"cpu_features": numba.config.CPU_FEATURES}


def apply_settings(settings: dict) -> bool:
    """Apply ``current_settings()`` of another process; returns whether it was applied."""
    features = (settings or {}).get("cpu_features")
    if not features or code_generation_fixed():
        return False
    numba.config.CPU_FEATURES = features
    return True
