"""Measure what training costs: run training steps of several rules on the same samples, from the
same initial weights, and turn their counters into energy reports.

The dataset is duck-typed (``len``, ``sample(i) -> SpikeInput``, ``labels``, ``T``, ``n_in``) so
that :mod:`anp_emu` does not import :mod:`anp_emu.emg`. The learning engine is
:class:`anp_emu.learning.engine.LearningEngine` unless ``engine_factory`` is given (a callable
``(chip, settings) -> engine`` whose ``train_step(x, label)`` returns an object with
``.counters``, ``.loss`` and ``.prediction``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..chip.emulator import Chip
from ..chip.config import ChipConfig
from ..chip.counters import Counters
from ..errors import InputError, check_names
from ..learning.settings import RULE_NAMES
from .complexity import complexity_from_counters
from .model import EnergyModel
from .report import RunReport, compare, run_report, energy_per_sample


@dataclass
class TrainingEnergy:
    """Result of :func:`measure_training`: per rule the summed counters and the per-sample report,
    the per-step log (rule, step, sample, label, prediction, loss, energy_nj, forward_nj, backward_nj,
    update_nj, latency_us), the side-by-side comparison and the complexity table."""

    counters: dict
    reports: dict
    log: pd.DataFrame
    comparison: pd.DataFrame
    complexity: pd.DataFrame
    indices: np.ndarray
    T: int

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table by name (for CSV/JSON output)."""
        rs = list(self.reports.values())
        return {"comparison": self.comparison,
                "summary": pd.concat([r.summary for r in rs], ignore_index=True),
                "phases": pd.concat([r.phases for r in rs], ignore_index=True),
                "ops": pd.concat([r.ops for r in rs], ignore_index=True),
                "complexity": self.complexity,
                "steps": self.log}


def sample_order(n_items: int, n_samples: int, seed: int) -> np.ndarray:
    """``n_samples`` dataset indices: seeded permutations of the dataset, one epoch after another."""
    if n_items < 1:
        raise InputError("dataset", "has no samples", value=0)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InputError("samples", "must be an integer >= 1", value=n_samples)
    rng = np.random.default_rng(seed)
    chunks, left = [], int(n_samples)
    while left > 0:
        p = rng.permutation(n_items)[:left]
        chunks.append(p)
        left -= len(p)
    return np.concatenate(chunks)


def _default_engine(chip, settings):
    try:
        from ..learning.engine import LearningEngine
    except ImportError as e:  # the learning engine is a sibling module; say so plainly
        raise InputError("learning", "the on-chip learning engine (anp_emu.learning.engine) is not available",
                         value=str(e)) from None
    return LearningEngine(chip, settings)


def measure_training(config: ChipConfig, dataset, model: EnergyModel, *, rules=("mpd-ed", "stbp"),
                     n_samples: int = 20, seed: int = 0, engine_factory=None, progress=None,
                     indices=None) -> TrainingEnergy:
    """Train a fresh copy of ``config`` with each rule on the same ``n_samples`` samples (seeded
    order) and report the energy per training sample. ``progress(k)`` is called after each step."""
    rules = check_names(rules, RULE_NAMES, "rules", "rule", "need at least one rule")
    spec = config.spec
    if dataset.n_in > spec.n_in:
        raise InputError("dataset.n_in", "more input lines than the chip has", limit=spec.n_in, value=dataset.n_in)
    labels = np.asarray(dataset.labels, dtype=np.int64)
    if labels.size and labels.max() >= spec.n_out:
        raise InputError("dataset.labels", "class index beyond the output layer", limit=spec.n_out - 1,
                         value=int(labels.max()))
    T = int(dataset.T)
    idx = np.asarray(indices, dtype=np.int64) if indices is not None else sample_order(len(dataset), n_samples, seed)
    factory = engine_factory or _default_engine
    counters, reports, rows = {}, {}, []
    for rule in rules:
        from ..learning.engine import config_for_rule   # spike-time rules: own loss; STD-ED: the IF neuron
        rule_config = config_for_rule(config.copy(), rule, seed=seed)
        settings = rule_config.learning
        chip = Chip(rule_config, "int")
        engine = factory(chip, settings)
        total = Counters(n_samples=0)
        for step, i in enumerate(idx):
            x = dataset.sample(int(i))
            res = engine.train_step(x, int(labels[i]))
            c = res.counters
            total.update(c)
            e = energy_per_sample(c, spec, T, model)
            loss = getattr(res, "loss", math.nan)
            rows.append({"rule": rule, "step": step, "sample": int(i), "label": int(labels[i]),
                         "prediction": int(getattr(res, "prediction", -1)),
                         "loss": float(loss) if loss is not None else math.nan, **e,
                         "hidden_spikes": c["hidden", "spikes"], "output_spikes": c["output", "spikes"],
                         "input_events": c["hidden", "input_events"]})
            if progress is not None:
                progress(1)
        counters[rule] = total
        reports[rule] = run_report(total, spec, T, model, rule)
    comp = compare(reports)
    cx = pd.concat([complexity_from_counters(counters[r], spec, T, rule=r) for r in rules], ignore_index=True)
    return TrainingEnergy(counters, reports, pd.DataFrame(rows), comp, cx, idx, T)


def inference_report(config: ChipConfig, dataset, model: EnergyModel, indices) -> RunReport:
    """Forward-only report over ``indices`` (what one inference costs on the same chip)."""
    chip = Chip(config, "int")
    total = Counters(n_samples=0)
    for i in indices:
        total.update(chip.run(dataset.sample(int(i))).counters)
    return run_report(total, config.spec, int(dataset.T), model, "inference")
