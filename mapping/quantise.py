"""Float model -> ChipConfig: choose the scales, quantise, check the design rules, report.

Per layer, one weight LSB is worth ``scale`` float units. Max-abs (default): scale = max|w| /
w_max, so no weight clips. ``percentile=P``: scale = P-th percentile of |w| / w_max, the weights
beyond it are clipped (counted in the report). Then

    w_int = clip(round(w / scale)),  theta_int = round(theta / scale),  w_aux = round(alpha / scale)

and the leak maps to the nearest leak_shift k (tau_k = 1 - 2^-k; a warning names the tau used).
The aux weight emulates the AFT threshold decay: lowering the threshold by alpha per silent step
is, without leak, the same as adding alpha to the membrane of silent neurons.

A network smaller than the chip gets a smaller ChipSpec; on silicon it occupies the first input
lines and neurons and the rest are disabled (zero weights). ``float_params`` is the unquantised
model in LSB units (w / scale, theta / scale, alpha / scale) for ``Chip(config, "float",
float_params=...)``, so the float model and the int chip are compared on the same inputs (with the
chip's tau_k in both).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anp_emu.chip import design_rules as dr
from anp_emu.chip.emulator import Chip
from anp_emu.chip.config import ChipConfig
from anp_emu.errors import InputError
from anp_emu.chip.spec import LEAK_OFF, MAX_LEAK_SHIFT, ChipSpec

from anp_emu.mapping.float_model import FloatModel


def nearest_leak_shift(tau: float) -> int:
    """The chip's leak shift nearest to ``tau``; tau = 1 (no leak, IF) is the leak switched off (0)."""
    if tau == 1.0:
        return LEAK_OFF
    ks = np.arange(1, MAX_LEAK_SHIFT + 1)
    return int(ks[np.argmin(np.abs((1.0 - 2.0 ** -ks.astype(float)) - tau))])


@dataclass
class MappingReport:
    rows: list = field(default_factory=list)    # one dict per layer
    leak_shift: int = 1
    tau_requested: float = 0.5
    tau_used: float = 0.5

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def to_dict(self) -> dict:
        return {"leak_shift": self.leak_shift, "tau_requested": self.tau_requested, "tau_used": self.tau_used,
                "layers": self.rows}


def map_model(model: FloatModel, spec: ChipSpec | None = None, percentile: float | None = None):
    """(ChipConfig, MappingReport, float_params) for ``model`` on ``spec`` (default: ANP-I widths,
    the model's sizes)."""
    if percentile is not None and not (0 < percentile <= 100):
        raise InputError("percentile", "out of range", limit="0 < P <= 100", value=percentile)
    k = nearest_leak_shift(model.tau)
    tau_k = 1.0 - 2.0 ** -k
    if abs(tau_k - model.tau) > 1e-12:
        warnings.warn(f"tau {model.tau:g} is not available on the chip: mapped to leak_shift {k} (tau {tau_k:g})",
                      stacklevel=2)
    base = spec or ChipSpec()
    (n_hid, n_in), (n_out, _) = model.w_hid.shape, model.w_out.shape
    for name, want, have in (("n_in", n_in, base.n_in), ("n_hid", n_hid, base.n_hid), ("n_out", n_out, base.n_out)):
        if want > have:
            raise dr.violate(dr.SIZE_WITHIN_CHIP, f"model {name}", f"<= {have}", want)
    spec = ChipSpec(n_in=n_in, n_hid=n_hid, n_out=n_out, w_bits_hid=base.w_bits_hid, w_bits_out=base.w_bits_out,
                    v_bits=base.v_bits, leak_shift=k, aux=base.aux or bool(model.alpha_hid or model.alpha_out))
    vmax = spec.v_range[1]
    ints, scales, thetas, auxes, rows, fp = [], [], [], [], [], {}
    for layer, (w, theta, alpha, name) in enumerate(((model.w_hid, model.theta_hid, model.alpha_hid, "hidden"),
                                                      (model.w_out, model.theta_out, model.alpha_out, "output"))):
        lo, hi = spec.w_range(layer)
        a = np.abs(w)
        ref = float(np.percentile(a, percentile)) if percentile is not None else float(a.max())
        if ref == 0.0:
            ref = float(a.max()) or theta  # an all-zero layer still needs a finite scale
        scale = ref / hi
        q = np.rint(w / scale)
        clipped = int(np.count_nonzero((q < lo) | (q > hi)))
        q = np.clip(q, lo, hi).astype(np.int64)
        if not q.any():
            warnings.warn(f"{name} layer: every weight is zero after quantisation (max |w| {float(a.max()):g}): "
                          f"its neurons can only fire from the aux neuron and the layer carries no input",
                          stacklevel=2)
        th = int(np.rint(theta / scale))
        where = f"theta_{'hid' if layer == 0 else 'out'}"
        if th < 1:
            raise dr.violate(dr.THRESHOLD_POSITIVE, f"{where} = {theta:g} / scale {scale:g}", ">= 1 LSB", th)
        if th > vmax:
            raise dr.violate(dr.THRESHOLD_IN_MEMBRANE, f"{where} = {theta:g} / scale {scale:g}", f"<= {vmax}", th)
        aux = int(np.rint(alpha / scale))
        if aux > hi:     # the aux neuron's synapse is a weight of the layer: it must fit its width
            raise dr.violate(dr.AUX_RANGE, f"alpha_{'hid' if layer == 0 else 'out'} = {alpha:g} / scale {scale:g}",
                             f"<= {hi} (the layer's largest weight)", aux)
        err = q * scale - w
        rows.append({"layer": name, "scale": scale, "w_bits": spec.w_bits(layer),
                     "weight_rms_error": float(np.sqrt(np.mean(err ** 2))), "weight_max_error": float(np.abs(err).max()),
                     "weight_rms_error_lsb": float(np.sqrt(np.mean(err ** 2)) / scale),
                     "weight_max_error_lsb": float(np.abs(err).max() / scale),
                     "clipped": clipped, "became_zero": int(np.count_nonzero((q == 0) & (w != 0))),
                     "theta": theta, "theta_int": th, "theta_error": abs(th * scale - theta), "aux_int": aux})
        ints.append(q); scales.append(scale); thetas.append(th); auxes.append(aux)
        key = "hid" if layer == 0 else "out"
        fp[f"w_{key}"] = w / scale
        fp[f"theta_{key}"] = theta / scale
        fp[f"w_aux_{key}"] = alpha / scale
    cfg = ChipConfig(spec, ints[0], ints[1], thetas[0], thetas[1], auxes[0], auxes[1], scales[0], scales[1])
    return cfg, MappingReport(rows, k, model.tau, tau_k), fp


def accuracy_gap(config: ChipConfig, float_params: dict, dataset) -> dict:
    """Accuracy of the unquantised float model (float twin) vs the mapped int chip on ``dataset``,
    and the fraction of output spikes on which they agree."""
    k = len(dataset.class_names) if hasattr(dataset, "class_names") else config.spec.n_out   # predictions: its classes
    ci, cf = Chip(config, "int", n_classes=k), Chip(config, "float", float_params=float_params, n_classes=k)
    labels = np.asarray(dataset.labels)
    hits_i = hits_f = 0
    agree = []
    for i in range(len(dataset)):
        x = dataset.sample(i)
        a, b = ci.run(x, record=True), cf.run(x, record=True)
        hits_i += a.prediction == labels[i]
        hits_f += b.prediction == labels[i]
        agree.append(float(np.mean(a.s_out == b.s_out)))
    n = max(len(dataset), 1)
    return {"float_accuracy": hits_f / n, "chip_accuracy": hits_i / n, "gap": (hits_f - hits_i) / n,
            "output_spike_agreement": float(np.mean(agree)) if agree else float("nan"), "samples": len(dataset)}
