"""Training speed on the emulated ANP-I: samples per second, forward + backward + update.

    python benchmarks/bench_training.py [--samples 40]

1024-512-10, T = 39, batch size 1, int chip, stochastic rounding. Rows: input densities 1/5/20 %
for MPD-ED (full temporal recursion, and the temporal path windowed to one step, Wei et al. Eq. 21
as printed) and STBP (numba), and a dense numpy BPTT of the same equations (float64, the
reference) in two forms: a matrix-vector product per step for the input currents, and the input
currents of all steps as one matrix product (batched); then MPD-ED time against hidden activity
(thresholds varied) at 5 % input. The five training cells of a row are timed in interleaved
rounds, and numpy / MPD-ED is the median over the rounds of the ratio within a round: both sides
of the ratio see the same machine state.
Configs come from the threshold-calibrated init (5 % hidden activity, aux 30 % of theta).
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np

from anp_emu.runtime.codegen import use_full_vector_width

use_full_vector_width()          # first: numba fixes its code generation with the first kernel created

from anp_emu.chip.emulator import Chip
from anp_emu.chip.events import SpikeInput
from anp_emu.chip.initialise import init_config
from anp_emu.learning.engine import LearningEngine
from anp_emu.learning.settings import LearningSettings
from anp_emu.chip.spec import ChipSpec


def dense_numpy_bptt(W1, W2, th1, th2, a1, a2, X, label, lr=1000.0, gain=10.0, tau=0.5, batched_input=False):
    """Forward and backward with dense numpy, STBP rect surrogate (width = theta), CE on counts;
    W1, W2 updated in place. The input currents W1 @ X[t] are one matrix-vector product per step,
    or with ``batched_input`` one matrix product X @ W1.T for all steps before the loop (the input
    does not depend on the state): the same numbers, W1 streamed from memory once instead of T
    times — the stronger numpy reference."""
    T = X.shape[0]
    I1 = X @ W1.T if batched_input else None
    v1, v2 = np.zeros(W1.shape[0]), np.zeros(W2.shape[0])
    s1, s2 = np.zeros_like(v1), np.zeros_like(v2)
    V1, V2, S1, S2 = [], [], [], []
    for t in range(T):
        v1 = np.where(s1 > 0, 0, tau * v1 + a1) + (I1[t] if batched_input else W1 @ X[t])
        s1 = (v1 >= th1).astype(float)
        v2 = np.where(s2 > 0, 0, tau * v2 + a2) + W2 @ s1
        s2 = (v2 >= th2).astype(float)
        V1.append(v1); V2.append(v2); S1.append(s1); S2.append(s2)
    V1, V2, S1, S2 = map(np.array, (V1, V2, S1, S2))
    z = gain * S2.sum(0) / T
    p = np.exp(z - z.max()); p /= p.sum(); p[label] -= 1
    F1 = (np.abs(V1 - th1) < th1 / 2) / th1
    F2 = (np.abs(V2 - th2) < th2 / 2) / th2
    du1, du2 = np.zeros_like(V1), np.zeros_like(V2)
    n1, n2 = np.zeros(W1.shape[0]), np.zeros(W2.shape[0])
    for t in reversed(range(T)):
        n2 = p * gain / T * F2[t] + tau * (1 - S2[t]) * n2
        n1 = (W2.T @ n2) * F1[t] + tau * (1 - S1[t]) * n1
        du1[t], du2[t] = n1, n2
    W1 -= lr * du1.T @ X
    W2 -= lr * du2.T @ S1


def config_bptt(W1, W2, cfg, X, label, batched_input):
    """``dense_numpy_bptt`` with the thresholds and aux weights of ``cfg``."""
    dense_numpy_bptt(W1, W2, cfg.theta_hid, cfg.theta_out, cfg.w_aux_hid, cfg.w_aux_out, X, label,
                     batched_input=batched_input)


def check_batched_input(W1, W2, cfg, X):
    """Both numpy references update the weights alike on one sample (else the comparison is void)."""
    updated = []
    for batched in (False, True):
        w1, w2 = W1.copy(), W2.copy()
        config_bptt(w1, w2, cfg, X, 0, batched)
        updated.append((w1, w2))
    for a, b in zip(*updated):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def timed_round(fn, n, start=0):
    """Seconds per call over n calls fn(start), ..., fn(start + n - 1)."""
    t0 = time.perf_counter()
    for i in range(start, start + n):
        fn(i)
    return (time.perf_counter() - t0) / n


def warm_up(fn, seconds):
    """Untimed calls of fn for at least ``seconds`` (and at least two calls)."""
    t_end = time.perf_counter() + seconds
    calls = 0
    while calls < 2 or time.perf_counter() < t_end:
        fn(calls)
        calls += 1


def interleaved(cells, rounds=7, pause=0.5, warm=0.03):
    """Seconds per call of each cell {name: (fn, n, uses_blas)}: ``rounds`` rounds, each timing
    every cell once in turn, so that all cells of a round see the same state of the machine (its
    speed drifts by up to 1.5x over minutes). Returns {name: [seconds per call of each round]}.
    A BLAS cell is preceded and followed by ``pause`` s, so that numba's idle OpenMP workers do not
    spin against numpy's BLAS threads, nor BLAS threads against the next numba cell. Each cell
    first runs untimed for ``warm`` s: the previous cell evicted its arrays from the caches (the
    dense BPTT alone streams 4 MB of float64 weights), and after a pause the core needs a few ms
    to come back to speed (a handful of warm calls left MPD-ED ~1.4x slower than back-to-back)."""
    for fn, _, _ in cells.values():
        fn(0)   # compile
    times = {name: [] for name in cells}
    for r in range(rounds):
        for name, (fn, n, uses_blas) in cells.items():
            if uses_blas:
                time.sleep(pause)
            warm_up(fn, warm)
            times[name].append(timed_round(fn, n, r * n))
            if uses_blas:
                time.sleep(pause)
    return times


def per_sample(fn, n, rounds=7):
    """Seconds per call: the median of ``rounds`` timed rounds of n calls."""
    return float(np.median(interleaved({"cell": (fn, n, False)}, rounds)["cell"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--rules-only", action="store_true", help="Only the table of all four rules.")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    if args.rules_only:
        print(f"nproc={os.cpu_count()}  numba threads={numba.get_num_threads()}  1024-512-10, T=39, int chip")
        return spike_time_rules(args.samples, rng)
    spec = ChipSpec()
    print(f"nproc={os.cpu_count()}  numba threads={numba.get_num_threads()}  1024-512-10, T=39, {args.samples} samples per cell, int chip, batch size 1")
    print("| input density | hidden activity | MPD-ED ms | MPD-ED window 1 ms | STBP ms "
          "| numpy BPTT ms (per step / batched) | MPD-ED samples/s (full / window 1) "
          "| per-step numpy / MPD-ED (full / window 1) | batched numpy / MPD-ED (full / window 1) | STBP / MPD-ED |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for density in (0.01, 0.05, 0.20):
        xs = [SpikeInput.from_dense(rng.random((39, 1024)) < density) for _ in range(args.samples)]
        cfg, rep = init_config(spec, xs[:20], seed=0, target_hidden=0.05, aux_frac=0.3)
        W1, W2 = cfg.w_hid.astype(float), cfg.w_out.astype(float)
        dense = [x.to_dense(1024).astype(float) for x in xs]
        cells = {}
        for name, rule, window in (("mpd-ed", "mpd-ed", None), ("mpd-ed-1", "mpd-ed", 1), ("stbp", "stbp", None)):
            eng = LearningEngine(Chip(cfg.copy()), LearningSettings(rule=rule, temporal_window=window))
            cells[name] = (lambda i, eng=eng: eng.train_step(xs[i % len(xs)], i % 10), args.samples, False)
        check_batched_input(W1, W2, cfg, dense[0])
        for name, batched in (("numpy", False), ("numpy-batched", True)):
            cells[name] = (lambda i, batched=batched: config_bptt(W1, W2, cfg, dense[i % len(xs)], i % 10, batched),
                           max(5, args.samples // 4), True)
        times = interleaved(cells)
        res = {name: float(np.median(t)) for name, t in times.items()}
        # numpy / MPD-ED of the same round, then the median over the rounds
        ratio = {(n, k): float(np.median(np.divide(times[n], times[k])))
                 for n in ("numpy", "numpy-batched") for k in ("mpd-ed", "mpd-ed-1")}
        print(f"| {density:.0%} | {rep.hidden_activity:.1%} | {res['mpd-ed'] * 1e3:.2f} | {res['mpd-ed-1'] * 1e3:.2f} | "
              f"{res['stbp'] * 1e3:.2f} | {res['numpy'] * 1e3:.2f} / {res['numpy-batched'] * 1e3:.2f} | "
              f"{1 / res['mpd-ed']:.0f} / {1 / res['mpd-ed-1']:.0f} | "
              f"{ratio['numpy', 'mpd-ed']:.1f}x / {ratio['numpy', 'mpd-ed-1']:.1f}x | "
              f"{ratio['numpy-batched', 'mpd-ed']:.1f}x / {ratio['numpy-batched', 'mpd-ed-1']:.1f}x | "
              f"{res['stbp'] / res['mpd-ed']:.1f}x |")
    print("\nMPD-ED time against hidden activity (5 % input):")
    print("| target hidden activity | measured | hidden spikes/sample | wgrad accumulates/sample (full / window 1) "
          "| MPD-ED ms (full / window 1) |")
    print("|---|---|---|---|---|")
    xs = [SpikeInput.from_dense(rng.random((39, 1024)) < 0.05) for _ in range(args.samples)]
    for target in (0.01, 0.03, 0.05, 0.10, 0.20):
        cfg, rep = init_config(spec, xs[:20], seed=0, target_hidden=target, aux_frac=0.3)
        cells = []
        for window in (None, 1):
            eng = LearningEngine(Chip(cfg.copy()), LearningSettings(rule="mpd-ed", temporal_window=window))
            stats = []
            ms = per_sample(lambda i: stats.append(eng.train_step(xs[i % len(xs)], i % 10).counters),
                            args.samples) * 1e3
            cells.append((np.mean([c["hidden", "spikes"] for c in stats]),
                          np.mean([c["wgrad_accumulates"] for c in stats]), ms))
        (hs, wg, ms), (_, wg1, ms1) = cells
        print(f"| {target:.0%} | {rep.hidden_activity:.1%} | {hs:.0f} | {wg:.0f} / {wg1:.0f} | {ms:.2f} / {ms1:.2f} |")

    spike_time_rules(args.samples, rng)


def spike_time_rules(n_samples, rng):
    """The four rules in the same interleaved rounds (STD-ED: the same weights on the IF neuron):
    ms and samples/s per training sample, and the learning operations counted per sample."""
    from anp_emu.learning.engine import config_for_rule

    spec = ChipSpec()
    rules = ("mpd-ed", "stbp", "std-ed", "ebp")
    print("\nAll four rules (same interleaved protocol; STD-ED on the IF neuron with the same weights):")
    print("| input density | rule | ms | samples/s | hidden spikes | bwd inter | bwd intra | bwd spike | wgrad accumulates |")
    print("|---|---|---|---|---|---|---|---|---|")
    for density in (0.01, 0.05):
        xs = [SpikeInput.from_dense(rng.random((39, 1024)) < density) for _ in range(n_samples)]
        cfg, _ = init_config(spec, xs[:20], seed=0, target_hidden=0.05, aux_frac=0.3)
        cells, stats = {}, {r: [] for r in rules}
        for rule in rules:
            c = config_for_rule(cfg.copy(), rule)
            eng = LearningEngine(Chip(c), c.learning)
            cells[rule] = (lambda i, eng=eng, rule=rule: stats[rule].append(
                eng.train_step(xs[i % len(xs)], i % 10).counters), n_samples, False)
        times = interleaved(cells)
        for rule in rules:
            ms = float(np.median(times[rule])) * 1e3
            st = stats[rule]
            mean = {k: np.mean([c[k] for c in st]) for k in ("bwd_inter_ops", "bwd_intra_ops", "bwd_spike_ops",
                                                                "wgrad_accumulates")}
            hs = np.mean([c["hidden", "spikes"] for c in st])
            print(f"| {density:.0%} | {rule} | {ms:.2f} | {1e3 / ms:.0f} | {hs:.0f} | {mean['bwd_inter_ops']:.0f} | "
                  f"{mean['bwd_intra_ops']:.0f} | {mean['bwd_spike_ops']:.0f} | {mean['wgrad_accumulates']:.0f} |")


if __name__ == "__main__":
    main()
