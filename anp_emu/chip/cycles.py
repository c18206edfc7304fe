"""Cycle model of the asynchronous ANP-I: how many clock-equivalent cycles each operation takes.

ANP-I is asynchronous: a time step lasts as long as its events need, not a worst-case budget, so
the latency of a sample is the sum of the work of its events. The table below turns counters
into cycles; divide by the operating point's clock to get seconds.

Reasoning for the defaults (each is an assumption, overridable):
- ``synaptic_lanes = 64``: at 0.56 V/40 MHz the chip draws 2.91 mW at 1.49 pJ/SOP, i.e. about
  1.95 GSOP/s = 49 SOP per cycle at full load; at 0.9 V/210 MHz, 56.8 mW / 4.16 pJ = 13.7 GSOP/s =
  65 SOP per cycle. A 64-wide synapse row per cycle matches both.
- ``event_overhead = 1``: one cycle to decode an event's address and open its weight row.
- ``neuron_lanes = 64``: neuron updates (leak/reset, aux, saturate, fire) per cycle, taken as
  wide as the synapse datapath.
- ``error_lanes = 64``: error MACs and weight-gradient accumulates per cycle in learning.
- ``weight_write_cycles = 1``: one read-modify-write slot per synapse update through a
  ``sram_port_words = 4``-word port.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from .counters import NAMES, Counters
from ..errors import ConfigKeyError, InputError


CYCLE_FIELD_MAX = 1_000_000      # lanes or cycles per operation: beyond this a typo


@dataclass(frozen=True)
class CycleTable:
    synaptic_lanes: int = 64
    event_overhead: int = 1
    neuron_lanes: int = 64
    error_lanes: int = 64
    weight_write_cycles: int = 1
    sram_port_words: int = 4

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            lo = 0 if f.name == "event_overhead" else 1
            if not isinstance(v, (int, np.integer)) or not lo <= v <= CYCLE_FIELD_MAX:
                raise InputError(f"cycles.{f.name}", f"must be an integer in {lo}..{CYCLE_FIELD_MAX}", value=v)

    @classmethod
    def from_dict(cls, d: dict) -> "CycleTable":
        known = {f.name for f in fields(cls)}
        for k in d:
            if k not in known:
                raise ConfigKeyError(f"cycles.{k}", "unknown key", limit=f"one of {sorted(known)}")
        return cls(**{k: int(v) for k, v in d.items()})

    def to_dict(self) -> dict:
        return asdict(self)

    def layer_cycles(self, counters: Counters, layer: int, n_post: int, T: int) -> dict[str, float]:
        """Cycles of one layer by phase, from its counters (totals over the counted samples)."""
        c = dict(zip(NAMES, counters.counts[layer].tolist()))
        row = self.event_overhead + math.ceil(n_post / self.synaptic_lanes)
        n_samples = max(counters.n_samples, 1)
        fwd = c["input_events"] * row + n_samples * T * math.ceil(n_post / self.neuron_lanes)
        bwd = ((c["bwd_inter_ops"] + c["wgrad_accumulates"]) / self.error_lanes
               + (c["bwd_intra_ops"] + c["bwd_spike_ops"]) / self.neuron_lanes)
        upd = ((c["weight_writes"] + c["aux_writes"]) * self.weight_write_cycles
               + c["weight_reads"] / self.sram_port_words)
        return {"forward": float(fwd), "backward": float(bwd), "update": float(upd)}

    def cycles(self, counters: Counters, spec, T: int) -> dict[str, float]:
        """Total cycles by phase over both layers."""
        out = {"forward": 0.0, "backward": 0.0, "update": 0.0}
        for layer, n_post in enumerate((spec.n_hid, spec.n_out)):
            for k, v in self.layer_cycles(counters, layer, n_post, T).items():
                out[k] += v
        return out


DEFAULT_CYCLES = CycleTable()
