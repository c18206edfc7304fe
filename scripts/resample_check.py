"""Linear (np.interp, what emg/ceolini.resample does) vs scipy.signal.resample_poly for sessions recorded
off 200 Hz: what the chip encoder makes of each, on the demo's synthetic set with fs_jitter (10 subjects,
seed 0; about a third of the sessions at 167-197 Hz). Run: python scripts/resample_check.py (in a scratch folder)."""
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

import anp_emu.emg.ceolini as ce
from anp_emu.emg.pipeline import preprocess
from anp_emu.emg.synthetic import write_synthetic_dataset
from anp_emu.emg.crossval import split_dataset, fold_baselines, folds_of

raw = Path("raw10j")
if not raw.exists():
    write_synthetic_dataset(raw, n_subjects=10, seed=0, fs_jitter=True)
linear = ce.resample


def poly(x, fs_in, fs_out=ce.NOMINAL_FS):
    x = np.asarray(x, dtype=np.float64)
    if fs_in == fs_out:
        return x.copy()
    n_out = max(1, int(round(x.shape[0] * fs_out / fs_in)))
    f = Fraction(fs_out / fs_in).limit_denominator(1000)
    y = resample_poly(x, f.numerator, f.denominator, axis=0, padtype="line")
    if y.shape[0] < n_out:
        y = np.concatenate([y, np.repeat(y[-1:], n_out - y.shape[0], 0)])
    return y[:n_out]


out = {}
for name, fn in (("linear", linear), ("poly", poly)):
    ce.resample = fn
    t = time.perf_counter()
    ds = preprocess(raw, encoder="chip", T=39, fs_overrides=raw / "sampling_rates.csv")
    sd = split_dataset(ds, "random", seed=0)
    out[name] = (ds, sd, time.perf_counter() - t)
    ce.resample = linear
a, b = out["linear"][1].train, out["poly"][1].train
same = bins = 0
for i in range(len(a)):
    x, y = a.sample(i).to_dense(a.n_in), b.sample(i).to_dense(b.n_in)
    same += int(np.sum(x == y)); bins += x.size
ea, eb = a.events_per_sample.mean(), b.events_per_sample.mean()
print(f"train samples {len(a)}; (step, line) bins identical {same}/{bins} = {same / bins:.4%}; "
      f"events/sample linear {ea:.1f}, poly {eb:.1f}")
for name in out:
    ds = out[name][0]
    base = fold_baselines(ds, folds_of(ds, "random", seed=0)[0])
    print(name, "baselines", {k: round(v, 4) for k, v in base.items()}, f"preprocess {out[name][2]:.1f} s")
