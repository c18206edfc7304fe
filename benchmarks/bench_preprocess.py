"""Preprocessing throughput: raw Ceolini folder -> events file, both encoders.

Writes a synthetic dataset the size of the 21-subject release (21 x 3 sessions x 25 trials = 1575
trials; with --fs-jitter a third of the sessions at 167-197 Hz, so the resampling path runs too),
then times each stage and the whole ``preprocess`` + ``save`` for the chip and the delta encoder.
Numba compilation of the delta kernel is timed separately (first call) from the warm runs.

    python benchmarks/bench_preprocess.py [--subjects 21] [--repeat 3] [--fs-jitter]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from anp_emu.runtime.codegen import use_full_vector_width

use_full_vector_width()          # first: numba fixes its code generation with the first kernel created

from anp_emu.emg.ceolini import load_raw_folder
from anp_emu.emg.encoders import encode_trials
from anp_emu.emg.pipeline import encode_source, preprocess
from anp_emu.emg.synthetic import write_synthetic_dataset


def best_of(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=21)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fs-jitter", action="store_true")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        t = time.perf_counter()
        info = write_synthetic_dataset(raw, n_subjects=a.subjects, seed=0, fs_jitter=a.fs_jitter)
        t_synth = time.perf_counter() - t
        fs = info.fs_table if a.fs_jitter else None
        t = time.perf_counter()
        encode_trials([np.zeros((400, 8)) + np.arange(400)[:, None] % 3], "delta")   # numba compile / cache load
        t_jit = time.perf_counter() - t
        t_load, ts = best_of(lambda: load_raw_folder(raw, fs_overrides=fs), a.repeat)
        n = len(ts)
        rows = [("synthesise (write raw folder)", t_synth), ("read + segment + resample", t_load)]
        dens = {}
        for enc in ("chip", "delta"):
            t_enc, ds = best_of(lambda: encode_source(ts, enc, 39), a.repeat)
            dens[enc] = ds.stats().loc["all", "density"]
            rows.append((f"encode {enc}", t_enc))

            def full():
                d = preprocess(raw, encoder=enc, T=39, fs_overrides=fs)
                d.save(Path(tmp) / f"{enc}.h5")
                return d
            t_full, _ = best_of(full, a.repeat)
            size = os.path.getsize(Path(tmp) / f"{enc}.h5")
            rows.append((f"preprocess {enc} end to end (+ save, {size / 1e6:.2f} MB)", t_full))
    print(f"{n} trials ({a.subjects} subjects x 3 sessions x 25), nproc = {os.cpu_count()}, "
          f"fs jitter {'on' if a.fs_jitter else 'off'}, best of {a.repeat}; numba first call {t_jit:.2f} s")
    print("| stage | seconds | trials/s |")
    print("|---|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.3f} | {n / sec:.0f} |")
    print(f"input density: chip {100 * dens['chip']:.2f} % of 39 x 1024, delta {100 * dens['delta']:.1f} % of 39 x 16")


if __name__ == "__main__":
    main()
