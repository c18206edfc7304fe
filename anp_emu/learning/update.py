"""Weight gradients and the on-chip weight update (batch size 1), in numba.

The gradient of a layer is dL/dW[i, j] = sum_t delta_u[t, i] * x[t, j]. MPD-ED forms it only on
(input event at step t, post neuron with non-zero delta_u[t]) pairs — work proportional to spike
counts — and updates only the synapses so touched; STBP (dense by design) forms it on every
synapse at every step. The integer update is

    dW = round(-lr * dL/dW)      in weight LSBs: nearest (floor(x + 1/2)), floor, or stochastic
                                 (floor(x + u), u uniform on [0, 1): unbiased; ``stochastic_round``,
                                 counter-based splitmix64 draws per synapse under a per-step,
                                 per-layer key from the engine's seeded numpy Generator —
                                 reproducible, and independent of the order in which synapses are
                                 visited and of the thread count)
    W  = clip(W + dW, w_min, w_max)   saturating at the layer's width, never wrapping

A synapse is read (``weight_reads``) when its gradient is non-zero (MPD-ED) or always (STBP);
written (``weight_writes``) when its rounded update is non-zero, else ``updates_skipped``.
The float twin updates float weights by -lr * dL/dW exactly.
"""
from __future__ import annotations


import numpy as np
from numba import njit, prange

from ..counters import C_UPD_SKIPPED, C_W_READS, C_W_WRITES, C_WGRAD, new_counts

NEAREST, FLOOR, STOCHASTIC = 0, 1, 2
ROUNDING_ID = {"nearest": NEAREST, "floor": FLOOR, "stochastic": STOCHASTIC}

_GOLDEN = 0x9E3779B97F4A7C15   # splitmix64 increment
_FINE_SALT = 0x5851F42D4C957F2D  # the fine draws use key ^ salt
_COARSE = 65536.0                # u = (c + r) / 2^16: c a coarse 16-bit part, r a fine U[0, 1)
_X_LIMIT = 2.0 ** 20             # |change| clamp before rounding (any weight saturates long before)
_CHUNK = 64                      # synapses per branch-free block of update_row


@njit(cache=True, inline="always")
def splitmix_at(key, counter):
    """Output counter + 1 of the splitmix64 stream started at ``key`` (Steele et al. 2014), uint64.
    Counter-based: depends on (key, counter) only, so draws need no sequential state and do not
    depend on the order in which synapses are visited (or on the thread that visits them)."""
    z = np.uint64(key) + np.uint64(counter + 1) * np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform_at(key, index):
    """U[0, 1) with 53 random bits (exact in float64) for counter ``index`` under ``key``."""
    return float(np.int64(splitmix_at(key, index) >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def coarse_part(key, index):
    """The coarse part c in 0..65535 of synapse ``index``'s uniform: 16-bit word index % 4 of
    splitmix_at(key, index // 4) (one 64-bit draw serves 4 neighbouring synapses)."""
    h = splitmix_at(key, index >> 2)
    return np.int64((h >> np.uint64(16 * (index & 3))) & np.uint64(0xFFFF))


@njit(cache=True, inline="always")
def _scaled(x):
    """2^16 x, x clamped to +-2^20 LSB first (exact: a power-of-two scaling)."""
    return min(max(x, -_X_LIMIT), _X_LIMIT) * _COARSE


@njit(cache=True, inline="always")
def _coarse_code(x, c):
    """2 * floor((2^16 x + c) / 2^16) + open, with open = 1 when the fine draw decides (the
    floor of the sum sits at 2^16 - 1 mod 2^16); exact: 2^16 x and its floor are exact."""
    q = np.int64(np.floor(_scaled(x))) + c
    return ((q >> 16) << 1) + (1 if (q & 0xFFFF) == 0xFFFF else 0)


@njit(cache=True, inline="always")
def _resolve(code, x, key, index):
    """The rounded change from a coarse code: the floor, plus 1 for an open code whose fine draw
    r satisfies r >= 1 - frac(2^16 x)."""
    m = float(code >> 1)
    if code & 1:
        t = _scaled(x)
        if (t - np.floor(t)) + uniform_at(key ^ _FINE_SALT, index) >= 1.0:
            m += 1.0
    return m


@njit(cache=True)
def stochastic_round(x, key, index):
    """Stochastic rounding of x (LSBs, clamped to +-2^20) for synapse ``index`` under the step key:
    floor(x + u), u = (c + r) / 2^16 uniform on [0, 1) — c = coarse_part(key, index), r a 53-bit
    fine draw read only when c leaves the result open (1 synapse in 65536). E[result] = x, and a
    row needs one 64-bit draw per 4 synapses. The scalar definition; ``update_row`` computes the
    same numbers a row at a time."""
    return _resolve(_coarse_code(x, coarse_part(key, index)), x, key, index)


@njit(cache=True, inline="always")
def round_lsb(x, mode):
    """Round a float update (LSBs) to an integer-valued float, ``nearest`` or ``floor``
    (stochastic: ``stochastic_round``). Zero stays zero, so untouched synapses never move.
    (np.floor: math.floor would return an int in numba, a float-int round trip per synapse.)"""
    if mode == NEAREST:
        return np.floor(x + 0.5)
    return np.floor(x)


@njit(cache=True, inline="always")
def weight_change(g, lr, mode, is_int, key, index):
    """The change of synapse ``index`` (pre * n_post + post) for gradient g: -lr * g, rounded to
    whole LSBs on the int chip (``stochastic_round`` under ``key``), exact on the float twin."""
    x = -lr * g
    if not is_int:
        return x
    if mode == STOCHASTIC:
        return stochastic_round(x, key, index)
    return round_lsb(x, mode)


@njit(cache=True, inline="always")
def apply_change(wT, j, i, d, lo, hi):
    """W[j, i] = clip(W[j, i] + d, lo, hi) — saturating, never wrapping; returns the change of the
    row's non-zero count (the effective fan-out the forward pass counts as SOPs)."""
    old = wT[j, i]
    new = min(max(old + d, lo), hi)
    wT[j, i] = new
    return int(new != 0) - int(old != 0)


@njit(cache=True, inline="always")
def row_scratch(n_post):
    """Scratch of one thread for update_row: (words, coarse, code, d)."""
    return (np.empty(n_post // 4 + 2, dtype=np.uint64), np.empty(n_post, dtype=np.int64),
            np.empty(n_post, dtype=np.int64), np.empty(n_post))


@njit(cache=True, inline="always")
def _code_block(g, coarse, code, k0, k1, lr):
    """Coarse codes of synapses k0..k1-1 (branch-free, vectorises); returns (reads, non-zero codes).
    (Slices: indices from 0 are provably non-negative, so numba's negative-index wraparound
    vanishes and the loads stay contiguous instead of becoming gathers.)"""
    gs, cs, vs = g[k0:k1], coarse[k0:k1], code[k0:k1]
    r = np.int32(0)
    f = np.int32(0)
    for k in range(gs.shape[0]):
        gk = gs[k]
        v = _coarse_code(-lr * gk, cs[k])
        vs[k] = v
        r += np.int32(1) if gk != 0.0 else np.int32(0)
        f += np.int32(1) if v != 0 else np.int32(0)
    return r, f


@njit(cache=True, inline="always")
def _change_block(g, d, k0, k1, lr, mode, is_int):
    """Changes of synapses k0..k1-1 without stochastic rounding; returns (reads, non-zero changes)."""
    gs, ds = g[k0:k1], d[k0:k1]
    r = np.int32(0)
    f = np.int32(0)
    for k in range(gs.shape[0]):
        gk = gs[k]
        x = -lr * gk
        dk = round_lsb(x, mode) if is_int else x
        ds[k] = dk
        r += np.int32(1) if gk != 0.0 else np.int32(0)
        f += np.int32(1) if dk != 0.0 else np.int32(0)
    return r, f


@njit(cache=True, inline="always")
def _write_block(wT, j, g, idx, code, d, k0, k1, lr, key, base, lo, hi, stochastic):
    """Write the non-zero changes of block k0..k1-1 (stochastic: resolve the codes, reading the
    fine draw of open ones; else the changes in d); returns (writes, change of the non-zero count)."""
    writes = 0
    dn = 0
    for k in range(k0, k1):
        if stochastic:
            dk = _resolve(code[k], -lr * g[k], key, base + idx[k]) if code[k] != 0 else 0.0
        else:
            dk = d[k]
        if dk != 0.0:
            writes += 1
            dn += apply_change(wT, j, idx[k], dk, lo, hi)
    return writes, dn


@njit(cache=True)
def update_row(wT, nnz_row, j, g, idx, n, dense, lr, mode, lo, hi, is_int, key, words, coarse, code, d, tally):
    """Update synapses (pre j, post idx[k]) with gradients g[k], k < n, and keep row j's non-zero
    count; tally reads (g != 0) in tally[0] and writes (non-zero change) in tally[1]. ``dense``:
    the row is whole, idx = arange(n_post) (a zero gradient rounds to a zero change in every mode).

    Same numbers as ``weight_change`` per synapse, computed for speed: blocks of _CHUNK synapses
    go through a branch-free pass that vectorises, and only blocks with a non-zero (or, for
    stochastic rounding, open) change are revisited to write the weights — most rounded updates
    are zero. Stochastic rounding fills ``words`` with the row's splitmix64 draws (one per 4
    synapses) and reads each synapse's coarse 16-bit part from them."""
    n_post = wT.shape[1]
    base = j * n_post
    n_read = 0
    n_write = 0
    dn = 0
    stochastic = is_int and mode == STOCHASTIC
    if stochastic:
        if dense:     # the row's draws in one vectorised pass, read back as 16-bit words
            b0 = base >> 2
            for b in range(((base + n_post - 1) >> 2) - b0 + 1):
                words[b] = splitmix_at(key, b0 + b)
            off = base & 3
            parts = words.view(np.uint16)[off:off + n]
            for k in range(n):
                coarse[k] = parts[k]
        else:         # a few scattered synapses: each its own draw
            for k in range(n):
                coarse[k] = coarse_part(key, base + idx[k])
    if stochastic:
        for c0 in range(0, n, _CHUNK):
            c1 = min(c0 + _CHUNK, n)
            r, f = _code_block(g, coarse, code, c0, c1, lr)
            n_read += r
            if f:
                w, dnz = _write_block(wT, j, g, idx, code, d, c0, c1, lr, key, base, lo, hi, True)
                n_write += w
                dn += dnz
    else:
        for c0 in range(0, n, _CHUNK):
            c1 = min(c0 + _CHUNK, n)
            r, f = _change_block(g, d, c0, c1, lr, mode, is_int)
            n_read += r
            if f:
                w, dnz = _write_block(wT, j, g, idx, code, d, c0, c1, lr, key, base, lo, hi, False)
                n_write += w
                dn += dnz
    nnz_row[j] += dn
    tally[0] += n_read
    tally[1] += n_write


@njit(cache=True)
def _row_gradient(j, line_ptr, ev_step, du, nz_ptr, nz_idx, nz_val, dense_step, iota, acc, seen, touched, gbuf,
                  dacc):
    """Gradient row j (presynaptic line j) over its events: sum over the line's event steps t of
    the non-zero errors delta_u[t, :]. Returns (g, idx, n, dense): the gradient g[k] of post
    neuron idx[k], k < n; dense: the whole row (idx = iota). Sparse rows merge the steps' error
    lists branch-free (work = pairs; ``acc`` and ``seen`` are all zero between rows); a row whose pairs reach half the row is accumulated whole
    in ``dacc`` — a step with many errors as one vector add of du[t] — and returned over all
    n_post neurons (zeros included)."""
    n_post = du.shape[1]
    a, b = line_ptr[j], line_ptr[j + 1]
    pairs = 0
    for e in range(a, b):
        pairs += nz_ptr[ev_step[e] + 1] - nz_ptr[ev_step[e]]
    if pairs == 0:
        return gbuf, iota, 0, False
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
        return dacc, iota, n_post, True
    if b - a == 1:
        t = ev_step[a]
        lo_q, hi_q = nz_ptr[t], nz_ptr[t + 1]
        return nz_val[lo_q:hi_q], nz_idx[lo_q:hi_q], hi_q - lo_q, False
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
    return gbuf, touched, n_t, False


@njit(cache=True, parallel=True)
def sparse_update(step_ptr, lines, du, wT, nnz_row, grad_out, lr, mode, lo, hi, is_int, apply, counts, layer,
                  key, n_threads):
    """MPD-ED: dL/dW on (event, non-zero error) pairs, then the update of the touched synapses.

    The neurons with a non-zero error at each step are listed once (CSR); events are grouped by
    presynaptic line j, and row j of the gradient is formed from the lists of the steps at which
    j spiked (``_row_gradient``): work O(pairs + touched synapses), and no row is visited
    without an event, so it is bounded by input events x n_post (the paper's zeta_i*M*N*T),
    never n_pre x n_post x T. Rows are independent (the stochastic rounding is counter-based),
    so they are split over ``n_threads`` chunks (numba.get_num_threads(), passed in: calling it
    inside would keep the kernel out of numba's cache); the result does not depend on it.
    ``grad_out`` (n_pre, n_post) receives the gradient rows when not ``apply``.
    Counted: the pairs (events at t x non-zero errors at t), reads, writes, skips.
    """
    T, n_post = du.shape
    n_pre = wT.shape[0]
    # neurons with a non-zero error, per step (CSR; branch-free compaction)
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
        nz_ptr[t + 1] = m
        dense_step[t] = 8 * (m - nz_ptr[t]) >= n_post     # cheaper as one vector add of du[t]
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
    active = np.flatnonzero(line_ptr[1:] > line_ptr[:-1])
    n_active = active.shape[0]
    n_chunks = max(1, min(n_threads, n_active // 64))
    iota = np.arange(n_post, dtype=np.uint32)
    tally = np.zeros((n_chunks, 2), dtype=np.int64)   # weight reads, weight writes
    for c in prange(n_chunks):
        acc = np.zeros(n_post)
        seen = np.zeros(n_post, dtype=np.uint8)
        touched = np.empty(n_post + 1, dtype=np.uint32)
        gbuf = np.empty(n_post)
        dacc = np.empty(n_post)
        words, coarse, code, d = row_scratch(n_post)
        tc = np.zeros(2, dtype=np.int64)
        for a in range(c, n_active, n_chunks):
            j = active[a]
            g, idx, n, dense = _row_gradient(j, line_ptr, ev_step, du, nz_ptr, nz_idx, nz_val, dense_step, iota, acc,
                                             seen, touched, gbuf, dacc)
            if n == 0:
                continue
            if apply:
                update_row(wT, nnz_row, j, g, idx, n, dense, lr, mode, lo, hi, is_int, key, words, coarse, code, d,
                           tc)
            else:
                for k in range(n):
                    grad_out[j, idx[k]] = g[k]
        tally[c] = tc
    reads = tally[:, 0].sum()
    writes = tally[:, 1].sum()
    counts[layer, C_WGRAD] += wgrad
    counts[layer, C_W_READS] += reads
    counts[layer, C_W_WRITES] += writes
    counts[layer, C_UPD_SKIPPED] += reads - writes


@njit(cache=True, parallel=True)
def dense_update(G, wT, nnz_row, lr, mode, lo, hi, is_int, counts, layer, key, n_threads):
    """STBP: update every synapse from the dense gradient G (n_pre, n_post); every synapse is read.
    Rows are split over the numba threads as in ``sparse_update``."""
    n_pre, n_post = G.shape
    n_chunks = max(1, min(n_threads, n_pre // 64))
    iota = np.arange(n_post, dtype=np.uint32)
    writes = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        words, coarse, code, d = row_scratch(n_post)
        tc = np.zeros(2, dtype=np.int64)
        for j in range(c, n_pre, n_chunks):
            update_row(wT, nnz_row, j, G[j], iota, n_post, True, lr, mode, lo, hi, is_int, key, words, coarse, code,
                       d, tc)
        writes[c] = tc[1]
    counts[layer, C_W_READS] += n_pre * n_post
    counts[layer, C_W_WRITES] += writes.sum()
    counts[layer, C_UPD_SKIPPED] += n_pre * n_post - writes.sum()


def gradient_rows(si, du: np.ndarray, n_pre: int, n_threads: int) -> np.ndarray:
    """dL/dW (n_pre, n_post) = sum over the events (t, j) of du[t] into row j, exactly the sums
    ``sparse_update`` forms — the dense rule's gradient without a BLAS call, whose own threads
    would compete with the numba workers still spinning after a parallel update."""
    G = np.zeros((n_pre, du.shape[1]))
    no_weights = np.zeros((n_pre, 0), dtype=np.int16)     # not applying: only n_pre is read
    sparse_update(si.step_ptr, si.lines, du, no_weights, np.zeros(n_pre, np.int64), G, 0.0, NEAREST, 0.0, 0.0,
                  True, False, new_counts(), 0, 0, n_threads)
    return G


def dense_counts(du: np.ndarray, n_pre: int) -> int:
    """Weight-gradient accumulates of a dense rule: T x n_post x n_pre."""
    return du.shape[0] * du.shape[1] * n_pre
