"""Data commands: ``anp data synth | preprocess | info | baseline``.

Errors of anp-emu become one line ``error: ...`` and exit 1 (handled by the ``anp`` group);
usage errors exit 2. Every output file is written atomically.
"""
from __future__ import annotations

import json
import sys

import click

from anp_emu.cli.common import SEED
from anp_emu.cli.main import main
from anp_emu.errors import FileFormatError, InputError


def _progress(length: int, label: str, enabled: bool = True):
    if not enabled:
        return _NoBar()
    return click.progressbar(length=max(length, 0), label=label, file=sys.stderr,
                             show_pos=True)


class _NoBar:
    """The progress bar's interface, silent (--no-progress)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n, current_item=None):
        pass


def _parse_params(items) -> dict:
    out = {}
    for it in items:
        if "=" not in it:
            raise click.BadParameter(f"expected KEY=VALUE, got {it!r}", param_hint="'-p/--param'")
        k, v = it.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except ValueError:
            out[k.strip()] = v
    return out


def _check_fits_the_chip(n_in: int, encoder: str, params: dict) -> None:
    """An event set with more input lines than ANP-I has (1024) could never be run: refused."""
    from anp_emu.chip import design_rules as dr
    from anp_emu.chip.spec import ANP1

    if n_in > ANP1.n_in:
        raise dr.violate(dr.SIZE_WITHIN_CHIP, f"encoder {encoder} {params or ''} input lines".replace(" ''", ""),
                         f"<= {ANP1.n_in} (ANP-I)", n_in)


@main.group()
def data():
    """EMG data: synthetic recordings, Ceolini readers, spike encoding, event datasets."""


@data.command("synth")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--subjects", "n_subjects", type=click.IntRange(1, 99), default=4, show_default=True,
              help="Number of subjects (each --sessions x 5 gestures x --reps trials).")
@click.option("--sessions", "n_sessions", type=click.IntRange(1, 99), default=3, show_default=True,
              help="Sessions per subject.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option("--reps", "n_reps", type=click.IntRange(1, 99), default=5, show_default=True,
              help="Repetitions of each gesture per session.")
@click.option("--profile", type=click.Choice(["real", "clean"]), default="real", show_default=True,
              help="real: gestures over a 10x+ amplitude range with one near rest, session gain drift, a rotated "
                   "armband in about a quarter of the sessions (as real Myo recordings); clean: the earlier generator.")
@click.option("--fs-jitter", is_flag=True, help="Record about a third of the sessions at 167-197 Hz "
                                                "(listed in OUTDIR/sampling_rates.csv).")
@click.option("--pattern-noise", type=click.FloatRange(0, 5), default=None,
              help="Per-repetition log-normal pattern noise per channel (default 0.30 real, 0.45 clean).")
@click.option("--effort-noise", type=click.FloatRange(0, 5), default=None,
              help="Per-repetition log-effort std (default 0.30 real, 0.35 clean).")
def synth(outdir, n_subjects, n_sessions, n_reps, profile, seed, fs_jitter, pattern_noise, effort_noise):
    """Write a synthetic EMG dataset in the raw Ceolini format into OUTDIR (a new folder).

    The default noise levels leave about a fifth of the trials ambiguous for any classifier of
    their amplitudes; lower --pattern-noise/--effort-noise give a set with room above a linear
    read-out (docs/experiments.md)."""
    from dataclasses import replace

    from anp_emu.emg.synthetic import SynthParams, check_outdir, write_synthetic_dataset
    check_outdir(outdir)
    params = SynthParams.profile(profile)
    if pattern_noise is not None:
        params = replace(params, rep_pattern_sd=pattern_noise)
    if effort_noise is not None:
        params = replace(params, effort_sd=effort_noise)
    with _progress(n_subjects * n_sessions, "synthesising sessions") as bar:
        info = write_synthetic_dataset(outdir, n_subjects=n_subjects, seed=seed, n_sessions=n_sessions, n_reps=n_reps,
                                       fs_jitter=fs_jitter, params=params, progress=bar.update)
    odd = {k: f for k, f in info.fs.items() if f != 200.0}
    click.echo(f"wrote {info.outdir}: {n_subjects} subjects x {n_sessions} sessions, {info.n_trials} trials, "
               f"{len(info.files)} files")
    if odd:
        click.echo(f"{len(odd)} sessions not at 200 Hz: preprocess with --fs-overrides {info.fs_table}")


@data.command("preprocess")
@click.argument("src", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Events file to write (.h5).")
@click.option("--encoder", type=click.Choice(["chip", "delta"]), default="chip", show_default=True,
              help="chip: 1024 lines (8 ch x 2 polarities x 64 levels); delta: the authors' 16 lines.")
@click.option("--T", "T", type=click.IntRange(1, 32767), default=39, show_default=True, help="Time steps per sample.")
@click.option("--fs-overrides", type=click.Path(dir_okay=False), default=None,
              help="CSV (subject,session,fs) or JSON table of per-session sampling rates in Hz.")
@click.option("--on-irregular", type=click.Choice(["keep", "drop", "raise"]), default="keep", show_default=True,
              help="Sessions that miss a class: keep (reported), drop (reported) or fail.")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Encoder parameter, e.g. -p target_density=0.05 or -p level_step=24 (fixed LSB step) for the "
                   "chip encoder, -p threshold_up=0.1 or -p calibrate=fixed (the authors' definition) for delta.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing OUTPUT file.")
def preprocess_cmd(src, output, encoder, T, fs_overrides, on_irregular, params, as_json, progress, force):
    """Encode SRC (a raw Ceolini folder or the .pkl) into an events file."""
    from pathlib import Path

    from anp_emu.emg.pipeline import count_sessions, encode_source, load_source
    enc_params = _parse_params(params)
    parent = Path(output).parent
    if not parent.is_dir():   # fail before the work, not after
        raise FileFormatError(output, f"output folder {parent} does not exist")
    from anp_emu.cli.common import refuse_existing

    refuse_existing(output, force)
    n_sessions = count_sessions(src) if Path(src).is_dir() else 0
    if n_sessions:
        with _progress(n_sessions, "reading sessions", progress and not as_json) as bar:
            data_ = load_source(src, fs_overrides=fs_overrides, on_irregular=on_irregular, progress=bar.update)
    else:
        data_ = load_source(src, fs_overrides=fs_overrides, on_irregular=on_irregular)
    with _progress(len(data_), f"encoding ({encoder})", progress and not as_json) as bar:
        ds = encode_source(data_, encoder, T, progress=bar.update, **enc_params)
    _check_fits_the_chip(ds.n_in, encoder, enc_params)
    ds.save(output)
    st = ds.stats().loc["all"]
    summary = {"output": str(output), "n_samples": len(ds), "T": ds.T, "n_in": ds.n_in, "encoder": ds.encoder,
               "events": ds.n_events, "events_per_sample": float(st["events_mean"]), "density": float(st["density"]),
               "subjects": sorted(set(ds.subject.tolist())), "warnings": ds.notes}
    if as_json:
        click.echo(json.dumps(summary))
        return
    for w in ds.notes:
        click.echo(f"warning: {w}")
    click.echo(f"wrote {output}: {len(ds)} samples, T={ds.T}, n_in={ds.n_in}, encoder {ds.encoder}, "
               f"{ds.n_events} events ({st['events_mean']:.1f} per sample, input density {100 * st['density']:.2f} %)")


def _info_dict(ds) -> dict:
    st = ds.stats()
    return {"n_samples": len(ds), "T": ds.T, "n_in": ds.n_in, "encoder": ds.encoder,
            "encoder_params": ds.encoder_params, "class_names": ds.class_names,
            "subjects": sorted(set(ds.subject.tolist())), "sessions": sorted(set(ds.session.tolist())),
            "events": ds.n_events, "notes": ds.notes,
            "stats": {k: {c: (v.item() if hasattr(v, "item") else v) for c, v in row.items()}
                      for k, row in st.to_dict(orient="index").items()}}


@data.command("info")
@click.argument("events", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def info(events, as_json):
    """Describe an events file: sizes, encoder, classes, events and density per class."""
    from anp_emu.emg.dataset import EventDataset
    ds = EventDataset.load(events)
    d = _info_dict(ds)
    if as_json:
        click.echo(json.dumps(d))
        return
    click.echo(f"{events}: {d['n_samples']} samples, T={ds.T}, n_in={ds.n_in}, encoder {ds.encoder}")
    click.echo(f"classes: {', '.join(ds.class_names)}; subjects: {d['subjects']}; sessions: {d['sessions']}")
    params = ds.encoder_params
    short = {k: v for k, v in params.items() if not isinstance(v, (dict, list)) and len(str(v)) <= 24}
    click.echo("encoder parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(short.items())))
    for k, v in sorted(params.items()):
        if k not in short:
            click.echo(f"  {k}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
    st = ds.stats().copy()
    st["density %"] = 100 * st.pop("density")
    click.echo(st.to_string(float_format=lambda v: f"{v:.2f}"))
    for n in ds.notes:
        click.echo(f"note: {n}")


@data.command("baseline")
@click.argument("src", type=click.Path())
@click.option("--method", type=click.Choice(["logreg", "centroid", "quadratic"]), default="logreg", show_default=True,
              help="quadratic: logreg on the features and their pairwise products, a non-linear reference.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Split seed (2:1, stratified).")
@click.option("--json", "as_json", is_flag=True)
def baseline(src, method, seed, as_json):
    """Accuracy of the non-spiking reference classifier on SRC (events file or raw folder)."""
    from pathlib import Path

    from anp_emu.emg.baseline import baseline_accuracy
    from anp_emu.emg.dataset import EventDataset
    from anp_emu.emg.ceolini import load_raw_folder

    p = Path(src)
    data_ = load_raw_folder(p) if p.is_dir() else EventDataset.load(p)
    warnings = data_.report.warnings if p.is_dir() and data_.report is not None else list(data_.notes)
    try:
        r = baseline_accuracy(data_, seed=seed, method=method)
    except InputError as e:                      # the data's fault: name the file
        raise FileFormatError(p, str(e)) from None
    if as_json:
        click.echo(json.dumps({**r.__dict__, "warnings": warnings}))
    else:
        for w in warnings:
            click.echo(f"warning: {w}", err=True)
        click.echo(str(r))


__all__ = ["data"]
