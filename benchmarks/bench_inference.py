"""Inference speed of the emulated ANP-I: samples per second, 1024-512-10.

    python benchmarks/bench_inference.py [--samples 200] [--json]

Rows: int (bit-exact, numba event-driven), float (twin, numba), and two dense numpy
implementations of the same integer dynamics as references: a straightforward one (int64
matrix-vector product per step) and a batched one (all steps' input currents as one float64 BLAS
matrix product, exact for these integers); input densities 1 %, 5 %, 20 % at T = 39, and 5 % at
T = 100. Both references are checked to give exactly the same spikes as the int kernel.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from anp_emu.runtime.codegen import use_full_vector_width

use_full_vector_width()          # first: numba fixes its code generation with the first kernel created

from anp_emu.chip.emulator import Chip
from anp_emu.chip.config import ChipConfig
from anp_emu.chip.events import SpikeInput


def dense_numpy_forward(cfg: ChipConfig, x: np.ndarray, batched_input: bool = False):
    """The five-step dynamics written plainly with dense numpy (no events, no numba). With
    ``batched_input`` the hidden layer's input currents of all steps are one float64 matrix product
    (BLAS) before the loop: exact, as every partial sum is an integer far below 2^53."""
    spec = cfg.spec
    lo, hi = spec.v_range
    W = [cfg.w_hid.astype(np.int64), cfg.w_out.astype(np.int64)]
    currents = (x.astype(np.float64) @ cfg.w_hid.T.astype(np.float64)).astype(np.int64) if batched_input else None
    theta = [cfg.theta_hid, cfg.theta_out]
    aux = [cfg.w_aux_hid, cfg.w_aux_out]
    v = [np.zeros(spec.n_hid, np.int64), np.zeros(spec.n_out, np.int64)]
    s = [np.zeros(spec.n_hid, bool), np.zeros(spec.n_out, bool)]
    out = []
    for t in range(x.shape[0]):
        pre = x[t].astype(np.int64)
        for layer in (0, 1):
            vl = np.where(s[layer], 0, v[layer] - (v[layer] >> spec.leak_shift))
            current = currents[t] if batched_input and layer == 0 else W[layer] @ pre
            vl = vl + current + np.where(s[layer], 0, aux[layer])
            v[layer] = np.clip(vl, lo, hi)
            s[layer] = v[layer] >= theta[layer]
            pre = s[layer].astype(np.int64)
        out.append(s[1].copy())
    return np.array(out)


def time_per_sample(fn, samples, repeat=1) -> float:
    fn(samples[0])  # compile / warm up
    t0 = time.perf_counter()
    for _ in range(repeat):
        for x in samples:
            fn(x)
    return (time.perf_counter() - t0) / (repeat * len(samples))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = ChipConfig.random(seed=1, theta_hid=600, theta_out=600, w_aux_hid=10, w_aux_out=10)
    chips = {"int": Chip(cfg, "int"), "float": Chip(cfg, "float")}
    rng = np.random.default_rng(0)
    rows = []
    for T, density in ((39, 0.01), (39, 0.05), (39, 0.20), (100, 0.05)):
        dense = [(rng.random((T, cfg.spec.n_in)) < density).astype(np.uint8) for _ in range(args.samples)]
        events = [SpikeInput.from_dense(x) for x in dense]
        for batched in (False, True):
            ref = dense_numpy_forward(cfg, dense[0], batched)
            assert np.array_equal(ref, chips["int"].run(events[0]).s_out.astype(bool)), "dense reference differs"
        hid = np.mean([chips["int"].run(e).counters["hidden", "spikes"] for e in events[:20]]) / (T * cfg.spec.n_hid)
        res = {"T": T, "input_density": density, "hidden_activity": round(float(hid), 4)}
        for name, chip in chips.items():
            res[f"{name}_ms"] = time_per_sample(chip.run, events, repeat=2) * 1e3
        for key, batched in (("dense_numpy_ms", False), ("batched_numpy_ms", True)):
            res[key] = time_per_sample(lambda x: dense_numpy_forward(cfg, x, batched),
                                       dense[: max(10, args.samples // 10)]) * 1e3
        res["int_samples_per_s"] = 1e3 / res["int_ms"]
        res["speedup_vs_dense"] = res["dense_numpy_ms"] / res["int_ms"]
        res["speedup_vs_batched"] = res["batched_numpy_ms"] / res["int_ms"]
        rows.append(res)
    if args.json:
        print(json.dumps({"nproc": os.cpu_count(), "rows": rows}, indent=1))
        return
    print(f"nproc={os.cpu_count()}  1024-512-10, {args.samples} samples per row")
    print("| T | input density | hidden activity | int ms | float ms | dense numpy ms (per step / batched) "
          "| int samples/s | int speed-up vs dense (per step / batched) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['T']} | {r['input_density']:.0%} | {r['hidden_activity']:.2%} | {r['int_ms']:.3f} | {r['float_ms']:.3f} "
              f"| {r['dense_numpy_ms']:.3f} / {r['batched_numpy_ms']:.3f} | {r['int_samples_per_s']:.0f} "
              f"| {r['speedup_vs_dense']:.1f}x / {r['speedup_vs_batched']:.1f}x |")


if __name__ == "__main__":
    main()
