"""Numba hot loops of the chip, shared by both precisions and by both learning rules.

``forward`` runs one sample through the two layers event by event: each presynaptic spike reads
one row of the transposed weight matrix (pre, post) and adds it into a wide accumulator; then
every neuron of the layer does reset/leak, integrate, aux boost, saturate-once and fire (the
five steps of DESIGN.md). Work is proportional to events x fan-out plus neurons x T.

The same source compiles for the integer chip (int8/int16 weights, int16 partial sums widened
into an int32 accumulator, int64 state, saturating) and the float twin (float64 everything,
v_lo/v_hi = -inf/+inf): the leak and saturate overloads in :mod:`anp_emu.chip.arithmetic` pick the
arithmetic from the types.

``aft_ideal`` switches step 3 from the aux boost (the chip) to the ideal AFT-LIF threshold of
Wei et al. Eq. 16: a neuron silent at t-1 lowers its threshold by alpha = w_aux (same LSB units;
never below 0), a neuron that fired gets theta back; no aux boost is added then.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .arithmetic import leak, saturate
from .bits import lowest_bit
from .counters import (C_INPUT_EVENTS, C_NEURON_UPDATES, C_SATURATIONS, C_SOP_AUX, C_SOP_DENSE,
                       C_SOP_EFFECTIVE, C_SPIKES)


@njit(cache=True, inline="always")
def spike_lines(s, out):
    """The indices of the non-zero entries of a 0/1 uint8 row into ``out``; returns their number.
    Eight entries at a time: a zero word is skipped whole (most are, at a few % activity)."""
    n = s.shape[0]
    n8 = n - n % 8
    words = s[:n8].view(np.uint64)
    k = 0
    for q in range(words.shape[0]):
        word = words[q]
        while word:
            out[k] = 8 * q + lowest_bit(word) // 8
            k += 1
            word &= word - np.uint64(1)
    for i in range(n8, n):
        if s[i]:
            out[k] = i
            k += 1
    return k


@njit(cache=True)
def layer_step(pre_idx, n_pre, wT, nnz_row, acc, part, group, v, th, s_prev, s_now, post_idx, theta, w_aux,
               aft_ideal, leak_shift, v_lo, v_hi, counts, layer):
    """One time step of one layer. Returns the number of spikes; their indices in post_idx.

    pre_idx[:n_pre]  indices of presynaptic spikes at this step
    wT (n_pre_total, n_post)  transposed weights; nnz_row[j] non-zeros of row j
    acc (n_post,)    wide accumulator (scratch); v (n_post,) membrane, updated in place
    part (n_post,)   partial sums of ``group`` rows at a time (scratch), widened into acc
                     (``arithmetic.partial_sum_group``: exact; float twin: one group)
    th (n_post,)     firing threshold of each neuron (theta, or the ideal AFT state)
    s_prev, s_now (n_post,) uint8 spikes of step t-1 and t
    """
    n_post = v.shape[0]
    acc[:] = 0
    sop_eff = 0
    for g0 in range(0, n_pre, group):
        g1 = min(g0 + group, n_pre)
        part[:] = 0
        e = g0
        while e + 4 <= g1:                     # four rows per pass over part; same addition order
            j0, j1, j2, j3 = pre_idx[e], pre_idx[e + 1], pre_idx[e + 2], pre_idx[e + 3]
            r0, r1, r2, r3 = wT[j0], wT[j1], wT[j2], wT[j3]
            for i in range(n_post):
                part[i] = part[i] + r0[i] + r1[i] + r2[i] + r3[i]
            sop_eff += nnz_row[j0] + nnz_row[j1] + nnz_row[j2] + nnz_row[j3]
            e += 4
        while e < g1:
            j = pre_idx[e]
            row = wT[j]
            for i in range(n_post):
                part[i] += row[i]
            sop_eff += nnz_row[j]
            e += 1
        for i in range(n_post):
            acc[i] += part[i]
    counts[layer, C_SOP_EFFECTIVE] += sop_eff
    counts[layer, C_INPUT_EVENTS] += n_pre
    counts[layer, C_SOP_DENSE] += n_pre * n_post
    if aft_ideal:                              # 3'. ideal AFT: threshold decays by alpha
        for i in range(n_post):
            th[i] = theta if s_prev[i] != 0 else max(th[i] - w_aux, th[i] * 0)
    boost = w_aux * 0 if aft_ideal else w_aux  # 3. aux boost (the chip)
    n_silent = 0
    n_sat = 0
    n_spk = 0
    for i in range(n_post):                    # branch-free, so the compiler vectorises it
        fired_before = s_prev[i] != 0
        vi = (v[i] * 0 if fired_before else leak(v[i], leak_shift)) + acc[i]   # 1. reset/leak, 2. integrate
        vi = vi + (boost * 0 if fired_before else boost)                        # 3. aux boost
        n_silent += not fired_before
        vi, clipped = saturate(vi, v_lo, v_hi)                                  # 4. saturate once
        n_sat += clipped
        v[i] = vi
        fire = vi >= th[i]                                                      # 5. fire
        s_now[i] = fire
        n_spk += fire
    if n_spk:
        spike_lines(s_now, post_idx)
    n_aux = n_silent if boost != 0 else 0
    counts[layer, C_SOP_AUX] += n_aux
    counts[layer, C_NEURON_UPDATES] += n_post
    counts[layer, C_SPIKES] += n_spk
    counts[layer, C_SATURATIONS] += n_sat
    return n_spk


@njit(cache=True)
def forward(step_ptr, lines, wT_hid, wT_out, nnz_hid, nnz_out, theta_hid, theta_out, aux_hid,
            aux_out, aft_ideal, leak_shift, v_lo, v_hi, v_hid, v_out, acc_hid, acc_out, part_hid, part_out,
            group_hid, group_out, s_hid, s_out,
            hid_ptr, hid_lines, v_hid_rec, v_out_rec, th_hid_rec, th_out_rec, record, counts):
    """Run T steps. s_hid (T, n_hid), s_out (T, n_out) uint8 are filled, and the hidden spikes as
    events (the output layer's input, in SpikeInput's CSR form): hid_ptr (T + 1) and
    hid_lines[:hid_ptr[T]] (room for T * n_hid); v_*_rec and th_*_rec (T, n) when ``record``
    (membrane and threshold at the fire decision). v_hid/v_out hold the state (start at 0)."""
    T = step_ptr.shape[0] - 1
    n_hid = v_hid.shape[0]
    n_out = v_out.shape[0]
    out_idx = np.empty(n_out, dtype=np.int32)
    zero_h = np.zeros(n_hid, dtype=np.uint8)
    zero_o = np.zeros(n_out, dtype=np.uint8)
    th_hid = np.full(n_hid, theta_hid, dtype=v_hid.dtype)
    th_out = np.full(n_out, theta_out, dtype=v_out.dtype)
    hid_ptr[0] = 0
    for t in range(T):
        a = step_ptr[t]
        sp_h = zero_h if t == 0 else s_hid[t - 1]
        sp_o = zero_o if t == 0 else s_out[t - 1]
        h = hid_ptr[t]
        n_spk = layer_step(lines[a:step_ptr[t + 1]], step_ptr[t + 1] - a, wT_hid, nnz_hid, acc_hid, part_hid,
                           group_hid, v_hid, th_hid, sp_h, s_hid[t], hid_lines[h:], theta_hid, aux_hid,
                           aft_ideal, leak_shift, v_lo, v_hi, counts, 0)
        hid_ptr[t + 1] = h + n_spk
        layer_step(hid_lines[h:], n_spk, wT_out, nnz_out, acc_out, part_out, group_out, v_out, th_out, sp_o,
                   s_out[t], out_idx, theta_out, aux_out, aft_ideal, leak_shift, v_lo, v_hi, counts, 1)
        if record:
            v_hid_rec[t] = v_hid
            v_out_rec[t] = v_out
            th_hid_rec[t] = th_hid
            th_out_rec[t] = th_out


@njit(cache=True)
def spike_counts(s):
    """Spikes per neuron of a (T, n) 0/1 raster, int64 (n,)."""
    counts = np.zeros(s.shape[1], dtype=np.int64)
    for t in range(s.shape[0]):
        for k in range(s.shape[1]):
            counts[k] += s[t, k]
    return counts


@njit(cache=True)
def predict_class(s_out, v_out):
    """The class with the most output spikes; ties go to the larger membrane summed over the steps
    of ``v_out`` (T, n) — pass (0, n) when not recorded — then to the lower index."""
    counts = spike_counts(s_out)
    v_sum = np.zeros(counts.shape[0], dtype=v_out.dtype)
    for t in range(v_out.shape[0]):
        for k in range(v_out.shape[1]):
            v_sum[k] += v_out[t, k]
    best = 0
    for k in range(1, counts.shape[0]):
        if counts[k] > counts[best] or (counts[k] == counts[best] and v_sum[k] > v_sum[best]):
            best = k
    return best