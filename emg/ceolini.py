"""Readers for the Ceolini et al. 2020 EMG gesture releases (Zenodo 3228846, 3663616).

Two formats are read:

* the raw folder: ``subjectXX_sessionYY_emg.npy`` (T, 8) Myo values in [-128, 127] (stored 4 bytes
  per value, int32 or float) and ``subjectXX_sessionYY_ann.npy`` (T,) strings ``pinky, elle, yo,
  index, thumb`` (classes 0-4) or ``none``. :func:`load_raw_folder` applies the authors' one-sample
  label shift (prepend ``none``, drop the last label), cuts one trial per run of ``ann == class``
  (rising to falling edge), resamples each trial from its session's rate to the nominal 200 Hz and
  reports every session that does not hold 5 trials per class (it is kept, never silently dropped).
* the preprocessed pickle ``relax21_cropped_dvs_emg_spikes.pkl`` (dict ``y, sub, ses, emg, dvs``;
  ``emg[i]`` is (3, n): channel, time in s, polarity 1 up / 0 down). :func:`load_pickle` reads it with
  :class:`RestrictedUnpickler`, which only admits numpy arrays, dtypes, scalars and builtin
  containers; anything else raises :class:`~anp_emu.errors.UnsafePickleError` and is never called.

Every problem with a file raises :class:`~anp_emu.errors.FileFormatError` (or ``InputError`` for
arguments) with one line naming the file, the field, the limit and the value.
"""
from __future__ import annotations

import io
import json
import pickle
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from anp_emu.errors import ConfigKeyError, FileFormatError, InputError, UnsafePickleError

CLASS_NAMES: tuple[str, ...] = ("pinky", "elle", "yo", "index", "thumb")
REST_LABEL = "none"
NOMINAL_FS = 200.0          # Hz, the Myo armband's nominal EMG rate
N_CHANNELS = 8
EMG_MIN, EMG_MAX = -128, 127
TRIALS_PER_CLASS = 5        # repetitions of each gesture per session in the released protocol (not required)
LABEL_GAP_S = 0.1           # s: two runs of one class closer than this are one trial with a label gap
TRIAL_S = 2.0               # s, nominal gesture duration
FS_LIMITS = (50.0, 2000.0)  # Hz, accepted range for a session's sampling rate

_NAME_RE = re.compile(r"^subject(\d+)_session(\d+)_(emg|ann)\.npy$")


def _bad(path, fld: str, problem: str, limit=None, value=None) -> FileFormatError:
    msg = f"{fld}: {problem}"
    if limit is not None:
        msg += f"; limit {limit}"
    if value is not None:
        msg += f"; got {value}"
    return FileFormatError(path, msg)


# ----------------------------------------------------------------------------------------------
# restricted unpickling
# ----------------------------------------------------------------------------------------------

def _numpy_globals() -> dict[tuple[str, str], object]:
    """(module, name) -> object for the few callables numpy arrays need to be rebuilt."""
    try:
        from numpy._core import multiarray as ma  # numpy >= 2
        from numpy._core import numeric as nm
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray as ma  # type: ignore
        from numpy.core import numeric as nm  # type: ignore
    out: dict[tuple[str, str], object] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "_reconstruct")] = ma._reconstruct
        out[(mod, "scalar")] = ma.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        if hasattr(nm, "_frombuffer"):
            out[(mod, "_frombuffer")] = nm._frombuffer
    out[("numpy", "ndarray")] = np.ndarray
    out[("numpy", "dtype")] = np.dtype
    # numpy >= 1.25 pickles dtypes as numpy.dtypes.<Name>DType classes
    import numpy.dtypes as npdt
    for name in dir(npdt):
        if name.endswith("DType"):
            out[("numpy.dtypes", name)] = getattr(npdt, name)
    return out


_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int",
             "float", "complex", "bool", "slice", "range"}


MAX_PICKLE_ALLOC = 1 << 24   # bytes()/bytearray() of an integer size: no real data pickle asks for one


def _sized(fn, name, path):
    """``bytes``/``bytearray`` that refuse an integer size (a crafted pickle's memory bomb:
    ``bytearray(2**63)``) instead of allocating it."""
    def build(*args):
        if args and isinstance(args[0], int) and not isinstance(args[0], bool) and not (0 <= args[0] <= MAX_PICKLE_ALLOC):
            raise UnsafePickleError(path, f"refused {name}({args[0]}) (an allocation of an integer size; "
                                          f"limit {MAX_PICKLE_ALLOC} bytes)")
        return fn(*args)
    return build


def _latin1_encode(obj, encoding="utf-8", errors="strict", *, path):
    """``_codecs.encode`` as Python 3 pickles bytes (protocol 2): only the latin1 codec."""
    import codecs

    if str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(path, f"refused codec {encoding!r} (pickled bytes use latin1)")
    return codecs.encode(obj, "latin1", errors)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that admits only numpy array reconstruction, numpy dtypes/scalars and builtin
    containers/values. Any other global (``os.system``, ``builtins.eval``, a user class) raises
    :class:`UnsafePickleError` naming it, before anything is called."""

    _allowed = None

    def __init__(self, file, *, path="<pickle>", **kw):
        super().__init__(file, **kw)
        self._path = path
        if RestrictedUnpickler._allowed is None:
            RestrictedUnpickler._allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            import builtins
            fn = getattr(builtins, name)
            return _sized(fn, name, self._path) if name in ("bytes", "bytearray") else fn
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        if module == "_codecs" and name == "encode":  # protocol-2 bytes written by Python 3
            return partial(_latin1_encode, path=self._path)
        obj = self._allowed.get((module, name))
        if obj is not None:
            return obj
        raise UnsafePickleError(self._path, f"refused global {module}.{name} (only numpy arrays and builtin "
                                            f"containers are allowed)")

    def persistent_load(self, pid):
        raise UnsafePickleError(self._path, "refused persistent id (only plain numpy/builtin data is allowed)")


def restricted_load(path) -> object:
    """Load a pickle file with :class:`RestrictedUnpickler` (latin1 for Python 2 pickles)."""
    p = Path(path)
    if not p.is_file():
        raise FileFormatError(p, "file not found")
    data = p.read_bytes()
    return restricted_loads(data, path=p)


def restricted_loads(data: bytes, path="<pickle>") -> object:
    try:
        return RestrictedUnpickler(io.BytesIO(data), path=path, encoding="latin1").load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, ImportError, OverflowError, LookupError, UnicodeError, RecursionError) as e:
        raise FileFormatError(path, f"not a readable pickle (truncated or corrupt): {e.__class__.__name__}: {e}") from None


# ----------------------------------------------------------------------------------------------
# sampling-rate overrides
# ----------------------------------------------------------------------------------------------

def _check_fs(fs, where, path=None) -> float:
    try:
        v = float(fs)
    except (TypeError, ValueError):
        if path is not None:
            raise _bad(path, where, "sampling rate must be a number", value=repr(fs)) from None
        raise InputError(where, "sampling rate must be a number", value=repr(fs)) from None
    if not np.isfinite(v) or not FS_LIMITS[0] <= v <= FS_LIMITS[1]:
        if path is not None:
            raise _bad(path, where, "sampling rate out of range", limit=f"{FS_LIMITS[0]:g}..{FS_LIMITS[1]:g} Hz", value=v)
        raise InputError(where, "sampling rate out of range", limit=f"{FS_LIMITS[0]:g}..{FS_LIMITS[1]:g} Hz", value=v)
    return v


def load_fs_overrides(src) -> dict[tuple[int, int], float]:
    """Per-session sampling rates (Hz), keyed (subject, session).

    ``src`` is a mapping ``{(subject, session): fs}``, or a file: CSV with columns ``subject,
    session, fs``; or JSON, either a list of ``{"subject": s, "session": k, "fs": f}`` records or an
    object ``{"subject01_session02": 190.5, ...}``. Unknown columns/keys are refused.
    """
    if src is None:
        return {}
    if isinstance(src, Mapping):
        out = {}
        for k, v in src.items():
            if not (isinstance(k, tuple) and len(k) == 2):
                raise InputError("fs_overrides", "keys must be (subject, session) tuples", value=repr(k))
            out[(int(k[0]), int(k[1]))] = _check_fs(v, f"fs_overrides[{k}]")
        return out
    p = Path(src)
    if not p.is_file():
        raise FileFormatError(p, "fs overrides file not found")
    out: dict[tuple[int, int], float] = {}
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(p.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise FileFormatError(p, f"not valid JSON: {e}") from None
        if isinstance(obj, list):
            for i, rec in enumerate(obj):
                if not isinstance(rec, dict):
                    raise _bad(p, f"[{i}]", "expected an object with subject, session, fs", value=repr(rec)[:40])
                unknown = sorted(set(rec) - {"subject", "session", "fs"})
                if unknown:
                    raise ConfigKeyError(f"{p}:[{i}].{unknown[0]}", "unknown key", limit="subject, session, fs")
                missing = sorted({"subject", "session", "fs"} - set(rec))
                if missing:
                    raise _bad(p, f"[{i}].{missing[0]}", "required field missing")
                out[(_int_field(rec["subject"], p, f"[{i}].subject"), _int_field(rec["session"], p, f"[{i}].session"))] = \
                    _check_fs(rec["fs"], f"[{i}].fs", p)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                m = re.fullmatch(r"subject(\d+)_session(\d+)", str(k))
                if not m:
                    raise ConfigKeyError(f"{p}:{k}", "unknown key", limit="subjectXX_sessionYY")
                out[(int(m.group(1)), int(m.group(2)))] = _check_fs(v, str(k), p)
        else:
            raise _bad(p, "<root>", "expected a list of records or an object", value=type(obj).__name__)
        return out
    try:
        df = pd.read_csv(p, skipinitialspace=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise FileFormatError(p, f"not a readable CSV table: {e}") from None
    cols = [str(c).strip().lower() for c in df.columns]
    df.columns = cols
    unknown = sorted(set(cols) - {"subject", "session", "fs"})
    if unknown:
        raise ConfigKeyError(f"{p}:{unknown[0]}", "unknown column", limit="subject, session, fs")
    for c in ("subject", "session", "fs"):
        if c not in cols:
            raise _bad(p, c, "required column missing")
    for i, row in enumerate(df.itertuples(index=False)):
        key = (_int_field(row.subject, p, f"row {i + 1} subject"), _int_field(row.session, p, f"row {i + 1} session"))
        if key in out:
            raise _bad(p, f"row {i + 1}", "duplicate (subject, session)", value=key)
        out[key] = _check_fs(row.fs, f"row {i + 1} fs", p)
    return out


def _int_field(v, path, where) -> int:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise _bad(path, where, "must be an integer", value=repr(v)) from None
    if not np.isfinite(f) or f != int(f):
        raise _bad(path, where, "must be an integer", value=repr(v))
    return int(f)


# ----------------------------------------------------------------------------------------------
# reading one session
# ----------------------------------------------------------------------------------------------

def _load_npy(path: Path, allow_object: bool) -> np.ndarray:
    """np.load without pickle; object arrays (``ann``) only through the restricted unpickler."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise FileFormatError(path, f"cannot read: {e.strerror or e}") from None
    if magic != b"\x93NUMPY":    # np.load would take any other file for a pickle
        raise FileFormatError(path, f"not a .npy file (it does not start with the .npy magic bytes; got {magic!r})")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" not in str(e).lower():
            raise FileFormatError(path, f"not a readable .npy file: {e}") from None
        if not allow_object:
            raise FileFormatError(path, "holds Python objects (a pickled array); expected numbers") from None
    except (OSError, EOFError) as e:
        raise FileFormatError(path, f"not a readable .npy file (truncated or corrupt): {e}") from None
    with open(path, "rb") as f:  # object array: header, then a pickle of the array
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                np.lib.format.read_array_header_1_0(f)
            else:
                np.lib.format.read_array_header_2_0(f)
        except ValueError as e:
            raise FileFormatError(path, f"not a readable .npy file: {e}") from None
        arr = restricted_loads(f.read(), path=path)
    if not isinstance(arr, np.ndarray):
        raise FileFormatError(path, f"expected an array, got {type(arr).__name__}")
    return arr


def read_emg(path) -> np.ndarray:
    """(T, 8) float64 Myo values from ``subjectXX_sessionYY_emg.npy`` (checked: shape, range, finite)."""
    p = Path(path)
    if not p.is_file():
        raise FileFormatError(p, "file not found")
    a = _load_npy(p, allow_object=False)
    if a.dtype.kind not in "iuf":
        raise _bad(p, "emg", "dtype must be integer or float", value=str(a.dtype))
    if a.ndim != 2 or a.shape[1] != N_CHANNELS:
        raise _bad(p, "emg", "expected shape (T, 8): 8 Myo channels", limit=f"{N_CHANNELS} channels",
                   value=f"shape {a.shape}")
    if a.shape[0] == 0:
        raise _bad(p, "emg", "empty recording", value="0 samples")
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.all():
        t, c = np.argwhere(~finite)[0]
        raise _bad(p, f"emg[{t}, {c}]", "must be finite", value=a[t, c])
    lo, hi = a.min(), a.max()
    if lo < EMG_MIN or hi > EMG_MAX:
        t, c = np.argwhere((a < EMG_MIN) | (a > EMG_MAX))[0]
        raise _bad(p, f"emg[{t}, {c}]", "value out of range", limit=f"{EMG_MIN}..{EMG_MAX}", value=a[t, c])
    return a


def read_ann(path) -> np.ndarray:
    """(T,) int8 class codes from ``subjectXX_sessionYY_ann.npy``: 0-4 gestures, -1 ``none``."""
    p = Path(path)
    if not p.is_file():
        raise FileFormatError(p, "file not found")
    a = _load_npy(p, allow_object=True)
    if a.ndim != 1:
        raise _bad(p, "ann", "expected a 1-D array of labels", value=f"shape {a.shape}")
    if a.dtype.kind == "S":
        a = np.char.decode(a, "ascii", errors="replace")
    elif a.dtype.kind == "O":
        bad = [i for i, v in enumerate(a) if not isinstance(v, str)]
        if bad:
            raise _bad(p, f"ann[{bad[0]}]", "labels must be strings", value=f"{type(a[bad[0]]).__name__} {a[bad[0]]!r}")
        a = a.astype(str)
    elif a.dtype.kind != "U":
        raise _bad(p, "ann", "labels must be strings (pinky, elle, yo, index, thumb, none)", value=f"dtype {a.dtype}")
    names = list(CLASS_NAMES) + [REST_LABEL]
    uniq, inv = np.unique(a, return_inverse=True)
    codes = np.empty(len(uniq), dtype=np.int8)
    for k, u in enumerate(uniq):
        if u not in names:
            first = int(np.flatnonzero(inv == k)[0])
            raise _bad(p, f"ann[{first}]", "unknown label", limit="pinky, elle, yo, index, thumb, none", value=repr(str(u)))
        codes[k] = -1 if u == REST_LABEL else CLASS_NAMES.index(u)
    return codes[inv.reshape(-1)]


@dataclass
class Segment:
    cls: int      # class 0-4
    rep: int      # repetition index of this class in the session, 0-based
    start: int    # first sample (after the label shift)
    stop: int     # one past the last sample


def segment(ann_codes: np.ndarray, shift: int = 1) -> list[Segment]:
    """Cut trials from per-sample class codes (-1 = none), as the authors' loader does.

    The labels are first delayed by ``shift`` samples (prepend ``none``, drop the last), then each
    run of ``code == cls`` from a rising to the next falling edge is one trial [start, stop). A run
    touching the last sample is closed there. Segments are returned in time order; ``rep`` counts
    the runs of each class.
    """
    a = np.asarray(ann_codes)
    if shift < 0:
        raise InputError("shift", "label shift must be >= 0 samples", value=shift)
    if shift:
        a = np.concatenate([np.full(shift, -1, dtype=a.dtype), a])[:len(a)]
    segs: list[Segment] = []
    for c in range(len(CLASS_NAMES)):
        m = np.concatenate([[0], (a == c).astype(np.int8), [0]])
        d = np.diff(m)
        starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        for r, (s, e) in enumerate(zip(starts, stops)):
            segs.append(Segment(c, r, int(s), int(e)))
    segs.sort(key=lambda s: s.start)
    return segs


def resample(x: np.ndarray, fs_in: float, fs_out: float = NOMINAL_FS) -> np.ndarray:
    """Linear interpolation of a (n, C) signal from ``fs_in`` to ``fs_out`` Hz.

    Output sample k is at time k / fs_out s, for k = 0 .. round(n * fs_out / fs_in) - 1 (times past
    the last input sample hold its value). Identity (a float copy) when the rates are equal.
    """
    x = np.asarray(x, dtype=np.float64)
    if fs_in == fs_out:
        return x.copy()
    n = x.shape[0]
    n_out = max(1, int(round(n * fs_out / fs_in)))
    t_in = np.arange(n) / fs_in
    t_out = np.arange(n_out) / fs_out
    # one flat np.interp over channels: offset each channel's time axis so they do not overlap
    C = x.shape[1]
    span = (n + 1) / fs_in
    tin = (t_in[None, :] + span * np.arange(C)[:, None]).ravel()
    tout = (np.minimum(t_out, t_in[-1])[None, :] + span * np.arange(C)[:, None]).ravel()
    return np.interp(tout, tin, x.T.ravel()).reshape(C, n_out).T


# ----------------------------------------------------------------------------------------------
# the whole raw folder
# ----------------------------------------------------------------------------------------------

@dataclass
class LoadReport:
    """What a reader found: one row per session, and every irregularity as a one-line warning."""
    sessions: pd.DataFrame                       # subject, session, fs, n_samples, trials per class, ok
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.warnings

    def lines(self) -> list[str]:
        return [f"warning: {w}" for w in self.warnings]


@dataclass
class TrialSet:
    """Segmented EMG trials at the nominal rate, with metadata (all int64 (N,) arrays)."""
    trials: list[np.ndarray]        # each (n_i, 8) float64 Myo units at ``fs`` Hz
    labels: np.ndarray
    subject: np.ndarray
    session: np.ndarray
    trial: np.ndarray               # repetition index of the class within its session, 0-based
    fs: float = NOMINAL_FS
    class_names: tuple[str, ...] = CLASS_NAMES
    report: LoadReport | None = None
    source: str = ""
    fs_used: dict = field(default_factory=dict)   # (subject, session) -> Hz the session was read at

    def __len__(self) -> int:
        return len(self.trials)

    def subset(self, idx) -> "TrialSet":
        idx = np.asarray(idx, dtype=np.int64)
        return TrialSet([self.trials[i] for i in idx], self.labels[idx], self.subject[idx], self.session[idx],
                        self.trial[idx], self.fs, self.class_names, self.report, self.source, self.fs_used)


def find_sessions(folder) -> dict[tuple[int, int], dict[str, Path]]:
    """Map (subject, session) -> {"emg": path, "ann": path} for a raw folder (searched recursively)."""
    root = Path(folder)
    if not root.exists():
        raise FileFormatError(root, "raw folder not found")
    if not root.is_dir():
        raise FileFormatError(root, "expected a folder of subjectXX_sessionYY_{emg,ann}.npy files")
    found: dict[tuple[int, int], dict[str, Path]] = {}
    for p in sorted(root.rglob("subject*_session*_*.npy")):
        m = _NAME_RE.match(p.name)
        if not m:
            continue
        key = (int(m.group(1)), int(m.group(2)))
        d = found.setdefault(key, {})
        if m.group(3) in d:
            raise FileFormatError(p, f"duplicate file for subject {key[0]} session {key[1]} (also {d[m.group(3)]})")
        d[m.group(3)] = p
    if not found:
        raise FileFormatError(root, "no subjectXX_sessionYY_emg.npy / _ann.npy files found")
    for key, d in found.items():
        for kind, other in (("emg", "ann"), ("ann", "emg")):
            if kind in d and other not in d:
                missing = d[kind].with_name(d[kind].name.replace(f"_{kind}.npy", f"_{other}.npy"))
                raise FileFormatError(missing, f"missing partner file of {d[kind].name}")
    return dict(sorted(found.items()))


@dataclass
class SessionData:
    trials: list[np.ndarray]     # (n_i, 8) float64 at the nominal rate, in time order
    segments: list[Segment]      # where each trial was cut, in samples at the session's own rate
    warnings: list[str]
    n_samples: int               # length of the recording
    counts: np.ndarray           # (5,) trials per class

    @property
    def regular(self) -> bool:
        """Every class present (any number of trials is fine)."""
        return bool(np.all(self.counts >= 1))


def read_session(emg_path, ann_path, fs: float = NOMINAL_FS, nominal_fs: float = NOMINAL_FS,
                 subject: int = 0, session: int = 0) -> SessionData:
    """Read, check, segment and resample one session recorded at ``fs`` Hz."""
    emg = read_emg(emg_path)
    ann = read_ann(ann_path)
    if len(ann) != len(emg):
        raise _bad(ann_path, "ann", f"length does not match {Path(emg_path).name}", limit=f"{len(emg)} samples",
                   value=f"{len(ann)} samples")
    segs = segment(ann)
    warnings = []
    counts = np.bincount([s.cls for s in segs], minlength=len(CLASS_NAMES))
    tag = f"subject {subject} session {session}"
    missing = [CLASS_NAMES[c] for c, n in enumerate(counts) if n == 0]
    if missing:
        warnings.append(f"{tag}: class {', '.join(missing)} missing (no trial)")
    for a, b in zip(segs, segs[1:]):
        if a.cls == b.cls and (b.start - a.stop) / fs < LABEL_GAP_S:
            warnings.append(f"{tag}: label gap of {b.start - a.stop} samples inside a {CLASS_NAMES[a.cls]} trial at "
                            f"samples {a.stop}..{b.start - 1} (cut as two trials)")
    trials = [resample(emg[s.start:s.stop], fs, nominal_fs) for s in segs]
    if segs:
        dur = np.median([s.stop - s.start for s in segs]) / fs
        if abs(dur - TRIAL_S) > 0.1 * TRIAL_S:
            warnings.append(f"{tag}: median trial lasts {dur:.2f} s at {fs:g} Hz (expected about {TRIAL_S:g} s; "
                            f"is the sampling rate right? set it with an fs override)")
        short = [s for s in segs if (s.stop - s.start) / fs < 0.5 * TRIAL_S]
        for s in short:
            warnings.append(f"{tag}: trial {CLASS_NAMES[s.cls]} #{s.rep} is short ({s.stop - s.start} samples at "
                            f"samples {s.start}..{s.stop - 1})")
    return SessionData(trials, segs, warnings, len(emg), counts)


def load_raw_folder(folder, fs_overrides=None, nominal_fs: float = NOMINAL_FS, subjects=None,
                    on_irregular: str = "keep", progress: Callable[[int], None] | None = None) -> TrialSet:
    """Read a Ceolini raw folder into trials at ``nominal_fs`` Hz.

    ``fs_overrides``: per-session sampling rates (see :func:`load_fs_overrides`; default every
    session at ``nominal_fs``). ``subjects``: optional iterable of subject numbers to read.
    ``on_irregular``: what to do with a session that misses a class — ``"keep"`` (default: keep its
    trials and report it), ``"drop"`` (leave it out and report it) or ``"raise"``. Any number of
    trials per class is regular. ``progress(n)`` is called after each session.
    """
    if on_irregular not in ("keep", "drop", "raise"):
        raise InputError("on_irregular", "unknown policy", limit="keep, drop, raise", value=on_irregular)
    nominal_fs = _check_fs(nominal_fs, "nominal_fs")
    fsmap = load_fs_overrides(fs_overrides)
    found = find_sessions(folder)
    if subjects is not None:
        want = {int(s) for s in subjects}
        found = {k: v for k, v in found.items() if k[0] in want}
        if not found:
            raise InputError("subjects", "none of the requested subjects is in the folder", value=sorted(want))
    warnings: list[str] = []
    for key in sorted(set(fsmap) - set(found)):
        warnings.append(f"fs override for subject {key[0]} session {key[1]} matches no session in the folder")
    trials, labels, subj, sess, rep, rows, used = [], [], [], [], [], [], {}
    for (s, k), paths in found.items():
        fs = fsmap.get((s, k), nominal_fs)
        used[(s, k)] = fs
        sd = read_session(paths["emg"], paths["ann"], fs, nominal_fs, s, k)
        tr, segs, w, regular = sd.trials, sd.segments, sd.warnings, sd.regular
        rows.append({"subject": s, "session": k, "fs": fs, "n_samples": sd.n_samples,
                     **dict(zip(CLASS_NAMES, sd.counts.tolist())), "n_trials": len(segs), "ok": regular})
        if not regular and on_irregular == "raise":
            raise FileFormatError(paths["ann"], next(x for x in w if "missing" in x).split(": ", 1)[1])
        if not regular and on_irregular == "drop":
            w = w + [f"subject {s} session {k}: left out (on_irregular='drop')"]
        warnings.extend(w)
        if regular or on_irregular == "keep":
            trials.extend(tr)
            labels.extend(g.cls for g in segs)
            rep.extend(g.rep for g in segs)
            subj.extend([s] * len(segs))
            sess.extend([k] * len(segs))
        if progress is not None:
            progress(1)
    report = LoadReport(pd.DataFrame(rows), warnings)
    if not trials:
        raise FileFormatError(folder, "no gesture trials found in any session")
    i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return TrialSet(trials, i64(labels), i64(subj), i64(sess), i64(rep), nominal_fs, CLASS_NAMES, report, str(folder),
                    used)


# ----------------------------------------------------------------------------------------------
# the preprocessed pickle
# ----------------------------------------------------------------------------------------------

@dataclass
class PickleEvents:
    """The EMG part of ``relax21_cropped_dvs_emg_spikes.pkl``: per-trial events."""
    channel: list[np.ndarray]      # (n_i,) int64, 0..7
    time: list[np.ndarray]         # (n_i,) float64, s from the trial start
    polarity: list[np.ndarray]     # (n_i,) int64, 1 up / 0 down
    labels: np.ndarray             # (N,) int64, 0..4
    subject: np.ndarray            # (N,) int64
    session: np.ndarray            # (N,) int64
    trial: np.ndarray              # (N,) int64, repetition of the class within (subject, session)
    class_names: tuple[str, ...] = CLASS_NAMES
    report: LoadReport | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.labels)


def _vector(v, path, fld, n=None) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise _bad(path, fld, "expected a 1-D array (or a single row/column)", value=f"shape {a.shape}")
    if n is not None and len(a) != n:
        raise _bad(path, fld, "length does not match emg", limit=n, value=len(a))
    if a.dtype.kind not in "iuf" or (a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or np.any(a != np.round(a)))):
        raise _bad(path, fld, "must hold integers", value=f"dtype {a.dtype}")
    return a.astype(np.int64)


def _labels(y, path, n) -> np.ndarray:
    a = np.asarray(y)
    k = len(CLASS_NAMES)
    if a.ndim == 2 and a.shape[0] == n and a.shape[1] == k and n != 1:
        if a.dtype.kind not in "iufb" or not np.all((a == 0) | (a == 1)) or not np.all(a.sum(axis=1) == 1):
            raise _bad(path, "y", "2-D labels must be one-hot rows", value=f"shape {a.shape}")
        return np.argmax(a, axis=1).astype(np.int64)
    lab = _vector(a, path, "y", n)
    if lab.size and (lab.min() < 0 or lab.max() >= k):
        bad = lab[(lab < 0) | (lab >= k)][0]
        raise _bad(path, "y", "class out of range", limit=f"0..{k - 1}", value=int(bad))
    return lab


def load_pickle(path) -> PickleEvents:
    """Read ``relax21_cropped_dvs_emg_spikes.pkl`` (EMG events only; ``dvs`` is ignored)."""
    p = Path(path)
    obj = restricted_load(p)
    if not isinstance(obj, dict):
        raise _bad(p, "<root>", "expected a dict with keys y, sub, ses, emg, dvs", value=type(obj).__name__)
    keys = {str(k) for k in obj}
    missing = sorted({"y", "sub", "ses", "emg"} - keys)
    if missing:
        raise _bad(p, missing[0], "required key missing")
    warnings = [f"key {k!r} ignored" for k in sorted(keys - {"y", "sub", "ses", "emg", "dvs"})]
    emg = obj["emg"]
    if isinstance(emg, np.ndarray) and emg.dtype != object:
        emg = list(emg)
    if not isinstance(emg, (list, tuple, np.ndarray)):
        raise _bad(p, "emg", "expected a list of (3, n) arrays", value=type(emg).__name__)
    n = len(emg)
    if n == 0:
        raise _bad(p, "emg", "no trials: nothing to preprocess", limit=">= 1 trial", value="0 trials")
    labels = _labels(obj["y"], p, n)
    sub = _vector(obj["sub"], p, "sub", n)
    ses = _vector(obj["ses"], p, "ses", n)
    ch, tm, pol = [], [], []
    for i, e in enumerate(emg):
        a = np.asarray(e)
        if a.dtype.kind not in "iuf":
            raise _bad(p, f"emg[{i}]", "must be numeric", value=f"dtype {a.dtype}")
        if a.ndim == 1 and a.size == 0:
            a = a.reshape(3, 0)
        if a.ndim != 2 or a.shape[0] != 3:
            raise _bad(p, f"emg[{i}]", "expected shape (3, n): channel, time s, polarity", value=f"shape {a.shape}")
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise _bad(p, f"emg[{i}]", "must be finite", value="NaN/inf")
        c, t, q = a
        if c.size and (np.any(c != np.round(c)) or c.min() < 0 or c.max() >= N_CHANNELS):
            raise _bad(p, f"emg[{i}][0] (channel)", "channel out of range", limit=f"0..{N_CHANNELS - 1}",
                       value=c[(c != np.round(c)) | (c < 0) | (c >= N_CHANNELS)][0])
        if q.size and not np.all((q == 0) | (q == 1)):
            raise _bad(p, f"emg[{i}][2] (polarity)", "polarity must be 1 (up) or 0 (down)",
                       value=q[(q != 0) & (q != 1)][0])
        if t.size and t.min() < 0:
            raise _bad(p, f"emg[{i}][1] (time)", "negative event time", limit=">= 0 s", value=t.min())
        ch.append(c.astype(np.int64))
        tm.append(t)
        pol.append(q.astype(np.int64))
    rep = np.zeros(n, dtype=np.int64)
    seen: dict[tuple[int, int, int], int] = {}
    for i in range(n):
        key = (int(sub[i]), int(ses[i]), int(labels[i]))
        rep[i] = seen.get(key, 0)
        seen[key] = rep[i] + 1
    rows = []
    for (s, k) in sorted({(int(a), int(b)) for a, b in zip(sub, ses)}):
        counts = [seen.get((s, k, c), 0) for c in range(len(CLASS_NAMES))]
        ok = all(x >= 1 for x in counts)
        rows.append({"subject": s, "session": k, **dict(zip(CLASS_NAMES, counts)), "n_trials": sum(counts), "ok": ok})
        missing = [CLASS_NAMES[c] for c, x in enumerate(counts) if x == 0]
        if missing:
            warnings.append(f"subject {s} session {k}: class {', '.join(missing)} missing (no trial)")
    report = LoadReport(pd.DataFrame(rows), warnings)
    return PickleEvents(ch, tm, pol, labels, sub, ses, rep, CLASS_NAMES, report, str(p))
