"""Surrogate derivatives ds/du of the spike function, masked (MPD-ED) or not (STBP).

``d = u - theta`` in LSBs; ``width = surrogate_width x theta`` in LSBs. ds/du has units 1/LSB:
it is ``shape(d) / width`` with the dimensionless shapes below (peak 1 at d = 0), so that the
reset path -(tau*v + a) * ds/du stays of order one and the int chip and the float twin, both in
LSB units, read the same learning rate:

============  ===========================  ==========================================
shape          masked (MPD-ED): d >= 0 only  unmasked (STBP): every neuron, every step
============  ===========================  ==========================================
rect           1                            1 if |d| < width/2 else 0
triangle       max(0, 1 - d/width)          max(0, 1 - |d|/width)
exp            exp(-d/width)                exp(-|d|/width)
============  ===========================  ==========================================

Masked, the surrogate is non-zero only where u >= theta, i.e. exactly at spikes: error enters a
neuron only when it fires (the masked surrogate gradient of Wei et al. Section IV-B).
"""
from __future__ import annotations

import math

from numba import njit

from .settings import SURROGATES

RECT, TRIANGLE, EXP = 0, 1, 2
SHAPE_ID = {name: i for i, name in enumerate(SURROGATES)}
assert SHAPE_ID == {"rect": RECT, "triangle": TRIANGLE, "exp": EXP}


@njit(cache=True)
def surrogate(d, masked, shape, width):
    """ds/du (1/LSB) at d = u - theta (see the module table)."""
    if masked:
        if d < 0.0:
            return 0.0
        a = d
    else:
        a = abs(d)
        if shape == RECT and a >= 0.5 * width:
            return 0.0
    if shape == RECT:
        return 1.0 / width
    if shape == TRIANGLE:
        return max(0.0, 1.0 - a / width) / width
    return math.exp(-a / width) / width
