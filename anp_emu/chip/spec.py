"""ANP-I hardware facts: the chip specification and its named bit widths.

Every limit the emulator enforces is derived from a :class:`ChipSpec`. The defaults are the
ANP-I chip of Wei et al. (28 nm, 1024-512-10, Section VI-B).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import ConfigKeyError, DesignRuleError
# the limits a spec must respect are design rules: ANP-I's sizes (the largest network a spec may
# describe) and the widest state the emulator models
from .design_rules import (ANP1_N_HID, ANP1_N_IN, ANP1_N_OUT, MAX_LEAK_SHIFT, MAX_V_BITS, MAX_W_BITS,  # noqa: F401
                           check_spec)

ANP1_W_BITS_HID = 8       # hidden-layer synapse width, signed two's complement
ANP1_W_BITS_OUT = 10      # output-layer synapse width, signed two's complement
ANP1_V_BITS = 16          # membrane width, signed, saturating
ANP1_LEAK_SHIFT = 1       # v -> v - (v >> 1): tau = 0.5
LEAK_OFF = 0              # leak_shift 0 switches the leak off: the IF neuron (tau = 1; STD-ED's AFT-IF)


@dataclass(frozen=True)
class ChipSpec:
    """Hardware facts of one chip (or of a smaller network placed on it).

    Sizes are neuron counts; bit widths are signed two's-complement widths in bits.
    """

    n_in: int = ANP1_N_IN
    n_hid: int = ANP1_N_HID
    n_out: int = ANP1_N_OUT
    w_bits_hid: int = ANP1_W_BITS_HID
    w_bits_out: int = ANP1_W_BITS_OUT
    v_bits: int = ANP1_V_BITS
    leak_shift: int = ANP1_LEAK_SHIFT
    aux: bool = True

    def __post_init__(self):
        check_spec(self)

    # ---- derived limits (all integers, in weight LSBs) ----
    @property
    def layer_sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(n_post, n_pre) of the hidden and the output layer."""
        return (self.n_hid, self.n_in), (self.n_out, self.n_hid)

    def w_bits(self, layer: int) -> int:
        return (self.w_bits_hid, self.w_bits_out)[layer]

    def w_range(self, layer: int) -> tuple[int, int]:
        """Inclusive integer weight range of ``layer`` (0 hidden, 1 output)."""
        b = self.w_bits(layer)
        return -(1 << (b - 1)), (1 << (b - 1)) - 1

    @property
    def v_range(self) -> tuple[int, int]:
        """Inclusive saturating membrane range."""
        return -(1 << (self.v_bits - 1)), (1 << (self.v_bits - 1)) - 1

    @property
    def tau(self) -> float:
        """Ideal leak factor of the float twin: v -> tau * v, tau = 1 - 2^-leak_shift; 1 with the
        leak off (``LEAK_OFF``)."""
        return 1.0 if self.leak_shift == LEAK_OFF else 1.0 - 2.0 ** (-self.leak_shift)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "spec") -> "ChipSpec":
        known = {f.name for f in fields(cls)}
        for k in d:
            if k not in known:
                raise ConfigKeyError(f"{where}.{k}", "unknown key", limit=f"one of {sorted(known)}")
        kw = {}
        for f in fields(cls):
            if f.name in d:
                v = d[f.name]
                kw[f.name] = bool(v) if f.name == "aux" else int(v)
        return cls(**kw)


ANP1 = ChipSpec()

__all__ = ["ChipSpec", "ANP1", "DesignRuleError"]
