"""Energy, cycle and latency reports of runs: per sample, per phase, per layer, and rule vs rule.

All numbers are **per sample** (counter totals divided by ``counters.n_samples``). Units:
energy nJ, latency us, power mW (= nJ/us), energy-delay product nJ x us.

The three figures, under these names everywhere (``ENERGY_FIGURES``), as the chip's own papers
define them (Zhang et al., JSSC 2024: on-chip learning costs < 15 % of inference per sample;
Wei et al. 2024 Sec. VI-B: 312 / 9,320 nJ for MPD-ED / STBP):

  ``learning_nj``   backward + update, with their share of static energy: the increment of a
                    training sample over an inference. The paper's 312 / 9,320 nJ are this figure.
  ``inference_nj``  the forward pass, with its share of static energy.
  ``total_nj``      inference + learning: what one training sample costs in all.

- :func:`energy_per_sample` gives the three (and backward, update, latency) of any counters: one
  training step's, an epoch's or a whole run's (counter totals / samples). Energy is linear in the
  counts, so the figure of summed counters is the mean of the per-sample figures.
- :func:`run_report` -> :class:`RunReport` with three DataFrames:
  ``ops``     layer, phase, counter, count, pj_per_op, energy_nj     (counters x table)
  ``phases``  layer, phase, dynamic_nj, static_nj, energy_nj, cycles, latency_us, power_mw, edp_nj_us
  ``summary`` one row: the three figures, backward, update, learning as % of inference, latency,
              average power, EDP, SOPs.
- :func:`compare` puts several RunReports side by side (one column per rule) with the
  STBP : MPD-ED ratio, next to the paper's chip measurement when the operating point is 0.56 V.

Static energy is static power x latency, attributed to each (layer, phase) by its own cycles, so
every energy column adds up over layers and phases. Latency is the sum of the cycles of both
layers and all phases (no overlap of the two layers is assumed: the upper bound of the
asynchronous pipeline).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..chip.counters import LAYERS, NAMES, PHASE_OF, Counters
from ..errors import InputError
from .model import EnergyModel

PHASES = ("forward", "backward", "update")
LEARNING_PHASES = ("backward", "update")
ENERGY_FIGURES = ("learning_nj", "inference_nj", "total_nj")
# Wei et al. 2024, Section VI-B / Table IV: on-chip learning energy per training sample of ANP-I at
# 0.56 V / 40 MHz, EMG, 1024-512-10, T = 39, averaged over 50 epochs of training
PAPER_LEARNING_NJ = {"mpd-ed": 312.0, "stbp": 9320.0}
PAPER_POINT = "0.56V"
# Zhang et al., JSSC 2024 (ANP-I): on-chip learning energy per sample < 15 % of inference energy
JSSC_LEARNING_PCT_OF_INFERENCE = 15.0


@dataclass
class RunReport:
    """Per-sample energy/cycle report of one run (one rule, one operating point)."""

    rule: str
    ops: pd.DataFrame
    phases: pd.DataFrame
    summary: pd.DataFrame
    model: EnergyModel

    @property
    def row(self) -> dict:
        return self.summary.iloc[0].to_dict()

    @property
    def learning_nj(self) -> float:
        return float(self.row["learning_nj"])

    @property
    def inference_nj(self) -> float:
        return float(self.row["inference_nj"])

    @property
    def total_nj(self) -> float:
        return float(self.row["total_nj"])


def _check_T(T):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise InputError("T", "must be an integer >= 1", value=T)
    return int(T)


def run_report(counters: Counters, spec, T: int, model: EnergyModel, rule: str = "run") -> RunReport:
    """Energy, cycles, latency, power and EDP per sample of a run whose counters are ``counters``
    (totals over ``counters.n_samples`` samples of ``T`` steps on a chip of ``spec``)."""
    T = _check_T(T)
    if not isinstance(counters, Counters):
        raise InputError("counters", "must be anp_emu.chip.counters.Counters", value=type(counters).__name__)
    n = max(counters.n_samples, 1)
    per_op = model.per_op_vector()
    dyn = model.energy_pj(counters) / n                  # (2, N) pJ per sample
    cyc = model.layer_phase_cycles(counters, spec, T) / n  # (2, 3) cycles per sample
    ops_rows = []
    for li, layer in enumerate(LAYERS):
        for ci, name in enumerate(NAMES):
            ops_rows.append({"rule": rule, "layer": layer, "phase": PHASE_OF[name], "counter": name,
                             "count": counters.counts[li, ci] / n, "pj_per_op": per_op[ci],
                             "energy_nj": dyn[li, ci] * 1e-3})
    ops = pd.DataFrame(ops_rows)
    phase_rows = []
    for li, layer in enumerate(LAYERS):
        for pi, phase in enumerate(PHASES):
            d = float(sum(dyn[li, ci] for ci, nm in enumerate(NAMES) if PHASE_OF[nm] == phase)) * 1e-3
            c = float(cyc[li, pi])
            lat = model.seconds(c) * 1e6
            s = model.static_pj(c) * 1e-3
            e = d + s
            phase_rows.append({"rule": rule, "layer": layer, "phase": phase, "dynamic_nj": d, "static_nj": s,
                               "energy_nj": e, "cycles": c, "latency_us": lat,
                               "power_mw": e / lat if lat > 0 else math.nan, "edp_nj_us": e * lat})
    phases = pd.DataFrame(phase_rows)
    by_phase = phases.groupby("phase", sort=False)[["energy_nj", "dynamic_nj", "static_nj", "cycles",
                                                    "latency_us"]].sum()
    inf = float(by_phase.loc["forward", "energy_nj"])
    learn = float(by_phase.loc[list(LEARNING_PHASES), "energy_nj"].sum())
    tot = inf + learn
    lat = float(by_phase["latency_us"].sum())
    inf_lat = float(by_phase.loc["forward", "latency_us"])
    sop_name = "sop_effective" if model.zero_skipping else "sop_dense"
    summary = pd.DataFrame([{
        "rule": rule, "samples": counters.n_samples, "T": T, "operating_point": model.point.name,
        "learning_nj": learn,
        "inference_nj": inf,
        "total_nj": tot,
        "learning_pct_of_inference": learning_pct(learn, inf),
        "backward_nj": float(by_phase.loc["backward", "energy_nj"]),
        "update_nj": float(by_phase.loc["update", "energy_nj"]),
        "dynamic_nj": float(by_phase["dynamic_nj"].sum()),
        "static_nj": float(by_phase["static_nj"].sum()),
        "cycles": float(by_phase["cycles"].sum()),
        "latency_us": lat,
        "inference_latency_us": inf_lat,
        "power_mw": tot / lat if lat > 0 else math.nan,
        "edp_nj_us": tot * lat,
        "inference_edp_nj_us": inf * inf_lat,
        "sops": counters[sop_name] / n,
        "sop_effective": counters["sop_effective"] / n,
        "sop_dense": counters["sop_dense"] / n,
        "pj_per_sop_all_in": 1e3 * tot / (counters[sop_name] / n) if counters[sop_name] else math.nan,
    }])
    return RunReport(rule, ops, phases, summary, model)


def learning_pct(learning_nj: float, inference_nj: float) -> float:
    """Learning energy as % of inference energy (the JSSC paper's < 15 % statement)."""
    return 100.0 * learning_nj / inference_nj if inference_nj > 0 else math.nan


def energy_per_sample(counters: Counters, spec, T: int, model: EnergyModel) -> dict[str, float]:
    """Per sample of ``counters`` (totals over ``counters.n_samples``), static included: the three
    figures ``learning_nj`` (backward + update), ``inference_nj`` (forward) and ``total_nj``, the
    learning phases ``backward_nj`` and ``update_nj``, and ``latency_us``."""
    n = max(counters.n_samples, 1)
    dyn = model.energy_pj(counters).sum(axis=0) / n
    cyc = model.layer_phase_cycles(counters, spec, T).sum(axis=0) / n
    phase = {}
    for pi, name in enumerate(PHASES):
        d = float(sum(dyn[ci] for ci, nm in enumerate(NAMES) if PHASE_OF[nm] == name))
        phase[name] = (d + model.static_pj(cyc[pi])) * 1e-3
    learn = phase["backward"] + phase["update"]
    return {"learning_nj": learn, "inference_nj": phase["forward"], "total_nj": phase["forward"] + learn,
            "backward_nj": phase["backward"], "update_nj": phase["update"],
            "latency_us": model.seconds(cyc.sum()) * 1e6}


COMPARE_METRICS = ("learning_nj", "inference_nj", "total_nj", "learning_pct_of_inference", "backward_nj",
                   "update_nj", "static_nj", "cycles", "latency_us", "power_mw", "edp_nj_us", "sops")


def compare(reports: dict[str, RunReport], baseline: str = "mpd-ed", against: str = "stbp") -> pd.DataFrame:
    """Side by side: one row per metric, one column per rule, and ``against / baseline``
    (the STBP : MPD-ED ratio). Where the operating point is the paper's (0.56 V) the
    learning-energy row carries the paper's chip measurement (312 nJ, 9320 nJ, 29.9x) and the
    learning-as-%-of-inference row the JSSC paper's bound (< 15 %)."""
    if not reports:
        raise InputError("reports", "nothing to compare", value=0)
    rules = list(reports)
    rows = []
    for m in COMPARE_METRICS:
        row = {"metric": m}
        for r in rules:
            row[r] = float(reports[r].row[m])
        if baseline in reports and against in reports:
            b = row[baseline]
            row[f"{against} / {baseline}"] = row[against] / b if b else math.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    point = next(iter(reports.values())).model.point.name
    if point == PAPER_POINT:
        df["paper"] = ""
        df.loc[COMPARE_METRICS.index("learning_nj"), "paper"] = paper_learning_text()
        df.loc[COMPARE_METRICS.index("learning_pct_of_inference"), "paper"] = (
            f"< {JSSC_LEARNING_PCT_OF_INFERENCE:.0f} % (MPD-ED, JSSC 2024)")
    return df


def paper_learning_text() -> str:
    """The paper's learning energies and their ratio, as printed beside ours."""
    p = PAPER_LEARNING_NJ
    return f"{p['mpd-ed']:,.0f} / {p['stbp']:,.0f} nJ ({p['stbp'] / p['mpd-ed']:.1f}x)"


def ratio(reports: dict[str, RunReport], metric: str = "learning_nj", baseline: str = "mpd-ed",
          against: str = "stbp") -> float:
    """``against`` / ``baseline`` of one summary metric (STBP : MPD-ED learning energy by default)."""
    for r in (baseline, against):
        if r not in reports:
            raise InputError("rules", f"the ratio needs both {baseline} and {against}", value=list(reports))
    b = float(reports[baseline].row[metric])
    return float(reports[against].row[metric]) / b if b else math.nan


# ---------------------------------------------------------------------------------------------
# output

def _jsonable(df: pd.DataFrame) -> list[dict]:
    """Records with NaN/inf as null and numpy scalars as Python numbers."""
    out = []
    for rec in df.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, (np.integer,)):
                v = int(v)
            elif isinstance(v, (float, np.floating)):
                v = float(v)
                if not math.isfinite(v):
                    v = None
            elif isinstance(v, np.bool_):
                v = bool(v)
            clean[str(k)] = v
        out.append(clean)
    return out


def frames_to_json(frames: dict[str, pd.DataFrame], meta: dict | None = None) -> str:
    doc = {"meta": meta or {}}
    doc.update({k: _jsonable(v) for k, v in frames.items()})
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def write_frames(outdir, frames: dict[str, pd.DataFrame], meta: dict | None = None,
                 json_name: str = "energy.json") -> list[Path]:
    """Write every frame as ``<name>.csv`` and all of them in one JSON document, atomically."""
    from ..files.fileio import atomic_write_text

    out = Path(outdir)
    if not out.is_dir():
        raise InputError("--output", "output folder does not exist", value=str(out))
    written = []
    for name, df in frames.items():
        p = out / f"{name}.csv"
        atomic_write_text(p, df.to_csv(index=False))
        written.append(p)
    p = out / json_name
    atomic_write_text(p, frames_to_json(frames, meta))
    written.append(p)
    return written


def format_frame(df: pd.DataFrame, floatfmt: str = "{:,.4g}", formats: dict | None = None) -> str:
    """A plain-text table (no extra dependency); ``formats`` {column: format} override ``floatfmt``.
    Percentages of reductions keep four decimals so a truncated figure is never shown rounded."""
    formats = {"reduction_pct": "{:.4f}", "reduction_pct_2dp": "{:.2f}", "paper_reduction_pct": "{:.2f}",
               **(formats or {})}
    fmt = {c: (lambda v, f=formats.get(c, floatfmt): "" if isinstance(v, float) and math.isnan(v) else f.format(v))
           for c in df.columns if df[c].dtype.kind == "f"}
    return df.to_string(index=False, formatters=fmt)


def headline_table(averaged: dict) -> pd.DataFrame:
    """The toolkit's headline: learning energy per training sample of MPD-ED and STBP, their
    ratio, MPD-ED's inference and total energy and its learning as % of inference, one column per
    operating point, the paper's figures beside them. ``averaged``: {rule: {point: figures}}
    with the figures of :func:`energy_per_sample` (e.g. averaged over training runs); both
    "mpd-ed" and "stbp" are needed."""
    for r in ("mpd-ed", "stbp"):
        if r not in averaged:
            raise InputError("rules", "the headline needs both mpd-ed and stbp", value=list(averaged))
    points = list(averaged["mpd-ed"])
    m, s = averaged["mpd-ed"], averaged["stbp"]
    p = PAPER_LEARNING_NJ
    rows = [("learning nJ, MPD-ED", {q: m[q]["learning_nj"] for q in points}, f"{p['mpd-ed']:,.0f}"),
            ("learning nJ, STBP", {q: s[q]["learning_nj"] for q in points}, f"{p['stbp']:,.0f}"),
            ("STBP : MPD-ED (learning)", {q: s[q]["learning_nj"] / m[q]["learning_nj"] for q in points},
             f"{p['stbp'] / p['mpd-ed']:.1f}x"),
            ("inference nJ, MPD-ED", {q: m[q]["inference_nj"] for q in points}, ""),
            ("learning % of inference, MPD-ED",
             {q: learning_pct(m[q]["learning_nj"], m[q]["inference_nj"]) for q in points},
             f"< {JSSC_LEARNING_PCT_OF_INFERENCE:.0f} % (JSSC 2024)"),
            ("total nJ, MPD-ED", {q: m[q]["total_nj"] for q in points}, ""),
            ("inference nJ, STBP", {q: s[q]["inference_nj"] for q in points}, ""),
            ("total nJ, STBP", {q: s[q]["total_nj"] for q in points}, "")]
    return pd.DataFrame([{"figure": name, **vals, f"paper ({PAPER_POINT})": paper} for name, vals, paper in rows])


def format_headline(df: pd.DataFrame, markdown: bool = False) -> str:
    """:func:`headline_table` as text (or a markdown table): nJ with thousands separators, ratios
    with an x, % with %."""
    def cell(name, v):
        if isinstance(v, str):
            return v
        if "STBP : MPD-ED" in name:
            return f"{v:.1f}x"
        if "%" in name:
            return f"{v:.1f} %"
        return f"{v:,.0f}"
    cols = list(df.columns)
    rows = [cols] + [[r["figure"]] + [cell(r["figure"], r[c]) for c in cols[1:]] for r in df.to_dict(orient="records")]
    if markdown:
        rows[0][0] = "per training sample, averaged over training"
        return "\n".join(["| " + " | ".join(rows[0]) + " |", "|---" * len(cols) + "|"]
                         + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
                     .rstrip() for row in rows)
