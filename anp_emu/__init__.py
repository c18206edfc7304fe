"""anp-emu: a cycle-level emulator of the ANP-I asynchronous neuromorphic processor.

The names a notebook needs are here::

    from anp_emu import Chip, ChipConfig, ChipSpec, LearningEngine, LearningSettings, Trainer, \\
        TrainOptions, EventDataset, load_config, save_config, export_config, import_config

Everything but the errors and the spec is imported on first use (module ``__getattr__``):
importing the package must not create a numba kernel, which would fix numba's code generation
before :mod:`anp_emu.codegen` may set it.
"""
from .errors import (AnpError, CheckpointError, ConfigKeyError, DesignRuleError, FileFormatError,
                     InputError, UnsafePickleError)
from .spec import ANP1, ChipSpec
from .codegen import apply_default as _apply_codegen_default

_apply_codegen_default()   # before any kernel exists: one code generation (and cache) for CLI and API

# public name -> module that defines it (imported lazily)
_LAZY = {
    "SpikeInput": ".events",
    "Chip": ".chip",
    "ChipConfig": ".config",
    "LearningEngine": ".learning.engine",
    "LearningSettings": ".learning.settings",
    "Trainer": ".training",
    "TrainOptions": ".training",
    "load_config": ".config_io",
    "save_config": ".config_io",
    "export_config": ".mapping.export",
    "import_config": ".mapping.export",
    "EventDataset": ".emg.dataset",
}

__all__ = ["AnpError", "CheckpointError", "ConfigKeyError", "DesignRuleError", "FileFormatError",
           "InputError", "UnsafePickleError", "ChipSpec", "ANP1", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value          # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
