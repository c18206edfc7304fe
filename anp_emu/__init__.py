"""anp-emu: a cycle-level emulator of the ANP-I asynchronous neuromorphic processor."""
from .errors import (AnpError, CheckpointError, ConfigKeyError, DesignRuleError, FileFormatError,
                     InputError, UnsafePickleError)
from .spec import ANP1, ChipSpec
from .codegen import apply_default as _apply_codegen_default

_apply_codegen_default()   # before any kernel exists: one code generation (and cache) for CLI and API

__all__ = ["AnpError", "CheckpointError", "ConfigKeyError", "DesignRuleError", "FileFormatError",
           "InputError", "UnsafePickleError", "SpikeInput", "ChipSpec", "ANP1"]


def __getattr__(name):
    # SpikeInput on first use: importing the package (anp_emu.codegen, anp_emu.errors) must not
    # create a numba kernel, which would fix numba's code generation before codegen may set it
    if name == "SpikeInput":
        from .events import SpikeInput
        return SpikeInput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
