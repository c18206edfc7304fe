"""Synthetic Myo EMG written in exactly the raw Ceolini format (the embedded default dataset).

Protocol per session (as in Ceolini et al. 2020): 1 s rest, then 25 gestures (5 classes x 5
repetitions, shuffled) of 2 s each, each followed by about 1 s of rest (0.9-1.2 s). Files:
``subjectXX_sessionYY_emg.npy`` (T, 8) int32 in [-128, 127] and ``subjectXX_sessionYY_ann.npy``
(T,) unicode labels, plus ``sampling_rates.csv`` (subject, session, fs) — the override table to pass
to the reader when sessions ran at other rates.

Like the released files, the annotation leads the EMG by one sample: ``ann[t]`` is the cue of
sample ``t + 1``, so the authors' one-sample shift (prepend ``none``, drop last) realigns them.

Signal model (units: Myo LSB): per channel, ``x = round(clip(a(t) * n(t) + b * w(t)))`` where
``n``, ``w`` are unit Gaussian noise (``n`` mildly low-passed), ``b`` the rest noise (about 2 LSB),
and ``a(t)`` the activation envelope. A gesture of class g activates channel c with weight
``P[g, c]``: a shared anatomical template (neighbouring gestures share muscles: ``yo`` = ``index`` +
``pinky`` extensors, ``elle`` = ``index`` + ``thumb``), seen through a subject-specific armband
rotation (fractional, up to +-1 channel), channel gains and template perturbation, a small
session re-donning rotation, and per repetition an effort factor, pattern noise, an onset delay of
0.1-0.45 s after the cue, an offset delay of 0-0.3 s and a slow amplitude tremor. Volume
conduction spreads each channel into its neighbours (cross-talk).

Seeded and deterministic: the same arguments write byte-identical files.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from anp_emu.errors import FileFormatError, InputError
from anp_emu.files.fileio import temp_path_beside

from anp_emu.emg.ceolini import CLASS_NAMES, EMG_MAX, EMG_MIN, FS_LIMITS, N_CHANNELS, NOMINAL_FS, REST_LABEL

# Anatomical activation templates (rows: pinky, elle, yo, index, thumb; columns: Myo channels
# 0-7 around the forearm). Values are relative activation 0..1.
TEMPLATES = np.array([
    [0.15, 0.10, 0.10, 0.30, 0.85, 0.70, 0.25, 0.10],   # pinky: ulnar extensors / flexors
    [0.55, 0.70, 0.35, 0.10, 0.10, 0.25, 0.55, 0.60],   # elle: index + thumb extension
    [0.40, 0.60, 0.35, 0.25, 0.70, 0.55, 0.20, 0.20],   # yo: index + pinky extension
    [0.40, 0.85, 0.55, 0.20, 0.10, 0.10, 0.15, 0.25],   # index: extensor indicis
    [0.20, 0.25, 0.15, 0.10, 0.15, 0.35, 0.80, 0.70],   # thumb: thenar / abductor pollicis
])


@dataclass(frozen=True)
class SynthParams:
    """Knobs of the generator. The defaults are the ``real`` profile: the properties real Myo
    recordings show (issue 18); :meth:`profile` ``"clean"`` gives the earlier, easier generator."""
    gesture_s: float = 2.0          # s, cue duration
    rest_s: tuple = (0.9, 1.2)      # s, rest after each gesture (uniform)
    lead_rest_s: float = 1.0        # s, rest before the first gesture
    amp: tuple = (24.0, 44.0)       # LSB, subject's peak activation std (uniform)
    template_power: float = 2.0     # sharpens the templates: real gestures load 1-3 channels strongly
    rest_noise: float = 1.2         # LSB, std of the electrode noise floor (present everywhere)
    rest_activity: float = 0.06     # activation (x amp) of the relaxed arm between gestures
    rotation: float = 1.0           # channels, max |armband rotation| of a subject
    session_rotation: float = 0.3   # channels, std of the small re-donning rotation of every session
    subject_pattern_sd: float = 0.15   # subject template perturbation
    rep_pattern_sd: float = 0.30       # per-repetition pattern noise (log-normal)
    effort_sd: float = 0.30            # per-repetition log-effort std
    gain_sd: float = 0.25              # subject channel log-gain std
    onset_s: tuple = (0.10, 0.45)      # s, muscle onset after the cue (uniform)
    offset_s: tuple = (0.0, 0.30)      # s, release delay after the cue ends (uniform)
    ramp_s: float = 0.15               # s, rise/fall time of the envelope
    crosstalk: float = 0.25            # fraction spread into each neighbouring channel
    # per-gesture effort (pinky, elle, yo, index, thumb): real gestures differ by more than 10x and
    # one sits near rest (quieter than the relaxed arm between gestures)
    class_gain: tuple = (0.55, 0.04, 1.0, 0.35, 0.7)
    session_gain_sd: float = 0.25      # per-session, per-channel log-gain drift (re-donning, skin contact)
    rotated_session_prob: float = 0.25  # probability that a session's armband is put back rotated
    rotated_session_shift: tuple = (2, 4)   # electrodes, |shift| of such a session (uniform integer, random sign)

    @classmethod
    def profile(cls, name: str) -> "SynthParams":
        """``"real"`` (the default: amplitude spread, a near-rest gesture, session drift and rotated
        sessions) or ``"clean"`` (the generator before issue 18: equal gesture efforts, no session
        drift or rotation, rest = noise floor of 2 LSB)."""
        if name == "real":
            return cls()
        if name == "clean":
            return cls(amp=(18.0, 34.0), template_power=1.0, rest_noise=2.0, rest_activity=0.0, rep_pattern_sd=0.45,
                       effort_sd=0.35, class_gain=(1.0,) * 5, session_gain_sd=0.0, rotated_session_prob=0.0)
        raise InputError("profile", "unknown synthetic profile", limit="real, clean", value=repr(name))


PROFILES = ("real", "clean")


def _rotate(p: np.ndarray, r: float) -> np.ndarray:
    """Circularly shift the last axis by a fractional number of channels (linear interpolation)."""
    k = int(np.floor(r))
    f = r - k
    return (1 - f) * np.roll(p, k, axis=-1) + f * np.roll(p, k + 1, axis=-1)


def synth_session(rng: np.random.Generator, subject_pattern: np.ndarray, subject_amp: float,
                  fs: float = NOMINAL_FS, n_reps: int = 5, params: SynthParams = SynthParams()):
    """One session: returns (emg (T, 8) int32, ann (T,) str labels, cue list [(class, start, stop)]).

    ``subject_pattern`` (5, 8): the subject's activation weights; ``subject_amp``: LSB.
    """
    P = params
    order = np.repeat(np.arange(len(CLASS_NAMES)), n_reps)
    rng.shuffle(order)
    rest = rng.uniform(*P.rest_s, size=len(order))
    starts_s = P.lead_rest_s + np.concatenate([[0.0], np.cumsum(P.gesture_s + rest)[:-1]])
    total_s = starts_s[-1] + P.gesture_s + rest[-1]
    T = int(round(total_s * fs))
    t = np.arange(T) / fs
    sess_rot = rng.normal(0, P.session_rotation)
    if P.rotated_session_prob > 0 and rng.random() < P.rotated_session_prob:
        lo_k, hi_k = P.rotated_session_shift
        sess_rot += rng.choice([-1, 1]) * rng.integers(lo_k, hi_k + 1)
    pat = _rotate(subject_pattern, sess_rot)
    if P.session_gain_sd > 0:
        pat = pat * np.exp(rng.normal(0, P.session_gain_sd, N_CHANNELS))[None, :]
    env = np.zeros((T, N_CHANNELS))
    labels = np.full(T, -1, dtype=np.int64)
    cues = []
    for g, s0 in zip(order, starts_s):
        i0, i1 = int(round(s0 * fs)), int(round((s0 + P.gesture_s) * fs))
        labels[i0:i1] = g
        cues.append((int(g), i0, i1))
        on = s0 + rng.uniform(*P.onset_s)
        off = s0 + P.gesture_s + rng.uniform(*P.offset_s)
        effort = np.exp(rng.normal(0, P.effort_sd)) * P.class_gain[g]
        w = np.clip(pat[g] * np.exp(rng.normal(0, P.rep_pattern_sd, N_CHANNELS)), 0, None) * effort
        lo, hi = int(np.floor(on * fs)), min(T, int(np.ceil((off + P.ramp_s) * fs)) + 1)
        tt = t[lo:hi]
        shape = np.clip((tt - on) / P.ramp_s, 0, 1) * np.clip((off + P.ramp_s - tt) / P.ramp_s, 0, 1)
        tremor = 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * tt + rng.uniform(0, 2 * np.pi))
        env[lo:hi] += (shape * tremor)[:, None] * w[None, :]
    if P.rest_activity > 0:   # the relaxed arm between gestures: a low, slowly varying tone
        tone = P.rest_activity * (1 + 0.3 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi)))
        env += np.where(labels < 0, 1.0, 0.0)[:, None] * tone[:, None] * pat.mean(axis=0)[None, :] / pat.mean()
    # cross-talk between neighbouring electrodes
    c = P.crosstalk
    env = (1 - 2 * c) * env + c * (np.roll(env, 1, axis=1) + np.roll(env, -1, axis=1))
    carrier = rng.standard_normal((T, N_CHANNELS))
    carrier = (carrier + 0.4 * np.roll(carrier, 1, axis=0)) / np.sqrt(1.16)   # mild low-pass
    x = subject_amp * env * carrier + P.rest_noise * rng.standard_normal((T, N_CHANNELS))
    emg = np.clip(np.round(x), EMG_MIN, EMG_MAX).astype(np.int32)
    names = np.array(list(CLASS_NAMES) + [REST_LABEL])
    true = names[labels]                      # labels[-1] = -1 -> "none"
    ann = np.concatenate([true[1:], [REST_LABEL]]).astype("<U5")   # the release's one-sample lead
    return emg, ann, cues


def subject_model(rng: np.random.Generator, params: SynthParams = SynthParams()):
    """A subject's (5, 8) activation pattern and amplitude (LSB)."""
    P = params
    pat = np.clip(TEMPLATES + rng.normal(0, P.subject_pattern_sd, TEMPLATES.shape), 0.02, None)
    if P.template_power != 1.0:
        pat = pat ** P.template_power / np.mean(TEMPLATES ** P.template_power) * np.mean(TEMPLATES)
    pat = pat * np.exp(rng.normal(0, P.gain_sd, N_CHANNELS))[None, :]
    pat = _rotate(pat, rng.uniform(-P.rotation, P.rotation))
    return pat, float(rng.uniform(*P.amp))


@dataclass
class SynthInfo:
    outdir: Path
    files: list[Path]
    fs: dict                     # (subject, session) -> Hz
    n_trials: int
    fs_table: Path


def session_rates(n_subjects: int, n_sessions: int, seed: int, fs=NOMINAL_FS, fs_jitter: bool = False) -> dict:
    """(subject, session) -> Hz. ``fs`` a number or a mapping; ``fs_jitter`` draws about a third of the
    sessions at 167-197 Hz (as some real sessions ran), deterministically from ``seed``."""
    rng = np.random.default_rng([seed, 7])
    out = {}
    for s in range(1, n_subjects + 1):
        for k in range(1, n_sessions + 1):
            f = fs.get((s, k), NOMINAL_FS) if isinstance(fs, Mapping) else fs
            jit = rng.uniform(167.0, 197.0)
            if fs_jitter and rng.random() < 1 / 3:
                f = round(jit, 1)
            if not (np.isfinite(float(f)) and FS_LIMITS[0] <= float(f) <= FS_LIMITS[1]):
                raise InputError(f"fs[subject {s} session {k}]", "sampling rate out of range",
                                 limit=f"{FS_LIMITS[0]:g}..{FS_LIMITS[1]:g} Hz", value=f)
            out[(s, k)] = float(f)
    return out


def check_outdir(outdir) -> tuple[Path, Path]:
    """(folder, parent) if ``outdir`` can receive a new dataset: absent or empty, parent exists."""
    out = Path(outdir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileFormatError(out, "output folder exists and is not empty (choose a new folder)")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(out, f"parent folder {parent} does not exist")
    return out, parent


def write_synthetic_dataset(outdir, n_subjects: int = 4, seed: int = 0, n_sessions: int = 3, n_reps: int = 5,
                            fs=NOMINAL_FS, fs_jitter: bool = False, params: SynthParams = SynthParams(),
                            progress: Callable[[int], None] | None = None) -> SynthInfo:
    """Write a synthetic raw Ceolini dataset into ``outdir`` (created; must not hold files yet).

    ``n_subjects`` x ``n_sessions`` sessions of 5 gestures x ``n_reps`` repetitions (defaults: 4 x 3
    x 25 = 300 trials, about 9 MB: int32 EMG and 5-character unicode labels, as released).
    ``fs``: Hz, one rate or {(subject, session): Hz}; ``fs_jitter`` puts about a third of the
    sessions at 167-197 Hz. All rates are listed in ``outdir/sampling_rates.csv``. The folder appears complete or not at all (written beside it,
    then renamed). ``progress(n)`` is called after each session.
    """
    for name, v, lo in (("n_subjects", n_subjects, 1), ("n_sessions", n_sessions, 1), ("n_reps", n_reps, 1)):
        if not isinstance(v, (int, np.integer)) or v < lo or v > 99:
            raise InputError(name, "must be an integer", limit=f"{lo}..99", value=v)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError("seed", "must be a non-negative integer", value=seed)
    out, parent = check_outdir(outdir)
    rates = session_rates(n_subjects, n_sessions, seed, fs, fs_jitter)
    tmp = temp_path_beside(out, folder=True)   # with the user's umask, not mkdtemp's 0700
    files = []
    try:
        for s in range(1, n_subjects + 1):
            srng = np.random.default_rng([seed, s])
            pat, amp = subject_model(srng, params)
            for k in range(1, n_sessions + 1):
                rng = np.random.default_rng([seed, s, k])
                emg, ann, _ = synth_session(rng, pat, amp, rates[(s, k)], n_reps, params)
                stem = f"subject{s:02d}_session{k:02d}"
                np.save(tmp / f"{stem}_emg.npy", emg)
                np.save(tmp / f"{stem}_ann.npy", ann)
                files += [out / f"{stem}_emg.npy", out / f"{stem}_ann.npy"]
                if progress is not None:
                    progress(1)
        lines = ["subject,session,fs"] + [f"{s},{k},{f:g}" for (s, k), f in rates.items()]
        (tmp / "sampling_rates.csv").write_text("\n".join(lines) + "\n")
        if out.exists():
            out.rmdir()          # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return SynthInfo(out, files, rates, n_subjects * n_sessions * n_reps * len(CLASS_NAMES), out / "sampling_rates.csv")
