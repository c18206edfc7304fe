"""A run's pictures: training curves (accuracy, energy at both operating points, activity per
epoch), the confusion matrix with per-class accuracy, weight histograms on the chip's grid."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import InputError
from .style import OKABE_ITO, ROLE_COLORS, color_for, figure, styled


def energy_per_epoch(run, points=None) -> pd.DataFrame:
    """epoch, rule and learning/inference/total nJ per training sample at every operating point
    (columns ``learning_nj@0.56V`` ...), re-priced from the run's counters.csv."""
    from ..energy.model import default_table
    from ..energy.report import ENERGY_FIGURES, energy_per_sample

    table = default_table()
    points = list(points or table.points)
    spec, rows = run.spec(), []
    for epoch, cnt in run.epoch_counters().items():
        row = {"epoch": epoch, "rule": run.rule}
        for p in points:
            e = energy_per_sample(cnt, spec, run.T, table.model(p))
            row.update({f"{f}@{p}": e[f] for f in ENERGY_FIGURES})
        rows.append(row)
    return pd.DataFrame(rows)


@styled
def plot_training_curves(runs, *, paper: dict | None = None):
    """Three panels per epoch for one or more `anp train` runs (``Run`` objects): train (dashed)
    and test (solid) accuracy; learning (solid) and inference (dotted) energy per training sample
    at both operating points (0.56 V dark, 0.9 V light marker-less) with the paper's 312 / 9,320 nJ
    as reference lines; hidden and output activity. One point per epoch and line."""
    from ..energy.report import PAPER_LEARNING_NJ

    runs = runs if isinstance(runs, (list, tuple)) else [runs]
    if not runs:
        raise InputError("runs", "nothing to draw", value=0)
    paper = PAPER_LEARNING_NJ if paper is None else paper
    fig, (a1, a2, a3) = figure(3, 1, width="double", height=2.4)
    rules = []
    for k, run in enumerate(runs):
        log = run.log.sort_values("epoch")
        col = color_for(run.rule, k)
        lab = run.rule if len(runs) == 1 or len({r.rule for r in runs}) == len(runs) else f"{run.rule} {run.name}"
        rules.append(run.rule)
        a1.plot(log["epoch"], 100 * log["test_accuracy"], "o-", ms=3, color=col, label=f"{lab} test")
        a1.plot(log["epoch"], 100 * log["train_accuracy"], "s--", ms=2.5, color=col, alpha=0.7, label=f"{lab} train")
        if run.counters is not None:
            en = energy_per_epoch(run)
            for p, alpha in (("0.56V", 1.0), ("0.9V", 0.45)):
                if f"learning_nj@{p}" not in en:
                    continue
                a2.plot(en["epoch"], en[f"learning_nj@{p}"], "o-", ms=3, color=col, alpha=alpha,
                        label=f"{lab} learning, {p}")
                a2.plot(en["epoch"], en[f"inference_nj@{p}"], ":", color=col, alpha=alpha,
                        label=f"{lab} inference, {p}")
        elif "learning_nj" in log:
            a2.plot(log["epoch"], log["learning_nj"], "o-", ms=3, color=col, label=f"{lab} learning")
        for c, ls in (("hidden_activity", "-"), ("output_activity", "--")):
            if c in log:
                a3.plot(log["epoch"], 100 * log[c], ls, marker="o", ms=2.5, color=col,
                        label=f"{lab} {c.split('_')[0]}")
    for rule, nj in (paper or {}).items():
        if nj and math.isfinite(nj) and (rule in rules or len(paper) <= 2):
            a2.axhline(nj, ls="--", lw=0.8, color=color_for(rule), alpha=0.8)
            a2.annotate(f"paper {rule} {nj:,.0f} nJ", (0.02, nj), xycoords=("axes fraction", "data"),
                        fontsize=6, va="bottom", color=color_for(rule))
    a1.set_ylabel("accuracy (%)")
    a2.set_ylabel("energy per training\nsample (nJ)")
    a2.set_yscale("log")
    a3.set_ylabel("activity (% of\nneuron-steps spiking)")
    from matplotlib.ticker import MaxNLocator

    for ax in (a1, a2, a3):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=5.5, frameon=False, ncol=2 if ax is a2 else 1,
                  **({"loc": "upper center", "bbox_to_anchor": (0.5, -0.42)} if ax is a2 else {}))
    a1.set_title("accuracy")
    a2.set_title("energy per training sample")
    a3.set_title("spike activity")
    fig.tight_layout()
    return fig


@styled
def plot_confusion(confusion, *, title: str | None = None):
    """Confusion matrix (rows: true class, columns: predicted) with the count and the row % in
    each cell, and per-class accuracy beside each row. ``confusion``: a DataFrame (EvalResult.confusion)."""
    if not isinstance(confusion, pd.DataFrame):
        confusion = pd.DataFrame(np.asarray(confusion))
    m = confusion.to_numpy().astype(np.int64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise InputError("confusion", "expected a square matrix", value=f"shape {m.shape}")
    rows = m.sum(axis=1, keepdims=True)
    pct = np.divide(100.0 * m, rows, out=np.zeros(m.shape), where=rows > 0)
    k = m.shape[0]
    fig, ax = figure(1, 1, width="single", height=2.2 + 0.18 * k)
    ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{m[i, j]}\n{pct[i, j]:.0f}%", ha="center", va="center", fontsize=6,
                    color="white" if pct[i, j] > 60 else "black")
    names = [str(c) for c in confusion.columns]
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_yticks(range(k))
    acc = np.divide(np.diag(m), rows[:, 0], out=np.full(k, np.nan), where=rows[:, 0] > 0)
    ax.set_yticklabels([f"{n} ({100 * a:.0f} %)" for n, a in zip(confusion.index.astype(str), acc)])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (per-class accuracy)")
    total = int(m.sum())
    ax.set_title(title or f"test set: {total} samples, accuracy {100 * np.trace(m) / max(total, 1):.1f} %")
    for s in ax.spines.values():
        s.set_visible(False)
    fig.tight_layout()
    return fig


def weight_grid(config, layer: str) -> tuple[np.ndarray, int, int]:
    """(weights, lo, hi) of ``layer`` ("hidden" or "output") on its signed integer grid."""
    bits = config.spec.w_bits_hid if layer == "hidden" else config.spec.w_bits_out
    w = np.asarray(config.w_hid if layer == "hidden" else config.w_out)
    return w, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


@styled
def plot_weight_histograms(after, before=None):
    """Histograms of the integer weights of both layers on the chip's quantisation grid (one bin
    per LSB step group, edges on integers), before (grey) and after training; the weights at the
    grid's ends (saturated) are counted in the legend and marked with red lines."""
    fig, axes = figure(2, 1, width="double", height=2.3)
    for ax, layer in zip(axes, ("hidden", "output")):
        w, lo, hi = weight_grid(after, layer)
        bits = after.spec.w_bits_hid if layer == "hidden" else after.spec.w_bits_out
        step = max(1, (hi - lo + 1) // 128)
        edges = np.arange(lo, hi + 2, step) - 0.5
        for cfg, col, name in ((before, "#999999", "before"), (after, ROLE_COLORS[layer], "after")):
            if cfg is None:
                continue
            v, _, _ = weight_grid(cfg, layer)
            sat = int(np.sum((v == lo) | (v == hi)))
            ax.hist(v.ravel(), bins=edges, color=col, alpha=0.55 if name == "before" else 0.8,
                    histtype="stepfilled" if name == "before" else "step", lw=1.0,
                    label=f"{name} training: {sat:,} saturated of {v.size:,}")
        for x in (lo, hi):
            ax.axvline(x, color=OKABE_ITO[1], lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel(f"weight (LSB of the {bits}-bit grid {lo}..{hi})")
        ax.set_ylabel("synapses")
        ax.set_title(f"{layer} layer ({bits}-bit)")
        ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig
