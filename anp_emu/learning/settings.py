"""Learning settings carried by a chip config (what the on-chip learning engine is told)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .. import defaults as _defaults
from ..errors import ConfigKeyError, InputError

RULE_NAMES = ("mpd-ed", "stbp", "std-ed", "ebp")
SPIKE_TIME_RULES = ("std-ed", "ebp")             # differentiate spike times; train on spike counts
SURROGATES = ("rect", "triangle", "exp")
LOSSES = ("ce", "tet", "count", "count-enhanced")
COUNT_LOSSES = ("count", "count-enhanced")       # the spike-time rules' losses
DEFAULT_COUNT_LOSS = dict(_defaults.COUNT_LOSS)
ROUNDINGS = ("nearest", "floor", "stochastic")
# How STBP runs on the chip (Wei et al. 2024 Sec. VI-B): "dense", as the paper did it ("we activate
# each neuron to emulate the way STBP works", the input lines included: Table II's M*N*T gradient
# work, every synapse read and written); "event-input", the what-if of a chip that skips silent
# input lines (a weight gradient only where an input event arrived). Counting only: the weights
# learnt are the same (a silent line's gradient is zero).
STBP_EMULATIONS = ("dense", "event-input")
OPTIONAL_INTS = ("lr_shift", "temporal_window")   # None is stored as -1 in files
# fields whose default depends on the rule (None until resolved): the type of their value
RULE_DEFAULTED = {"loss": str, "lr": float}
# Largest learning rate (weight LSBs per unit gradient; the tuned default is 1000). Beyond it a
# gradient of 2^-12 already moves an 8-bit weight across its whole range (2^8 LSB), so every
# non-zero update saturates the weight: the run would only measure saturation.
LR_MAX = 2.0 ** 20


@dataclass(frozen=True)
class LearningSettings:
    """Settings of one on-chip learning rule.

    Units: ``surrogate_width`` is a fraction of the layer threshold theta (so the int chip and
    the float twin, both in weight LSBs, read it identically); ``lr`` multiplies the float
    gradient in weight LSBs per unit loss; if ``lr_shift`` is set, lr = 2^-lr_shift instead.
    ``temporal_window`` (time steps): None carries the temporal path back through the whole
    sample (full BPTT recursion); K >= 1 carries each entered error back at most K steps
    (K = 1: Wei et al. Eq. 21 as printed; see ``backward``). Ignored when ``temporal_path`` is off.
    ``tet_lambda``: weight of TET's MSE regulariser (Deng et al. 2022; they use 1e-3), loss =
    (1 - lambda) TET + lambda MSE(logits, 1); 0 (default) is TET alone. Only with ``loss="tet"``.

    Spike-time rules (std-ed, ebp; ``spike_time``) train on a count loss (``count``: Zhu et al.
    S9/S17; ``count-enhanced``: the hinge form STD-ED uses) with desired output spike counts
    ``target_count`` / ``other_count`` per sample; ``tau_grad`` (time steps) is ebp's backward
    kernel h(t) = exp(-t/tau_grad); ``min_slope`` (fraction of the layer threshold) is the
    smallest slope sum_C w the timing derivative -1/slope divides by. The surrogate and
    temporal/reset settings do not apply to them.

    ``stbp_emulation`` (STBP only; ``STBP_EMULATIONS``): how STBP's learning work is counted on
    the chip, "dense" (the paper's) or "event-input" (a what-if); it never changes the weights.
    """

    rule: str = _defaults.RULE
    surrogate: str = "rect"
    surrogate_width: float = 1.0
    temporal_path: bool = True
    temporal_window: int | None = None
    reset_path: bool = False
    loss: str | None = None        # None: the rule's default (anp_emu.defaults: tet, or the count loss)
    logit_gain: float = 10.0
    lr: float | None = None        # None: the rule's tuned default (anp_emu.defaults.LR)
    lr_shift: int | None = None
    rounding: str = "stochastic"
    seed: int = 0
    tet_lambda: float = 0.0
    target_count: int = 10
    other_count: int = 1
    tau_grad: float = 1.5
    min_slope: float = 0.1
    stbp_emulation: str = "dense"

    def __post_init__(self):
        # the defaults that depend on the rule, from the one place the CLI reads them too
        if self.rule in RULE_NAMES:
            if self.loss is None:
                object.__setattr__(self, "loss", _defaults.loss_for(self.rule))
            if self.lr is None:
                object.__setattr__(self, "lr", _defaults.lr_for(self.rule))
        for name, allowed in (("rule", RULE_NAMES), ("surrogate", SURROGATES), ("loss", LOSSES),
                              ("rounding", ROUNDINGS), ("stbp_emulation", STBP_EMULATIONS)):
            v = getattr(self, name)
            if v not in allowed:
                raise InputError(f"learning.{name}", "unknown value", limit=f"one of {list(allowed)}", value=repr(v))
        timing = self.rule in SPIKE_TIME_RULES
        if timing != (self.loss in COUNT_LOSSES):
            allowed = COUNT_LOSSES if timing else tuple(x for x in LOSSES if x not in COUNT_LOSSES)
            raise InputError("learning.loss", f"not a loss of rule {self.rule}", limit=f"one of {list(allowed)}",
                             value=repr(self.loss))
        for name in ("target_count", "other_count"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not (0 <= v <= 1 << 20):
                raise InputError(f"learning.{name}", "desired spike count out of range", limit="0..1048576", value=v)
        for name in ("surrogate_width", "lr", "logit_gain", "tau_grad", "min_slope"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"learning.{name}", "must be finite and > 0", value=v)
        lam = self.tet_lambda
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or not 0 <= lam < 1:
            raise InputError("learning.tet_lambda", "out of range", limit="0 <= lambda < 1", value=lam)
        if lam > 0 and self.loss != "tet":
            raise InputError("learning.tet_lambda", "the MSE regulariser belongs to the TET loss",
                             limit="loss tet", value=f"loss {self.loss}, lambda {lam}")
        if self.lr > LR_MAX:
            raise InputError("learning.lr", "so large that every update saturates the weights", limit=f"<= {LR_MAX:g}",
                             value=self.lr)
        if self.lr_shift is not None and not (0 <= int(self.lr_shift) <= 30):
            raise InputError("learning.lr_shift", "out of range", limit="0..30", value=self.lr_shift)
        if self.temporal_window is not None and not (1 <= int(self.temporal_window) <= 1 << 20):
            raise InputError("learning.temporal_window", "out of range (None: whole sample)", limit="1..1048576",
                             value=self.temporal_window)

    @classmethod
    def for_rule(cls, rule: str, **kw) -> "LearningSettings":
        """Settings of ``rule`` with its own loss and lr unless given (the same as
        ``LearningSettings(rule=rule)``; kept for earlier callers)."""
        return cls(rule=rule, **kw)

    @property
    def window(self) -> int:
        """The backward kernel's temporal setting: -1 full recursion, 0 off, K steps."""
        if not self.temporal_path:
            return 0
        return -1 if self.temporal_window is None else int(self.temporal_window)

    @property
    def effective_lr(self) -> float:
        return 2.0 ** (-self.lr_shift) if self.lr_shift is not None else float(self.lr)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "learning") -> "LearningSettings":
        known = {f.name: f for f in fields(cls)}
        for k in d:
            if k not in known:
                raise ConfigKeyError(f"{where}.{k}", "unknown key", limit=f"one of {sorted(known)}")
        kw = {}
        for k, v in d.items():
            default = RULE_DEFAULTED[k]() if k in RULE_DEFAULTED else known[k].default
            if isinstance(default, bool):
                v = bool(v)
            elif k in OPTIONAL_INTS:
                v = None if v is None or (isinstance(v, (int, float)) and v < 0) else int(v)
            elif isinstance(default, float):
                v = float(v)
            elif isinstance(default, int):
                v = int(v)
            elif isinstance(default, str):
                v = v.decode() if isinstance(v, bytes) else str(v)
            kw[k] = v
        return cls(**kw)
