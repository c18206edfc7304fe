"""Export a chip config (mapped or trained) and import it back, identically.

Formats (every write atomic: a temporary file or folder, then rename; an existing output is
replaced only with ``force``). Each carries the learning settings and the config's content
checksum (:func:`anp_emu.files.config_io.config_checksum`), so a reload is the same network or an error:

- ``h5``  the chip config format (:mod:`anp_emu.files.config_io`).
- ``npz`` ``format``/``version`` (2), ``w_hid``/``w_out`` (int16), ``theta_hid``, ``theta_out``,
  ``w_aux_hid``, ``w_aux_out`` (int64), ``scale_hid``, ``scale_out`` (float64), ``spec_<field>``,
  ``learning`` (JSON text) and ``sha256``.
- ``csv`` a new folder: ``hidden_weight.csv`` (n_hid rows x n_in integer columns),
  ``output_weight.csv`` (n_out x n_hid), ``neurons.csv`` (layer, theta, aux_weight, scale,
  w_bits), ``spec.csv`` and ``learning.csv`` (key, value), and ``anp-export.json``, the manifest
  (every file with its SHA-256, the config checksum).
- ``c``   a C header for firmware: ``int8_t``/``int16_t`` weight arrays (row = post neuron), the
  thresholds, aux weights, scales and spec as ``#define``s, the learning settings and checksum in
  a comment; :func:`import_config` reads it back.
- ``nir`` float units, built so that snnTorch's NIR importer runs the float twin (see
  :func:`nir_graph` and the README's interop section): per layer an Affine (w * scale, bias
  w_aux * scale: the aux neuron spikes every step), a LIF with tau = dt / (1 - tau_k),
  r = tau / dt (forward Euler with ``dt`` gives back v -> tau_k v + W x) and threshold
  (theta - 1/2^10) * scale, and, if w_aux > 0, a diagonal Linear -w_aux * scale from the LIF's
  own spike back into it (the aux synapse reaches only neurons that did not fire at t-1).
  Default dt = 1e-4 s, the step snnTorch's importer assumes. Graph metadata (``anp_format``,
  the integers, dt, learning settings, checksum) lets anp-emu reload it exactly.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from anp_emu.chip.config import ChipConfig
from anp_emu.files.config_io import config_checksum, load_config, save_config
from anp_emu.errors import AnpError, ConfigKeyError, FileFormatError, InputError
from anp_emu.files.fileio import atomic_path, atomic_write_text, temp_path_beside, user_umask
from anp_emu.chip.spec import ChipSpec

from anp_emu.mapping.float_model import require_nir

FORMATS = ("h5", "npz", "csv", "c", "nir", "netx")
NETX_FORMAT = "anp-emu-chip-netx"
NETX_WEIGHT_RANGE = (-256, 254)   # what netx's optimize_weight_bits keeps of a signed weight (Loihi synapse)
NIR_DT = 1e-4                 # s: the step snnTorch's NIR importer assumes (its code fixes dt = 1e-4)
NIR_FORMAT = "anp-emu-chip-nir"
# LSB below theta at which the NIR threshold sits: snnTorch fires on v > threshold, the chip and
# its float twin on v >= theta; see nir_graph
NIR_THRESHOLD_OFFSET = 2.0 ** -10
NPZ_FORMAT = "anp-emu-chip-npz"
_SCALARS = ("theta_hid", "theta_out", "w_aux_hid", "w_aux_out")


def export_config(config: ChipConfig, path, fmt: str, dt: float = NIR_DT, force: bool = False,
                  n_classes: int | None = None, class_names=None, clip: bool = False) -> Path:
    """Write ``config`` to ``path`` in format ``fmt`` (``dt``: the NIR time step, s). An existing
    output is replaced only with ``force`` (and a csv folder only if it is an unmodified csv
    export of ours).

    ``n_classes`` / ``class_names``: the dataset's classes (output neurons 0..K-1), written with
    the chip's readout rule into a NIR export's metadata (``anp_readout``; default: every output).
    ``clip`` (netx only): write a network Loihi cannot hold (weights outside netx's range) anyway,
    netx clipping them; without it such a config is refused, naming every clipped parameter."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError("--format", "unknown export format", limit=f"one of {list(FORMATS)}", value=repr(fmt))
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise InputError("dt", "must be a finite time step > 0 (s)", value=dt)
    if fmt != "csv":
        if path.is_dir():
            raise FileFormatError(path, "is a folder, expected a file name")
        if path.exists() and not force:
            raise FileFormatError(path, "exists; not replaced (add --force to replace it)")
    if fmt == "h5":
        save_config(config, path)
    elif fmt == "npz":
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, format=np.array(NPZ_FORMAT), version=np.int64(2), w_hid=config.w_hid, w_out=config.w_out,
                         **{k: np.int64(getattr(config, k)) for k in _SCALARS},
                         scale_hid=np.float64(config.scale_hid), scale_out=np.float64(config.scale_out),
                         learning=np.array(json.dumps(config.learning.to_dict())),
                         sha256=np.array(config_checksum(config)),
                         **{f"spec_{k}": np.int64(v) for k, v in config.spec.to_dict().items()})
    elif fmt == "csv":
        _write_csv_folder(config, path, force)
    elif fmt == "c":
        atomic_write_text(path, c_header(config, path.stem))
    elif fmt == "netx":
        _write_netx(config, path, clip=clip)
    else:
        graph = nir_graph(config, dt, n_classes=n_classes, class_names=class_names)
        with atomic_path(path) as tmp:
            require_nir().write(tmp, graph)
    return path


def _csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


CSV_FORMAT = "anp-emu-chip-csv"
CSV_MANIFEST = "anp-export.json"   # names and SHA-256 of every file of a csv export of ours


def _csv_files(config: ChipConfig) -> dict[str, str]:
    return {
        "hidden_weight.csv": _csv_text(config.w_hid.tolist()),
        "output_weight.csv": _csv_text(config.w_out.tolist()),
        "neurons.csv": _csv_text([["layer", "theta", "aux_weight", "scale", "w_bits"]]
                                 + [[name, config.theta(i), config.w_aux(i), repr(config.scale(i)), config.spec.w_bits(i)]
                                    for i, name in enumerate(("hidden", "output"))]),
        "spec.csv": _csv_text([["key", "value"]] + [[k, int(v)] for k, v in config.spec.to_dict().items()]),
        "learning.csv": _csv_text([["key", "value"]] + [[k, json.dumps(v)] for k, v in config.learning.to_dict().items()]),
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def previous_csv_export(path: Path) -> str | None:
    """None if ``path`` holds exactly an unmodified csv export of ours (its manifest lists every
    file in it, with matching SHA-256), else the reason it is not one."""
    man = path / CSV_MANIFEST
    if not man.is_file():
        return f"has no {CSV_MANIFEST} (not a csv export of anp-emu)"
    try:
        m = json.loads(man.read_text())
        files = dict(m["files"])
        if m.get("format") != CSV_FORMAT:
            return f"{CSV_MANIFEST}: format is not {CSV_FORMAT!r}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"{CSV_MANIFEST} is not a readable manifest"
    present = {q.name for q in path.iterdir()}
    extra = sorted(present - set(files) - {CSV_MANIFEST})
    if extra:
        return f"holds {extra[0]!r}, which anp-emu did not write"
    for name, digest in files.items():
        f = path / name
        if not f.is_file() or f.is_symlink() or _sha256(f.read_bytes()) != digest:
            return f"{name} was changed or removed since anp-emu wrote it"
    return None


def _write_csv_folder(config: ChipConfig, path: Path, force: bool = False) -> None:
    """Write the csv folder beside ``path`` and rename it into place. An existing folder is
    replaced only with ``force`` and only if it is an unmodified csv export of ours (so nothing
    anp-emu did not write is ever removed); the current folder (or one holding it) never is."""
    final = Path(os.path.abspath(path))
    if final.exists() or final.is_symlink():
        if not final.is_dir() or final.is_symlink():
            raise FileFormatError(path, "exists and is not a folder; not replaced")
        cwd = Path.cwd().resolve()
        if final.resolve() == cwd or final.resolve() in cwd.parents:
            raise FileFormatError(path, "is the current folder or holds it; choose a new folder for the csv export")
        if not force:
            raise FileFormatError(path, "exists; not replaced (csv export writes a new folder; --force replaces "
                                        "a previous csv export of anp-emu, nothing else)")
        why = previous_csv_export(final)
        if why is not None and any(final.iterdir()):
            raise FileFormatError(path, f"not replaced even with --force: {why}")
    files = _csv_files(config)
    tmp = temp_path_beside(final, folder=True)
    try:
        manifest = {"format": CSV_FORMAT, "version": 1, "files": {}}
        for name, text in files.items():
            data = text.encode()
            (tmp / name).write_bytes(data)
            manifest["files"][name] = _sha256(data)
        (tmp / CSV_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        for q in tmp.iterdir():
            os.chmod(q, 0o666 & ~user_umask())
        if final.exists():
            # swap: our previous export goes aside under a fresh name, the new one takes its place,
            # then the old one (verified above to hold only our files) is removed
            old = temp_path_beside(final.with_name(final.name + ".old"), folder=True)
            os.rename(final, old / "x")
            os.rename(tmp, final)
            shutil.rmtree(old)
        else:
            os.rename(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FileFormatError(path, f"cannot write: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def c_header(config: ChipConfig, name: str = "anp_config") -> str:
    s = config.spec
    ident = "".join(ch if ch.isalnum() else "_" for ch in name).upper() or "ANP_CONFIG"
    lines = ["/* ANP-I chip config, generated by anp-emu. Weights in LSBs; row = post neuron. */",
             f"/* anp-emu learning: {json.dumps(config.learning.to_dict())} */",
             f"#ifndef {ident}_H", f"#define {ident}_H", "", "#include <stdint.h>", "",
             f'#define ANP_SHA256 "{config_checksum(config)}"']
    for k, v in s.to_dict().items():
        lines.append(f"#define ANP_{k.upper()} {int(v)}")
    for i, key in enumerate(("HID", "OUT")):
        lines.append(f"#define ANP_THETA_{key} {config.theta(i)}")
        lines.append(f"#define ANP_W_AUX_{key} {config.w_aux(i)}")
        lines.append(f"#define ANP_SCALE_{key} {config.scale(i)!r}")
    lines.append("")
    for i, (var, w) in enumerate((("anp_w_hid", config.w_hid), ("anp_w_out", config.w_out))):
        ctype = "int8_t" if s.w_bits(i) <= 8 else "int16_t"
        lines.append(f"static const {ctype} {var}[{w.shape[0]}][{w.shape[1]}] = {{")
        for row in w:
            lines.append("    {" + ", ".join(str(int(v)) for v in row) + "},")
        lines.append("};")
    lines += ["", f"#endif /* {ident}_H */", ""]
    return "\n".join(lines)


def _read_c_header(p: Path) -> ChipConfig:
    """A C header written by :func:`c_header` (its checksum is verified)."""
    from anp_emu.learning.settings import LearningSettings

    text = p.read_text(errors="replace")
    defines = dict(re.findall(r"^#define (ANP_\w+) (.+)$", text, flags=re.M))
    try:
        spec = ChipSpec.from_dict({f.lower(): int(defines[f"ANP_{f.upper()}"]) for f in ChipSpec().to_dict()},
                                  where=f"{p}")
        ints = [int(defines[k]) for k in ("ANP_THETA_HID", "ANP_THETA_OUT", "ANP_W_AUX_HID", "ANP_W_AUX_OUT")]
        scales = [float(defines["ANP_SCALE_HID"]), float(defines["ANP_SCALE_OUT"])]
        ws = []
        for var in ("anp_w_hid", "anp_w_out"):
            m = re.search(var + r"\[(\d+)\]\[(\d+)\] = \{(.*?)\};", text, flags=re.S)
            if m is None:
                raise FileFormatError(p, f"{var}: array not found (not a C header of anp-emu?)")
            vals = np.array([int(v) for v in re.findall(r"-?\d+", m.group(3))], dtype=np.int64)
            ws.append(vals.reshape(int(m.group(1)), int(m.group(2))))
        m = re.search(r"/\* anp-emu learning: (\{.*?\}) \*/", text)
        learning = LearningSettings.from_dict(json.loads(m.group(1)), where=f"{p}:learning") if m else LearningSettings()
    except KeyError as e:
        raise FileFormatError(p, f"#define {e.args[0]}: missing (not a C header of anp-emu?)") from None
    except ValueError as e:
        if isinstance(e, AnpError):
            raise
        raise FileFormatError(p, f"malformed C header: {e}") from None
    cfg = ChipConfig(spec, ws[0], ws[1], *ints, *scales, learning)
    _check_sum(p, cfg, defines.get("ANP_SHA256", "").strip('"') or None)
    return cfg


def _check_sum(p, cfg: ChipConfig, stored: str | None) -> None:
    if stored is not None and stored != config_checksum(cfg):
        raise FileFormatError(p, "content checksum mismatch: the file was damaged or edited; not used")


def nir_graph(config: ChipConfig, dt: float = NIR_DT, theta_offset: float = NIR_THRESHOLD_OFFSET,
              n_classes: int | None = None, class_names=None):
    """The config as a NIR graph that a NIR reader simulating with step ``dt`` (forward Euler,
    spike feedback from the previous step, reset to zero) runs as the float twin:

    v[t] = (1 - s[t-1]) * tau_k * v[t-1] + W x[t] + w_aux - w_aux * s[t-1],   s[t] = v[t] > theta'

    which is the chip's step (aux reaches only neurons silent at t-1). snnTorch fires on
    ``v > threshold``, the chip on ``v >= theta``: the threshold is (theta - theta_offset) * scale;
    theta_offset = 2^-10 LSB equals ``>=`` on integer potentials and on every float-twin
    potential not within 2^-10 LSB below theta (measured in the README's interop section).

    The graph metadata ``anp_readout`` (JSON) states how the chip turns the output spikes into a
    class (:mod:`anp_emu.mapping.readout`: most spikes among the dataset's ``n_classes`` outputs,
    ties by summed membrane, then lowest index); ``chip_readout`` applies it to a reader's outputs."""
    from anp_emu.mapping.readout import readout_metadata

    nir = require_nir()
    s = config.spec
    if class_names is not None and n_classes is None:
        n_classes = len(class_names)
    if n_classes is None:
        n_classes = s.n_out
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or not 1 <= n_classes <= s.n_out:
        raise InputError("n_classes", "out of range (the dataset's classes are output neurons 0..K-1)",
                         limit=f"1..{s.n_out}", value=n_classes)
    if class_names is not None and len(class_names) != n_classes:
        raise InputError("class_names", "not one name per class", limit=n_classes, value=len(class_names))
    tau_k = s.tau
    tau_c = dt / (1.0 - tau_k)
    nodes = {"input": nir.Input(input_type=np.array([s.n_in]))}
    edges = []
    prev = "input"
    for i, name in enumerate(("hid", "out")):
        n = s.layer_sizes[i][0]
        sc = config.scale(i)
        aux = config.w_aux(i)
        meta = {"anp_layer": name, "anp_scale": sc, "anp_w_bits": s.w_bits(i), "anp_theta": config.theta(i),
                "anp_aux": aux}
        nodes[f"{name}_fc"] = nir.Affine(weight=config.weights(i).astype(np.float64) * sc,
                                         bias=np.full(n, aux * sc), metadata=meta)
        nodes[f"{name}_lif"] = nir.LIF(tau=np.full(n, tau_c), r=np.full(n, tau_c / dt), v_leak=np.zeros(n),
                                       v_threshold=np.full(n, (config.theta(i) - theta_offset) * sc),
                                       v_reset=np.zeros(n))
        edges += [(prev, f"{name}_fc"), (f"{name}_fc", f"{name}_lif")]
        if aux:
            # the aux synapse: -w_aux from the neuron's own spike at t-1. Written as a two-node loop
            # (a diagonal Linear, then an identity Linear back into the LIF): snnTorch 1.0's importer
            # rewrites a one-node LIF<->Linear loop into an RLeaky subgraph that nirtorch 2.x cannot
            # build (AttributeError), while a longer loop goes to nirtorch's own recurrence handling,
            # which feeds the previous step's output back (measured: same spikes as the float twin)
            nodes[f"{name}_aux"] = nir.Linear(weight=np.diag(np.full(n, -aux * sc)))
            nodes[f"{name}_aux_back"] = nir.Linear(weight=np.eye(n))
            edges += [(f"{name}_lif", f"{name}_aux"), (f"{name}_aux", f"{name}_aux_back"),
                      (f"{name}_aux_back", f"{name}_lif")]
        prev = f"{name}_lif"
    nodes["output"] = nir.Output(output_type=np.array([s.n_out]))
    edges.append((prev, "output"))
    meta = {"anp_format": NIR_FORMAT, "anp_version": 2, "anp_dt": dt, "anp_theta_offset": theta_offset,
            "anp_spec": json.dumps(s.to_dict()), "anp_learning": json.dumps(config.learning.to_dict()),
            "anp_sha256": config_checksum(config),
            "anp_readout": json.dumps(readout_metadata(n_classes, class_names))}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def is_anp_nir(path) -> bool:
    """True if ``path`` is a NIR file written by :func:`export_config` (recognised by its metadata)."""
    nir = require_nir()
    try:
        g = nir.read(path)
    except Exception:          # nir raises bare KeyError/OSError on foreign files
        return False
    fmt = g.metadata.get("anp_format") if isinstance(g.metadata, dict) else None
    return (fmt.decode() if isinstance(fmt, bytes) else fmt) == NIR_FORMAT


def _read_nir(p: Path) -> ChipConfig:
    """Our NIR export, reloaded exactly from its integers and metadata (never re-quantised)."""
    from anp_emu.learning.settings import LearningSettings

    nir = require_nir()
    try:
        graph = nir.read(p)
    except Exception as e:     # nir raises bare KeyError/OSError on foreign files
        raise FileFormatError(p, f"not a readable NIR file: {e.__class__.__name__}: {e}") from None
    meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (graph.metadata or {}).items()}
    if meta.get("anp_format") != NIR_FORMAT:
        raise FileFormatError(p, "not an anp-emu NIR export (graph metadata anp_format missing): "
                                 "anp map quantises a foreign NIR graph")
    try:
        spec = ChipSpec.from_dict(json.loads(meta["anp_spec"]), where=f"{p}:anp_spec")
        learning = LearningSettings.from_dict(json.loads(meta["anp_learning"]), where=f"{p}:anp_learning")
        parts = []
        for i, name in enumerate(("hid", "out")):
            fc = graph.nodes[f"{name}_fc"]
            m = fc.metadata
            sc = float(m["anp_scale"])
            w = np.asarray(fc.weight, dtype=np.float64) / sc
            q = np.rint(w)
            if np.any(np.abs(q - w) > 1e-6):
                raise FileFormatError(p, f"{name}_fc.weight: not integer multiples of anp_scale (edited?)")
            parts.append((q.astype(np.int64), int(m["anp_theta"]), int(m["anp_aux"]), sc))
    except KeyError as e:
        raise FileFormatError(p, f"missing {e.args[0]!r} (damaged anp-emu NIR export)") from None
    (w0, t0, a0, s0), (w1, t1, a1, s1) = parts
    cfg = ChipConfig(spec, w0, w1, t0, t1, a0, a1, s0, s1, learning)
    _check_sum(p, cfg, meta.get("anp_sha256"))
    return cfg


def netx_clipped(config: ChipConfig) -> list[str]:
    """Every parameter of ``config`` that netx cannot hold and would clip (``NETX_WEIGHT_RANGE``,
    what netx's ``optimize_weight_bits`` keeps of a Loihi synapse), one phrase each: the weights of
    each layer and the aux loop's recurrent weight -w_aux. Empty: the export runs as trained."""
    lo, hi = NETX_WEIGHT_RANGE
    out = []
    for i, name in enumerate(("hidden", "output")):
        w = config.weights(i)
        bad = int(np.count_nonzero((w < lo) | (w > hi)))
        if bad:
            out.append(f"{name} weight: {bad} of {w.size} outside {lo}..{hi} (range {int(w.min())}..{int(w.max())})")
        aux = config.w_aux(i)
        if aux and not lo <= -aux <= hi:
            out.append(f"{name} aux loop weight_rec -w_aux = {-aux} outside {lo}..{hi}")
    return out


def _write_netx(config: ChipConfig, path: Path, clip: bool = False) -> None:
    """A file lava-dl netx's ``hdf5.Network`` builds (checked by scripts/interop_netx.py): layer 0
    ``input`` (shape only), layers 1-2 ``dense_rec`` (``dense`` without aux) with integer
    ``weight``, ``bias`` = w_aux and ``weight_rec`` = diag(-w_aux) (the aux synapse: a constant
    bias minus the neuron's own spike at t-1) and a CUBA neuron: vThMant = theta, vDecay =
    4096 * 2^-leak_shift, iDecay = 4096 (netx passes du = iDecay - 1 = 4095: the current lasts
    one step, a residual of |u|/4096 stays), refDelay 1. What Loihi does differently is listed in
    docs/interop.md (v > vth, decay rounded toward zero at 1/64 LSB, 24-bit state, 8-bit weight
    mantissas). Root attributes carry what netx ignores and anp-emu needs for an exact reload."""
    import warnings

    import h5py

    s = config.spec
    clipped = netx_clipped(config)
    if clipped and not clip:
        # Lava would run another network than the one trained: refuse unless asked to clip
        raise InputError("netx", "the trained network does not fit what netx can hold; netx would clip: "
                         + "; ".join(clipped), limit=f"{NETX_WEIGHT_RANGE[0]}..{NETX_WEIGHT_RANGE[1]}",
                         hint="--clip (clip=True) writes it anyway and netx clips these")
    if clipped:
        warnings.warn("netx export written with --clip; netx clips: " + "; ".join(clipped), stacklevel=3)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["anp_format"] = NETX_FORMAT
            f.attrs["anp_version"] = np.int64(1)
            f.attrs["anp_spec"] = json.dumps(s.to_dict())
            f.attrs["anp_learning"] = json.dumps(config.learning.to_dict())
            f.attrs["anp_scales"] = json.dumps([config.scale_hid, config.scale_out])
            f.attrs["anp_sha256"] = config_checksum(config)
            g = f.create_group("layer/0")
            g.create_dataset("type", data=np.bytes_("input"))
            g.create_dataset("shape", data=np.array([s.n_in], dtype=np.int64))
            for i in (0, 1):
                n = s.layer_sizes[i][0]
                aux = config.w_aux(i)
                g = f.create_group(f"layer/{i + 1}")
                g.create_dataset("type", data=np.bytes_("dense_rec" if aux else "dense"))
                g.create_dataset("shape", data=np.array([n], dtype=np.int64))
                g.create_dataset("weight", data=config.weights(i).astype(np.int64))
                if aux:
                    g.create_dataset("bias", data=np.full(n, aux, dtype=np.int64))
                    g.create_dataset("weight_rec", data=np.diag(np.full(n, -aux, dtype=np.int64)))
                ng = g.create_group("neuron")
                ng.create_dataset("type", data=np.bytes_("CUBA"))
                ng.create_dataset("vThMant", data=np.int64(config.theta(i)))
                ng.create_dataset("vDecay", data=np.int64(4096 >> s.leak_shift))
                ng.create_dataset("iDecay", data=np.int64(4096))
                ng.create_dataset("refDelay", data=np.int64(1))
                ng.create_dataset("gradedSpike", data=np.bool_(False))


def _read_netx(p: Path) -> ChipConfig:
    """Our netx export, reloaded exactly (integers from the layers, the rest from root attributes)."""
    import h5py

    from anp_emu.learning.settings import LearningSettings

    try:
        with h5py.File(p, "r") as f:
            a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            if a.get("anp_format") != NETX_FORMAT:
                raise FileFormatError(p, f"not an anp-emu netx export (attribute anp_format {a.get('anp_format')!r})")
            spec = ChipSpec.from_dict(json.loads(a["anp_spec"]), where=f"{p}:anp_spec")
            learning = LearningSettings.from_dict(json.loads(a["anp_learning"]), where=f"{p}:anp_learning")
            scales = [float(x) for x in json.loads(a["anp_scales"])]
            parts = []
            for i in (1, 2):
                g = f[f"layer/{i}"]
                aux = int(g["bias"][0]) if "bias" in g else 0
                parts.append((g["weight"][()], int(g["neuron/vThMant"][()]), aux))
    except KeyError as e:
        raise FileFormatError(p, f"missing {e.args[0]!r} (damaged anp-emu netx export)") from None
    except OSError as e:
        raise FileFormatError(p, f"not a readable HDF5 file: {e.__class__.__name__}") from None
    (w0, t0, a0), (w1, t1, a1) = parts
    cfg = ChipConfig(spec, w0, w1, t0, t1, a0, a1, scales[0], scales[1], learning)
    _check_sum(p, cfg, a.get("anp_sha256"))
    return cfg


def detect_format(path) -> str:
    """The export format of ``path``: a folder is csv; else the file's content decides (HDF5
    config, NIR, npz (zip), C header), the suffix only when the content says nothing."""
    p = Path(path)
    if p.is_dir():
        return "csv"
    with open(p, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        if p.suffix == ".nir":
            return "nir"
        import h5py

        try:
            with h5py.File(p, "r") as f:
                if f.attrs.get("anp_format") in (NETX_FORMAT, NETX_FORMAT.encode()):
                    return "netx"
                return "h5" if "format" in f.attrs else "nir"
        except OSError:
            return "h5"
    if head.startswith(b"PK"):
        return "npz"
    if head.startswith(b"/*") or p.suffix == ".h":
        return "c"
    return {".h5": "h5", ".npz": "npz", ".nir": "nir", ".h": "c"}.get(p.suffix, "h5")


def import_config(path, fmt: str | None = None) -> ChipConfig:
    """Read any export of ours back exactly (format from ``fmt`` or :func:`detect_format`)."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    fmt = fmt or detect_format(p)
    if fmt == "h5":
        return load_config(p)
    if fmt == "npz":
        return _read_npz(p)
    if fmt == "csv":
        return _read_csv_folder(p)
    if fmt == "c":
        return _read_c_header(p)
    if fmt == "nir":
        return _read_nir(p)
    if fmt == "netx":
        return _read_netx(p)
    raise InputError("format", "cannot import this format", limit=f"one of {list(FORMATS)}", value=repr(fmt))


def _read_npz(p: Path) -> ChipConfig:
    from anp_emu.learning.settings import LearningSettings

    from anp_emu.files.fileio import read_npz

    d = read_npz(p)
    if str(d.get("format")) != NPZ_FORMAT:
        raise FileFormatError(p, f"format: expected {NPZ_FORMAT!r}, got {d.get('format')!r}")
    known = {"format", "version", "w_hid", "w_out", "scale_hid", "scale_out", "learning", "sha256", *_SCALARS}
    for k in d:
        if k not in known and not k.startswith("spec_"):
            raise ConfigKeyError(f"{p}:{k}", "unknown key")
    try:
        spec = ChipSpec.from_dict({k[5:]: int(v) for k, v in d.items() if k.startswith("spec_")}, where=f"{p}")
        learning = (LearningSettings.from_dict(json.loads(str(d["learning"])), where=f"{p}:learning")
                    if "learning" in d else LearningSettings())
        cfg = ChipConfig(spec, d["w_hid"], d["w_out"], *(int(d[k]) for k in _SCALARS),
                         float(d["scale_hid"]), float(d["scale_out"]), learning)
    except KeyError as e:
        raise FileFormatError(p, f"{e.args[0]}: required field missing") from None
    _check_sum(p, cfg, str(d["sha256"]) if "sha256" in d else None)
    return cfg


def _read_csv_folder(p: Path) -> ChipConfig:
    """A csv export folder; with a manifest, every file's SHA-256 is checked first."""
    from anp_emu.learning.settings import LearningSettings

    if (p / CSV_MANIFEST).exists():
        why = previous_csv_export(p)
        if why is not None and "did not write" not in why:
            raise FileFormatError(p, f"checksum: {why}")
    for name in ("spec.csv", "neurons.csv", "hidden_weight.csv", "output_weight.csv"):
        if not (p / name).is_file():
            raise FileFormatError(p / name, "file not found (not a csv export of anp-emu?)")
    try:
        with open(p / "spec.csv", newline="") as f:
            spec = ChipSpec.from_dict({r["key"]: int(r["value"]) for r in csv.DictReader(f)}, where=f"{p}/spec.csv")
        with open(p / "neurons.csv", newline="") as f:
            neurons = list(csv.DictReader(f))
        if [r.get("layer") for r in neurons] != ["hidden", "output"]:
            raise FileFormatError(p / "neurons.csv", "expected the rows hidden, output")
        w = [np.loadtxt(p / f, delimiter=",", dtype=np.int64, ndmin=2) for f in ("hidden_weight.csv", "output_weight.csv")]
        learning = LearningSettings()
        if (p / "learning.csv").is_file():
            with open(p / "learning.csv", newline="") as f:
                learning = LearningSettings.from_dict({r["key"]: json.loads(r["value"]) for r in csv.DictReader(f)},
                                                      where=f"{p}/learning.csv")
        return ChipConfig(spec, w[0], w[1], int(neurons[0]["theta"]), int(neurons[1]["theta"]),
                          int(neurons[0]["aux_weight"]), int(neurons[1]["aux_weight"]),
                          float(neurons[0]["scale"]), float(neurons[1]["scale"]), learning)
    except AnpError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise FileFormatError(p, f"malformed csv export: {e.__class__.__name__}: {e}") from None
