"""Export a chip config (mapped or trained) and import it back, identically.

Formats (every write atomic: a temporary file or folder, then rename):

- ``h5``  the chip config format (:mod:`anp_emu.config_io`).
- ``npz`` ``format``/``version``, ``w_hid``/``w_out`` (int16), ``theta_hid``, ``theta_out``,
  ``w_aux_hid``, ``w_aux_out`` (int64), ``scale_hid``, ``scale_out`` (float64) and ``spec_<field>``.
- ``csv`` a folder: ``hidden_weight.csv`` (n_hid rows x n_in integer columns), ``output_weight.csv``
  (n_out x n_hid), ``neurons.csv`` (layer, theta, aux_weight, scale, w_bits) and ``spec.csv``
  (key, value).
- ``c``   a C header for firmware: ``int8_t``/``int16_t`` weight arrays (row = post neuron), the
  thresholds, aux weights and the spec as ``#define``s.
- ``nir`` float units: Input -> Affine(w * scale, 0) -> LIF -> Affine -> LIF -> Output, with LIF
  tau = dt / (1 - tau_k), r = tau / dt (so that forward Euler with ``dt`` gives back the chip's
  v -> tau_k v + W x), v_threshold = theta * scale; the scale and bit width ride in each Affine's
  metadata so that re-import gives identical integers.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from anp_emu.config import ChipConfig
from anp_emu.config_io import load_config, save_config
from anp_emu.errors import AnpError, ConfigKeyError, FileFormatError, InputError
from anp_emu.fileio import atomic_path, atomic_write_text, temp_path_beside, user_umask
from anp_emu.spec import ChipSpec

FORMATS = ("h5", "npz", "csv", "c", "nir")
NPZ_FORMAT = "anp-emu-chip-npz"
_SCALARS = ("theta_hid", "theta_out", "w_aux_hid", "w_aux_out")


def export_config(config: ChipConfig, path, fmt: str, dt: float = 1e-3, force: bool = False) -> Path:
    """Write ``config`` to ``path`` in format ``fmt``. An existing output is replaced only with
    ``force`` (and a csv folder only if it is an unmodified csv export of ours)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError("--format", "unknown export format", limit=f"one of {list(FORMATS)}", value=repr(fmt))
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
                np.savez(f, format=np.array(NPZ_FORMAT), version=np.int64(1), w_hid=config.w_hid, w_out=config.w_out,
                         **{k: np.int64(getattr(config, k)) for k in _SCALARS},
                         scale_hid=np.float64(config.scale_hid), scale_out=np.float64(config.scale_out),
                         **{f"spec_{k}": np.int64(v) for k, v in config.spec.to_dict().items()})
    elif fmt == "csv":
        _write_csv_folder(config, path, force)
    elif fmt == "c":
        atomic_write_text(path, c_header(config, path.stem))
    else:
        _write_nir(config, path, dt)
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
             f"#ifndef {ident}_H", f"#define {ident}_H", "", "#include <stdint.h>", ""]
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


def _write_nir(config: ChipConfig, path: Path, dt: float) -> None:
    from .float_model import require_nir

    nir = require_nir()

    tau_k = config.spec.tau
    tau_c = dt / (1.0 - tau_k)
    nodes = [nir.Input(input_type=np.array([config.spec.n_in]))]
    for i in (0, 1):
        n = config.spec.layer_sizes[i][0]
        w = config.weights(i).astype(np.float64) * config.scale(i)
        meta = {"anp_scale": config.scale(i), "anp_w_bits": config.spec.w_bits(i), "anp_aux": config.w_aux(i),
                "anp_v_bits": config.spec.v_bits, "anp_dt": dt}
        nodes.append(nir.Affine(weight=w, bias=np.zeros(n), metadata=meta))
        nodes.append(nir.LIF(tau=np.full(n, tau_c), r=np.full(n, tau_c / dt), v_leak=np.zeros(n),
                             v_threshold=np.full(n, config.theta(i) * config.scale(i))))
    nodes.append(nir.Output(output_type=np.array([config.spec.n_out])))
    graph = nir.NIRGraph.from_list(*nodes)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)


def import_config(path, fmt: str | None = None) -> ChipConfig:
    """Read an exported config back (format from ``fmt`` or the file suffix / folder)."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    fmt = fmt or ("csv" if p.is_dir() else {".h5": "h5", ".npz": "npz", ".nir": "nir", ".h": "c"}.get(p.suffix, "h5"))
    if fmt == "h5":
        return load_config(p)
    if fmt == "npz":
        with np.load(p, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if str(d.get("format")) != NPZ_FORMAT:
            raise FileFormatError(p, f"format: expected {NPZ_FORMAT!r}, got {d.get('format')!r}")
        spec = ChipSpec.from_dict({k[5:]: int(v) for k, v in d.items() if k.startswith("spec_")})
        known = {"format", "version", "w_hid", "w_out", "scale_hid", "scale_out", *_SCALARS}
        for k in d:
            if k not in known and not k.startswith("spec_"):
                raise ConfigKeyError(f"{p}:{k}", "unknown key")
        return ChipConfig(spec, d["w_hid"], d["w_out"], *(int(d[k]) for k in _SCALARS),
                          float(d["scale_hid"]), float(d["scale_out"]))
    if fmt == "csv":
        return _read_csv_folder(p)
    if fmt == "nir":
        return _read_nir(p)
    raise InputError("format", "cannot import this format", limit="h5, npz, csv or nir", value=repr(fmt))


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


def _read_nir(p: Path) -> ChipConfig:
    from .float_model import require_nir

    nir = require_nir()

    from .float_model import load_nir
    from .quantise import nearest_leak_shift

    graph = nir.read(p)
    affines = [n for n in graph.nodes.values() if isinstance(n, nir.Affine)]
    meta = [a.metadata for a in affines]
    if len(affines) != 2 or not all("anp_scale" in m for m in meta):
        raise FileFormatError(p, "not an anp-emu NIR export (Affine metadata anp_scale missing): use anp map")
    dt = float(meta[0].get("anp_dt", 1e-3))
    model = load_nir(graph, dt=dt)
    scales = [float(m["anp_scale"]) for m in meta]
    spec = ChipSpec(n_in=model.w_hid.shape[1], n_hid=model.w_hid.shape[0], n_out=model.w_out.shape[0],
                    w_bits_hid=int(meta[0]["anp_w_bits"]), w_bits_out=int(meta[1]["anp_w_bits"]),
                    v_bits=int(meta[0]["anp_v_bits"]), leak_shift=nearest_leak_shift(model.tau))
    w = [np.rint(model.w_hid / scales[0]).astype(np.int64), np.rint(model.w_out / scales[1]).astype(np.int64)]
    th = [int(np.rint(model.theta_hid / scales[0])), int(np.rint(model.theta_out / scales[1]))]
    return ChipConfig(spec, w[0], w[1], th[0], th[1], int(meta[0]["anp_aux"]), int(meta[1]["anp_aux"]),
                      scales[0], scales[1])
