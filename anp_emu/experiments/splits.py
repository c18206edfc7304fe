"""Train/test splits as EMG users know them, built on scikit-learn's splitters.

``make_folds(kind, labels, subject, session, ...)`` returns the folds of one evaluation protocol as
``Fold(name, train, test)`` (sorted int64 indices, disjoint, together covering every sample):

* ``random`` — one stratified random split (``StratifiedShuffleSplit``, ``train_fraction``, the
  paper's 2:1), seeded;
* ``session`` — leave one session out (``LeaveOneGroupOut`` on the session number): fold
  ``session<k>`` tests on session k of every subject and trains on all other sessions. This is how
  real EMG is evaluated: the armband is taken off and put on again between sessions;
* ``subject`` — leave one subject out (``LeaveOneGroupOut`` on the subject), fold ``subject<s>``;
* ``kfold`` — stratified k-fold (``StratifiedKFold``, shuffled with ``seed``), folds ``fold<i>``.

Pure functions of the metadata arrays (no data is read), so the encoder can be fitted on a fold's
training indices only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

SPLITS = ("random", "session", "subject", "kfold")


@dataclass(frozen=True)
class Fold:
    name: str
    train: np.ndarray     # (n_train,) int64 sample indices, sorted
    test: np.ndarray      # (n_test,) int64


SEED_MAX = 2 ** 32 - 1      # scikit-learn's random_state range


def make_folds(kind: str, labels, subject=None, session=None, *, k: int = 5, seed: int = 0,
               train_fraction: float = 2 / 3) -> list[Fold]:
    """The folds of split ``kind`` (see the module docstring)."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold, StratifiedShuffleSplit

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed <= SEED_MAX):
        raise InputError("seed", "out of range", limit=f"0..{SEED_MAX}", value=seed)
    y = np.asarray(labels, dtype=np.int64)
    n = len(y)
    if n < 2:
        raise InputError("dataset", "need at least 2 samples to split", value=n)
    idx = np.arange(n)
    if kind == "random":
        if not 0 < train_fraction < 1:
            raise InputError("train_fraction", "must be inside (0, 1)", value=train_fraction)
        counts = np.bincount(y)
        strat = y if counts[counts > 0].min() >= 2 else None
        sss = StratifiedShuffleSplit(n_splits=1, train_size=train_fraction, random_state=seed) if strat is not None \
            else None
        if sss is None:
            from sklearn.model_selection import ShuffleSplit
            sss = ShuffleSplit(n_splits=1, train_size=train_fraction, random_state=seed)
        try:
            tr, te = next(sss.split(idx, strat))
        except ValueError as e:
            raise InputError("train_fraction", f"cannot split {n} samples this way ({e})", value=train_fraction) from None
        return [Fold("random", np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64))]
    if kind in ("session", "subject"):
        groups = np.asarray(session if kind == "session" else subject, dtype=np.int64)
        if groups.shape != y.shape:
            raise InputError(kind, "one group number per sample", limit=n, value=groups.shape)
        uniq = np.unique(groups)
        if len(uniq) < 2:
            raise InputError(f"--split {kind}", f"needs at least 2 {kind}s in the dataset", value=uniq.tolist())
        folds = []
        for tr, te in LeaveOneGroupOut().split(idx, y, groups):
            g = int(groups[te[0]])
            folds.append(Fold(f"{kind}{g}", tr.astype(np.int64), te.astype(np.int64)))
        return folds
    if kind == "kfold":
        if not isinstance(k, (int, np.integer)) or k < 2:
            raise InputError("--folds", "k-fold needs k >= 2", value=k)
        least = np.bincount(y)[np.bincount(y) > 0].min()
        if least < k:
            raise InputError("--folds", "more folds than samples in the smallest class", limit=int(least), value=k)
        skf = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=seed)
        return [Fold(f"fold{i}", tr.astype(np.int64), te.astype(np.int64)) for i, (tr, te) in enumerate(skf.split(idx, y))]
    raise InputError("--split", "unknown split", limit=", ".join(SPLITS), value=repr(kind))


def select_fold(folds: list[Fold], fold) -> Fold:
    """The fold named ``fold`` (or its 0-based index); the only fold when ``fold`` is None and there is one."""
    names = [f.name for f in folds]
    if fold is None:
        if len(folds) == 1:
            return folds[0]
        raise InputError("--fold", "this split has several folds: choose one", limit=", ".join(names))
    key = str(fold)
    if key in names:
        return folds[names.index(key)]
    if key.isdigit() and int(key) < len(folds):
        return folds[int(key)]
    raise InputError("--fold", "unknown fold", limit=", ".join(names), value=repr(key))
