"""What distinguishes one learning rule from another: the mask and the density of the work."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    masked: bool   # surrogate only at spikes (u >= theta)
    dense: bool    # weight gradient and update on every synapse
