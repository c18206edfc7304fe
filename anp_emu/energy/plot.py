"""Plot of the learning energy per training sample over training, one line per rule (matplotlib).

matplotlib (a dependency) is imported only when a plot is
asked for, with the non-interactive Agg backend when writing a file.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import AnpError, InputError

# Okabe & Ito's colour-blind-safe palette, one colour per rule
RULE_COLORS = {"mpd-ed": "#0072B2", "stbp": "#D55E00", "std-ed": "#009E73", "ebp": "#CC79A7"}
AXIS_LABELS = {"step": "training step (sample)", "epoch": "epoch",
               "learning_nj": "learning energy per training sample (nJ)",
               "inference_nj": "inference energy per sample (nJ)", "total_nj": "total energy per training sample (nJ)"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise AnpError("plotting needs matplotlib, which is not installed: pip install matplotlib") from None
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_log(log: pd.DataFrame, x: str = "step", y: str = "learning_nj") -> pd.DataFrame:
    if not isinstance(log, pd.DataFrame):
        raise InputError("log", "must be a pandas DataFrame", value=type(log).__name__)
    for c in ("rule", x, y):
        if c not in log.columns:
            raise InputError(f"log.{c}", "required column missing", limit=f"columns {['rule', x, y]}")
    if log.empty:
        raise InputError("log", "no rows to plot", value=0)
    e = pd.to_numeric(log[y], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(e)):
        raise InputError(f"log.{y}", "must be finite numbers", value="NaN/inf/text")
    return log


def plot_energy_over_training(log: pd.DataFrame, path=None, *, x: str = "step", y: str = "learning_nj", ax=None,
                              smooth: int | None = None, paper: dict | None = None, title: str | None = None):
    """Energy per training sample (nJ, log scale) against the training step or epoch, one colour
    per rule (one line per run, in its rule's colour, when ``log`` has a ``run`` column holding
    several).

    ``log``: columns rule, ``x`` (step or epoch), ``y`` (learning_nj by default: the paper's
    metric; inference_nj, total_nj), e.g. the ``steps`` table of ``anp energy`` or the
    ``epochs`` table of ``anp energy summary``. ``smooth``: moving-average window in rows
    (default: about 1/20 of them; 1 disables). ``paper``: {rule: nJ} drawn as dashed reference
    lines. Writes ``path`` atomically if given; returns the matplotlib Figure.
    """
    check_log(log, x, y)
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
    else:
        fig = ax.figure
    colors = {}
    keys = ["rule", "run"] if "run" in log.columns else ["rule"]
    n_runs = log.groupby("rule", sort=False)["run"].nunique() if "run" in log.columns else None
    for key, g in log.groupby(keys, sort=False):
        rule = key[0] if isinstance(key, tuple) else key
        first = rule not in colors
        color = colors.setdefault(rule, RULE_COLORS.get(rule, f"C{len(colors)}"))
        name = rule if n_runs is None or n_runs[rule] == 1 else f"{rule} ({n_runs[rule]} runs)"
        g = g.sort_values(x)
        values = g[y].to_numpy(dtype=float)
        w = smooth if smooth is not None else max(1, len(values) // 20)
        line, = ax.plot(g[x], values, lw=0.8, color=color, alpha=0.35 if w > 1 else 1.0,
                        marker="o" if x == "epoch" else None, ms=3)
        if w > 1:
            ys = pd.Series(values).rolling(w, min_periods=1).mean()
            ax.plot(g[x], ys, color=color, lw=1.8, label=f"{name} (mean of {w})" if first else None)
        elif first:
            line.set_label(name)
    for rule, nj in (paper or {}).items():
        if nj and math.isfinite(nj):
            ax.axhline(nj, ls="--", lw=1.0, color=colors.get(rule, RULE_COLORS.get(rule, "gray")),
                       label=f"{rule}, paper ({nj:,.0f} nJ)")
    ax.set_yscale("log")
    ax.set_xlabel(AXIS_LABELS.get(x, x))
    ax.set_ylabel(AXIS_LABELS.get(y, y))
    ax.set_title(title or "On-chip learning energy over training")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    if path is not None:
        from ..files.fileio import atomic_path

        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1] if "." in str(path) else "png", dpi=120)
    return fig
