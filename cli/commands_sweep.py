"""``anp sweep``: grids of trainings in parallel (local spawn workers or Dask), resumable."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from anp_emu import defaults as D
from anp_emu.cli.common import SEED, err_stream, make_outdir
from anp_emu.cli.main import main
from anp_emu.errors import AnpError


def executor_options(f):
    """--workers, --executor, --scheduler (shared by the commands built on the sweep)."""
    opts = [
        click.option("--workers", type=click.IntRange(1, 4096), default=None,
                     help="Parallel runs. Default: one per core (local), or per core with a LocalCluster."),
        click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                     help="local: spawned worker processes on this machine; dask: dask.distributed "
                          "(a LocalCluster, or the cluster at --scheduler)."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Dask scheduler to submit the runs to, e.g. tcp://HOST:8786 (implies --executor dask)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


class RunsBar:
    """A progress bar over runs: done, running, failed, ETA (on stderr)."""

    def __init__(self, enabled: bool, label: str = "runs"):
        self.enabled, self.label, self.bar, self.state, self.shown = enabled, label, None, None, 0

    def __call__(self, st) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=st.total, label=self.label, file=err_stream(), show_eta=False,
                                         item_show_func=lambda _: self._text())
            self.bar.__enter__()
        self.state = st
        self.bar.update(st.finished - self.shown, st)
        self.shown = st.finished

    def _text(self) -> str:
        st = self.state
        if st is None:
            return ""
        eta = "--" if math.isnan(st.eta_s) else f"{st.eta_s // 60:.0f}:{st.eta_s % 60:02.0f}"
        skipped = f"  {st.skipped} already done" if st.skipped else ""
        return f"done {st.done}  running {st.running}  failed {st.failed}{skipped}  ETA {eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def run_with_bar(fn, progress: bool, **kw):
    bar = RunsBar(progress)
    try:
        return fn(progress=bar, **kw)
    finally:
        bar.close()


def report_failures(table, out: Path) -> None:
    failed = table[table["status"] != "ok"]
    if len(failed):
        first = failed.iloc[0]
        raise AnpError(f"{len(failed)} of {len(table)} runs failed (first: {first['run_id']}: {first['error']}); "
                       f"see {out / 'results.csv'}; run the same command again to retry them")


@main.command("sweep")
@click.argument("spec", type=click.Path())
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), required=True,
              help="Folder for results.csv, summary.csv, runs/<run>.json and each run's training folder.")
@executor_options
@click.option("--json", "as_json", is_flag=True, help="Print the results table as JSON records.")
@click.option("--plot", "do_plot", is_flag=True, help="Also write accuracy_vs_energy.png (needs matplotlib).")
@click.option("--report", "do_report", is_flag=True,
              help="Also write OUT/report.html (as anp report); an existing report.html is refused before any run.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def sweep_cmd(spec, outdir, workers, executor, scheduler, as_json, do_plot, do_report, progress):
    """Train every combination of a TOML SPEC's [grid] (lists, crossed) with its [fixed] options
    on DATASET, in parallel; finished runs in OUT are skipped, so an interrupted sweep continues
    where it stopped. Keys are `anp train` options (rule, loss, aft, lr, epochs, seed, split ...).

    \b
    dataset = "ev10.h5"
    [grid]
    rule = ["mpd-ed", "stbp"]
    seed = [0, 1, 2]
    [fixed]
    epochs = 3
    """
    from anp_emu.experiments import sweep

    if scheduler is not None:
        executor = "dask"
    sw = sweep.load_spec(spec)                   # every key checked before the folder is made
    own = sweep.claim_outdir(outdir, "sweep", ("accuracy_vs_energy.png", "report.html"))
    out = make_outdir(outdir)
    table = run_with_bar(sweep.run, progress and not as_json, spec=sw, outdir=out, workers=workers,
                         executor=executor, scheduler=scheduler, own=own)
    summary = sweep.summarise(table, sw.arm_keys)
    if as_json:
        click.echo(json.dumps(table.to_dict(orient="records"), indent=1, default=float))
    else:
        click.echo(sweep.format_summary(summary, sw.arm_keys))
        click.echo(f"wrote {out / 'results.csv'} ({len(table)} runs), {out / 'summary.csv'}")
    if do_plot:
        plot_accuracy_energy(table, sw.arm_keys, out / "accuracy_vs_energy.png")
        own.wrote("accuracy_vs_energy.png")
        if not as_json:
            click.echo(f"wrote {out / 'accuracy_vs_energy.png'}")
    if do_report:
        from anp_emu.cli.commands_plot import write_report_for

        write_report_for([out], out / "report.html", force=True, quiet=as_json)
        own.wrote("report.html")
    report_failures(table, out)


def plot_accuracy_energy(table, arms, path: Path) -> None:
    """Test accuracy vs learning energy per training sample per arm (anp_emu.plots), written to ``path``."""
    from anp_emu.plots import plot_accuracy_energy as draw, save

    save(draw(table, list(arms) or None), path, close=True)


# ----------------------------------------------------------------------------- anp ablation
# the float twin with the aux AFT separates the AFT (ideal vs aux, both float) from the precision
# (aux on int vs aux on float)
ABLATION_ARMS = (("mpd-ed", "aux", "int"), ("mpd-ed", "ideal", "float"), ("mpd-ed", "aux", "float"),
                 ("mpd-ed", "none", "int"), ("stbp", "aux", "int"), ("std-ed", "aux", "int"), ("ebp", "aux", "int"))
ABLATION_COLUMNS = ("test_accuracy", "best_test_accuracy", "train_accuracy", "learning_nj", "inference_nj", "total_nj",
                    "learning_ops_per_sample", "hidden_activity")


def ablation_spec(dataset, epochs: int | None, seeds: list[int], loss: str | None, point: str, preset: str | None = None):
    """The Fig. 5-style ablation as a sweep: four arms (MPD-ED with aux-neuron AFT, with the ideal
    AFT-LIF of the float twin, without AFT; STBP) crossed with ``seeds``. Each seed gives every
    arm the same split and initial weights (those of ``anp train --seed``)."""
    from anp_emu.experiments import sweep

    fixed = {"operating_point": point}
    fixed.update({k: v for k, v in (("epochs", epochs), ("loss", loss), ("preset", preset)) if v is not None})
    return sweep.load_spec({"dataset": str(dataset), "grid": {"seed": list(seeds)}, "fixed": fixed,
                            "arms": [{"rule": r, "aft": a, "precision": p} for r, a, p in ABLATION_ARMS]})


def ablation_table(table):
    """One row per arm: the mean over seeds of each figure, its sd (n - 1) and n."""
    import pandas as pd

    ok = table[table["status"] == "ok"]
    rows = []
    for (rule, aft, precision), g in ok.groupby(["rule", "aft", "precision"], sort=False):
        row = {"rule": rule, "aft": aft, "precision": precision, "n": len(g)}
        for c in ABLATION_COLUMNS:
            row[c] = float(g[c].mean())
        for c in ABLATION_COLUMNS:
            row[f"{c}_sd"] = float(g[c].std(ddof=1)) if len(g) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


@main.command("ablation")
@click.argument("dataset", type=click.Path())
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), required=True,
              help="Folder for ablation.csv/json (per arm), results.csv (per run), runs/ and the plot with --plot.")
@click.option("--epochs", type=click.IntRange(1, 100000), default=None,
              help="Epochs per run (default 5, or the preset's).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="First seed (split, init, order, rounding).")
@click.option("--seeds", "n_seeds", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Seeds per arm: SEED, SEED+1, ... (mean ± sd over them).")
@click.option("--operating-point", "point", default=D.OPERATING_POINT, show_default=True)
@click.option("--loss", type=click.Choice(["ce", "tet"]), default=None,
              help=f"Loss of every arm (default {D.LOSS}, or the preset's; see anp train --help).")
@click.option("--preset", type=click.Choice(["paper"]), default=None,
              help="Every arm with anp train --preset (Wei et al. 2024 as printed; see anp train --help).")
@executor_options
@click.option("--plot", "do_plot", is_flag=True, help="Also write ablation.png (needs matplotlib).")
@click.option("--progress/--no-progress", default=True, show_default=True)
def ablation_cmd(dataset, outdir, epochs, seed, n_seeds, point, loss, preset, workers, executor, scheduler, do_plot,
                 progress):
    """The paper's ablation (Fig. 5 style) on the emulated chip: MPD-ED with aux-neuron AFT, with
    the ideal AFT-LIF (float twin), without AFT, and STBP — accuracy and energy per sample, mean
    ± sd over seeds. A preset of `anp sweep`: runs in parallel, and an interrupted ablation
    continues where it stopped."""
    from anp_emu.experiments import sweep
    from anp_emu.cli.common import load_dataset, write_csv, write_json
    from anp_emu.cli.commands_train import energy_model_for

    load_dataset(dataset)                     # a bad file: one line before any run
    energy_model_for(point)
    if scheduler is not None:
        executor = "dask"
    if preset is None:
        epochs, loss = epochs or D.EPOCHS, loss or D.LOSS
    sw = ablation_spec(Path(dataset).resolve(), epochs, list(range(seed, seed + n_seeds)), loss, point, preset)
    own = sweep.claim_outdir(outdir, "ablation", ("ablation.csv", "ablation.json", "ablation.png"))
    out = make_outdir(outdir)
    runs = run_with_bar(sweep.run, progress, spec=sw, outdir=out, workers=workers, executor=executor,
                        scheduler=scheduler, own=own)
    table = ablation_table(runs)
    write_csv(out / "ablation.csv", table)
    write_json(out / "ablation.json", table.to_dict(orient="records"))
    own.wrote("ablation.csv", "ablation.json")
    click.echo(sweep.format_summary(sweep.summarise(runs, ["rule", "aft", "precision"]), ["rule", "aft", "precision"]))
    if do_plot:
        _plot_ablation(table, out / "ablation.png")
        own.wrote("ablation.png")
        click.echo(f"wrote {out / 'ablation.png'}")
    click.echo(f"wrote {out / 'ablation.csv'} (per arm), {out / 'results.csv'} (per run)")
    report_failures(runs, out)


def _plot_ablation(table, path: Path) -> None:
    from anp_emu.plots import plot_ablation, save

    save(plot_ablation(table), path, close=True)


# ----------------------------------------------------------------------------- anp warmup
@main.command("warmup")
@click.option("--json", "as_json", is_flag=True, help="Print the seconds per path as JSON.")
def warmup_cmd(as_json):
    """Compile every numba kernel ahead of time (int and float chip, MPD-ED and STBP, both losses,
    the ideal AFT, inference, the delta encoder) into the on-disk cache, so that later commands,
    notebooks and sweep workers start without compiling — e.g. once when building an image or on
    each machine of a cluster. NUMBA_CACHE_DIR chooses the cache folder."""
    import os
    import time

    import numpy as np

    from anp_emu.runtime.warmup import compile_kernels

    t0 = time.perf_counter()
    rows = compile_kernels(None if as_json else (lambda name, s: click.echo(f"{name:28s} {s:6.1f} s", err=True)))
    from anp_emu.emg.encoders import encode_delta

    t = time.perf_counter()
    encode_delta([np.random.default_rng(0).normal(0, 20, (400, 8))])
    rows.append(("delta encoder", time.perf_counter() - t))
    total = time.perf_counter() - t0
    cache = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ beside the sources"
    if as_json:
        click.echo(json.dumps({"paths": dict(rows), "total_s": total, "cache": cache}, indent=1))
    else:
        click.echo(f"{'delta encoder':28s} {rows[-1][1]:6.1f} s", err=True)
        click.echo(f"compiled or loaded every kernel in {total:.1f} s (cache: {cache})")
