"""A simple, non-spiking reference classifier for the EMG gestures (numpy only).

Multinomial logistic regression (or nearest centroid) on standardised per-trial features; the
``quadratic`` method adds every pairwise product of the standardised features (a non-linear
reference that estimates how much headroom the features leave above the linear baseline):

* raw trials (a :class:`~anp_emu.emg.ceolini.TrialSet` or a raw folder): log RMS of each of the 8
  channels over the trial (Myo LSB, the classic EMG amplitude feature);
* an :class:`~anp_emu.emg.dataset.EventDataset`: log(1 + spike count) of each input line.

The training issue compares the chip's accuracy to :func:`baseline_accuracy` on the same split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anp_emu.errors import InputError


def rms_features(trials) -> np.ndarray:
    """(N, C) log RMS per channel (log of Myo LSB, +1 inside the log against silent channels)."""
    return np.stack([np.log1p(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64)), axis=0)))
                     for x in trials])


def event_count_features(dataset) -> np.ndarray:
    """(N, n_in) log(1 + spikes per input line) of an EventDataset."""
    n = len(dataset)
    sid = np.repeat(np.arange(n), np.diff(dataset.sample_ptr))
    counts = np.zeros((n, dataset.n_in))
    np.add.at(counts, (sid, dataset.line.astype(np.int64)), 1.0)
    return np.log1p(counts)


METHODS = ("logreg", "centroid", "quadratic")
MAX_QUADRATIC_FEATURES = 64


def quadratic_features(x: np.ndarray) -> np.ndarray:
    """(N, F + F(F+1)/2): the features and all products x_i * x_j, i <= j."""
    i, j = np.triu_indices(x.shape[1])
    return np.hstack([x, x[:, i] * x[:, j]])


def _standardise(xtr, xte):
    mu = xtr.mean(axis=0)
    sd = xtr.std(axis=0)
    sd[sd == 0] = 1.0
    return (xtr - mu) / sd, (xte - mu) / sd


def fit_logreg(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-2, iters: int = 500) -> np.ndarray:
    """Softmax regression by full-batch gradient descent with Nesterov momentum; returns (F+1, K)."""
    n, f = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    onehot = np.eye(n_classes)[y]
    w = np.zeros((f + 1, n_classes))
    v = np.zeros_like(w)
    lr = 1.0 / (0.25 * np.linalg.norm(xb, 2) ** 2 / n + l2)   # 1/L of the smooth objective
    for _ in range(iters):
        wl = w + 0.9 * v
        z = xb @ wl
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = xb.T @ (p - onehot) / n + l2 * np.vstack([wl[:-1], np.zeros((1, n_classes))])
        v = 0.9 * v - lr * g
        w = w + v
    return w


@dataclass
class BaselineResult:
    accuracy: float          # test fraction correct, 0..1
    train_accuracy: float
    n_train: int
    n_test: int
    method: str
    features: str

    def __str__(self) -> str:
        return (f"baseline {self.method} on {self.features}: test accuracy {100 * self.accuracy:.1f}% "
                f"({self.n_test} trials), train {100 * self.train_accuracy:.1f}% ({self.n_train} trials)")


def _stratified(labels, frac, seed):
    rng = np.random.default_rng(seed)
    tr = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        tr.extend(idx[:int(round(frac * len(idx)))])
    tr = np.sort(np.asarray(tr, dtype=np.int64))
    te = np.setdiff1d(np.arange(len(labels)), tr)
    return tr, te


def _features(data):
    from .ceolini import TrialSet, load_raw_folder
    from .dataset import EventDataset
    if isinstance(data, EventDataset):
        return event_count_features(data), np.asarray(data.labels), len(data.class_names), "event counts per line"
    if not isinstance(data, TrialSet):
        data = load_raw_folder(data)
    return rms_features(data.trials), np.asarray(data.labels), len(data.class_names), "log RMS per channel"


def baseline_accuracy(data, test=None, *, train_fraction: float = 2 / 3, seed: int = 0,
                      method: str = "logreg") -> BaselineResult:
    """Accuracy of the reference classifier.

    ``data``: an EventDataset, a TrialSet or a raw folder path. Without ``test`` it is split at
    random, stratified by class (``train_fraction``, ``seed``; the paper's 2:1); with ``test`` (same
    kind as ``data``) ``data`` is the training set. ``method``: ``"logreg"``, ``"centroid"`` or
    ``"quadratic"`` (logreg on the features and their pairwise products; at most 64 features).
    """
    if method not in METHODS:
        raise InputError("method", "unknown baseline", limit=", ".join(METHODS), value=method)
    x, y, k, feat = _features(data)
    if test is None:
        if not 0 < train_fraction < 1:
            raise InputError("train_fraction", "must be inside (0, 1)", value=train_fraction)
        tr, te = _stratified(y, train_fraction, seed)
        xtr, ytr, xte, yte = x[tr], y[tr], x[te], y[te]
    else:
        xtr, ytr = x, y
        xte, yte, _, _ = _features(test)
        if xte.shape[1] != xtr.shape[1]:
            raise InputError("test", "features do not match the training set", limit=xtr.shape[1], value=xte.shape[1])
    if len(ytr) == 0 or len(yte) == 0:
        raise InputError("data", "train and test sets must both be non-empty", value=f"{len(ytr)}/{len(yte)}")
    xtr, xte = _standardise(xtr, xte)
    if method == "quadratic":
        if xtr.shape[1] > MAX_QUADRATIC_FEATURES:
            raise InputError("method", "quadratic features only for small feature sets", limit=MAX_QUADRATIC_FEATURES,
                             value=xtr.shape[1])
        xtr, xte = _standardise(quadratic_features(xtr), quadratic_features(xte))
        feat += " + pairwise products"
    if method in ("logreg", "quadratic"):
        w = fit_logreg(xtr, ytr, k)
        pred = lambda a: np.argmax(np.hstack([a, np.ones((len(a), 1))]) @ w, axis=1)  # noqa: E731
    else:
        cent = np.stack([xtr[ytr == c].mean(axis=0) if np.any(ytr == c) else np.full(xtr.shape[1], np.inf)
                         for c in range(k)])
        pred = lambda a: np.argmin(((a[:, None, :] - cent[None]) ** 2).sum(-1), axis=1)  # noqa: E731
    return BaselineResult(float(np.mean(pred(xte) == yte)), float(np.mean(pred(xtr) == ytr)), len(ytr), len(yte),
                          method, feat)
