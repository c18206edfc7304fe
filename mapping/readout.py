"""The chip's readout rule, for the outputs of another simulator (snnTorch, Norse, Lava): numpy only.

ANP-I classifies a sample by its output spikes: the class is the output neuron with the most
spikes over the sample, among the dataset's classes (output neurons 0..K-1; the rest are unused
and never predicted); equal counts go to the larger membrane potential summed over the steps
(the potential at each step's fire decision), then to the lower index. An snnTorch user's
``argmax`` of spike counts breaks ties by the lower index only and looks at every output: on the
same spikes it can disagree with the chip. NIR exports carry this rule in their graph metadata
(``anp_readout``, :data:`READOUT`); :func:`readout_of` reads it back.

Use::

    from anp_emu.mapping.readout import chip_readout
    pred = chip_readout(spikes, membranes, n_classes=5)       # spikes (T, B, n_out): snnTorch's layout
    accuracy = (pred == labels).mean()

No torch import: pass ``tensor.detach().cpu().numpy()`` (or any array-like).
"""
from __future__ import annotations

import json

import numpy as np

from anp_emu.errors import InputError

READOUT = {"rule": "spike_count", "tie_break": ["summed_membrane", "lowest_index"],
           "description": "class = output neuron 0..n_classes-1 with the most spikes over the sample; equal "
                          "counts: the larger membrane potential summed over the steps; then the lower index"}


def readout_metadata(n_classes: int, class_names=None) -> dict:
    """The readout rule with the dataset's classes, as written into an export's metadata."""
    d = dict(READOUT, n_classes=int(n_classes))
    if class_names is not None:
        d["class_names"] = [str(c) for c in class_names]
    return d


def readout_of(metadata) -> dict:
    """The readout rule stored in a NIR graph's metadata (a ``nir.NIRGraph``, its ``metadata``
    dict, or the JSON text), or an error naming what is missing."""
    meta = getattr(metadata, "metadata", metadata)
    text = meta.get("anp_readout") if isinstance(meta, dict) else meta
    if isinstance(text, bytes):
        text = text.decode()
    if not isinstance(text, str):
        raise InputError("metadata.anp_readout", "missing (not an anp-emu export with a readout rule)")
    return json.loads(text)


def chip_readout(spikes, membranes=None, n_classes: int | None = None, time_axis: int = 0) -> np.ndarray:
    """Class predictions by the chip's readout rule.

    ``spikes``: output spikes with time on ``time_axis`` and neurons on the last axis, e.g.
    (T, B, n_out) as snnTorch records them, or (T, n_out) for one sample. ``membranes``: the
    output membrane potentials of the same shape (for the tie-break; None: ties go to the lower
    index). ``n_classes``: the dataset's classes (outputs 0..n_classes-1; default: every output).
    Returns an int64 array of the batch shape (a 0-d array for one sample)."""
    s = np.asarray(spikes)
    if s.ndim < 2:
        raise InputError("spikes", "needs a time axis and a neuron axis", limit=">= 2 dimensions", value=s.ndim)
    n_out = s.shape[-1]
    k = n_out if n_classes is None else n_classes
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_out:
        raise InputError("n_classes", "out of range", limit=f"1..{n_out}", value=n_classes)
    ax = time_axis % s.ndim
    if ax == s.ndim - 1:
        raise InputError("time_axis", "is the neuron axis (the last)", value=time_axis)
    counts = s.sum(axis=ax)[..., :k].astype(np.float64)
    if membranes is None:
        v = np.zeros_like(counts)
    else:
        m = np.asarray(membranes, dtype=np.float64)
        if m.shape != s.shape:
            raise InputError("membranes", "shape differs from the spikes'", limit=s.shape, value=m.shape)
        v = m.sum(axis=ax)[..., :k]
    # most spikes; among those, the largest summed membrane; np.argmax then takes the lowest index
    best = counts == counts.max(axis=-1, keepdims=True)
    v_masked = np.where(best, v, -np.inf)
    return np.argmax(v_masked, axis=-1).astype(np.int64)


def accuracy(predictions, labels) -> float:
    """Fraction of ``predictions`` equal to ``labels`` (NaN for no samples)."""
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.shape != y.shape:
        raise InputError("labels", "shape differs from the predictions'", limit=p.shape, value=y.shape)
    return float(np.mean(p == y)) if p.size else float("nan")
