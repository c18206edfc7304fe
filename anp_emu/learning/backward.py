"""The backward pass through time, one numba kernel for both rules (``masked`` selects MPD-ED).

Float64 errors (delta_x = dL/dx) on the recorded forward traces, for both the int chip and the
float twin (the chip's error precision is an emulator choice: errors are not quantised; only the
weight update is). With v[t] the potential and th[t] the threshold at the fire decision of step
t, tau = 1 - 2^-leak_shift and a = w_aux (0 with the ideal AFT):

    delta_s[t] = W_next^T delta_u_next[t]  [+ loss]  [- (tau*v[t] + a) * delta_u[t+1]   reset path]
    e[t]       = delta_s[t] * f(v[t] - th[t])            the error entering the neuron at step t
    delta_u[t] = e[t]  [+ tau * (1 - s[t]) * delta_u[t+1]   temporal path, full recursion]

The temporal path has three settings (``window``):
  -1  full recursion (the reference BPTT above, DESIGN.md);
   0  off: delta_u[t] = e[t];
   K  windowed: delta_u[t] = sum_{k=0..K} e[t+k] * prod_{m<k} tau * (1 - s[t+m]) — the entered error
      is carried back at most K steps. K = 1 is Wei et al. Eq. 21 as printed:
      dL/du[t] = dL/ds[t] ds[t]/du[t] + dL/ds[t+1] ds[t+1]/du[t+1] du[t+1]/du[t].
      With the masked surrogate, delta_u is then non-zero only at spikes and the K steps before
      them, so the weight-gradient work stays proportional to spike counts.

Counters (Wei et al. Table II; M inputs, N neurons of a layer, zeta activities):
  bwd_intra_ops   intra-neuron BP. Full recursion: one per (neuron, step), N*T, both rules.
                  Otherwise one per surrogate evaluation that carries error (every (neuron, step)
                  for STBP, the spike steps for MPD-ED) plus one per windowed temporal term
                  formed (MPD-ED: only terms with a non-zero entered error)
  bwd_spike_ops   spike-induced (reset-path) BP: N*T for STBP, zeta_o*N*T for MPD-ED
  bwd_inter_ops   inter-neuron BP through the layer's synapses, counted at the layer that owns the
                  synapses: the output layer counts the loss error it takes in plus the error MACs
                  W_out^T delta_u_out sent to the hidden layer (STBP: n_hid*n_out*T; MPD-ED: one
                  per hidden spike and non-zero output error); the hidden layer sends no error
                  further (its inputs are the chip's input lines)
The weight-gradient accumulates (the zeta_i*M*N*T term) are counted where the gradient is formed.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..chip.counters import C_BWD_INTER, C_BWD_INTRA, C_BWD_SPIKE
from .surrogate import surrogate

FULL_RECURSION = -1


@njit(cache=True)
def _carry(du, e, s, t, tau, window, masked):
    """Row t of delta_u from the entered errors e and the later rows; returns the intra ops."""
    T, n = e.shape
    if window == FULL_RECURSION:
        if t + 1 < T:
            for i in range(n):
                du[t, i] = e[t, i] + (tau * du[t + 1, i] if s[t, i] == 0 else 0.0)
        else:
            du[t] = e[t]
        return n
    ops = 0
    for i in range(n):
        val = e[t, i]
        p = 1.0
        for k in range(1, min(window, T - 1 - t) + 1):
            if s[t + k - 1, i] != 0:
                break
            p *= tau
            x = e[t + k, i]
            if x != 0.0 or not masked:
                val += p * x
                ops += 1
        du[t, i] = val
    return ops


@njit(cache=True)
def backward(s_hid, v_hid, th_hid, hid_ptr, hid_lines, s_out, v_out, th_out, wT_out, aux_hid, aux_out, tau,
             g_s_out, g_u_out, masked, shape, width_hid, width_out, window, reset, du_hid, du_out, counts):
    """Fill du_hid (T, n_hid) and du_out (T, n_out) = dL/du; count the backward operations.

    hid_ptr, hid_lines: the hidden spikes as events (``RunResult.hid_events``). Masked, the
    surrogate is non-zero only where v >= theta, which is where the neuron fired: the hidden
    layer's error enters only at those events, so the kernel visits them, not every (t, i).
    g_s_out (T, n_out): loss gradient w.r.t. output spikes; g_u_out: w.r.t. output potentials (TET).
    wT_out (n_hid, n_out): the output weights as the chip holds them (pre, post).
    ``window``: -1 full temporal recursion, 0 no temporal path, K >= 1 carried back K steps.
    """
    T, n_hid = s_hid.shape
    n_out = s_out.shape[1]
    nnz_out = np.zeros(T, dtype=np.int64)
    e_out = np.zeros((T, n_out))
    e_hid = np.zeros((T, n_hid))
    intra = 0
    inter = 0
    spike = 0
    # ---- output layer
    for t in range(T - 1, -1, -1):
        for k in range(n_out):
            nxt = du_out[t + 1, k] if t + 1 < T else 0.0
            f = surrogate(float(v_out[t, k] - th_out[t, k]), masked, shape, width_out)
            e = g_u_out[t, k]
            if g_u_out[t, k] != 0.0:
                inter += 1
            if f != 0.0 or not masked:
                ds = g_s_out[t, k]
                inter += 1
                if reset:
                    ds -= (tau * v_out[t, k] + aux_out) * nxt
                    spike += 1
                e += ds * f
                if window != FULL_RECURSION:
                    intra += 1
            e_out[t, k] = e
        intra += _carry(du_out, e_out, s_out, t, tau, window, masked)
        for k in range(n_out):
            nnz_out[t] += du_out[t, k] != 0.0
    counts[1, C_BWD_INTRA] += intra
    counts[1, C_BWD_SPIKE] += spike
    # ---- hidden layer: error arrives through the output synapses
    intra = 0
    spike = 0
    for t in range(T - 1, -1, -1):
        h = hid_ptr[t]
        for q in range(hid_ptr[t + 1] - h if masked else n_hid):
            i = hid_lines[h + q] if masked else q
            nxt = du_hid[t + 1, i] if t + 1 < T else 0.0
            f = surrogate(float(v_hid[t, i] - th_hid[t, i]), masked, shape, width_hid)
            if f != 0.0:
                ds = 0.0
                for k in range(n_out):
                    e = du_out[t, k]
                    if e != 0.0:
                        ds += wT_out[i, k] * e
                if reset:
                    ds -= (tau * v_hid[t, i] + aux_hid) * nxt
                e_hid[t, i] = ds * f
            if f != 0.0 or not masked:
                inter += nnz_out[t] if masked else n_out
                if reset:
                    spike += 1
                if window != FULL_RECURSION:
                    intra += 1
        intra += _carry(du_hid, e_hid, s_hid, t, tau, window, masked)
    counts[0, C_BWD_INTRA] += intra
    counts[0, C_BWD_SPIKE] += spike
    counts[1, C_BWD_INTER] += inter
