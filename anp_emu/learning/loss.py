"""Losses and their gradients with respect to the output layer (float64), in numba (one sample
is ten classes: numpy's per-call overhead would cost more than the arithmetic).

- ``ce`` (default): cross-entropy of softmax over output spike counts, logits
  z_k = gain * count_k / T. dL/ds_out[t, k] = (p_k - y_k) * gain / T at every step.
- ``tet``: TET (Deng et al. 2022), the mean over steps of the cross-entropy of softmax over the
  output potentials, logits z_k[t] = gain * v_out[t, k] / theta_out. Its gradient enters the
  potentials directly: dL/du_out[t, k] = (p_k[t] - y_k) * gain / (T * theta_out).
- ``tet`` with its MSE regulariser (``tet_mse_loss``, Deng et al. 2022 Eq. 11-12 and their code:
  ``(1 - lamb) * L_TET + lamb * MSELoss(outputs, means)`` with means = phi = 1, lamb = 1e-3):
  L = (1 - lambda) L_TET + lambda / (T n_out) sum_t,k (z_k[t] - 1)^2 on the same logits, so
  dL/du_out[t, k] = (1 - lambda) dL_TET/du + lambda * 2 (z_k[t] - 1) * gain / (T n_out theta_out).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..chip.kernels import spike_counts

_P_FLOOR = 1e-300                # log(p) of a vanishing class probability stays finite


@njit(cache=True, inline="always")
def _softmax_into(z, p):
    """p = softmax(z) (1-D)."""
    top = z.max()
    for k in range(z.shape[0]):
        p[k] = np.exp(z[k] - top)
    p /= p.sum()


@njit(cache=True)
def ce_count_loss(s_out, label, gain):
    """(loss, dL/ds_out (T, n_out))."""
    T, n = s_out.shape
    counts = spike_counts(s_out)
    z = np.empty(n)
    for k in range(n):
        z[k] = gain * counts[k] / T
    p = np.empty(n)
    _softmax_into(z, p)
    loss = -np.log(max(p[label], _P_FLOOR))
    p[label] -= 1.0
    g = np.empty((T, n))
    for t in range(T):
        for k in range(n):
            g[t, k] = p[k] * (gain / T)
    return loss, g


@njit(cache=True)
def tet_loss(v_out, label, gain, theta_out):
    """(loss, dL/du_out (T, n_out))."""
    T, n = v_out.shape
    g = np.empty((T, n))
    z = np.empty(n)
    loss = 0.0
    for t in range(T):
        for k in range(n):
            z[k] = gain * float(v_out[t, k]) / theta_out
        p = g[t]
        _softmax_into(z, p)
        loss += np.log(max(p[label], _P_FLOOR))
        p[label] -= 1.0
        for k in range(n):
            p[k] *= gain / (T * theta_out)
    return -loss / T, g


@njit(cache=True)
def tet_mse_loss(v_out, label, gain, theta_out, lam):
    """(loss, dL/du_out (T, n_out)) of (1 - lam) TET + lam MSE(logits, 1)."""
    T, n = v_out.shape
    loss, g = tet_loss(v_out, label, gain, theta_out)
    mse = 0.0
    for t in range(T):
        for k in range(n):
            z = gain * float(v_out[t, k]) / theta_out
            mse += (z - 1.0) ** 2
            g[t, k] = (1.0 - lam) * g[t, k] + lam * 2.0 * (z - 1.0) * gain / (T * n * theta_out)
    return (1.0 - lam) * loss + lam * mse / (T * n), g
