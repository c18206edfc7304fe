"""Training commands: ``anp train``, ``anp eval``, ``anp ablation`` and ``anp demo``."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import click
import pandas as pd

from anp_emu.cli.common import (CLI_LOSS, err_stream, initial_config, load_chip_config, load_dataset, make_outdir,
                                write_csv, write_json)
from anp_emu.cli.main import main
from anp_emu.errors import InputError


# ----------------------------------------------------------------------------- shared pieces
def split_dataset(ds, split: str, train_fraction: float, test_subjects: str | None, seed: int):
    """(train, test) by a seeded stratified random split (the paper's 2:1) or leave-subjects-out."""
    if split == "random":
        return ds.split_random(train_fraction=train_fraction, seed=seed)
    if not test_subjects:
        raise InputError("--test-subjects", "needed with --split subjects", hint="e.g. --test-subjects 1,2")
    try:
        subs = [int(s) for s in test_subjects.split(",") if s.strip()]
    except ValueError:
        raise InputError("--test-subjects", "comma-separated subject numbers", value=repr(test_subjects)) from None
    return ds.split_leave_subjects_out(subs)


def energy_model_for(point: str):
    from anp_emu.energy.model import default_table

    table = default_table()
    names = {n.lower(): n for n in table.points}
    key = point.lower() if point.lower() in names else point.lower() + "v"
    if key not in names:
        raise InputError("--operating-point", "unknown operating point", limit=f"one of {list(table.points)}",
                         value=repr(point))
    return table.model(names[key])


def progress_factory(enabled: bool, n: int, epochs: int):
    """A per-epoch progress bar showing samples/s, running accuracy and energy per sample."""
    if not enabled:
        return None

    def factory(epoch):
        state = {"k": 0, "acc": 0.0, "nj": float("nan"), "t0": time.perf_counter()}
        bar = click.progressbar(length=n, label=f"epoch {epoch + 1}/{epochs}", file=err_stream(),
                                item_show_func=lambda _: (f"{state['k'] / max(time.perf_counter() - state['t0'], 1e-9):.0f} "
                                                          f"samples/s  acc {state['acc']:.1%}  {state['nj']:.0f} nJ/sample"))
        bar.__enter__()

        def update(k, acc, nj):
            state.update(k=k, acc=acc, nj=nj)
            bar.update(1, k)
            if k == n:
                bar.__exit__(None, None, None)
        return update
    return factory


def learning_options(f):
    """click options of the learning rule and the training run (shared by train and ablation)."""
    opts = [
        click.option("--epochs", type=click.IntRange(1, 100000), default=5, show_default=True),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Learning rate (weight LSBs per unit gradient). Default: the rule's tuned value."),
        click.option("--lr-shift", type=click.IntRange(0, 30), default=None, help="lr = 2^-SHIFT (overrides --lr)."),
        click.option("--schedule", type=click.Choice(["constant", "cosine"]), default="cosine", show_default=True),
        click.option("--rounding", type=click.Choice(["nearest", "floor", "stochastic"]), default="stochastic",
                     show_default=True, help="Rounding of the integer weight update."),
        click.option("--surrogate", type=click.Choice(["rect", "triangle", "exp"]), default="rect", show_default=True),
        click.option("--surrogate-width", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
                     help="Surrogate width as a fraction of the threshold."),
        click.option("--temporal/--no-temporal", default=True, show_default=True, help="Temporal (intra-neuron) BP path."),
        click.option("--temporal-window", type=click.IntRange(1, 1 << 20), default=None,
                     help="Carry each entered error back at most K steps (1: Wei et al. Eq. 21 as printed). "
                          "Default: the whole sample (full BPTT recursion)."),
        click.option("--reset/--no-reset", "reset_path", default=False, show_default=True,
                     help="Reset (spike-induced) BP path."),
        click.option("--loss", type=click.Choice(["ce", "tet"]), default=CLI_LOSS, show_default=True,
                     help="tet: per-step cross-entropy on the output potentials (the MPD-ED loss of Wei et al. "
                          "Sec. V-A; its error reaches output neurons that did not fire); ce: cross-entropy on "
                          "output spike counts (the library default; with MPD-ED it can let a silent target "
                          "class stay silent and hidden activity run away, see docs/experiments.md)."),
        click.option("--logit-gain", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True),
        click.option("--target-count", type=click.IntRange(0, 1 << 20), default=10, show_default=True,
                     help="std-ed/ebp: desired output spikes of the target class per sample."),
        click.option("--other-count", type=click.IntRange(0, 1 << 20), default=1, show_default=True,
                     help="std-ed/ebp: desired output spikes of every other output."),
        click.option("--tau-grad", type=click.FloatRange(min=0, min_open=True), default=1.5, show_default=True,
                     help="ebp: time constant (steps) of the backward kernel h(t) = exp(-t/tau_grad)."),
        click.option("--split", type=click.Choice(["random", "subjects"]), default="random", show_default=True,
                     help="random: seeded stratified 2:1 train/test (the paper); subjects: leave subjects out."),
        click.option("--test-subjects", default=None, help="Comma-separated subjects held out (with --split subjects)."),
        click.option("--train-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=2 / 3,
                     show_default=True),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of init, split, order and rounding."),
        click.option("--target-hidden", type=click.FloatRange(0, 1, min_open=True), default=0.05, show_default=True,
                     help="Hidden spikes per neuron and step the random init calibrates thresholds for."),
        click.option("--aux-frac", type=click.FloatRange(0, 1), default=0.3, show_default=True,
                     help="Aux weight as a fraction of theta in the random init (the emulated threshold decay)."),
        click.option("--operating-point", "point", default="0.56V", show_default=True),
        click.option("--progress/--no-progress", default=True, show_default=True),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


DEFAULT_LR = {"mpd-ed": 1000.0, "stbp": 1000.0,  # tuned on the synthetic EMG set (LSB units)
              "std-ed": 3000.0, "ebp": 30000.0}  # spike-time rules: a 5-epoch lr sweep on the synthetic set
RULE_CHOICES = ["mpd-ed", "stbp", "std-ed", "ebp"]


def rule_leak_shift(rule):
    """The leak setting a rule's random init is calibrated for: STD-ED's IF neuron has the leak off."""
    from anp_emu.learning.engine import RULES
    from anp_emu.spec import LEAK_OFF

    return LEAK_OFF if getattr(RULES[rule], "leak_free", False) else None


def build_settings(rule, seed, *, lr=None, lr_shift=None, rounding="stochastic", surrogate="rect",
                   surrogate_width=1.0, temporal=True, temporal_window=None, reset_path=False, loss=CLI_LOSS,
                   logit_gain=10.0, target_count=10, other_count=1, tau_grad=1.5):
    """LearningSettings from the CLI options (defaults: the commands' defaults)."""
    from anp_emu.learning.settings import DEFAULT_COUNT_LOSS, LearningSettings

    loss = DEFAULT_COUNT_LOSS.get(rule, loss)     # spike-time rules train on their count loss
    return LearningSettings(rule=rule, surrogate=surrogate, surrogate_width=surrogate_width, temporal_path=temporal,
                            temporal_window=temporal_window, reset_path=reset_path, loss=loss, logit_gain=logit_gain,
                            lr=lr if lr is not None else DEFAULT_LR[rule], lr_shift=lr_shift, rounding=rounding,
                            seed=seed, target_count=target_count, other_count=other_count, tau_grad=tau_grad)


def run_training(ds, cfg, settings, options, point, progress, outdir: Path | None, resume: bool = False,
                 split_args=None, quiet: bool = False):
    """Train; write checkpoint.h5, log.csv, config.h5 and summary.json to ``outdir``. Returns the trainer."""
    from anp_emu.checkpoint import load_checkpoint_into
    from anp_emu.training import Trainer

    train, test = split_args
    model = energy_model_for(point)
    trainer = Trainer(cfg, train, test, settings, options, energy_model=model)
    ckpt = outdir / "checkpoint.h5" if outdir else None
    if resume:
        if ckpt is None or not ckpt.exists():
            raise InputError("--resume", "no checkpoint to resume", value=str(ckpt))
        load_checkpoint_into(ckpt, trainer)
        if not quiet:
            click.echo(f"resumed {ckpt} after epoch {trainer.epochs_done}", err=True)

    def on_epoch(log):
        if outdir:
            write_csv(outdir / "log.csv", trainer.log_frame())
        if not quiet:
            click.echo(f"epoch {log.epoch}: loss {log.loss:.3f}  train {log.train_accuracy:.1%}  "
                       f"test {log.test_accuracy:.1%}  hidden activity {log.hidden_activity:.2%}  "
                       f"{log.energy_nj_per_sample:.0f} nJ/sample  {log.samples_per_s:.0f} samples/s", err=True)

    trainer.fit(checkpoint_path=ckpt, on_epoch=on_epoch,
                progress_factory=progress_factory(progress and not quiet, len(train), options.epochs))
    if outdir:
        write_json(outdir / "counters.json", {
            "format": "anp-training-counters", "version": 1, "rule": settings.rule, "T": int(train.T),
            "spec": trainer.config.spec.to_dict(), "epochs": trainer.counted_epochs,
            "n_samples": trainer.counters_total.n_samples, "counters": trainer.counters_total.as_dict()})
    if outdir and options.precision == "int":
        from anp_emu.config_io import save_config

        save_config(trainer.trained_config(), outdir / "config.h5")
    return trainer


# ----------------------------------------------------------------------------- anp train
@main.command("train")
@click.argument("dataset", type=click.Path())
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), required=True,
              help="Folder for config.h5 (trained), checkpoint.h5, log.csv and summary.json.")
@click.option("--chip", "chip_path", type=click.Path(), default=None,
              help="Initial chip config (.h5). Default: seeded, threshold-calibrated random init.")
@click.option("--init", type=click.Choice(["random"]), default="random", show_default=True,
              help="Initialisation when no --chip is given.")
@click.option("--rule", type=click.Choice(RULE_CHOICES), default="mpd-ed", show_default=True,
              help="std-ed (IF neurons, enhanced count loss) and ebp (count loss S17) use their own loss.")
@click.option("--aft", type=click.Choice(["aux", "ideal", "none"]), default="aux", show_default=True,
              help="Adaptive threshold: aux-neuron emulation (the chip), ideal AFT-LIF (float twin), or none.")
@click.option("--precision", type=click.Choice(["int", "float"]), default="int", show_default=True,
              help="int: on-chip training (bit-exact); float: the float twin.")
@click.option("--resume", is_flag=True, help="Continue from OUTDIR/checkpoint.h5 (same arguments as the first run).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@learning_options
def train_cmd(dataset, outdir, chip_path, init, rule, aft, precision, resume, as_json, epochs, lr, lr_shift, schedule,
              rounding, surrogate, surrogate_width, temporal, temporal_window, reset_path, loss, logit_gain,
              target_count, other_count, tau_grad, split,
              test_subjects, train_fraction, seed, target_hidden, aux_frac, point, progress):
    """Train a spiking network on the emulated ANP-I, sample by sample (batch size 1).

    Writes an atomic checkpoint after each epoch (Ctrl-C keeps the last one; --resume continues
    bit-identically), a per-epoch log (loss, accuracies, spike activity, SOPs and energy per
    sample) and the trained integer config."""
    from anp_emu.training import TrainOptions

    if aft == "ideal" and precision != "float":
        raise InputError("--aft ideal", "the ideal AFT-LIF neuron exists only in the float twin",
                         hint="add --precision float")
    ds = load_dataset(dataset)
    train, test = split_dataset(ds, split, train_fraction, test_subjects, seed)
    cfg, init_rep = initial_config(train, chip_path, seed, target_hidden, aux_frac, rule_leak_shift(rule))
    from anp_emu.learning.engine import check_rule_spec

    check_rule_spec(rule, cfg.spec)                # before any folder is made
    settings = build_settings(rule, seed, lr=lr, lr_shift=lr_shift, rounding=rounding, surrogate=surrogate,
                              surrogate_width=surrogate_width, temporal=temporal, temporal_window=temporal_window,
                              reset_path=reset_path, loss=loss, logit_gain=logit_gain, target_count=target_count,
                              other_count=other_count, tau_grad=tau_grad)
    options = TrainOptions(epochs=epochs, schedule=schedule, precision=precision, seed=seed, aft=aft)
    out = make_outdir(outdir)
    if init_rep is not None and not as_json:
        click.echo(f"init: theta {init_rep.theta_hid}/{init_rep.theta_out}, aux {init_rep.w_aux_hid}/"
                   f"{init_rep.w_aux_out}, hidden activity {init_rep.hidden_activity:.2%}, dead neurons "
                   f"{init_rep.dead_hidden} hidden / {init_rep.dead_output} output", err=True)
    trainer = run_training(ds, cfg, settings, options, point, progress, out, resume, (train, test))
    log = trainer.log_frame()
    summary = {"dataset": str(dataset), "rule": rule, "aft": aft, "precision": precision,
               "network": f"{cfg.spec.n_in}-{cfg.spec.n_hid}-{cfg.spec.n_out}", "train_samples": len(train),
               "test_samples": len(test), "epochs": epochs, "final": log.iloc[-1].to_dict(),
               "settings": settings.to_dict(), "options": asdict(options),
               "init": asdict(init_rep) if init_rep is not None else {"chip": str(chip_path)},
               "files": {k: str(out / f) for k, f in (("log", "log.csv"), ("checkpoint", "checkpoint.h5"),
                                                       ("config", "config.h5")) if (out / f).exists()}}
    write_json(out / "summary.json", summary)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    f = summary["final"]
    click.echo(f"{rule} on {summary['network']} ({precision}): test accuracy {f['test_accuracy']:.1%}, "
               f"train {f['train_accuracy']:.1%}, {f['energy_nj_per_sample']:.0f} nJ per training sample "
               f"at {point}")
    for k, v in summary["files"].items():
        click.echo(f"wrote {v}")


# ----------------------------------------------------------------------------- anp eval
@main.command("eval")
@click.argument("config", type=click.Path())
@click.argument("dataset", type=click.Path())
@click.option("--split", type=click.Choice(["all", "test", "train"]), default="all", show_default=True,
              help="Evaluate all samples, or one side of the seeded 2:1 split `anp train` used.")
@click.option("--train-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=2 / 3,
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split (as in anp train).")
@click.option("--precision", type=click.Choice(["int", "float"]), default="int", show_default=True)
@click.option("--operating-point", "point", default="0.56V", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def eval_cmd(config, dataset, split, train_fraction, seed, precision, point, as_json):
    """Accuracy, confusion matrix, per-class accuracy, energy and latency per inference."""
    from anp_emu.chip import Chip
    from anp_emu.energy.report import step_energy
    from anp_emu.evaluate import evaluate

    cfg = load_chip_config(config)
    ds = load_dataset(dataset)
    if split != "all":
        tr, te = ds.split_random(train_fraction=train_fraction, seed=seed)
        ds = te if split == "test" else tr
    model = energy_model_for(point)
    res = evaluate(Chip(cfg, precision), ds)
    e = step_energy(res.counters, cfg.spec, ds.T, model)
    out = {"config": str(config), "dataset": str(dataset), "split": split, "samples": len(ds),
           "accuracy": res.accuracy, "per_class_accuracy": res.per_class_accuracy.to_dict(),
           "confusion": res.confusion.to_numpy().tolist(), "classes": res.class_names,
           "energy_nj_per_inference": e["energy_nj"], "latency_us_per_inference": e["latency_us"],
           "sop_per_inference": res.counters["sop_effective"] / len(ds), "operating_point": point}
    if as_json:
        click.echo(json.dumps(out, indent=1, default=float))
        return
    click.echo(f"{len(ds)} samples ({split}): accuracy {res.accuracy:.2%}")
    click.echo(res.confusion.to_string())
    click.echo("per-class accuracy: " + ", ".join(f"{k} {v:.1%}" for k, v in out["per_class_accuracy"].items()))
    click.echo(f"per inference at {point}: {e['energy_nj']:.1f} nJ, {e['latency_us']:.1f} us, "
               f"{out['sop_per_inference']:.0f} SOPs")


# ----------------------------------------------------------------------------- anp ablation
ABLATION_ARMS = (("mpd-ed", "aux", "int"), ("mpd-ed", "ideal", "float"), ("mpd-ed", "none", "int"),
                 ("stbp", "aux", "int"), ("std-ed", "aux", "int"), ("ebp", "aux", "int"))


def run_ablation(ds, train, test, cfg, settings_for, epochs, seed, point, progress, outdir: Path | None):
    """Fig. 5-style ablation: MPD-ED with aux-neuron AFT, ideal AFT (float twin), no AFT, STBP, STD-ED and ebp,
    from the same initial weights and split. Returns one row per arm."""
    from anp_emu.training import TrainOptions

    rows = []
    for rule, aft, precision in ABLATION_ARMS:
        options = TrainOptions(epochs=epochs, schedule="cosine", precision=precision, seed=seed, aft=aft)
        arm_dir = make_outdir(outdir / f"{rule}-{aft}") if outdir else None
        click.echo(f"--- {rule}, AFT {aft}, {precision} ---", err=True)
        from anp_emu.learning.engine import config_for_rule   # STD-ED: the same weights on the IF neuron
        tr = run_training(ds, config_for_rule(cfg, rule), settings_for(rule), options, point, progress, arm_dir,
                          split_args=(train, test))
        log = tr.log_frame()
        rows.append({"rule": rule, "aft": aft, "precision": precision,
                     "test_accuracy": float(log["test_accuracy"].iloc[-1]),
                     "best_test_accuracy": float(log["test_accuracy"].max()),
                     "train_accuracy": float(log["train_accuracy"].iloc[-1]),
                     "energy_nj_per_sample": float(log["energy_nj_per_sample"].mean()),
                     "learning_ops_per_sample": float(log["learning_ops_per_sample"].mean()),
                     "hidden_activity": float(log["hidden_activity"].mean())})
    return pd.DataFrame(rows)


@main.command("ablation")
@click.argument("dataset", type=click.Path())
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), required=True,
              help="Folder for ablation.csv/json, one training folder per arm, and the plot with --plot.")
@click.option("--epochs", type=click.IntRange(1, 100000), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--operating-point", "point", default="0.56V", show_default=True)
@click.option("--loss", type=click.Choice(["ce", "tet"]), default=CLI_LOSS, show_default=True,
              help="Loss of every arm (see anp train --help).")
@click.option("--plot", "do_plot", is_flag=True, help="Also write ablation.png (needs matplotlib).")
@click.option("--progress/--no-progress", default=True, show_default=True)
def ablation_cmd(dataset, outdir, epochs, seed, point, loss, do_plot, progress):
    """The paper's ablation (Fig. 5 style) on the emulated chip: MPD-ED with aux-neuron AFT, with
    the ideal AFT-LIF (float twin), without AFT, and STBP — accuracy and energy per sample."""
    ds = load_dataset(dataset)
    train, test = ds.split_random(train_fraction=2 / 3, seed=seed)
    cfg, _ = initial_config(train, None, seed, 0.05, 0.3)
    out = make_outdir(outdir)
    table = run_ablation(ds, train, test, cfg, lambda rule: build_settings(rule, seed, loss=loss), epochs, seed, point, progress, out)
    write_csv(out / "ablation.csv", table)
    write_json(out / "ablation.json", table.to_dict(orient="records"))
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if do_plot:
        _plot_ablation(table, out / "ablation.png")
        click.echo(f"wrote {out / 'ablation.png'}")
    click.echo(f"wrote {out / 'ablation.csv'}")


def _plot_ablation(table: pd.DataFrame, path: Path) -> None:
    from anp_emu.energy.plot import _pyplot
    from anp_emu.fileio import atomic_path

    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    labels = [f"{r.rule}\nAFT {r.aft}" for r in table.itertuples()]
    a1.bar(labels, table["test_accuracy"] * 100)
    a1.set_ylabel("test accuracy (%)")
    a2.bar(labels, table["energy_nj_per_sample"])
    a2.set_ylabel("energy per training sample (nJ)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- anp demo
@main.command("demo")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default="anp-demo", show_default=True,
              help="Folder for everything the demo writes.")
@click.option("--subjects", type=click.IntRange(1, 50), default=10, show_default=True,
              help="Synthetic subjects (3 sessions x 25 trials each).")
@click.option("--epochs", type=click.IntRange(1, 1000), default=6, show_default=True)
@click.option("--energy-samples", type=click.IntRange(1, 10000), default=30, show_default=True,
              help="Training steps per rule for the MPD-ED vs STBP energy report.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo_cmd(outdir, subjects, epochs, energy_samples, seed, progress):
    """The whole job on built-in synthetic EMG: generate, preprocess, train 1024-512-10 on the
    emulated chip with MPD-ED, evaluate, and report energy per training sample, MPD-ED vs STBP."""
    import shutil

    from anp_emu.emg.baseline import baseline_accuracy
    from anp_emu.emg.pipeline import preprocess
    from anp_emu.emg.synthetic import write_synthetic_dataset
    from anp_emu.energy.report import PAPER_TRAINING_NJ, ratio
    from anp_emu.energy.runner import measure_training
    from anp_emu.training import TrainOptions

    t_start = time.perf_counter()
    out = make_outdir(outdir)
    raw = out / "raw"
    if raw.exists():
        shutil.rmtree(raw)  # the demo owns this folder; regenerate it for a clean, seeded run
    click.echo(f"[1/5] synthetic EMG: {subjects} subjects x 3 sessions x 25 gestures -> {raw}")
    write_synthetic_dataset(raw, n_subjects=subjects, seed=seed)
    click.echo("[2/5] chip encoding (391 samples -> 39 steps x 1024 lines)")
    ds = preprocess(raw, encoder="chip", T=39)
    ds.save(out / "events.h5")
    train, test = ds.split_random(train_fraction=2 / 3, seed=seed)
    base = baseline_accuracy(raw, seed=seed)
    click.echo(f"      {len(ds)} trials, {ds.events_per_sample.mean():.0f} events per sample; "
               f"baseline (logistic regression on RMS) {base.accuracy:.1%}")
    cfg, init = initial_config(train, None, seed, 0.05, 0.3)
    click.echo(f"[3/5] training 1024-512-10 on the emulated chip with MPD-ED, {epochs} epochs "
               f"(init: {init.dead_hidden} dead hidden neurons, hidden activity {init.hidden_activity:.1%})")
    settings = build_settings("mpd-ed", seed)
    options = TrainOptions(epochs=epochs, schedule="cosine", precision="int", seed=seed)
    trainer = run_training(ds, cfg, settings, options, "0.56V", progress, make_outdir(out / "train"),
                           split_args=(train, test))
    click.echo("[4/5] evaluation of the trained chip on the test split")
    from anp_emu.chip import Chip
    from anp_emu.evaluate import evaluate

    res = evaluate(Chip(trainer.trained_config()), test)
    click.echo(res.confusion.to_string())
    click.echo(f"      test accuracy {res.accuracy:.1%} (baseline {base.accuracy:.1%})")
    click.echo(f"[5/5] energy per training sample, MPD-ED vs STBP, same {energy_samples} samples and initial weights")
    model = energy_model_for("0.56V")
    if progress:
        with click.progressbar(length=2 * energy_samples, label="energy steps", file=err_stream()) as bar:
            en = measure_training(cfg.replace(learning=settings), train, model, n_samples=energy_samples, seed=seed,
                                  progress=bar.update)
    else:
        en = measure_training(cfg.replace(learning=settings), train, model, n_samples=energy_samples, seed=seed)
    comp = en.comparison
    click.echo(comp.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    r = ratio(en.reports)
    click.echo(f"      STBP : MPD-ED = {r:.1f}x per training sample at 0.56 V/40 MHz "
               f"(paper, ANP-I: {PAPER_TRAINING_NJ['stbp']:.0f} / {PAPER_TRAINING_NJ['mpd-ed']:.0f} nJ = "
               f"{PAPER_TRAINING_NJ['stbp'] / PAPER_TRAINING_NJ['mpd-ed']:.1f}x)")
    en_dir = make_outdir(out / "energy")
    from anp_emu.energy.report import write_frames

    write_frames(en_dir, en.frames(), {"samples": energy_samples, "seed": seed})
    summary = {"baseline_accuracy": base.accuracy, "test_accuracy": res.accuracy,
               "energy_nj_per_training_sample": {k: float(v.summary["training_nj"].iloc[0]) for k, v in en.reports.items()},
               "stbp_over_mpd_ed": r, "seconds": time.perf_counter() - t_start}
    write_json(out / "demo_summary.json", summary)
    click.echo(f"done in {summary['seconds']:.0f} s. Files: {raw} (raw EMG), {out / 'events.h5'} (events), "
               f"{out / 'train'} (config.h5, log.csv, checkpoint.h5), {en_dir} (energy tables), "
               f"{out / 'demo_summary.json'}")
