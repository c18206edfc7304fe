"""Weight gradients and the on-chip weight update (batch size 1), in numba.

The gradient of a layer is dL/dW[i, j] = sum_t delta_u[t, i] * x[t, j]. MPD-ED forms it only on
(input event at step t, post neuron with non-zero delta_u[t]) pairs — work proportional to spike
counts — and updates only the synapses so touched; STBP (dense by design) forms it on every
synapse at every step. The change -lr * dL/dW is rounded and saturated as ``rounding`` defines.

A synapse is read (``weight_reads``) when it has at least one (event, non-zero error) pair
(MPD-ED) or always (STBP); written (``weight_writes``) when its rounded change is non-zero, else
``updates_skipped``. The float twin updates float weights by -lr * dL/dW exactly.

Two evaluation paths give the same numbers as ``rounding.weight_change`` per synapse:
- stochastic rounding on the int chip: ``rounding.round_row`` per row, blocks of 64 synapses, with
  a bound on each synapse's level from the exponents of its errors (``rounding.level_bounds``,
  the smallest over the row's events), so that only the candidates its level words leave are
  visited — most synapses with a gradient are never touched, and their gradient is never formed;
- nearest, floor, the float twin and plain gradients: each touched row's gradient is formed
  (``_row_gradient``) and rounded in branch-free blocks (``row_changes``).

Compile time is a user's cost (a fresh install compiles every kernel on first use), so the
kernels are cut so that each piece compiles once: ``round_row`` and ``row_changes`` never read
the weights (they return the row's changes; ``rounding.apply_changes`` writes them), so one
compiled version serves int8, int16 and float weights; the work of one thread is a function of
its own (``_sparse_rows``, ``_dense_rows``, once per weight type) called by the threaded entry
point and its serial twin alike; no literal argument reaches a kernel (numba would compile it
again for the constant); STBP's gradient is a small kernel of its own (``_event_rows``). The
threaded entry points are called (and so compiled) only when more than one numba thread is
granted (``update_kernels``); with one thread their serial twins run.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..chip.counters import C_UPD_SKIPPED, C_W_READS, C_W_WRITES, C_WGRAD
from .rounding import (BLOCK, STOCHASTIC, apply_changes, bound_offset, exact_levels, level_bounds, popcount,
                       round_lsb, round_row, row_blocks, row_scratch)

_CHUNK = 64                      # synapses per branch-free block of row_changes


@njit(cache=True, inline="always")
def _change_block(g, d, k0, k1, lr, mode, is_int):
    """Changes of synapses k0..k1-1 (nearest, floor or float); returns the non-zero count.
    (Slices: indices from 0 are provably non-negative, so numba's negative-index wraparound
    vanishes and the loads stay contiguous instead of becoming gathers.)"""
    gs, ds = g[k0:k1], d[k0:k1]
    f = np.int32(0)
    for k in range(gs.shape[0]):
        x = -lr * gs[k]
        dk = round_lsb(x, mode) if is_int else x
        ds[k] = dk
        f += np.int32(1) if dk != 0.0 else np.int32(0)
    return f


@njit(cache=True)
def row_changes(g, idx, n, lr, mode, is_int, d, post, change):
    """The non-zero changes of synapses (post idx[k]) with gradients g[k], k < n, rounded ``nearest``
    or ``floor`` on the int chip, exact on the float twin, into (post[q], change[q]); returns their
    number (the writes; ``rounding.apply_changes`` applies them). ``d``: scratch of n floats.

    Same numbers as ``weight_change`` per synapse, computed for speed: blocks of _CHUNK synapses
    go through a branch-free pass that vectorises, and only blocks with a non-zero change are
    revisited — most rounded updates are zero. The weights are not read here, so one compiled
    kernel serves every weight type."""
    writes = 0
    for c0 in range(0, n, _CHUNK):
        c1 = min(c0 + _CHUNK, n)
        if _change_block(g, d, c0, c1, lr, mode, is_int):
            for k in range(c0, c1):
                if d[k] != 0.0:
                    post[writes] = idx[k]
                    change[writes] = d[k]
                    writes += 1
    return writes


@njit(cache=True, inline="always")
def _nonzero_mask(seg):
    """Bitmask of the non-zero entries of up to 64 values."""
    m = np.uint64(0)
    for b in range(seg.shape[0]):
        m |= np.uint64(seg[b] != 0.0) << np.uint64(b)
    return m


@njit(cache=True, inline="always")
def _row_mask(live, steps, w):
    """Block w of a row whose line spiked at ``steps``: the union of the steps' non-zero error
    masks (the synapses with an (event, error) pair)."""
    mask = np.uint64(0)
    for t in steps:
        mask |= live[t, w]
    return mask


@njit(cache=True, inline="always")
def _row_bounds(P, steps, n_steps, lr, out):
    """The level bounds of a row whose line spiked at ``steps`` (``rounding.level_bounds``): per
    post neuron the smallest bound over the steps into ``out``; returns the offset to subtract
    (``rounding.bound_offset``)."""
    first = P[steps[0]]
    for i in range(out.shape[0]):
        out[i] = first[i]
    for s in range(1, n_steps):
        Ps = P[steps[s]]
        for i in range(out.shape[0]):
            x, y = out[i], Ps[i]
            out[i] = x if x < y else y
    return bound_offset(n_steps, lr)


@njit(cache=True)
def _error_blocks(du):
    """Per step t and block w of 64 post neurons: the bitmask of non-zero errors (uint64)."""
    T, n_post = du.shape
    nb = row_blocks(n_post)
    live = np.zeros((T, nb), dtype=np.uint64)
    for t in range(T):
        for w in range(nb):
            live[t, w] = _nonzero_mask(du[t, w * BLOCK:min((w + 1) * BLOCK, n_post)])
    return live


@njit(cache=True)
def _row_gradient(j, line_ptr, ev_step, du, nz_ptr, nz_idx, nz_val, dense_step, iota, acc, seen, touched, gbuf,
                  dacc):
    """Gradient row j (presynaptic line j) over its events: sum over the line's event steps t of
    the non-zero errors delta_u[t, :]. Returns (g, idx, n): the gradient g[k] of post neuron
    idx[k], k < n. Sparse rows merge the steps' error lists branch-free (work = pairs; ``acc``
    and ``seen`` are all zero between rows); a row whose pairs reach half the row is accumulated
    whole in ``dacc`` — a step with many errors as one vector add of du[t] — and returned over
    all n_post neurons (idx = iota, zeros included)."""
    n_post = du.shape[1]
    a, b = line_ptr[j], line_ptr[j + 1]
    pairs = 0
    for e in range(a, b):
        pairs += nz_ptr[ev_step[e] + 1] - nz_ptr[ev_step[e]]
    if pairs == 0:
        return gbuf, iota, 0
    if 2 * pairs >= n_post:
        dacc[:] = 0.0
        for e in range(a, b):
            t = ev_step[e]
            if dense_step[t]:
                row = du[t]
                for i in range(n_post):
                    dacc[i] += row[i]
            else:
                for q in range(nz_ptr[t], nz_ptr[t + 1]):
                    dacc[nz_idx[q]] += nz_val[q]
        return dacc, iota, n_post
    if b - a == 1:
        t = ev_step[a]
        lo_q, hi_q = nz_ptr[t], nz_ptr[t + 1]
        return nz_val[lo_q:hi_q], nz_idx[lo_q:hi_q], hi_q - lo_q
    n_t = 0
    for e in range(a, b):
        t = ev_step[e]
        for q in range(nz_ptr[t], nz_ptr[t + 1]):
            i = nz_idx[q]
            acc[i] += nz_val[q]
            touched[n_t] = i
            n_t += 1 - seen[i]
            seen[i] = 1
    for k in range(n_t):
        i = touched[k]
        gbuf[k] = acc[i]
        acc[i] = 0.0
        seen[i] = 0
    return gbuf, touched, n_t


@njit(cache=True)
def _error_lists(du):
    """The errors of a layer as the gradient kernels read them: per step and block, the non-zero
    mask (``_error_blocks``); nz_ptr (T + 1), the CSR offsets of the non-zero errors per step,
    their neurons and values (branch-free compaction), and whether a step is dense enough to be
    added as one vector (``dense_step``)."""
    T, n_post = du.shape
    live = _error_blocks(du)
    nz_ptr = np.zeros(T + 1, dtype=np.int64)
    nz_idx = np.empty(T * n_post + 1, dtype=np.uint32)   # unsigned: no negative-index wraparound
    nz_val = np.empty(T * n_post + 1)
    dense_step = np.zeros(T, dtype=np.bool_)
    m = 0
    for t in range(T):
        row = du[t]
        for i in range(n_post):
            nz_idx[m] = np.uint32(i)
            nz_val[m] = row[i]
            m += row[i] != 0.0
        dense_step[t] = 8 * (m - nz_ptr[t]) >= n_post     # cheaper as one vector add of du[t]
        nz_ptr[t + 1] = m
    return live, nz_ptr, nz_idx, nz_val, dense_step


@njit(cache=True)
def _layer_errors(du, lr, event_driven):
    """What the update kernel reads of a layer's errors: for stochastic rounding on the int chip
    the level bounds (``rounding.level_bounds``, rows padded to whole blocks), otherwise the error
    masks and lists (``_error_lists``); nz_ptr either way. (Allocated here, outside the parallel
    kernel, where every array expression would be a parallel region of its own.)"""
    if event_driven:
        P, nz_ptr = level_bounds(du, lr, row_blocks(du.shape[1]) * BLOCK)
        return (P, np.zeros((0, 0), dtype=np.uint64), nz_ptr, np.zeros(0, dtype=np.uint32), np.zeros(0),
                np.zeros(0, dtype=np.bool_))
    live, nz_ptr, nz_idx, nz_val, dense_step = _error_lists(du)
    return np.zeros((0, 0), dtype=np.uint8), live, nz_ptr, nz_idx, nz_val, dense_step


@njit(cache=True)
def _events_by_line(step_ptr, lines, n_pre, nz_ptr):
    """Events grouped by line (counting sort of (line, step)): line_ptr (n_pre + 1), the event
    steps in line order, the lines with an event, and the (event, non-zero error) pairs."""
    T = step_ptr.shape[0] - 1
    n_ev = lines.shape[0]
    line_ptr = np.zeros(n_pre + 1, dtype=np.int64)
    for e in range(n_ev):
        line_ptr[lines[e] + 1] += 1
    for j in range(n_pre):
        line_ptr[j + 1] += line_ptr[j]
    fill = line_ptr[:-1].copy()
    ev_step = np.empty(n_ev, dtype=np.int64)
    pairs = 0
    for t in range(T):
        for e in range(step_ptr[t], step_ptr[t + 1]):
            j = lines[e]
            ev_step[fill[j]] = t
            fill[j] += 1
            pairs += nz_ptr[t + 1] - nz_ptr[t]
    active = np.flatnonzero(line_ptr[1:] > line_ptr[:-1])
    return line_ptr, ev_step, active, pairs


@njit(cache=True)
def _kernel_arrays(n_post, n_chunks):
    """iota (n_post) and the per-chunk (reads, writes) tallies, allocated outside the parallel
    kernels (there, every array expression would be a parallel region of its own)."""
    return np.arange(n_post, dtype=np.uint32), np.zeros((n_chunks, 2), dtype=np.int64)


@njit(cache=True)
def _sparse_rows(c, n_chunks, active, line_ptr, ev_step, du, P, live, nz_ptr, nz_idx, nz_val, dense_step, iota, wT,
                 nnz_row, grad_out, lr, mode, lo, hi, is_int, apply, event_driven, key, tally):
    """Chunk c of ``sparse_update``: the active rows c, c + n_chunks, ...; their (reads, writes)
    into tally[c]. A function of its own (not the body of the parallel loop) so that it is
    compiled once per weight type and shared by the threaded kernel and its serial twin."""
    n_post = du.shape[1]
    nb = row_blocks(n_post)
    acc = np.zeros(n_post)
    seen = np.zeros(n_post, dtype=np.uint8)
    touched = np.empty(n_post + 1, dtype=np.uint32)
    gbuf = np.empty(n_post)
    dacc = np.empty(n_post)
    d = np.empty(n_post)
    bounds, alive, surv, tops, post, change = row_scratch(nb)
    reads = 0
    writes = 0
    for a in range(c, active.shape[0], n_chunks):
        j = active[a]
        e0, e1 = line_ptr[j], line_ptr[j + 1]
        steps = ev_step[e0:e1]
        if event_driven:
            offset = _row_bounds(P, steps, e1 - e0, lr, bounds)
            rd, wr = round_row(j, bounds, offset, alive, surv, tops, du, steps, e1 - e0, lr, key, post, change)
            reads += rd
            writes += wr
            nnz_row[j] += apply_changes(wT, j, post, change, wr, lo, hi)
            continue
        g, idx, n = _row_gradient(j, line_ptr, ev_step, du, nz_ptr, nz_idx, nz_val, dense_step, iota, acc, seen,
                                  touched, gbuf, dacc)
        if n == 0:
            continue
        for w in range(nb):
            reads += popcount(_row_mask(live, steps, w))
        if apply:
            wr = row_changes(g, idx, n, lr, mode, is_int, d, post, change)
            writes += wr
            nnz_row[j] += apply_changes(wT, j, post, change, wr, lo, hi)
        else:
            for k in range(n):
                grad_out[j, idx[k]] = g[k]
    tally[c, 0] = reads
    tally[c, 1] = writes


@njit(cache=True, parallel=True)
def sparse_update(step_ptr, lines, du, wT, nnz_row, grad_out, lr, mode, lo, hi, is_int, apply, counts, layer,
                  key, n_threads):
    """MPD-ED: dL/dW on (event, non-zero error) pairs, then the update of the touched synapses.

    Events are grouped by presynaptic line j; row j's synapses with a pair are the union of the
    non-zero errors of the steps at which j spiked (their number gives the reads). Stochastic
    rounding on the int chip then runs ``round_row`` on the row's level bounds, the smallest of
    the steps' bounds (``_row_bounds``) — the gradient is formed only for the few synapses whose
    level words leave them a candidate; otherwise the row's gradient is formed from the per-step
    lists of non-zero errors (``_row_gradient``) and rounded (``row_changes``). No row is visited
    without an event, so the work is bounded by input events x n_post (the paper's zeta_i*M*N*T), never
    n_pre x n_post x T. Rows are independent (the stochastic rounding is counter-based), so they
    are split over ``n_threads`` chunks (numba.get_num_threads(), passed in: calling it inside
    would keep the kernel out of numba's cache), one ``_sparse_rows`` call each; the result does
    not depend on it. ``grad_out`` (n_pre, n_post) receives the gradient rows when not ``apply``.
    Counted: the pairs (events at t x non-zero errors at t), reads, writes, skips.
    """
    event_driven = apply and is_int and mode == STOCHASTIC
    P, live, nz_ptr, nz_idx, nz_val, dense_step = _layer_errors(du, lr, event_driven)
    line_ptr, ev_step, active, wgrad = _events_by_line(step_ptr, lines, wT.shape[0], nz_ptr)
    n_chunks = max(1, min(n_threads, active.shape[0] // 64))
    iota, tally = _kernel_arrays(du.shape[1], n_chunks)
    for c in prange(n_chunks):
        _sparse_rows(np.int64(c), n_chunks, active, line_ptr, ev_step, du, P, live, nz_ptr, nz_idx, nz_val,
                     dense_step, iota, wT, nnz_row, grad_out, lr, mode, lo, hi, is_int, apply, event_driven, key,
                     tally)
    reads = 0
    writes = 0
    for c in range(n_chunks):
        reads += tally[c, 0]
        writes += tally[c, 1]
    counts[layer, C_WGRAD] += wgrad
    counts[layer, C_W_READS] += reads
    counts[layer, C_W_WRITES] += writes
    counts[layer, C_UPD_SKIPPED] += reads - writes


@njit(cache=True)
def _dense_rows(c, n_chunks, G, iota, wT, nnz_row, lr, mode, lo, hi, is_int, event_driven, key, tally):
    """Chunk c of ``dense_update``: rows c, c + n_chunks, ...; their writes into tally[c, 1]
    (compiled once per weight type, shared by the threaded kernel and its serial twin)."""
    n_pre, n_post = G.shape
    d = np.empty(n_post)
    bounds, alive, surv, tops, post, change = row_scratch(row_blocks(n_post))
    row = np.empty(1, dtype=np.int64)
    wr = 0
    for j in range(c, n_pre, n_chunks):
        if event_driven:
            row[0] = j
            exact_levels(G[j], lr, bounds[:n_post])
            # np.int64: a literal argument would compile round_row once more, for the constant
            wb = round_row(j, bounds, np.int64(0), alive, surv, tops, G, row, np.int64(1), lr, key, post, change)[1]
        else:
            wb = row_changes(G[j], iota, n_post, lr, mode, is_int, d, post, change)
        wr += wb
        nnz_row[j] += apply_changes(wT, j, post, change, wb, lo, hi)
    tally[c, 1] = wr


@njit(cache=True, parallel=True)
def dense_update(G, wT, nnz_row, lr, mode, lo, hi, is_int, counts, layer, key, n_threads, n_read):
    """STBP: update every synapse from the dense gradient G (n_pre, n_post). ``n_read`` synapses
    are counted as read (``stbp_learning_counts``, "event-input": the rows of lines with an event); a row
    without an event has a zero gradient and is never written.
    Rows are split over the numba threads as in ``sparse_update`` (one ``_dense_rows`` call per
    chunk); stochastic rounding on the int chip runs ``round_row`` with each synapse's exact level
    as its bound."""
    n_chunks = max(1, min(n_threads, G.shape[0] // 64))
    iota, tally = _kernel_arrays(G.shape[1], n_chunks)
    event_driven = is_int and mode == STOCHASTIC
    for c in prange(n_chunks):
        _dense_rows(np.int64(c), n_chunks, G, iota, wT, nnz_row, lr, mode, lo, hi, is_int, event_driven, key, tally)
    writes = 0
    for c in range(n_chunks):
        writes += tally[c, 1]
    counts[layer, C_W_READS] += n_read
    counts[layer, C_W_WRITES] += writes
    counts[layer, C_UPD_SKIPPED] += n_read - writes


@njit(cache=True)
def _event_rows(step_ptr, lines, du, G):
    """G[j] += du[t] for every event (t, j), in step order: per row the same sums, in the same
    order, as ``sparse_update`` forms (adding the zero errors it skips changes no sum)."""
    for t in range(step_ptr.shape[0] - 1):
        row = du[t]
        for e in range(step_ptr[t], step_ptr[t + 1]):
            g = G[lines[e]]
            for i in range(row.shape[0]):
                g[i] += row[i]


def gradient_rows(si, du: np.ndarray, n_pre: int) -> np.ndarray:
    """dL/dW (n_pre, n_post) = sum over the events (t, j) of du[t] into row j, exactly the sums
    ``sparse_update`` forms — the dense rule's gradient without a BLAS call, whose own threads
    would compete with the numba workers still spinning after a parallel update."""
    G = np.zeros((n_pre, du.shape[1]))
    _event_rows(si.step_ptr, si.lines, du, G)
    return G


def _serial_twin(kernel, name: str):
    """The same source compiled without threads (``prange`` is ``range`` there) under its own
    name, so that its on-disk cache entries never mix with the parallel kernel's."""
    import types

    f = kernel.py_func
    g = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
    g.__qualname__ = name
    g.__doc__ = (f"``{f.__name__}`` without threads (same numbers): the output layer's update, and the "
                 f"hidden layer's when one numba thread is granted.")
    return njit(cache=True)(g)


# A parallel kernel costs several times the compile time of a serial one (benchmarks/README.md,
# cold start), and gains only with more than one numba thread: the output layer (n_hid x n_out =
# 512 x 10 synapses) always runs serially, and the hidden layer does whenever one thread is
# granted (``anp_emu.runtime.threads`` under load). So a parallel kernel is compiled only when it runs
# with threads; it and its serial twin share the compiled per-thread work (``_sparse_rows``,
# ``_dense_rows``).
sparse_update_serial = _serial_twin(sparse_update, "sparse_update_serial")
dense_update_serial = _serial_twin(dense_update, "dense_update_serial")


def update_kernels(parallel: bool, n_threads: int):
    """(sparse, dense) update kernels: threaded when ``parallel`` (the hidden layer) and more than
    one numba thread is granted (``n_threads``, numba.get_num_threads()), else the serial twins
    (same numbers)."""
    if parallel and n_threads > 1:
        return sparse_update, dense_update
    return sparse_update_serial, dense_update_serial


def dense_counts(du: np.ndarray, n_pre: int) -> int:
    """The analytic dense figure of Table II's MNT term: T x n_post x n_pre weight-gradient
    accumulates, silent inputs included (what ``stbp_learning_counts`` counts in "dense" mode);
    kept for the separately named ``stbp_dense_wgrad`` figure of the complexity tables."""
    return du.shape[0] * du.shape[1] * n_pre


def stbp_learning_counts(emulation: str, step_ptr: np.ndarray, lines: np.ndarray, n_pre: int,
                         n_post: int) -> tuple[int, int, int | None]:
    """STBP's weight-gradient and update work on one layer of the chip for one sample of
    T = len(step_ptr) - 1 steps: (weight-gradient accumulates, weight reads, weight writes or None).

    "dense" (the default; Wei et al. 2024 Sec. VI-B: "we activate each neuron to emulate the way
    STBP works", the input lines included): every presynaptic line is processed at every step,
    so every synapse accumulates a gradient at every step (T x n_pre x n_post, Table II's M*N*T)
    and every synapse is read and written once (n_pre x n_post each). Independent of which lines
    spiked.
    "event-input" (what-if: a chip that skips silent input lines): a gradient accumulate only
    where a presynaptic event arrived (events x n_post), the rows of lines with an event read
    whole (lines with an event x n_post), and only non-zero rounded updates written (None: the
    update kernel counts them). Silent lines cost nothing; doubling the events doubles the
    accumulates.
    The weights learnt are the same in both modes: a silent line's gradient is zero."""
    if emulation == "dense":
        T = int(step_ptr.shape[0] - 1)
        n_syn = int(n_pre) * int(n_post)
        return T * n_syn, n_syn, n_syn
    n_events = int(step_ptr[-1] - step_ptr[0])
    n_lines = int(np.unique(lines[step_ptr[0]:step_ptr[-1]]).size)
    return n_events * int(n_post), n_lines * int(n_post), None
