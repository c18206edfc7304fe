"""anp-emu: a cycle-level emulator of the ANP-I asynchronous neuromorphic processor."""
from .errors import (AnpError, CheckpointError, ConfigKeyError, DesignRuleError, FileFormatError,
                     InputError, UnsafePickleError)
from .events import SpikeInput
from .spec import ANP1, ChipSpec

__all__ = ["AnpError", "CheckpointError", "ConfigKeyError", "DesignRuleError", "FileFormatError",
           "InputError", "UnsafePickleError", "SpikeInput", "ChipSpec", "ANP1"]
