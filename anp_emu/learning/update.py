"""Weight gradients and the on-chip weight update (batch size 1), in numba.

The gradient of a layer is dL/dW[i, j] = sum_t delta_u[t, i] * x[t, j]. MPD-ED forms it only on
(input event at step t, post neuron with non-zero delta_u[t]) pairs — work proportional to spike
counts — and updates only the synapses so touched; STBP (dense by design) forms it on every
synapse at every step. The integer update is

    dW = round(-lr * dL/dW)      in weight LSBs: nearest (floor(x + 1/2)), floor, or stochastic
                                 (floor(x + U[0, 1)): unbiased; U = uniform_at(key, synapse), a
                                 counter-based splitmix64 draw per synapse under a per-step, per-layer
                                 key from the engine's seeded numpy Generator — reproducible, and
                                 independent of the order in which synapses are visited)
    W  = clip(W + dW, w_min, w_max)   saturating at the layer's width, never wrapping

A synapse is read (``weight_reads``) when its gradient is non-zero (MPD-ED) or always (STBP);
written (``weight_writes``) when its rounded update is non-zero, else ``updates_skipped``.
The float twin updates float weights by -lr * dL/dW exactly.
"""
from __future__ import annotations


import numpy as np
from numba import njit

from ..counters import C_UPD_SKIPPED, C_W_READS, C_W_WRITES, C_WGRAD

NEAREST, FLOOR, STOCHASTIC = 0, 1, 2
ROUNDING_ID = {"nearest": NEAREST, "floor": FLOOR, "stochastic": STOCHASTIC}

_GOLDEN = 0x9E3779B97F4A7C15   # splitmix64 increment


@njit(cache=True, inline="always")
def uniform_at(key, index):
    """U[0, 1) for synapse ``index`` (pre * n_post + post) under the step key ``key``: output
    index + 1 of the splitmix64 stream started at ``key`` (Steele et al. 2014). Counter-based, so
    each synapse's draw depends on (key, index) only — not on the order the synapses are visited
    — and a row can be updated without a sequential generator state."""
    z = np.uint64(key) + np.uint64(index + 1) * np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(np.int64(z >> np.uint64(11))) * (1.0 / 9007199254740992.0)   # 53 bits, exact


@njit(cache=True, inline="always")
def round_lsb(x, mode, u):
    """Round a float update (LSBs) to an integer-valued float; ``u`` in [0, 1) for stochastic.
    Zero stays zero in every mode (floor(0 + u) = 0), so untouched synapses never move. (np.floor:
    math.floor would return an int in numba and cost a float-int round trip per synapse.)"""
    if mode == NEAREST:
        return np.floor(x + 0.5)
    if mode == FLOOR:
        return np.floor(x)
    return np.floor(x + u)


@njit(cache=True, inline="always")
def weight_change(g, lr, mode, is_int, key, index):
    """The change of synapse ``index`` (pre * n_post + post) for gradient g: -lr * g, rounded to
    whole LSBs on the int chip (stochastic with ``uniform_at(key, index)``), exact on the float twin."""
    x = -lr * g
    if not is_int:
        return x
    return round_lsb(x, mode, uniform_at(key, index) if mode == STOCHASTIC else 0.0)


@njit(cache=True, inline="always")
def apply_change(wT, j, i, d, lo, hi):
    """W[j, i] = clip(W[j, i] + d, lo, hi) — saturating, never wrapping; returns the change of the
    row's non-zero count (the effective fan-out the forward pass counts as SOPs)."""
    old = wT[j, i]
    new = min(max(old + d, lo), hi)
    wT[j, i] = new
    return int(new != 0) - int(old != 0)


@njit(cache=True, inline="always")
def update_synapse(wT, nnz_row, j, i, g, lr, mode, lo, hi, is_int, key, tally):
    """Apply the rounded -lr * g to synapse (pre j, post i), keep row j's non-zero count, and
    tally reads (g != 0) in tally[0] and writes (non-zero rounded change) in tally[1]."""
    d = weight_change(g, lr, mode, is_int, key, j * wT.shape[1] + i)
    nnz_row[j] += apply_change(wT, j, i, d, lo, hi)
    tally[0] += g != 0.0
    tally[1] += d != 0.0


@njit(cache=True)
def sparse_update(step_ptr, lines, du, wT, nnz_row, grad_out, lr, mode, lo, hi, is_int, apply, counts, layer,
                  key):
    """MPD-ED: dL/dW on (event, non-zero error) pairs, then the update of the touched synapses.

    The neurons with a non-zero error at each step are listed once (CSR); events are grouped by
    presynaptic line j, and row j of the gradient is accumulated over the listed neurons of the
    steps at which j spiked: work O(pairs + touched synapses). A row whose pairs reach n_post is
    cheaper as whole-row vector adds (the line's events x n_post) and one pass over the row; no
    row is visited without an event, so the work is bounded by input events x n_post (the
    paper's zeta_i*M*N*T), never n_pre x n_post x T.
    ``grad_out`` (n_pre, n_post) receives the gradient rows when not ``apply``.
    Counted: the pairs (events at t x non-zero errors at t), reads, writes, skips.
    """
    T, n_post = du.shape
    n_pre = wT.shape[0]
    # neurons with a non-zero error, per step (CSR)
    nz_ptr = np.zeros(T + 1, dtype=np.int64)
    nz_idx = np.empty(T * n_post, dtype=np.int64)
    nz_val = np.empty(T * n_post)
    m = 0
    for t in range(T):
        for i in range(n_post):
            if du[t, i] != 0.0:
                nz_idx[m] = i
                nz_val[m] = du[t, i]
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
    tally = np.zeros(2, dtype=np.int64)   # weight reads, weight writes
    for j in range(n_pre):
        row_pairs = 0
        for e in range(line_ptr[j], line_ptr[j + 1]):
            row_pairs += nz_ptr[ev_step[e] + 1] - nz_ptr[ev_step[e]]
        if row_pairs == 0:
            continue
        if row_pairs >= n_post:
            # dense row: vector adds of whole error rows, then one branch-free pass over the row
            # (a zero gradient rounds to a zero change in every mode)
            acc[:] = 0.0
            for e in range(line_ptr[j], line_ptr[j + 1]):
                row = du[ev_step[e]]
                for i in range(n_post):
                    acc[i] += row[i]
            if not apply:
                grad_out[j] = acc
                continue
            for i in range(n_post):
                update_synapse(wT, nnz_row, j, i, acc[i], lr, mode, lo, hi, is_int, key, tally)
        elif line_ptr[j + 1] - line_ptr[j] == 1:
            # one event on this line: its step's error list is the gradient row
            t = ev_step[line_ptr[j]]
            for q in range(nz_ptr[t], nz_ptr[t + 1]):
                if apply:
                    update_synapse(wT, nnz_row, j, nz_idx[q], nz_val[q], lr, mode, lo, hi, is_int, key, tally)
                else:
                    grad_out[j, nz_idx[q]] = nz_val[q]
        else:
            # several events: merge their steps' error lists (mark: first touch in this row)
            n_t = 0
            for e in range(line_ptr[j], line_ptr[j + 1]):
                t = ev_step[e]
                for q in range(nz_ptr[t], nz_ptr[t + 1]):
                    i = nz_idx[q]
                    if mark[i] != j + 1:
                        mark[i] = j + 1
                        acc[i] = nz_val[q]
                        touched[n_t] = i
                        n_t += 1
                    else:
                        acc[i] += nz_val[q]
            for k in range(n_t):
                i = touched[k]
                if apply:
                    update_synapse(wT, nnz_row, j, i, acc[i], lr, mode, lo, hi, is_int, key, tally)
                else:
                    grad_out[j, i] = acc[i]
    counts[layer, C_WGRAD] += wgrad
    counts[layer, C_W_READS] += tally[0]
    counts[layer, C_W_WRITES] += tally[1]
    counts[layer, C_UPD_SKIPPED] += tally[0] - tally[1]


@njit(cache=True)
def dense_update(G, wT, nnz_row, lr, mode, lo, hi, is_int, counts, layer, key):
    """STBP: update every synapse from the dense gradient G (n_pre, n_post); every synapse is read."""
    n_pre, n_post = G.shape
    tally = np.zeros(2, dtype=np.int64)
    for j in range(n_pre):
        for i in range(n_post):
            update_synapse(wT, nnz_row, j, i, G[j, i], lr, mode, lo, hi, is_int, key, tally)
    counts[layer, C_W_READS] += n_pre * n_post
    counts[layer, C_W_WRITES] += tally[1]
    counts[layer, C_UPD_SKIPPED] += n_pre * n_post - tally[1]


def dense_counts(du: np.ndarray, n_pre: int) -> int:
    """Weight-gradient accumulates of a dense rule: T x n_post x n_pre."""
    return du.shape[0] * du.shape[1] * n_pre
