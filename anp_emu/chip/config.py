"""ChipConfig: the programmable state of the chip (weights, thresholds, aux, scales, learning)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import design_rules as dr
from ..errors import InputError
from ..learning.settings import LearningSettings
from .spec import ChipSpec

WEIGHT_DTYPE = np.int16  # storage of every synapse (all supported widths <= 16 bits)
LAYER_NAMES = ("hidden", "output")


@dataclass
class ChipConfig:
    """Integer state of one chip, validated against its spec on construction.

    ``w_hid`` (n_hid, n_in) and ``w_out`` (n_out, n_hid) are integer weights in LSBs;
    ``theta_*`` integer thresholds (LSBs); ``w_aux_*`` the auxiliary neuron's synapse (LSBs,
    >= 0); ``scale_*`` float value of one weight LSB (float weight = int weight * scale).
    Use :meth:`replace` to derive a changed config (validation runs again).
    """

    spec: ChipSpec
    w_hid: np.ndarray
    w_out: np.ndarray
    theta_hid: int
    theta_out: int
    w_aux_hid: int = 0
    w_aux_out: int = 0
    scale_hid: float = 1.0
    scale_out: float = 1.0
    learning: LearningSettings = field(default_factory=LearningSettings)

    def __post_init__(self):
        spec = self.spec
        if not isinstance(spec, ChipSpec):
            raise InputError("spec", "must be a ChipSpec", value=type(spec).__name__)
        for layer, name in enumerate(("w_hid", "w_out")):
            w = dr.check_integer_array(getattr(self, name), name)
            want = spec.layer_sizes[layer]
            if w.shape != want:
                raise dr.violate(dr.WEIGHT_SHAPE, name, want, w.shape)
            lo, hi = spec.w_range(layer)
            dr.check_range(w, lo, hi, dr.WEIGHT_RANGE, name)
            object.__setattr__(self, name, np.ascontiguousarray(w, dtype=WEIGHT_DTYPE))
        vmax = spec.v_range[1]
        for layer, (tname, aname, sname) in enumerate((("theta_hid", "w_aux_hid", "scale_hid"),
                                                       ("theta_out", "w_aux_out", "scale_out"))):
            th = int(dr.check_integer_array(getattr(self, tname), tname))
            if th < 1:
                raise dr.violate(dr.THRESHOLD_POSITIVE, tname, ">= 1", th)
            if th > vmax:
                raise dr.violate(dr.THRESHOLD_IN_MEMBRANE, tname, f"<= {vmax}", th)
            aux = int(dr.check_integer_array(getattr(self, aname), aname))
            hi = spec.w_range(layer)[1]
            if not (0 <= aux <= hi):
                raise dr.violate(dr.AUX_RANGE, aname, f"0..{hi}", aux)
            if aux and not spec.aux:
                raise dr.violate(dr.AUX_AVAILABLE, aname, 0, aux)
            sc = getattr(self, sname)
            try:
                sc = float(sc)
            except (TypeError, ValueError):
                raise dr.violate(dr.SCALE_POSITIVE, sname, "finite > 0", repr(sc)) from None
            if not (np.isfinite(sc) and sc > 0):
                raise dr.violate(dr.SCALE_POSITIVE, sname, "finite > 0", sc)
            setattr(self, tname, th)
            setattr(self, aname, aux)
            setattr(self, sname, sc)
        if isinstance(self.learning, dict):
            self.learning = LearningSettings.from_dict(self.learning)
        if not isinstance(self.learning, LearningSettings):
            raise InputError("learning", "must be LearningSettings or a dict", value=type(self.learning).__name__)

    # ---- per-layer views (layer 0 hidden, 1 output) ----
    def weights(self, layer: int) -> np.ndarray:
        return (self.w_hid, self.w_out)[layer]

    def theta(self, layer: int) -> int:
        return (self.theta_hid, self.theta_out)[layer]

    def w_aux(self, layer: int) -> int:
        return (self.w_aux_hid, self.w_aux_out)[layer]

    def scale(self, layer: int) -> float:
        return (self.scale_hid, self.scale_out)[layer]

    def replace(self, **changes) -> "ChipConfig":
        return replace(self, **changes)

    def copy(self) -> "ChipConfig":
        return replace(self, w_hid=self.w_hid.copy(), w_out=self.w_out.copy())

    def equals(self, other: "ChipConfig") -> bool:
        """Same spec, integers, scales and learning settings."""
        return (self.spec == other.spec and np.array_equal(self.w_hid, other.w_hid)
                and np.array_equal(self.w_out, other.w_out)
                and (self.theta_hid, self.theta_out, self.w_aux_hid, self.w_aux_out)
                == (other.theta_hid, other.theta_out, other.w_aux_hid, other.w_aux_out)
                and (self.scale_hid, self.scale_out) == (other.scale_hid, other.scale_out)
                and self.learning == other.learning)

    def memory_bits(self) -> dict[str, int]:
        """Synaptic memory per layer in bits (weights x width), plus aux and thresholds."""
        s = self.spec
        return {"hidden": self.w_hid.size * s.w_bits_hid, "output": self.w_out.size * s.w_bits_out}

    @classmethod
    def random(cls, spec: ChipSpec | None = None, *, seed: int = 0, theta_hid: int | None = None,
               theta_out: int | None = None, w_aux_hid: int = 0, w_aux_out: int = 0,
               std_frac: float = 0.25, learning: LearningSettings | None = None) -> "ChipConfig":
        """Random Gaussian integer weights (std = std_frac x the layer's max weight), clipped.

        Default thresholds put a neuron that receives a few coincident strong inputs at its
        threshold; mapping/training code chooses its own.
        """
        spec = spec or ChipSpec()
        rng = np.random.default_rng(seed)
        ws = []
        for layer in (0, 1):
            lo, hi = spec.w_range(layer)
            w = np.rint(rng.normal(0.0, std_frac * hi, size=spec.layer_sizes[layer]))
            ws.append(np.clip(w, lo, hi).astype(WEIGHT_DTYPE))
        th_h = theta_hid if theta_hid is not None else max(1, 2 * spec.w_range(0)[1])
        th_o = theta_out if theta_out is not None else max(1, 2 * spec.w_range(1)[1])
        if not spec.aux:
            w_aux_hid = w_aux_out = 0
        return cls(spec, ws[0], ws[1], th_h, th_o, w_aux_hid, w_aux_out,
                   learning=learning or LearningSettings())
