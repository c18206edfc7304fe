"""Training commands: ``anp train``, ``anp eval`` and ``anp demo`` (``anp ablation``: commands_sweep)."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import click
import pandas as pd

from anp_emu import defaults as D
from anp_emu.cli.common import (SEED, err_stream, initial_config, load_chip_config, load_dataset, make_outdir,
                                write_csv, write_json)
from anp_emu.cli.main import main
from anp_emu.errors import FileFormatError, InputError
from anp_emu.experiments.trainer import ENERGY_FIGURES


# ----------------------------------------------------------------------------- shared pieces
def warn_sparse(sd, quiet: bool = False) -> list[str]:
    """One line per side with samples below the encoder's event floor (they are still used)."""
    lines = []
    for side, d in (("training", sd.sparse_train), ("test", sd.sparse_test)):
        if d:
            lines.append(f"{side} samples with fewer than the encoder's min_events input events: "
                         + ", ".join(f"{k} {v}" for k, v in d.items()))
    if not quiet:
        for line in lines:
            click.echo(f"warning: {line}", err=True)
    return lines


def energy_model_for(point: str):
    from anp_emu.energy.model import model_at

    return model_at(point, "--operating-point")


def progress_factory(enabled: bool, n: int, epochs: int):
    """A per-epoch progress bar showing samples/s, running accuracy and energy per sample."""
    if not enabled:
        return None

    def factory(epoch):
        state = {"k": 0, "acc": 0.0, "nj": float("nan"), "t0": time.perf_counter()}
        bar = click.progressbar(length=n, label=f"epoch {epoch + 1}/{epochs}", file=err_stream(),
                                item_show_func=lambda _: (f"{state['k'] / max(time.perf_counter() - state['t0'], 1e-9):.0f} "
                                                          f"samples/s  acc {state['acc']:.1%}  learning {state['nj']:.0f} nJ/sample"))
        bar.__enter__()

        def update(k, acc, nj):
            state.update(k=k, acc=acc, nj=nj)
            bar.update(1, k)
            if k == n:
                bar.__exit__(None, None, None)
        return update
    return factory


PRESET_OPTION = click.option(
    "--preset", type=click.Choice(["paper"]), default=None,
    help="paper: Wei et al. 2024 as printed - Eq. 21 (temporal window 1), reset path on, TET with its MSE term "
         "(lambda 1e-3), AFT step theta0/T (aux weight round(theta/T)), cosine lr, 50 epochs. Options given "
         "explicitly win. See anp_emu/experiments/presets.py and docs/energy.md.")

# click parameter -> (LearningSettings | TrainOptions field) that a preset may set
_PRESET_PARAMS = {"temporal": "temporal_path", "temporal_window": "temporal_window", "reset_path": "reset_path",
                  "loss": "loss", "tet_lambda": "tet_lambda", "epochs": "epochs", "schedule": "schedule",
                  "aux_frac": "aux_frac"}


def explicit_params() -> set:
    """Names of the current command's parameters the user gave on the command line."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return set()
    return {n for n in ctx.params if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE}


def preset_values(name, T: int, **given) -> dict:
    """The command's values of the preset-controlled parameters: ``given`` (the command's own
    values), replaced by the preset's where the user did not give the option explicitly. Keys:
    the click parameter names of ``_PRESET_PARAMS`` present in ``given``."""
    if name is None:
        return dict(given)
    from anp_emu.experiments.presets import preset

    p = preset(name)
    explicit = explicit_params()
    fields = {**p.settings, **p.options, "aux_frac": p.aux_frac(T)}
    out = dict(given)
    for param, value in given.items():
        f = _PRESET_PARAMS.get(param)
        if f in fields and fields[f] is not None and param not in explicit:
            out[param] = fields[f]
    if "tet_lambda" in out and out.get("loss") != "tet" and "tet_lambda" not in explicit:
        out["tet_lambda"] = 0.0           # the regulariser belongs to TET; a loss given explicitly wins
    return out


def preset_config(name, cfg, T: int, aux_given: bool = False):
    """``cfg`` with the preset's aux weights (theta0/T), unless --aux-frac was given."""
    if name is None or aux_given:
        return cfg
    from anp_emu.experiments.presets import preset

    return preset(name).apply_config(cfg, T)


def learning_options(f):
    """click options of the learning rule and the training run (shared by train and ablation)."""
    opts = [
        click.option("--epochs", type=click.IntRange(1, 100000), default=D.EPOCHS, show_default=True),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True, max=2.0 ** 20), default=None,
                     help="Learning rate (weight LSBs per unit gradient, at most 2^20: beyond it every update "
                          "saturates). Default: the rule's tuned value."),
        click.option("--lr-shift", type=click.IntRange(0, 30), default=None, help="lr = 2^-SHIFT (overrides --lr)."),
        click.option("--schedule", type=click.Choice(["constant", "cosine"]), default=D.SCHEDULE, show_default=True),
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
        click.option("--loss", type=click.Choice(["ce", "tet"]), default=D.LOSS, show_default=True,
                     help="tet: per-step cross-entropy on the output potentials (the MPD-ED loss of Wei et al. "
                          "Sec. V-A; its error reaches output neurons that did not fire); ce: cross-entropy on "
                          "output spike counts (with MPD-ED it can let a silent target "
                          "class stay silent and hidden activity run away, see docs/experiments.md)."),
        click.option("--logit-gain", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True),
        click.option("--target-count", type=click.IntRange(0, 1 << 20), default=10, show_default=True,
                     help="std-ed/ebp: desired output spikes of the target class per sample."),
        click.option("--other-count", type=click.IntRange(0, 1 << 20), default=1, show_default=True,
                     help="std-ed/ebp: desired output spikes of every other output."),
        click.option("--tau-grad", type=click.FloatRange(min=0, min_open=True), default=1.5, show_default=True,
                     help="ebp: time constant (steps) of the backward kernel h(t) = exp(-t/tau_grad)."),
        click.option("--stbp-emulation", type=click.Choice(["dense", "event-input"]), default="dense",
                     show_default=True,
                     help="How STBP's learning work is counted on the chip: dense, as Wei et al. ran it "
                          "(every neuron activated, input lines included: M*N*T gradient work, every synapse "
                          "read and written), or event-input, the what-if of a chip that skips silent input "
                          "lines. Counting only: the weights learnt are the same (docs/energy.md)."),
        click.option("--tet-lambda", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
                     help="Weight of TET's MSE regulariser (Deng et al. 2022 use 1e-3); needs --loss tet."),
        PRESET_OPTION,
        click.option("--split", type=click.Choice(["random", "session", "subject", "kfold", "subjects"]), default="random",
                     show_default=True,
                     help="random: seeded stratified 2:1 train/test (the paper); session / subject: leave one "
                          "session (the armband put on again) / one subject out; kfold: stratified k-fold; "
                          "subjects: the --test-subjects are the test set."),
        click.option("--fold", default=None, help="Fold of session/subject/kfold: its name (session2, subject3, fold0) "
                                                  "or 0-based index. anp cv runs every fold."),
        click.option("--folds", type=click.IntRange(2, 1000), default=5, show_default=True,
                     help="k of --split kfold."),
        click.option("--test-subjects", default=None, help="Comma-separated subjects held out (with --split subjects)."),
        click.option("--encoder-fit", type=click.Choice(["train", "file"]), default="train", show_default=True,
                     help="train: refit the encoder (scales, level step / thresholds) on the training part of the "
                          "split from the features the events file keeps; file: use the events as stored."),
        click.option("--align-sessions", is_flag=True,
                     help="Undo armband rotation: shift each session's channels to best match the training "
                          "sessions' mean activity (unsupervised; reads the test session's unlabelled signal)."),
        click.option("--train-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                     default=D.TRAIN_FRACTION, show_default=True),
        click.option("--seed", type=SEED, default=D.SEED, show_default=True, help="Seed of init, split, order and rounding."),
        click.option("--target-hidden", type=click.FloatRange(0, 1, min_open=True), default=D.TARGET_HIDDEN, show_default=True,
                     help="Hidden spikes per neuron and step the random init calibrates thresholds for."),
        click.option("--aux-frac", type=click.FloatRange(0, 1), default=D.AUX_FRAC, show_default=True,
                     help="Aux weight as a fraction of theta in the random init (the emulated threshold decay)."),
        click.option("--operating-point", "point", default=D.OPERATING_POINT, show_default=True),
        click.option("--progress/--no-progress", default=True, show_default=True),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


RULE_CHOICES = ["mpd-ed", "stbp", "std-ed", "ebp"]


def build_settings(rule, seed, *, lr=None, lr_shift=None, rounding="stochastic", surrogate="rect",
                   surrogate_width=1.0, temporal=True, temporal_window=None, reset_path=False, loss=D.LOSS,
                   logit_gain=10.0, tet_lambda=0.0, target_count=10, other_count=1, tau_grad=1.5,
                   stbp_emulation="dense"):
    """LearningSettings from the CLI options (defaults: the commands' defaults; lr None: the
    rule's tuned lr, a spike-time rule: its count loss, both from anp_emu/defaults.py)."""
    from anp_emu.learning.settings import LearningSettings

    if rule in D.COUNT_LOSS:               # spike-time rules train on their count loss (no TET term)
        loss, tet_lambda = D.loss_for(rule), 0.0
    return LearningSettings(rule=rule, surrogate=surrogate, surrogate_width=surrogate_width, temporal_path=temporal,
                            temporal_window=temporal_window, reset_path=reset_path, loss=loss, logit_gain=logit_gain,
                            lr=lr, lr_shift=lr_shift, rounding=rounding,
                            seed=seed, tet_lambda=tet_lambda, target_count=target_count,
                            other_count=other_count, tau_grad=tau_grad, stbp_emulation=stbp_emulation)


RUN_FILES = ("checkpoint.h5", "config_init.h5", "report.html", "log.csv", "config.h5", "summary.json", "encoding.json", "counters.csv", "samples.csv",
             "counters.json")


def make_run_outdir(outdir, spec, *, resume: bool = False, force: bool = False):
    """The output folder of a training run (an ``OutputFolder``), checked before anything is
    written: writable, room for the checkpoint (written beside the old one, then renamed) and
    config; an earlier run of ours there only with ``--resume`` (continue it: its manifest is
    needed) or ``--force`` (replace the files anp wrote); a file of the run's names that anp did
    not write there is never replaced (``anp_emu.files.manifest``)."""
    from anp_emu.files.manifest import OutputFolder

    if resume and force:
        raise InputError("--force", "cannot be combined with --resume", hint="--resume continues a run, --force replaces it")
    if resume and not (Path(outdir) / "checkpoint.h5").exists():
        raise InputError("--resume", "no checkpoint to resume", value=str(Path(outdir) / "checkpoint.h5"))
    own = OutputFolder.claim(outdir, "train-run", RUN_FILES, replace=force, resume=resume)
    weight_bytes = 8 * (spec.n_hid * spec.n_in + spec.n_out * spec.n_hid)   # float64 worst case
    make_outdir(outdir, need_bytes=3 * weight_bytes + (1 << 20))
    return own


def run_training(ds, cfg, settings, options, point, progress, own=None, resume: bool = False,
                 split_args=None, quiet: bool = False, encoding: dict | None = None):
    """Train; write checkpoint.h5, log.csv, counters.csv, samples.csv, counters.json, config.h5
    (and ``encoding`` as encoding.json) into the claimed folder ``own`` (an ``OutputFolder``),
    recording each file in its manifest. A resumed checkpoint is checked before anything is
    written; resuming a finished run writes nothing. Returns (trainer, epochs run now)."""
    from anp_emu.files.checkpoint import load_checkpoint_into
    from anp_emu.experiments.trainer import Trainer

    train, test = split_args
    model = energy_model_for(point)
    trainer = Trainer(cfg, train, test, settings, options, energy_model=model)
    outdir = own.path if own is not None else None
    ckpt = outdir / "checkpoint.h5" if outdir else None
    if resume:
        if ckpt is None or not ckpt.exists():
            raise InputError("--resume", "no checkpoint to resume", value=str(ckpt))
        load_checkpoint_into(ckpt, trainer)
        if outdir and (outdir / "samples.csv").exists():
            read_samples(outdir / "samples.csv")       # a bad one: one error before any epoch runs
        if not quiet:
            click.echo(f"resumed {ckpt} after epoch {trainer.epochs_done}", err=True)
    first_epoch = trainer.epochs_done
    if own is not None and first_epoch < options.epochs:
        if encoding is not None:
            write_json(outdir / "encoding.json", encoding)
            own.wrote("encoding.json")
        if first_epoch == 0:
            from anp_emu.files.config_io import save_config

            save_config(cfg, outdir / "config_init.h5")      # the weights before training (anp plot weights)
            own.wrote("config_init.h5")

    samples_csv = outdir / "samples.csv" if outdir else None

    def on_epoch(log):
        if outdir:
            own.wrote("checkpoint.h5")            # saved by the trainer just before
            write_csv(outdir / "log.csv", trainer.log_frame())
            write_csv(outdir / "counters.csv", trainer.counters_frame())
            _append_samples(samples_csv, trainer.last_samples, log.epoch)
            own.wrote("log.csv", "counters.csv", "samples.csv")
        if not quiet:
            click.echo(f"epoch {log.epoch}: loss {log.loss:.3f}  train {log.train_accuracy:.1%}  "
                       f"test {log.test_accuracy:.1%}  hidden activity {log.hidden_activity:.2%}  "
                       f"per sample: learning {log.learning_nj:,.0f} nJ, inference {log.inference_nj:,.0f} nJ, "
                       f"total {log.total_nj:,.0f} nJ  {log.samples_per_s:.0f} samples/s", err=True)

    trainer.fit(checkpoint_path=ckpt, on_epoch=on_epoch,
                progress_factory=progress_factory(progress and not quiet, len(train), options.epochs))
    ran = trainer.epochs_done - first_epoch
    if outdir and ran:
        total = trainer.history_counters()          # every epoch of the run, resumed ones included
        write_json(outdir / "counters.json", {
            "format": "anp-training-counters", "version": 1, "rule": settings.rule, "T": int(train.T),
            "spec": trainer.config.spec.to_dict(), "epochs": [h.epoch for h in trainer.history],
            "n_samples": total.n_samples, "counters": total.as_dict()})
        own.wrote("counters.json")
        if options.precision == "int":
            from anp_emu.files.config_io import save_config

            save_config(trainer.trained_config(), outdir / "config.h5")
            own.wrote("config.h5")
    return trainer, ran


def read_samples(path: Path) -> pd.DataFrame:
    """An earlier samples.csv of this run folder, checked: a CSV with an integer ``epoch`` column
    of values >= 1. Anything else is one FileFormatError naming the file and the column."""
    try:
        old = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise FileFormatError(path, "empty file; expected the per-sample CSV of an earlier run (column epoch)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise FileFormatError(path, f"not a readable CSV ({' '.join(str(e).split())[:120]})") from None
    if "epoch" not in old.columns:
        cols = ", ".join(map(str, old.columns[:6])) + (", ..." if len(old.columns) > 6 else "")
        raise FileFormatError(path, f"column epoch: required column missing; got columns [{cols}]")
    ep = pd.to_numeric(old["epoch"], errors="coerce")
    bad = ep.isna() | (ep < 1) | (ep != ep.round())
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise FileFormatError(path, f"column epoch, row {i + 1}: expected an integer >= 1; got {old['epoch'].iloc[i]!r}")
    old["epoch"] = ep.astype("int64")
    return old


def _append_samples(path: Path, rows: pd.DataFrame, epoch: int) -> None:
    """samples.csv: the per-sample log of epochs 1..epoch (rows of later epochs, left by an
    interrupted run that is being resumed, are dropped; a run that starts at epoch 1 replaces
    the file), rewritten atomically."""
    old = read_samples(path) if epoch > 1 and path.exists() else None
    if old is not None and len(old):
        old = old[old["epoch"] < epoch]
        rows = pd.concat([old, rows], ignore_index=True)
    write_csv(path, rows)


def averaged_energy_both_points(trainer) -> dict:
    """{operating point: {learning_nj, inference_nj, total_nj}} per training sample averaged over
    every sample of every epoch, with learning as % of inference."""
    from anp_emu.energy.model import default_table
    from anp_emu.energy.report import learning_pct

    table = default_table()
    out = {}
    for name in table.points:
        e = trainer.averaged_energy(table.model(name))
        out[name] = {f: e[f] for f in ENERGY_FIGURES}
        out[name]["learning_pct_of_inference"] = learning_pct(e["learning_nj"], e["inference_nj"])
    return out


def energy_line(e: dict) -> str:
    """'learning X nJ, inference Y nJ (learning Z % of it), total W nJ' of one set of figures
    (``averaged_energy_both_points``)."""
    return (f"learning {e['learning_nj']:,.0f} nJ, inference {e['inference_nj']:,.0f} nJ (learning "
            f"{e['learning_pct_of_inference']:.1f} % of it), total {e['total_nj']:,.0f} nJ")


def run_summary(trainer, *, dataset, split_args: dict, point: str, preset=None, **extra) -> dict:
    """summary.json of a training run, as `anp train` and the demo write it (what anp energy
    summary, anp report and anp plot read); ``extra``: fields of the caller's own."""
    cfg, o = trainer.config, trainer.options
    return {"dataset": str(dataset), "rule": trainer.settings.rule, "aft": o.aft, "precision": o.precision,
            "preset": preset, "split": split_args["split"], "fold": split_args["fold"],
            "classes": list(trainer.train.class_names), "split_args": split_args,
            "network": f"{cfg.spec.n_in}-{cfg.spec.n_hid}-{cfg.spec.n_out}", "T": int(trainer.train.T),
            "operating_point": point, "train_samples": len(trainer.train), "test_samples": len(trainer.test),
            "epochs": o.epochs, "final": trainer.log_frame().iloc[-1].to_dict(),
            "settings": trainer.settings.to_dict(), "options": asdict(o),
            "energy_per_training_sample_averaged_over_training": averaged_energy_both_points(trainer), **extra}


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
@click.option("--resume", is_flag=True,
              help="Continue from OUTDIR/checkpoint.h5 (same arguments as the first run; a larger --epochs "
                   "extends a finished constant-schedule run, bit-identically to a run of that length).")
@click.option("--force", is_flag=True, help="Start afresh in an OUTDIR that holds an earlier run, replacing its "
                                            "run files (" + ", ".join(RUN_FILES) + "; nothing else).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--report", "do_report", is_flag=True,
              help="Also write OUT/report.html: every figure of the run in one self-contained page (as anp report).")
@learning_options
def train_cmd(dataset, outdir, chip_path, init, rule, aft, precision, resume, force, as_json, do_report, epochs, lr, lr_shift, schedule,
              rounding, surrogate, surrogate_width, temporal, temporal_window, reset_path, loss, logit_gain,
              target_count, other_count, tau_grad, stbp_emulation, tet_lambda, preset, split, fold, folds, test_subjects, encoder_fit,
              align_sessions, train_fraction, seed, target_hidden, aux_frac, point, progress):
    """Train a spiking network on the emulated ANP-I, sample by sample (batch size 1).

    Writes an atomic checkpoint after each epoch (Ctrl-C keeps the last one; --resume continues
    bit-identically), a per-epoch log (loss, accuracies, spike activity, SOPs and energy per
    sample) and the trained integer config."""
    from anp_emu.experiments.trainer import TrainOptions

    if aft == "ideal" and precision != "float":
        raise InputError("--aft ideal", "the ideal AFT-LIF neuron exists only in the float twin",
                         hint="add --precision float")
    ds = load_dataset(dataset)
    from anp_emu.emg.crossval import split_dataset
    from anp_emu.experiments.trainer import check_classes

    check_classes(ds.labels, f"dataset {dataset}", ds.class_names)     # before the split and the init
    sd = split_dataset(ds, split, fold, seed=seed, train_fraction=train_fraction, k=folds, test_subjects=test_subjects,
                       refit=encoder_fit == "train", align=align_sessions)
    train, test = sd.train, sd.test
    sparse = warn_sparse(sd, quiet=as_json)
    pv = preset_values(preset, int(ds.T), temporal=temporal, temporal_window=temporal_window, reset_path=reset_path,
                       loss=loss, tet_lambda=tet_lambda, epochs=epochs, schedule=schedule, aux_frac=aux_frac)
    temporal, temporal_window, reset_path, loss, tet_lambda, epochs, schedule, aux_frac = (
        pv[k] for k in ("temporal", "temporal_window", "reset_path", "loss", "tet_lambda", "epochs", "schedule",
                        "aux_frac"))
    cfg, init_rep = initial_config(train, chip_path, seed, target_hidden, aux_frac, rule)
    from anp_emu.learning.engine import check_rule_spec

    check_rule_spec(rule, cfg.spec)                # before any folder is made
    cfg = preset_config(preset, cfg, int(ds.T), aux_given="aux_frac" in explicit_params())
    settings = build_settings(rule, seed, lr=lr, lr_shift=lr_shift, rounding=rounding, surrogate=surrogate,
                              surrogate_width=surrogate_width, temporal=temporal, temporal_window=temporal_window,
                              reset_path=reset_path, loss=loss, logit_gain=logit_gain, tet_lambda=tet_lambda,
                              target_count=target_count, other_count=other_count, tau_grad=tau_grad,
                              stbp_emulation=stbp_emulation)
    options = TrainOptions(epochs=epochs, schedule=schedule, precision=precision, seed=seed, aft=aft,
                           target_hidden=target_hidden, aux_frac=aux_frac, operating_point=point)
    energy_model_for(point)                        # every option checked before anything is written
    own = make_run_outdir(outdir, cfg.spec, resume=resume, force=force)
    out = own.path
    if init_rep is not None and not as_json:
        click.echo(f"init: theta {init_rep.theta_hid}/{init_rep.theta_out}, aux {cfg.w_aux_hid}/"
                   f"{cfg.w_aux_out}, hidden activity {init_rep.hidden_activity:.2%}, dead neurons "
                   f"{init_rep.dead_hidden} hidden / {init_rep.dead_output} output", err=True)
    encoding = None if sd.calibration is None else {
        "encoder": train.encoder, "encoder_params": train.encoder_params, "calibration": sd.calibration,
        "fold": sd.fold, "align_sessions": align_sessions}
    trainer, ran = run_training(ds, cfg, settings, options, point, progress, own, resume, (train, test),
                                encoding=encoding)
    split_args = {"split": split, "fold": sd.fold, "seed": seed, "train_fraction": train_fraction, "folds": folds,
                  "test_subjects": test_subjects, "encoder_fit": encoder_fit, "align_sessions": bool(align_sessions)}
    summary = run_summary(
        trainer, dataset=dataset, split_args=split_args, point=point, preset=preset, sparse_samples=sparse,
        encoder_calibration=sd.calibration,
        init=asdict(init_rep) if init_rep is not None else {"chip": str(chip_path)},
        files={k: str(out / f) for k, f in (("log", "log.csv"), ("counters", "counters.csv"), ("samples", "samples.csv"),
                                            ("checkpoint", "checkpoint.h5"), ("config", "config.h5"),
                                            ("config_init", "config_init.h5"), ("encoding", "encoding.json"))
               if (out / f).exists()})
    if ran:
        write_json(out / "summary.json", summary)
        own.wrote("summary.json")
        if force:
            own.drop_unwritten()                   # our files of the replaced run that this run did not write
    elif not as_json:
        click.echo(f"nothing to do: {out} has all {epochs} epochs (nothing written)", err=True)
    if do_report and ran:
        from anp_emu.cli.commands_plot import write_report_for

        write_report_for([out], out / "report.html", force=True, quiet=as_json)
        own.wrote("report.html")
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    f = summary["final"]
    click.echo(f"{rule} on {summary['network']} ({precision}): test accuracy {f['test_accuracy']:.1%}, "
               f"train {f['train_accuracy']:.1%}")
    click.echo("energy per training sample averaged over every sample of every epoch:")
    for k, e in summary["energy_per_training_sample_averaged_over_training"].items():
        click.echo(f"  at {k}: {energy_line(e)}")
    for k, v in summary["files"].items():
        click.echo(f"wrote {v}")


# ----------------------------------------------------------------------------- anp eval
@main.command("eval")
@click.argument("config", type=click.Path())
@click.argument("dataset", type=click.Path())
@click.option("--split", type=click.Choice(["all", "random", "session", "subject", "kfold", "subjects", "test", "train"]),
              default="all", show_default=True,
              help="Evaluate all samples, or one side of a split as `anp train` made it (same --seed, --fold, "
                   "--folds, --test-subjects, --train-fraction). test / train: the sides of the random split.")
@click.option("--side", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--fold", default=None, help="Fold name or index (session, subject, kfold).")
@click.option("--folds", type=click.IntRange(2, 1000), default=5, show_default=True, help="k of --split kfold.")
@click.option("--test-subjects", default=None, help="With --split subjects.")
@click.option("--train-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=2 / 3,
              show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the split (as in anp train).")
@click.option("--encoding", "encoding_path", type=click.Path(dir_okay=False), default=None,
              help="Encoder calibration of the training run (default: encoding.json beside CONFIG, when present).")
@click.option("--precision", type=click.Choice(["int", "float"]), default="int", show_default=True)
@click.option("--operating-point", "point", default=D.OPERATING_POINT, show_default=True)
@click.option("--pad-inputs", is_flag=True,
              help="Accept a dataset with fewer input lines than the config (it drives lines 0..n-1, the rest "
                   "stay silent). Without it the two must have the same number of lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def eval_cmd(config, dataset, split, side, fold, folds, test_subjects, train_fraction, seed, encoding_path, precision,
             point, pad_inputs, as_json):
    """Accuracy, confusion matrix, per-class accuracy, energy and latency per inference.

    The events are re-encoded with the encoder calibration the training run fitted on its training
    part (encoding.json beside CONFIG), so evaluation sees what training saw."""
    from anp_emu.chip.emulator import Chip
    from anp_emu.emg.crossval import folds_of
    from anp_emu.energy.report import energy_per_sample
    from anp_emu.experiments.evaluate import evaluate
    from anp_emu.experiments.splits import select_fold

    cfg = load_chip_config(config)
    ds = load_dataset(dataset)
    enc_file = Path(encoding_path) if encoding_path else Path(config).parent / "encoding.json"
    encoding = None
    if ds.features is not None and (encoding_path or enc_file.exists()):
        if not enc_file.is_file():
            raise FileFormatError(enc_file, "encoding file not found")
        try:
            encoding = json.loads(enc_file.read_text())["calibration"]
        except (ValueError, KeyError, TypeError) as e:
            raise FileFormatError(enc_file, f"not an encoding file of anp train ({e.__class__.__name__})") from None
        ds = ds.with_calibration(encoding)
    if ds.n_in != cfg.spec.n_in and not (pad_inputs and ds.n_in < cfg.spec.n_in):
        raise InputError("dataset.n_in", "differs from the config's input lines (a dataset encoded for another "
                                         "network)", limit=cfg.spec.n_in, value=ds.n_in,
                         hint="--pad-inputs feeds a narrower dataset to the first lines" if ds.n_in < cfg.spec.n_in
                         else "re-encode the dataset for this config")
    if split in ("test", "train"):
        split, side = "random", split
    if split != "all":
        f = select_fold(folds_of(ds, split, seed=seed, train_fraction=train_fraction, k=folds,
                                 test_subjects=test_subjects), fold)
        ds = ds.subset(f.test if side == "test" else f.train)
    model = energy_model_for(point)
    res = evaluate(Chip(cfg, precision), ds)
    e = energy_per_sample(res.counters, cfg.spec, ds.T, model)
    out = {"config": str(config), "dataset": str(dataset), "split": split, "side": side if split != "all" else "all",
           "samples": len(ds), "encoding": str(enc_file) if encoding is not None else None,
           "accuracy": res.accuracy, "per_class_accuracy": res.per_class_accuracy.to_dict(),
           "decided_by_spike_count": res.spike_count_share,
           "confusion": res.confusion.to_numpy().tolist(), "classes": res.class_names,
           **{f: e[f] for f in ENERGY_FIGURES}, "latency_us_per_inference": e["latency_us"],
           "sop_per_inference": res.counters["sop_effective"] / len(ds), "operating_point": point}
    if as_json:
        click.echo(json.dumps(out, indent=1, default=float))
        return
    click.echo(f"{len(ds)} samples ({out['side']}): accuracy {res.accuracy:.2%}"
               + (f" (encoder calibration from {enc_file})" if encoding is not None else ""))
    click.echo(res.confusion.to_string())
    click.echo("per-class accuracy: " + ", ".join(f"{k} {v:.1%}" for k, v in out["per_class_accuracy"].items()))
    click.echo(f"decided by the class outputs' spike counts: {res.spike_count_share:.1%} of the samples; the others "
               f"by the readout's summed-membrane tie-break (no class output fired, or several equally)")
    click.echo(f"per inference at {point}: inference energy {e['inference_nj']:.1f} nJ (no learning: learning "
               f"{e['learning_nj']:.0f} nJ, total {e['total_nj']:.1f} nJ), {e['latency_us']:.1f} us, "
               f"{out['sop_per_inference']:.0f} SOPs")


# ----------------------------------------------------------------------------- anp demo
def _check_previous_demo_raw(raw: Path) -> None:
    """The demo regenerates OUT/raw only if it holds exactly what the synthetic writer puts there
    (subjectXX_sessionYY_{emg,ann}.npy and sampling_rates.csv); anything else is never removed."""
    import re

    if not raw.is_dir() or raw.is_symlink():
        raise FileFormatError(raw, "exists and is not a folder the demo wrote; not removed (choose another -o)")
    names = [q.name for q in raw.iterdir()]
    foreign = [n for n in names if not (n == "sampling_rates.csv"
                                        or re.fullmatch(r"subject\d\d_session\d\d_(emg|ann)\.npy", n))]
    if foreign or "sampling_rates.csv" not in names:
        what = f"holds {foreign[0]!r}, which" if foreign else "has no sampling_rates.csv: it is not what"
        raise FileFormatError(raw, f"{what} the demo's synthetic writer did not write; not removed "
                                   f"(choose another -o)")


@main.command("demo")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False), default="anp-demo", show_default=True,
              help="Folder for everything the demo writes.")
@click.option("--subjects", type=click.IntRange(1, 50), default=10, show_default=True,
              help="Synthetic subjects (3 sessions x 25 trials each).")
@click.option("--epochs", type=click.IntRange(1, 1000), default=6, show_default=True)
@click.option("--energy-samples", type=click.IntRange(1, 10000), default=30, show_default=True,
              help="Training steps per rule for the MPD-ED vs STBP energy report.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print demo_summary.json on stdout at the end (the narration goes to stderr).")
def demo_cmd(outdir, subjects, epochs, energy_samples, seed, progress, as_json):
    """The whole job on built-in synthetic EMG: generate, preprocess, train 1024-512-10 on the
    emulated chip with MPD-ED, evaluate, and report energy per training sample, MPD-ED vs STBP."""
    import shutil

    from anp_emu.emg.pipeline import preprocess
    from anp_emu.emg.synthetic import write_synthetic_dataset
    from anp_emu.energy.report import PAPER_LEARNING_NJ, format_headline, headline_table
    from anp_emu.energy.measure import measure_training
    from anp_emu.experiments.trainer import TrainOptions

    t_start = time.perf_counter()

    def say(*args, **kw):
        click.echo(*args, err=as_json, **kw)
    from anp_emu.cli.commands_energy import ENERGY_FILES
    from anp_emu.files.manifest import OutputFolder

    # every folder claimed before anything is written: a rerun replaces what the demo wrote, never a user's file
    base = Path(outdir)
    own = OutputFolder.claim(base, "demo", ("events.h5", "demo_summary.json", "report.html"), replace=True)
    owns = {name: OutputFolder.claim(base / name, "train-run", RUN_FILES, replace=True) for name in ("train", "train-stbp")}
    en_own = OutputFolder.claim(base / "energy", "energy", ENERGY_FILES, replace=True)
    out = make_outdir(outdir)
    raw = out / "raw"
    if raw.exists():
        _check_previous_demo_raw(raw)
        shutil.rmtree(raw)  # a synthetic set an earlier demo wrote: regenerate it for a clean, seeded run
    say(f"[1/5] synthetic EMG: {subjects} subjects x 3 sessions x 25 gestures -> {raw}")
    write_synthetic_dataset(raw, n_subjects=subjects, seed=seed)
    say("[2/5] chip encoding (391 samples -> 39 steps x 1024 lines)")
    ds = preprocess(raw, encoder="chip", T=39)
    ds.save(out / "events.h5")
    own.wrote("events.h5")
    from anp_emu.emg.crossval import fold_baselines, folds_of, split_dataset

    sd = split_dataset(ds, "random", seed=seed)      # the encoder is fitted on the training part
    train, test = sd.train, sd.test
    warn_sparse(sd)
    base_all = fold_baselines(ds, folds_of(ds, "random", seed=seed)[0])
    say(f"      {len(ds)} trials, {train.events_per_sample.mean():.0f} events per training sample "
        f"(input density {train.events_per_sample.mean() / (ds.T * ds.n_in):.1%}); baselines on the same split: "
        f"nearest centroid on MAV {base_all['centroid']:.1%}, logistic regression {base_all['logreg']:.1%}")
    cfg, init = initial_config(train, None, seed, D.TARGET_HIDDEN, D.AUX_FRAC)
    say(f"[3/5] training 1024-512-10 on the emulated chip with MPD-ED, {epochs} epochs "
        f"(init: {init.dead_hidden} dead hidden neurons, hidden activity {init.hidden_activity:.1%})")
    settings = build_settings("mpd-ed", seed)
    options = TrainOptions(epochs=epochs, seed=seed)     # anp train's defaults (anp_emu/defaults.py)
    make_outdir(owns["train"].path)
    trainer, _ = run_training(ds, cfg, settings, options, D.OPERATING_POINT, progress, owns["train"],
                              split_args=(train, test))
    say("[4/5] evaluation of the trained chip on the test split")
    from anp_emu.chip.emulator import Chip
    from anp_emu.experiments.evaluate import evaluate

    res = evaluate(Chip(trainer.trained_config()), test)
    say(res.confusion.to_string())
    say(f"      test accuracy {res.accuracy:.1%} (nearest centroid on MAV {base_all['centroid']:.1%}, "
        f"logistic regression {base_all['logreg']:.1%}); {res.spike_count_share:.0%} of the test samples decided by "
        f"the class outputs' spike counts, the others by the readout's summed-membrane tie-break")
    say(f"[5/5] STBP trained the same way; energy per training sample averaged over every sample of all "
        f"{epochs} epochs (the paper's metric is the learning energy: backward + update, the increment "
        f"over inference; STBP emulated as the paper ran it, every neuron activated):")
    make_outdir(owns["train-stbp"].path)
    stbp_trainer, _ = run_training(ds, cfg, build_settings("stbp", seed), options, D.OPERATING_POINT, progress,
                                   owns["train-stbp"], split_args=(train, test), quiet=True)
    averaged = {"mpd-ed": averaged_energy_both_points(trainer), "stbp": averaged_energy_both_points(stbp_trainer)}
    demo_split = {"split": "random", "fold": None, "seed": seed, "train_fraction": D.TRAIN_FRACTION, "folds": 5,
                  "test_subjects": None, "encoder_fit": "train", "align_sessions": False}
    for name, tr in (("train", trainer), ("train-stbp", stbp_trainer)):
        write_json(owns[name].path / "summary.json",
                   run_summary(tr, dataset=(out / "events.h5").resolve(), split_args=demo_split, point=D.OPERATING_POINT))
        owns[name].wrote("summary.json")
    headline = headline_table(averaged)
    say(format_headline(headline))
    say("      (the paper's figures: ANP-I silicon, real EMG, 50 epochs; why ours differ: docs/energy.md)")
    model = energy_model_for(D.OPERATING_POINT)
    if progress:
        with click.progressbar(length=2 * energy_samples, label="energy steps", file=err_stream()) as bar:
            en = measure_training(cfg.replace(learning=settings), train, model, n_samples=energy_samples, seed=seed,
                                  progress=bar.update)
    else:
        en = measure_training(cfg.replace(learning=settings), train, model, n_samples=energy_samples, seed=seed)
    en_dir = make_outdir(en_own.path)
    from anp_emu.energy.report import write_frames

    en_own.wrote(*(p.name for p in write_frames(en_dir, en.frames(), {"samples": energy_samples, "seed": seed})))
    say(f"      per layer, phase and operation at the initial weights ({energy_samples} samples per rule, "
        f"as `anp energy`): {en_dir}")
    summary = {"baseline_accuracy": base_all["centroid"], "baselines": base_all, "test_accuracy": res.accuracy,
               "test_decided_by_spike_count": res.spike_count_share,
               "epochs": epochs, "seed": seed, "subjects": subjects,
               "energy_per_training_sample_averaged_over_training": averaged,
               "stbp_over_mpd_ed_learning": {p: averaged["stbp"][p]["learning_nj"] / averaged["mpd-ed"][p]["learning_nj"]
                                             for p in averaged["mpd-ed"]},
               "headline": headline.to_dict(orient="records"), "paper_learning_nj": PAPER_LEARNING_NJ,
               "seconds": time.perf_counter() - t_start}
    t_report = time.perf_counter()
    from anp_emu.cli.commands_plot import write_report_for

    report = write_report_for([out / "train", out / "train-stbp"], out / "report.html", force=True, quiet=True)
    own.wrote("report.html")
    summary["report"] = {"path": report["path"], "bytes": report["bytes"], "seconds": time.perf_counter() - t_report}
    summary["seconds"] = time.perf_counter() - t_start
    write_json(out / "demo_summary.json", summary)
    own.wrote("demo_summary.json")
    say(f"done in {summary['seconds']:.0f} s. Files: {raw} (raw EMG), {out / 'events.h5'} (events), "
        f"{out / 'train'} (config.h5, log.csv, counters.csv, samples.csv, checkpoint.h5), {out / 'train-stbp'}, "
        f"{en_dir} (energy tables), "
        f"{out / 'demo_summary.json'}")
    say(f"report: {report['path']} (open it in a browser; {report['bytes'] / 1024:,.0f} kB, every figure embedded)")
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=float))

