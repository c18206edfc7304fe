"""One call from a Ceolini release (raw folder or pickle) to an :class:`EventDataset`.

``preprocess(src, encoder="chip", T=39)`` = :func:`load_source` (read, check, segment, resample
to 200 Hz, report irregular sessions) followed by :func:`encode_source` (spike-encode, pack, record
every parameter and every reader warning in the dataset). The CLI calls the two halves separately
to show a progress bar for each.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from anp_emu.errors import FileFormatError, InputError

from anp_emu.emg.ceolini import NOMINAL_FS, PickleEvents, TrialSet, load_pickle, load_raw_folder
from anp_emu.emg.dataset import EventDataset
from anp_emu.emg.encoders import ENCODERS, Encoded, encode_trials

PICKLE_WINDOW_S = 2.0   # s, binning window of the pickle's (cropped, 2 s) trials


def load_source(src, fs_overrides=None, on_irregular: str = "keep",
                progress: Callable[[int], None] | None = None) -> TrialSet | PickleEvents:
    """A raw folder -> :class:`TrialSet`; a ``.pkl`` file -> :class:`PickleEvents`; a TrialSet or
    PickleEvents passes through. ``progress(n)`` after each raw session."""
    if isinstance(src, (TrialSet, PickleEvents)):
        if fs_overrides is not None:
            raise InputError("fs_overrides", "the data is already loaded: pass the overrides to load_raw_folder")
        return src
    p = Path(src)
    if not p.exists():
        raise FileFormatError(p, "not found (expected a raw folder or a .pkl file)")
    if p.is_dir():
        return load_raw_folder(p, fs_overrides=fs_overrides, on_irregular=on_irregular, progress=progress)
    if fs_overrides is not None:
        raise InputError("fs_overrides", "only applies to a raw folder; the pickle's events carry times in s")
    return load_pickle(p)


def count_sessions(src) -> int:
    """Number of raw sessions in ``src`` (for a progress bar; 0 for a pickle)."""
    from anp_emu.emg.ceolini import find_sessions
    p = Path(src)
    return len(find_sessions(p)) if p.is_dir() else 0


def bin_pickle_events(pe: PickleEvents, T: int = 39, window_s: float = PICKLE_WINDOW_S) -> Encoded:
    """Bin the pickle's delta events into T steps over [0, window_s) s; 16 lines ``2*channel +
    (0 up, 1 down)``; a line fires at most once per step; later events are dropped (counted)."""
    if not isinstance(T, (int, np.integer)) or not 1 <= T <= 32767:
        raise InputError("T", "number of steps out of range", limit="1..32767", value=T)
    if not (np.isfinite(window_s) and window_s > 0):
        raise InputError("window_s", "must be a positive number of seconds", value=window_s)
    n = len(pe)
    cnt = np.array([len(t) for t in pe.time], dtype=np.int64)
    tid = np.repeat(np.arange(n, dtype=np.int64), cnt)
    t = np.concatenate(pe.time) if n else np.zeros(0)
    ch = np.concatenate(pe.channel) if n else np.zeros(0, np.int64)
    pol = np.concatenate(pe.polarity) if n else np.zeros(0, np.int64)
    keep = t < window_s
    dropped = int((~keep).sum())
    step = np.minimum(np.floor(t[keep] * T / window_s).astype(np.int64), T - 1)
    line = 2 * ch[keep] + (1 - pol[keep])
    key = np.unique((tid[keep] * T + step) * 16 + line)
    sid = key // (16 * T)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sid, minlength=n), out=ptr[1:])
    params = {"T": int(T), "window_s": float(window_s), "n_in": 16, "source": "ceolini-pickle",
              "line": "2*channel + polarity; polarity 0 up, 1 down", "events_dropped_after_window": dropped,
              "events_merged_in_step": int(keep.sum() - len(key))}
    return Encoded("delta", int(T), 16, params, ptr, ((key // 16) % T).astype(np.int16), (key % 16).astype(np.int16))


def encode_source(data: TrialSet | PickleEvents, encoder: str = "chip", T: int = 39,
                  progress: Callable[[int], None] | None = None, **encoder_params) -> EventDataset:
    """Encode loaded data into an EventDataset with metadata, parameters (including the rate each
    session was read at) and the reader's notes."""
    if encoder not in ENCODERS:
        raise InputError("encoder", "unknown encoder", limit=", ".join(ENCODERS), value=encoder)
    notes = list(data.report.warnings) if data.report is not None else []
    if isinstance(data, PickleEvents):
        if encoder != "delta":
            raise InputError("encoder", "the pickle holds delta events, not EMG samples: only the delta encoder applies",
                             limit="delta", value=encoder, hint="use --encoder delta, or preprocess the raw folder")
        unknown = sorted(set(encoder_params) - {"window_s"})
        if unknown:
            raise InputError(f"encoder_params.{unknown[0]}", "unknown parameter for pickle events", limit="window_s")
        enc = bin_pickle_events(data, T, encoder_params.get("window_s", PICKLE_WINDOW_S))
        if progress is not None:
            progress(len(data))
        if enc.params["events_dropped_after_window"]:
            notes.append(f"{enc.params['events_dropped_after_window']} events after {enc.params['window_s']:g} s dropped")
    else:
        enc = encode_trials(data.trials, encoder, T, progress=progress, labels=data.labels, **encoder_params)
        n_keep = enc.params["n_samples"]
        short = int(sum(len(x) < n_keep for x in data.trials))
        if short:
            notes.append(f"{short} of {len(data)} trials shorter than {n_keep} samples were padded with their last sample")
        enc.params["source"] = "ceolini-raw"
        enc.params["resampling"] = {"nominal_fs": float(data.fs), "method": "linear interpolation",
                                    "session_fs": [[s, k, f] for (s, k), f in sorted(data.fs_used.items())]}
    ds = EventDataset(enc.T, enc.n_in, data.labels, data.subject, data.session, data.trial, enc.sample_ptr,
                      enc.step, enc.line, data.class_names, enc.encoder, enc.params, notes, features=enc.features,
                      feature_kind=enc.feature_kind)
    sparse = ds.sparse_samples()
    if len(sparse):
        ds.notes.append(f"samples with fewer than {ds.encoder_params.get('min_events', ds.T)} input events (per class): "
                        + ", ".join(f"{k} {v}" for k, v in sparse.items()))
    return ds


def preprocess(src, encoder: str = "chip", T: int = 39, fs_overrides=None, on_irregular: str = "keep",
               progress: Callable[[int], None] | None = None, **encoder_params) -> EventDataset:
    """Read ``src`` (raw folder, ``.pkl``, or a loaded TrialSet/PickleEvents) and encode it.

    ``encoder``: ``"chip"`` (1024 lines) or ``"delta"`` (16 lines); ``T``: steps (39);
    ``fs_overrides``: per-session sampling rates (mapping or CSV/JSON file); ``on_irregular``:
    keep/drop/raise sessions that miss a class or hold an empty trial (reported once in ``dataset.notes``);
    ``encoder_params``: see :mod:`anp_emu.emg.encoders`. ``progress(n)`` after each encoded trial.
    """
    if encoder not in ENCODERS:
        raise InputError("encoder", "unknown encoder", limit=", ".join(ENCODERS), value=encoder)
    data = load_source(src, fs_overrides=fs_overrides, on_irregular=on_irregular)
    return encode_source(data, encoder, T, progress=progress, **encoder_params)


__all__ = ["preprocess", "load_source", "encode_source", "bin_pickle_events", "NOMINAL_FS"]
