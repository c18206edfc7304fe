"""Operation counters: every operation the emulated chip performs, per layer and phase.

The numba kernels write into an int64 array ``counts[layer, counter]`` (layer 0 hidden, 1
output) using the index constants below; :class:`Counters` is the Python view with names,
accumulation (NeuroBench-style ``update``/``reset``/``compute``) and a pandas table.

Definitions (one per counter; "event" = one presynaptic spike arriving at the layer):

forward
  input_events      presynaptic spikes arriving at the layer (input lines for hidden, hidden
                    spikes for output)
  sop_effective     synaptic operations that add a non-zero weight (events x non-zero fan-out)
  sop_dense         synaptic operations of a dense fan-out (events x n_post), zeros included
  sop_aux           deliveries of the auxiliary neuron's synapse (neurons silent at t-1, when
                    the aux weight is non-zero)
  neuron_updates    leak/reset + fire decisions (n_post per step)
  spikes            output spikes of the layer
  saturations       membrane values clipped to the v_bits range
backward (learning, Table II of Wei et al.)
  bwd_inter_ops     inter-neuron BP: error multiply-accumulates W^T delta_u from the next layer
                    (and the loss error injected at the output layer)
  bwd_intra_ops     intra-neuron BP: surrogate evaluations and temporal-path updates
  bwd_spike_ops     spike-induced BP: reset-path contributions
  wgrad_accumulates weight-gradient accumulates delta_u[i, t] * x[j, t] over (event, error) pairs;
                    STBP "dense" (the paper's emulation, every line activated): T x n_pre x n_post
update
  weight_reads      synapse reads for the update (read-modify-write); STBP "dense": every synapse
  weight_writes     synapse writes whose rounded update is non-zero; STBP "dense": every synapse
                    (each synapse read is written back)
  updates_skipped   synapses with a gradient whose rounded update is zero (not written)

Learning energy (the paper's metric) is the energy of the backward and update counters, with
their share of static energy; inference energy that of the forward counters
(``anp_emu.energy.report``).
  aux_writes        aux synapse restores after each training iteration (weight writes)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

FORWARD = ("input_events", "sop_effective", "sop_dense", "sop_aux", "neuron_updates", "spikes",
           "saturations")
BACKWARD = ("bwd_inter_ops", "bwd_intra_ops", "bwd_spike_ops", "wgrad_accumulates")
UPDATE = ("weight_reads", "weight_writes", "updates_skipped", "aux_writes")
NAMES = FORWARD + BACKWARD + UPDATE
PHASE_OF = {**{n: "forward" for n in FORWARD}, **{n: "backward" for n in BACKWARD},
            **{n: "update" for n in UPDATE}}
N_COUNTERS = len(NAMES)
N_LAYERS = 2
LAYERS = ("hidden", "output")

# index constants for the numba kernels
(C_INPUT_EVENTS, C_SOP_EFFECTIVE, C_SOP_DENSE, C_SOP_AUX, C_NEURON_UPDATES, C_SPIKES, C_SATURATIONS,
 C_BWD_INTER, C_BWD_INTRA, C_BWD_SPIKE, C_WGRAD, C_W_READS, C_W_WRITES, C_UPD_SKIPPED,
 C_AUX_WRITES) = range(N_COUNTERS)


def new_counts() -> np.ndarray:
    return np.zeros((N_LAYERS, N_COUNTERS), dtype=np.int64)


class Counters:
    """Named view of a (2, N_COUNTERS) int64 count array; an accumulator over samples."""

    def __init__(self, counts: np.ndarray | None = None, n_samples: int = 1):
        self.counts = new_counts() if counts is None else np.asarray(counts, dtype=np.int64).copy()
        self.n_samples = n_samples

    # NeuroBench-style accumulator
    def reset(self) -> None:
        self.counts[:] = 0
        self.n_samples = 0

    def update(self, other: "Counters") -> "Counters":
        self.counts += other.counts
        self.n_samples += other.n_samples
        return self

    def compute(self) -> dict[str, float]:
        """Mean per sample of every counter, summed over layers."""
        n = max(self.n_samples, 1)
        return {name: float(self.counts[:, i].sum()) / n for i, name in enumerate(NAMES)}

    def __add__(self, other: "Counters") -> "Counters":
        return Counters(self.counts + other.counts, self.n_samples + other.n_samples)

    def __getitem__(self, key) -> int:
        """``c["spikes"]`` (both layers) or ``c["hidden", "spikes"]``."""
        if isinstance(key, tuple):
            layer, name = key
            li = LAYERS.index(layer) if isinstance(layer, str) else int(layer)
            return int(self.counts[li, NAMES.index(name)])
        return int(self.counts[:, NAMES.index(key)].sum())

    def to_frame(self, per_sample: bool = False) -> pd.DataFrame:
        """Long table: layer, phase, counter, value (mean per sample if ``per_sample``)."""
        div = max(self.n_samples, 1) if per_sample else 1
        rows = [(LAYERS[li], PHASE_OF[n], n, self.counts[li, i] / div if per_sample else int(self.counts[li, i]))
                for li in range(N_LAYERS) for i, n in enumerate(NAMES)]
        return pd.DataFrame(rows, columns=["layer", "phase", "counter", "value"])

    def as_dict(self) -> dict:
        return {LAYERS[li]: {n: int(self.counts[li, i]) for i, n in enumerate(NAMES)} for li in range(N_LAYERS)}

    def __repr__(self) -> str:
        nz = {n: self[n] for n in NAMES if self[n]}
        return f"Counters(n_samples={self.n_samples}, {nz})"
