"""Comparing the learning rules on the same samples (Wei et al. 2024, Fig. 7 d-e and Table III).

- :func:`gradient_agreement`: per rule and sample, the sparsity of dL/dS in the hidden layer (the
  fraction of (step, neuron) entries the rule propagates no spike gradient to) and, per layer, the
  cosine similarity of the rule's weight update with STBP's on the same sample and weights.
  dL/dS is what each rule sends into a hidden neuron's spike output: for the surrogate rules the
  error W_out^T delta_u_out[t] at the (step, neuron) entries whose surrogate is non-zero (MPD-ED:
  the spikes; STBP: the surrogate window, usually all); for the spike-time rules dL/dt at the
  hidden spikes. The weight update is -lr dL/dW; its cosine with STBP's does not depend on lr.
- :func:`load_training_counters` / :func:`measured_complexity`: Table II/III from training runs.

STD-ED runs on the non-leaky IF neuron, so its gradients are those of the same weights on the IF
chip (``config_for_rule``); the other rules run on the config's own neuron.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..chip.emulator import Chip
from ..chip.counters import LAYERS, NAMES, Counters
from ..errors import FileFormatError, InputError
from ..chip.spec import ChipSpec
from .engine import RULES, LearningEngine, config_for_rule
from .surrogate import SHAPE_ID, surrogate

_surrogate_vec = np.vectorize(lambda d, masked, shape, width: surrogate(d, masked, shape, width), otypes=[float])


def _hidden_spike_gradient(rule, g, chip, settings) -> np.ndarray:
    """dL/dS (T, n_hid) that ``rule`` propagates into the hidden spikes (module docstring)."""
    if g.dt_hid is not None:
        return g.dt_hid
    r = g.forward
    w_out = chip.wT[1].T.astype(float)
    ds = g.du_out @ w_out                                    # (T, n_hid): W_out^T delta_u_out[t]
    width = settings.surrogate_width * float(chip.theta[0])
    f = _surrogate_vec(r.v_hid.astype(float) - r.th_hid.astype(float), RULES[rule].masked,
                       SHAPE_ID[settings.surrogate], width)
    return np.where(f != 0.0, ds, 0.0)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a.ravel() @ b.ravel() / (na * nb)) if na > 0 and nb > 0 else float("nan")


def gradient_agreement(config, samples, labels, rules=("stbp", "mpd-ed", "std-ed", "ebp"),
                       precision: str = "float") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per_sample, summary) for ``samples`` (SpikeInputs or rasters) with ``labels``.

    per_sample: rule, sample, dLdS_nonzero (entries), dLdS_sparsity, and per layer the update's
    cosine with STBP's (NaN when either is zero). summary: per rule the means, and the cosine of
    the updates summed over the samples."""
    rules = list(rules)
    for r in rules:
        if r not in RULES:
            raise InputError("rules", "unknown rule", limit=f"one of {list(RULES)}", value=repr(r))
    if "stbp" not in rules:
        rules = ["stbp"] + rules
    if len(samples) == 0 or len(samples) != len(labels):
        raise InputError("samples", "need one label per sample and at least one sample", value=len(samples))
    grads = {}
    for rule in rules:
        cfg = config_for_rule(config, rule)
        chip = Chip(cfg, precision)
        eng = LearningEngine(chip, cfg.learning)
        out = []
        for x, y in zip(samples, labels):
            g = eng.gradients(x, int(y))
            out.append((g.dW_hid, g.dW_out, _hidden_spike_gradient(rule, g, chip, cfg.learning)))
        grads[rule] = out
    rows = []
    for rule in rules:
        for k, (dh, do, ds) in enumerate(grads[rule]):
            sh, so = grads["stbp"][k][:2]
            rows.append({"rule": rule, "sample": k, "dLdS_nonzero": int(np.count_nonzero(ds)),
                         "dLdS_sparsity": 1.0 - np.count_nonzero(ds) / ds.size,
                         "cos_hidden": _cosine(dh, sh), "cos_output": _cosine(do, so)})
    per = pd.DataFrame(rows)
    summary = per.groupby("rule", sort=False)[["dLdS_sparsity", "cos_hidden", "cos_output"]].mean().reset_index()
    for layer, idx in (("hidden", 0), ("output", 1)):
        tot = {r: sum(g[idx] for g in grads[r]) for r in rules}
        summary[f"cos_sum_{layer}"] = [_cosine(tot[r], tot["stbp"]) for r in summary["rule"]]
    return per, summary


# ----------------------------------------------------------------------------- measured Table II/III
COUNTERS_FORMAT = "anp-training-counters"


def load_training_counters(run) -> dict:
    """The counters a training run folder (``anp train -o RUN``) wrote to counters.json, checked:
    {"rule", "T", "spec" (ChipSpec), "counters" (Counters), "path"}."""
    run = Path(run)
    path = run / "counters.json" if run.is_dir() else run
    if not path.exists():
        raise FileFormatError(path, "no counters.json (written by anp train -o RUN)")
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FileFormatError(path, f"not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != COUNTERS_FORMAT or doc.get("version") != 1:
        raise FileFormatError(path, f"format: expected {COUNTERS_FORMAT} version 1")
    rule, T, n = doc.get("rule"), doc.get("T"), doc.get("n_samples")
    if rule not in RULES:
        raise FileFormatError(path, f"rule: expected one of {list(RULES)}, got {rule!r}")
    for name, v in (("T", T), ("n_samples", n)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise FileFormatError(path, f"{name}: expected an integer >= 1, got {v!r}")
    spec = ChipSpec.from_dict(doc.get("spec") or {}, where=f"{path}:spec")
    c = doc.get("counters")
    counts = np.zeros((len(LAYERS), len(NAMES)), dtype=np.int64)
    for li, layer in enumerate(LAYERS):
        d = c.get(layer) if isinstance(c, dict) else None
        if not isinstance(d, dict) or set(d) != set(NAMES):
            raise FileFormatError(path, f"counters.{layer}: expected the counters {list(NAMES)}")
        for i, name in enumerate(NAMES):
            v = d[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise FileFormatError(path, f"counters.{layer}.{name}: expected an integer >= 0, got {v!r}")
            counts[li, i] = v
    return {"rule": rule, "T": T, "spec": spec, "counters": Counters(counts, n_samples=n), "path": str(path)}


def measured_complexity(runs) -> pd.DataFrame:
    """Per run and layer: measured zeta_i, zeta_o, Table II's complexity with them and its reduction
    against STBP's formula (``reduction_pct``: the formulas), the learning operations counted per
    sample — ``measured_bp`` (inter + intra + spike-induced BP) plus ``measured_wgrad`` (the
    weight-gradient accumulates; in Table II's single-layer count they are the inter-neuron term of a
    layer that sends no error further, such as the hidden layer) = ``measured_learning`` — and,
    when STBP runs are among ``runs``, the reduction of ``measured_learning`` against the mean of
    theirs (``counted_vs_stbp_pct``: the counted operations)."""
    from ..energy.complexity import complexity_from_counters

    frames = []
    for run in runs:
        d = run if isinstance(run, dict) else load_training_counters(run)
        f = complexity_from_counters(d["counters"], d["spec"], d["T"], rule=d["rule"])
        f.insert(0, "run", d.get("path", ""))
        f["measured_learning"] = f["measured_bp"] + f["measured_wgrad"]
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    stbp = df[df["rule"] == "stbp"].groupby("layer")["measured_learning"].mean()
    df["counted_vs_stbp_pct"] = [100.0 * (1.0 - x / stbp[layer]) if layer in stbp.index and stbp[layer] > 0
                                 else float("nan") for x, layer in zip(df["measured_learning"], df["layer"])]
    return df
