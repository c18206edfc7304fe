"""The chip: its hardware facts and design rules, its programmable state, the fixed-point
arithmetic, the numba kernels, the counters and cycles, and the emulator that runs them.

    spec          ChipSpec and the bit widths of ANP-I
    design_rules  the hardware limits as named rules
    config        ChipConfig: weights, thresholds, aux, scales, learning settings
    arithmetic    the chip's fixed-point rules, in one place
    bits          bit-level helpers of the integer datapath
    kernels       the numba hot loops of the forward pass (int chip and float twin)
    events        SpikeInput: the event lists a layer consumes
    counters      every counted operation, in one place
    cycles        the cycle model
    emulator      Chip and RunResult: one forward pass of a config
    initialise    threshold-calibrated random configs

``from anp_emu.chip import Chip, ChipConfig, ChipSpec`` works; everything but the spec is imported
on first use, so that importing the package compiles no kernel.
"""
from .spec import ANP1, ChipSpec

_LAZY = {"Chip": ".emulator", "RunResult": ".emulator", "ChipConfig": ".config", "SpikeInput": ".events",
         "as_spike_input": ".events", "Counters": ".counters", "CycleTable": ".cycles", "init_config": ".initialise"}

__all__ = ["ANP1", "ChipSpec", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
