"""The backward pass through time, one numba kernel for both rules (``masked`` selects MPD-ED).

Float64 errors (delta_x = dL/dx) on the recorded forward traces, for both the int chip and the
float twin (the chip's error precision is an emulator choice: errors are not quantised; only the
weight update is). With v[t] the potential and th[t] the threshold at the fire decision of step
t, tau = 1 - 2^-leak_shift and a = w_aux (0 with the ideal AFT):

    delta_s[t] = W_next^T delta_u_next[t]  [+ loss]  [- (tau*v[t] + a) * delta_u[t+1]   reset path]
    delta_u[t] = delta_s[t] * f(v[t] - th[t])  [+ tau * (1 - s[t]) * delta_u[t+1]   temporal path]

Counters (Wei et al. Table II; M inputs, N neurons of a layer, zeta activities):
  bwd_intra_ops   intra-neuron BP, one per (neuron, step) visited: N*T (both rules with the
                  temporal path; without it MPD-ED visits only the spike steps)
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

from ..counters import C_BWD_INTER, C_BWD_INTRA, C_BWD_SPIKE
from .surrogate import surrogate


@njit(cache=True)
def backward(s_hid, v_hid, th_hid, s_out, v_out, th_out, wT_out, aux_hid, aux_out, tau, g_s_out, g_u_out,
             masked, shape, width_hid, width_out, temporal, reset, du_hid, du_out, counts):
    """Fill du_hid (T, n_hid) and du_out (T, n_out) = dL/du; count the backward operations.

    g_s_out (T, n_out): loss gradient w.r.t. output spikes; g_u_out: w.r.t. output potentials (TET).
    wT_out (n_hid, n_out): the output weights as the chip holds them (pre, post).
    """
    T, n_hid = s_hid.shape
    n_out = s_out.shape[1]
    nnz_out = np.zeros(T, dtype=np.int64)
    intra = 0
    inter = 0
    spike = 0
    # ---- output layer
    for t in range(T - 1, -1, -1):
        for k in range(n_out):
            nxt = du_out[t + 1, k] if t + 1 < T else 0.0
            f = surrogate(float(v_out[t, k] - th_out[t, k]), masked, shape, width_out)
            du = g_u_out[t, k]
            if g_u_out[t, k] != 0.0:
                inter += 1
            if f != 0.0 or not masked:
                ds = g_s_out[t, k]
                inter += 1
                if reset:
                    ds -= (tau * v_out[t, k] + aux_out) * nxt
                    spike += 1
                du += ds * f
            if temporal:
                intra += 1
                if s_out[t, k] == 0:
                    du += tau * nxt
            elif f != 0.0 or not masked:
                intra += 1
            du_out[t, k] = du
            if du != 0.0:
                nnz_out[t] += 1
    counts[1, C_BWD_INTRA] += intra
    counts[1, C_BWD_SPIKE] += spike
    # ---- hidden layer: error arrives through the output synapses
    intra = 0
    spike = 0
    for t in range(T - 1, -1, -1):
        for i in range(n_hid):
            nxt = du_hid[t + 1, i] if t + 1 < T else 0.0
            f = surrogate(float(v_hid[t, i] - th_hid[t, i]), masked, shape, width_hid)
            du = 0.0
            if f != 0.0:
                ds = 0.0
                for k in range(n_out):
                    e = du_out[t, k]
                    if e != 0.0:
                        ds += wT_out[i, k] * e
                if reset:
                    ds -= (tau * v_hid[t, i] + aux_hid) * nxt
                du = ds * f
            if masked:
                if f != 0.0:
                    inter += nnz_out[t]
                    if reset:
                        spike += 1
            else:
                inter += n_out
                if reset:
                    spike += 1
            if temporal:
                intra += 1
                if s_hid[t, i] == 0:
                    du += tau * nxt
            elif f != 0.0 or not masked:
                intra += 1
            du_hid[t, i] = du
    counts[0, C_BWD_INTRA] += intra
    counts[0, C_BWD_SPIKE] += spike
    counts[1, C_BWD_INTER] += inter
