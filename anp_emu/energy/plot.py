"""Plot of the energy per training sample over training, one line per rule (matplotlib, optional).

Install the extra with ``pip install 'anp-emu[plot]'``. matplotlib is imported only when a plot is
asked for, with the non-interactive Agg backend when writing a file.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import AnpError, InputError

REQUIRED_COLUMNS = ("rule", "step", "energy_nj")


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise AnpError("plotting needs matplotlib, which is not installed: pip install 'anp-emu[plot]'") from None
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_log(log: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(log, pd.DataFrame):
        raise InputError("log", "must be a pandas DataFrame", value=type(log).__name__)
    for c in REQUIRED_COLUMNS:
        if c not in log.columns:
            raise InputError(f"log.{c}", "required column missing", limit=f"columns {list(REQUIRED_COLUMNS)}")
    if log.empty:
        raise InputError("log", "no rows to plot", value=0)
    e = pd.to_numeric(log["energy_nj"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(e)):
        raise InputError("log.energy_nj", "must be finite numbers", value="NaN/inf/text")
    return log


def plot_energy_over_training(log: pd.DataFrame, path=None, *, ax=None, smooth: int | None = None,
                              paper: dict | None = None, title: str | None = None):
    """Energy per training sample (nJ, log scale) against the training step, one line per rule.

    ``log``: columns rule, step, energy_nj (one row per step or per epoch, e.g. the ``steps``
    table of ``anp energy``). ``smooth``: moving-average window in steps (default: about 1/20 of
    the steps; 1 disables). ``paper``: {rule: nJ} drawn as dashed reference lines. Writes
    ``path`` atomically if given; returns the matplotlib Figure.
    """
    check_log(log)
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
    else:
        fig = ax.figure
    colors = {}
    for rule, g in log.groupby("rule", sort=False):
        g = g.sort_values("step")
        y = g["energy_nj"].to_numpy(dtype=float)
        w = smooth if smooth is not None else max(1, len(y) // 20)
        line, = ax.plot(g["step"], y, lw=0.8, alpha=0.35 if w > 1 else 1.0)
        colors[rule] = line.get_color()
        if w > 1:
            ys = pd.Series(y).rolling(w, min_periods=1).mean()
            ax.plot(g["step"], ys, color=line.get_color(), lw=1.8, label=f"{rule} (mean of {w})")
        else:
            line.set_label(rule)
    for rule, nj in (paper or {}).items():
        if nj and math.isfinite(nj):
            ax.axhline(nj, ls="--", lw=1.0, color=colors.get(rule, "gray"), label=f"{rule}, paper ({nj:g} nJ)")
    ax.set_yscale("log")
    ax.set_xlabel("training step (sample)")
    ax.set_ylabel("energy per training sample (nJ)")
    ax.set_title(title or "On-chip learning energy over training")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    if path is not None:
        from ..fileio import atomic_path

        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1] if "." in str(path) else "png", dpi=120)
    return fig
