"""A simple, non-spiking reference classifier for the EMG gestures (scikit-learn).

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
    """(N, F + F(F+1)/2): the features and all products x_i * x_j, i <= j (scikit-learn's
    PolynomialFeatures of degree 2 without the constant)."""
    from sklearn.preprocessing import PolynomialFeatures

    return PolynomialFeatures(degree=2, include_bias=False).fit_transform(x)


def _classifier(method: str):
    """The scikit-learn pipeline of ``method`` (standardised features; logreg with C = 1/(n l2))."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if method == "centroid":
        return make_pipeline(StandardScaler(), NearestCentroid())
    steps = [StandardScaler()]
    if method == "quadratic":
        steps += [FunctionTransformer(quadratic_features), StandardScaler()]
    return make_pipeline(*steps, LogisticRegression(C=1.0, max_iter=5000))


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


def _features(data):
    from anp_emu.emg.ceolini import TrialSet, load_raw_folder
    from anp_emu.emg.dataset import EventDataset
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
        from anp_emu.experiments.splits import make_folds

        f = make_folds("random", y, train_fraction=train_fraction, seed=seed)[0]
        tr, te = f.train, f.test
        xtr, ytr, xte, yte = x[tr], y[tr], x[te], y[te]
    else:
        xtr, ytr = x, y
        xte, yte, _, _ = _features(test)
        if xte.shape[1] != xtr.shape[1]:
            raise InputError("test", "features do not match the training set", limit=xtr.shape[1], value=xte.shape[1])
    if len(ytr) == 0 or len(yte) == 0:
        raise InputError("data", "train and test sets must both be non-empty", value=f"{len(ytr)}/{len(yte)}")
    present = np.unique(ytr)
    if len(present) < 2:
        raise InputError("labels", "a classifier needs at least two classes in the training part",
                         limit=">= 2 classes", value=f"{len(present)} class (label {int(present[0])})")
    if method == "quadratic":
        if xtr.shape[1] > MAX_QUADRATIC_FEATURES:
            raise InputError("method", "quadratic features only for small feature sets", limit=MAX_QUADRATIC_FEATURES,
                             value=xtr.shape[1])
        feat += " + pairwise products"
    clf = _classifier(method).fit(xtr, ytr)
    pred = clf.predict
    return BaselineResult(float(np.mean(pred(xte) == yte)), float(np.mean(pred(xtr) == ytr)), len(ytr), len(yte),
                          method, feat)
