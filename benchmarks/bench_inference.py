"""Inference speed of the emulated ANP-I: samples per second, 1024-512-10.

    python benchmarks/bench_inference.py [--samples 200] [--json]

Rows: int (bit-exact, numba event-driven), float (twin, numba), and a straightforward dense numpy
implementation of the same integer dynamics (matrix-vector product per step) as the reference;
input densities 1 %, 5 %, 20 % at T = 39, and 5 % at T = 100. The dense reference is also checked
to give exactly the same spikes as the int kernel.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from anp_emu.codegen import use_full_vector_width

use_full_vector_width()          # first: numba fixes its code generation with the first kernel created

from anp_emu.chip import Chip
from anp_emu.config import ChipConfig
from anp_emu.events import SpikeInput


def dense_numpy_forward(cfg: ChipConfig, x: np.ndarray):
    """The five-step dynamics written plainly with dense numpy (no events, no numba)."""
    spec = cfg.spec
    lo, hi = spec.v_range
    W = [cfg.w_hid.astype(np.int64), cfg.w_out.astype(np.int64)]
    theta = [cfg.theta_hid, cfg.theta_out]
    aux = [cfg.w_aux_hid, cfg.w_aux_out]
    v = [np.zeros(spec.n_hid, np.int64), np.zeros(spec.n_out, np.int64)]
    s = [np.zeros(spec.n_hid, bool), np.zeros(spec.n_out, bool)]
    out = []
    for t in range(x.shape[0]):
        pre = x[t].astype(np.int64)
        for layer in (0, 1):
            vl = np.where(s[layer], 0, v[layer] - (v[layer] >> spec.leak_shift))
            vl = vl + W[layer] @ pre + np.where(s[layer], 0, aux[layer])
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
        ref = dense_numpy_forward(cfg, dense[0])
        assert np.array_equal(ref, chips["int"].run(events[0]).s_out.astype(bool)), "dense reference differs"
        hid = np.mean([chips["int"].run(e).counters["hidden", "spikes"] for e in events[:20]]) / (T * cfg.spec.n_hid)
        res = {"T": T, "input_density": density, "hidden_activity": round(float(hid), 4)}
        for name, chip in chips.items():
            res[f"{name}_ms"] = time_per_sample(chip.run, events, repeat=2) * 1e3
        res["dense_numpy_ms"] = time_per_sample(lambda x: dense_numpy_forward(cfg, x), dense[: max(10, args.samples // 10)]) * 1e3
        res["int_samples_per_s"] = 1e3 / res["int_ms"]
        res["speedup_vs_dense"] = res["dense_numpy_ms"] / res["int_ms"]
        rows.append(res)
    if args.json:
        print(json.dumps({"nproc": os.cpu_count(), "rows": rows}, indent=1))
        return
    print(f"nproc={os.cpu_count()}  1024-512-10, {args.samples} samples per row")
    print("| T | input density | hidden activity | int ms | float ms | dense numpy ms | int samples/s | int speed-up vs dense |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['T']} | {r['input_density']:.0%} | {r['hidden_activity']:.2%} | {r['int_ms']:.3f} | {r['float_ms']:.3f} "
              f"| {r['dense_numpy_ms']:.3f} | {r['int_samples_per_s']:.0f} | {r['speedup_vs_dense']:.1f}x |")


if __name__ == "__main__":
    main()
