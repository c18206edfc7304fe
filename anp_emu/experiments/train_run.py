"""One training run of a sweep: exactly ``anp train`` with the given options, as a run function.

The options are those of ``anp train`` under their long names with ``_`` for ``-`` (``lr_shift``,
``temporal``/``reset`` as booleans, ``operating_point``, ``chip``, the split and fold options ...).
They are read from the command's own click parameters, so every option ``anp train`` has — and
its checks, defaults and error messages — is a sweep option with no second list to keep in step.

This module is orchestration (like the CLI): it wires the dataset readers (``anp_emu.emg``) and
the chip; the chip package itself imports neither.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

from ..errors import InputError

# options of ``anp train`` that a sweep sets itself (never keys of a SPEC)
RESERVED = {"dataset", "outdir", "resume", "as_json", "progress"}
METRICS = ("train_accuracy", "test_accuracy", "best_test_accuracy", "learning_nj", "inference_nj", "total_nj",
           "hidden_activity",
           "output_activity", "sop_per_sample", "learning_ops_per_sample", "loss", "dead_hidden", "train_samples",
           "test_samples", "train_s")


def _train_command():
    from ..cli.commands_train import train_cmd

    return train_cmd


def train_parameters() -> dict:
    """SPEC key -> the click parameter of ``anp train`` it sets."""
    out = {}
    for p in _train_command().params:
        if p.name in RESERVED or not p.opts or not p.opts[-1].startswith("--"):
            continue
        long = max(p.opts, key=len)
        out[long[2:].replace("-", "_")] = p
    return out


def option_arguments(options: dict) -> list[str]:
    """The ``anp train`` command line of ``options`` (SPEC keys; checked by ``check_option``)."""
    params = train_parameters()
    args = []
    for key, value in options.items():
        p = params[key]
        long = max(p.opts, key=len)
        if p.is_flag:
            if value:
                args.append(long)
            elif p.secondary_opts:
                args.append(p.secondary_opts[0])
        elif value is not None:
            args += [long, str(value) if not isinstance(value, float) else repr(value)]
    return args


def check_option(key: str, value, where: str = "") -> None:
    """One clear error naming the key if ``value`` is not a valid value of ``anp train --KEY``."""
    import click

    params = train_parameters()
    name = f"{where}{key}"
    if key in RESERVED:
        raise InputError(name, "is set by the sweep itself, not by a SPEC", value=repr(value))
    if key not in params:
        raise InputError(name, "unknown option", limit=f"one of {sorted(params)}", value=repr(key))
    p = params[key]
    t = p.type
    if isinstance(value, bool) != bool(p.is_flag):
        raise InputError(name, "must be true or false" if p.is_flag else f"must be {_kind(t)}", value=repr(value))
    if p.is_flag:
        return
    if isinstance(t, (click.types.IntParamType,)) and not isinstance(value, int):
        raise InputError(name, "must be an integer", value=repr(value))
    if isinstance(t, click.types.FloatParamType) and not isinstance(value, (int, float)):
        raise InputError(name, "must be a number", value=repr(value))
    if isinstance(t, (click.Choice, click.types.StringParamType, click.Path)) and not isinstance(value, str):
        raise InputError(name, f"must be {_kind(t)}", value=repr(value))
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(name, "must be finite", value=repr(value))
    try:
        t.convert(value, p, None)
    except click.BadParameter as e:
        raise InputError(name, " ".join(e.format_message().split()), value=repr(value)) from None


def _kind(t) -> str:
    import click

    if isinstance(t, click.Choice):
        return f"one of {list(t.choices)}"
    if isinstance(t, click.types.IntParamType):
        return "an integer"
    if isinstance(t, click.types.FloatParamType):
        return "a number"
    return "text"


def train_run(dataset: str, output: str, **options) -> dict:
    """Train as ``anp train DATASET -o OUTPUT --KEY VALUE ...`` would (quietly) and return the
    run's figures: final train/test accuracy, the best test accuracy, the learning, inference and
    total energy per training sample averaged over every sample of every epoch (the paper's
    metric: learning), at the run's operating point, activity per layer
    averaged the same way, SOPs and learning operations per sample, training time. A run folder
    with a checkpoint of an interrupted run is resumed (bit-identically)."""
    import pandas as pd

    for key, value in options.items():
        check_option(key, value)
    out = Path(output)
    args = [str(dataset), "-o", str(out), "--json", "--no-progress"] + option_arguments(options)
    if (out / "checkpoint.h5").exists():
        args.append("--resume")
    elif out.exists():
        args.append("--force")      # the sweep's own run folder, left by a run stopped before its first epoch
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        _train_command().main(args=args, prog_name="anp train", standalone_mode=False)
    summary = json.loads((out / "summary.json").read_text())
    log = pd.read_csv(out / "log.csv")
    n = float(summary["train_samples"])
    w = pd.Series(n, index=log.index)                  # samples per epoch (each epoch sees the whole train set)

    def per_sample(col):
        return float((log[col] * w).sum() / w.sum())

    last = log.iloc[-1]
    return {"train_accuracy": float(last["train_accuracy"]), "test_accuracy": float(last["test_accuracy"]),
            "best_test_accuracy": float(log["test_accuracy"].max()),
            **{f: per_sample(f) for f in ("learning_nj", "inference_nj", "total_nj")},
            "hidden_activity": per_sample("hidden_activity"), "output_activity": per_sample("output_activity"),
            "sop_per_sample": per_sample("sop_per_sample"),
            "learning_ops_per_sample": per_sample("learning_ops_per_sample"), "loss": float(last["loss"]),
            "dead_hidden": int(last["dead_hidden"]), "train_samples": int(n),
            "test_samples": int(summary["test_samples"]), "epochs_done": int(len(log)),
            "train_s": float((n / log["samples_per_s"]).sum()), "network": summary["network"]}
