"""Cold start: compile time of `anp demo` and of a first `train_step`, and where it goes.

    python benchmarks/bench_coldstart.py [--what demo,train_step,profile] [--rounds 1]

Every measurement runs in a fresh process with its own empty numba cache (NUMBA_CACHE_DIR in a
temporary folder: a fresh install), then again in a fresh process on the now-filled cache; the
compile (and cache-load) cost is the difference.
- demo: `anp demo --subjects 1 --epochs 1 --energy-samples 4 --no-progress` (the whole command).
- train_step: a Python session that builds a 1024-512-10 chip and calls
  `LearningEngine(chip).train_step(x, y)` once (the first step; the config is made without numba).
- profile: the first train_step and the demo's kernels with numba's compile events: exclusive
  seconds per kernel and type signature (a callee compiled inside its caller is not counted twice).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_STEP = r"""
import time, json, sys
t0 = time.perf_counter()
import numpy as np
from anp_emu.chip.config import ChipConfig
from anp_emu.chip.spec import ChipSpec
from anp_emu.learning.settings import LearningSettings
t_import = time.perf_counter() - t0
spec = ChipSpec()
rng = np.random.default_rng(0)
cfg = ChipConfig(spec, rng.integers(-20, 21, (512, 1024)), rng.integers(-60, 61, (10, 512)), 300, 300, 50, 50,
                 learning=LearningSettings(loss="tet"))
x = (rng.random((39, 1024)) < 0.02).astype(np.uint8)
t1 = time.perf_counter()
from anp_emu.chip.emulator import Chip
from anp_emu.learning.engine import LearningEngine
eng = LearningEngine(Chip(cfg))
eng.train_step(x, 3)
t_first = time.perf_counter() - t1
t2 = time.perf_counter()
eng.train_step(x, 3)
t_second = time.perf_counter() - t2
print(json.dumps({"import_s": t_import, "first_step_s": t_first, "second_step_s": t_second}))
"""

PROFILE = r"""
import time, json, sys, collections
from numba.core import event
stack, excl, calls = [], collections.Counter(), collections.Counter()
class Listener(event.Listener):
    def on_start(self, ev):
        stack.append([time.perf_counter(), 0.0])
    def on_end(self, ev):
        t0, child = stack.pop()
        dt = time.perf_counter() - t0
        if stack:
            stack[-1][1] += dt
        d = ev.data["dispatcher"]
        name = f"{d.py_func.__module__.replace('anp_emu.', '')}.{d.py_func.__name__}"
        sig = ",".join(str(a) for a in ev.data["args"])
        excl[(name, sig)] += dt - child
        calls[name] += 1
event.register("numba:compile", Listener())
sys.argv = ["anp"] + sys.argv[1:]
from anp_emu.cli.main import main
try:
    main(standalone_mode=False)
finally:
    rows = sorted(excl.items(), key=lambda kv: -kv[1])
    print(json.dumps({"total_s": sum(excl.values()), "kernels": [[n, s, t] for (n, s), t in rows],
                      "specialisations": calls}), file=sys.stderr)
"""


def run(args, cache, env_extra=None, **kw):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), **(env_extra or {})}
    env.pop("NUMBA_DEBUG_CACHE", None)
    t0 = time.perf_counter()
    p = subprocess.run(args, env=env, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{args[:3]} failed:\n{p.stderr[-2000:]}")
    return wall, p


def anp() -> str:
    exe = Path(sys.executable).with_name("anp")
    return str(exe) if exe.exists() else "anp"


DEMO = ["demo", "--subjects", "1", "--epochs", "1", "--energy-samples", "4", "--no-progress"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", default="demo,train_step")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    what = a.what.split(",")
    print(f"nproc {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    for r in range(a.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            if "demo" in what:
                cold, _ = run([anp(), *DEMO, "-o", str(tmp / "d1")], tmp / "cache-demo")
                warm, _ = run([anp(), *DEMO, "-o", str(tmp / "d2")], tmp / "cache-demo")
                print(f"round {r} anp demo (small): cold cache {cold:.1f} s, warm cache {warm:.1f} s, "
                      f"compile {cold - warm:.1f} s  (load {os.getloadavg()[0]:.1f})", flush=True)
            if "train_step" in what:
                _, p = run([sys.executable, "-c", FIRST_STEP], tmp / "cache-step")
                c = json.loads(p.stdout)
                _, p = run([sys.executable, "-c", FIRST_STEP], tmp / "cache-step")
                w = json.loads(p.stdout)
                print(f"round {r} first train_step from Python: cold cache {c['first_step_s']:.1f} s, warm cache "
                      f"{w['first_step_s']:.2f} s (a later step {w['second_step_s'] * 1e3:.1f} ms); "
                      f"import {c['import_s']:.2f} s  (load {os.getloadavg()[0]:.1f})", flush=True)
                # and the API after the CLI: does the demo's cache serve a Python session?
                if "demo" in what:
                    _, p = run([sys.executable, "-c", FIRST_STEP], tmp / "cache-demo")
                    print(f"round {r} first train_step on the demo's cache: {json.loads(p.stdout)['first_step_s']:.2f} s",
                          flush=True)
            if "profile" in what:
                _, p = run([sys.executable, "-c", PROFILE, *DEMO, "-o", str(tmp / "d3")], tmp / "cache-prof")
                prof = json.loads(p.stderr.strip().splitlines()[-1])
                print(f"round {r} compile events of anp demo: {prof['total_s']:.1f} s exclusive in total")
                for name, sig, t in prof["kernels"][:25]:
                    print(f"  {t:6.2f} s  {name}({sig[:110]})")
                print("  specialisations per kernel: " + ", ".join(f"{k} {v}" for k, v in
                                                                  sorted(prof["specialisations"].items(),
                                                                         key=lambda kv: -kv[1]) if v > 1))


if __name__ == "__main__":
    main()
