"""Sweeps, cross-validation and the ablation: accuracy against learning energy per arm (mean ± sd
over seeds/folds as error bars, runs as faint points) and per-fold accuracy by split."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .style import OKABE_ITO, color_for, figure, styled


def arm_stats(table: pd.DataFrame, arms) -> pd.DataFrame:
    """One row per arm: label, n, mean and sd (n - 1) of test accuracy (%) and learning nJ; the
    numbers the error bars are drawn from."""
    ok = table[table["status"] == "ok"] if "status" in table else table
    ok = ok[ok["learning_nj"].notna()] if "learning_nj" in ok else ok
    if ok.empty:
        raise InputError("table", "no finished run with learning energy to plot", value=0)
    arms = [a for a in (arms or []) if a in ok.columns]
    groups = ok.groupby(arms, sort=False, dropna=False) if arms else [(("all runs",), ok)]
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{a}={v}" for a, v in zip(arms, key)) if arms else "all runs"
        if arms == ["rule"]:
            label = str(key[0])
        sd = (lambda c: float(g[c].std(ddof=1)) if len(g) > 1 else 0.0)
        rows.append({"arm": label, "rule": str(g["rule"].iloc[0]) if "rule" in g else "", "n": len(g),
                     "acc_mean": 100 * float(g["test_accuracy"].mean()), "acc_sd": 100 * sd("test_accuracy"),
                     "nj_mean": float(g["learning_nj"].mean()), "nj_sd": sd("learning_nj"),
                     "_acc": 100 * g["test_accuracy"].to_numpy(float), "_nj": g["learning_nj"].to_numpy(float)})
    return pd.DataFrame(rows)


@styled
def plot_accuracy_energy(table: pd.DataFrame, arms=("rule",), *, title: str | None = None):
    """Test accuracy (%) against learning energy per training sample (nJ, log) per arm: the arm's
    mean with ± sd error bars (n - 1, over seeds / folds), its runs as faint points. The error bars'
    half-lengths are the sd of ``arm_stats``."""
    st = arm_stats(table, list(arms))
    fig, ax = figure(1, 1, width="single", height=2.6)
    for k, r in st.iterrows():
        col = color_for(r["rule"], k) if list(arms) == ["rule"] else OKABE_ITO[k % len(OKABE_ITO)]
        ax.scatter(r["_nj"], r["_acc"], s=9, color=col, alpha=0.35, lw=0)
        ax.errorbar(r["nj_mean"], r["acc_mean"], xerr=r["nj_sd"], yerr=r["acc_sd"], fmt="o", ms=4, color=col,
                    capsize=2.5, lw=1, label=f"{r['arm']} (n={r['n']})")
    ax.set_xscale("log")
    ax.set_xlabel("learning energy per training sample (nJ)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


@styled
def plot_folds(folds: pd.DataFrame, *, split: str = "fold"):
    """Test accuracy per fold (x) for each rule (mean over seeds, bars ± sd) with the baselines of
    the same folds as markers. ``folds``: the folds.csv of `anp cv` (rule, seed, fold, test_accuracy)."""
    for c in ("rule", "fold", "test_accuracy"):
        if c not in folds:
            raise InputError(f"folds.{c}", "required column missing")
    ok = folds[folds["status"].fillna("ok") == "ok"] if "status" in folds else folds
    ok = ok.reset_index(drop=True).assign(fold=ok["fold"].astype(str).to_numpy())
    fold_names = list(dict.fromkeys(ok["fold"].astype(str)))
    rules = [r for r in dict.fromkeys(ok["rule"]) if not str(r).startswith("baseline:")]
    bases = [r for r in dict.fromkeys(ok["rule"]) if str(r).startswith("baseline:")]
    fig, ax = figure(1, 1, width="double" if len(fold_names) > 6 else "single", height=2.6)
    x = np.arange(len(fold_names))
    w = 0.8 / max(1, len(rules))
    for k, rule in enumerate(rules):
        g = ok[ok["rule"] == rule].groupby("fold")["test_accuracy"]
        m = g.mean().reindex(fold_names) * 100
        sd = g.std(ddof=1).reindex(fold_names).fillna(0) * 100
        ax.bar(x - 0.4 + w * (k + 0.5), m, w, yerr=sd, capsize=2, color=color_for(rule, k), label=rule,
               error_kw={"lw": 0.8})
    markers = ["D", "^", "s", "v", "P"]
    for k, b in enumerate(bases):
        m = ok[ok["rule"] == b].groupby("fold")["test_accuracy"].mean().reindex(fold_names) * 100
        ax.scatter(x, m, marker=markers[k % len(markers)], s=14, color="black" if k == 0 else OKABE_ITO[4 + k % 3],
                   zorder=3, label=b.replace("baseline:", "baseline: "))
    ax.set_xticks(x)
    ax.set_xticklabels(fold_names, rotation=30 if len(fold_names) > 4 else 0, ha="right" if len(fold_names) > 4 else "center")
    ax.set_xlabel(f"test fold ({split})")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=6, frameon=False, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


@styled
def plot_ablation(table: pd.DataFrame):
    """The ablation's arms (ablation.csv: one row per arm with means and sds): test accuracy and
    learning energy per training sample, bars ± sd over seeds."""
    for c in ("rule", "aft", "test_accuracy", "learning_nj"):
        if c not in table:
            raise InputError(f"ablation.{c}", "required column missing")
    fig, (a1, a2) = figure(2, 1, width="double", height=2.6)
    labels = [f"{r.rule}\nAFT {r.aft}" + (f"\n{r.precision}" if "precision" in table else "") for r in table.itertuples()]
    cols = [color_for(r, k) for k, r in enumerate(table["rule"])]
    err = (lambda c: table[c].fillna(0) if c in table else None)
    x = np.arange(len(table))
    a1.bar(x, table["test_accuracy"] * 100, yerr=None if err("test_accuracy_sd") is None else err("test_accuracy_sd") * 100,
           capsize=3, color=cols)
    a1.set_ylabel("test accuracy (%)")
    a2.bar(x, table["learning_nj"], yerr=err("learning_nj_sd"), capsize=3, color=cols)
    a2.set_ylabel("learning energy per\ntraining sample (nJ)")
    a2.set_yscale("log")
    for ax in (a1, a2):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=6)
    fig.tight_layout()
    return fig
