"""The chip's arithmetic, in one place: leak, saturation, firing.

Each function is plain Python (the reference, usable on scalars) and has a numba overload that
picks the integer (bit-exact chip) or the float (ideal twin) form from the argument type, so one
kernel source serves both precisions:

- integer: leak v - (v >> k) (arithmetic shift: floors towards -inf, so -3 >> 1 = -2 and the
  leak of -3 is -1), saturation clip(v, -2^(b-1), 2^(b-1)-1);
- float:   leak tau * v with tau = 1 - 2^-k, no saturation (pass v_lo = -inf, v_hi = +inf).
- k = 0 (``spec.LEAK_OFF``) switches the leak off: v is kept (the IF neuron). No shift k >= 1 gives
  that: even k >= v_bits leaks a negative v by 1 per step (-1 >> k = -1).
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload


def leak(v, shift):
    """One step of leak: int v - (v >> shift); float (1 - 2^-shift) * v; shift 0: v (no leak)."""
    if shift == 0:
        return v
    if isinstance(v, (int, np.integer)):
        return v - (v >> shift)
    return (1.0 - 2.0 ** (-shift)) * v


@overload(leak, jit_options={"cache": True})
def _leak_ol(v, shift):
    if isinstance(v, types.Integer):
        def impl(v, shift):
            return v - ((v >> shift) if shift != 0 else v * 0)
        return impl
    if isinstance(v, types.Float):
        def impl(v, shift):
            return (1.0 - (2.0 ** (-shift) if shift != 0 else 0.0)) * v
        return impl


def saturate(v, lo, hi):
    """Clip v to [lo, hi]; returns (value, 1 if clipped else 0)."""
    if v > hi:
        return hi, 1
    if v < lo:
        return lo, 1
    return v, 0


@overload(saturate, jit_options={"cache": True})
def _saturate_ol(v, lo, hi):
    def impl(v, lo, hi):               # branch-free: the neuron loop stays vectorisable
        clipped = min(max(v, lo), hi)
        return clipped, clipped != v
    return impl


def v_limits(v_bits: int) -> tuple[int, int]:
    """Inclusive saturating range of a signed ``v_bits`` membrane."""
    return -(1 << (v_bits - 1)), (1 << (v_bits - 1)) - 1


PARTIAL_SUM_BITS = 16            # width of the emulator's per-step partial sums of weight rows
_MIN_PARTIAL_GROUP = 8           # narrower groups would cost more in widening than they save
ONE_GROUP = 1 << 30              # more rows than any step has: all rows in one partial sum


def weight_storage(w_bits: int):
    """The numpy integer type that stores ``w_bits``-bit signed weights: int8 up to 8 bits (the
    hidden layer's rows, half the bytes to stream per event), else int16."""
    return np.int8 if w_bits <= 8 else np.int16


def partial_sum_group(w_bits: int) -> tuple[type, int]:
    """How the integer forward pass sums one step's weight rows exactly: in partial sums of
    ``dtype``, ``group`` rows at a time, each partial sum then widened into the int32 accumulator.
    |w| <= 2^(w_bits - 1), so an int16 holds the sum of any (2^15 - 1) // 2^(w_bits - 1) rows
    without overflow (255 rows of 8-bit weights, 63 of 10-bit); twice the lanes of int32 per
    vector add. The result is the plain int32 sum of the rows, whatever the grouping."""
    group = ((1 << (PARTIAL_SUM_BITS - 1)) - 1) >> (w_bits - 1)
    if group >= _MIN_PARTIAL_GROUP:
        return np.int16, group
    return np.int32, ONE_GROUP
