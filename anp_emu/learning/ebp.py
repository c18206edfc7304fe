"""ebp: the event-driven backpropagation of Zhu et al. 2022 (supplement S14-S21, loss S17).

Spike-timing gradients routed from each postsynaptic spike t_k,next to the presynaptic spikes since
the neuron's last spike (S18) with the backward kernel h(t) = exp(-t / tau_grad), and the weight
gradient S19 with the forward kernel eps. Adapted to the chip: eps is the chip's first-order LIF
kernel, eps(t) = tau^t (an input at t_m adds w tau^(t - t_m) to the membrane at t; exact in the float
twin, the int chip's leak v - (v >> k) floors), not the dual exponential of S16, which the chip's
single-state neuron cannot run. See docs/learning-rules.md.
"""
from .rule import SpikeTimeRule

EBP = SpikeTimeRule(name="ebp", leak_free=False, enhanced_loss=False, counts_slope=True, exp_backward_kernel=True)
