"""Energy commands: ``anp energy`` (what one training sample costs, MPD-ED vs STBP),
``anp energy-table`` (the per-operation energy table in use) and ``anp complexity`` (Table II/III
of Wei et al. 2024)."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click
import pandas as pd

from anp_emu import defaults as D
from anp_emu.cli.common import SEED, initial_config, load_chip_config, load_dataset
from anp_emu.cli.main import main
from anp_emu.errors import FileFormatError, InputError

# what `anp energy -o` and `anp energy summary -o` write (their folders' manifests list them)
ENERGY_FILES = ("energy.json", "comparison.csv", "summary.csv", "phases.csv", "ops.csv", "complexity.csv", "steps.csv",
                "energy_table.json", "energy_over_training.png")
SUMMARY_FILES = ("runs.csv", "epochs.csv", "energy_summary.json", "learning_energy_per_epoch.png")

ASSUMPTION_NOTE = ("note: only pJ/SOP, power, voltage and clock are published; every other cost "
                   "(neuron update, error MAC, weight read/write, static power) is an assumption - "
                   "see docs/energy.md, override with --costs/--cost")


def _claim(outdir, kind: str, names, force: bool):
    """The output folder of an energy report (None without -o), claimed before any work: only
    files anp wrote there are replaced, and only with --force (``anp_emu.files.manifest``)."""
    if not outdir:
        return None
    from anp_emu.files.manifest import OutputFolder

    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise FileFormatError(out, "output path exists and is not a folder")
    return OutputFolder.claim(out, kind, names, replace=force)


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


class EnergyGroup(click.Group):
    """``anp energy DATASET ...`` measures (the ``measure`` subcommand, named or not);
    ``anp energy calibrate`` and ``anp energy summary RUN...`` are subcommands."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands:
            args = ["measure", *args]
        return super().parse_args(ctx, args)


@main.group("energy", cls=EnergyGroup)
def energy_group():
    """Energy per training sample: measure (default), summary of training runs, calibrate."""


@energy_group.command("measure")
@click.argument("dataset", type=click.Path())
@click.option("--chip", "chip_path", type=click.Path(), default=None,
              help="Chip config file (initial weights). Default: a seeded, threshold-calibrated random init.")
@click.option("--rules", default="mpd-ed,stbp", show_default=True,
              help="Comma-separated learning rules (mpd-ed, stbp, std-ed, ebp), each from the same initial weights "
                   "(std-ed: on the IF neuron).")
@click.option("--samples", "-n", "n_samples", type=click.IntRange(min=1), default=20, show_default=True,
              help="Training steps per rule (seeded order over the dataset; epochs repeat if needed).")
@click.option("--operating-point", "point", default=D.OPERATING_POINT, show_default=True,
              help="Operating point of the energy table: 0.56V (40 MHz) or 0.9V (210 MHz), or one of --costs.")
@click.option("--costs", "costs_file", type=click.Path(), default=None,
              help="Complete energy table (.json, or .toml on Python >= 3.11); see `anp energy-table --write`.")
@click.option("--cost", "cost_items", multiple=True, metavar="NAME=VALUE",
              help="Override one cost: a counter (in SOPs), zero_skipping, sop_includes_static, "
                   "pj_per_sop/static_power_mw/power_mw/clock_mhz (of the chosen point) or cycles.FIELD. Repeatable.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the sample order, init and rounding.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("-o", "--output", "outdir", type=click.Path(), default=None,
              help="Folder for CSV tables, energy.json, the energy table used and the plot (created if needed).")
@click.option("--plot", "do_plot", is_flag=True, help="Also write energy_over_training.png to the output folder "
              "(needs matplotlib: pip install matplotlib).")
@click.option("--preset", type=click.Choice(["paper"]), default=None,
              help="Learning settings and AFT step of a preset (paper: Wei et al. 2024 as printed; see anp train --help).")
@click.option("--stbp-emulation", type=click.Choice(["dense", "event-input"]), default="dense", show_default=True,
              help="How STBP's learning work is counted: dense, as the paper ran it (every neuron activated), or "
                   "event-input, the what-if of a chip that skips silent input lines (see anp train --help).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr.")
@click.option("--force", is_flag=True, help="Replace the files of an earlier anp energy in the output folder.")
def energy_cmd(dataset, chip_path, rules, n_samples, point, costs_file, cost_items, seed, as_json, outdir,
               do_plot, preset, stbp_emulation, progress, force):
    """Energy per training sample on the emulated ANP-I, MPD-ED vs STBP.

    Trains each rule (MPD-ED, STBP) on the same samples from the same initial weights and reports,
    per training sample, the learning energy (backward + update: the paper's metric), the
    inference energy (forward) and the total, with cycles, latency, power and EDP per phase and
    per layer, side by side with the STBP : MPD-ED ratio. These are figures at (near) the initial
    weights; the paper's figure, the average over every sample of a whole training run, is
    `anp energy summary RUN_DIR...` of `anp train` runs.

    Other subcommands: `anp energy summary RUN_DIR...` (averaged energy of training runs),
    `anp energy calibrate` (fit the unpublished op costs to the paper's 312 / 9320 nJ)."""
    from anp_emu.energy.measure import measure_training, sample_order
    from anp_emu.energy.report import PAPER_LEARNING_NJ, PAPER_POINT, frames_to_json, paper_learning_text, ratio, \
        write_frames

    rule_list = [r.strip() for r in rules.split(",") if r.strip()]
    if do_plot and not outdir:
        raise InputError("--plot", "needs an output folder", hint="add -o OUTDIR")
    own = _claim(outdir, "energy", ENERGY_FILES, force)   # before the measurement, not after
    if do_plot:
        from anp_emu.plots.style import _pyplot

        _pyplot()  # fail before the run if matplotlib is missing
    table, pname = _resolve(costs_file, cost_items, point)
    model = table.model(pname)
    ds = load_dataset(dataset)
    idx = sample_order(len(ds), n_samples, seed)
    if chip_path:
        cfg = load_chip_config(chip_path)
        chip_desc = str(chip_path)
    else:
        aux_frac = D.AUX_FRAC
        if preset:
            from anp_emu.experiments.presets import preset as get_preset

            aux_frac = get_preset(preset).aux_frac(int(ds.T))
        cfg, init = initial_config(ds, None, seed, D.TARGET_HIDDEN, aux_frac)
    if preset:
        from anp_emu.experiments.presets import preset as get_preset

        p = get_preset(preset)
        cfg = p.apply_config(cfg, int(ds.T)).replace(learning=p.apply_settings(cfg.learning))
    if not chip_path:
        chip_desc = (f"random init seed {seed} (theta {cfg.theta_hid}/{cfg.theta_out}, "
                     f"aux {cfg.w_aux_hid}/{cfg.w_aux_out})")
    if preset:
        chip_desc += f"; preset {preset}"
    cfg = cfg.replace(learning=replace(cfg.learning, stbp_emulation=stbp_emulation))
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
            "rules": rule_list, "seed": seed, "energy_table": table.source, "preset": preset,
            "cost_overrides": list(cost_items), "model": model.describe(), "stbp_emulation": stbp_emulation,
            "paper_learning_nj": PAPER_LEARNING_NJ if pname == PAPER_POINT else None}
    if "mpd-ed" in res.reports and "stbp" in res.reports:
        meta["stbp_over_mpd_ed_learning"] = ratio(res.reports)
        meta["stbp_over_mpd_ed_total"] = ratio(res.reports, "total_nj")
    frames = res.frames()
    written = []
    if own is not None:
        out = own.path
        out.mkdir(parents=True, exist_ok=True)
        written = write_frames(out, frames, meta)
        from anp_emu.energy.model import save_table

        save_table(table, out / "energy_table.json")
        written.append(out / "energy_table.json")
        if do_plot:
            from anp_emu.plots.energy import plot_energy_over_training

            p = out / "energy_over_training.png"
            plot_energy_over_training(res.log, p, paper=PAPER_LEARNING_NJ if pname == PAPER_POINT else None,
                                      title=f"{spec.n_in}-{spec.n_hid}-{spec.n_out}, T={res.T}, {pname}")
            written.append(p)
        own.wrote(*(w.name for w in written))
        if force:
            own.drop_unwritten()
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
                         "reduction_pct", "measured_bp", "measured_wgrad", "stbp_dense_wgrad", "stbp_event_input_wgrad"]]
    _echo_table("training complexity (Table II with the measured activity) and learning ops counted; STBP's weight "
                "gradient work in its two emulations: dense M N T (stbp_dense_wgrad, the default) and zeta_i M N T "
                "(stbp_event_input_wgrad, the what-if):", cx)
    if "mpd-ed" in res.reports and "stbp" in res.reports:
        m = res.reports["mpd-ed"]
        line = (f"learning energy per training sample: MPD-ED {m.learning_nj:,.0f} nJ, STBP "
                f"{res.reports['stbp'].learning_nj:,.0f} nJ (STBP {stbp_emulation}), STBP : MPD-ED = "
                f"{meta['stbp_over_mpd_ed_learning']:.1f}x; MPD-ED's learning is "
                f"{m.row['learning_pct_of_inference']:.1f} % of its inference ({m.inference_nj:,.0f} nJ)")
        if pname == PAPER_POINT:
            line += f"\npaper (ANP-I, learning energy averaged over training): {paper_learning_text()}; JSSC 2024: < 15 %"
        click.echo(line)
    click.echo(ASSUMPTION_NOTE)
    for w in written:
        click.echo(f"wrote {w}")


def run_counters(run_dir: Path):
    """(summary, log, spec, T, {epoch: Counters}) of an `anp train` run folder, read and checked
    by the one reader of run folders (``anp_emu.plots.data.load_run``)."""
    from anp_emu.plots.data import load_run

    run = load_run(run_dir)
    return run.summary, run.log, run.spec(), run.T, run.epoch_counters()


def run_energy(run_dir: Path, table, points) -> tuple[dict, pd.DataFrame]:
    """Per epoch and averaged over every sample of every epoch: the learning, inference and total
    energy per training sample of one `anp train` run at each operating point of ``points``
    (re-priced from counters.csv)."""
    from anp_emu.chip.counters import Counters
    from anp_emu.energy.report import ENERGY_FIGURES, energy_per_sample, learning_pct

    summary, log, spec, T, epochs = run_counters(run_dir)
    rows, total = [], Counters(n_samples=0)
    for epoch, cnt in epochs.items():
        n = cnt.n_samples
        total.update(cnt)
        row = {"run": str(run_dir), "rule": summary["rule"], "epoch": int(epoch), "samples": n,
               "input_events_per_sample": cnt["hidden", "input_events"] / n,
               "hidden_spikes_per_sample": cnt["hidden", "spikes"] / n}
        for pname in points:
            e = energy_per_sample(cnt, spec, T, table.model(pname))
            row.update({f"{f}@{pname}": e[f] for f in ENERGY_FIGURES})
        rows.append(row)
    per_epoch = pd.DataFrame(rows)
    stbp = summary.get("settings", {}).get("stbp_emulation", "event-input") if summary["rule"] == "stbp" else ""
    res = {"run": str(run_dir), "rule": summary["rule"], "stbp_emulation": stbp, "preset": summary.get("preset"),
           "epochs": len(per_epoch), "samples": total.n_samples,
           "test_accuracy": float(log["test_accuracy"].iloc[-1]) if len(log) else None}
    for pname in points:
        e = energy_per_sample(total, spec, T, table.model(pname))
        res.update({f"{f}@{pname}": e[f] for f in ENERGY_FIGURES})
        res[f"learning_pct_of_inference@{pname}"] = learning_pct(e["learning_nj"], e["inference_nj"])
        res[f"first_epoch_learning_nj@{pname}"] = float(per_epoch[f"learning_nj@{pname}"].iloc[0])
        res[f"last_epoch_learning_nj@{pname}"] = float(per_epoch[f"learning_nj@{pname}"].iloc[-1])
    samples_csv = run_dir / "samples.csv"
    run_point = summary.get("operating_point")
    if samples_csv.exists() and run_point in points:
        sm = pd.read_csv(samples_csv)
        if "learning_nj" in sm.columns and len(sm) == total.n_samples:
            # the per-sample log is priced with the built-in table at the run's point
            res["samples_csv_mean_learning_nj"] = float(sm["learning_nj"].mean())
    return res, per_epoch


@energy_group.command("summary")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--costs", "costs_file", type=click.Path(), default=None, help="Energy table file (default: built-in).")
@click.option("--cost", "cost_items", multiple=True, metavar="NAME=VALUE", help="Override one cost (see anp energy).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default=None,
              help="Folder for runs.csv, epochs.csv, energy_summary.json (and the plot).")
@click.option("--plot", "do_plot", is_flag=True,
              help="Also write learning_energy_per_epoch.png to the output folder: learning energy per epoch of "
                   "every run at 0.56 V, the paper's 312 / 9,320 nJ as reference lines.")
@click.option("--force", is_flag=True, help="Replace the files of an earlier summary in the output folder.")
def energy_summary_cmd(runs, costs_file, cost_items, as_json, outdir, do_plot, force):
    """The paper's metric from `anp train` runs: learning energy per training sample (backward +
    update) averaged over every sample of every epoch, with the inference and total energy beside
    it, at every operating point, and per epoch (first and last epoch in the table, every epoch in
    epochs.csv); with an MPD-ED and an STBP run, their ratio. Re-priced from each run's
    counters.csv, so --costs/--cost apply."""
    from anp_emu.energy.report import PAPER_LEARNING_NJ, PAPER_POINT, frames_to_json, paper_learning_text, \
        write_frames

    if do_plot and not outdir:
        raise InputError("--plot", "needs an output folder", hint="add -o OUTDIR")
    if do_plot:
        from anp_emu.plots.style import _pyplot

        _pyplot()  # fail before the work if matplotlib is missing
    table, _ = _resolve(costs_file, cost_items, "0.56V")
    own = _claim(outdir, "energy-summary", SUMMARY_FILES, force)
    points = list(table.points)
    results, epochs = [], []
    for r in runs:
        res, per_epoch = run_energy(Path(r), table, points)
        results.append(res)
        epochs.append(per_epoch)
    df = pd.DataFrame(results)
    meta = {"energy_table": table.source, "cost_overrides": list(cost_items), "paper_learning_nj": PAPER_LEARNING_NJ}
    by_rule = {r["rule"]: r for r in results}
    if "mpd-ed" in by_rule and "stbp" in by_rule:
        meta["stbp_over_mpd_ed_learning"] = {p: by_rule["stbp"][f"learning_nj@{p}"] / by_rule["mpd-ed"][f"learning_nj@{p}"]
                                             for p in points}
    frames = {"runs": df, "epochs": pd.concat(epochs, ignore_index=True)}
    written = []
    if own is not None:
        out = own.path
        out.mkdir(parents=True, exist_ok=True)
        written = write_frames(out, frames, meta, json_name="energy_summary.json")
        if do_plot:
            from anp_emu.plots.energy import plot_energy_over_training

            plot_path = out / "learning_energy_per_epoch.png"
            ep = frames["epochs"].rename(columns={f"learning_nj@{PAPER_POINT}": "learning_nj"})
            plot_energy_over_training(ep, plot_path, x="epoch", smooth=1, paper=PAPER_LEARNING_NJ,
                                      title=f"Learning energy per training sample by epoch ({PAPER_POINT})")
            written.append(plot_path)
        own.wrote(*(w.name for w in written))
        if force:
            own.drop_unwritten()
    if as_json:
        click.echo(frames_to_json(frames, meta), nl=False)
        return
    for p in points:
        cols = ["rule", "stbp_emulation", "epochs", "test_accuracy", f"learning_nj@{p}", f"inference_nj@{p}",
                f"total_nj@{p}", f"learning_pct_of_inference@{p}", f"first_epoch_learning_nj@{p}",
                f"last_epoch_learning_nj@{p}"]
        shown = df[cols].rename(columns=lambda c: c.replace(f"@{p}", ""))
        _echo_table(f"per training sample at {p} (nJ), averaged over every sample of every epoch:", shown)
    for p, v in meta.get("stbp_over_mpd_ed_learning", {}).items():
        click.echo(f"STBP : MPD-ED learning energy averaged over training at {p}: {v:.1f}x")
    click.echo(f"paper (ANP-I, {PAPER_POINT}, learning energy averaged over 50 epochs): {paper_learning_text()}; "
               f"JSSC 2024: learning < 15 % of inference")
    click.echo(ASSUMPTION_NOTE)
    for w in written:
        click.echo(f"wrote {w}")


@energy_group.command("calibrate")
@click.option("--fit", "fit", default="bwd_inter_ops,wgrad_accumulates", show_default=True,
              help="Comma-separated costs to fit (in SOPs); the others keep the table's values. At most two from the "
                   "paper's two energies.")
@click.option("--input-events", type=click.FloatRange(0), default=1198.0, show_default=True,
              help="Activity assumption: input events per training sample (both rules).")
@click.option("--hidden-activity", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Activity assumption: hidden spikes per neuron and step, averaged over training.")
@click.option("--output-activity", type=click.FloatRange(0, 1), default=0.10, show_default=True,
              help="Activity assumption: output spikes per neuron and step.")
@click.option("--write-fraction", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Activity assumption: weight writes / weight reads (non-zero rounded updates).")
@click.option("--window", type=click.IntRange(-1, 1 << 20), default=1, show_default=True,
              help="Temporal path: 1 = Eq. 21 (the paper), 0 off, -1 full recursion.")
@click.option("--reset/--no-reset", "reset_path", default=True, show_default=True, help="Spike-induced BP path.")
@click.option("--stbp-emulation", type=click.Choice(["dense", "event-input"]), default="dense", show_default=True,
              help="How STBP's counts are formed under the activity assumption (see anp train --help).")
@click.option("--from-ops", "ops_csv", type=click.Path(), default=None,
              help="Use measured per-sample counts (ops.csv of `anp energy -o`) instead of the activity assumption.")
@click.option("--from-runs", "run_dirs", multiple=True, type=click.Path(),
              help="Use the counts of `anp train` runs averaged over every sample of every epoch (the paper's "
                   "metric; runs of one rule are pooled). Repeatable; an MPD-ED and an STBP run give both targets.")
@click.option("--target", "target_items", multiple=True, metavar="RULE=NJ",
              help="Energy per training sample to fit (default: the paper's mpd-ed=312, stbp=9320 at 0.56V).")
@click.option("--operating-point", "point", default=D.OPERATING_POINT, show_default=True)
@click.option("--costs", "costs_file", type=click.Path(), default=None, help="Starting energy table (default: built-in).")
@click.option("--cost", "cost_items", multiple=True, metavar="NAME=VALUE", help="Override one fixed cost first.")
@click.option("--write", "write_path", type=click.Path(), default=None,
              help="Write the calibrated table as JSON (usable with --costs).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def energy_calibrate_cmd(fit, input_events, hidden_activity, output_activity, write_fraction, window, reset_path,
                         stbp_emulation, ops_csv, run_dirs, target_items, point, costs_file, cost_items, write_path, as_json):
    """Fit unpublished learning-op costs to the paper's chip measurement: the learning energy
    (backward + update) per training sample of 1024-512-10, T = 39, 312 nJ MPD-ED and 9320 nJ STBP
    at 0.56 V, under a stated activity (or measured counts, --from-ops); report the fit, the
    residuals and each figure's sensitivity to each cost (share of the learning energy it
    carries). A fit that needs a negative cost, or more than 10 SOP for an operation on registers
    only, is refused."""
    from anp_emu.energy.calibrate import Activity, calibrate, counts_from_ops, paper_counts
    from anp_emu.energy.model import save_table
    from anp_emu.energy.report import PAPER_LEARNING_NJ, _jsonable

    table, pname = _resolve(costs_file, cost_items, point)
    targets = dict(PAPER_LEARNING_NJ)
    for item in target_items:
        rule, sep, val = item.partition("=")
        try:
            targets[rule.strip()] = float(val)
        except ValueError:
            raise InputError("--target", "expected RULE=NJ", value=repr(item)) from None
        if not sep or rule.strip() not in ("mpd-ed", "stbp"):
            raise InputError("--target", "expected RULE=NJ with RULE mpd-ed or stbp", value=repr(item))
    if ops_csv and run_dirs:
        raise InputError("--from-runs", "give either --from-ops or --from-runs", value=f"--from-ops {ops_csv}")
    if ops_csv:
        p = Path(ops_csv)
        if not p.exists():
            raise FileFormatError(p, "file not found")
        try:
            frame = pd.read_csv(p)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
            raise FileFormatError(p, f"not a CSV table: {e}") from None
        counts = counts_from_ops(frame, str(p))
        assumption = {"counts": str(p)}
    elif run_dirs:
        from anp_emu.chip.counters import Counters

        counts = {}
        for d in run_dirs:
            summary, _, _, _, epochs = run_counters(Path(d))
            total = counts.setdefault(summary["rule"], Counters(n_samples=0))
            for c in epochs.values():
                total.update(c)
        assumption = {"counts averaged over training": list(run_dirs)}
    else:
        a = Activity(input_events=input_events, hidden=hidden_activity, output=output_activity,
                     write_fraction=write_fraction, window=window, reset_path=reset_path,
                     stbp_emulation=stbp_emulation)
        counts = {r: paper_counts(r, a) for r in ("mpd-ed", "stbp")}
        assumption = {"activity": a.__dict__}
    fit_names = [f.strip() for f in fit.split(",") if f.strip()]
    cal = calibrate(counts, table, fit=fit_names, targets=targets, point=pname)
    if write_path:
        save_table(cal.table, write_path)
    doc = {"assumption": assumption, "operating_point": pname, "energy_table": table.source, **cal.to_dict()}
    if as_json:
        doc["targets"] = _jsonable(cal.targets)
        doc["sensitivity"] = _jsonable(cal.sensitivity)
        click.echo(json.dumps(doc, indent=2, default=float))
        return
    click.echo(f"assumption: {assumption}")
    click.echo("fitted costs (SOPs): " + ", ".join(f"{k} = {v:.4g}" for k, v in cal.fitted.items()))
    _echo_table("targets and fit (learning nJ per training sample):", cal.targets)
    sens = cal.sensitivity.pivot_table(index="cost", columns="rule", values="energy_share", sort=False).reset_index()
    _echo_table("sensitivity: share of each learning energy carried by each cost (= d ln E / d ln cost):", sens)
    if cal.note:
        click.echo(cal.note)
    if write_path:
        click.echo(f"wrote {write_path}")


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
