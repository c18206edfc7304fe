"""Energy commands: ``anp energy`` (what one training sample costs, MPD-ED vs STBP),
``anp energy-table`` (the per-operation energy table in use) and ``anp complexity`` (Table II/III
of Wei et al. 2024)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

from anp_emu.cli.common import initial_config, load_chip_config, load_dataset
from anp_emu.cli.main import main
from anp_emu.errors import FileFormatError, InputError

ASSUMPTION_NOTE = ("note: only pJ/SOP, power, voltage and clock are published; every other cost "
                   "(neuron update, error MAC, weight read/write, static power) is an assumption - "
                   "see docs/energy.md, override with --costs/--cost")


def _err():
    return click.get_text_stream("stderr")


def _point_name(table, value: str) -> str:
    """Accept '0.56V', '0.56v', '0.56' for the table's point '0.56V'."""
    if value in table.points:
        return value
    for name in table.points:
        if value.lower() in (name.lower(), name.lower().rstrip("v")):
            return name
    raise InputError("--operating-point", "unknown operating point", limit=f"one of {list(table.points)}",
                     value=repr(value))


def _resolve(costs_file, cost_items, point):
    from anp_emu.energy.model import default_table, load_table

    table = load_table(costs_file) if costs_file else default_table()
    name = _point_name(table, point)
    if cost_items:
        table = table.with_overrides(list(cost_items), name)
    return table, name


def _echo_table(title: str, df: pd.DataFrame):
    from anp_emu.energy.report import format_frame

    click.echo(title)
    click.echo(format_frame(df))
    click.echo("")


@main.command("energy")
@click.argument("dataset", type=click.Path())
@click.option("--chip", "chip_path", type=click.Path(), default=None,
              help="Chip config file (initial weights). Default: a seeded, threshold-calibrated random init.")
@click.option("--rules", default="mpd-ed,stbp", show_default=True,
              help="Comma-separated learning rules (mpd-ed, stbp, std-ed, ebp), each from the same initial weights "
                   "(std-ed: on the IF neuron).")
@click.option("--samples", "-n", "n_samples", type=click.IntRange(min=1), default=20, show_default=True,
              help="Training steps per rule (seeded order over the dataset; epochs repeat if needed).")
@click.option("--operating-point", "point", default="0.56V", show_default=True,
              help="Operating point of the energy table: 0.56V (40 MHz) or 0.9V (210 MHz), or one of --costs.")
@click.option("--costs", "costs_file", type=click.Path(), default=None,
              help="Complete energy table (.json, or .toml on Python >= 3.11); see `anp energy-table --write`.")
@click.option("--cost", "cost_items", multiple=True, metavar="NAME=VALUE",
              help="Override one cost: a counter (in SOPs), zero_skipping, sop_includes_static, "
                   "pj_per_sop/static_power_mw/power_mw/clock_mhz (of the chosen point) or cycles.FIELD. Repeatable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample order, init and rounding.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("-o", "--output", "outdir", type=click.Path(), default=None,
              help="Folder for CSV tables, energy.json, the energy table used and the plot (created if needed).")
@click.option("--plot", "do_plot", is_flag=True, help="Also write energy_over_training.png to the output folder "
              "(needs matplotlib: pip install 'anp-emu[plot]').")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr.")
def energy_cmd(dataset, chip_path, rules, n_samples, point, costs_file, cost_items, seed, as_json, outdir,
               do_plot, progress):
    """Energy per training sample on the emulated ANP-I, MPD-ED vs STBP.

    Trains each rule (MPD-ED, STBP) on the same samples from the same initial weights and report energy, cycles, latency, power and EDP
    per sample, per phase and per layer, side by side with the STBP : MPD-ED ratio."""
    from anp_emu.energy.runner import measure_training, sample_order
    from anp_emu.energy.report import PAPER_POINT, PAPER_TRAINING_NJ, frames_to_json, ratio, write_frames

    rule_list = [r.strip() for r in rules.split(",") if r.strip()]
    if do_plot and not outdir:
        raise InputError("--plot", "needs an output folder", hint="add -o OUTDIR")
    if do_plot:
        from anp_emu.energy.plot import _pyplot

        _pyplot()  # fail before the run if matplotlib is missing
    table, pname = _resolve(costs_file, cost_items, point)
    model = table.model(pname)
    ds = load_dataset(dataset)
    idx = sample_order(len(ds), n_samples, seed)
    if chip_path:
        cfg = load_chip_config(chip_path)
        chip_desc = str(chip_path)
    else:
        cfg, init = initial_config(ds, None, seed, 0.05, 0.3)
        chip_desc = (f"random init seed {seed} (theta {init.theta_hid}/{init.theta_out}, "
                     f"aux {init.w_aux_hid}/{init.w_aux_out})")
    spec = cfg.spec
    total = n_samples * len(rule_list)
    if progress:
        with click.progressbar(length=total, label="training steps", file=_err()) as bar:
            res = measure_training(cfg, ds, model, rules=rule_list, n_samples=n_samples, seed=seed,
                                   indices=idx, progress=bar.update)
    else:
        res = measure_training(cfg, ds, model, rules=rule_list, n_samples=n_samples, seed=seed, indices=idx)
    meta = {"dataset": str(dataset), "chip": chip_desc,
            "network": f"{spec.n_in}-{spec.n_hid}-{spec.n_out}", "T": res.T, "samples": n_samples,
            "rules": rule_list, "seed": seed, "energy_table": table.source,
            "cost_overrides": list(cost_items), "model": model.describe(),
            "paper_training_nj": PAPER_TRAINING_NJ if pname == PAPER_POINT else None}
    if "mpd-ed" in res.reports and "stbp" in res.reports:
        meta["stbp_over_mpd_ed_training"] = ratio(res.reports)
        meta["stbp_over_mpd_ed_learning_increment"] = ratio(res.reports, "learning_increment_nj")
    frames = res.frames()
    written = []
    if outdir:
        out = Path(outdir)
        if out.exists() and not out.is_dir():
            raise FileFormatError(out, "output path exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        written = write_frames(out, frames, meta)
        from anp_emu.energy.model import save_table

        save_table(table, out / "energy_table.json")
        written.append(out / "energy_table.json")
        if do_plot:
            from anp_emu.energy.plot import plot_energy_over_training

            p = out / "energy_over_training.png"
            plot_energy_over_training(res.log, p, paper=PAPER_TRAINING_NJ if pname == PAPER_POINT else None,
                                      title=f"{spec.n_in}-{spec.n_hid}-{spec.n_out}, T={res.T}, {pname}")
            written.append(p)
    if as_json:
        click.echo(frames_to_json(frames, meta), nl=False)
        return
    p = model.point
    click.echo(f"dataset {dataset}: {len(ds)} samples, T={res.T}, {ds.n_in} lines; network "
               f"{meta['network']}; chip: {chip_desc}")
    click.echo(f"operating point {pname}: {p.voltage_v} V, {p.clock_mhz:g} MHz, {p.pj_per_sop} pJ/SOP, "
               f"static {p.static_power_mw} mW; table {table.source}"
               + (f"; overrides {', '.join(cost_items)}" if cost_items else ""))
    click.echo(f"{n_samples} training steps per rule, same samples and initial weights; numbers per sample\n")
    _echo_table("per training sample (nJ, us, mW, nJ*us):", res.comparison)
    ph = frames["phases"].groupby(["rule", "phase"], sort=False)[["energy_nj", "static_nj", "cycles",
                                                                 "latency_us"]].sum().reset_index()
    _echo_table("per phase (both layers):", ph)
    _echo_table("per layer and phase:", frames["phases"][["rule", "layer", "phase", "energy_nj", "cycles",
                                                          "latency_us", "power_mw"]])
    cx = res.complexity[["rule", "layer", "M", "N", "T", "zeta_i", "zeta_o", "complexity", "stbp_complexity",
                         "reduction_pct", "measured_bp", "measured_wgrad"]]
    _echo_table("training complexity (Table II with the measured activity) and backward ops counted:", cx)
    if "mpd-ed" in res.reports and "stbp" in res.reports:
        line = f"STBP : MPD-ED training energy per sample = {meta['stbp_over_mpd_ed_training']:.2f}x"
        if pname == PAPER_POINT:
            line += (f" (paper, ANP-I chip: {PAPER_TRAINING_NJ['stbp']:.0f} / {PAPER_TRAINING_NJ['mpd-ed']:.0f} nJ"
                     f" = {PAPER_TRAINING_NJ['stbp'] / PAPER_TRAINING_NJ['mpd-ed']:.1f}x)")
        click.echo(line)
    click.echo(ASSUMPTION_NOTE)
    for w in written:
        click.echo(f"wrote {w}")


@main.command("energy-table")
@click.option("--operating-point", "point", default=None,
              help="Show only this operating point (default: all).")
@click.option("--costs", "costs_file", type=click.Path(), default=None,
              help="Energy table file to read instead of the built-in ANP-I table.")
@click.option("--cost", "cost_items", multiple=True, metavar="NAME=VALUE", help="Override one cost (see anp energy).")
@click.option("--write", "write_path", type=click.Path(), default=None,
              help="Write the complete (overridden) table as JSON: a starting point for --costs.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def energy_table_cmd(point, costs_file, cost_items, write_path, as_json):
    """The per-operation energy table (pJ per counted operation).

    One column per operating point; the relative costs are in units of one SOP."""
    from anp_emu.energy.model import default_table, load_table, save_table

    table = load_table(costs_file) if costs_file else default_table()
    names = [_point_name(table, point)] if point else list(table.points)
    if cost_items:
        table = table.with_overrides(list(cost_items), names[0])
    if write_path:
        save_table(table, write_path)
    if as_json:
        click.echo(table.to_json(), nl=False)
        return
    frames = []
    for n in names:
        f = table.model(n).table_frame()
        f.insert(0, "operating_point", n)
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    wide = df.pivot_table(index=["counter", "phase", "relative_cost"], columns="operating_point",
                          values="pj_per_op", sort=False).reset_index()
    wide.columns = [c if c in ("counter", "phase", "relative_cost") else f"pJ@{c}" for c in wide.columns]
    click.echo(f"energy table: {table.source}" + (f"; overrides {', '.join(cost_items)}" if cost_items else ""))
    for n in names:
        p = table.points[n]
        click.echo(f"  {n}: {p.voltage_v} V, {p.clock_mhz:g} MHz, {p.pj_per_sop} pJ/SOP (published), "
                   f"{p.power_mw} mW (published), static {p.static_power_mw} mW (assumed)")
    click.echo(f"  zero_skipping={str(table.zero_skipping).lower()}, "
               f"sop_includes_static={str(table.sop_includes_static).lower()}\n")
    _echo_table("pJ per counted operation (relative_cost in SOPs):", wide)
    click.echo(ASSUMPTION_NOTE)
    if write_path:
        click.echo(f"wrote {write_path}")


@main.command("complexity")
@click.option("-M", "M", type=click.IntRange(min=1), default=None, help="Input neurons of the layer.")
@click.option("-N", "N", type=click.IntRange(min=1), default=None, help="Output neurons of the layer.")
@click.option("-T", "T", type=click.IntRange(min=1), default=None, help="Time steps.")
@click.option("--zeta-i", type=float, default=None, help="Mean input spike activity (spikes per line and step).")
@click.option("--zeta-o", type=float, default=None, help="Mean output spike activity.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--measured", is_flag=True,
              help="Table II/III measured from training runs: RUN... are anp train output folders.")
@click.argument("runs", nargs=-1, type=click.Path())
def complexity_cmd(M, N, T, zeta_i, zeta_o, as_json, measured, runs):
    """Training complexity of one layer and its reduction over STBP (Table II).

    Formulas of Wei et al. 2024, Table II. Without options: the paper's Table III (N-MNIST, M=200, N=10, T=30) from its activities."""
    from anp_emu.energy.complexity import PAPER_M, PAPER_N, PAPER_T, complexity_row, paper_table3
    from anp_emu.energy.report import _jsonable

    if measured or runs:
        from anp_emu.cli.commands_rules import echo_measured_complexity

        if not (measured and runs):
            raise InputError("--measured", "give --measured and at least one training run folder", value=len(runs))
        return echo_measured_complexity(runs, as_json)
    given = [v is not None for v in (M, N, T, zeta_i, zeta_o)]
    if not any(given):
        df = paper_table3()
        title = "Wei et al. 2024 Table III (N-MNIST, second FC layer) from its own activities:"
    else:
        if zeta_i is None or zeta_o is None:
            raise InputError("--zeta-i/--zeta-o", "give both activities", value=f"{zeta_i}/{zeta_o}")
        M, N, T = M or PAPER_M, N or PAPER_N, T or PAPER_T
        df = pd.DataFrame([complexity_row(r, M, N, T, zeta_i, zeta_o) for r in ("stbp", "mpd-ed", "std-ed")])
        title = f"Table II for M={M}, N={N}, T={T}, zeta_i={zeta_i}, zeta_o={zeta_o}:"
    if as_json:
        click.echo(json.dumps(_jsonable(df), indent=2))
        return
    _echo_table(title, df)
    click.echo("reduction_pct_2dp is truncated to two decimals, as the paper prints its figures "
               "(for its STD-ED activities: 99.1485 % exact, 99.14 % printed)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
