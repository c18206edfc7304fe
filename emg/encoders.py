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
from anp_emu.events import SpikeInput

from .ceolini import N_CHANNELS, NOMINAL_FS

ENCODERS = ("chip", "delta")

CHIP_DEFAULTS = {"group": 10, "levels": 64, "level_step": 32.0}
DELTA_DEFAULTS = {"n_samples": 391, "rms_window": 4, "fs_interp": 3500.0, "threshold_up": 0.05,
                  "threshold_down": 0.05, "norm_std": None}


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

def chip_params(T: int = 39, group: int = 10, levels: int = 64, level_step: float = 32.0) -> dict:
    """Checked parameters of the chip encoder (as recorded in the dataset file)."""
    for name, v, lo in (("T", T, 1), ("group", group, 1), ("levels", levels, 1)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise InputError(name, "must be a positive integer", value=v)
    if not (isinstance(level_step, (int, float, np.number)) and np.isfinite(level_step) and level_step > 0):
        raise InputError("level_step", "must be a positive number of Myo LSB", value=level_step)
    if 2 * N_CHANNELS * levels > 32768 or T > 32767:
        raise InputError("levels", "too many input lines for the events file", limit=32768 // (2 * N_CHANNELS),
                         value=levels)
    return {"T": int(T), "group": int(group), "levels": int(levels), "level_step": float(level_step),
            "n_samples": int(T * group + 1), "fs": NOMINAL_FS, "n_in": 2 * N_CHANNELS * int(levels),
            "line": "(2*channel + polarity)*levels + level; polarity 0 up, 1 down",
            "code": "thermometer: level k fires iff sum over the group of |diff| of that polarity >= (k+1)*level_step",
            "pad": "crop to first n_samples; pad by repeating the last sample"}


def _chip_events(x: np.ndarray, T: int, group: int, levels: int, level_step: float):
    n = x.shape[0]
    d = np.diff(x, axis=1).reshape(n, T, group, N_CHANNELS)
    s = np.stack([np.clip(d, 0, None).sum(axis=2), np.clip(-d, 0, None).sum(axis=2)], axis=-1)  # (n, T, C, 2)
    cnt = np.minimum(np.floor(s / level_step), levels).astype(np.int64).reshape(n, T, 2 * N_CHANNELS)
    flat = cnt.reshape(-1)
    E = int(flat.sum())
    cell = np.repeat(np.arange(flat.size, dtype=np.int64), flat)
    first = np.repeat(np.cumsum(flat) - flat, flat)
    k = np.arange(E, dtype=np.int64) - first
    line = (cell % (2 * N_CHANNELS)) * levels + k
    step = (cell // (2 * N_CHANNELS)) % T
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cnt.sum(axis=(1, 2)), out=ptr[1:])
    return ptr, step.astype(np.int16), line.astype(np.int16)


def encode_chip(trials, T: int = 39, group: int = 10, levels: int = 64, level_step: float = 32.0,
                progress: Callable[[int], None] | None = None, chunk: int = 256) -> Encoded:
    """Chip encoder on trials at 200 Hz (see the module docstring); returns one CSR for all trials."""
    p = chip_params(T, group, levels, level_step)
    parts = []
    for a, b in _chunks(len(trials), chunk):
        x = fit_length(trials[a:b], p["n_samples"])
        parts.append(_chip_events(x, T, group, levels, p["level_step"]))
        if progress is not None:
            progress(b - a)
    if not parts:
        fit_length(trials, p["n_samples"])  # raises: no trials
    return Encoded("chip", T, p["n_in"], p, *_merge(parts))


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


def delta_params(T: int = 39, n_samples: int = 391, rms_window: int = 4, fs_interp: float = 3500.0,
                 threshold_up: float = 0.05, threshold_down: float = 0.05, norm_std: float | None = None,
                 fs: float = NOMINAL_FS) -> dict:
    for name, v in (("T", T), ("n_samples", n_samples), ("rms_window", rms_window)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(name, "must be a positive integer", value=v)
    if n_samples < 2:
        raise InputError("n_samples", "need at least 2 samples", value=n_samples)
    for name, v in (("fs_interp", fs_interp), ("threshold_up", threshold_up), ("threshold_down", threshold_down),
                    ("fs", fs)):
        if not (isinstance(v, (int, float, np.number)) and np.isfinite(v) and v > 0):
            raise InputError(name, "must be a positive number", value=v)
    if norm_std is not None and not (np.isfinite(norm_std) and norm_std > 0):
        raise InputError("norm_std", "must be a positive number of Myo LSB", value=norm_std)
    return {"T": int(T), "n_samples": int(n_samples), "rms_window": int(rms_window), "fs_interp": float(fs_interp),
            "threshold_up": float(threshold_up), "threshold_down": float(threshold_down),
            "norm_std": None if norm_std is None else float(norm_std), "fs": float(fs),
            "window_s": n_samples / float(fs), "n_in": 2 * N_CHANNELS,
            "line": "2*channel + polarity; polarity 0 up, 1 down",
            "pad": "crop to first n_samples; pad by repeating the last sample"}


def encode_delta(trials, T: int = 39, n_samples: int = 391, rms_window: int = 4, fs_interp: float = 3500.0,
                 threshold_up: float = 0.05, threshold_down: float = 0.05, norm_std: float | None = None,
                 fs: float = NOMINAL_FS, progress: Callable[[int], None] | None = None, chunk: int = 256) -> Encoded:
    """The authors' delta encoder (see the module docstring); ``norm_std`` (LSB) defaults to the
    global std of the trials given, and the value used is recorded in ``params``."""
    p = delta_params(T, n_samples, rms_window, fs_interp, threshold_up, threshold_down, norm_std, fs)
    if p["norm_std"] is None:
        # global std over all (cropped/padded) trials and channels, in one streaming pass
        s1 = s2 = cnt = 0.0
        for a, b in _chunks(len(trials), chunk):
            x = fit_length(trials[a:b], n_samples)
            s1 += float(x.sum())
            s2 += float(np.square(x).sum())
            cnt += x.size
        if cnt == 0:
            fit_length(trials, n_samples)
        var = max(s2 / cnt - (s1 / cnt) ** 2, 0.0)
        if not var > 0:
            raise InputError("trials", "all EMG values are equal: cannot normalise by the global std", value=0.0)
        p["norm_std"] = float(np.sqrt(var))
    parts = []
    for a, b in _chunks(len(trials), chunk):
        x = fit_length(trials[a:b], n_samples) / p["norm_std"]
        r = causal_rms(x, rms_window)
        out = np.zeros((b - a, T, 2 * N_CHANNELS), dtype=np.uint8)
        _delta_raster(np.ascontiguousarray(r), p["fs"], p["fs_interp"], p["threshold_up"], p["threshold_down"],
                      T, p["window_s"], out)
        parts.append(_csr_from_raster(out))
        if progress is not None:
            progress(b - a)
    if not parts:
        fit_length(trials, n_samples)
    return Encoded("delta", T, p["n_in"], p, *_merge(parts))


def delta_encode(trials, T: int = 39, **params) -> list[SpikeInput]:
    """Per-trial SpikeInputs of the delta encoder (16 lines)."""
    return encode_delta(trials, T, **params).spikes()


def encode_trials(trials, encoder: str = "chip", T: int = 39, progress=None, **params) -> Encoded:
    """Encode trials (sequence of (n_i, 8) arrays at 200 Hz) with ``"chip"`` or ``"delta"``."""
    if encoder == "chip":
        unknown = sorted(set(params) - set(CHIP_DEFAULTS))
        if unknown:
            raise InputError(f"encoder_params.{unknown[0]}", "unknown parameter of the chip encoder",
                             limit=sorted(CHIP_DEFAULTS))
        return encode_chip(trials, T, progress=progress, **params)
    if encoder == "delta":
        unknown = sorted(set(params) - set(DELTA_DEFAULTS) - {"fs"})
        if unknown:
            raise InputError(f"encoder_params.{unknown[0]}", "unknown parameter of the delta encoder",
                             limit=sorted(DELTA_DEFAULTS))
        return encode_delta(trials, T, progress=progress, **params)
    raise InputError("encoder", "unknown encoder", limit=", ".join(ENCODERS), value=encoder)
