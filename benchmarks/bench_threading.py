"""Threading on a shared machine: k concurrent `anp train` processes under each numba setting.

    python benchmarks/bench_threading.py EVENTS.h5 [--rounds 3] [--epochs 2] [--concurrent 3]

For each setting (environment of the `anp train` processes) and each concurrency (1 and k runs
started together), the training throughput of every process (training samples per second from
its log.csv, i.e. the time inside the training loop, not the process start) and its wall time.
Settings and concurrencies are interleaved round by round so that every setting sees the same
machine state; the machine's load (os.getloadavg) is printed before every cell. The figure is,
per concurrency, the training time of a setting over that of NUMBA_NUM_THREADS=1 in the same
round (median over rounds).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

SETTINGS = {                     # name -> environment of the anp train processes
    "1-thread": {"NUMBA_NUM_THREADS": "1"},
    "anp-default": {},
    "omp-active": {"ANP_THREADING": "numba"},                       # numba's own defaults
    "omp-passive": {"ANP_THREADING": "numba", "OMP_WAIT_POLICY": "passive"},
    "workqueue": {"ANP_THREADING": "numba", "NUMBA_THREADING_LAYER": "workqueue"},
}


def anp() -> str:
    exe = Path(sys.executable).with_name("anp")
    return str(exe) if exe.exists() else "anp"


def run_cell(events, env_extra, k, epochs, base_env):
    """k concurrent trainings; returns [(train seconds, wall seconds)] per process."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**base_env, **env_extra}
        procs = []
        t0 = time.perf_counter()
        for i in range(k):
            out = Path(tmp) / f"r{i}"
            procs.append((out, subprocess.Popen([anp(), "train", str(events), "-o", str(out), "--epochs", str(epochs),
                                                 "--no-progress", "--seed", str(i)], env=env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
        res = []
        for out, p in procs:
            _, err = p.communicate()
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                raise SystemExit(f"anp train failed: {err.decode()[-500:]}")
            log = pd.read_csv(out / "log.csv")
            n = pd.read_json(out / "summary.json", typ="series")["train_samples"]
            res.append((float((n / log["samples_per_s"]).sum()), wall))
        return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=3)
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    a = ap.parse_args()
    names = [s for s in a.settings.split(",") if s]
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "ANP_THREADING")}
    print(f"nproc {os.cpu_count()}, {a.rounds} rounds, {a.epochs} epochs per run, {a.events}")
    rows = []
    for r in range(a.rounds):
        for k in (1, a.concurrent):
            for name in names:
                load = os.getloadavg()[0]
                res = run_cell(a.events, SETTINGS[name], k, a.epochs, base_env)
                for train_s, wall in res:
                    rows.append({"round": r, "concurrent": k, "setting": name, "train_s": train_s, "wall_s": wall,
                                 "load_before": load})
                print(f"round {r} k={k} {name:12s} load {load:4.1f}  train s "
                      + " ".join(f"{t:.2f}" for t, _ in res) + "  wall s " + " ".join(f"{w:.1f}" for _, w in res),
                      flush=True)
    df = pd.DataFrame(rows)
    cell = df.groupby(["round", "concurrent", "setting"], sort=False)["train_s"].mean().unstack("setting")
    print("\nmedian over rounds of the mean training time per process, and its ratio to 1 thread in the same round")
    for k, g in cell.groupby(level="concurrent"):
        ratio = g.div(g["1-thread"], axis=0)
        for name in names:
            print(f"  k={k}  {name:12s} {statistics.median(g[name]):6.2f} s  x{statistics.median(ratio[name]):.2f}")


if __name__ == "__main__":
    main()
