"""Energy, cycle and latency reports of runs: per sample, per phase, per layer, and rule vs rule.

All numbers are **per sample** (counter totals divided by ``counters.n_samples``). Units:
energy nJ, latency us, power mW (= nJ/us), energy-delay product nJ x us.

- :func:`run_report` -> :class:`RunReport` with three DataFrames:
  ``ops``     layer, phase, counter, count, pj_per_op, energy_nj     (counters x table)
  ``phases``  layer, phase, dynamic_nj, static_nj, energy_nj, cycles, latency_us, power_mw, edp_nj_us
  ``summary`` one row: inference (forward) energy, backward, update, training total, the learning
              increment over inference, latency, average power, EDP, SOPs.
- :func:`compare` puts several RunReports side by side (one column per rule) with the
  STBP : MPD-ED ratio, next to the paper's chip measurement when the operating point is 0.56 V.
- :func:`step_energy` is the cheap per-training-step number used for the energy-over-training log.

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

from ..counters import LAYERS, NAMES, PHASE_OF, Counters
from ..errors import InputError
from .model import EnergyModel

PHASES = ("forward", "backward", "update")
# Wei et al. 2024, Section VI-B / Table IV: ANP-I at 0.56 V / 40 MHz, EMG, 1024-512-10, T = 39
PAPER_TRAINING_NJ = {"mpd-ed": 312.0, "stbp": 9320.0}
PAPER_POINT = "0.56V"


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
    def training_nj(self) -> float:
        return float(self.row["training_nj"])

    @property
    def inference_nj(self) -> float:
        return float(self.row["inference_nj"])


def _check_T(T):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise InputError("T", "must be an integer >= 1", value=T)
    return int(T)


def run_report(counters: Counters, spec, T: int, model: EnergyModel, rule: str = "run") -> RunReport:
    """Energy, cycles, latency, power and EDP per sample of a run whose counters are ``counters``
    (totals over ``counters.n_samples`` samples of ``T`` steps on a chip of ``spec``)."""
    T = _check_T(T)
    if not isinstance(counters, Counters):
        raise InputError("counters", "must be anp_emu.counters.Counters", value=type(counters).__name__)
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
    tot = float(by_phase["energy_nj"].sum())
    lat = float(by_phase["latency_us"].sum())
    inf_lat = float(by_phase.loc["forward", "latency_us"])
    sop_name = "sop_effective" if model.zero_skipping else "sop_dense"
    summary = pd.DataFrame([{
        "rule": rule, "samples": counters.n_samples, "T": T, "operating_point": model.point.name,
        "inference_nj": inf,
        "backward_nj": float(by_phase.loc["backward", "energy_nj"]),
        "update_nj": float(by_phase.loc["update", "energy_nj"]),
        "training_nj": tot,
        "learning_increment_nj": tot - inf,
        "learning_increment_pct": 100.0 * (tot - inf) / inf if inf > 0 else math.nan,
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


def step_energy(counters: Counters, spec, T: int, model: EnergyModel) -> dict[str, float]:
    """Energy per phase (nJ, static included) and latency (us) of one training step's counters."""
    n = max(counters.n_samples, 1)
    dyn = model.energy_pj(counters).sum(axis=0) / n
    cyc = model.layer_phase_cycles(counters, spec, T).sum(axis=0) / n
    out = {}
    for pi, phase in enumerate(PHASES):
        d = float(sum(dyn[ci] for ci, nm in enumerate(NAMES) if PHASE_OF[nm] == phase))
        out[f"{phase}_nj"] = (d + model.static_pj(cyc[pi])) * 1e-3
    out["energy_nj"] = out["forward_nj"] + out["backward_nj"] + out["update_nj"]
    out["latency_us"] = model.seconds(cyc.sum()) * 1e6
    return out


COMPARE_METRICS = ("inference_nj", "backward_nj", "update_nj", "training_nj", "learning_increment_nj",
                   "learning_increment_pct", "static_nj", "cycles", "latency_us", "power_mw", "edp_nj_us",
                   "sops")


def compare(reports: dict[str, RunReport], baseline: str = "mpd-ed", against: str = "stbp") -> pd.DataFrame:
    """Side by side: one row per metric, one column per rule, and ``against / baseline``
    (the STBP : MPD-ED ratio). Where the operating point is the paper's (0.56 V) the
    training-energy row carries the paper's chip measurement (312 nJ, 9320 nJ, 29.9x)."""
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
        df.loc[COMPARE_METRICS.index("training_nj"), "paper"] = (
            f"{PAPER_TRAINING_NJ['mpd-ed']:.0f} / {PAPER_TRAINING_NJ['stbp']:.0f} nJ "
            f"({PAPER_TRAINING_NJ['stbp'] / PAPER_TRAINING_NJ['mpd-ed']:.1f}x)")
    return df


def ratio(reports: dict[str, RunReport], metric: str = "training_nj", baseline: str = "mpd-ed",
          against: str = "stbp") -> float:
    """``against`` / ``baseline`` of one summary metric (STBP : MPD-ED training energy by default)."""
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
    from ..fileio import atomic_write_text

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
