"""MPD-ED: membrane-potential-dependent event-driven learning (Wei et al. 2024, Section IV-B).

The surrogate gradient is masked: non-zero only where u >= theta, i.e. at spikes. Hence error
enters a neuron only when it fires, flows between layers only through spiking neurons, and the
weight gradient is formed only on (input event, post neuron with non-zero error) pairs — its cost
scales with spike counts: O(zeta_i M N T + N T + zeta_o N T) per layer (Table II).
"""
from .rule import Rule

MPD_ED = Rule(name="mpd-ed", masked=True, dense=False)
