"""Comparing learning rules: ``anp gradients`` (Wei et al. Fig. 7 d-e: dL/dS sparsity and the cosine
of each rule's weight update with STBP's) and the measured Table II/III of ``anp complexity --measured``."""
from __future__ import annotations

import json

import click
import numpy as np

from anp_emu import defaults as D
from anp_emu.cli.common import SEED, initial_config, load_chip_config, load_dataset, make_outdir, write_csv, write_json
from anp_emu.cli.main import main
from anp_emu.errors import InputError

ALL_RULES = ("stbp", "mpd-ed", "std-ed", "ebp")
_MEASURED_COLS = ["rule", "layer", "M", "N", "T", "zeta_i", "zeta_o", "reduction_pct", "measured_inter",
                  "measured_intra", "measured_spike", "measured_wgrad", "measured_learning", "counted_vs_stbp_pct"]


def echo_measured_complexity(runs, as_json: bool) -> None:
    from anp_emu.energy.complexity import paper_table3
    from anp_emu.energy.report import _jsonable
    from anp_emu.learning.agreement import measured_complexity

    df = measured_complexity(list(runs))
    paper = paper_table3()
    if as_json:
        click.echo(json.dumps({"measured": _jsonable(df), "paper": _jsonable(paper)}, indent=2))
        return
    click.echo("measured per layer (ops per training sample; reductions against STBP in %):")
    click.echo(df[_MEASURED_COLS].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo("\nreduction_pct: Table II's formulas with the measured zeta; counted_vs_stbp_pct: the counted "
               "learning ops (BP + weight-gradient accumulates) against the STBP runs' (mean)")
    click.echo("\nWei et al. 2024 Table III (N-MNIST fc2, its own activities):")
    click.echo(paper[["rule", "zeta_i", "zeta_o", "reduction_pct", "paper_reduction_pct"]]
               .to_string(index=False, float_format=lambda v: f"{v:.4g}"))


@main.command("gradients")
@click.argument("dataset", type=click.Path())
@click.option("--chip", "chip_path", type=click.Path(), default=None,
              help="Chip config (.h5). Default: the seeded random init of anp train.")
@click.option("--rules", default=",".join(ALL_RULES), show_default=True, help="Comma-separated rules (STBP always).")
@click.option("-n", "--samples", "n_samples", type=click.IntRange(1, 100000), default=10, show_default=True)
@click.option("--precision", type=click.Choice(["float", "int"]), default="float", show_default=True,
              help="Forward pass the gradients are taken on.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the init and the sample choice.")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=None,
              help="Also write gradients_per_sample.csv, gradients.json (and gradients.png with --plot).")
@click.option("--plot", "do_plot", is_flag=True, help="Plot sparsity and cosines (needs matplotlib, the plot extra).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def gradients_cmd(dataset, chip_path, rules, n_samples, precision, seed, outdir, do_plot, as_json):
    """Gradient agreement (Wei et al. Fig. 7 d-e): for the same samples and weights, the sparsity of
    dL/dS in the hidden layer per rule and the cosine similarity of each rule's weight update with
    STBP's, per layer. STD-ED takes its gradients on the IF neuron with the same weights."""
    from anp_emu.learning.agreement import gradient_agreement

    rule_list = [r.strip() for r in rules.split(",") if r.strip()]
    for r in rule_list:
        if r not in ALL_RULES:
            raise InputError("--rules", "unknown rule", limit=f"from {list(ALL_RULES)}", value=repr(r))
    if do_plot and not outdir:
        raise InputError("--plot", "needs -o/--output for the image")
    if do_plot:
        _matplotlib()                      # before any work or file
    ds = load_dataset(dataset)
    cfg = load_chip_config(chip_path) if chip_path else initial_config(ds, None, seed, D.TARGET_HIDDEN, D.AUX_FRAC)[0]
    idx = np.random.default_rng(seed).permutation(len(ds))[:n_samples]
    labels = np.asarray(ds.labels)
    per, summary = gradient_agreement(cfg, [ds.sample(int(i)) for i in idx], labels[idx], rule_list, precision)
    if outdir:
        out = make_outdir(outdir)
        write_csv(out / "gradients_per_sample.csv", per)
        write_json(out / "gradients.json", summary.to_dict(orient="records"))
        if do_plot:
            _plot(summary, out / "gradients.png")
    if as_json:
        click.echo(json.dumps(summary.to_dict(orient="records"), indent=2))
        return
    click.echo(f"{len(idx)} samples, {precision} forward pass; means per sample (cos_sum: of the summed updates)")
    click.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def _matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot", "needs matplotlib", hint="pip install matplotlib") from None
    return plt


def _plot(summary, path) -> None:
    plt = _matplotlib()
    from anp_emu.files.fileio import atomic_write_bytes
    import io

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].bar(summary["rule"], summary["dLdS_sparsity"])
    ax[0].set_ylabel("dL/dS sparsity (hidden)")
    ax[0].set_ylim(0, 1)
    w = 0.38
    x = np.arange(len(summary))
    ax[1].bar(x - w / 2, summary["cos_hidden"], w, label="hidden")
    ax[1].bar(x + w / 2, summary["cos_output"], w, label="output")
    ax[1].set_xticks(x, summary["rule"])
    ax[1].set_ylabel("cosine with STBP's update")
    ax[1].legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
