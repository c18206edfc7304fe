"""Calibrate the unpublished per-operation costs against the paper's two chip measurements.

Wei et al. 2024 (Section VI-B) measured on ANP-I, 1024-512-10, T = 39, EMG, 0.56 V / 40 MHz: the
learning energy per training sample averaged over the whole training, 312 nJ (MPD-ED) and 9320 nJ
(STBP). The only per-operation figure published is the SOP (1.49 pJ at 0.56 V). The fit is on
the learning energy (backward + update, the increment over inference: what the paper's figures
are), which is linear in the costs of the learning operations:

    L_rule = sop_pj * ( sum_k count[rule, k] * c_k )  +  static_learning[rule]

over the backward and update counters k, where c_k is the cost of counter k in SOPs, ``count``
the operations of one training sample and ``static_learning`` static power x the learning
phases' latency (the cycle model; it does not depend on the costs). Given the counts, fitting
the costs named in ``fit`` (the others stay at the table's values) is a linear least-squares
problem: two measurements fix at most two costs exactly; one cost is fitted with a residual.
A fit that needs a negative cost, or more than ``MAX_REGISTER_OP_SOP`` SOPs for an operation on
registers only (``REGISTER_OPS``: it would cost ten synapse-SRAM reads), is refused: the
assumption is inconsistent with the paper's figures.

The counts come from a stated **activity assumption** (:class:`Activity`: input events per
sample, hidden / output spikes per neuron and step, the fraction of read synapses written, for
each rule), turned into counts by :func:`paper_counts` — the learning engine's counting rules in
closed form (docs/energy.md), with events and errors independent across steps — or from
measured per-sample counts of a run (``ops.csv`` of ``anp energy -o``).

The result reports the fitted costs, each target's modelled energy and residual, and the
sensitivity (elasticity) of each rule's energy to each cost: d ln E / d ln c_k, the fraction
of the energy that cost carries (1 % change of c_k -> that many % of E).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..chip.counters import LAYERS, NAMES, PHASE_OF, Counters, new_counts
from ..errors import InputError, check_names
from ..chip.spec import ChipSpec
from .model import COST_NAMES, EnergyTable
from .report import PAPER_LEARNING_NJ, energy_per_sample

PAPER_T = 39
PAPER_SPEC = ChipSpec()                       # 1024-512-10
DEFAULT_FIT = ("bwd_inter_ops", "wgrad_accumulates")
LEARNING_COSTS = tuple(k for k in COST_NAMES if PHASE_OF[k] in ("backward", "update"))
# operations on registers only, no synapse-SRAM access (anp1.json's sources): more than this many
# SOPs (ten SRAM reads) for one of them is not a plausible cost
REGISTER_OPS = ("bwd_intra_ops", "bwd_spike_ops", "wgrad_accumulates")
MAX_REGISTER_OP_SOP = 10.0


@dataclass(frozen=True)
class Activity:
    """Per-sample activity of one rule (the stated assumption of a calibration).

    input_events: input spikes per sample (hidden layer's events); hidden / output: spikes per
    neuron and step (zeta_o of each layer); write_fraction: weight writes / weight reads (the
    rounded updates that are non-zero; STBP "dense" writes every synapse); window: the temporal
    path's K (1: Eq. 21; 0: off; -1 full recursion); reset_path: the spike-induced path on; aux:
    the aux neurons on; stbp_emulation: how STBP is counted ("dense", the paper's; "event-input")."""

    input_events: float = 687.0
    hidden: float = 0.05
    output: float = 0.10
    write_fraction: float = 0.3
    window: int = 1
    reset_path: bool = True
    aux: bool = True
    stbp_emulation: str = "dense"

    def __post_init__(self):
        if self.stbp_emulation not in ("dense", "event-input"):
            raise InputError("activity.stbp_emulation", "unknown mode", limit="dense or event-input",
                             value=repr(self.stbp_emulation))
        for name, hi in (("input_events", PAPER_SPEC.n_in * 10_000), ("hidden", 1.0), ("output", 1.0),
                         ("write_fraction", 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= hi:
                raise InputError(f"activity.{name}", "out of range", limit=f"0..{hi}", value=v)


def _lines_hit(events: float, M: int) -> float:
    """Expected input lines with at least one event (events spread uniformly over M lines)."""
    return M * (1.0 - math.exp(-events / M)) if M else 0.0


def paper_counts(rule: str, a: Activity, spec: ChipSpec = PAPER_SPEC, T: int = PAPER_T) -> Counters:
    """Operations of one training sample of ``rule`` ('mpd-ed' or 'stbp') under activity ``a``:
    the engine's counting rules (``learning/backward.py``, ``learning/update.py``) in closed form,
    TET loss (its error enters every output potential at every step), events and errors
    independent across steps. Zero weights are assumed absent (effective = dense SOPs)."""
    if rule not in ("mpd-ed", "stbp"):
        raise InputError("rule", "unknown rule", limit="mpd-ed or stbp", value=repr(rule))
    M, N, K = spec.n_in, spec.n_hid, spec.n_out
    c = new_counts()
    ix = {n: i for i, n in enumerate(NAMES)}
    S_h, S_o = a.hidden * N * T, a.output * K * T
    for layer, (ev, n_post, act, spikes) in enumerate(((a.input_events, N, a.hidden, S_h),
                                                        (S_h, K, a.output, S_o))):
        row = c[layer]
        row[ix["input_events"]] = ev
        row[ix["sop_effective"]] = row[ix["sop_dense"]] = ev * n_post
        row[ix["sop_aux"]] = n_post * T * (1.0 - act) if a.aux else 0.0
        row[ix["neuron_updates"]] = n_post * T
        row[ix["spikes"]] = spikes
        row[ix["aux_writes"]] = n_post if a.aux else 0.0
    dense = rule == "stbp"
    silent_next = lambda act, n: n * (T - 1) * (1.0 - act)        # noqa: E731  (t, i) with s[t] = 0, t < T-1
    # ---- output layer: TET error at every (t, k); surrogate at spikes (MPD-ED) or everywhere (STBP)
    surr_o = K * T if dense else S_o
    inter_o = K * T + surr_o
    if a.window == -1:
        intra_o = K * T
    elif a.window == 0:
        intra_o = surr_o
    else:                          # every output error is non-zero (TET): one term per silent step
        intra_o = surr_o + min(a.window, T - 1) * silent_next(a.output, K)
    spike_o = surr_o if a.reset_path else 0.0
    # ---- hidden layer: error enters at spikes (MPD-ED) or everywhere (STBP); each hidden error
    # takes the K non-zero output errors of its step
    surr_h = N * T if dense else S_h
    inter_o += surr_h * K
    if a.window == -1:
        intra_h, err_h = N * T, (N * T if dense else min(N * T, S_h * (1 + (T - 1) / 2)))
    elif a.window == 0:
        intra_h, err_h = surr_h, surr_h
    else:
        carried = min(a.window, T - 1) * (silent_next(a.hidden, N) if dense else S_h * (1.0 - a.hidden))
        intra_h, err_h = surr_h + carried, min(N * T, surr_h + carried)
    spike_h = surr_h if a.reset_path else 0.0
    # ---- weight gradients. STBP "dense" (the paper's): every line at every step, every synapse
    # read and written; "event-input": dense post side, event-driven input side
    dense_in = dense and a.stbp_emulation == "dense"
    zeta_err_h = 1.0 if dense else err_h / (N * T)
    if dense_in:
        wgrad, reads = (T * M * N, T * N * K), (M * N, N * K)
    else:
        wgrad = (a.input_events * N * zeta_err_h, S_h * K)           # output errors dense (TET)
        lines = (_lines_hit(a.input_events, M), _lines_hit(S_h, N))
        reads = (lines[0] * N if dense else min(wgrad[0], lines[0] * N),
                 lines[1] * K if dense else min(wgrad[1], lines[1] * K))
    written = 1.0 if dense_in else a.write_fraction
    for layer, (intra, spk) in enumerate(((intra_h, spike_h), (intra_o, spike_o))):
        row = c[layer]
        row[ix["bwd_intra_ops"]] = intra
        row[ix["bwd_spike_ops"]] = spk
        row[ix["wgrad_accumulates"]] = wgrad[layer]
        row[ix["weight_reads"]] = reads[layer]
        row[ix["weight_writes"]] = reads[layer] * written
        row[ix["updates_skipped"]] = reads[layer] * (1.0 - written)
    c[1, ix["bwd_inter_ops"]] = inter_o
    return _FloatCounters(c)


class _FloatCounters(Counters):
    """Counters of expected (fractional) operation counts: the same view, float64 storage."""

    def __init__(self, counts, n_samples: int = 1):
        self.counts = np.asarray(counts, dtype=np.float64).copy()
        self.n_samples = n_samples

    def __getitem__(self, key) -> float:
        if isinstance(key, tuple):
            layer, name = key
            return float(self.counts[LAYERS.index(layer), NAMES.index(name)])
        return float(self.counts[:, NAMES.index(key)].sum())


def counts_from_ops(frame: pd.DataFrame, where: str = "ops.csv") -> dict[str, Counters]:
    """Per-rule per-sample counts from the ``ops`` table of ``anp energy -o`` (rule, layer,
    counter, count)."""
    need = {"rule", "layer", "counter", "count"}
    if not need <= set(frame.columns):
        raise InputError(where, "missing columns", limit=sorted(need), value=sorted(frame.columns))
    out = {}
    for rule, g in frame.groupby("rule", sort=False):
        c = np.zeros((len(LAYERS), len(NAMES)))
        for _, r in g.iterrows():
            if r["layer"] not in LAYERS or r["counter"] not in NAMES:
                raise InputError(f"{where}:{rule}", "unknown layer or counter", value=f"{r['layer']}/{r['counter']}")
            v = float(r["count"])
            if not math.isfinite(v) or v < 0:
                raise InputError(f"{where}:{rule}.{r['layer']}.{r['counter']}", "count must be finite and >= 0", value=v)
            c[LAYERS.index(r["layer"]), NAMES.index(r["counter"])] = v
        out[str(rule)] = _FloatCounters(c)
    return out


@dataclass
class Calibration:
    fitted: dict            # cost name -> fitted value (SOPs)
    table: EnergyTable      # the table with the fitted costs
    targets: pd.DataFrame   # rule, target_nj, modelled_nj, residual_nj, residual_pct, modelled_prior_nj
    sensitivity: pd.DataFrame  # rule, cost, value_sop, energy_share (= elasticity d ln E / d ln c)
    rank: int
    note: str

    def to_dict(self) -> dict:
        return {"fitted": self.fitted, "rank": self.rank, "note": self.note,
                "targets": self.targets.to_dict(orient="records"),
                "sensitivity": self.sensitivity.to_dict(orient="records"),
                "relative_costs": dict(self.table.relative_costs)}


def _energy(counts: Counters, table: EnergyTable, point: str, spec, T: int) -> float:
    """Learning energy per sample (nJ): what the paper's figures are."""
    return energy_per_sample(counts, spec, T, table.model(point))["learning_nj"]


def calibrate(counts: dict, table: EnergyTable, *, fit=DEFAULT_FIT, targets=None, point: str = "0.56V",
              spec: ChipSpec = PAPER_SPEC, T: int = PAPER_T) -> Calibration:
    """Fit the learning costs named in ``fit`` (SOPs) so that each rule's learning energy per
    sample with ``counts`` [rule] matches ``targets`` [rule] (nJ; default the paper's 312 / 9320 nJ
    at 0.56 V)."""
    targets = dict(targets or PAPER_LEARNING_NJ)
    fit = check_names(fit, LEARNING_COSTS, "--fit", "learning cost (backward or update)",
                      "name at least one cost to fit")
    rules = [r for r in targets if r in counts]
    if not rules:
        raise InputError("targets", "no rule has both a target energy and counts", value=sorted(targets))
    for r in rules:
        t = targets[r]
        if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
            raise InputError(f"target.{r}", "must be a finite energy > 0 (nJ)", value=t)
    model = table.model(point)
    unit_nj = model.sop_pj * 1e-3
    # E_r = base_r + sum_k A[r, k] * c_k over the fitted costs; base = everything else
    zeroed = table
    for k in fit:
        zeroed = zeroed.with_cost(k, 0.0)
    A = np.array([[counts[r][k] / max(counts[r].n_samples, 1) * unit_nj for k in fit] for r in rules])
    base = np.array([_energy(counts[r], zeroed, point, spec, T) for r in rules])
    y = np.array([float(targets[r]) for r in rules])
    sol, _, rank, _ = np.linalg.lstsq(A, y - base, rcond=None)
    if rank < len(fit):
        raise InputError("--fit", "the costs cannot be told apart from these energies (too many costs, or their "
                         "counts are proportional)", limit=f"at most {rank} independent cost(s)", value=",".join(fit))
    if np.any(sol < 0):
        bad = {k: float(v) for k, v in zip(fit, sol) if v < 0}
        raise InputError("calibration", "the fit needs a negative cost: with these counts (activity) the fixed costs "
                         "already give one rule more learning energy than its target", value=bad,
                         hint="fit other costs, or state a different activity")
    too_big = {k: round(float(v), 3) for k, v in zip(fit, sol) if k in REGISTER_OPS and v > MAX_REGISTER_OP_SOP}
    if too_big:
        raise InputError("calibration", "the fit needs an implausible cost: an operation on registers only would cost "
                         "more than ten synapse-SRAM reads", limit=f"<= {MAX_REGISTER_OP_SOP:g} SOP", value=too_big,
                         hint="the counts (activity) rather than the costs differ from the paper's chip")
    fitted = {k: float(v) for k, v in zip(fit, sol)}
    new = table
    for k, v in fitted.items():
        new = new.with_cost(k, v)
    rows = []
    for r in rules:
        e = _energy(counts[r], new, point, spec, T)
        rows.append({"rule": r, "target_nj": float(targets[r]), "modelled_nj": e, "residual_nj": e - targets[r],
                     "residual_pct": 100.0 * (e - targets[r]) / targets[r],
                     "modelled_prior_nj": _energy(counts[r], table, point, spec, T)})
    tg = pd.DataFrame(rows)
    if len(rules) == 2 and all(r in tg.rule.values for r in ("mpd-ed", "stbp")):
        m = tg.set_index("rule")["modelled_nj"]
        note = (f"modelled STBP : MPD-ED learning energy = {m['stbp'] / m['mpd-ed']:.2f}x "
                f"(target {targets['stbp'] / targets['mpd-ed']:.2f}x)")
    else:
        note = ""
    sens = []
    per_op = new.model(point).per_op_pj()
    for r in rules:
        e = _energy(counts[r], new, point, spec, T)
        n = max(counts[r].n_samples, 1)
        for k in LEARNING_COSTS:
            share = counts[r][k] / n * per_op[k] * 1e-3 / e if e else math.nan
            sens.append({"rule": r, "cost": k, "value_sop": new.relative_costs[k], "fitted": k in fitted,
                         "count_per_sample": counts[r][k] / n, "energy_share": share})
    return Calibration(fitted, new, tg, pd.DataFrame(sens), int(rank), note)


def describe_activity(a: Activity) -> dict:
    return asdict(a)


__all__ = ["LEARNING_COSTS", "REGISTER_OPS", "MAX_REGISTER_OP_SOP", "Activity", "paper_counts", "counts_from_ops", "calibrate", "Calibration", "describe_activity",
           "DEFAULT_FIT", "PAPER_T", "PAPER_SPEC"]
