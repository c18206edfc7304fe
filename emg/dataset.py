"""Event datasets: spike-encoded trials with labels and metadata, stored compactly in HDF5.

Layout (one global CSR): the events of sample i are ``step[sample_ptr[i]:sample_ptr[i+1]]`` and
``line[...]``, sorted by (step, line), each (step, line) at most once. ``step`` and ``line`` are
int16 (T, n_in <= 32767), so a 300-trial chip-encoded set is a few hundred kB.

File ``format = "anp-emu-events"``, ``version = 2`` (version 1 files, without features, are read
too); root attributes ``T``, ``n_in``, ``encoder``,
``encoder_params`` (JSON), ``class_names`` (JSON list), ``notes`` (JSON list of strings: what the
reader reported); datasets ``labels, subject, session, trial, sample_ptr`` (int64) and ``step,
line`` (int16); optionally a group ``features`` with the encoder's pre-threshold values (float64,
one row per sample; ``@feature_kind`` names them: ``chip-magnitude-sums`` ``sums`` (N, T, 16),
``delta-rms`` ``rms`` (N, n, 8) and ``moments`` (N, 2, 8)), from which :meth:`EventDataset.recalibrated`
refits the encoder on a training split only. Loading is strict: unknown keys, wrong dtypes, shapes or out-of-range values are
refused with an error naming the field, the limit and the value.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from anp_emu.errors import FileFormatError, InputError
from anp_emu.chip.events import SpikeInput
from anp_emu.files.fileio import (CHECKSUM_ATTR, attr_str, attr_value, check_keys, h5_reader, h5_writer, read_array,
                                  verify_h5_checksum)

FORMAT = "anp-emu-events"
VERSION = 3          # 2: optional /features group (the encoder's pre-threshold values) and @feature_kind
                     # 3: @sha256, the content checksum (required from version 3; 1 and 2 still load)
_DATASETS = {"labels", "subject", "session", "trial", "sample_ptr", "step", "line"}
_ATTRS = {"format", "version", "T", "n_in", "encoder", "encoder_params", "class_names", "notes"}
_FEATURE_KINDS = {"chip-magnitude-sums": {"sums": 3, "mav": 3}, "delta-rms": {"rms": 3, "moments": 3, "mav": 3}}
_I16 = np.iinfo(np.int16).max


class EventDataset:
    """N spike-encoded samples of T steps on n_in input lines, with labels and metadata.

    Attributes: ``T``, ``n_in``, ``labels``, ``subject``, ``session``, ``trial`` ((N,) int64;
    ``trial`` is the repetition of the class within its (subject, session), 0-based),
    ``class_names``, ``encoder`` (str), ``encoder_params`` (dict, JSON-able), ``notes`` (list of
    str), ``sample_ptr`` (N+1,) int64, ``step`` (E,) int16, ``line`` (E,) int16.
    """

    def __init__(self, T: int, n_in: int, labels, subject, session, trial, sample_ptr, step, line,
                 class_names: Sequence[str], encoder: str, encoder_params: dict | None = None,
                 notes: Sequence[str] = (), validate: bool = True, features: dict | None = None,
                 feature_kind: str = ""):
        self.T, self.n_in = int(T), int(n_in)
        self.labels = np.ascontiguousarray(labels, dtype=np.int64)
        self.subject = np.ascontiguousarray(subject, dtype=np.int64)
        self.session = np.ascontiguousarray(session, dtype=np.int64)
        self.trial = np.ascontiguousarray(trial, dtype=np.int64)
        self.sample_ptr = np.ascontiguousarray(sample_ptr, dtype=np.int64)
        self.step = np.ascontiguousarray(step, dtype=np.int16) if _fits16(step) else np.asarray(step)
        self.line = np.ascontiguousarray(line, dtype=np.int16) if _fits16(line) else np.asarray(line)
        self.class_names = [str(c) for c in class_names]
        self.encoder = str(encoder)
        self.encoder_params = dict(encoder_params or {})
        self.notes = [str(n) for n in notes]
        self.features = None if features is None else {k: np.asarray(v, dtype=np.float64) for k, v in features.items()}
        self.feature_kind = str(feature_kind) if features is not None else ""
        self._step_ptr = None
        if validate:
            self._validate()

    # ------------------------------------------------------------------ construction / checks
    @classmethod
    def from_spikes(cls, spikes: Sequence[SpikeInput], T: int, n_in: int, labels, subject, session, trial,
                    class_names, encoder: str, encoder_params: dict | None = None, notes=()) -> "EventDataset":
        """Pack per-sample SpikeInputs (each with ``T`` steps) into one dataset."""
        n = len(spikes)
        counts = np.fromiter((s.n_events for s in spikes), dtype=np.int64, count=n)
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        for i, s in enumerate(spikes):
            if s.T != T:
                raise InputError(f"spikes[{i}]", "number of steps differs from T", limit=T, value=s.T)
        steps = np.concatenate([np.repeat(np.arange(T, dtype=np.int16), np.diff(s.step_ptr)) for s in spikes]) \
            if n else np.zeros(0, np.int16)
        lines = np.concatenate([np.asarray(s.lines) for s in spikes]) if n else np.zeros(0, np.int16)
        return cls(T, n_in, labels, subject, session, trial, ptr, steps, lines, class_names, encoder,
                   encoder_params, notes)

    def _validate(self, where: str = "dataset") -> None:
        _check_consistency(self, lambda fld, problem, limit=None, value=None:
                           InputError(f"{where}.{fld}", problem, limit=limit, value=value))

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"EventDataset(N={len(self)}, T={self.T}, n_in={self.n_in}, encoder={self.encoder!r}, "
                f"events={self.n_events}, classes={self.class_names})")

    @property
    def n_events(self) -> int:
        return int(self.sample_ptr[-1])

    @property
    def events_per_sample(self) -> np.ndarray:
        return np.diff(self.sample_ptr)

    def _steps_table(self) -> np.ndarray:
        """(N, T+1) int64 global offsets of each sample's steps (built once)."""
        if self._step_ptr is None:
            n = len(self)
            sid = np.repeat(np.arange(n, dtype=np.int64), self.events_per_sample)
            cnt = np.bincount(sid * self.T + self.step.astype(np.int64), minlength=n * self.T).reshape(n, self.T)
            tab = np.zeros((n, self.T + 1), dtype=np.int64)
            np.cumsum(cnt, axis=1, out=tab[:, 1:])
            self._step_ptr = tab + self.sample_ptr[:-1, None]
        return self._step_ptr

    def sample(self, i: int) -> SpikeInput:
        """Sample ``i`` as the chip's SpikeInput (step_ptr (T+1,) int64, lines int32)."""
        n = len(self)
        if not -n <= int(i) < n:
            raise InputError("sample index", "out of range", limit=f"0..{n - 1}", value=i)
        i = int(i) % n
        tab = self._steps_table()[i]
        a, b = self.sample_ptr[i], self.sample_ptr[i + 1]
        return SpikeInput(tab - a, self.line[a:b].astype(np.int32))

    def __getitem__(self, i) -> SpikeInput:
        return self.sample(i)

    def dense(self, i: int) -> np.ndarray:
        """(T, n_in) uint8 raster of sample ``i``."""
        return self.sample(i).to_dense(self.n_in)

    def subset(self, idx) -> "EventDataset":
        """A new dataset with the samples ``idx`` (integer indices or a boolean mask), in that order."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise InputError("idx", "boolean mask must have one entry per sample", limit=len(self), value=idx.shape)
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise InputError("idx", "sample index out of range", limit=f"0..{len(self) - 1}",
                             value=int(idx.max() if idx.max() >= len(self) else idx.min()))
        idx = idx % max(len(self), 1)
        cnt = self.events_per_sample[idx]
        ptr = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(cnt, out=ptr[1:])
        # gather event ranges without a Python loop
        starts = np.repeat(self.sample_ptr[idx] - ptr[:-1], cnt)
        ev = np.arange(ptr[-1], dtype=np.int64) + starts
        feats = None if self.features is None else {k: v[idx] for k, v in self.features.items()}
        return EventDataset(self.T, self.n_in, self.labels[idx], self.subject[idx], self.session[idx],
                            self.trial[idx], ptr, self.step[ev], self.line[ev], self.class_names, self.encoder,
                            self.encoder_params, self.notes, validate=False, features=feats,
                            feature_kind=self.feature_kind)

    # ------------------------------------------------------------------ encoder calibration
    @property
    def calibration(self) -> dict | None:
        """The encoder calibration the events were made with (None for uncalibrated sources)."""
        return self.encoder_params.get("calibration")

    def with_calibration(self, calibration: dict) -> "EventDataset":
        """The same samples re-encoded from their features with ``calibration`` (a dict as in
        ``encoder_params["calibration"]``)."""
        from anp_emu.emg.encoders import apply_calibration

        if self.features is None:
            raise InputError("dataset.features", "this dataset keeps no encoder features: it cannot be re-encoded",
                             hint="preprocess the raw recordings again with this version")
        ptr, step, line = apply_calibration(self.encoder, self.encoder_params, self.features, calibration)
        params = {**self.encoder_params, "calibration": calibration}
        return EventDataset(self.T, self.n_in, self.labels, self.subject, self.session, self.trial, ptr, step, line,
                            self.class_names, self.encoder, params, self.notes, validate=False,
                            features=self.features, feature_kind=self.feature_kind)

    def recalibrated(self, fit_idx, fitted_on: str = "training split") -> "EventDataset":
        """Every sample re-encoded with the encoder fitted on the samples ``fit_idx`` only (the
        training part of a split: no statistic of the other samples enters). A dataset without
        features (the pickle's events, a version 1 file) is returned unchanged."""
        from anp_emu.emg.encoders import fit_calibration

        if self.features is None:
            return self
        cal = fit_calibration(self.encoder, self.encoder_params, self.features, fit_idx, self.labels, fitted_on)
        return self.with_calibration(cal)

    def sparse_samples(self, min_events: int | None = None) -> pd.Series:
        """Samples with fewer than ``min_events`` events (default: the encoder's ``min_events``, else T),
        counted per class name (only classes that have any)."""
        m = self.encoder_params.get("min_events", self.T) if min_events is None else min_events
        low = self.events_per_sample < int(m)
        cnt = np.bincount(self.labels[low], minlength=len(self.class_names))
        return pd.Series({self.class_names[c]: int(v) for c, v in enumerate(cnt) if v}, dtype=np.int64)

    # ------------------------------------------------------------------ splits
    def split_random(self, train_fraction: float = 2 / 3, seed: int = 0, stratify: bool = True):
        """(train, test): a reproducible random split, by default stratified by class (the paper's 2:1).

        Each class contributes round(train_fraction * n_class) samples to train; both keep the
        original sample order.
        """
        if not 0 < train_fraction < 1:
            raise InputError("train_fraction", "must be inside (0, 1)", value=train_fraction)
        rng = np.random.default_rng(seed)
        if stratify:
            tr = []
            for c in np.unique(self.labels):
                idx = np.flatnonzero(self.labels == c)
                tr.append(idx[rng.permutation(len(idx))[:int(round(train_fraction * len(idx)))]])
            tr = np.concatenate(tr) if tr else np.zeros(0, np.int64)
        else:
            tr = rng.permutation(len(self))[:int(round(train_fraction * len(self)))]
        mask = np.zeros(len(self), dtype=bool)
        mask[tr] = True
        return self.subset(mask), self.subset(~mask)

    def test_subject_mask(self, test_subjects, field: str = "test_subjects") -> np.ndarray:
        """(N,) bool: the samples of ``test_subjects``, checked (every one present, one left to train on)."""
        test_subjects = np.atleast_1d(np.asarray(test_subjects, dtype=np.int64))
        present = set(np.unique(self.subject).tolist())
        missing = [int(s) for s in test_subjects if int(s) not in present]
        if missing:
            raise InputError(field, "subject not in the dataset", limit=sorted(present), value=missing[0])
        mask = np.isin(self.subject, test_subjects)
        if mask.all():
            raise InputError(field, "leaves no subject for training", value=sorted(test_subjects.tolist()))
        return mask

    def split_leave_subjects_out(self, test_subjects):
        """(train, test): the samples of ``test_subjects`` are the test set, all others train."""
        mask = self.test_subject_mask(test_subjects)
        return self.subset(~mask), self.subset(mask)

    # ------------------------------------------------------------------ statistics
    def stats(self) -> pd.DataFrame:
        """Per class and overall ("all"): samples, events per sample (mean/std/min/max), mean input
        density (fraction of the T x n_in slots that spike), mean and max events per step."""
        eps = self.events_per_sample
        tab = np.diff(self._steps_table(), axis=1) if len(self) else np.zeros((0, self.T), np.int64)
        rows = []
        groups = [(name, self.labels == c) for c, name in enumerate(self.class_names)] + [("all", np.ones(len(self), bool))]
        for name, m in groups:
            e = eps[m]
            ps = tab[m]
            rows.append({
                "class": name, "n_samples": int(m.sum()),
                "events_mean": float(e.mean()) if e.size else 0.0,
                "events_std": float(e.std()) if e.size else 0.0,
                "events_min": int(e.min()) if e.size else 0,
                "events_max": int(e.max()) if e.size else 0,
                "density": float(e.mean() / (self.T * self.n_in)) if e.size else 0.0,
                "events_per_step": float(ps.mean()) if ps.size else 0.0,
                "max_events_per_step": int(ps.max()) if ps.size else 0,
            })
        return pd.DataFrame(rows).set_index("class")

    def step_profile(self) -> np.ndarray:
        """(T,) mean input density at each step, over all samples (fraction of n_in)."""
        tab = np.diff(self._steps_table(), axis=1)
        return tab.mean(axis=0) / self.n_in if len(self) else np.zeros(self.T)

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the dataset atomically to an HDF5 file (format anp-emu-events, version 3, with the
        SHA-256 of its content: a flipped label or event byte is caught on load)."""
        p = Path(path)
        try:
            params = json.dumps(self.encoder_params, sort_keys=True, default=_json_default)
        except (TypeError, ValueError) as e:
            raise InputError("encoder_params", "must be JSON-serialisable", value=str(e)) from None
        with h5_writer(p, FORMAT, VERSION, checksum=True) as f:
            f.attrs["T"] = np.int64(self.T)
            f.attrs["n_in"] = np.int64(self.n_in)
            f.attrs["encoder"] = self.encoder
            f.attrs["encoder_params"] = params
            f.attrs["class_names"] = json.dumps(self.class_names)
            f.attrs["notes"] = json.dumps(self.notes)
            for name in ("labels", "subject", "session", "trial", "sample_ptr"):
                f.create_dataset(name, data=getattr(self, name).astype(np.int64))
            kw = {"compression": "gzip", "compression_opts": 4, "shuffle": True} if self.n_events > 4096 else {}
            f.create_dataset("step", data=self.step.astype(np.int16), **kw)
            f.create_dataset("line", data=self.line.astype(np.int16), **kw)
            if self.features is not None:
                f.attrs["feature_kind"] = self.feature_kind
                g = f.create_group("features")
                for k, v in self.features.items():
                    g.create_dataset(k, data=v.astype(np.float64), compression="gzip", compression_opts=4,
                                     shuffle=True)
        return p

    @classmethod
    def load(cls, path) -> "EventDataset":
        """Read and check an events file; every problem raises FileFormatError naming the field."""
        p = Path(path)
        with h5_reader(p, FORMAT, (1, 2, VERSION)) as f:
            check_keys(f, _DATASETS | {"features"}, _DATASETS, "", p)
            version = int(f.attrs["version"])
            if version >= 3:
                check_keys(f.attrs, _ATTRS | {"feature_kind", CHECKSUM_ATTR}, _ATTRS | {CHECKSUM_ATTR}, "@", p)
                verify_h5_checksum(f, p)
            else:                           # written before checksums: read as it is
                check_keys(f.attrs, _ATTRS | {"feature_kind"}, _ATTRS, "@", p)
            T = _int_attr(f, "T", p, 1, _I16)
            n_in = _int_attr(f, "n_in", p, 1, _I16 + 1)
            encoder = attr_str(f, "encoder", p)
            params = _json_attr(f, "encoder_params", p, dict)
            names = _json_attr(f, "class_names", p, list)
            notes = _json_attr(f, "notes", p, list)
            if not names or not all(isinstance(x, str) for x in names):
                raise FileFormatError(p, "@class_names: expected a non-empty JSON list of strings")
            if not all(isinstance(x, str) for x in notes):
                raise FileFormatError(p, "@notes: expected a JSON list of strings")
            meta = {k: read_array(f, k, p, kind="i", ndim=1) for k in ("labels", "subject", "session", "trial")}
            n = len(meta["labels"])
            for k, v in meta.items():
                if len(v) != n:
                    raise FileFormatError(p, f"{k}: length does not match labels; limit {n}; got {len(v)}")
            ptr = read_array(f, "sample_ptr", p, kind="i", shape=(n + 1,))
            step = read_array(f, "step", p, kind="i", ndim=1)
            line = read_array(f, "line", p, kind="i", ndim=1)
            features, kind = _read_features(f, p, n)
        ds = cls(T, n_in, meta["labels"], meta["subject"], meta["session"], meta["trial"], ptr, step, line, names,
                 encoder, params, notes, validate=False, features=features, feature_kind=kind)
        _check_consistency(ds, lambda fld, problem, limit=None, value=None:
                           FileFormatError(p, f"{fld}: {problem}" + (f"; limit {limit}" if limit is not None else "")
                                           + (f"; got {value}" if value is not None else "")))
        return ds


def _read_features(f, p, n):
    """The optional /features group: names and ranks fixed by @feature_kind, n rows, finite floats."""
    if "features" not in f:
        if "feature_kind" in f.attrs:
            raise FileFormatError(p, "@feature_kind: present without a features group")
        return None, ""
    if "feature_kind" not in f.attrs:
        raise FileFormatError(p, "features: present without @feature_kind")
    kind = attr_str(f, "feature_kind", p)
    if kind not in _FEATURE_KINDS:
        raise FileFormatError(p, f"@feature_kind: unknown; limit {sorted(_FEATURE_KINDS)}; got {kind!r}")
    want = _FEATURE_KINDS[kind]
    g = f["features"]
    check_keys(g, set(want), set(want), "features/", p)
    out = {}
    for k, ndim in want.items():
        a = read_array(g, k, p, kind="f", ndim=ndim, where="features")
        if a.shape[0] != n:
            raise FileFormatError(p, f"features/{k}: one row per sample; limit {n}; got {a.shape[0]}")
        if not np.all(np.isfinite(a)):
            raise FileFormatError(p, f"features/{k}: values must be finite; got NaN/inf")
        out[k] = a
    return out, kind


def _json_default(v):
    """numpy scalars/arrays in encoder parameters become plain JSON numbers/lists."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON-serialisable")


def _fits16(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind in "iu" and (a.size == 0 or (a.min() >= 0 and a.max() <= _I16))


def _check_consistency(ds: EventDataset, err) -> None:
    """Every invariant of the layout; ``err(field, problem, limit, value)`` builds the exception."""
    n = len(ds.labels)
    if not 1 <= ds.T <= _I16:
        raise err("T", "number of steps out of range", f"1..{_I16}", ds.T)
    if not 1 <= ds.n_in <= _I16 + 1:
        raise err("n_in", "number of input lines out of range", f"1..{_I16 + 1}", ds.n_in)
    for k in ("subject", "session", "trial"):
        if len(getattr(ds, k)) != n:
            raise err(k, "length does not match labels", n, len(getattr(ds, k)))
    k = len(ds.class_names)
    if n and (ds.labels.min() < 0 or ds.labels.max() >= k):
        raise err("labels", "class index out of range", f"0..{k - 1}",
                  int(ds.labels.min() if ds.labels.min() < 0 else ds.labels.max()))
    p = ds.sample_ptr
    if p.shape != (n + 1,):
        raise err("sample_ptr", "shape must be (N+1,)", (n + 1,), p.shape)
    if p[0] != 0:
        raise err("sample_ptr", "must start at 0", 0, int(p[0]))
    if n and np.any(np.diff(p) < 0):
        i = int(np.flatnonzero(np.diff(p) < 0)[0])
        raise err(f"sample_ptr[{i + 1}]", "must be non-decreasing", f">= {int(p[i])}", int(p[i + 1]))
    E = int(p[-1])
    for name in ("step", "line"):
        a = getattr(ds, name)
        if a.dtype.kind not in "iu":
            raise err(name, "dtype must be integer", None, str(a.dtype))
        if len(a) != E:
            raise err(name, "length does not match sample_ptr[-1]", E, len(a))
    if E:
        for name, hi in (("step", ds.T), ("line", ds.n_in)):
            a = getattr(ds, name)
            lo_v, hi_v = int(a.min()), int(a.max())
            if lo_v < 0 or hi_v >= hi:
                bad = lo_v if lo_v < 0 else hi_v
                raise err(name, "value out of range", f"0..{hi - 1}", bad)
        # sorted by (step, line) and unique within each sample
        key = ds.step.astype(np.int64) * ds.n_in + ds.line.astype(np.int64)
        sid = np.repeat(np.arange(n, dtype=np.int64), np.diff(p))
        same = sid[1:] == sid[:-1]
        bad = same & (key[1:] <= key[:-1])
        if bad.any():
            j = int(np.flatnonzero(bad)[0]) + 1
            what = "duplicate event" if key[j] == key[j - 1] else "events not sorted by (step, line)"
            raise err(f"events of sample {int(sid[j])}", what, None, f"step {int(ds.step[j])}, line {int(ds.line[j])}")


def _int_attr(f, name, path, lo, hi) -> int:
    return attr_value(f, name, path, "int", where="", lo=lo, hi=hi)


def _json_attr(f, name, path, typ):
    raw = attr_str(f, name, path)
    try:
        v = json.loads(raw)
    except ValueError as e:
        raise FileFormatError(path, f"@{name}: not valid JSON ({e})") from None
    if not isinstance(v, typ):
        raise FileFormatError(path, f"@{name}: expected a JSON {typ.__name__}; got {type(v).__name__}")
    return v
