"""On-chip learning: exact float gradients vs a plain dense BPTT, hand-counted learning ops,
the integer update, and end-to-end trainability of both rules."""
import itertools

import numpy as np
import pytest
from numba import njit
from hypothesis import given, settings as hsettings, strategies as st

from anp_emu.chip.emulator import Chip
from anp_emu.chip.config import ChipConfig
from anp_emu.errors import InputError
from anp_emu.chip.events import SpikeInput
from anp_emu.learning.engine import LearningEngine
from anp_emu.learning.settings import LearningSettings
from anp_emu.chip.counters import C_UPD_SKIPPED, C_W_READS, C_W_WRITES, new_counts
from anp_emu.learning.rounding import (_FINE_SALT, BLOCK, FIXED_LEVELS, NEAREST, NO_GRADIENT, STOCHASTIC, apply_change,
                                       lanes_le, lanes_min, lanes_ne, level, level_bounds, pow2,
                                       splitmix_at, stochastic_round, synapse_index, uniform_at, weight_change)
from anp_emu.learning.update import _row_bounds, dense_update, sparse_update
from anp_emu.chip.spec import ChipSpec
from conftest import make_config
from tasks import ref_forward, separable_task, train_on_task


# ----------------------------------------------------------------------------- reference BPTT
def ref_surrogate(d, masked, shape, width):
    a = np.abs(d)
    if shape == "rect":
        val = np.full_like(d, 1.0 / width) if masked else np.where(a < width / 2, 1.0 / width, 0.0)
    elif shape == "triangle":
        val = np.maximum(0.0, 1.0 - a / width) / width
    else:
        val = np.exp(-a / width) / width
    return np.where(d >= 0, val, 0.0) if masked else val


def ref_bptt(cfg, X, label, st: LearningSettings, ideal=False):
    """Dense float64 forward + BPTT of the documented equations, written plainly."""
    spec = cfg.spec
    V, S, TH, W, th0, tau = ref_forward(cfg, X, ideal)
    a = [float(cfg.w_aux_hid), float(cfg.w_aux_out)]
    T = X.shape[0]
    masked = st.rule == "mpd-ed"
    F = [ref_surrogate(V[l] - TH[l], masked, st.surrogate, st.surrogate_width * th0[l]) for l in (0, 1)]
    gain = st.logit_gain
    z = gain * S[1].sum(0) / T
    p = np.exp(z - z.max()); p /= p.sum()
    g = p.copy(); g[label] -= 1
    g_s = np.tile(g * gain / T, (T, 1))
    ar = [0.0, 0.0] if ideal else a
    du = [np.zeros((T + 1, spec.n_hid)), np.zeros((T + 1, spec.n_out))]
    E = [np.zeros((T, spec.n_hid)), np.zeros((T, spec.n_out))]
    K = st.temporal_window

    def carry(l, t):
        """delta_u[t] = e[t] + temporal path (full recursion, or the entered errors of K later steps)."""
        if not st.temporal_path:
            return E[l][t]
        if K is None:
            return E[l][t] + tau * (1 - S[l][t]) * du[l][t + 1]
        out, p = E[l][t].copy(), np.ones_like(E[l][t])
        for k in range(1, K + 1):
            if t + k >= T:
                break
            p = p * tau * (1 - S[l][t + k - 1])
            out += p * E[l][t + k]
        return out

    for t in reversed(range(T)):
        ds = g_s[t].copy()
        if st.reset_path:
            ds -= (tau * V[1][t] + ar[1]) * du[1][t + 1]
        E[1][t] = ds * F[1][t]
        du[1][t] = carry(1, t)
        ds = W[1].T @ du[1][t]
        if st.reset_path:
            ds -= (tau * V[0][t] + ar[0]) * du[0][t + 1]
        E[0][t] = ds * F[0][t]
        du[0][t] = carry(0, t)
    dW1 = du[0][:T].T @ X.astype(float)
    dW2 = du[1][:T].T @ S[0]
    return dW1, dW2, S


def small_problem(seed, aux=3):
    rng = np.random.default_rng(seed)
    spec = ChipSpec(n_in=12, n_hid=8, n_out=3)
    cfg = ChipConfig(spec, rng.integers(-40, 60, (8, 12)), rng.integers(-150, 250, (3, 8)), 60, 120, aux, aux)
    X = (rng.random((7, 12)) < 0.4).astype(np.uint8)
    return cfg, X, int(rng.integers(3))


@pytest.mark.parametrize("rule,surrogate,temporal,reset", list(itertools.product(
    ["mpd-ed", "stbp"], ["rect", "triangle", "exp"], [True, 1, 3, False], [True, False])))
def test_float_gradients_equal_plain_dense_bptt(rule, surrogate, temporal, reset):
    """temporal: True = full recursion, K = window of K steps, False = off."""
    for seed in range(4):
        cfg, X, label = small_problem(seed)
        window = None if isinstance(temporal, bool) else temporal
        st = LearningSettings(rule=rule, loss="ce", surrogate=surrogate, surrogate_width=0.8, temporal_path=bool(temporal),
                              temporal_window=window, reset_path=reset)
        g = LearningEngine(Chip(cfg, "float"), st).gradients(X, label)
        dW1, dW2, S = ref_bptt(cfg, X, label, st)
        assert np.array_equal(g.forward.s_hid, S[0]) and np.array_equal(g.forward.s_out, S[1])
        np.testing.assert_allclose(g.dW_hid, dW1, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(g.dW_out, dW2, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("rule", ["mpd-ed", "stbp"])
def test_float_gradients_with_ideal_aft_equal_plain_dense_bptt(rule):
    for seed in range(4):
        cfg, X, label = small_problem(seed, aux=15)
        st = LearningSettings(rule=rule, loss="ce", surrogate="triangle", reset_path=True)
        g = LearningEngine(Chip(cfg, "float", aft="ideal"), st).gradients(X, label)
        dW1, dW2, _ = ref_bptt(cfg, X, label, st, ideal=True)
        np.testing.assert_allclose(g.dW_hid, dW1, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(g.dW_out, dW2, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("window", [1, 2])
def test_windowed_temporal_path_keeps_mpd_ed_errors_next_to_spikes(window):
    """With a window of K steps, delta_u of MPD-ED is non-zero only at a spike step or at most K
    steps before one (and never across an earlier spike), so fewer (event, error) pairs exist."""
    for seed in range(6):
        cfg, X, label = small_problem(seed)
        full = LearningEngine(Chip(cfg, "float"), LearningSettings(loss="ce")).gradients(X, label)
        win = LearningEngine(Chip(cfg, "float"), LearningSettings(loss="ce", temporal_window=window)).gradients(X, label)
        for du, s in ((win.du_hid, win.forward.s_hid), (win.du_out, win.forward.s_out)):
            T = s.shape[0]
            for t, i in zip(*np.nonzero(du)):
                nxt = [k for k in range(t, T) if s[k, i]]
                assert nxt and nxt[0] - t <= window
        assert win.counters["wgrad_accumulates"] <= full.counters["wgrad_accumulates"]


def test_temporal_window_must_be_positive():
    with pytest.raises(InputError, match="learning.temporal_window"):
        LearningSettings(temporal_window=0)


def test_mpd_ed_gradient_is_zero_for_neurons_that_never_fired():
    for seed in range(6):
        cfg, X, label = small_problem(seed)
        g = LearningEngine(Chip(cfg, "float"), LearningSettings(rule="mpd-ed", loss="ce", reset_path=True)).gradients(X, label)
        silent_h = ~g.forward.s_hid.any(axis=0)
        silent_o = ~g.forward.s_out.any(axis=0)
        assert np.all(g.dW_hid[silent_h] == 0) and np.all(g.du_hid[:, silent_h] == 0)
        assert np.all(g.dW_out[silent_o] == 0)


def tiny_net():
    # hidden: h0 fires at t0 (line 0), h1 at t1 (line 1); output: o0 fires at t0, o1 never (v = 3)
    return make_config([[10, 0], [0, 10]], [[10, 0], [0, 3]], theta_hid=5, theta_out=5)


def test_learning_op_counts_by_hand_mpd_ed():
    x = np.array([[1, 0], [0, 1]], dtype=np.uint8)
    st = LearningSettings(rule="mpd-ed", loss="ce", temporal_path=True, reset_path=False, lr=1e6, rounding="nearest")
    eng = LearningEngine(Chip(tiny_net()), st)
    r = eng.train_step(x, 0)
    c = r.counters
    # only o0 at t0 takes the loss error (masked surrogate): 1 op; it reaches the hidden layer only
    # through h0's spike at t0, where one output error is non-zero: 1 op
    assert c["output", "bwd_inter_ops"] == 2 and c["hidden", "bwd_inter_ops"] == 0
    assert c["hidden", "bwd_intra_ops"] == 2 * 2 and c["output", "bwd_intra_ops"] == 2 * 2
    assert c["bwd_spike_ops"] == 0
    # (event, non-zero error) pairs: line 0 x h0 at t0; h0's spike x o0 at t0
    assert c["hidden", "wgrad_accumulates"] == 1 and c["output", "wgrad_accumulates"] == 1
    assert c["hidden", "weight_reads"] == 1 and c["output", "weight_reads"] == 1
    assert c["weight_writes"] == 2 and c["updates_skipped"] == 0 and c["aux_writes"] == 0
    # with the reset path: one spike-induced op per spike of each layer (h0, h1; o0)
    st2 = LearningSettings(rule="mpd-ed", loss="ce", reset_path=True)
    c2 = LearningEngine(Chip(tiny_net()), st2).train_step(x, 0).counters
    assert c2["hidden", "bwd_spike_ops"] == 2 and c2["output", "bwd_spike_ops"] == 1
    # windowed temporal path: one op per surrogate that carries error (o0@t0; h0@t0, h1@t1) and
    # one per temporal term with a non-zero entered error (none: h1's error at t1 is zero, h0 and
    # o0 fired at t0, which cuts the path)
    st3 = LearningSettings(rule="mpd-ed", loss="ce", temporal_window=1, lr=1e6, rounding="nearest")
    c3 = LearningEngine(Chip(tiny_net()), st3).train_step(x, 0).counters
    assert c3["output", "bwd_intra_ops"] == 1 and c3["hidden", "bwd_intra_ops"] == 2
    assert c3["hidden", "wgrad_accumulates"] == 1 and c3["output", "wgrad_accumulates"] == 1


def _stbp_counts(cfg, x, label, emulation, **kw):
    st = LearningSettings(rule="stbp", loss="ce", stbp_emulation=emulation, **{"lr": 1e3, "rounding": "nearest", **kw})
    return LearningEngine(Chip(cfg), st).train_step(x, label).counters


@pytest.mark.parametrize("emulation", ["dense", "event-input"])
def test_learning_op_counts_by_hand_stbp(emulation):
    x = np.array([[1, 0], [0, 1]], dtype=np.uint8)
    c = _stbp_counts(tiny_net(), x, 0, emulation, temporal_path=True, reset_path=True, lr=1e6)
    T, M, N, K = 2, 2, 2, 2
    # backward, both modes: every neuron carries error at every step (the surrogate without the mask)
    assert c["hidden", "bwd_intra_ops"] == N * T and c["output", "bwd_intra_ops"] == K * T
    assert c["hidden", "bwd_spike_ops"] == N * T and c["output", "bwd_spike_ops"] == K * T
    assert c["output", "bwd_inter_ops"] == K * T + N * K * T      # loss error + W_out^T delta
    assert c["hidden", "bwd_inter_ops"] == 0                      # no error is sent to the input lines
    if emulation == "dense":
        # every neuron activated, the input lines included (Wei et al. Sec. VI-B, Table II): every
        # presynaptic line at every step accumulates into every post neuron, T*M*N = 2*2*2 = 8 and
        # T*N*K = 8; every synapse is read once and written back once: M*N = 4, N*K = 4
        assert c["hidden", "wgrad_accumulates"] == T * M * N == 8
        assert c["output", "wgrad_accumulates"] == T * N * K == 8
        assert c["hidden", "weight_reads"] == c["hidden", "weight_writes"] == M * N
        assert c["output", "weight_reads"] == c["output", "weight_writes"] == N * K
        assert c["updates_skipped"] == 0
    else:
        # what-if, a chip that skips silent input lines: one accumulate per (presynaptic event, post
        # neuron). Input events: line 0 at t0, line 1 at t1 (2 events x N = 4); hidden spikes: h0 at
        # t0, h1 at t1 (2 events x K = 4)
        assert c["hidden", "wgrad_accumulates"] == 2 * N and c["output", "wgrad_accumulates"] == 2 * K
        # every line with an event has its whole row read: 2 lines x N, 2 hidden neurons x K; the
        # non-zero rounded updates are written, the others skipped
        assert c["hidden", "weight_reads"] == 2 * N and c["output", "weight_reads"] == 2 * K
        assert c["weight_writes"] + c["updates_skipped"] == 2 * N + 2 * K
    assert c["aux_writes"] == 0


def _events_task():
    M, N, K, T = 8, 4, 2, 6
    rng = np.random.default_rng(3)
    cfg = make_config(rng.integers(-20, 40, size=(N, M)), rng.integers(-20, 40, size=(K, N)),
                      theta_hid=30, theta_out=30)
    X = np.zeros((T, M), dtype=np.uint8)
    X[:, :2] = rng.integers(0, 2, size=(T, 2))
    X[0, 0] = 1
    X2 = X.copy()
    X2[:, 4:6] = X[:, :2]                     # the same events again on two more lines
    return cfg, X, X2, (M, N, K, T)


LEARNING_COUNTERS = ("wgrad_accumulates", "weight_reads", "weight_writes", "updates_skipped", "bwd_intra_ops",
                     "bwd_spike_ops")


def test_stbp_dense_learning_work_does_not_depend_on_which_lines_spiked():
    """The paper's emulation processes every input line at every step: STBP's hidden-layer
    learning work is the same for two inputs, for their events doubled on other lines, and for
    an all-silent input; the weights learnt are those of the what-if (a silent line's gradient
    is zero)."""
    cfg, X, X2, (M, N, K, T) = _events_task()
    silent = np.zeros((T, M), dtype=np.uint8)
    counts = [_stbp_counts(cfg, x, 0, "dense") for x in (X, X2, silent)]
    for name in LEARNING_COUNTERS:
        assert len({c["hidden", name] for c in counts}) == 1, name
    assert counts[0]["hidden", "wgrad_accumulates"] == T * M * N
    assert counts[0]["output", "wgrad_accumulates"] == T * N * K
    for x in (X, X2):
        a, b = Chip(cfg), Chip(cfg)
        for chip, mode in ((a, "dense"), (b, "event-input")):
            LearningEngine(chip, LearningSettings(rule="stbp", stbp_emulation=mode, lr=1e3, seed=4)).train_step(x, 1)
        assert all(np.array_equal(a.wT[layer], b.wT[layer]) for layer in (0, 1))


def test_stbp_event_input_weight_gradient_work_follows_the_input_events():
    """The what-if mode: doubling the input events doubles STBP's hidden-layer weight-gradient
    work; an all-silent input costs none."""
    cfg, X, X2, (M, N, K, T) = _events_task()
    c1, c2 = _stbp_counts(cfg, X, 0, "event-input"), _stbp_counts(cfg, X2, 0, "event-input")
    ev1 = int(X.sum())
    assert c1["hidden", "wgrad_accumulates"] == ev1 * N
    assert c2["hidden", "wgrad_accumulates"] == 2 * c1["hidden", "wgrad_accumulates"]
    c0 = _stbp_counts(cfg, np.zeros((T, M), dtype=np.uint8), 0, "event-input")
    assert c0["hidden", "wgrad_accumulates"] == 0 and c0["hidden", "weight_reads"] == 0
    assert c0["hidden", "weight_writes"] == 0
    # the output layer's events are the hidden spikes: silent hidden layer, no output gradient work
    assert c0["hidden", "spikes"] == 0 and c0["output", "wgrad_accumulates"] == 0
    assert c1["output", "wgrad_accumulates"] == c1["hidden", "spikes"] * K


def test_integer_update_nearest_equals_rounded_float_gradient():
    for seed in range(5):
        cfg, X, label = small_problem(seed)
        lr = 3000.0
        st = LearningSettings(rule="mpd-ed", reset_path=True, rounding="nearest", lr=lr)
        g = LearningEngine(Chip(cfg), st).gradients(X, label)   # int forward, float errors
        chip = Chip(cfg)
        LearningEngine(chip, st).train_step(X, label)
        for layer, dW in ((0, g.dW_hid), (1, g.dW_out)):
            lo, hi = cfg.spec.w_range(layer)
            want = np.clip(cfg.weights(layer) + np.floor(-lr * dW + 0.5), lo, hi)
            assert np.array_equal(chip.weights(layer), want)
        assert chip.to_config().w_aux_hid == cfg.w_aux_hid      # aux weights never learned
        for layer in (0, 1):  # the effective fan-out (forward SOP counts) follows the new weights
            assert np.array_equal(chip.nnz_row[layer], np.count_nonzero(chip.wT[layer], axis=1))


def test_stochastic_rounding_is_unbiased_and_reproducible():
    for x in (0.3, -1.7, 2.05, 1e-3, -2.5e-3):
        vals = np.array([stochastic_round(x, 123, i) for i in range(400000)])
        assert set(np.unique(vals)) <= {np.floor(x), np.floor(x) + 1}
        assert abs(vals.mean() - x) < 5 * np.sqrt(abs(x - np.floor(x)) / len(vals)) + 1e-12
    assert np.array_equal([stochastic_round(0.01, 5, i) for i in range(5000)],
                          [stochastic_round(0.01, 5, i) for i in range(5000)])       # counter-based
    assert not np.array_equal([stochastic_round(0.5, 5, i) for i in range(100)],
                              [stochastic_round(0.5, 6, i) for i in range(100)])
    assert stochastic_round(0.0, 5, 0) == 0.0 and str(stochastic_round(-1e-30, 5, 0)) == "0.0"
    u = np.array([uniform_at(7, i) for i in range(40000)])
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.005


_M64 = (1 << 64) - 1


def _splitmix_ref(key, counter):
    """splitmix64 output counter + 1 from key, in Python integers (Steele et al. 2014)."""
    z = (key + (counter + 1) * 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _stochastic_round_ref(x, key, index):
    """The documented definition, written plainly with Python integers and fractions."""
    from fractions import Fraction
    a = min(abs(x), 2.0 ** 20)
    if a == 0:
        return 0.0
    m, e = np.frexp(a)
    k = min(max(-int(e), 0), 63)
    block, bit = index - index % 64, index % 64
    candidate = all((_splitmix_ref(key, block + r) >> bit) & 1 for r in range(k))
    u = Fraction(_splitmix_ref(key ^ _FINE_SALT, index) >> 11, 2 ** 53)
    up = candidate and u < (Fraction(a) - int(a)) * 2 ** k
    mag = float(int(a) + up)
    return mag if x > 0 else -mag


def test_stochastic_rounding_follows_its_documented_definition():
    rng = np.random.default_rng(3)
    xs = np.concatenate([rng.normal(0, 1, 300) * 10.0 ** rng.integers(-12, 3, 300), [0.5, -0.25, 2.0 ** -40, 3.0]])
    for n, x in enumerate(xs):
        for index in (n, 64 * n + 63, 10**9 + n):
            assert stochastic_round(x, 2024, index) == _stochastic_round_ref(x, 2024, index)


@hsettings(max_examples=300, deadline=None)
@given(x=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True))
def test_stochastic_rounding_is_exactly_unbiased(x):
    """P(candidate) = 2^-k, then P(u < frac(a) 2^k) is exact with a 53-bit u: the expected
    magnitude is floor(a) + frac(a) exactly for every |x| >= 2^-64 LSB (far below 2^-16 and
    2^-53 too); below, to 2^-116 LSB."""
    a = min(abs(x), 2.0 ** 20)
    k = level(a)
    p = (a - np.floor(a)) * pow2(k)                 # the acceptance probability of a candidate
    assert 0.0 <= p < 1.0
    assert p / pow2(k) == a - np.floor(a)             # 2^-k * p = frac(a), no rounding
    if a >= 2.0 ** -64:
        assert p * 2.0 ** 53 == np.floor(p * 2.0 ** 53)   # a multiple of 2^-53: exact with 53-bit u
    else:           # below, P(u < p) = ceil(p 2^53) / 2^53: E exceeds a by at most 2^-116 LSB
        assert k == 63 and 0.0 <= np.ceil(p * 2.0 ** 53) / 2.0 ** 53 / pow2(63) - a <= 2.0 ** -116
    if 0.0 < a < 0.5 and k < 63:
        assert 0.5 <= pow2(k) * a < 1.0              # the tightest level: P(candidate) < 2 a
    else:
        assert k == (0 if a >= 0.5 else 63) or a == 0.0


@njit
def _lanes(a, start, v):
    return lanes_le(a, start, v), lanes_ne(a, start, v), lanes_min(a, start)


@hsettings(max_examples=100, deadline=None)
@given(a=st.lists(st.integers(0, 255), min_size=3 * BLOCK, max_size=3 * BLOCK), start=st.integers(0, 2 * BLOCK),
       v=st.integers(0, 255))
def test_lane_masks_compare_64_bytes_at_once(a, start, v):
    a = np.array(a, dtype=np.uint8)
    seg = a[start:start + BLOCK]
    bits = lambda flags: sum(1 << int(b) for b in np.flatnonzero(flags))
    le, ne, lo = _lanes(a, start, v)
    assert (int(le), int(ne), int(lo)) == (bits(seg <= v), bits(seg != v), int(seg.min()))


_just_below_powers = st.integers(-60, 30).map(lambda e: np.nextafter(2.0 ** e, 0.0))


@hsettings(max_examples=300, deadline=None)
@given(terms=st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=True), _just_below_powers,
                                _just_below_powers.map(lambda x: -x)), min_size=1, max_size=40),
       lr=st.one_of(st.floats(1e-3, 1e5), _just_below_powers.map(lambda x: x * 2.0 ** 10),
                    st.integers(-30, 16).map(lambda e: 2.0 ** e)))
def test_level_bound_never_exceeds_the_level(terms, lr):
    """round_row draws only the level words below each synapse's bound, so the bound must never
    exceed the level of the change the sum of its errors makes — also for sums of terms just
    below a power of two, whose rounding is largest, counts that are powers of two, and a
    power-of-two lr (lr_shift), whose bound is one level tighter."""
    du = np.array(terms)[:, None]
    P, nz_ptr = level_bounds(du, lr, BLOCK)
    assert np.all(P[:, 1:] == NO_GRADIENT) and list(np.diff(nz_ptr)) == [int(x != 0) for x in terms]
    steps = np.flatnonzero(du[:, 0])
    if len(steps) == 0:
        return
    g = 0.0
    for t in steps:                          # the update's own summation order
        g += du[t, 0]
    bounds = np.empty(BLOCK, dtype=np.uint8)
    c = _row_bounds(P, steps, len(steps), lr, bounds)
    n = len(steps)
    assert c == int(np.ceil(np.log2(n))) + (n >= 4 and n & (n - 1) == 0 and np.frexp(lr)[0] == 0.5)
    assert min(max(int(bounds[0]) - c, 0), 63) <= level(min(abs(lr * g), 2.0 ** 20))


@pytest.mark.parametrize("lr", [2.0 ** -3, 1.0, 2.0 ** 10])
def test_a_power_of_two_lr_bounds_a_single_term_exactly(lr):
    """lr = 2^-lr_shift scales exactly, so the bound of a change formed from one error is its
    level — one more level than the exponents alone give (half the survivors)."""
    du = np.array([[0.3, -0.7, 1e-5, 0.5, 0.999, 2.0 ** -20]])
    P, _ = level_bounds(du, lr, BLOCK)
    assert [int(p) for p in P[0, :6]] == [level(min(abs(lr * x), 2.0 ** 20)) for x in du[0]]


def _update_case(seed, n_pre=160, n_post=70, T=9, heavy_tail=False):
    """Events and errors with sparse rows (one or a few events, few errors) and dense ones; enough
    active lines (>= 128) for two chunks of rows on two threads; rows of 70 post neurons: one
    whole block of 64 and one partly used. ``heavy_tail``: error magnitudes spread over 8 decades
    (as the full temporal recursion makes them), so a block's bound is far above most of its
    synapses' changes and some synapses need level words beyond the block's FIXED_LEVELS."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-9, 0, (T, n_post)) if heavy_tail else 2e-3
    du = np.where(rng.random((T, n_post)) < 0.15, rng.normal(0, 1, (T, n_post)) * scale, 0.0)
    du[3] = rng.normal(0, 1, n_post) * (scale[3] if heavy_tail else scale)   # one step with an error at every neuron
    raster = rng.random((T, n_pre)) < 0.2
    raster[:, 0] = True                                 # a line with many events: a dense row
    si = SpikeInput.from_dense(raster.astype(np.uint8))
    w = rng.integers(-128, 128, (n_pre, n_post)).astype(np.int16)
    return si, du, w


@pytest.mark.parametrize("mode,lr,heavy_tail", [(STOCHASTIC, 3.0, False), (STOCHASTIC, 300.0, False),
                                               (STOCHASTIC, 3e4, False), (STOCHASTIC, 300.0, True),
                                               (STOCHASTIC, 256.0, False), (STOCHASTIC, 256.0, True),
                                               (NEAREST, 300.0, False)])
def test_event_driven_update_equals_the_per_synapse_definition(mode, lr, heavy_tail):
    """sparse_update (dense, merged and single-event rows; 1 or 2 threads) = the scalar definition
    weight_change per synapse of the dense gradient, then clip; and its counts. Stochastic: with
    changes far below one LSB (lr 3: most candidates need level words above their block's
    bound), around one LSB, far above it (saturating), and spread over many levels."""
    key, lo, hi = 2024, -128.0, 127.0
    beyond_fixed = 0
    for seed in range(3):
        si, du, w = _update_case(seed, heavy_tail=heavy_tail)
        G = np.zeros(w.shape)
        sparse_update(si.step_ptr, si.lines, du, w.copy(), np.zeros(w.shape[0], np.int64), G, lr, mode, lo, hi,
                      True, False, new_counts(), 0, key, 1)
        np.testing.assert_allclose(G, si.to_dense(w.shape[0]).T.astype(float) @ du, rtol=1e-12, atol=1e-18)
        want = w.astype(float)
        writes = 0
        for j, i in zip(*np.nonzero(G)):
            d = weight_change(G[j, i], lr, mode, True, key, synapse_index(j, i, w.shape[1]))
            writes += d != 0.0
            want[j, i] = min(max(want[j, i] + d, lo), hi)
            if heavy_tail:   # a synapse whose level bound is more than FIXED_LEVELS above its block's top
                block = slice(i - i % BLOCK, i - i % BLOCK + BLOCK)
                steps = np.flatnonzero(si.to_dense(w.shape[0])[:, j])
                exps = np.where(du[steps, block] != 0, np.frexp(du[steps, block])[1], -10 ** 6).max(axis=0)
                bound = np.clip(-(np.frexp(lr)[1] + exps), 0, 127) - int(np.ceil(np.log2(len(steps))))
                bound = np.clip(bound, 0, 63)
                top, b_i = bound[exps > -10 ** 6].min(), bound[i % BLOCK]
                assert b_i <= level(abs(lr * G[j, i]))
                if b_i > top + FIXED_LEVELS:
                    base, bit = synapse_index(j, i - i % BLOCK, w.shape[1]), np.uint64(i % BLOCK)
                    beyond_fixed += all((splitmix_at(key, base + r) >> bit) & np.uint64(1) for r in range(b_i))
        for n_threads in (1, 2):
            wT = w.copy()
            nnz = np.count_nonzero(wT, axis=1).astype(np.int64)
            counts = new_counts()
            sparse_update(si.step_ptr, si.lines, du, wT, nnz, np.zeros((0, 0)), lr, mode, lo, hi, True, True,
                          counts, 0, key, n_threads)
            assert np.array_equal(wT, want.astype(np.int16))
            assert np.array_equal(nnz, np.count_nonzero(wT, axis=1))
            assert counts[0, C_W_READS] == np.count_nonzero(G)
            assert counts[0, C_W_WRITES] == writes > 0
            assert counts[0, C_UPD_SKIPPED] == np.count_nonzero(G) - writes
        wT = w.copy()      # the dense (STBP) update of the same gradient: the same numbers
        dense_update(G, wT, np.count_nonzero(wT, axis=1).astype(np.int64), lr, mode, lo, hi, True, new_counts(), 0,
                     key, 2, G.size)
        assert np.array_equal(wT, want.astype(np.int16))
    assert beyond_fixed > 0 or not heavy_tail, beyond_fixed


def test_rounding_is_reproducible_through_the_engine():
    cfg, X, label = small_problem(1)
    st = LearningSettings(rule="stbp", rounding="stochastic", lr=2000.0, seed=42)
    a, b = Chip(cfg), Chip(cfg)
    for chip in (a, b):
        eng = LearningEngine(chip, st)
        for _ in range(3):
            eng.train_step(X, label)
    assert np.array_equal(a.weights(0), b.weights(0)) and np.array_equal(a.weights(1), b.weights(1))
    for layer in (0, 1):  # dense updates keep the fan-out counts too
        assert np.array_equal(a.nnz_row[layer], np.count_nonzero(a.wT[layer], axis=1))


@hsettings(max_examples=200, deadline=None)
@given(w=st.integers(-128, 127), g=st.floats(-1e3, 1e3, allow_nan=False), lr=st.floats(0.01, 100))
def test_fixed_point_update_saturates_and_never_wraps(w, g, lr):
    wT = np.array([[w]], dtype=np.int16)
    nnz = np.array([int(w != 0)], dtype=np.int64)
    d = weight_change(g, lr, NEAREST, True, 0, 0)
    wrote = int(d != 0.0)
    nnz[0] += apply_change(wT, 0, 0, d, -128.0, 127.0)
    want = int(np.clip(w + np.floor(-lr * g + 0.5), -128, 127))
    assert int(wT[0, 0]) == want
    assert wrote == int(np.floor(-lr * g + 0.5) != 0)
    assert nnz[0] == int(want != 0)


def test_aux_restores_are_counted_as_weight_writes():
    cfg, X, label = small_problem(2, aux=4)
    c = LearningEngine(Chip(cfg), LearningSettings()).train_step(X, label).counters
    assert c["hidden", "aux_writes"] == 8 and c["output", "aux_writes"] == 3




@pytest.mark.parametrize("rule", ["mpd-ed", "stbp"])
def test_training_a_small_int_network_reaches_90_percent(rule, capsys):
    from anp_emu.chip.initialise import init_config

    xs, ys = separable_task(0)
    train, test = (xs[:160], ys[:160]), (xs[160:], ys[160:])
    spec = ChipSpec(n_in=64, n_hid=32, n_out=4)
    # the paper's MPD-ED recipe: an AFT that can bring a silent neuron to threshold (aux boost
    # saturates at 2 * w_aux for tau = 0.5, so w_aux > theta / 2) and the TET loss, whose error
    # reaches output neurons that did not fire (with CE on counts a class whose neuron falls silent
    # on its own samples gets no masked gradient and can stay lost)
    cfg, _ = init_config(spec, train[0][:20], seed=1, target_hidden=0.1, aux_frac=0.55)
    # STBP's dense surrogate gives larger gradients: it wants a smaller learning rate
    st = LearningSettings(rule=rule, lr={"mpd-ed": 3000.0, "stbp": 1000.0}[rule], rounding="stochastic", seed=0,
                          loss="tet")
    acc, total = train_on_task(cfg, st, train, test)
    with capsys.disabled():
        print(f"\n{rule}: 64-32-4 int test accuracy {acc:.1%}; per sample: "
              f"wgrad {total['wgrad_accumulates'] / total.n_samples:.0f}, "
              f"bwd inter {total['bwd_inter_ops'] / total.n_samples:.0f}, "
              f"writes {total['weight_writes'] / total.n_samples:.0f}")
    assert acc > 0.9


def test_losses_equal_their_plain_numpy_formulas():
    """CE on output counts and TET on output potentials (loss and gradient) against numpy."""
    from anp_emu.learning.loss import ce_count_loss, tet_loss
    rng = np.random.default_rng(5)
    for label in (0, 3, 9):
        s = (rng.random((39, 10)) < 0.3).astype(np.uint8)
        z = 10.0 * s.sum(0) / 39
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        loss, g = ce_count_loss(s, label, 10.0)
        y = np.eye(10)[label]
        np.testing.assert_allclose(loss, -np.log(p[label]), rtol=1e-12)
        np.testing.assert_allclose(g, np.tile((p - y) * 10.0 / 39, (39, 1)), rtol=1e-12, atol=1e-15)
        v = rng.integers(-500, 900, (39, 10))
        Z = 4.0 * v / 300.0
        P = np.exp(Z - Z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        loss, g = tet_loss(v, label, 4.0, 300.0)
        np.testing.assert_allclose(loss, -np.mean(np.log(P[:, label])), rtol=1e-12)
        np.testing.assert_allclose(g, (P - y) * 4.0 / (39 * 300.0), rtol=1e-12, atol=1e-18)
    # a class whose probability underflows: the loss stays finite
    loss, _ = ce_count_loss(np.eye(10, dtype=np.uint8)[[1] * 39], 0, 1000.0)
    assert np.isfinite(loss) and loss > 600
