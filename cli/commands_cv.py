"""``anp cv``: cross-validation of on-chip training — every fold of a split, several rules and
seeds, the reference baselines on the same folds — as a preset of the sweep (same runner, same
resumable per-run records)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click
import pandas as pd

from anp_emu.cli.commands_sweep import executor_options, report_failures, run_with_bar
from anp_emu.cli.common import SEED, make_outdir, write_csv, write_json
from anp_emu.cli.main import main
from anp_emu.errors import FileFormatError, InputError

CV_RULES = ("mpd-ed", "stbp")
CV_FILES = ("events.h5", "folds.csv", "cv.json")     # what anp cv writes beside the sweep's files
MIN_TRAINING_STEPS = 750    # samples seen per run without --epochs: 50 epochs on a 15-trial fold (docs/experiments.md)
MAX_AUTO_EPOCHS = 50


def auto_epochs(n_train_min: int) -> int:
    """Epochs when --epochs is not given: ceil(MIN_TRAINING_STEPS / n_train), within 5..MAX_AUTO_EPOCHS."""
    return int(min(MAX_AUTO_EPOCHS, max(5, -(-MIN_TRAINING_STEPS // max(1, n_train_min)))))


def _int_list(text: str, name: str) -> list[int]:
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise InputError(name, "comma-separated integers", value=repr(text)) from None
    if not out:
        raise InputError(name, "at least one value", value=repr(text))
    for v in out:
        if not 0 <= v <= SEED.max:
            raise InputError(name, "out of range", limit=f"{SEED.min}..{SEED.max}", value=v)
    repeated = sorted({v for v in out if out.count(v) > 1})
    if repeated:
        raise InputError(name, "a value repeats (each run would be done twice)", limit="distinct values",
                         value=f"{text} ({repeated[0]} repeats)")
    return out


def cv_dataset(src: Path, encoder: str, params: dict, fs_overrides):
    """(events file or None, dataset): SRC itself when it is an events file, else SRC (a raw
    folder / .pkl) encoded in memory (``save_cv_events`` writes it to OUT/events.h5)."""
    from anp_emu.emg.dataset import EventDataset

    if src.is_file() and src.suffix.lower() in (".h5", ".hdf5"):
        if params or fs_overrides:
            raise InputError("-p/--fs-overrides", "only apply when SRC is a raw folder or the pickle", value=str(src))
        return src, EventDataset.load(src)
    from anp_emu.emg.pipeline import encode_source, load_source

    return None, encode_source(load_source(src, fs_overrides=fs_overrides), encoder, **params)


def save_cv_events(ds, out: Path) -> Path:
    """OUT/events.h5 for an encoded raw SRC: written once, and read again by a rerun of the same cv
    (an events file of another source or encoder there is refused, never replaced)."""
    from anp_emu.emg.dataset import EventDataset

    events = out / "events.h5"
    if events.exists():
        old = EventDataset.load(events)
        same = (old.encoder_params == json.loads(json.dumps(ds.encoder_params)) and len(old) == len(ds)
                and (old.sample_ptr == ds.sample_ptr).all())
        if not same:
            raise FileFormatError(events, "exists from another cv (other source or encoder); choose a new -o folder")
    else:
        ds.save(events)
    return events


@main.command("cv")
@click.argument("src", type=click.Path(exists=True))
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), required=True,
              help="Folder for folds.csv, summary.csv, one run folder per (rule, seed, fold) under runs/.")
@click.option("--split", type=click.Choice(["session", "subject", "kfold", "random"]), default="session",
              show_default=True, help="session / subject: leave one out; kfold: stratified k-fold; random: one 2:1 split.")
@click.option("--folds", "k", type=click.IntRange(2, 1000), default=5, show_default=True, help="k of --split kfold.")
@click.option("--rules", default="mpd-ed,stbp", show_default=True, help="Comma-separated learning rules.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds (init, order, rounding).")
@click.option("--epochs", type=click.IntRange(1, 100000), default=None,
              help=f"Epochs per run. Default: enough for {MIN_TRAINING_STEPS} training steps on the smallest "
                   f"training fold, at least 5 (anp train's default), at most {MAX_AUTO_EPOCHS}.")
@click.option("--encoder", type=click.Choice(["chip", "delta"]), default="chip", show_default=True,
              help="When SRC is a raw folder: the encoder (fitted on each fold's training part).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Encoder parameter (raw SRC).")
@click.option("--fs-overrides", type=click.Path(dir_okay=False), default=None, help="Per-session rates (raw SRC).")
@click.option("--align-sessions", is_flag=True, help="Unsupervised armband-rotation alignment (see anp train).")
@click.option("--preset", type=click.Choice(["paper"]), default=None,
              help="Every run with anp train --preset (Wei et al. 2024 as printed; its 50 epochs unless --epochs).")
@click.option("--stbp-emulation", type=click.Choice(["dense", "event-input"]), default="dense", show_default=True,
              help="How STBP's learning work is counted (see anp train --help); counting only.")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE",
              help="Any other anp train option for every run, e.g. --set lr=500 --set loss=ce.")
@executor_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON row per (rule, seed, fold).")
@click.option("--report", "do_report", is_flag=True,
              help="Also write OUT/report.html (as anp report); an existing report.html is refused before any run.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def cv_cmd(src, outdir, split, k, rules, seeds, epochs, encoder, params, fs_overrides, align_sessions, preset,
           stbp_emulation, extra, workers, executor, scheduler, as_json, do_report, progress):
    """Cross-validate on-chip training on SRC (an events file, a raw Ceolini folder or the pickle).

    Every fold trains from the encoder fitted on its own training part (no statistic of a test
    session or subject enters), for every rule and seed; the reference baselines (nearest centroid
    on MAV of 0.5 s windows, logistic regression, LDA) run on the same folds. Finished runs are
    skipped on a rerun. Prints per-fold accuracy and the mean ± sd."""
    from anp_emu.experiments import sweep
    from anp_emu.cli.commands_data import _parse_params
    from anp_emu.emg.crossval import fold_baselines, folds_of, split_dataset
    from anp_emu.experiments.train_run import check_option

    rule_list = [r.strip() for r in rules.split(",") if r.strip()]
    for r in rule_list:
        check_option("rule", r)
    if not rule_list:
        raise InputError("--rules", "at least one rule", value=repr(rules))
    if len(set(rule_list)) != len(rule_list):
        raise InputError("--rules", "a rule repeats (each run would be done twice)", limit="distinct rules",
                         value=repr(rules))
    seed_list = _int_list(seeds, "--seeds")
    fixed = {"split": split, "folds": k, "align_sessions": bool(align_sessions)}
    if stbp_emulation != "dense":           # the default stays out of the run names
        fixed["stbp_emulation"] = stbp_emulation
    if preset is not None:
        fixed["preset"] = preset
    for key, value in _parse_params(extra).items():
        key = key.replace("-", "_")
        if key in ("split", "fold", "rule", "seed", "folds"):
            raise InputError(f"--set {key}", "is set by anp cv itself", value=repr(value))
        fixed[key] = value
    for key, value in fixed.items():
        check_option(key, value, "--set " if key not in ("split", "folds", "align_sessions", "preset",
                                                         "stbp_emulation") else "")
    events, ds = cv_dataset(Path(src), encoder, _parse_params(params), fs_overrides)
    from anp_emu.experiments.trainer import check_classes

    check_classes(ds.labels, f"dataset {src}", ds.class_names)
    folds = folds_of(ds, split, k=k, seed=0)
    if epochs is not None or preset is None:      # a preset brings its own epochs
        fixed["epochs"] = epochs if epochs is not None else auto_epochs(min(len(f.train) for f in folds))
    own = sweep.claim_outdir(Path(outdir), "cv", CV_FILES + ("report.html",))   # every check before anything is written
    out = make_outdir(outdir)
    if events is None:
        events = save_cv_events(ds, out)
        own.wrote("events.h5")
    spec = sweep.SweepSpec(str(Path(events).resolve()), {"rule": rule_list, "seed": seed_list,
                                                         "fold": [f.name for f in folds]}, fixed)
    table = run_with_bar(sweep.run, progress and not as_json, spec=spec, outdir=out, workers=workers,
                         executor=executor, scheduler=scheduler, own=own)
    base_rows, act = [], {}
    for f in folds:
        if align_sessions:
            from anp_emu.emg.alignment import align_sessions as align
            b = fold_baselines(align(ds, f.train), f)       # the baselines see the aligned features too
        else:
            b = fold_baselines(ds, f)
        sd = split_dataset(ds, split, f.name, k=k, align=align_sessions)
        act[f.name] = float(sd.train.events_per_sample.mean() / (ds.T * ds.n_in))
        for name, acc in b.items():
            base_rows.append({"rule": f"baseline:{name}", "seed": math.nan, "fold": f.name, "test_accuracy": acc})
    table["input_density"] = table["fold"].map(act)
    cols = ["rule", "seed", "fold", "test_accuracy", "train_accuracy", "learning_nj", "inference_nj", "total_nj",
            "input_density",
            "hidden_activity", "output_activity", "status", "error"]
    rows = pd.concat([table[[c for c in cols if c in table.columns]], pd.DataFrame(base_rows)], ignore_index=True)
    write_csv(out / "folds.csv", rows)
    own.wrote("folds.csv")
    per_fold = rows.pivot_table(index="fold", columns="rule", values="test_accuracy", aggfunc="mean", sort=False)
    summary = rows.groupby("rule", sort=False).agg(
        n=("test_accuracy", "count"), test_accuracy_mean=("test_accuracy", "mean"),
        test_accuracy_sd=("test_accuracy", "std"),
        learning_nj_mean=("learning_nj", "mean"), inference_nj_mean=("inference_nj", "mean"),
        total_nj_mean=("total_nj", "mean"),
        hidden_activity_mean=("hidden_activity", "mean"), input_density_mean=("input_density", "mean")).reset_index()
    write_csv(out / "summary.csv", summary)
    write_json(out / "cv.json", {"source": str(src), "events": str(events), "split": split,
                                 "folds": [f.name for f in folds], "rules": rule_list, "seeds": seed_list,
                                 "fixed": fixed, "summary": summary.to_dict(orient="records")})
    own.wrote("summary.csv", "cv.json")
    if as_json:
        for r in rows.to_dict(orient="records"):
            click.echo(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}))
    else:
        click.echo(f"{split} cross-validation of {src}: {len(folds)} folds x {len(seed_list)} seeds")
        click.echo("test accuracy per fold (mean over seeds):")
        click.echo((per_fold * 100).round(1).to_string())
        click.echo("mean ± sd over folds and seeds:")
        for r in summary.to_dict(orient="records"):
            en_s = "" if pd.isna(r["learning_nj_mean"]) else (
                f", per training sample: learning {r['learning_nj_mean']:,.0f} nJ, inference "
                f"{r['inference_nj_mean']:,.0f} nJ, total {r['total_nj_mean']:,.0f} nJ")
            act_s = "" if pd.isna(r["hidden_activity_mean"]) else (
                f", input density {100 * r['input_density_mean']:.2f} %, hidden activity "
                f"{100 * r['hidden_activity_mean']:.2f} %")
            sd_s = "" if pd.isna(r["test_accuracy_sd"]) else f" ± {100 * r['test_accuracy_sd']:.1f}"
            click.echo(f"  {r['rule']:<18} {100 * r['test_accuracy_mean']:.1f}{sd_s} % (n={r['n']}){en_s}{act_s}")
        click.echo(f"wrote {out / 'folds.csv'}, {out / 'summary.csv'}")
    if do_report:
        from anp_emu.cli.commands_plot import write_report_for

        write_report_for([out], out / "report.html", force=True, quiet=as_json)
        own.wrote("report.html")
    report_failures(table, out)


__all__ = ["cv_cmd"]
