"""Weight gradients and the on-chip weight update (batch size 1), in numba.

The gradient of a layer is dL/dW[i, j] = sum_t delta_u[t, i] * x[t, j]. MPD-ED forms it only on
(input event at step t, post neuron with non-zero delta_u[t]) pairs — work proportional to spike
counts — and updates only the synapses so touched; STBP (dense by design) forms it on every
synapse at every step. The integer update is

    dW = round(-lr * dL/dW)      in weight LSBs: nearest (floor(x + 1/2)), floor, or stochastic
                                 (floor(x + U[0, 1)), numba's generator seeded per step from the
                                 engine's seeded numpy Generator: unbiased and reproducible)
    W  = clip(W + dW, w_min, w_max)   saturating at the layer's width, never wrapping

A synapse is read (``weight_reads``) when its gradient is non-zero (MPD-ED) or always (STBP);
written (``weight_writes``) when its rounded update is non-zero, else ``updates_skipped``.
The float twin updates float weights by -lr * dL/dW exactly.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..counters import C_UPD_SKIPPED, C_W_READS, C_W_WRITES, C_WGRAD

NEAREST, FLOOR, STOCHASTIC = 0, 1, 2
ROUNDING_ID = {"nearest": NEAREST, "floor": FLOOR, "stochastic": STOCHASTIC}


@njit(cache=True)
def seed_numba(seed):
    np.random.seed(seed)


@njit(cache=True)
def round_lsb(x, mode):
    """Round a float update (LSBs) to an integer-valued float."""
    if mode == NEAREST:
        return math.floor(x + 0.5)
    if mode == FLOOR:
        return math.floor(x)
    return math.floor(x + np.random.random())


@njit(cache=True)
def update_synapse(wT, nnz_row, j, i, g, lr, mode, lo, hi, is_int):
    """Apply -lr * g to synapse (pre j, post i). Returns 1 if written, 0 if skipped."""
    x = -lr * g
    if is_int:
        x = round_lsb(x, mode)
        if x == 0.0:
            return 0
    elif x == 0.0:
        return 0
    old = wT[j, i]
    new = min(max(old + x, lo), hi)
    wT[j, i] = new
    if old == 0 and wT[j, i] != 0:
        nnz_row[j] += 1
    elif old != 0 and wT[j, i] == 0:
        nnz_row[j] -= 1
    return 1


@njit(cache=True)
def sparse_update(step_ptr, lines, du, wT, nnz_row, grad_out, lr, mode, lo, hi, is_int, apply, counts, layer):
    """MPD-ED: dL/dW on (event, non-zero error) pairs, then the update of the touched synapses.

    Events are grouped by presynaptic line j: row j of the gradient is the sum of du[t] over the
    steps t at which j spiked (a few dense vector adds), and only its non-zero entries are read
    and updated. ``grad_out`` (n_pre, n_post) receives the gradient rows when not ``apply``.
    Counted: the event-driven pairs (events at t x non-zero errors at t), reads, writes, skips.
    """
    T, n_post = du.shape
    n_pre = wT.shape[0]
    nnz_t = np.zeros(T, dtype=np.int64)
    for t in range(T):
        for i in range(n_post):
            if du[t, i] != 0.0:
                nnz_t[t] += 1
    # events grouped by line: counting sort of (line, step)
    n_ev = lines.shape[0]
    line_ptr = np.zeros(n_pre + 1, dtype=np.int64)
    for e in range(n_ev):
        line_ptr[lines[e] + 1] += 1
    for j in range(n_pre):
        line_ptr[j + 1] += line_ptr[j]
    fill = line_ptr[:-1].copy()
    ev_step = np.empty(n_ev, dtype=np.int64)
    wgrad = 0
    for t in range(T):
        for e in range(step_ptr[t], step_ptr[t + 1]):
            j = lines[e]
            ev_step[fill[j]] = t
            fill[j] += 1
            wgrad += nnz_t[t]
    acc = np.empty(n_post)
    reads = 0
    writes = 0
    for j in range(n_pre):
        a, b = line_ptr[j], line_ptr[j + 1]
        if a == b:
            continue
        live = False
        for e in range(a, b):
            if nnz_t[ev_step[e]] != 0:
                live = True
        if not live:
            continue
        acc[:] = 0.0
        for e in range(a, b):
            row = du[ev_step[e]]
            for i in range(n_post):
                acc[i] += row[i]
        if not apply:
            grad_out[j, :] = acc
            continue
        for i in range(n_post):
            g = acc[i]
            if g != 0.0:
                reads += 1
                writes += update_synapse(wT, nnz_row, j, i, g, lr, mode, lo, hi, is_int)
    counts[layer, C_WGRAD] += wgrad
    counts[layer, C_W_READS] += reads
    counts[layer, C_W_WRITES] += writes
    counts[layer, C_UPD_SKIPPED] += reads - writes


@njit(cache=True)
def dense_update(G, wT, nnz_row, lr, mode, lo, hi, is_int, counts, layer):
    """STBP: update every synapse from the dense gradient G (n_pre, n_post)."""
    n_pre, n_post = G.shape
    writes = 0
    for j in range(n_pre):
        for i in range(n_post):
            writes += update_synapse(wT, nnz_row, j, i, G[j, i], lr, mode, lo, hi, is_int)
    counts[layer, C_W_READS] += n_pre * n_post
    counts[layer, C_W_WRITES] += writes
    counts[layer, C_UPD_SKIPPED] += n_pre * n_post - writes


def dense_counts(du: np.ndarray, n_pre: int) -> int:
    """Weight-gradient accumulates of a dense rule: T x n_post x n_pre."""
    return du.shape[0] * du.shape[1] * n_pre
