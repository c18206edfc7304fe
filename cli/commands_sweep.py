"""``anp sweep``: grids of trainings in parallel (local spawn workers or Dask), resumable."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from anp_emu.cli.common import err_stream, make_outdir
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
@click.option("--progress/--no-progress", default=True, show_default=True)
def sweep_cmd(spec, outdir, workers, executor, scheduler, as_json, do_plot, progress):
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
    from anp_emu import sweep

    if scheduler is not None:
        executor = "dask"
    sw = sweep.load_spec(spec)                   # every key checked before the folder is made
    out = make_outdir(outdir)
    table = run_with_bar(sweep.run, progress and not as_json, spec=sw, outdir=out, workers=workers,
                         executor=executor, scheduler=scheduler)
    summary = sweep.summarise(table, sw.arms)
    if as_json:
        click.echo(json.dumps(table.to_dict(orient="records"), indent=1, default=float))
    else:
        click.echo(sweep.format_summary(summary, sw.arms))
        click.echo(f"wrote {out / 'results.csv'} ({len(table)} runs), {out / 'summary.csv'}")
    if do_plot:
        plot_accuracy_energy(table, sw.arms, out / "accuracy_vs_energy.png")
        if not as_json:
            click.echo(f"wrote {out / 'accuracy_vs_energy.png'}")
    report_failures(table, out)


def plot_accuracy_energy(table, arms, path: Path) -> None:
    """Test accuracy vs energy per training sample, one colour per arm (runs as points, arm
    means with sd error bars)."""
    from anp_emu.energy.plot import _pyplot
    from anp_emu.fileio import atomic_path

    plt = _pyplot()
    ok = table[table["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    groups = ok.groupby(arms, sort=False) if arms else [("all", ok)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{a}={v}" for a, v in zip(arms, key)) if arms else "all runs"
        pts = ax.scatter(g["energy_nj_per_sample"], g["test_accuracy"] * 100, s=14, alpha=0.5)
        ax.errorbar(g["energy_nj_per_sample"].mean(), g["test_accuracy"].mean() * 100,
                    xerr=g["energy_nj_per_sample"].std(ddof=1) if len(g) > 1 else None,
                    yerr=g["test_accuracy"].std(ddof=1) * 100 if len(g) > 1 else None,
                    fmt="o", color=pts.get_facecolor()[0][:3], capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("energy per training sample (nJ)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
