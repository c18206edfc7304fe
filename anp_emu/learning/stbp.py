"""STBP: dense surrogate-gradient BPTT (Wu et al. 2018), the baseline of Wei et al. 2024.

The same surrogate without the mask (window around theta) at every neuron and every step, so
every neuron carries error at every step and the gradient is formed on every synapse:
O(M N T + N T + N T) per layer (Table II). On ANP-I the paper emulates it by activating every
neuron; here every operation of the dense computation is counted.
"""
from .rule import Rule

STBP = Rule(name="stbp", masked=False, dense=True)
