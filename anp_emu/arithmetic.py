"""The chip's arithmetic, in one place: leak, saturation, firing.

Each function is plain Python (the reference, usable on scalars) and has a numba overload that
picks the integer (bit-exact chip) or the float (ideal twin) form from the argument type, so one
kernel source serves both precisions:

- integer: leak v - (v >> k) (arithmetic shift: floors towards -inf, so -3 >> 1 = -2 and the
  leak of -3 is -1), saturation clip(v, -2^(b-1), 2^(b-1)-1);
- float:   leak tau * v with tau = 1 - 2^-k, no saturation (pass v_lo = -inf, v_hi = +inf).
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload


def leak(v, shift):
    """One step of leak: int v - (v >> shift); float (1 - 2^-shift) * v."""
    if isinstance(v, (int, np.integer)):
        return v - (v >> shift)
    return (1.0 - 2.0 ** (-shift)) * v


@overload(leak, jit_options={"cache": True})
def _leak_ol(v, shift):
    if isinstance(v, types.Integer):
        def impl(v, shift):
            return v - (v >> shift)
        return impl
    if isinstance(v, types.Float):
        def impl(v, shift):
            return (1.0 - 2.0 ** (-shift)) * v
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
