"""``anp plot KIND SOURCE...`` (one figure: png, svg or pdf) and ``anp report SOURCE... -o
report.html`` (one self-contained HTML page), over :mod:`anp_emu.plots`."""
from __future__ import annotations

from pathlib import Path

import click

from anp_emu.cli.main import main
from anp_emu.errors import FileFormatError, InputError

KINDS = {
    "raster": "spike raster of one test sample (input events, hidden and output spikes); several RUNs side by side",
    "membrane": "membrane traces of the output neurons (and --hidden neurons) of one test sample: threshold, "
                "reset, aux boost; int chip and float twin",
    "curves": "training curves of RUN(s): accuracy, learning/inference energy at both operating points, activity",
    "confusion": "confusion matrix of RUN's trained chip on its test split (counts, row %, per-class accuracy)",
    "energy": "energy per training sample by layer and phase, stacked bars, RUN beside RUN",
    "weights": "weight histograms before and after training on the chip's grid, saturated weights marked",
    "accuracy-energy": "SWEEP / CV / ABLATION: test accuracy against learning energy per arm, mean ± sd",
    "folds": "CV: test accuracy per fold by rule, baselines as markers",
    "ablation": "ABLATION: accuracy and learning energy per arm, mean ± sd",
}


def check_output(path, force: bool) -> Path:
    """The output file: its format known, its folder present and writable, not an existing file
    unless ``force`` (checked before any work)."""
    from anp_emu.files.fileio import check_writable
    from anp_emu.plots.style import check_format

    out = Path(path)
    check_format(out)
    if out.is_dir():
        raise FileFormatError(out, "is a folder; expected a file name ending in .png, .svg or .pdf")
    if out.exists() and not force:
        raise FileFormatError(out, "exists; not replaced (--force to replace it)")
    if not out.parent.is_dir():
        raise FileFormatError(out.parent, "output folder not found")
    check_writable(out.parent)
    return out


def make_figure(kind: str, sources, *, sample: int | None = None, hidden=(), point: str = "0.56V"):
    """The Figure of ``kind`` from the folders ``sources``."""
    from anp_emu import plots
    from anp_emu.plots import html_report as report

    if kind not in KINDS:
        raise InputError("KIND", "unknown kind of plot", limit=f"one of {list(KINDS)}", value=repr(kind))
    if kind in ("accuracy-energy", "folds", "ablation"):
        if len(sources) != 1:
            raise InputError("SOURCE", f"{kind} draws one sweep, cv or ablation folder", value=len(sources))
        k, table = plots.load_table(sources[0])
        if kind == "accuracy-energy":
            runs = table[~table["rule"].astype(str).str.startswith("baseline:")]
            arms = ["rule", "aft", "precision"] if k == "ablation" else ["rule"]
            return plots.plot_accuracy_energy(runs, [a for a in arms if a in runs])
        if kind == "folds":
            if k != "cv":
                raise InputError("SOURCE", "folds needs an anp cv folder (folds.csv)", value=str(sources[0]))
            return plots.plot_folds(table)
        if k != "ablation":
            raise InputError("SOURCE", "ablation needs an anp ablation folder (ablation.csv)", value=str(sources[0]))
        from anp_emu.plots.data import _read_csv
        return plots.plot_ablation(_read_csv(Path(sources[0]) / "ablation.csv"))
    runs = [plots.load_run(s) for s in sources]
    main_run = runs[0]
    if kind == "curves":
        return plots.plot_training_curves(runs)
    if kind == "confusion":
        ev = main_run.evaluation()
        return plots.plot_confusion(ev.confusion, title=f"{main_run.rule} ({main_run.name}): test accuracy "
                                                       f"{100 * ev.accuracy:.1f} %")
    if kind == "energy":
        from anp_emu.energy.model import default_table

        model = default_table().model(point)
        distinct = len({r.rule for r in runs}) == len(runs)
        return plots.plot_energy_breakdown({(r.rule if distinct else r.name): plots.breakdown(r.total_counters(), r.spec(), r.T, model)
                                            for r in runs}, point=point)
    if kind == "weights":
        after = main_run.config("trained")
        if after is None:
            raise FileFormatError(main_run.path / "config.h5", "missing (a float-twin run, or training did not finish)")
        return plots.plot_weight_histograms(after, main_run.config("initial"))
    i, _ = report.pick_sample(main_run, sample)
    names = main_run.datasets()[1].class_names
    if kind == "raster":
        return plots.plot_raster([report.raster_panel(r, i, f"{r.rule} ({r.name})") for r in runs], class_names=names)
    cfg = main_run.config("trained")
    if cfg is None:
        raise FileFormatError(main_run.path / "config.h5", "missing")
    ev = main_run.datasets()[1].sample(i)
    ri, rf = plots.sample_traces(cfg, ev, "int"), plots.sample_traces(cfg, ev, "float")
    return plots.plot_membrane(ri, config=cfg, neurons=range(min(len(names), cfg.spec.n_out)), hidden=hidden,
                               float_result=rf, title=f"{main_run.name}, test sample {i}")


def _hidden_list(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise InputError("--hidden", "comma-separated neuron indices", value=repr(text)) from None


PLOT_HELP = ("Draw one figure of KIND from SOURCE folders (anp train runs; a sweep, cv or ablation folder).\n\n"
             "\b\nKIND:\n" + "\n".join(f"  {k:<16} {v}" for k, v in KINDS.items()))


@main.command("plot", help=PLOT_HELP)
@click.argument("kind", metavar="KIND")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-o", "--output", "output", type=click.Path(), required=True,
              help="Image file: .png, .svg or .pdf (written atomically; an existing file only with --force).")
@click.option("--sample", type=click.IntRange(0, None), default=None, help="raster/membrane: index in the test split (default 0).")
@click.option("--hidden", default=None, help="membrane: comma-separated hidden neurons to draw as well.")
@click.option("--operating-point", "point", default="0.56V", show_default=True, help="energy: the operating point.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def plot_cmd(kind, sources, output, sample, hidden, point, force):
    from anp_emu.plots.style import _pyplot, save

    if kind not in KINDS:
        raise InputError("KIND", "unknown kind of plot", limit=f"one of {list(KINDS)}", value=repr(kind))
    out = check_output(output, force)
    if point not in ("0.56V", "0.9V"):
        from anp_emu.cli.commands_train import energy_model_for
        energy_model_for(point)
    fig = make_figure(kind, list(sources), sample=sample, hidden=_hidden_list(hidden), point=point)
    save(fig, out)
    _pyplot().close(fig)
    click.echo(f"wrote {out}")


def write_report_for(sources, output, *, force: bool = False, sample: int | None = None, quiet: bool = False) -> dict:
    """Write the HTML report and say so (shared by anp report and the --report of other commands)."""
    from anp_emu.plots.html_report import write_report

    info = write_report([Path(s) for s in sources], output, force=force, sample=sample)
    if not quiet:
        click.echo(f"wrote {info['path']} ({info['bytes'] / 1024:,.0f} kB, {info['images']} figures, "
                   f"{info['seconds']:.1f} s)")
    for n in info["notes"]:
        click.echo(f"note: {n}", err=True)
    return info


@main.command("report")
@click.argument("sources", nargs=-1, required=True, metavar="RUN|SWEEP|CV...")
@click.option("-o", "--output", "output", type=click.Path(), required=True,
              help="The HTML file (self-contained: open it from the file system).")
@click.option("--sample", type=click.IntRange(0, None), default=None, help="Test sample of the raster and membrane figures.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def report_cmd(sources, output, sample, force):
    """One static HTML page of a run (or several runs side by side), a sweep, a cross-validation
    or an ablation: every figure of `anp plot` embedded, the options, a data summary (subjects,
    sessions, classes, input density) and the tables. No network, no server."""
    write_report_for(sources, output, force=force, sample=sample)
