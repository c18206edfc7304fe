"""Chip config files: HDF5, ``format = "anp-emu-chip-config"``, ``version = 1``.

Layout (group names resemble lava-dl netx's ``/layer/<i>/weight``, but this is *not* a netx
file and netx cannot build it: ``ANP_LIF`` is no netx neuron type, there is no input layer
entry, and netx's CUBA neuron differs from the chip (``v > vth`` against ``v >= theta``, decay
rounded toward zero against the chip's ``v - (v >> k)``, 24-bit state, bias/recurrence in place
of the aux neuron). What netx builds and runs is ``anp export --format netx``
(``anp_emu.mapping.export``; docs/interop.md))::

    /                      attrs: format, version, sha256 (SHA-256 of all content, checked on load)
    /spec                  attrs: n_in, n_hid, n_out, w_bits_hid, w_bits_out, v_bits, leak_shift, aux
    /learning              attrs: the LearningSettings fields (lr_shift, temporal_window: -1 = unset)
    /layer/0 (hidden), /layer/1 (output)
        type               "dense"
        shape              int64 (1,): number of neurons
        weight             int16 (n_post, n_pre): signed weights in LSBs
        neuron/type        "ANP_LIF"
        neuron/vThMant     int64: threshold theta (LSBs)
        neuron/vDecay      int64: 4096 * 2^-leak_shift (12-bit decay as Loihi counts it; tau = 1 - vDecay/4096); 0 with the leak off
        neuron/leakShift   int64
        neuron/auxWeight   int64: aux neuron synapse (LSBs)
        neuron/scale       float64: float value of one weight LSB
        neuron/wBits       int64: weight width of the layer

Loading is strict: unknown members are refused, every field is checked for dtype and shape, and
the values go through :class:`~anp_emu.chip.config.ChipConfig` validation (design rules): a float or
out-of-range weight is an error, never silently rounded or wrapped. Writes are atomic.
"""
from __future__ import annotations

from dataclasses import fields

import h5py
import numpy as np

from ..chip.config import ChipConfig
from ..errors import FileFormatError
from .fileio import attr_value, check_keys, h5_reader, h5_writer, read_array, verify_h5_checksum
from ..learning.settings import OPTIONAL_INTS, RULE_DEFAULTED, LearningSettings
from ..chip.spec import ChipSpec

FORMAT = "anp-emu-chip-config"
VERSION = 2          # 2: root attribute sha256 (content checksum, verified on load); 1: without it
_NEURON_KEYS = {"type", "vThMant", "vDecay", "leakShift", "auxWeight", "scale", "wBits"}
_LAYER_KEYS = {"type", "shape", "weight", "neuron"}


def save_config(config: ChipConfig, path) -> None:
    """Write ``config`` to ``path`` atomically."""
    spec = config.spec
    with h5_writer(path, FORMAT, VERSION, checksum=True) as f:
        g = f.create_group("spec")
        for k, v in spec.to_dict().items():
            g.attrs[k] = np.int64(v)
        g = f.create_group("learning")
        for k, v in config.learning.to_dict().items():
            g.attrs[k] = -1 if (k in OPTIONAL_INTS and v is None) else v
        for layer in (0, 1):
            lg = f.create_group(f"layer/{layer}")
            n_post = spec.layer_sizes[layer][0]
            lg.create_dataset("type", data="dense")
            lg.create_dataset("shape", data=np.array([n_post], dtype=np.int64))
            lg.create_dataset("weight", data=config.weights(layer).astype(np.int16))
            ng = lg.create_group("neuron")
            ng.create_dataset("type", data="ANP_LIF")
            ng.create_dataset("vThMant", data=np.int64(config.theta(layer)))
            ng.create_dataset("vDecay", data=np.int64((4096 >> spec.leak_shift if spec.leak_shift else 0)))
            ng.create_dataset("leakShift", data=np.int64(spec.leak_shift))
            ng.create_dataset("auxWeight", data=np.int64(config.w_aux(layer)))
            ng.create_dataset("scale", data=np.float64(config.scale(layer)))
            ng.create_dataset("wBits", data=np.int64(spec.w_bits(layer)))


# the type of every attribute of /spec and /learning (from the dataclasses' fields)
_SPEC_KINDS = {f.name: ("bool" if f.name == "aux" else "int") for f in fields(ChipSpec)}
_LEARNING_KINDS = {f.name: ("int" if f.name in OPTIONAL_INTS else
                            {bool: "bool", int: "int", float: "float", str: "str"}[RULE_DEFAULTED.get(f.name, type(f.default))])
                   for f in fields(LearningSettings)}
_LEARNING_RANGES = {"seed": (0, None), **{k: (-1, None) for k in OPTIONAL_INTS}}   # -1: unset


def _attrs(group, kinds: dict, where: str, path) -> dict:
    """Every attribute of ``group`` checked by type, shape (a single value) and, where the
    dataclass does not check it, range; unknown names are left to ``from_dict`` (which names them)."""
    out = {}
    for k in group.attrs:
        if k not in kinds:
            out[k] = None
            continue
        lo, hi = _LEARNING_RANGES.get(k, (None, None)) if kinds is _LEARNING_KINDS else (None, None)
        out[k] = attr_value(group, k, path, kinds[k], where=where, lo=lo, hi=hi)
    return out


def _scalar(group, name, path, where, kind):
    return read_array(group, name, path, kind=kind, ndim=0, where=where)[()]


def _text(group, name, path, where, expected):
    v = read_array(group, name, path, kind="S", ndim=0, where=where)[()]
    v = v.decode() if isinstance(v, bytes) else str(v)
    if v != expected:
        raise FileFormatError(path, f"{where}/{name}: expected {expected!r}, got {v!r}")


def load_config(path) -> ChipConfig:
    """Read and validate a chip config file."""
    with h5_reader(path, FORMAT, (1, VERSION)) as f:
        verify_h5_checksum(f, path, required=attr_value(f, "version", path, "int") >= 2)
        check_keys(f, {"spec", "learning", "layer"}, {"spec", "layer"}, "", path)
        for name in ("spec", "learning"):
            if name in f and not isinstance(f[name], h5py.Group):
                raise FileFormatError(path, f"/{name}: expected a group, got a dataset")
        spec = ChipSpec.from_dict(_attrs(f["spec"], _SPEC_KINDS, "/spec", path), where=f"{path}:/spec")
        learning = LearningSettings()
        if "learning" in f:
            learning = LearningSettings.from_dict(_attrs(f["learning"], _LEARNING_KINDS, "/learning", path),
                                                  where=f"{path}:/learning")
        check_keys(f["layer"], {"0", "1"}, {"0", "1"}, "/layer", path)
        parts = {}
        for layer in (0, 1):
            where = f"/layer/{layer}"
            lg = f[where]
            check_keys(lg, _LAYER_KEYS, _LAYER_KEYS, where, path)
            _text(lg, "type", path, where, "dense")
            shape = spec.layer_sizes[layer]
            n_post = read_array(lg, "shape", path, kind="i", shape=(1,), where=where)
            if int(n_post[0]) != shape[0]:
                raise FileFormatError(path, f"{where}/shape: spec says {shape[0]} neurons, got {int(n_post[0])}")
            w = read_array(lg, "weight", path, kind="i", shape=shape, where=where)
            ng = lg["neuron"]
            check_keys(ng, _NEURON_KEYS, _NEURON_KEYS, f"{where}/neuron", path)
            nw = f"{where}/neuron"
            _text(ng, "type", path, nw, "ANP_LIF")
            for name, want in (("leakShift", spec.leak_shift), ("vDecay", (4096 >> spec.leak_shift if spec.leak_shift else 0)),
                               ("wBits", spec.w_bits(layer))):
                got = int(_scalar(ng, name, path, nw, "i"))
                if got != want:
                    raise FileFormatError(path, f"{nw}/{name}: spec says {want}, got {got}")
            parts[layer] = (w, _scalar(ng, "vThMant", path, nw, "i"), _scalar(ng, "auxWeight", path, nw, "i"),
                            float(_scalar(ng, "scale", path, nw, "f")))
    (w0, th0, a0, s0), (w1, th1, a1, s1) = parts[0], parts[1]
    return ChipConfig(spec, w0, w1, th0, th1, a0, a1, s0, s1, learning)


def config_checksum(config: ChipConfig) -> str:
    """SHA-256 of a config's content, independent of the file format: spec, integer weights,
    thresholds, aux weights, scales (exact float64) and learning settings. Every export format
    stores it, so a reload is either the same network or an error."""
    import hashlib
    import json

    h = hashlib.sha256()
    meta = {"spec": config.spec.to_dict(), "learning": config.learning.to_dict(),
            "ints": [config.theta_hid, config.theta_out, config.w_aux_hid, config.w_aux_out],
            "scales": [float(config.scale_hid).hex(), float(config.scale_out).hex()]}
    h.update(json.dumps(meta, sort_keys=True).encode())
    for w in (config.w_hid, config.w_out):
        a = np.ascontiguousarray(w, dtype="<i2")
        h.update(str(a.shape).encode() + a.tobytes())
    return h.hexdigest()
