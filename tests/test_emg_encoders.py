"""Encoder golden cases: a ramp and a step give hand-computed events for both encoders."""
import numpy as np
import pytest

from anp_emu.emg.encoders import (causal_rms, chip_encode, delta_encode, encode_chip, encode_delta,
                                  encode_trials, fit_length)
from anp_emu.errors import InputError


def trial(n=391, **channels):
    """(n, 8) zeros with channel c set to channels['c<k>']."""
    x = np.zeros((n, 8))
    for k, v in channels.items():
        x[:, int(k[1:])] = v
    return x


# ------------------------------------------------------------------------------------ chip encoder

def lines(c, p, ks):
    return [(2 * c + p) * 64 + k for k in ks]


def test_chip_ramp():
    # x = t on channel 0: every difference is +1, a group of 10 sums to 10;
    # level_step 4 -> floor(10 / 4) = 2 up levels (lines 0, 1) at every one of the 39 steps.
    # x = -2t on channel 3: down sums 20 -> 5 levels on lines (2*3+1)*64 + 0..4 = 448..452.
    s = chip_encode([trial(c0=np.arange(391), c3=-2 * np.arange(391))], level_step=4)[0]
    assert s.T == 39 and s.n_events == 39 * 7
    d = s.to_dense(1024)
    expect = np.zeros((39, 1024), np.uint8)
    expect[:, lines(0, 0, [0, 1])] = 1
    expect[:, lines(3, 1, range(5))] = 1
    assert np.array_equal(d, expect)


def test_chip_step_and_saturation():
    # +100 at sample 200 on channel 1: difference index 199 lies in step 19 (differences 190..199);
    # floor(100 / 4) = 25 levels -> lines (2*1+0)*64 + 0..24 = 128..152 at step 19 only.
    # -255 at sample 50 on channel 7 (127 -> -128): floor(255 / 2) = 127 capped at 64 levels, step 4.
    x = trial(c1=np.where(np.arange(391) >= 200, 100, 0))
    s = chip_encode([x], level_step=4)[0]
    assert np.argwhere(s.to_dense(1024)).tolist() == [[19, ln] for ln in lines(1, 0, range(25))]
    x = trial(c7=np.where(np.arange(391) >= 50, -128, 127))
    s = chip_encode([x], level_step=2)[0]
    assert np.argwhere(s.to_dense(1024)).tolist() == [[4, ln] for ln in lines(7, 1, range(64))]


def test_chip_threshold_is_inclusive_and_default_step():
    # a group summing exactly to level_step fires level 0; one LSB less does not
    x = trial(c2=np.concatenate([np.zeros(11), np.full(380, 32.0)]))     # +32 at difference 10 -> step 1
    assert np.argwhere(chip_encode([x], calibrate="fixed")[0].to_dense(1024)).tolist() == [[1, 4 * 64]]
    x = trial(c2=np.concatenate([np.zeros(11), np.full(380, 31.0)]))
    assert chip_encode([x], calibrate="fixed")[0].n_events == 0


def test_chip_crop_and_pad():
    # a long trial keeps its first 391 samples; a short one is padded with its last value (no events)
    long = trial(n=600, c0=np.arange(600) * 4.0)       # +4 per sample: 40 per group -> 1 level of 40
    s = chip_encode([long], level_step=40)[0]
    assert s.n_events == 39                             # one event per step, nothing from samples 391+
    short = trial(n=101, c0=np.arange(101) * 4.0)       # 100 differences = steps 0..9, then padding
    s = chip_encode([short], level_step=40)[0]
    assert np.array_equal(np.unique(np.repeat(np.arange(39), np.diff(s.step_ptr))), np.arange(10))
    assert fit_length([np.ones((3, 8))], 5)[0, :, 0].tolist() == [1, 1, 1, 1, 1]


def test_chip_T_changes_window_and_params_recorded():
    e = encode_chip([trial(c0=np.arange(391))], T=20, level_step=10)
    assert e.params["n_samples"] == 201 and e.T == 20 and e.n_in == 1024
    assert e.spike_input(0).n_events == 20
    assert encode_chip([trial()], levels=8).n_in == 128


def test_chip_events_sorted_and_match_dense():
    rng = np.random.default_rng(0)
    trials = [rng.integers(-60, 60, size=(rng.integers(300, 450), 8)) for _ in range(7)]
    e = encode_chip(trials, level_step=16)
    for i, s in enumerate(e.spikes()):
        s.validate(1024)
        for t in range(39):
            ln = s.lines[s.step_ptr[t]:s.step_ptr[t + 1]]
            assert np.all(np.diff(ln) > 0)
        # same as encoding the trial alone
        one = chip_encode([trials[i]], level_step=16)[0]
        assert np.array_equal(one.lines, s.lines) and np.array_equal(one.step_ptr, s.step_ptr)


# ------------------------------------------------------------------------------------ delta encoder

def test_delta_ramp():
    # x = t/100 (norm_std 1): the 4-sample RMS rises about 0.01 per sample = 2 per second, so it
    # crosses the 0.05 threshold every ~25 ms, at least once in every 50 ms step (1.955 s / 39):
    # line 0 (channel 0 up) fires at all 39 steps; RMS never falls -> no down events.
    # A falling ramp -t/100 has the same RMS (RMS rectifies): identical events.
    for sign in (1, -1):
        s = delta_encode([trial(c0=sign * np.arange(391) / 100)], norm_std=1.0, calibrate="fixed")[0]
        expect = np.zeros((39, 16), np.uint8)
        expect[:, 0] = 1
        assert np.array_equal(s.to_dense(16), expect)


def test_delta_step_up_and_down():
    # channel 2 steps 0 -> 1 at sample 100 (0.5 s) and back at sample 300 (1.5 s), norm_std 1.
    # RMS: 0 up to sample 99, then 0.5, 0.707, 0.866, 1 at samples 100..103 (0.515 s); the up events
    # fall between 0.4955 s and 0.515 s, i.e. steps floor(t * 39 / 1.955) = 9 and 10, line 4
    # (channel 2 up); symmetrically the down events at 1.495..1.515 s are steps 29, 30, line 5.
    x = trial(c2=np.where((np.arange(391) >= 100) & (np.arange(391) < 300), 1.0, 0.0))
    s = delta_encode([x], norm_std=1.0, calibrate="fixed")[0]
    assert np.argwhere(s.to_dense(16)).tolist() == [[9, 4], [10, 4], [29, 5], [30, 5]]
    # with norm_std 16 the RMS plateau is 1/16 = 0.0625: a single up event when it passes 0.05
    # (between samples 101 and 102, about 0.508 s -> step 10) and a single down event when it falls
    # to 0.0125 (between samples 302 and 303, about 1.511 s -> step 30)
    s = delta_encode([x], norm_std=16.0, calibrate="fixed")[0]
    assert np.argwhere(s.to_dense(16)).tolist() == [[10, 4], [30, 5]]


def test_causal_rms_uses_fewer_samples_at_start():
    x = np.array([3.0, 4.0, 0.0, 0.0, 0.0])[None, :, None]
    r = causal_rms(x, 4)[0, :, 0]
    assert np.allclose(r, [3.0, np.sqrt(12.5), np.sqrt(25 / 3), np.sqrt(25 / 4), np.sqrt(16 / 4)])


def test_delta_global_std_is_recorded_and_constant_refused():
    x = trial(c0=np.tile([0.0, 2.0], 196)[:391])
    e = encode_delta([x, x], calibrate="fixed")
    assert e.params["calibration"]["sigma"] == pytest.approx([np.std(np.stack([x, x]))] * 8)
    assert e.n_in == 16 and e.params["window_s"] == pytest.approx(1.955)
    with pytest.raises(InputError, match="all EMG values are equal"):
        encode_delta([trial()])


def test_encode_trials_dispatch_and_errors():
    x = trial(c0=np.arange(391))
    assert encode_trials([x], "chip").encoder == "chip"
    assert encode_trials([x], "delta", T=50).T == 50
    with pytest.raises(InputError, match="encoder: unknown encoder"):
        encode_trials([x], "rate")
    with pytest.raises(InputError, match="encoder_params.threshold_up: unknown parameter of the chip encoder"):
        encode_trials([x], "chip", threshold_up=0.1)
    with pytest.raises(InputError, match=r"trials\[0\]: expected a \(n, 8\) EMG trial"):
        encode_trials([np.zeros((10, 7))], "chip")
    with pytest.raises(InputError, match="trials: no trials"):
        encode_trials([], "delta")
    with pytest.raises(InputError, match="level_step: must be a positive number"):
        encode_trials([x], "chip", level_step=0)
