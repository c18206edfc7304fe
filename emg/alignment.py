"""Unsupervised armband-rotation alignment (off by default).

Between sessions the Myo armband is taken off and put back, sometimes a few electrodes further
round: the whole activity pattern then sits on other channels. ``align_sessions(ds, train_idx)``
estimates, for every (subject, session), the cyclic channel shift k in 0..7 that best matches the
session's mean activity pattern to the reference pattern of the training samples, and rotates that
session's encoder features by it (then re-encodes). The pattern of a session is the mean over all
its samples of the per-channel log MAV, standardised over the channels; the match is the circular
correlation. It uses no label, but it does read the test sessions' (unlabelled) signal — as a
wearable's calibration when it is put on would — so it is an option that says so, never a default.
"""
from __future__ import annotations

import numpy as np

from anp_emu.errors import InputError

from .ceolini import N_CHANNELS


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


def align_sessions(ds, train_idx):
    """A copy of ``ds`` with each (subject, session) rotated onto the training samples' pattern;
    the shift per session is recorded in the encoder parameters (``alignment``)."""
    if ds.features is None or "mav" not in ds.features:
        raise InputError("--align-sessions", "needs a dataset that keeps its encoder features",
                         hint="preprocess the raw recordings again")
    feats = {k: v.copy() for k, v in ds.features.items()}
    ref = _pattern(feats["mav"][np.asarray(train_idx)])
    shifts = {}
    for s, k in sorted(set(zip(ds.subject.tolist(), ds.session.tolist()))):
        rows = np.flatnonzero((ds.subject == s) & (ds.session == k))
        shift = best_shift(_pattern(feats["mav"][rows]), ref)
        shifts[f"subject{s:02d}_session{k:02d}"] = shift
        if shift:
            rotate_features(feats, rows, shift)
    from .dataset import EventDataset

    params = {**ds.encoder_params, "alignment": {"method": "cyclic channel shift to the training pattern",
                                                  "shifts": shifts}}
    out = EventDataset(ds.T, ds.n_in, ds.labels, ds.subject, ds.session, ds.trial, ds.sample_ptr, ds.step, ds.line,
                       ds.class_names, ds.encoder, params, ds.notes, validate=False, features=feats,
                       feature_kind=ds.feature_kind)
    return out.with_calibration(ds.calibration) if ds.calibration is not None else out
