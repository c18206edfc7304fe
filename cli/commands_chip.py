"""Chip config commands: ``anp map``, ``anp export``, ``anp info``."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import click
import numpy as np

from anp_emu.cli.common import load_chip_config, refuse_existing, write_json
from anp_emu.files.fileio import check_writable
from anp_emu.cli.main import main
from anp_emu.errors import FileFormatError


@main.command("map")
@click.argument("model", type=click.Path())
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), required=True, help="Chip config to write (.h5).")
@click.option("--percentile", type=click.FloatRange(0, 100, min_open=True), default=None,
              help="Scale each layer from this percentile of |w| (weights beyond it clip) instead of max-abs.")
@click.option("--dt", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Time step (s) that discretises NIR time constants. Default: the step under which the "
                   "graph's tau is one of the chip's leaks, of 1e-4 (snnTorch's convention) and 1e-3 "
                   "(Norse, Rockpool); 1e-3 if neither.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the quantisation report as JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--force", is_flag=True, help="Replace an existing OUTPUT (and --report) file.")
def map_cmd(model, out, percentile, dt, report_path, as_json, force):
    """Map a float model (.npz or NIR .nir) onto the chip: quantise, check the design rules, report.

    Nothing is written unless every design rule holds."""
    from anp_emu.files.config_io import save_config
    from anp_emu.mapping.float_model import load_npz, load_nir
    from anp_emu.mapping.quantise import map_model

    p = Path(model)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    for target in (out, report_path):       # every output checked before anything is written
        if target:
            refuse_existing(target, force)
            check_writable(Path(target).parent if str(Path(target).parent) else Path("."))
    own = _own_export(p)
    if own is not None:
        # a file anp export wrote: reloaded exactly (checksum verified), never quantised again
        save_config(own, out)
        d = {"source": str(p), "recognised": "anp-emu export; reloaded exactly, not re-quantised",
             "spec": own.spec.to_dict(), "warnings": []}
        if report_path:
            write_json(report_path, d)
        if as_json:
            click.echo(json.dumps(d, indent=1))
            return
        click.echo(f"{p}: an anp-emu export, reloaded exactly (theta {own.theta_hid}/{own.theta_out}, aux "
                   f"{own.w_aux_hid}/{own.w_aux_out}); not re-quantised")
        click.echo(f"wrote {out}")
        return
    fm = load_nir(p, dt=dt) if p.suffix == ".nir" else load_npz(p)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg, rep, _ = map_model(fm, percentile=percentile)
    save_config(cfg, out)
    d = rep.to_dict()
    d["warnings"] = [str(w.message) for w in caught]
    if report_path:
        write_json(report_path, d)
    if as_json:
        click.echo(json.dumps(d, indent=1, default=float))
        return
    for w in d["warnings"]:
        click.echo(f"warning: {w}", err=True)
    s = cfg.spec
    click.echo(f"mapped {s.n_in}-{s.n_hid}-{s.n_out}, leak_shift {rep.leak_shift} (tau {rep.tau_used:g})")
    click.echo(rep.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"wrote {out}")


def _own_export(p: Path):
    """The config if ``p`` is something ``anp export`` wrote (npz/NIR/csv/C/h5 of ours), else None."""
    from anp_emu.mapping.export import NPZ_FORMAT, detect_format, import_config, is_anp_nir

    fmt = detect_format(p)
    if fmt == "nir":
        return import_config(p, "nir") if is_anp_nir(p) else None
    if fmt == "npz":
        from anp_emu.files.fileio import read_npz

        d = read_npz(p)
        ours = "format" in d and str(d["format"]) == NPZ_FORMAT
        return import_config(p, "npz") if ours else None
    if fmt in ("csv", "netx"):
        return import_config(p, fmt)
    if fmt == "c":
        return import_config(p, fmt) if p.read_text(errors="replace").startswith("/* ANP-I chip config") else None
    if fmt == "h5":
        import h5py

        try:
            with h5py.File(p, "r") as f:
                ours = f.attrs.get("format") in ("anp-emu-chip-config", b"anp-emu-chip-config")
        except OSError:
            return None
        return import_config(p, fmt) if ours else None
    return None


@main.command("export")
@click.argument("config", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["h5", "npz", "csv", "c", "nir", "netx"]), required=True,
              help="netx: a file lava-dl netx builds (CUBA neurons; differences in docs/interop.md).")
@click.option("-o", "--output", "out", type=click.Path(), required=True,
              help="File to write (a new folder for csv).")
@click.option("--dt", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True,
              help="NIR only: the time step (s) a NIR reader simulates with. 1e-4 is the step snnTorch's "
                   "importer assumes; another value gives the same network to readers that take dt from you.")
@click.option("--force", is_flag=True,
              help="Replace an existing output file; for csv, replace a previous csv export of anp-emu "
                   "(recognised by its manifest; a folder holding anything else is never replaced).")
@click.option("--classes", "n_classes", type=click.IntRange(1, 1 << 20), default=None,
              help="NIR: the dataset's classes (output neurons 0..K-1) of the readout rule written into the "
                   "metadata. Default: the classes of the anp train run beside CONFIG (summary.json), else "
                   "every output.")
@click.option("--clip", is_flag=True,
              help="netx: write a network Loihi cannot hold anyway (netx clips the weights named in the "
                   "error). Without it such a config is refused.")
def export_cmd(config, fmt, out, dt, force, n_classes, clip):
    """Export a chip config's quantised weights: h5, npz, csv (folder), C header, NIR, or lava-dl netx.

    Nothing existing is replaced without --force; every output appears complete or not at all."""
    from anp_emu.mapping.export import export_config

    cfg = load_chip_config(config)
    names = None
    summary = Path(config).parent / "summary.json"
    if n_classes is None and summary.is_file():
        try:
            names = json.loads(summary.read_text()).get("classes")
        except (ValueError, AttributeError):
            names = None
        names = names if isinstance(names, list) and 1 <= len(names) <= cfg.spec.n_out else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = export_config(cfg, out, fmt, dt=dt, force=force, n_classes=n_classes, class_names=names, clip=clip)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    click.echo(f"wrote {path}")


@main.command("info")
@click.argument("config", type=click.Path())
@click.option("--json", "as_json", is_flag=True)
def info_cmd(config, as_json):
    """Spec, synaptic memory, weight statistics, thresholds, aux weights and scales of a config
    (an .h5 chip config or anything ``anp export`` wrote: npz, csv folder, C header, NIR)."""
    from anp_emu.mapping.export import detect_format, import_config

    p = Path(config)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    cfg = import_config(p)
    layers = []
    for i, name in enumerate(("hidden", "output")):
        w = cfg.weights(i)
        bits = w.size * cfg.spec.w_bits(i)
        layers.append({"layer": name, "shape": list(w.shape), "w_bits": cfg.spec.w_bits(i), "memory_bits": bits,
                       "memory_bytes": bits / 8, "w_min": int(w.min()), "w_max": int(w.max()),
                       "w_mean": float(w.mean()), "w_std": float(w.std()),
                       "zeros": int(np.count_nonzero(w == 0)), "theta": cfg.theta(i), "aux_weight": cfg.w_aux(i),
                       "scale": cfg.scale(i)})
    d = {"config": str(config), "format": detect_format(p), "spec": cfg.spec.to_dict(), "learning": cfg.learning.to_dict(), "layers": layers}
    if as_json:
        click.echo(json.dumps(d, indent=1))
        return
    s = cfg.spec
    click.echo(f"{config}: {s.n_in}-{s.n_hid}-{s.n_out}, weights {s.w_bits_hid}/{s.w_bits_out} bit, membrane "
               f"{s.v_bits} bit, leak_shift {s.leak_shift} (tau {s.tau:g}), aux {'on' if s.aux else 'off'}")
    for L in layers:
        click.echo(f"  {L['layer']:6s} {L['shape'][0]}x{L['shape'][1]}: {L['memory_bits']} bits "
                   f"({L['memory_bytes']:.0f} B), w in [{L['w_min']}, {L['w_max']}] mean {L['w_mean']:.2f} "
                   f"std {L['w_std']:.2f}, {L['zeros']} zeros; theta {L['theta']}, aux {L['aux_weight']}, "
                   f"scale {L['scale']:.4g}")
