"""STD-ED (Wei et al. 2024 Sec. IV-A) and ebp (Zhu et al. 2022 S14-S21): float gradients against a
plain dense implementation of the printed equations, zero gradient for silent neurons, hand-counted
learning operations, the AFT-IF neuron against a hand-computed series, and trainability."""
import math

import numpy as np
import pytest

from anp_emu.chip.emulator import Chip
from anp_emu.chip.config import ChipConfig
from anp_emu.chip.design_rules import LEAK_SHIFT_SUPPORTED
from anp_emu.errors import DesignRuleError, InputError
from anp_emu.learning.engine import LearningEngine
from anp_emu.learning.settings import LearningSettings
from anp_emu.chip.spec import LEAK_OFF, ChipSpec
from conftest import make_config
from tasks import ref_forward, separable_task, train_on_task


# ----------------------------------------------------------------------------- reference
def ref_spike_time_grads(cfg, X, label, st: LearningSettings, ideal=False):
    """The printed equations, written per presynaptic spike as in Zhu et al. S18/S19 (each input
    spike t_m looks up the next spike t_next >= t_m of each post neuron): dL/dt (S17, enhanced
    hinge for STD-ED), D = sum over C of w h (Eq. 12), dL/dt_m = sum_i dL/dt_next w_ij h / D
    (Eq. 10-11), dL/dw_ij = - sum_m dL/dt_next eps(t_next - t_m) / D (Eq. 14 / S19)."""
    _, S, _, W, th0, tau = ref_forward(cfg, X, ideal)
    T = X.shape[0]
    std = st.rule == "std-ed"
    h = (lambda d: 1.0) if std else (lambda d: math.exp(-d / st.tau_grad))
    eps = (lambda d: 1.0) if std else (lambda d: tau ** d)
    # output dL/dt
    n = S[1].sum(0)
    dt_out = np.zeros((T, cfg.spec.n_out))
    for k in range(cfg.spec.n_out):
        d = st.target_count if k == label else st.other_count
        diff = d - n[k]
        if std and ((k == label and diff < 0) or (k != label and diff > 0)):
            diff = 0
        dt_out[:, k] = np.where(S[1][:, k] > 0, 2.0 * diff / T**2, 0.0)
    pres = [X.astype(float), S[0]]

    def interval_start(post, t_k, i):
        last = [t for t in range(t_k) if post[t, i] > 0]
        return last[-1] + 1 if last else 0

    def slope(l, i, t_k):
        t0 = interval_start(S[l], t_k, i)
        D = sum(W[l][i, j] * h(t_k - m) for m in range(t0, t_k + 1) for j in range(pres[l].shape[1]) if pres[l][m, j])
        return max(D, st.min_slope * th0[l])

    def next_spike(post, t_m, i):
        for t in range(t_m, T):
            if post[t, i] > 0:
                return t
        return None

    dts = [None, dt_out]
    dW = [np.zeros_like(W[0]), np.zeros_like(W[1])]
    for l in (1, 0):
        post, pre = S[l], pres[l]
        dt_pre = np.zeros_like(pre)
        for m in range(T):
            for j in range(pre.shape[1]):
                if not pre[m, j]:
                    continue
                for i in range(post.shape[1]):
                    tn = next_spike(post, m, i)
                    if tn is None or dts[l][tn, i] == 0:
                        continue
                    D = slope(l, i, tn)
                    dt_pre[m, j] += dts[l][tn, i] * W[l][i, j] * h(tn - m) / D
                    dW[l][i, j] += -dts[l][tn, i] * eps(tn - m) / D
        if l == 1:
            dts[0] = dt_pre
    return dW[0], dW[1], dts[0], dt_out, S


def problem(seed, leak_shift, aux=4):
    rng = np.random.default_rng(seed)
    spec = ChipSpec(n_in=12, n_hid=8, n_out=3, leak_shift=leak_shift)
    cfg = ChipConfig(spec, rng.integers(-30, 50, (8, 12)), rng.integers(-100, 200, (3, 8)), 60, 120, aux, aux)
    X = (rng.random((9, 12)) < 0.35).astype(np.uint8)
    return cfg, X, int(rng.integers(3))


@pytest.mark.parametrize("rule,ideal", [("std-ed", False), ("std-ed", True), ("ebp", False), ("ebp", True)])
def test_float_gradients_equal_the_printed_equations(rule, ideal):
    fired = 0
    for seed in range(5):
        cfg, X, label = problem(seed, LEAK_OFF if rule == "std-ed" else 1)
        st = LearningSettings.for_rule(rule, target_count=4, other_count=1, tau_grad=2.0, min_slope=0.2)
        chip = Chip(cfg, "float", aft="ideal" if ideal else "aux")
        g = LearningEngine(chip, st).gradients(X, label)
        dW1, dW2, dt_hid, dt_out, S = ref_spike_time_grads(cfg, X, label, st, ideal)
        np.testing.assert_array_equal(g.forward.s_hid, S[0])
        for got, want in ((g.dW_hid, dW1), (g.dW_out, dW2), (g.dt_hid, dt_hid), (g.dt_out, dt_out)):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(want).max()))
        fired += np.count_nonzero(dW1)
    assert fired > 0                       # the nets do carry error to the hidden weights


def test_std_ed_int_chip_gradient_equals_the_float_twins():
    """IF neurons without saturation: the int chip's spikes, and so its STD-ED gradients, equal the
    float twin's (aux emulation), and the ideal-AFT twin's spikes too."""
    for seed in range(3):
        cfg, X, label = problem(seed, LEAK_OFF)
        st = LearningSettings.for_rule("std-ed", target_count=4)
        gi = LearningEngine(Chip(cfg, "int"), st).gradients(X, label)
        for aft in ("aux", "ideal"):
            gf = LearningEngine(Chip(cfg, "float", aft=aft), st).gradients(X, label)
            np.testing.assert_array_equal(gi.forward.s_hid, gf.forward.s_hid)
            np.testing.assert_allclose(gi.dW_hid, gf.dW_hid, rtol=1e-12)
            np.testing.assert_allclose(gi.dW_out, gf.dW_out, rtol=1e-12)


@pytest.mark.parametrize("rule", ["std-ed", "ebp"])
def test_neurons_that_never_fire_get_no_gradient(rule):
    cfg, X, label = problem(1, LEAK_OFF if rule == "std-ed" else 1, aux=0)
    w = cfg.w_hid.copy()
    w[2] = -20                               # hidden neuron 2 can never reach threshold
    w[5] = -20
    cfg = cfg.replace(w_hid=w)
    g = LearningEngine(Chip(cfg, "float"), LearningSettings.for_rule(rule)).gradients(X, label)
    assert not g.forward.s_hid[:, [2, 5]].any()
    assert not g.dW_hid[[2, 5]].any() and not g.dW_out[:, [2, 5]].any()
    assert not g.du_hid[:, [2, 5]].any() and not g.dt_hid[:, [2, 5]].any()


def tiny_if_net(aux=0):
    # 2 inputs -> 1 hidden -> 1 output, IF neurons; theta 10 / 10
    return make_config([[6, 5]], [[12]], 10, 10, aux, aux, leak_shift=LEAK_OFF)


def test_learning_op_counts_by_hand_std_ed():
    """Input spikes: line 0 at steps 0 and 1, line 1 at step 1. Hidden: v = 6, 6+6+5 = 17 -> fires at
    step 1 (C = 3 input events); output: 12 >= 10 fires at step 1 (C = 1 hidden spike).
    Target count 3 for the label: dL/dt at the one output spike; output inter: 1 loss error in +
    1 error MAC to the hidden spike. wgrad: hidden 3 (events in C x 1 neuron), output 1. No
    intra-neuron, no spike-induced operations."""
    X = np.zeros((3, 2), dtype=np.uint8)
    X[0, 0] = X[1, 0] = X[1, 1] = 1
    st = LearningSettings.for_rule("std-ed", target_count=3, other_count=0)
    for prec in ("int", "float"):
        g = LearningEngine(Chip(tiny_if_net(), prec), st).gradients(X, 0)
        c = g.counters
        assert g.forward.s_hid[:, 0].tolist() == [0, 1, 0] and g.forward.s_out[:, 0].tolist() == [0, 1, 0]
        assert c["output", "bwd_inter_ops"] == 2 and c["hidden", "bwd_inter_ops"] == 0
        assert c["bwd_intra_ops"] == 0 and c["bwd_spike_ops"] == 0
        assert c["hidden", "wgrad_accumulates"] == 3 and c["output", "wgrad_accumulates"] == 1
        # by hand: dL/dt = 2 (3 - 1) / 9; output D = 12: dL/dw_out = -(4/9)/12; hidden dL/dt =
        # (4/9) * 12 / 12; hidden D = 17: dL/dw_hid = -(4/9)/17 * (2, 1)
        np.testing.assert_allclose(g.dW_out, [[-(4 / 9) / 12]], rtol=1e-12)
        np.testing.assert_allclose(g.dW_hid, [[-2 * (4 / 9) / 17, -(4 / 9) / 17]], rtol=1e-12)


def test_learning_op_counts_by_hand_ebp():
    """The same net with leak 1/2: hidden v = 6, 3 + 11 = 14 -> fires at step 1; output 12 at step 1.
    ebp forms the slope D = sum w h: hidden interval steps 0-1 hold 1 + 2 events (+1 kernel value
    per step) = 5 intra ops, output interval steps 0-1 hold 0 + 1 hidden events (+2) = 3."""
    cfg = make_config([[6, 5]], [[12]], 10, 10, leak_shift=1)
    X = np.zeros((3, 2), dtype=np.uint8)
    X[0, 0] = X[1, 0] = X[1, 1] = 1
    st = LearningSettings.for_rule("ebp", target_count=3, other_count=0, tau_grad=2.0)
    g = LearningEngine(Chip(cfg, "float"), st).gradients(X, 0)
    c = g.counters
    assert c["output", "bwd_inter_ops"] == 2 and c["bwd_spike_ops"] == 0
    assert c["hidden", "bwd_intra_ops"] == 5 and c["output", "bwd_intra_ops"] == 3
    h1 = math.exp(-1 / 2.0)
    D = 6 * h1 + 6 + 5
    np.testing.assert_allclose(g.dW_hid, [[-(4 / 9) * (0.5 + 1) / D, -(4 / 9) / D]], rtol=1e-12)


def test_aft_if_neuron_series_by_hand():
    """One IF neuron (leak off), theta 10, aux / alpha 3, input weight 2 at every step.
    Ideal AFT (Eq. 8, discrete: theta back to theta0 at the step after a spike, then - alpha per
    silent step): step 1 v=2 th=7; 2: v=4 th=4 -> spike; 3: v=2 th=10; 4: v=4 th=7; 5: v=6 th=4
    -> spike; 6: v=2 th=10. Aux chip: v + 3 per silent step: 5, 10 (>= 10 spike), 2, 7, 12 (spike),
    2 — the same spikes, exact for IF (the boosts add up as the threshold decays)."""
    cfg = make_config([[2]], [[1]], 10, 100, 3, 0, leak_shift=LEAK_OFF)
    X = np.ones((6, 1), dtype=np.uint8)
    spikes = [0, 1, 0, 0, 1, 0]
    ri = Chip(cfg, "int").run(X, record=True)
    assert ri.s_hid[:, 0].tolist() == spikes
    assert ri.v_hid[:, 0].tolist() == [5, 10, 2, 7, 12, 2]
    rf = Chip(cfg, "float", aft="ideal").run(X, record=True)
    assert rf.s_hid[:, 0].tolist() == spikes
    assert rf.v_hid[:, 0].tolist() == [2, 4, 2, 4, 6, 2]
    assert rf.th_hid[:, 0].tolist() == [7, 4, 10, 7, 4, 10]
    ra = Chip(cfg, "float", aft="aux").run(X, record=True)
    assert ra.v_hid[:, 0].tolist() == [5, 10, 2, 7, 12, 2]


def test_if_membrane_saturates_at_16_bits_and_never_decays():
    """Leak off: a negative membrane stays put (no shift k >= 1 does that: -1 >> k = -1), and the
    16-bit membrane clips at -32768 / 32767, counted, without wrapping."""
    cfg = make_config([[-127]], [[1]], 30000, 100, leak_shift=LEAK_OFF)
    X = np.zeros((300, 1), dtype=np.uint8)
    X[:260] = 1
    r = Chip(cfg, "int").run(X, record=True)
    assert r.v_hid[0, 0] == -127 and r.v_hid[257, 0] == -32766 and r.v_hid[258, 0] == -32768
    assert (r.v_hid[259:, 0] == -32768).all() and r.counters["hidden", "saturations"] == 2
    cfg = make_config([[127]], [[1]], 32767, 100, leak_shift=LEAK_OFF)
    r = Chip(cfg, "int").run(np.ones((300, 1), dtype=np.uint8), record=True)
    assert r.v_hid[257, 0] == 32766 and r.v_hid[258, 0] == 32767 and r.s_hid[258, 0] == 1
    assert r.v_hid[259, 0] == 127          # hard reset after the spike


def test_leak_shift_range_is_a_design_rule():
    assert ChipSpec(leak_shift=LEAK_OFF).tau == 1.0
    with pytest.raises(DesignRuleError, match=LEAK_SHIFT_SUPPORTED):
        ChipSpec(leak_shift=-1)
    with pytest.raises(DesignRuleError, match=LEAK_SHIFT_SUPPORTED):
        ChipSpec(leak_shift=16)


def test_std_ed_refuses_a_leaky_chip_and_a_wrong_loss():
    cfg, _, _ = problem(0, 1)
    with pytest.raises(InputError, match="leak_shift"):
        LearningEngine(Chip(cfg), LearningSettings.for_rule("std-ed"))
    with pytest.raises(InputError, match="learning.loss"):
        LearningSettings(rule="std-ed", loss="tet")
    with pytest.raises(InputError, match="learning.loss"):
        LearningSettings(rule="mpd-ed", loss="count")
    with pytest.raises(InputError, match="learning.target_count"):
        LearningSettings.for_rule("ebp", target_count=-1)


def test_count_losses_by_hand():
    from anp_emu.learning.spike_time import count_loss
    s = np.zeros((4, 3), dtype=np.uint8)
    s[[0, 2], 0] = 1             # target 0: 2 spikes (desired 3)
    s[:, 1] = 1                  # non-target 1: 4 spikes (desired 1)
    # non-target 2: 0 spikes (desired 1): plain S9 penalises it, the enhanced loss does not
    loss, g = count_loss(s, 0, 3, 1, False)
    assert loss == pytest.approx((1 / 4) ** 2 + (3 / 4) ** 2 + (1 / 4) ** 2)
    assert g[0, 0] == g[2, 0] == pytest.approx(2 * 1 / 16) and g[1, 0] == 0
    assert (g[:, 1] == 2 * -3 / 16).all() and not g[:, 2].any()
    loss_e, g_e = count_loss(s, 0, 3, 1, True)
    assert loss_e == pytest.approx((1 / 4) ** 2 + (3 / 4) ** 2)
    s[:, 0] = 1                  # target above its count: not penalised
    assert count_loss(s, 0, 3, 1, True)[1][:, 0].tolist() == [0, 0, 0, 0]




@pytest.mark.parametrize("rule", ["std-ed", "ebp"])
def test_training_a_small_int_network_reaches_90_percent(rule, capsys):
    from anp_emu.chip.initialise import init_config

    xs, ys = separable_task(0)
    train, test = (xs[:160], ys[:160]), (xs[160:], ys[160:])
    spec = ChipSpec(n_in=64, n_hid=32, n_out=4, leak_shift=LEAK_OFF if rule == "std-ed" else 1)
    cfg, _ = init_config(spec, train[0][:20], seed=1, target_hidden=0.1, aux_frac=0.2)
    st = LearningSettings.for_rule(rule, lr=TRAIN_LR[rule], target_count=8, other_count=1, seed=0)
    acc, total = train_on_task(cfg, st, train, test)
    with capsys.disabled():
        print(f"\n{rule}: 64-32-4 int test accuracy {acc:.1%}; per sample: "
              f"wgrad {total['wgrad_accumulates'] / total.n_samples:.0f}, "
              f"bwd inter {total['bwd_inter_ops'] / total.n_samples:.0f}, "
              f"intra {total['bwd_intra_ops'] / total.n_samples:.0f}")
    if rule == "std-ed":
        assert total["bwd_intra_ops"] == 0 and total["bwd_spike_ops"] == 0
    assert acc > 0.9


TRAIN_LR = {"std-ed": 3000.0, "ebp": 10000.0}   # spike-time gradients scale with 1/(T^2 theta): large lrs


def test_if_spec_round_trips_through_the_config_file(tmp_path):
    import h5py
    from anp_emu.files.config_io import load_config, save_config
    cfg = make_config([[6, 5]], [[12]], 10, 10, leak_shift=LEAK_OFF)
    save_config(cfg, tmp_path / "if.h5")
    with h5py.File(tmp_path / "if.h5") as f:
        assert int(f["layer/0/neuron/vDecay"][()]) == 0 and int(f["layer/0/neuron/leakShift"][()]) == 0
    assert load_config(tmp_path / "if.h5").spec.leak_shift == LEAK_OFF


def test_leak_off_keeps_every_membrane_value():
    """The reference and the kernels' arithmetic: shift 0 keeps v (int and float); shift 1 is the
    documented v - (v >> 1) (floors: -3 -> -1)."""
    from numba import njit
    from anp_emu.chip.arithmetic import leak

    @njit
    def kernel_leak(v, k):
        return leak(v, k)

    for v in (-32768, -3, -1, 0, 1, 7, 32767):
        assert leak(v, 0) == kernel_leak(np.int64(v), 0) == v
        assert kernel_leak(float(v), 0) == float(v)
        assert kernel_leak(np.int64(v), 1) == v - (v >> 1) == leak(v, 1)
    assert leak(-3, 1) == -1 and kernel_leak(-3.0, 1) == -1.5


def test_aux_emulation_and_ideal_aft_part_where_the_threshold_would_fall_below_zero():
    """Eq. 8's threshold stops at 0; the aux boosts go on. Weight -1, theta 10, alpha 6: the ideal
    threshold goes 4, 0, 0 ... and the membrane -1, -2, ... never reaches it; on the chip the
    membrane 5, 10 fires at step 2 (docs/learning-rules.md, adaptation 3)."""
    cfg = make_config([[-1]], [[1]], 10, 100, 6, 0, leak_shift=LEAK_OFF)
    X = np.ones((4, 1), dtype=np.uint8)
    rf = Chip(cfg, "float", aft="ideal").run(X, record=True)
    assert rf.th_hid[:, 0].tolist() == [4, 0, 0, 0] and not rf.s_hid.any()
    ri = Chip(cfg, "int").run(X, record=True)
    assert ri.v_hid[:2, 0].tolist() == [5, 10] and ri.s_hid[:, 0].tolist() == [0, 1, 0, 0]
