"""Spike encoders from EMG trials (8 channels at the nominal 200 Hz) to the chip's input events.

Both encoders first bring every trial to ``n_samples`` samples: a longer trial keeps its first
``n_samples`` (the cue onset stays at sample 0), a shorter one is padded by repeating its last
sample (zero differences, so the padding adds no events). Both are deterministic and vectorised.

``chip`` — the paper's Section VI-B input (1024 lines, 39 steps)
    Read ``n_samples = T * group + 1`` samples (391 for T = 39, group = 10) and take the
    ``T * group`` differences ``d = x[s+1] - x[s]`` (Myo LSB). For step t (differences
    ``t*group .. t*group + group - 1``), channel c and polarity p, sum the magnitudes of that
    polarity: ``S_up = sum(max(d, 0))``, ``S_down = sum(max(-d, 0))``. This is encoded as a
    thermometer code over ``levels`` lines: level k (0-based) spikes iff
    ``S >= (k + 1) * level_step``, i.e. ``min(levels, floor(S / level_step))`` lines fire.
    Line index ``(2 * c + p) * levels + k`` with p = 0 up, 1 down: 8 x 2 x 64 = 1024 lines.
    ``level_step`` = 32 LSB keeps rest (noise about 2 LSB, S about 11) silent; on the default
    synthetic set it gives about 600 events per trial, 1.5 % input density (24 LSB: 2.3 %, 16 LSB:
    3.8 %; see ``EventDataset.stats``). At most ``levels`` lines fire per (channel, polarity, step).

``delta`` — the Ceolini et al. authors' encoder (16 lines)
    1. divide by the global standard deviation ``norm_std`` (over all samples and channels of the
       trials being encoded, unless given; recorded in the parameters);
    2. causal RMS over ``rms_window`` = 4 samples: ``r[s] = sqrt(mean(x[max(0, s-3)..s]**2))``
       (fewer samples at the start);
    3. linear interpolation to ``fs_interp`` = 3500 Hz (points k / fs_interp s, up to the last sample);
    4. delta modulation per channel: reference ``ref = r(0)``; at each later point v, if
       ``v - ref >= threshold_up`` (0.05) an up event, elif ``ref - v >= threshold_down`` (0.05)
       a down event; after an event ``ref = v`` (reset to the current value);
    5. binning into T steps over the window ``n_samples / fs`` s: step ``floor(t * T / window)``;
       a line fires at most once per step. Line ``2 * c + p`` (p = 0 up, 1 down).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numba
import numpy as np

from anp_emu.errors import InputError
from anp_emu.chip.events import SpikeInput

from anp_emu.emg.ceolini import N_CHANNELS, NOMINAL_FS

ENCODERS = ("chip", "delta")

CHIP_DEFAULTS = {"group": 10, "levels": 64, "level_step": None, "calibrate": None, "compress": 0.5,
                 "target_density": 0.03, "min_events": None}
DELTA_DEFAULTS = {"n_samples": 391, "rms_window": 4, "fs_interp": 3500.0, "threshold_up": None,
                  "threshold_down": None, "norm_std": None, "calibrate": "train", "norm": "channel",
                  "target_density": 0.25, "domain": "log", "min_events": None}


@dataclass
class Encoded:
    """Encoded trials as one CSR: events of trial i are ``step/line[sample_ptr[i]:sample_ptr[i+1]]``,
    sorted by (step, line)."""
    encoder: str
    T: int
    n_in: int
    params: dict
    sample_ptr: np.ndarray    # (N+1,) int64
    step: np.ndarray          # (E,) int16
    line: np.ndarray          # (E,) int16
    features: dict | np.ndarray | None = None   # the encoder's pre-threshold values per sample (feature_kind)
    feature_kind: str = ""

    def __len__(self) -> int:
        return len(self.sample_ptr) - 1

    def spike_input(self, i: int) -> SpikeInput:
        a, b = self.sample_ptr[i], self.sample_ptr[i + 1]
        ptr = np.zeros(self.T + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.step[a:b].astype(np.int64), minlength=self.T), out=ptr[1:])
        return SpikeInput(ptr, self.line[a:b].astype(np.int32))

    def spikes(self) -> list[SpikeInput]:
        return [self.spike_input(i) for i in range(len(self))]


# ----------------------------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------------------------

def fit_length(trials: Sequence[np.ndarray], n_samples: int, field: str = "trials") -> np.ndarray:
    """(N, n_samples, 8) float64: crop to the first ``n_samples`` or pad by repeating the last sample."""
    if len(trials) == 0:
        raise InputError(field, "no trials to encode", value=0)
    out = np.empty((len(trials), n_samples, N_CHANNELS))
    for i, x in enumerate(trials):
        a = np.asarray(x)
        if a.ndim != 2 or a.shape[1] != N_CHANNELS or a.shape[0] < 1:
            raise InputError(f"{field}[{i}]", "expected a (n, 8) EMG trial", value=f"shape {a.shape}")
        if a.dtype.kind not in "iuf":
            raise InputError(f"{field}[{i}]", "EMG values must be numbers", value=str(a.dtype))
        n = min(len(a), n_samples)
        out[i, :n] = a[:n]
        out[i, n:] = a[n - 1]
    if not np.all(np.isfinite(out)):
        i = int(np.flatnonzero(~np.isfinite(out).all(axis=(1, 2)))[0])
        raise InputError(f"{field}[{i}]", "EMG values must be finite", value="NaN/inf")
    return out


def _csr_from_raster(r: np.ndarray):
    """(N, T, L) 0/1 raster -> (sample_ptr, step int16, line int16), sorted by (sample, step, line)."""
    n, T, L = r.shape
    sid, st, ln = np.nonzero(r)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sid, minlength=n), out=ptr[1:])
    return ptr, st.astype(np.int16), ln.astype(np.int16)


def _chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def _merge(parts):
    ptrs, steps, lines = zip(*parts)
    off = 0
    out = [np.zeros(1, np.int64)]
    for p in ptrs:
        out.append(p[1:] + off)
        off += int(p[-1])
    return np.concatenate(out), np.concatenate(steps), np.concatenate(lines)


# ----------------------------------------------------------------------------------------------
# chip encoder
# ----------------------------------------------------------------------------------------------

CHIP_FEATURES = "chip-magnitude-sums"   # features: sums (N, T, 16) S per step, line group 2*c + p, LSB; mav
MAV_WINDOW = 100                          # samples (0.5 s at 200 Hz): windows of the reference MAV feature


def mav_windows(x: np.ndarray, window: int = MAV_WINDOW) -> np.ndarray:
    """(N, n // window, 8) mean absolute value of each channel in consecutive windows (LSB), of
    (N, n, 8) trials (the reference classifiers' feature; at least one window)."""
    n, m, c = x.shape
    k = max(1, m // window)
    w = min(window, m)
    return np.abs(x[:, :k * w]).reshape(n, k, w, c).mean(axis=2)


def chip_features(trials, T: int = 39, group: int = 10) -> np.ndarray:
    """(N, T, 16) float64: per step, channel c and polarity p (column ``2*c + p``), the sum of the
    ``group`` difference magnitudes of that polarity, in Myo LSB (the encoder's pre-threshold values)."""
    return _magnitude_sums(fit_length(trials, T * group + 1), T, group)


def _magnitude_sums(x: np.ndarray, T: int, group: int) -> np.ndarray:
    """:func:`chip_features` of trials already brought to ``T * group + 1`` samples, (N, n, 8)."""
    n = x.shape[0]
    d = np.diff(x, axis=1).reshape(n, T, group, N_CHANNELS)
    s = np.stack([np.clip(d, 0, None).sum(axis=2), np.clip(-d, 0, None).sum(axis=2)], axis=-1)  # (n, T, C, 2)
    return s.reshape(n, T, 2 * N_CHANNELS)


@dataclass(frozen=True)
class ChipLevels:
    """How magnitude sums S become thermometer levels: ``min(levels, floor((S / scale) ** compress /
    level_step))`` lines fire per (step, channel, polarity). ``scale`` (16,) LSB per line group
    ``2*c + p``; ``compress`` the exponent (1: linear); ``level_step`` in the units of the normalised,
    compressed value. ``fitted`` says where the numbers come from (``"fixed"`` or the training samples)."""
    scale: tuple
    compress: float
    level_step: float
    levels: int
    fitted: dict

    def counts(self, S: np.ndarray) -> np.ndarray:
        """(N, T, 16) int64 lines firing per (step, line group)."""
        u = np.asarray(S, dtype=np.float64) / np.asarray(self.scale, dtype=np.float64)
        if self.compress != 1.0:
            u = np.power(u, self.compress)
        return np.minimum(np.floor(u / self.level_step), self.levels).astype(np.int64)

    def to_dict(self) -> dict:
        return {"scale": [float(v) for v in self.scale], "compress": float(self.compress),
                "level_step": float(self.level_step), "levels": int(self.levels), "fitted": dict(self.fitted)}

    @classmethod
    def from_dict(cls, d: dict, where: str = "levels") -> "ChipLevels":
        unknown = sorted(set(d) - {"scale", "compress", "level_step", "levels", "fitted"})
        if unknown:
            raise InputError(f"{where}.{unknown[0]}", "unknown key", limit="scale, compress, level_step, levels, fitted")
        try:
            scale = tuple(float(v) for v in d["scale"])
            comp, step, levels = float(d["compress"]), float(d["level_step"]), int(d["levels"])
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(where, "incomplete or non-numeric chip encoder calibration", value=repr(e)) from None
        if len(scale) != 2 * N_CHANNELS or not all(np.isfinite(v) and v > 0 for v in scale):
            raise InputError(f"{where}.scale", "expected 16 positive numbers (LSB)", value=list(scale)[:3])
        for name, v in (("compress", comp), ("level_step", step)):
            if not (np.isfinite(v) and v > 0):
                raise InputError(f"{where}.{name}", "must be a positive number", value=v)
        return cls(scale, comp, step, levels, dict(d.get("fitted", {})))


def fixed_levels(level_step: float = 32.0, levels: int = 64) -> ChipLevels:
    """The uncalibrated definition: ``floor(S / level_step)`` lines, ``level_step`` in LSB."""
    return ChipLevels((1.0,) * (2 * N_CHANNELS), 1.0, float(level_step), int(levels), {"how": "fixed"})


def fit_step(events_per_sample, labels, slots: int, target_density: float, min_events: int, max_density: float,
             *, lo: float, hi: float, iters: int) -> tuple[float, str]:
    """(step, how) of an encoder whose events fall as its step (level step, delta threshold) grows:
    the largest step whose mean training density (events / ``slots`` per sample) reaches
    ``target_density``; lowered, if the median sample of some class (``labels``) then has fewer
    than ``min_events`` events, to the largest step that gives every class that many — but never
    below the step of ``max_density``. Geometric bisection in [lo, hi], ``iters`` rounds."""
    def density(step):
        ev = events_per_sample(step)
        return float(ev.sum()) / (len(ev) * slots)

    def largest(ok, hi):
        low = lo
        for _ in range(iters):
            mid = (low * hi) ** 0.5
            low, hi = (mid, hi) if ok(mid) else (low, mid)
        return low

    step = largest(lambda st: density(st) >= target_density, hi)
    if labels is None or min_events <= 0:
        return step, "target density"
    labels = np.asarray(labels)

    def class_floor_met(st):
        ev = events_per_sample(st)
        return all(np.median(ev[labels == c]) >= min_events for c in np.unique(labels))
    if class_floor_met(step):
        return step, "target density"
    floor_step = largest(class_floor_met, step)
    cap_step = largest(lambda st: density(st) >= max_density, step)
    return (floor_step, "class floor") if floor_step >= cap_step else (cap_step, "density cap")


def fit_levels(S_train: np.ndarray, labels_train=None, levels: int = 64, compress: float = 0.5,
               target_density: float = 0.03, min_events: int | None = None,
               max_density: float = 0.25) -> ChipLevels:
    """Fit the chip encoder on training features only (the test part of a split never enters).

    ``scale``: per line group, the mean S over all training steps (LSB; a group that never moves gets
    1 LSB). ``level_step``: the largest step whose training input density (fraction of the
    ``T x 16 x levels`` slots) is at most ``target_density`` — then lowered, if needed, until the
    median training sample of every class has at least ``min_events`` events (default T, one per
    step), so that no gesture is silent, but never so low that the density passes ``max_density``."""
    S = np.asarray(S_train, dtype=np.float64)
    if S.ndim != 3 or S.shape[2] != 2 * N_CHANNELS or S.shape[0] == 0:
        raise InputError("features", "expected (N, T, 16) magnitude sums of at least one training sample",
                         value=f"shape {S.shape}")
    for name, v, lo, hi in (("target_density", target_density, 0.0, 1.0), ("max_density", max_density, 0.0, 1.0),
                            ("compress", compress, 0.0, 4.0)):
        if not (isinstance(v, (int, float, np.number)) and lo < v <= hi):
            raise InputError(name, "out of range", limit=f"({lo:g}, {hi:g}]", value=v)
    if not isinstance(levels, (int, np.integer)) or levels < 1:
        raise InputError("levels", "must be a positive integer", value=levels)
    T = S.shape[1]
    min_events = T if min_events is None else int(min_events)
    if min_events < 0:
        raise InputError("min_events", "must be >= 0", value=min_events)
    scale = S.mean(axis=(0, 1))
    scale = np.where(scale > 0, scale, 1.0)
    u = np.power(S / scale, compress)
    slots = T * 2 * N_CHANNELS * levels

    def events(step):
        return np.minimum(np.floor(u / step), levels).sum(axis=(1, 2))

    def density(step):
        return float(events(step).sum()) / (S.shape[0] * slots)

    step, how = fit_step(events, labels_train, slots, target_density, min_events, max_density,
                         lo=1e-6, hi=max(float(u.max()), 1e-6) * 2, iters=60)
    fitted = {"how": how, "n_samples": int(S.shape[0]), "target_density": float(target_density),
              "min_events": int(min_events), "max_density": float(max_density), "density": density(step)}
    return ChipLevels(tuple(float(v) for v in scale), float(compress), float(step), int(levels), fitted)


def events_from_counts(cnt: np.ndarray, levels: int):
    """Thermometer CSR of (N, T, G) line counts: level k of group g is line ``g * levels + k``;
    returns (sample_ptr int64, step int16, line int16), sorted by (step, line) within each sample."""
    n, T, G = cnt.shape
    flat = cnt.reshape(-1)
    E = int(flat.sum())
    cell = np.repeat(np.arange(flat.size, dtype=np.int64), flat)
    first = np.repeat(np.cumsum(flat) - flat, flat)
    k = np.arange(E, dtype=np.int64) - first
    line = (cell % G) * levels + k
    step = (cell // G) % T
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cnt.sum(axis=(1, 2)), out=ptr[1:])
    return ptr, step.astype(np.int16), line.astype(np.int16)


def chip_params(T: int = 39, group: int = 10, levels: int = 64, level_step: float | None = None,
                calibrate: str | None = None, compress: float = 0.5, target_density: float = 0.03,
                min_events: int | None = None) -> dict:
    """Checked parameters of the chip encoder (as recorded in the dataset file). ``calibrate``:
    ``"train"`` (fit scales and step on the training samples) or ``"fixed"`` (``level_step`` LSB,
    no scales); default ``"fixed"`` when a ``level_step`` is given, else ``"train"``."""
    if calibrate is None:
        calibrate = "fixed" if level_step is not None else "train"
    for name, v, lo in (("T", T, 1), ("group", group, 1), ("levels", levels, 1)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
            raise InputError(name, "must be a positive integer", value=v)
    if calibrate not in ("train", "fixed"):
        raise InputError("calibrate", "unknown calibration", limit="train, fixed", value=repr(calibrate))
    if calibrate == "fixed":
        level_step = 32.0 if level_step is None else level_step
    if level_step is not None and not (isinstance(level_step, (int, float, np.number)) and np.isfinite(level_step)
                                       and level_step > 0):
        raise InputError("level_step", "must be a positive number", value=level_step)
    if not (isinstance(compress, (int, float, np.number)) and 0 < compress <= 4):
        raise InputError("compress", "out of range", limit="(0, 4]", value=compress)
    if not (isinstance(target_density, (int, float, np.number)) and 0 < target_density <= 1):
        raise InputError("target_density", "out of range", limit="(0, 1]", value=target_density)
    if min_events is not None and (not isinstance(min_events, (int, np.integer)) or min_events < 0):
        raise InputError("min_events", "must be a non-negative integer", value=min_events)
    if 2 * N_CHANNELS * levels > 32768 or T > 32767:
        raise InputError("levels", "too many input lines for the events file", limit=32768 // (2 * N_CHANNELS),
                         value=levels)
    return {"T": int(T), "group": int(group), "levels": int(levels),
            "level_step": None if level_step is None else float(level_step), "calibrate": calibrate,
            "compress": float(compress) if calibrate == "train" else 1.0, "target_density": float(target_density),
            "min_events": int(T if min_events is None else min_events),
            "n_samples": int(T * group + 1), "fs": NOMINAL_FS, "n_in": 2 * N_CHANNELS * int(levels),
            "line": "(2*channel + polarity)*levels + level; polarity 0 up, 1 down",
            "code": "thermometer: level k fires iff (S / scale[2*channel + polarity]) ** compress >= (k+1) * level_step, "
                    "S = sum over the group of |diff| of that polarity (LSB)",
            "pad": "crop to first n_samples; pad by repeating the last sample"}


def levels_for(p: dict, S_fit: np.ndarray, labels_fit=None, fitted_on: str = "all samples") -> ChipLevels:
    """The ChipLevels of checked parameters ``p``: fixed, or fitted on ``S_fit`` (training features)."""
    if p["calibrate"] == "fixed":
        return fixed_levels(p["level_step"], p["levels"])
    lv = fit_levels(S_fit, labels_fit, p["levels"], p["compress"], p["target_density"], p["min_events"])
    if p["level_step"] is not None:   # a given step overrides the fitted one; the scales stay fitted
        lv = ChipLevels(lv.scale, lv.compress, p["level_step"], lv.levels, {**lv.fitted, "how": "given level_step"})
    return ChipLevels(lv.scale, lv.compress, lv.level_step, lv.levels, {**lv.fitted, "on": fitted_on})


def encode_chip(trials, T: int = 39, group: int = 10, levels: int = 64, level_step: float | None = None,
                calibrate: str | None = None, compress: float = 0.5, target_density: float = 0.03,
                min_events: int | None = None, labels=None, progress: Callable[[int], None] | None = None,
                chunk: int = 256) -> Encoded:
    """Chip encoder on trials at 200 Hz (see the module docstring); returns one CSR for all trials,
    with the features kept so that each training split can refit the calibration."""
    p = chip_params(T, group, levels, level_step, calibrate, compress, target_density, min_events)
    parts, mav = [], []
    for a, b in _chunks(len(trials), chunk):
        x = fit_length(trials[a:b], p["n_samples"])
        parts.append(_magnitude_sums(x, T, group))
        mav.append(mav_windows(x))
        if progress is not None:
            progress(b - a)
    if not parts:
        fit_length(trials, p["n_samples"])  # raises: no trials
    S = np.concatenate(parts)
    lv = levels_for(p, S, labels, "all samples of this file (anp train / anp cv refit on each training split)")
    p["calibration"] = lv.to_dict()
    enc = Encoded("chip", T, p["n_in"], p, *events_from_counts(lv.counts(S), p["levels"]))
    enc.features, enc.feature_kind = {"sums": S, "mav": np.concatenate(mav)}, CHIP_FEATURES
    return enc


def chip_encode(trials, T: int = 39, **params) -> list[SpikeInput]:
    """Per-trial SpikeInputs of the chip encoder (1024 lines for the default 64 levels)."""
    return encode_chip(trials, T, **params).spikes()


# ----------------------------------------------------------------------------------------------
# delta encoder
# ----------------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def _delta_raster(r, fs, fs_interp, thr_up, thr_down, T, window_s, out):  # pragma: no cover - numba
    N, n, C = r.shape
    K = int(math.floor((n - 1) * fs_interp / fs + 1e-9)) + 1
    scale = T / window_s
    for i in range(N):
        for c in range(C):
            ref = r[i, 0, c]
            for k in range(1, K):
                pos = k * fs / fs_interp
                j = int(pos)
                if j >= n - 1:
                    v = r[i, n - 1, c]
                else:
                    f = pos - j
                    v = r[i, j, c] + f * (r[i, j + 1, c] - r[i, j, c])
                if v - ref >= thr_up:
                    t = min(int(math.floor(k / fs_interp * scale)), T - 1)
                    out[i, t, 2 * c] = 1
                    ref = v
                elif ref - v >= thr_down:
                    t = min(int(math.floor(k / fs_interp * scale)), T - 1)
                    out[i, t, 2 * c + 1] = 1
                    ref = v


def causal_rms(x: np.ndarray, window: int) -> np.ndarray:
    """Causal RMS along axis 1 of (N, n, C): mean of squares of the last ``window`` samples (fewer at the start)."""
    sq = np.square(x)
    cs = np.cumsum(sq, axis=1)
    out = cs.copy()
    out[:, window:] -= cs[:, :-window]
    cnt = np.minimum(np.arange(1, x.shape[1] + 1), window).astype(np.float64)
    return np.sqrt(np.maximum(out / cnt[None, :, None], 0.0))


DELTA_LOG_FLOOR = 0.02   # sigma units: the log domain modulates log(r / sigma + DELTA_LOG_FLOOR)
DELTA_FEATURES = "delta-rms"   # features: rms (N, n_samples, 8) causal RMS in LSB; moments (N, 2, 8) sum x, sum x^2


def delta_params(T: int = 39, n_samples: int = 391, rms_window: int = 4, fs_interp: float = 3500.0,
                 threshold_up: float | None = None, threshold_down: float | None = None,
                 norm_std: float | None = None, fs: float = NOMINAL_FS, calibrate: str = "train",
                 norm: str = "channel", target_density: float = 0.25, domain: str = "log",
                 min_events: int | None = None) -> dict:
    for name, v in (("T", T), ("n_samples", n_samples), ("rms_window", rms_window)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise InputError(name, "must be a positive integer", value=v)
    if n_samples < 2:
        raise InputError("n_samples", "need at least 2 samples", value=n_samples)
    if calibrate not in ("train", "fixed"):
        raise InputError("calibrate", "unknown calibration", limit="train, fixed", value=repr(calibrate))
    if norm not in ("channel", "global"):
        raise InputError("norm", "unknown normalisation", limit="channel, global", value=repr(norm))
    if domain not in ("log", "linear"):
        raise InputError("domain", "unknown domain", limit="log, linear", value=repr(domain))
    if min_events is not None and (not isinstance(min_events, (int, np.integer)) or min_events < 0):
        raise InputError("min_events", "must be a non-negative integer", value=min_events)
    if calibrate == "fixed":   # the authors' encoder: global std, thresholds 0.05, linear RMS
        threshold_up = 0.05 if threshold_up is None else threshold_up
        threshold_down = 0.05 if threshold_down is None else threshold_down
        norm, domain = "global", "linear"
    for name, v in (("fs_interp", fs_interp), ("threshold_up", threshold_up), ("threshold_down", threshold_down),
                    ("fs", fs), ("target_density", target_density)):
        if v is None and name.startswith("threshold"):
            continue
        if not (isinstance(v, (int, float, np.number)) and np.isfinite(v) and v > 0):
            raise InputError(name, "must be a positive number", value=v)
    if not target_density <= 1:
        raise InputError("target_density", "out of range", limit="(0, 1]", value=target_density)
    if norm_std is not None and not (isinstance(norm_std, (int, float, np.number)) and np.isfinite(norm_std)
                                     and norm_std > 0):
        raise InputError("norm_std", "must be a positive number of Myo LSB", value=norm_std)
    return {"T": int(T), "n_samples": int(n_samples), "rms_window": int(rms_window), "fs_interp": float(fs_interp),
            "threshold_up": None if threshold_up is None else float(threshold_up),
            "threshold_down": None if threshold_down is None else float(threshold_down),
            "norm_std": None if norm_std is None else float(norm_std), "fs": float(fs), "calibrate": calibrate,
            "norm": norm, "target_density": float(target_density), "domain": domain,
            "log_floor": DELTA_LOG_FLOOR, "min_events": int(T if min_events is None else min_events),
            "window_s": n_samples / float(fs), "n_in": 2 * N_CHANNELS,
            "line": "2*channel + polarity; polarity 0 up, 1 down",
            "pad": "crop to first n_samples; pad by repeating the last sample"}


def delta_features(trials, n_samples: int, rms_window: int) -> dict:
    """The delta encoder's pre-threshold values: ``rms`` (N, n_samples, 8) causal RMS in LSB, and
    ``moments`` (N, 2, 8) per trial and channel: sum of x and sum of x^2 over the n_samples (LSB, LSB^2)."""
    x = fit_length(trials, n_samples)
    return {"rms": causal_rms(x, rms_window), "moments": np.stack([x.sum(axis=1), np.square(x).sum(axis=1)], axis=1),
            "mav": mav_windows(x)}


def _delta_norm(moments: np.ndarray, n_samples: int, norm: str) -> np.ndarray:
    """(8,) LSB: the std of the given trials per channel ("channel") or over all channels ("global")."""
    m = np.asarray(moments, dtype=np.float64)
    cnt = m.shape[0] * n_samples
    s1, s2 = m[:, 0].sum(axis=0), m[:, 1].sum(axis=0)
    if norm == "global":
        s1, s2, cnt = np.full(N_CHANNELS, s1.sum()), np.full(N_CHANNELS, s2.sum()), cnt * N_CHANNELS
    var = np.maximum(s2 / cnt - (s1 / cnt) ** 2, 0.0)
    if not np.any(var > 0):
        raise InputError("trials", "all EMG values are equal: cannot normalise by the std", value=0.0)
    return np.where(var > 0, np.sqrt(var), 1.0)    # a channel that never moves: 1 LSB


def _delta_events(rms: np.ndarray, sigma: np.ndarray, p: dict, thr_up: float, thr_down: float, chunk: int = 256):
    parts = []
    for a, b in _chunks(len(rms), chunk):
        r = rms[a:b] / sigma[None, None, :]
        r = np.ascontiguousarray(np.log(r + DELTA_LOG_FLOOR) if p["domain"] == "log" else r)
        out = np.zeros((b - a, p["T"], 2 * N_CHANNELS), dtype=np.uint8)
        _delta_raster(r, p["fs"], p["fs_interp"], thr_up, thr_down, p["T"], p["window_s"], out)
        parts.append(_csr_from_raster(out))
    return _merge(parts)


DELTA_MAX_DENSITY = 0.6   # the class floor never lowers the thresholds past this density


def fit_delta(features: dict, p: dict, labels=None) -> dict:
    """The delta encoder's calibration on training features: ``sigma`` (8,) LSB (the given
    ``norm_std``, else the std of the training trials per channel or globally) and the thresholds
    (given, else one threshold for both polarities, the largest whose training density reaches
    ``target_density`` of the T x 16 slots; bisection)."""
    rms, mom = features["rms"], features["moments"]
    sigma = np.full(N_CHANNELS, p["norm_std"]) if p["norm_std"] is not None else _delta_norm(mom, p["n_samples"], p["norm"])
    up, down = p["threshold_up"], p["threshold_down"]
    how = "given"
    if up is None or down is None:
        slots = p["T"] * 2 * N_CHANNELS

        def per_sample(th):
            return np.diff(_delta_events(rms, sigma, p, up or th, down or th)[0])

        th, how = fit_step(per_sample, labels, slots, p["target_density"], p["min_events"], DELTA_MAX_DENSITY,
                           lo=1e-4, hi=20.0, iters=24)
        up, down = up or th, down or th
    return {"sigma": [float(v) for v in sigma], "threshold_up": float(up), "threshold_down": float(down),
            "fitted": {"how": how, "n_samples": int(len(rms)), "norm": p["norm"]}}


def encode_delta(trials, T: int = 39, n_samples: int = 391, rms_window: int = 4, fs_interp: float = 3500.0,
                 threshold_up: float | None = None, threshold_down: float | None = None,
                 norm_std: float | None = None, fs: float = NOMINAL_FS, calibrate: str = "train",
                 norm: str = "channel", target_density: float = 0.25, domain: str = "log",
                 min_events: int | None = None, labels=None,
                 progress: Callable[[int], None] | None = None, chunk: int = 256) -> Encoded:
    """The authors' delta encoder (see the module docstring). ``calibrate="train"`` (default):
    per-channel std and a threshold for ``target_density``, fitted on the samples given (anp train
    and anp cv refit them on each training split); ``"fixed"``: the authors' global std and 0.05."""
    p = delta_params(T, n_samples, rms_window, fs_interp, threshold_up, threshold_down, norm_std, fs, calibrate, norm,
                     target_density, domain, min_events)
    feats = delta_features(trials, n_samples, rms_window)
    if progress is not None:
        progress(len(trials))
    cal = fit_delta(feats, p, labels)
    cal["fitted"]["on"] = "all samples of this file (anp train / anp cv refit on each training split)"
    p["calibration"] = cal
    enc = Encoded("delta", T, p["n_in"], p, *_delta_events(feats["rms"], np.asarray(cal["sigma"]), p,
                                                           cal["threshold_up"], cal["threshold_down"], chunk))
    enc.features, enc.feature_kind = feats, DELTA_FEATURES
    return enc


def delta_encode(trials, T: int = 39, **params) -> list[SpikeInput]:
    """Per-trial SpikeInputs of the delta encoder (16 lines)."""
    return encode_delta(trials, T, **params).spikes()


def encode_trials(trials, encoder: str = "chip", T: int = 39, progress=None, labels=None, **params) -> Encoded:
    """Encode trials (sequence of (n_i, 8) arrays at 200 Hz) with ``"chip"`` or ``"delta"``."""
    if encoder == "chip":
        unknown = sorted(set(params) - set(CHIP_DEFAULTS))
        if unknown:
            raise InputError(f"encoder_params.{unknown[0]}", "unknown parameter of the chip encoder",
                             limit=sorted(CHIP_DEFAULTS))
        return encode_chip(trials, T, progress=progress, labels=labels, **params)
    if encoder == "delta":
        unknown = sorted(set(params) - set(DELTA_DEFAULTS) - {"fs"})
        if unknown:
            raise InputError(f"encoder_params.{unknown[0]}", "unknown parameter of the delta encoder",
                             limit=sorted(DELTA_DEFAULTS))
        return encode_delta(trials, T, progress=progress, labels=labels, **params)
    raise InputError("encoder", "unknown encoder", limit=", ".join(ENCODERS), value=encoder)


# ----------------------------------------------------------------------------------------------
# calibration from stored features (one fit per training split)
# ----------------------------------------------------------------------------------------------

_PARAM_KEYS = {"chip": ("T", "group", "levels", "level_step", "calibrate", "compress", "target_density", "min_events"),
               "delta": ("T", "n_samples", "rms_window", "fs_interp", "threshold_up", "threshold_down", "norm_std",
                         "fs", "calibrate", "norm", "target_density", "domain", "min_events")}


def _checked(encoder: str, params: dict) -> dict:
    kw = {k: params[k] for k in _PARAM_KEYS[encoder] if k in params}
    return chip_params(**kw) if encoder == "chip" else delta_params(**kw)


def fit_calibration(encoder: str, params: dict, features: dict, fit_idx, labels=None,
                    fitted_on: str = "training split") -> dict:
    """The encoder's calibration fitted on the samples ``fit_idx`` of ``features`` only."""
    p = _checked(encoder, params)
    idx = np.asarray(fit_idx, dtype=np.int64)
    if idx.size == 0:
        raise InputError("fit_idx", "no training samples to calibrate the encoder on", value=0)
    if encoder == "chip":
        lab = None if labels is None else np.asarray(labels)[idx]
        return levels_for(p, features["sums"][idx], lab, fitted_on).to_dict()
    cal = fit_delta({k: v[idx] for k, v in features.items() if k != "mav"}, p, None if labels is None else np.asarray(labels)[idx])
    cal["fitted"]["on"] = fitted_on
    return cal


def apply_calibration(encoder: str, params: dict, features: dict, calibration: dict):
    """(sample_ptr, step, line) of every sample of ``features`` encoded with ``calibration``."""
    p = _checked(encoder, params)
    if encoder == "chip":
        lv = ChipLevels.from_dict(calibration, "calibration")
        return events_from_counts(lv.counts(features["sums"]), lv.levels)
    unknown = sorted(set(calibration) - {"sigma", "threshold_up", "threshold_down", "fitted"})
    if unknown:
        raise InputError(f"calibration.{unknown[0]}", "unknown key", limit="sigma, threshold_up, threshold_down, fitted")
    try:
        sigma = np.asarray(calibration["sigma"], dtype=np.float64)
        up, down = float(calibration["threshold_up"]), float(calibration["threshold_down"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError("calibration", "incomplete delta encoder calibration", value=repr(e)) from None
    if sigma.shape != (N_CHANNELS,) or not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise InputError("calibration.sigma", "expected 8 positive numbers (LSB)", value=sigma.tolist()[:3])
    if not (up > 0 and down > 0 and np.isfinite(up) and np.isfinite(down)):
        raise InputError("calibration.threshold_up", "thresholds must be positive", value=(up, down))
    return _delta_events(features["rms"], sigma, p, up, down)
