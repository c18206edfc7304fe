"""anp-emu: a cycle-level emulator of the ANP-I asynchronous neuromorphic processor.

The names a notebook needs are here::

    from anp_emu import Chip, ChipConfig, ChipSpec, LearningEngine, LearningSettings, Trainer, \\
        TrainOptions, EventDataset, split_dataset, evaluate, load_config, save_config, export_config, \\
        import_config, chip_readout

(docs/python-api.md: the notebook path.)

Everything but the errors and the spec is imported on first use (module ``__getattr__``):
importing the package must not create a numba kernel, which would fix numba's code generation
before :mod:`anp_emu.runtime.codegen` may set it.
"""
from .errors import (AnpError, CheckpointError, ConfigKeyError, DesignRuleError, FileFormatError,
                     InputError, UnsafePickleError)
from .chip.spec import ANP1, ChipSpec
from .runtime.codegen import apply_default as _apply_codegen_default

_apply_codegen_default()   # before any kernel exists: one code generation (and cache) for CLI and API

# public name -> module that defines it (imported lazily)
_LAZY = {
    "SpikeInput": ".chip.events",
    "Chip": ".chip.emulator",
    "RunResult": ".chip.emulator",
    "ChipConfig": ".chip.config",
    "LearningEngine": ".learning.engine",
    "LearningSettings": ".learning.settings",
    "Trainer": ".experiments.trainer",
    "TrainOptions": ".experiments.trainer",
    "evaluate": ".experiments.evaluate",
    "load_config": ".files.config_io",
    "save_config": ".files.config_io",
    "export_config": ".mapping.export",
    "import_config": ".mapping.export",
    "EventDataset": ".emg.dataset",
    "split_dataset": ".emg.crossval",
    "chip_readout": ".mapping.readout",
    "initial_config": ".experiments.trainer",
    "default_table": ".energy.model",
    "energy_per_sample": ".energy.report",
}

# Module paths of earlier versions -> where the module lives now. ``import anp_emu.config`` (and
# every other name here) still works, with a DeprecationWarning, through the finder below: no
# stub files in the package.
MOVED = {
    "anp_emu.arithmetic": "anp_emu.chip.arithmetic", "anp_emu.bits": "anp_emu.chip.bits",
    "anp_emu.kernels": "anp_emu.chip.kernels", "anp_emu.counters": "anp_emu.chip.counters",
    "anp_emu.cycles": "anp_emu.chip.cycles", "anp_emu.spec": "anp_emu.chip.spec",
    "anp_emu.design_rules": "anp_emu.chip.design_rules", "anp_emu.config": "anp_emu.chip.config",
    "anp_emu.events": "anp_emu.chip.events", "anp_emu.initialise": "anp_emu.chip.initialise",
    "anp_emu.fileio": "anp_emu.files.fileio", "anp_emu.config_io": "anp_emu.files.config_io",
    "anp_emu.checkpoint": "anp_emu.files.checkpoint", "anp_emu.training": "anp_emu.experiments.trainer",
    "anp_emu.evaluate": "anp_emu.experiments.evaluate", "anp_emu.sweep": "anp_emu.experiments.sweep",
    "anp_emu.presets": "anp_emu.experiments.presets", "anp_emu.experiments.training": "anp_emu.experiments.train_run",
    "anp_emu.codegen": "anp_emu.runtime.codegen", "anp_emu.threads": "anp_emu.runtime.threads",
    "anp_emu.warmup": "anp_emu.runtime.warmup",
}


class _MovedModules:
    """Import hook: an old module path loads the module where it lives now (the same module
    object, so state is shared; its own ``__spec__`` is kept) and warns once per path."""

    def find_spec(self, name, path=None, target=None):
        if name not in MOVED:
            return None
        import importlib.util

        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        import importlib
        import warnings

        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}; import it from there (or the public names "
                      f"from anp_emu)", DeprecationWarning, stacklevel=3)
        module = importlib.import_module(MOVED[spec.name])
        spec.loader_state = module.__spec__      # the import system is about to replace it
        return module

    def exec_module(self, module):
        # the import system gave the module the old path's spec: give it back its own
        module.__spec__ = module.__spec__.loader_state


def moved_to(module: str) -> str:
    """Where a module path of an earlier version lives now (itself if it did not move)."""
    return MOVED.get(module, module)


import sys as _sys  # noqa: E402

if not any(isinstance(f, _MovedModules) for f in _sys.meta_path):
    _sys.meta_path.append(_MovedModules())

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
