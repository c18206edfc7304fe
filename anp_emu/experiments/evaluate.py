"""Inference over a dataset on the emulated chip: accuracy, confusion matrix, per-class accuracy
and the forward counters per sample (for energy and latency per inference)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..chip.emulator import Chip
from ..chip.counters import Counters
from ..errors import InputError


@dataclass
class EvalResult:
    accuracy: float                 # fraction correct, 0..1
    predictions: np.ndarray         # (N,) int64
    labels: np.ndarray              # (N,) int64
    class_names: list[str]
    counters: Counters              # summed over the N samples (n_samples = N)
    by_spike_count: np.ndarray | None = None   # (N,) bool: one class output had the most spikes;
    #                                            else the summed-membrane tie-break decided

    @property
    def spike_count_share(self) -> float:
        """Fraction of samples the spike counts alone decided (one class output fired most); the
        others were decided by the summed-membrane tie-break of the chip's readout (no class
        output fired, or several fired equally)."""
        return float(np.mean(self.by_spike_count)) if self.by_spike_count is not None else float("nan")

    @property
    def confusion(self) -> pd.DataFrame:
        """Rows: true class, columns: predicted class, values: sample counts."""
        k = len(self.class_names)
        m = np.zeros((k, k), dtype=np.int64)
        np.add.at(m, (self.labels, self.predictions), 1)
        return pd.DataFrame(m, index=pd.Index(self.class_names, name="true"),
                            columns=pd.Index(self.class_names, name="predicted"))

    @property
    def per_class_accuracy(self) -> pd.Series:
        c = self.confusion.to_numpy()
        tot = c.sum(axis=1)
        acc = np.divide(np.diag(c), tot, out=np.full(len(tot), np.nan), where=tot > 0)
        return pd.Series(acc, index=self.class_names, name="accuracy")


def check_fits(chip_n_in: int, dataset) -> None:
    if dataset.n_in > chip_n_in:
        raise InputError("dataset.n_in", "more input lines than the chip has", limit=chip_n_in, value=dataset.n_in)


def evaluate(chip: Chip, dataset, progress=None) -> EvalResult:
    """Run every sample of ``dataset`` (len, sample(i), labels, class_names) through ``chip``; only
    the dataset's classes (output neurons 0..K-1) can be predicted."""
    check_fits(chip.spec.n_in, dataset)
    n = len(dataset)
    if n == 0:
        raise InputError("dataset", "no samples to evaluate", value=0)
    labels = np.asarray(dataset.labels, dtype=np.int64)
    n_classes = len(dataset.class_names)
    if n_classes > chip.spec.n_out:
        raise InputError("dataset.class_names", "more classes than output neurons", limit=chip.spec.n_out,
                         value=n_classes)
    preds = np.empty(n, dtype=np.int64)
    by_count = np.empty(n, dtype=bool)
    total = Counters(n_samples=0)
    for i in range(n):
        r = chip.run(dataset.sample(i), record=True)
        preds[i] = r.class_prediction(n_classes)
        counts = np.asarray(r.s_out)[:, :n_classes].sum(axis=0)
        by_count[i] = counts.max() > 0 and int((counts == counts.max()).sum()) == 1
        total.update(r.counters)
        if progress is not None:
            progress(1)
    return EvalResult(float(np.mean(preds == labels)), preds, labels, list(dataset.class_names), total, by_count)
