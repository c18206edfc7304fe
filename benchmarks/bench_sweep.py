"""Sweep throughput: runs per minute of 8 short trainings, 1 and 2 local workers and a 2-worker
dask LocalCluster.

    python benchmarks/bench_sweep.py EVENTS.h5 [--runs 8] [--epochs 1] [--rounds 2]

Each cell runs the same 8-run sweep (seeds 0..7, MPD-ED, the other options at the `anp train`
defaults) into a fresh folder on a warm kernel cache (a first untimed sweep fills it), timed from
the call to the returned table: worker start-up and kernel loading included, as a user waits.
Cells are interleaved round by round; the machine's load is printed beside each. The figure is
the scaling ratio, runs per minute of a cell over that of 1 worker in the same round.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

import anp_emu.experiments.sweep as sweep

CELLS = (("local, 1 worker", "local", 1), ("local, 2 workers", "local", 2), ("dask LocalCluster, 2", "dask", 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    spec = {"dataset": str(Path(a.events).resolve()), "grid": {"seed": list(range(a.runs))},
            "fixed": {"epochs": a.epochs}}
    print(f"nproc {os.cpu_count()}, {a.runs} runs x {a.epochs} epoch(s) on {a.events}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sweep.run({**spec, "grid": {"seed": [0]}}, Path(tmp) / "warm", workers=1)     # fill the cache
        ref = None
        for r in range(a.rounds):
            for name, executor, workers in CELLS:
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                table = sweep.run(spec, Path(tmp) / f"{r}-{executor}-{workers}", workers=workers, executor=executor)
                dt = time.perf_counter() - t0
                assert (table.status == "ok").all(), table.error.tolist()
                figures = table[["run_id", "test_accuracy", "learning_nj"]]
                if ref is None:
                    ref = figures
                assert figures.equals(ref), "results differ between executors"
                rows.append({"round": r, "cell": name, "seconds": dt, "runs_per_min": a.runs / dt * 60,
                             "load": load, "mean_run_wall_s": table.wall_s.mean()})
                print(f"round {r} {name:22s} load {load:4.1f}  {dt:6.1f} s  {a.runs / dt * 60:5.1f} runs/min  "
                      f"(mean wall per run {table.wall_s.mean():.1f} s)", flush=True)
    df = pd.DataFrame(rows)
    base = df[df.cell == CELLS[0][0]].set_index("round").runs_per_min
    print("\nmedian over rounds: runs per minute, and the ratio to 1 worker in the same round")
    for name, *_ in CELLS:
        c = df[df.cell == name].set_index("round").runs_per_min
        print(f"  {name:22s} {statistics.median(c):5.1f} runs/min  x{statistics.median(c / base):.2f}")


if __name__ == "__main__":
    main()
