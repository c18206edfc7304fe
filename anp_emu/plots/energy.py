"""Energy pictures: learning energy over training (one line per rule or run, the paper's figures
as reference lines) and the breakdown per layer and phase as stacked bars, rule beside rule."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import InputError
from .style import AXIS_LABELS, RULE_COLORS, ROLE_COLORS, figure, save, styled


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


@styled
def plot_energy_over_training(log: pd.DataFrame, path=None, *, x: str = "step", y: str = "learning_nj", ax=None,
                              smooth: int | None = None, paper: dict | None = None, title: str | None = None):
    """Energy per training sample (nJ, log scale) against the training step or epoch, one colour
    per rule (one line per run, in its rule's colour, when ``log`` has a ``run`` column holding
    several).

    ``log``: columns rule, ``x`` (step or epoch), ``y`` (learning_nj by default: the paper's
    metric; inference_nj, total_nj), e.g. the ``steps`` table of ``anp energy`` or the
    ``epochs`` table of ``anp energy summary``. ``smooth``: moving-average window in rows
    (default: about 1/20 of them; 1 disables). ``paper``: {rule: nJ} drawn as dashed reference
    lines. Writes ``path`` atomically if given (png, svg or pdf by its suffix); returns the Figure.
    """
    check_log(log, x, y)
    if ax is None:
        fig, ax = figure(1, 1, width="single", height=2.6)
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
        save(fig, path)
    return fig


def breakdown(counters, spec, T: int, model) -> pd.DataFrame:
    """Energy per sample (nJ, static share included) per layer and phase: columns layer, phase, nj.
    Sums to ``energy_per_sample(...)["total_nj"]`` (the static energy of a phase is split over the
    layers by their cycles)."""
    from ..chip.counters import LAYERS, NAMES, PHASE_OF

    PHASES = ("forward", "backward", "update")

    n = max(counters.n_samples, 1)
    dyn = model.energy_pj(counters) / n                    # (layers, counters) pJ
    cyc = model.layer_phase_cycles(counters, spec, T) / n  # (layers, phases)
    rows = []
    for li, layer in enumerate(LAYERS):
        for pi, phase in enumerate(PHASES):
            d = float(sum(dyn[li, ci] for ci, nm in enumerate(NAMES) if PHASE_OF[nm] == phase))
            rows.append({"layer": layer, "phase": phase, "nj": (d + model.static_pj(cyc[li, pi])) * 1e-3})
    return pd.DataFrame(rows)


@styled
def plot_energy_breakdown(tables: dict, *, point: str = "0.56V", log: bool = True):
    """Stacked bars of the energy per training sample, one bar per (rule, layer), stacked by phase
    (forward = inference, backward and update = learning), rule beside rule.
    ``tables``: {rule: breakdown() frame}."""
    if not tables:
        raise InputError("tables", "nothing to draw", value=0)
    fig, ax = figure(1, 1, width="single", height=2.6)
    labels, x = [], 0
    phases = ["forward", "backward", "update"]
    done = set()
    for rule, df in tables.items():
        for layer in df["layer"].unique():
            sub = df[df["layer"] == layer].set_index("phase")["nj"]
            bottom = 0.0
            for ph in phases:
                v = float(sub.get(ph, 0.0))
                ax.bar(x, v, bottom=bottom, color=ROLE_COLORS[ph], edgecolor="white", lw=0.4, width=0.75,
                       label=None if ph in done else {"forward": "forward (inference)", "backward": "backward (learning)",
                                                      "update": "update (learning)"}[ph])
                done.add(ph)
                bottom += v
            ax.text(x, bottom, f"{bottom:,.0f}", ha="center", va="bottom", fontsize=6)
            labels.append(f"{rule}\n{layer}")
            x += 1
        x += 0.5
    ticks, i = [], 0
    for k, rule in enumerate(tables):
        for _ in tables[rule]["layer"].unique():
            ticks.append(i + 0.5 * k)
            i += 1
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=6)
    ax.set_ylabel(f"energy per training sample (nJ, {point})")
    ax.set_title("energy by layer and phase")
    ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig
