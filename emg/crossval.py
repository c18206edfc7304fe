"""Evaluation protocols on event datasets: split, fit the encoder on the training part only,
and the reference baselines on the same folds.

``split_dataset(ds, split, fold, ...) -> SplitData``: the fold's (train, test) datasets, both
re-encoded with the encoder fitted on the training samples alone (when the file keeps the
encoder's features), and that calibration. ``fold_baselines(ds, fold)``: the non-spiking reference
classifiers (scikit-learn) on the same fold, on the per-channel mean absolute value of each 0.5 s
window of the raw trial (the classic EMG amplitude feature; ``mav`` in the dataset's features).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anp_emu.errors import InputError
from anp_emu.experiments.splits import SPLITS, Fold, make_folds, select_fold

from anp_emu.emg.dataset import EventDataset

SPLIT_CHOICES = SPLITS + ("subjects",)   # "subjects": the given --test-subjects are the test set


@dataclass
class SplitData:
    train: EventDataset
    test: EventDataset
    fold: str
    calibration: dict | None      # the encoder calibration both sides were encoded with
    sparse_test: dict             # class -> test samples below the encoder's min_events
    sparse_train: dict


def folds_of(ds: EventDataset, split: str, *, seed: int = 0, train_fraction: float = 2 / 3, k: int = 5,
             test_subjects=None) -> list[Fold]:
    """Every fold of ``split`` on ``ds`` (``subjects``: the one fold testing on ``test_subjects``)."""
    if split == "subjects":
        if not test_subjects:
            raise InputError("--test-subjects", "needed with --split subjects", hint="e.g. --test-subjects 1,2")
        if isinstance(test_subjects, str):
            try:
                test_subjects = [int(s) for s in test_subjects.split(",") if s.strip()]
            except ValueError:
                raise InputError("--test-subjects", "comma-separated subject numbers", value=repr(test_subjects)) from None
        mask = ds.test_subject_mask(test_subjects, "--test-subjects")
        return [Fold("subjects" + "+".join(map(str, sorted(test_subjects))), np.flatnonzero(~mask), np.flatnonzero(mask))]
    return make_folds(split, ds.labels, ds.subject, ds.session, k=k, seed=seed, train_fraction=train_fraction)


def split_dataset(ds: EventDataset, split: str = "random", fold=None, *, seed: int = 0,
                  train_fraction: float = 2 / 3, k: int = 5, test_subjects=None, refit: bool = True,
                  align: bool = False) -> SplitData:
    """One fold as datasets; with ``refit`` the encoder is fitted on the fold's training samples
    (``ds.recalibrated``) and applied to both sides. ``align``: the unsupervised armband-rotation
    alignment of :mod:`.alignment` (reads the test samples' unlabelled features; off by default)."""
    f = select_fold(folds_of(ds, split, seed=seed, train_fraction=train_fraction, k=k, test_subjects=test_subjects),
                    fold)
    enc = ds
    if align:
        from anp_emu.emg.alignment import align_sessions
        enc = align_sessions(ds, f.train)
    if refit and enc.features is not None:
        enc = enc.recalibrated(f.train, fitted_on=f"training split {f.name} ({len(f.train)} samples)")
    train, test = enc.subset(f.train), enc.subset(f.test)
    return SplitData(train, test, f.name, enc.calibration, train.sparse_samples().to_dict(),
                     test.sparse_samples().to_dict())


# ---------------------------------------------------------------------------- baselines
BASELINES = ("centroid", "logreg", "lda")


def mav_features(ds: EventDataset) -> np.ndarray:
    """(N, windows x 8) per-channel MAV of each 0.5 s window (LSB), from the dataset's features."""
    if ds.features is None or "mav" not in ds.features:
        raise InputError("dataset.features", "this dataset keeps no MAV features (a pickle or a version 1 file)",
                         hint="preprocess the raw recordings again")
    m = ds.features["mav"]
    return m.reshape(len(m), -1)


def fold_baselines(ds: EventDataset, fold: Fold) -> dict:
    """Test accuracy (0-1) of each reference classifier trained on the fold's training samples:
    ``centroid`` (nearest centroid on MAV), ``logreg`` (logistic regression on standardised log
    MAV), ``lda`` (linear discriminant analysis, shrinkage, on log MAV). A dataset without MAV
    features (the pickle's events) uses the spike counts per input line instead."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if ds.features is not None and "mav" in ds.features:
        x = mav_features(ds)
        lx = np.log1p(x)
    else:   # events only (the pickle): spike counts per input line
        from anp_emu.emg.baseline import event_count_features
        lx = event_count_features(ds)
        x = np.expm1(lx)
    y = ds.labels
    tr, te = fold.train, fold.test
    models = {"centroid": (NearestCentroid(), x),
              "logreg": (make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)), lx),
              "lda": (LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), lx)}
    out = {}
    for name, (m, feats) in models.items():
        if len(np.unique(y[tr])) < 2:
            out[name] = float("nan")
            continue
        m.fit(feats[tr], y[tr])
        out[name] = float(np.mean(m.predict(feats[te]) == y[te]))
    return out
