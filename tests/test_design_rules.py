"""One pytest.raises per named design rule; the registry and this table must agree."""
import nir
import numpy as np
import pytest

from anp_emu.chip import design_rules as dr
from anp_emu.chip.config import ChipConfig
from anp_emu.errors import DesignRuleError
from anp_emu.mapping.float_model import FloatModel, load_nir
from anp_emu.chip.spec import ChipSpec

S = ChipSpec(n_in=4, n_hid=3, n_out=2)
W1, W2 = np.zeros((3, 4), int), np.zeros((2, 3), int)


def lif(n, **kw):
    p = dict(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    p.update(kw)
    return nir.LIF(**p)


def graph(*middle):
    return nir.NIRGraph.from_list(nir.Input(input_type=np.array([4])), *middle, nir.Output(output_type=np.array([2])),
                                  type_check=False)


def aff(n_out, n_in, bias=0.0):
    return nir.Affine(weight=np.ones((n_out, n_in)), bias=np.full(n_out, bias))


CASES = {
    dr.SIZE_WITHIN_CHIP: lambda: ChipSpec(n_in=2048),
    dr.W_BITS_SUPPORTED: lambda: ChipSpec(w_bits_hid=1),
    dr.V_BITS_SUPPORTED: lambda: ChipSpec(v_bits=8),
    dr.LEAK_SHIFT_SUPPORTED: lambda: ChipSpec(leak_shift=-1),     # 0 is the leak switched off (IF)
    dr.WEIGHT_SHAPE: lambda: ChipConfig(S, np.zeros((4, 3), int), W2, 1, 1),
    dr.WEIGHT_INTEGER: lambda: ChipConfig(S, np.zeros((3, 4)), W2, 1, 1),
    dr.WEIGHT_RANGE: lambda: ChipConfig(S, np.full((3, 4), 128), W2, 1, 1),
    dr.THRESHOLD_POSITIVE: lambda: ChipConfig(S, W1, W2, 0, 1),
    dr.THRESHOLD_IN_MEMBRANE: lambda: ChipConfig(S, W1, W2, 1, 40000),
    dr.AUX_RANGE: lambda: ChipConfig(S, W1, W2, 1, 1, w_aux_hid=-1),
    dr.AUX_AVAILABLE: lambda: ChipConfig(ChipSpec(n_in=4, n_hid=3, n_out=2, aux=False), W1, W2, 1, 1, w_aux_hid=3),
    dr.SCALE_POSITIVE: lambda: ChipConfig(S, W1, W2, 1, 1, scale_hid=0.0),
    dr.FINITE_VALUES: lambda: FloatModel(np.full((3, 4), np.nan), np.zeros((2, 3)), 1.0, 1.0),
    dr.TOPOLOGY_FEEDFORWARD: lambda: FloatModel(np.zeros((3, 4)), np.zeros((2, 5)), 1.0, 1.0),
    dr.NODE_SUPPORTED: lambda: load_nir(graph(aff(3, 4), nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)),
                                              aff(2, 3), lif(2))),
    dr.LAYER_UNIFORM: lambda: load_nir(graph(aff(3, 4), lif(3, v_threshold=np.array([1.0, 2.0, 1.0])), aff(2, 3), lif(2))),
    dr.NO_BIAS: lambda: load_nir(graph(aff(3, 4, bias=0.5), lif(3), aff(2, 3), lif(2))),
}


def test_every_rule_has_a_case():
    assert set(CASES) == set(dr.RULES)


@pytest.mark.parametrize("rule", sorted(dr.RULES))
def test_rule_raises_with_its_name_limit_and_value(rule):
    with pytest.raises(DesignRuleError) as e:
        CASES[rule]()
    assert e.value.rule == rule
    msg = str(e.value)
    assert msg.startswith(f"design rule {rule} violated at ") and "limit" in msg and "got" in msg and "fix:" in msg
