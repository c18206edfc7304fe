"""Golden single-neuron time series worked out by hand, and tiny networks with hand-counted SOPs."""
import numpy as np
import pytest

from anp_emu.chip.emulator import Chip
from anp_emu.chip.events import SpikeInput
from conftest import make_config

BIG = 30000  # a threshold the output never reaches


def hidden_trace(cfg, x, precision="int"):
    r = Chip(cfg, precision).run(np.asarray(x, dtype=np.uint8), record=True)
    return r.v_hid[:, 0].tolist(), r.s_hid[:, 0].tolist(), r


def test_leak_of_odd_negative_values_uses_arithmetic_shift():
    cfg = make_config([[-3, 5]], [[1]], theta_hid=100, theta_out=BIG)
    # t0: 0 + (-3) = -3; t1: -3 - (-3 >> 1) = -3 - (-2) = -1; t2: -1 - (-1 >> 1) = -1 - (-1) = 0
    v, s, _ = hidden_trace(cfg, [[1, 0], [0, 0], [0, 0], [0, 0]])
    assert v == [-3, -1, 0, 0] and s == [0, 0, 0, 0]
    # positive odd: t0: 5; t1: 5 - 2 = 3; t2: 3 - 1 = 2; t3: 2 - 1 = 1; t4: 1 - 0 = 1
    v, _, _ = hidden_trace(cfg, [[0, 1], [0, 0], [0, 0], [0, 0], [0, 0]])
    assert v == [5, 3, 2, 1, 1]
    # the float twin leaks ideally: tau = 0.5
    v, _, _ = hidden_trace(cfg, [[1, 0], [0, 0], [0, 0]], "float")
    assert v == [-3.0, -1.5, -0.75]


def test_reset_after_spike_and_threshold_equality_fires():
    cfg = make_config([[7]], [[1]], theta_hid=7, theta_out=BIG)
    # t0: 7 >= 7 fires; t1: reset to 0, +7 -> fires; t2: reset, 0; t3: leak 0
    v, s, _ = hidden_trace(cfg, [[1], [1], [0], [0]])
    assert v == [7, 7, 0, 0] and s == [1, 1, 0, 0]


def test_reset_zeroes_before_integrate():
    cfg = make_config([[6]], [[1]], theta_hid=7, theta_out=BIG)
    # t0: 6; t1: 6 - 3 + 6 = 9 fires; t2: reset -> 0 + 6 = 6; t3: 6 - 3 = 3
    v, s, _ = hidden_trace(cfg, [[1], [1], [1], [0]])
    assert v == [6, 9, 6, 3] and s == [0, 1, 0, 0]


def test_aux_boost_only_after_a_silent_step():
    cfg = make_config([[12]], [[1]], theta_hid=10, theta_out=BIG, aux_hid=2)
    # t0: 0 + 12 + aux 2 = 14 fires; t1: reset, no aux (fired at t0) -> 0;
    # t2: 0 + 2 = 2; t3: 2 - 1 + 2 = 3; t4: 3 - 1 + 2 = 4; t5: 4 - 2 + 2 = 4 (saturates at 2*aux)
    v, s, r = hidden_trace(cfg, [[1], [0], [0], [0], [0], [0]])
    assert v == [14, 0, 2, 3, 4, 4] and s == [1, 0, 0, 0, 0, 0]
    assert r.counters["hidden", "sop_aux"] == 5  # every step but t1
    v, _, _ = hidden_trace(cfg, [[1], [0], [0], [0]], "float")
    assert v == [14.0, 0.0, 2.0, 3.0]


def test_saturation_at_both_ends_is_counted():
    # v_bits = 9: membrane range -256..255
    w = [[127, 127, 127, 127], [-128, -128, -128, -128]]
    cfg = make_config(w, [[1, 1]], theta_hid=255, theta_out=200, v_bits=9, w_bits_out=8)
    v_h = Chip(cfg).run(np.ones((2, 4), dtype=np.uint8), record=True)
    # t0: 508 -> 255 (fires: equality); -512 -> -256; t1: n0 reset -> 0 + 508 -> 255;
    # n1: -256 - (-128) - 512 = -640 -> -256
    assert v_h.v_hid.tolist() == [[255, -256], [255, -256]]
    assert v_h.s_hid.tolist() == [[1, 0], [1, 0]]
    assert v_h.counters["hidden", "saturations"] == 4
    # the float twin never saturates
    f = Chip(cfg, "float").run(np.ones((2, 4), dtype=np.uint8), record=True)
    assert f.v_hid.tolist() == [[508.0, -512.0], [508.0, -768.0]]
    assert f.counters["saturations"] == 0


def test_tiny_network_sop_and_update_counts_by_hand():
    # 4-3-2 network; zeros in the weights make effective SOPs differ from dense ones
    w_hid = [[5, 0, 3, 0],
             [0, 0, 4, 1],
             [6, 2, 0, 0]]          # non-zeros per input line (column): 2, 1, 2, 1
    w_out = [[4, 0, 1],
             [0, 0, 5]]             # non-zeros per hidden neuron (column): 1, 0, 2
    cfg = make_config(w_hid, w_out, theta_hid=5, theta_out=5)
    x = [[1, 0, 1, 0],   # t0: lines 0, 2 -> acc = [8, 4, 6] -> h0, h2 fire
         [0, 1, 0, 0],   # t1: line 1 -> acc = [0, 0, 2]; h0,h2 reset -> [0, 2, 2]: none
         [0, 0, 0, 1]]   # t2: line 3 -> acc [0, 1, 0]; v = [0, 1+1, 1] : none
    r = Chip(cfg).run(np.asarray(x, dtype=np.uint8), record=True)
    assert r.s_hid.tolist() == [[1, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert r.v_hid.tolist() == [[8, 4, 6], [0, 2, 2], [0, 2, 1]]
    # output t0: hidden 0 and 2 -> acc = [4+1, 0+5] = [5, 5] -> both fire
    assert r.s_out.tolist() == [[1, 1], [0, 0], [0, 0]]
    c = r.counters
    assert c["hidden", "input_events"] == 4
    assert c["hidden", "sop_effective"] == 2 + 2 + 1 + 1
    assert c["hidden", "sop_dense"] == 4 * 3
    assert c["hidden", "neuron_updates"] == 3 * 3
    assert c["hidden", "spikes"] == 2
    assert c["output", "input_events"] == 2
    assert c["output", "sop_effective"] == 1 + 2
    assert c["output", "sop_dense"] == 2 * 2
    assert c["output", "neuron_updates"] == 2 * 3
    assert c["output", "spikes"] == 2
    assert c["sop_aux"] == 0 and c["saturations"] == 0
    # tie on counts (1, 1) and on summed membranes (5+0+0 vs 5+0+0): lower index
    assert r.v_out.sum(axis=0).tolist() == [5, 5] and r.neuron_argmax == 0


def test_prediction_tie_break_by_membrane():
    cfg = make_config([[10, 10]], [[10], [12]], theta_hid=5, theta_out=10)
    r = Chip(cfg).run(np.array([[1, 0]], dtype=np.uint8), record=True)
    assert r.out_counts.tolist() == [1, 1]
    assert r.neuron_argmax == 1  # 12 > 10
    assert Chip(cfg).run(np.array([[1, 0]], dtype=np.uint8)).neuron_argmax == 0  # no trace: lower index


def test_event_list_and_raster_give_the_same_run():
    cfg = make_config([[5, 0, 3, 0], [0, 0, 4, 1], [6, 2, 0, 0]], [[4, 0, 1], [0, 0, 5]], 5, 5)
    x = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.uint8)
    ev = SpikeInput.from_events(np.array([2, 0, 1, 0]), np.array([3, 2, 1, 0]), T=3, n_in=4)
    a, b = Chip(cfg).run(x, record=True), Chip(cfg).run(ev, record=True)
    assert np.array_equal(a.v_hid, b.v_hid) and np.array_equal(a.counters.counts, b.counters.counts)


def test_ideal_aft_threshold_decays_by_alpha_and_resets_after_a_spike():
    # float twin, ideal AFT-LIF (Wei et al. Eq. 16) with alpha = w_aux = 3, theta0 = 10, w = 6
    cfg = make_config([[6]], [[1]], theta_hid=10, theta_out=BIG, aux_hid=3)
    r = Chip(cfg, "float", aft="ideal").run(np.array([[1], [0], [1], [0], [1]], dtype=np.uint8), record=True)
    # thresholds: t0 10-3=7, t1 4, t2 1, (t2: v = 6*.5*.5... ) see trace
    # v: t0 6; t1 3; t2 1.5 + 6 = 7.5 >= th 1 -> fires; t3 reset 0, th back to 10; t4 6 < th 7
    assert r.th_hid[:, 0].tolist() == [7.0, 4.0, 1.0, 10.0, 7.0]
    assert r.v_hid[:, 0].tolist() == [6.0, 3.0, 7.5, 0.0, 6.0]
    assert r.s_hid[:, 0].tolist() == [0, 0, 1, 0, 0]
    assert r.counters["sop_aux"] == 0  # no aux boost in the ideal model
    with pytest.raises(Exception, match="only in the float twin"):
        Chip(cfg, "int", aft="ideal")
