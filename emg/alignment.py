"""Unsupervised armband-rotation alignment (off by default).

Between sessions the Myo armband is taken off and put back, sometimes a few electrodes further
round: the whole activity pattern then sits on other channels. ``align_sessions(ds, train_idx)``
estimates, for every (subject, session), the cyclic channel shift k in 0..7 that best matches the
session's mean activity pattern to the training sessions' common pattern (the training sessions
aligned among themselves first), keeps it only if the match improves clearly, and rotates that
session's encoder features by it (then re-encodes). The pattern of a session is the mean over all
its samples of the per-channel log MAV, standardised over the channels; the match is the circular
correlation. It uses no label, but it does read the test sessions' (unlabelled) signal — as a
wearable's calibration when it is put on would — so it is an option that says so, never a default.
"""
from __future__ import annotations

import numpy as np

from anp_emu.errors import InputError

from anp_emu.emg.ceolini import N_CHANNELS


def _pattern(mav: np.ndarray) -> np.ndarray:
    """(8,) standardised mean log MAV of (n, windows, 8)."""
    p = np.log1p(mav).mean(axis=(0, 1))
    sd = p.std()
    return (p - p.mean()) / (sd if sd > 0 else 1.0)


def best_shift(pattern: np.ndarray, reference: np.ndarray) -> int:
    """The k in 0..7 that maximises corr(roll(pattern, -k), reference); ties to the smallest |k|."""
    scores = [float(np.dot(np.roll(pattern, -k), reference)) for k in range(N_CHANNELS)]
    order = sorted(range(N_CHANNELS), key=lambda k: (-round(scores[k], 12), min(k, N_CHANNELS - k)))
    return int(order[0])


def rotate_features(features: dict, rows: np.ndarray, k: int) -> None:
    """Shift the channel axis of ``features`` (in place) for the samples ``rows`` by -k channels."""
    for name, a in features.items():
        if name == "sums":       # (N, T, 16), column 2*c + p
            n, T, _ = a.shape
            v = a[rows].reshape(len(rows), T, N_CHANNELS, 2)
            a[rows] = np.roll(v, -k, axis=2).reshape(len(rows), T, 2 * N_CHANNELS)
        else:                    # (N, ..., 8): mav, rms, moments
            a[rows] = np.roll(a[rows], -k, axis=-1)


ALIGN_MIN_GAIN = 0.2   # a session is rotated only if the match improves by this much (correlation)
ALIGN_PASSES = 3       # rounds of aligning the training sessions to their common pattern


def session_shifts(ds, train_idx) -> dict:
    """(subject, session) -> cyclic shift. The training sessions are first aligned among themselves
    (each to the mean pattern of the others of its subject, ``ALIGN_PASSES`` rounds), and every
    test session is then matched to the aligned mean of its subject's training sessions (of all
    training sessions for a subject with none, as in a leave-one-subject-out split); a shift is kept only when
    it raises the correlation by at least ``ALIGN_MIN_GAIN`` (otherwise 0: no rotation is read into
    noise)."""
    train = np.zeros(len(ds), bool)
    train[np.asarray(train_idx)] = True
    keys = sorted(set(zip(ds.subject.tolist(), ds.session.tolist())))
    pats = {}
    for key in keys:
        rows = np.flatnonzero((ds.subject == key[0]) & (ds.session == key[1]))
        pats[key] = (_pattern(ds.features["mav"][rows]), bool(train[rows].any()))
    shift = {k: 0 for k in keys}

    def choose(p, ref):
        k = best_shift(p, ref)
        gain = (float(np.dot(np.roll(p, -k), ref)) - float(np.dot(p, ref))) / N_CHANNELS
        return k if gain >= ALIGN_MIN_GAIN else 0

    train_keys = [k for k in keys if pats[k][1]]

    def reference(group, leave_out=None):
        ref = np.mean([np.roll(pats[o][0], -shift[o]) for o in group if o != leave_out], axis=0)
        return (ref - ref.mean()) / (ref.std() or 1.0)

    def peers(k):
        """The training sessions a session is matched to: its own subject's, else all."""
        same = [o for o in train_keys if o[0] == k[0]]
        return same if [o for o in same if o != k] else train_keys

    for _ in range(ALIGN_PASSES):
        for k in train_keys:
            group = peers(k)
            if [o for o in group if o != k]:
                shift[k] = choose(pats[k][0], reference(group, leave_out=k))
    for k in keys:
        if not pats[k][1]:
            shift[k] = choose(pats[k][0], reference(peers(k)))
    return shift


def align_sessions(ds, train_idx):
    """A copy of ``ds`` with each (subject, session) rotated onto the training sessions' common
    pattern (:func:`session_shifts`); the shifts are recorded in the encoder parameters (``alignment``)."""
    if ds.features is None or "mav" not in ds.features:
        raise InputError("--align-sessions", "needs a dataset that keeps its encoder features",
                         hint="preprocess the raw recordings again")
    feats = {k: v.copy() for k, v in ds.features.items()}
    shifts = {}
    for (s, k), shift in session_shifts(ds, train_idx).items():
        shifts[f"subject{s:02d}_session{k:02d}"] = shift
        if shift:
            rotate_features(feats, np.flatnonzero((ds.subject == s) & (ds.session == k)), shift)
    from anp_emu.emg.dataset import EventDataset

    params = {**ds.encoder_params, "alignment": {"method": "cyclic channel shift to the training sessions' pattern",
                                                  "shifts": shifts}}
    out = EventDataset(ds.T, ds.n_in, ds.labels, ds.subject, ds.session, ds.trial, ds.sample_ptr, ds.step, ds.line,
                       ds.class_names, ds.encoder, params, ds.notes, validate=False, features=feats,
                       feature_kind=ds.feature_kind)
    return out.with_calibration(ds.calibration) if ds.calibration is not None else out
