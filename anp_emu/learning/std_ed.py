"""STD-ED: spike-timing-dependent event-driven learning (Wei et al. 2024, Section IV-A).

AFT-IF neurons: the IF kernel of Eq. 6-7 (no leak between spikes, hard reset to 0) is the chip's
neuron with the leak switched off (``spec.leak_shift = LEAK_OFF``, checked when the engine is
built); the adaptive threshold of Eq. 8 is the aux-neuron emulation on the int chip (exact for
IF, see docs/learning-rules.md) or the ideal AFT in the float twin (``Chip(..., aft="ideal")``).
Gradients only at spike times (Eq. 10-14, ``spike_time``): the inter-layer term w_ij / sum_C w,
the weight term over the input spikes C since the neuron's last spike, and the enhanced spike-count
loss with desired counts for target / non-target outputs (Sec. V-A). Table II: zeta_i M N T,
inter-neuron work only (no intra-neuron, no spike-induced operations).
"""
from .rule import SpikeTimeRule

STD_ED = SpikeTimeRule(name="std-ed", leak_free=True, enhanced_loss=True, counts_slope=False,
                       exp_backward_kernel=False)
