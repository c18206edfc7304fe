"""Weight gradients and the on-chip weight update (batch size 1), in numba.

The gradient of a layer is dL/dW[i, j] = sum_t delta_u[t, i] * x[t, j]. MPD-ED forms it only on
(input event at step t, post neuron with non-zero delta_u[t]) pairs — work proportional to spike
counts — and updates only the synapses so touched; STBP (dense by design) forms it on every
synapse at every step. The integer update is

    dW = round(-lr * dL/dW)      in weight LSBs: nearest (floor(x + 1/2)), floor, or stochastic
                                 (floor(x + U[0, 1)): unbiased; U from a splitmix64 stream seeded
                                 per step from the engine's seeded numpy Generator — reproducible,
                                 and ~10x cheaper per draw in the hot loop than numba's np.random)
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


_RNG_STATE = np.zeros(1, dtype=np.uint64)   # splitmix64 state of the stochastic rounding


@njit(cache=True)
def _seed(state, seed):
    state[0] = np.uint64(seed)


def seed_numba(seed: int) -> None:
    """Seed the stochastic-rounding stream (called per training step by the engine)."""
    _seed(_RNG_STATE, seed)


@njit(cache=True, inline="always")
def uniform(state):
    """splitmix64 (Steele et al. 2014): next double in [0, 1) from ``state``."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def round_lsb(x, mode, state):
    """Round a float update (LSBs) to an integer-valued float."""
    if mode == NEAREST:
        return math.floor(x + 0.5)
    if mode == FLOOR:
        return math.floor(x)
    return math.floor(x + uniform(state))


@njit(cache=True, inline="always")
def update_synapse(wT, j, i, g, lr, mode, lo, hi, is_int, state):
    """Apply -lr * g to synapse (pre j, post i). Returns 1 if written, 0 if skipped.
    The caller recounts the row's non-zero fan-out (``recount_row``) after its updates."""
    x = -lr * g
    if is_int:
        d = round_lsb(x, mode, state)
        if d == 0.0:
            return 0
        new = int(wT[j, i]) + int(d)
        if new > hi:
            new = int(hi)
        elif new < lo:
            new = int(lo)
        wT[j, i] = new
        return 1
    if x == 0.0:
        return 0
    wT[j, i] += x
    return 1


@njit(cache=True, inline="always")
def recount_row(wT, nnz_row, j):
    """Non-zero weights of row j: the effective fan-out the forward pass counts as SOPs."""
    n = 0
    for i in range(wT.shape[1]):
        n += wT[j, i] != 0
    nnz_row[j] = n


@njit(cache=True)
def sparse_update(step_ptr, lines, du, wT, nnz_row, grad_out, lr, mode, lo, hi, is_int, apply, counts, layer,
                  state):
    """MPD-ED: dL/dW on (event, non-zero error) pairs, then the update of the touched synapses.

    The neurons with a non-zero error at each step are listed once (CSR); events are grouped by
    presynaptic line j, and row j of the gradient is accumulated over the listed neurons of the
    steps at which j spiked. Work is O(pairs + touched synapses), never n_pre x n_post.
    ``grad_out`` (n_pre, n_post) receives the gradient rows when not ``apply``.
    Counted: the pairs (events at t x non-zero errors at t), reads, writes, skips.
    """
    T, n_post = du.shape
    n_pre = wT.shape[0]
    # neurons with a non-zero error, per step (CSR)
    nz_ptr = np.zeros(T + 1, dtype=np.int64)
    nz_idx = np.empty(T * n_post, dtype=np.int64)
    m = 0
    for t in range(T):
        for i in range(n_post):
            if du[t, i] != 0.0:
                nz_idx[m] = i
                m += 1
        nz_ptr[t + 1] = m
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
            wgrad += nz_ptr[t + 1] - nz_ptr[t]
    acc = np.zeros(n_post)
    mark = np.zeros(n_post, dtype=np.int64)   # mark[i] == j + 1: i touched in row j
    touched = np.empty(n_post, dtype=np.int64)
    reads = 0
    writes = 0
    for j in range(n_pre):
        row_pairs = 0
        for e in range(line_ptr[j], line_ptr[j + 1]):
            row_pairs += nz_ptr[ev_step[e] + 1] - nz_ptr[ev_step[e]]
        if row_pairs == 0:
            continue
        n_t = 0
        if 4 * row_pairs > n_post:
            # dense row: vector adds of whole error rows, then one scan
            acc[:] = 0.0
            for e in range(line_ptr[j], line_ptr[j + 1]):
                row = du[ev_step[e]]
                for i in range(n_post):
                    acc[i] += row[i]
            for i in range(n_post):
                if acc[i] != 0.0:
                    touched[n_t] = i
                    n_t += 1
        else:
            for e in range(line_ptr[j], line_ptr[j + 1]):
                t = ev_step[e]
                for q in range(nz_ptr[t], nz_ptr[t + 1]):
                    i = nz_idx[q]
                    if mark[i] != j + 1:
                        mark[i] = j + 1
                        acc[i] = 0.0
                        touched[n_t] = i
                        n_t += 1
                    acc[i] += du[t, i]
        row_writes = 0
        for k in range(n_t):
            i = touched[k]
            g = acc[i]
            if not apply:
                grad_out[j, i] = g
            elif g != 0.0:
                reads += 1
                row_writes += update_synapse(wT, j, i, g, lr, mode, lo, hi, is_int, state)
        if row_writes:
            recount_row(wT, nnz_row, j)
            writes += row_writes
    counts[layer, C_WGRAD] += wgrad
    counts[layer, C_W_READS] += reads
    counts[layer, C_W_WRITES] += writes
    counts[layer, C_UPD_SKIPPED] += reads - writes


@njit(cache=True)
def dense_update(G, wT, nnz_row, lr, mode, lo, hi, is_int, counts, layer, state):
    """STBP: update every synapse from the dense gradient G (n_pre, n_post)."""
    n_pre, n_post = G.shape
    writes = 0
    for j in range(n_pre):
        row_writes = 0
        for i in range(n_post):
            row_writes += update_synapse(wT, j, i, G[j, i], lr, mode, lo, hi, is_int, state)
        if row_writes:
            recount_row(wT, nnz_row, j)
            writes += row_writes
    counts[layer, C_W_READS] += n_pre * n_post
    counts[layer, C_W_WRITES] += writes
    counts[layer, C_UPD_SKIPPED] += n_pre * n_post - writes


def dense_counts(du: np.ndarray, n_pre: int) -> int:
    """Weight-gradient accumulates of a dense rule: T x n_post x n_pre."""
    return du.shape[0] * du.shape[1] * n_pre
