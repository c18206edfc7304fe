"""Hardware limits of ANP-I as named design rules.

Each rule has a name (used in :class:`~anp_emu.errors.DesignRuleError`), what it demands and how
to fix a violation. ``RULES`` is the registry: the docs and tests iterate over it, and every rule
has its own ``pytest.raises`` test.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DesignRuleError

# ANP-I silicon: the largest network a spec may describe (a spec may be smaller, never larger)
ANP1_N_IN = 1024          # input lines
ANP1_N_HID = 512          # hidden neurons
ANP1_N_OUT = 10           # output neurons
# the widest state the emulator models
MAX_W_BITS = 16           # synapse, signed (stored as int8 up to 8 bits, else int16)
MAX_V_BITS = 32           # membrane, signed, saturating
MAX_LEAK_SHIFT = 15       # v -> v - (v >> k)


@dataclass(frozen=True)
class DesignRule:
    name: str
    demands: str
    fix: str


RULES: dict[str, DesignRule] = {}


def _rule(name: str, demands: str, fix: str) -> str:
    RULES[name] = DesignRule(name, demands, fix)
    return name


SIZE_WITHIN_CHIP = _rule("SIZE_WITHIN_CHIP", "1 <= layer size <= the chip's (1024-512-10 on ANP-I)",
                         "use fewer input lines or neurons, or pool the inputs")
W_BITS_SUPPORTED = _rule("W_BITS_SUPPORTED", "2 <= weight width <= 16 bits", "choose a supported width")
V_BITS_SUPPORTED = _rule("V_BITS_SUPPORTED", "weight width < membrane width <= 32 bits",
                         "widen the membrane or narrow the weights")
LEAK_SHIFT_SUPPORTED = _rule("LEAK_SHIFT_SUPPORTED", "0 <= leak shift <= 15 (tau = 1 - 2^-k; 0: leak off, IF)",
                             "map tau to the nearest shift k (0 for a non-leaky IF neuron)")
WEIGHT_SHAPE = _rule("WEIGHT_SHAPE", "weights have shape (n_post, n_pre) of the spec",
                     "transpose or resize the weight matrix")
WEIGHT_INTEGER = _rule("WEIGHT_INTEGER", "chip weights, thresholds and aux weights are integers",
                       "quantise with anp_emu.mapping first")
WEIGHT_RANGE = _rule("WEIGHT_RANGE", "every weight fits the layer's signed width (never wrapped)",
                     "rescale the layer or clip explicitly before mapping")
THRESHOLD_POSITIVE = _rule("THRESHOLD_POSITIVE", "theta >= 1", "raise the threshold")
THRESHOLD_IN_MEMBRANE = _rule("THRESHOLD_IN_MEMBRANE", "theta <= 2^(v_bits-1) - 1 (reachable)",
                              "lower the threshold or the layer scale")
AUX_RANGE = _rule("AUX_RANGE", "0 <= aux weight <= the layer's largest weight", "lower the aux weight")
AUX_AVAILABLE = _rule("AUX_AVAILABLE", "aux weights are zero when the spec has no aux neuron",
                      "set aux=True in the spec or zero the aux weights")
SCALE_POSITIVE = _rule("SCALE_POSITIVE", "layer scale is finite and > 0", "recompute the layer scale")
FINITE_VALUES = _rule("FINITE_VALUES", "no NaN or inf in weights, thresholds or leak",
                      "fix the float model before mapping")
TOPOLOGY_FEEDFORWARD = _rule("TOPOLOGY_FEEDFORWARD", "a feed-forward chain input -> hidden -> output",
                             "export a two-layer feed-forward network")
NODE_SUPPORTED = _rule("NODE_SUPPORTED", "only Affine/Linear + LIF/CubaLIF/IF nodes",
                       "replace unsupported nodes")
LAYER_UNIFORM = _rule("LAYER_UNIFORM", "one threshold, leak and resistance per layer (the chip has no per-neuron ones)",
                      "use the same neuron parameters for every neuron of a layer")
NO_BIAS = _rule("NO_BIAS", "zero biases and zero leak voltage (the chip has no bias current)",
                "fold the bias into an always-on input line or retrain without bias")


def violate(rule: str, where: str, limit, value) -> DesignRuleError:
    """Build the error for ``rule`` (raise it at the call site)."""
    return DesignRuleError(rule, where, limit, value, RULES[rule].fix)


def check_spec(spec) -> None:
    for name, chip_max in (("n_in", ANP1_N_IN), ("n_hid", ANP1_N_HID), ("n_out", ANP1_N_OUT)):
        v = getattr(spec, name)
        if not (1 <= v <= chip_max):
            raise violate(SIZE_WITHIN_CHIP, f"spec.{name}", f"1..{chip_max}", v)
    for name in ("w_bits_hid", "w_bits_out"):
        v = getattr(spec, name)
        if not (2 <= v <= MAX_W_BITS):
            raise violate(W_BITS_SUPPORTED, f"spec.{name}", f"2..{MAX_W_BITS}", v)
    wmax = max(spec.w_bits_hid, spec.w_bits_out)
    if not (wmax < spec.v_bits <= MAX_V_BITS):
        raise violate(V_BITS_SUPPORTED, "spec.v_bits", f"{wmax + 1}..{MAX_V_BITS}", spec.v_bits)
    if not (0 <= spec.leak_shift <= MAX_LEAK_SHIFT):
        raise violate(LEAK_SHIFT_SUPPORTED, "spec.leak_shift", f"0..{MAX_LEAK_SHIFT}", spec.leak_shift)


def check_integer_array(a, where: str) -> np.ndarray:
    """Return ``a`` as an int64 array; refuse floats, bools, NaN (no silent rounding or wrap)."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise violate(FINITE_VALUES, where, "finite", "NaN/inf")
        raise violate(WEIGHT_INTEGER, where, "integer dtype", str(arr.dtype))
    if arr.dtype.kind not in "iu":
        raise violate(WEIGHT_INTEGER, where, "integer dtype", str(arr.dtype))
    return arr.astype(np.int64)


def check_range(arr: np.ndarray, lo: int, hi: int, rule: str, where: str) -> None:
    """Raise ``rule`` naming the first out-of-range element's index and value."""
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        loc = f"{where}[{', '.join(map(str, idx))}]" if idx else where
        raise violate(rule, loc, f"{lo}..{hi}", int(arr[idx]) if idx else int(arr))
