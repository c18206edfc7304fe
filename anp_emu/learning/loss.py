"""Losses and their gradients with respect to the output layer (float64).

- ``ce`` (default): cross-entropy of softmax over output spike counts, logits
  z_k = gain * count_k / T. dL/ds_out[t, k] = (p_k - y_k) * gain / T at every step.
- ``tet``: TET (Deng et al. 2022), the mean over steps of the cross-entropy of softmax over the
  output potentials, logits z_k[t] = gain * v_out[t, k] / theta_out. Its gradient enters the
  potentials directly: dL/du_out[t, k] = (p_k[t] - y_k) * gain / (T * theta_out).
"""
from __future__ import annotations

import numpy as np


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ce_count_loss(s_out: np.ndarray, label: int, gain: float) -> tuple[float, np.ndarray]:
    """(loss, dL/ds_out (T, n_out))."""
    T, n = s_out.shape
    z = gain * s_out.sum(axis=0, dtype=np.float64) / T
    p = _softmax(z)
    loss = float(-np.log(max(p[label], 1e-300)))
    g = p.copy()
    g[label] -= 1.0
    return loss, np.broadcast_to(g * (gain / T), (T, n)).copy()


def tet_loss(v_out: np.ndarray, label: int, gain: float, theta_out: float) -> tuple[float, np.ndarray]:
    """(loss, dL/du_out (T, n_out))."""
    T = v_out.shape[0]
    z = gain * np.asarray(v_out, dtype=np.float64) / theta_out
    p = _softmax(z)
    loss = float(-np.mean(np.log(np.maximum(p[:, label], 1e-300))))
    g = p.copy()
    g[:, label] -= 1.0
    return loss, g * (gain / (T * theta_out))
