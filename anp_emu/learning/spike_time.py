"""Spike-timing backward pass shared by STD-ED (Wei et al. 2024, Sec. IV-A) and the event-driven
BP of Zhu et al. 2022 (``ebp``, supplement S14-S21), in numba.

Both rules differentiate the loss with respect to spike *times* and carry error only at spikes.
For post neuron i and its k-th spike at step t_k, the contributing set C_k holds the input events
at steps t_last < t_m <= t_k (t_last: the neuron's previous spike, 0 before the first; on the chip a
neuron that fired at t-1 is reset at the start of t and integrates the inputs of t, so an input at
t_k counts and one at t_last does not: the discrete form of Eq. 7 / S19 "t_k,next >= t_m").
With h the backward kernel and eps the forward kernel (per-step factors, STD-ED: both 1):

    D_k        = max( sum_{(j, t_m) in C_k} w_ij * h(t_k - t_m),  min_slope * theta0 )   (Eq. 12 / S2 with h)
    a_k        = (dL/dt_k) / D_k
    dL/dt_jm  += w_ij * h(t_k - t_m) * a_k        for every input spike (j, t_m) in C_k  (Eq. 10-11 / S18)
    dL/dw_ij   = - sum_k a_k * sum_{t_m in C_k, of j} eps(t_k - t_m)                       (Eq. 14 / S19)

(dt_k/dt_jm = dt/du * du/dt_jm = (-1/D_k) * (-w_ij h) = w_ij h / D_k.) The weight gradient is written
as an error per (step, neuron), ``du[t_m, i] = -a_k * eps(t_k - t_m)`` for t_m in C_k (zero after a
neuron's last spike and for neurons that never fire), so that dL/dW[i, j] = sum_t du[t, i] x_j[t] —
exactly the form the shared weight-gradient kernel and the integer update of ``update`` read.

Since I_i[t] = sum_j w_ij x_j[t] is the layer's input current, D_k = sum_{m in (t_last, t_k]} h^(t_k-m)
I_i[m]: the kernel sums the recorded currents (exact on the int chip: integer sums; the aux synapse
is not an input of Eq. 12: the ideal AFT of Eq. 8 is a threshold, and leaving the emulating synapse
out gives the int chip and the float twin with the ideal AFT the same gradient).

Output layer: the spike-count loss (``loss``); every spike of output neuron k carries dL/dt_k.

Counters (Wei et al. Table II categories):
  bwd_inter_ops   output layer: one per output spike that takes in a non-zero loss error, plus one
                  error MAC per (hidden spike, output neuron with error at that step) sent down
  bwd_intra_ops   STD-ED: none. With the IF kernel D_k = sum_C w is the neuron's own membrane at
                  the spike (reset to 0, no leak; minus the aux boosts on the chip), read, not
                  computed. ebp: h != eps, so D_k is an extra accumulation: one per contributing
                  (input event, spike) pair, plus one kernel value per step of each interval
  bwd_spike_ops   none (no reset path in either rule)
The weight-gradient accumulates (event, non-zero du) are counted by ``update.sparse_update``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..chip.counters import C_BWD_INTER, C_BWD_INTRA


@njit(cache=True)
def input_currents(step_ptr, lines, wT, T):
    """I (T, n_post) float64: the summed weights of each step's presynaptic events (exact)."""
    n_post = wT.shape[1]
    cur = np.zeros((T, n_post))
    for t in range(T):
        for e in range(step_ptr[t], step_ptr[t + 1]):
            row = wT[lines[e]]
            for i in range(n_post):
                cur[t, i] += row[i]
    return cur


@njit(cache=True)
def spike_time_layer(s, cur, n_events, g_t, eps_decay, h_decay, floor, count_slope, du, r):
    """One layer's spike-timing backward (see the module docstring).

    s (T, n) uint8 spikes; cur (T, n) input currents; n_events (T,) input events per step;
    g_t (T, n) dL/dt at the spikes (zero elsewhere); eps_decay, h_decay: per-step factors of the
    forward and backward kernels; floor: the smallest slope D (LSB per step).
    Fills du (T, n) (the weight-gradient error) and r (T, n) = a_k h(t_k - t) (what a presynaptic
    spike at t receives, times w). Returns the intra-neuron ops (0 unless ``count_slope``)."""
    T, n = s.shape
    intra = 0
    for i in range(n):
        start = 0
        for t in range(T):
            if s[t, i] == 0:
                continue
            g = g_t[t, i]
            if g != 0.0:
                d = 0.0
                p = 1.0
                for m in range(t, start - 1, -1):
                    d += cur[m, i] * p
                    p *= h_decay
                    if count_slope:
                        intra += n_events[m] + 1
                a = g / max(d, floor)
                ph = 1.0
                pe = 1.0
                for m in range(t, start - 1, -1):
                    r[m, i] = a * ph
                    du[m, i] = -a * pe
                    ph *= h_decay
                    pe *= eps_decay
            start = t + 1
    return intra


@njit(cache=True)
def route_to_presynaptic(s_pre, r_post, wT):
    """dL/dt of each presynaptic spike (T, n_pre): sum_i w_ij r_post[t, i] where s_pre[t, j];
    returns (g, error MACs formed)."""
    T, n_pre = s_pre.shape
    n_post = r_post.shape[1]
    g = np.zeros((T, n_pre))
    macs = 0
    for t in range(T):
        for j in range(n_pre):
            if s_pre[t, j] == 0:
                continue
            acc = 0.0
            row = wT[j]
            for i in range(n_post):
                x = r_post[t, i]
                if x != 0.0:
                    acc += row[i] * x
                    macs += 1
            g[t, j] = acc
    return g, macs


@njit(cache=True)
def count_loss(s_out, label, target_count, other_count, enhanced):
    """Spike-count loss and dL/dt at every output spike (T, n_out).

    L = sum_k ((d_k - n_k) / T)^2 with d_k = target_count for the label, other_count otherwise
    (Zhu et al. S9 with batch size 1); dL/dt_k = 2 (d_k - n_k) / T^2 for each spike (S17, from
    d n / d t = -1, S10). ``enhanced`` (the count loss STD-ED uses, Wei et al. Sec. V-A after
    Zhu et al.): a target neuron above its count and a non-target neuron below its count are
    not penalised (their term and error are 0)."""
    T, n = s_out.shape
    g = np.zeros((T, n))
    loss = 0.0
    for k in range(n):
        cnt = 0
        for t in range(T):
            cnt += s_out[t, k]
        d = target_count if k == label else other_count
        diff = float(d - cnt)
        if enhanced and ((k == label and diff < 0.0) or (k != label and diff > 0.0)):
            diff = 0.0
        loss += (diff / T) ** 2
        if diff != 0.0:
            for t in range(T):
                if s_out[t, k]:
                    g[t, k] = 2.0 * diff / (T * T)
    return loss, g


def spike_time_backward(chip, si, r, label: int, settings, rule, counts, n_classes: int | None = None):
    """The spike-timing rules' backward pass on a recorded forward pass ``r`` of sample ``si``;
    the count loss covers output neurons 0..n_classes-1 (default all), the others get no error.

    Returns (loss, du_hid, du_out, dt_hid, dt_out): du as ``update`` reads it, dt = dL/dt at
    the spikes (the paper's dL/dS of Fig. 7d), all (T, n) float64."""
    T = si.T
    spec = chip.spec
    eps_decay = rule.eps_decay(spec)
    h_decay = rule.h_decay(settings)
    count_slope = rule.counts_slope
    K = spec.n_out if n_classes is None else int(n_classes)
    g_out = np.zeros((T, spec.n_out))
    loss, g_out[:, :K] = count_loss(np.ascontiguousarray(r.s_out[:, :K]), int(label), int(settings.target_count),
                                    int(settings.other_count), rule.enhanced_loss)
    hid = r.hid_events
    n_ev_in = np.diff(si.step_ptr)
    n_ev_hid = np.diff(hid.step_ptr)
    cur_out = input_currents(hid.step_ptr, hid.lines, chip.wT[1], T)
    du_out = np.zeros((T, spec.n_out))
    r_out = np.zeros((T, spec.n_out))
    floor = (float(settings.min_slope * chip.theta[0]), float(settings.min_slope * chip.theta[1]))
    intra_out = spike_time_layer(r.s_out, cur_out, n_ev_hid, g_out, eps_decay, h_decay, floor[1], count_slope,
                                 du_out, r_out)
    g_hid, macs = route_to_presynaptic(r.s_hid, r_out, chip.wT[1])
    cur_hid = input_currents(si.step_ptr, si.lines, chip.wT[0], T)
    du_hid = np.zeros((T, spec.n_hid))
    r_hid = np.zeros((T, spec.n_hid))
    intra_hid = spike_time_layer(r.s_hid, cur_hid, n_ev_in, g_hid, eps_decay, h_decay, floor[0], count_slope,
                                 du_hid, r_hid)
    counts[1, C_BWD_INTER] += int(np.count_nonzero(g_out)) + macs
    counts[1, C_BWD_INTRA] += intra_out
    counts[0, C_BWD_INTRA] += intra_hid
    return loss, du_hid, du_out, g_hid, g_out
