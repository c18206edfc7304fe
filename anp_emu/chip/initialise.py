"""Initial chip configs for on-chip training that avoid the over-sparsity problem.

Random Gaussian weights alone leave many hidden neurons that never fire, and a neuron that never
fires never learns under MPD-ED (its masked surrogate is zero everywhere). ``init_config`` draws
the weights, then calibrates each layer's threshold on a few training samples so that the
measured activity (spikes per neuron and step, with resets and the aux boost of the chip) is just
at or below a target, and redraws the weights of neurons that still never
fire. All integer, all seeded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .emulator import Chip
from .config import WEIGHT_DTYPE, ChipConfig
from ..errors import InputError
from .events import as_spike_input
from ..learning.settings import LearningSettings
from .spec import ChipSpec


@dataclass
class InitReport:
    theta_hid: int
    theta_out: int
    w_aux_hid: int
    w_aux_out: int
    hidden_activity: float      # spikes / (n_hid x T) on the calibration samples
    output_activity: float
    dead_hidden: int            # hidden neurons silent on every calibration sample
    dead_output: int
    redraw_rounds: int


def _draw(rng, shape, w_bits, std_frac):
    hi = (1 << (w_bits - 1)) - 1
    return np.clip(np.rint(rng.normal(0.0, std_frac * hi, size=shape)), -hi - 1, hi).astype(WEIGHT_DTYPE)


def spike_activity(config: ChipConfig, samples) -> tuple[float, float]:
    """Hidden and output activity on ``samples``: spikes / (neurons x steps), int chip."""
    chip = Chip(config)
    runs = [chip.run(x) for x in samples]
    steps = sum(x.T for x in samples)
    return (sum(r.counters["hidden", "spikes"] for r in runs) / (steps * config.spec.n_hid),
            sum(r.counters["output", "spikes"] for r in runs) / (steps * config.spec.n_out))


def dead_neurons(config: ChipConfig, samples, precision: str = "int") -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of hidden and output neurons that fire on none of ``samples``."""
    chip = Chip(config, precision)
    fired_h = np.zeros(config.spec.n_hid, bool)
    fired_o = np.zeros(config.spec.n_out, bool)
    for x in samples:
        r = chip.run(x)
        fired_h |= r.s_hid.any(axis=0)
        fired_o |= r.s_out.any(axis=0)
    return ~fired_h, ~fired_o


def init_config(spec: ChipSpec, samples, *, seed: int = 0, target_hidden: float = 0.05,
                target_output: float = 0.10, aux_frac: float = 0.05, std_frac: float = 0.25,
                learning: LearningSettings | None = None, max_redraws: int = 5) -> tuple[ChipConfig, InitReport]:
    """Random config whose thresholds give about ``target_*`` spikes per (neuron, step).

    ``samples``: a few SpikeInput training samples (10-50 suffice). ``aux_frac``: aux weight as a
    fraction of theta (the per-step threshold decay the aux neuron emulates; 0 disables it).
    """
    samples = [as_spike_input(x, spec.n_in, f"samples[{i}]") for i, x in enumerate(samples)]
    if not samples:
        raise InputError("samples", "need at least one calibration sample", value=0)
    for name, v, lo, hi in (("target_hidden", target_hidden, 0, 1), ("target_output", target_output, 0, 1),
                            ("aux_frac", aux_frac, 0, 1), ("std_frac", std_frac, 0, 1)):
        if not (lo <= v <= hi) or (name.startswith("target") and v == 0):
            raise InputError(name, "out of range", limit=f"{lo}..{hi}", value=v)
    rng = np.random.default_rng(seed)
    vmax = spec.v_range[1]
    w_hid = _draw(rng, (spec.n_hid, spec.n_in), spec.w_bits_hid, std_frac)
    w_out = _draw(rng, (spec.n_out, spec.n_hid), spec.w_bits_out, std_frac)
    learning = learning or LearningSettings()

    def with_theta(cfg, layer, th):
        aux = min(int(round(aux_frac * th)), spec.w_range(layer)[1]) if spec.aux else 0
        if layer == 0:
            return cfg.replace(theta_hid=th, w_aux_hid=aux)
        return cfg.replace(theta_out=th, w_aux_out=aux)

    def fit_theta(cfg, layer, target):
        """Smallest theta whose measured activity (resets and aux boost included) is <= target:
        bisection, activity falls as theta (and the aux weight tied to it) rises."""
        lo, hi = 1, vmax
        while lo < hi:
            mid = (lo + hi) // 2
            if spike_activity(with_theta(cfg, layer, mid), samples)[layer] <= target:
                hi = mid
            else:
                lo = mid + 1
        return with_theta(cfg, layer, lo)

    def calibrate(w_hid, w_out):
        # hidden layer first (output threshold out of reach), then the output layer on top of it
        cfg = ChipConfig(spec, w_hid, w_out, vmax, vmax, learning=learning)
        cfg = fit_theta(cfg, 0, target_hidden)
        return fit_theta(cfg, 1, target_output)

    cfg = calibrate(w_hid, w_out)
    rounds = 0
    dead_h, dead_o = dead_neurons(cfg, samples)
    while (dead_h.any() or dead_o.any()) and rounds < max_redraws:
        # redraw the silent neurons' incoming weights with a positive bias so they reach theta
        rounds += 1
        w_hid = cfg.w_hid.copy()
        w_out = cfg.w_out.copy()
        bias = 0.1 * rounds
        for w, dead, layer in ((w_hid, dead_h, 0), (w_out, dead_o, 1)):
            if dead.any():
                hi = spec.w_range(layer)[1]
                fresh = rng.normal(bias * hi, std_frac * hi, size=(int(dead.sum()), w.shape[1]))
                w[dead] = np.clip(np.rint(fresh), -hi - 1, hi)
        cfg = cfg.replace(w_hid=w_hid, w_out=w_out)
        dead_h, dead_o = dead_neurons(cfg, samples)
    report = InitReport(cfg.theta_hid, cfg.theta_out, cfg.w_aux_hid, cfg.w_aux_out,
                        *spike_activity(cfg, samples), int(dead_h.sum()), int(dead_o.sum()), rounds)
    return cfg, report
