"""What distinguishes one learning rule from another: the mask and the density of the work."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    masked: bool   # surrogate only at spikes (u >= theta)
    dense: bool    # weight gradient and update on every synapse


@dataclass(frozen=True)
class SpikeTimeRule(Rule):
    """A rule that differentiates spike times (``spike_time``): error only at spikes, carried to
    the input spikes that contributed since the neuron's last spike."""

    masked: bool = True
    dense: bool = False
    leak_free: bool = False        # needs the IF neuron (spec.leak_shift = LEAK_OFF)
    enhanced_loss: bool = False    # hinge count loss (STD-ED) rather than Zhu et al.'s S9
    counts_slope: bool = False     # the slope D is an extra accumulation (h differs from the forward kernel)
    exp_backward_kernel: bool = False   # h(t) = exp(-t / tau_grad); else h = 1

    def eps_decay(self, spec) -> float:
        """Per-step factor of the forward kernel eps (the chip's neuron: tau; IF: 1)."""
        return float(spec.tau)

    def h_decay(self, settings) -> float:
        """Per-step factor of the backward kernel h."""
        import math
        return math.exp(-1.0 / settings.tau_grad) if self.exp_backward_kernel else 1.0
