"""Property tests of the fixed-point core: order independence, int vs float twin agreement."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from anp_emu.chip.emulator import Chip
from anp_emu.chip.config import ChipConfig
from anp_emu.errors import InputError
from anp_emu.chip.events import SpikeInput, as_spike_input
from anp_emu.chip.spec import ChipSpec


def random_config(seed, n_in, n_hid, n_out, v_bits=10, aux=3):
    spec = ChipSpec(n_in=n_in, n_hid=n_hid, n_out=n_out, w_bits_hid=8, w_bits_out=8, v_bits=v_bits)
    return ChipConfig.random(spec, seed=seed, theta_hid=150, theta_out=120, w_aux_hid=aux, w_aux_out=aux,
                             std_frac=0.5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), density=st.floats(0.05, 0.9))
def test_shuffling_events_within_a_step_changes_nothing(seed, density):
    # narrow 10-bit membrane so saturation happens: saturate-once keeps it order independent
    cfg = random_config(seed, 24, 12, 4)
    rng = np.random.default_rng(seed)
    x = SpikeInput.from_dense(rng.random((6, 24)) < density)
    lines = x.lines.copy()
    for t in range(x.T):
        a, b = x.step_ptr[t], x.step_ptr[t + 1]
        lines[a:b] = rng.permutation(lines[a:b])
    chip = Chip(cfg)
    r1, r2 = chip.run(x, record=True), chip.run(SpikeInput(x.step_ptr, lines), record=True)
    assert np.array_equal(r1.v_hid, r2.v_hid) and np.array_equal(r1.s_out, r2.s_out)
    assert np.array_equal(r1.counters.counts, r2.counters.counts)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_int_and_float_agree_exactly_when_no_rounding_or_clipping_intervenes(seed):
    # Weights, thresholds and aux multiples of 2^T: every leak halving stays an integer, and a
    # 32-bit membrane never clips, so the integer chip and the float twin must agree exactly.
    T = 8
    rng = np.random.default_rng(seed)
    spec = ChipSpec(n_in=16, n_hid=8, n_out=3, w_bits_hid=16, w_bits_out=16, v_bits=32)
    q = 1 << T
    cfg = ChipConfig(spec, rng.integers(-60, 61, (8, 16)) * q, rng.integers(-60, 61, (3, 8)) * q,
                     theta_hid=50 * q, theta_out=40 * q, w_aux_hid=3 * q, w_aux_out=2 * q)
    x = rng.random((T, 16)) < 0.3
    ri, rf = Chip(cfg).run(x, record=True), Chip(cfg, "float").run(x, record=True)
    assert np.array_equal(ri.s_hid, rf.s_hid) and np.array_equal(ri.s_out, rf.s_out)
    assert np.array_equal(ri.v_hid.astype(float), rf.v_hid)
    assert np.array_equal(ri.counters.counts, rf.counters.counts)


def test_int_vs_float_spike_agreement_on_anp1_sized_samples(capsys):
    """Reports the agreement rate of hidden and output spikes on random 1024-512-10 samples."""
    rng = np.random.default_rng(7)
    cfg = ChipConfig.random(seed=3, theta_hid=600, theta_out=600, w_aux_hid=10, w_aux_out=10)
    ci, cf = Chip(cfg), Chip(cfg, "float")
    agree_h, agree_o, same_pred = [], [], 0
    for _ in range(20):
        x = SpikeInput.from_dense(rng.random((39, 1024)) < 0.05)
        a, b = ci.run(x, record=True), cf.run(x, record=True)
        agree_h.append(np.mean(a.s_hid == b.s_hid))
        agree_o.append(np.mean(a.s_out == b.s_out))
        same_pred += a.neuron_argmax == b.neuron_argmax
    with capsys.disabled():
        print(f"\nint vs float twin, 1024-512-10, T=39, 5% input: hidden spike agreement "
              f"{np.mean(agree_h):.4f}, output {np.mean(agree_o):.4f}, same prediction {same_pred}/20")
    # The only differences come from the rounding of the leak (floor vs ideal tau*v).
    assert np.mean(agree_h) > 0.95 and np.mean(agree_o) > 0.9


def test_bad_inputs_give_one_clear_error():
    cfg = random_config(0, 8, 4, 2)
    chip = Chip(cfg)
    with pytest.raises(InputError, match="number of input lines.*limit 8.*got 9"):
        chip.run(np.zeros((3, 9), dtype=np.uint8))
    with pytest.raises(InputError, match=r"input\[1, 2\].*binary.*got 2"):
        x = np.zeros((3, 8)); x[1, 2] = 2
        chip.run(x)
    with pytest.raises(InputError, match="NaN"):
        chip.run(np.full((3, 8), np.nan))
    with pytest.raises(InputError, match="dtype|bool or integer"):
        chip.run(np.array([["a"] * 8]))
    with pytest.raises(InputError, match=r"\(T, n_in\)"):
        chip.run(np.zeros(8))
    with pytest.raises(InputError, match="lines.*out of range.*limit 0..7.*got 8"):
        chip.run(SpikeInput(np.array([0, 1]), np.array([8], dtype=np.int32)))
    with pytest.raises(InputError, match="lines.*out of range.*limit 0..7.*got -1"):
        chip.run(SpikeInput(np.array([0, 2], dtype=np.int64), np.array([3, -1], dtype=np.int32)))
    for bad_ptr in ([0, 3], [1, 1], [0, 2, 1, 2]):   # past the events, not from 0, decreasing
        with pytest.raises(InputError, match="input.step_ptr: must start at 0"):
            chip.run(SpikeInput(np.array(bad_ptr, dtype=np.int64), np.array([3, 4], dtype=np.int32)))
    with pytest.raises(InputError, match="input.step_ptr: must be 1-D integer"):
        chip.run(SpikeInput(np.array([0.0, 1.0]), np.array([3], dtype=np.int32)))
    with pytest.raises(InputError, match="duplicate event"):
        SpikeInput.from_events(np.array([0, 0]), np.array([3, 3]), T=2, n_in=8)
    with pytest.raises(InputError, match="step out of range"):
        SpikeInput.from_events(np.array([2]), np.array([3]), T=2, n_in=8)
    with pytest.raises(InputError, match="precision.*unknown"):
        Chip(cfg, "half")
    with pytest.raises(InputError, match="float_params.w_hid.*shape"):
        Chip(cfg, "float", float_params={"w_hid": np.zeros((3, 3))})
    with pytest.raises(InputError, match="float_params.bogus.*unknown"):
        Chip(cfg, "float", float_params={"bogus": 1})


def test_unquantised_float_twin_reads_lsb_units():
    cfg = random_config(1, 8, 4, 2)
    w = cfg.w_hid.astype(float) + 0.25
    r = Chip(cfg, "float", float_params={"w_hid": w, "theta_hid": 1e9}).run(np.eye(8, dtype=np.uint8)[:2], record=True)
    assert np.allclose(r.v_hid[0], w[:, 0] + cfg.w_aux_hid)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), density=st.floats(0.0, 0.9), record=st.booleans())
def test_hidden_events_are_the_hidden_raster(seed, density, record):
    """The hidden spikes the forward pass hands to the output layer (and to the learning engine)
    as events are exactly the recorded raster, in SpikeInput's (step, line) order."""
    cfg = random_config(seed, 24, 70, 4)
    x = SpikeInput.from_dense(np.random.default_rng(seed).random((7, 24)) < density)
    for precision in ("int", "float"):
        r = Chip(cfg, precision).run(x, record=record)
        want = SpikeInput.from_spikes(r.s_hid)
        assert np.array_equal(r.hid_events.step_ptr, want.step_ptr)
        assert np.array_equal(r.hid_events.lines, want.lines)
        assert r.hid_events.lines.dtype == np.int32 and r.hid_events.step_ptr.dtype == np.int64
        r.hid_events.validate(70)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), w_bits_hid=st.integers(2, 16), w_bits_out=st.integers(2, 16))
def test_synaptic_sums_are_exact_past_the_int16_partial_sums(seed, w_bits_hid, w_bits_out):
    # 600 input events and 100 hidden spikes in one step, every weight at +-2^(b-1): far more rows
    # than one int16 partial sum holds (255 of 8 bits, 63 of 10), so the grouping must carry.
    from anp_emu.chip.arithmetic import partial_sum_group
    rng = np.random.default_rng(seed)
    spec = ChipSpec(n_in=600, n_hid=100, n_out=3, w_bits_hid=w_bits_hid, w_bits_out=w_bits_out, v_bits=32)
    lo_h, hi_h = spec.w_range(0)
    lo_o, hi_o = spec.w_range(1)
    w_hid = np.where(rng.random((100, 600)) < 0.8, lo_h, hi_h).astype(np.int16)
    w_hid[:, 0] = hi_h                                   # ...and one neuron that surely fires
    w_hid[5] = hi_h
    w_out = np.where(rng.random((3, 100)) < 0.7, lo_o, hi_o).astype(np.int16)
    cfg = ChipConfig(spec, w_hid, w_out, 1, 1 << 30, 0, 0)
    r = Chip(cfg).run(SpikeInput.from_dense(np.ones((1, 600), dtype=bool)), record=True)
    want_hid = w_hid.astype(np.int64).sum(1)
    assert np.array_equal(r.v_hid[0], want_hid)
    fired = want_hid >= 1
    assert np.array_equal(r.s_hid[0] != 0, fired) and fired.sum() >= 1
    assert np.array_equal(r.v_out[0], w_out[:, fired].astype(np.int64).sum(1))
    for b in (w_bits_hid, w_bits_out):
        dtype, group = partial_sum_group(b)
        if dtype == np.int16:                            # the bound the grouping relies on
            assert group * (1 << (b - 1)) <= np.iinfo(np.int16).max


def test_weight_storage_is_the_narrowest_type_and_reads_back_as_int16():
    cfg = random_config(3, 24, 12, 4)
    chip = Chip(ChipConfig(ChipSpec(n_in=24, n_hid=12, n_out=4, w_bits_hid=8, w_bits_out=10), cfg.w_hid, cfg.w_out,
                           150, 120, 3, 3))
    assert chip.wT[0].dtype == np.int8 and chip.wT[1].dtype == np.int16
    assert chip.weights(0).dtype == np.int16 and np.array_equal(chip.weights(0), cfg.w_hid)
    assert Chip(cfg, "float").weights(0).dtype == np.float64


def test_set_weights_refuses_what_the_storage_would_wrap_and_changes_nothing():
    from anp_emu.errors import DesignRuleError
    cfg = random_config(4, 24, 12, 4)
    chip = Chip(cfg)
    before = [chip.weights(0), chip.weights(1)]
    bad = cfg.w_hid.copy()
    bad[3, 5] = 128                                      # 8-bit layer: int8 storage would wrap it to -128
    with pytest.raises(DesignRuleError, match=r"WEIGHT_RANGE.*w_hid\[3, 5\].*-128\.\.127.*128"):
        chip.set_weights(0, bad)
    with pytest.raises(DesignRuleError, match="WEIGHT_INTEGER"):
        chip.set_weights(0, cfg.w_hid.astype(float))
    with pytest.raises(InputError, match=r"w_out.*wrong shape"):
        chip.set_weights(1, cfg.w_out.T)
    assert np.array_equal(chip.weights(0), before[0]) and np.array_equal(chip.weights(1), before[1])
    with pytest.raises(InputError, match="w_hid.*finite"):
        Chip(cfg, "float").set_weights(0, np.full(cfg.w_hid.shape, np.nan))
    new = np.zeros_like(cfg.w_hid)
    new[0, :3] = (-128, 127, 5)
    chip.set_weights(0, new)
    assert np.array_equal(chip.weights(0), new) and chip.nnz_row[0].sum() == 3


def test_replace_weights_is_all_or_nothing():
    """A refused output layer leaves the (valid) new hidden layer unwritten too."""
    from anp_emu.errors import DesignRuleError
    cfg = random_config(5, 24, 12, 4)
    chip = Chip(cfg)
    before = [chip.weights(0), chip.weights(1)]
    new_hid = np.zeros_like(cfg.w_hid)
    bad_out = cfg.w_out.copy()
    bad_out[1, 2] = 512                                  # 10-bit layer: -512..511
    with pytest.raises(DesignRuleError, match=r"WEIGHT_RANGE.*w_out\[1, 2\]"):
        chip.replace_weights([new_hid, bad_out])
    assert np.array_equal(chip.weights(0), before[0]) and np.array_equal(chip.weights(1), before[1])
    chip.replace_weights([new_hid, cfg.w_out])
    assert np.array_equal(chip.weights(0), new_hid) and chip.nnz_row[0].sum() == 0


def test_spike_input_is_taken_as_is_when_the_kernels_can_read_it():
    """A SpikeInput with int64 offsets and contiguous int32 lines is used without a copy; any other
    integer layout is converted to it, with the same events, and checked the same way."""
    ptr, lines = np.array([0, 2, 3], dtype=np.int64), np.array([1, 5, 7], dtype=np.int32)
    typed = SpikeInput(ptr, lines)
    assert as_spike_input(typed, 8) is typed
    wide = np.array([1, 0, 5, 0, 7, 0], dtype=np.int32)[::2]
    for other in (SpikeInput(ptr.astype(np.int32), lines), SpikeInput(ptr, lines.astype(np.int64)),
                  SpikeInput(ptr, lines.astype(np.uint16)), SpikeInput(ptr, wide)):
        got = as_spike_input(other, 8)
        assert got is not other
        assert got.step_ptr.dtype == np.int64 and got.lines.dtype == np.int32 and got.lines.flags.c_contiguous
        assert np.array_equal(got.step_ptr, ptr) and np.array_equal(got.lines, lines)
    for bad_lines in (np.array([1, 5, 8], dtype=np.int64), np.array([1, 5, 8], dtype=np.uint16)):
        with pytest.raises(InputError, match="lines.*out of range.*limit 0..7.*got 8"):
            as_spike_input(SpikeInput(ptr, bad_lines), 8)
