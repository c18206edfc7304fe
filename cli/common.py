"""Loaders and output helpers shared by the ``anp`` commands."""
from __future__ import annotations

import json
from pathlib import Path

import click

from anp_emu.errors import FileFormatError


def err_stream():
    return click.get_text_stream("stderr")


def load_dataset(path):
    """An event dataset file (``anp data preprocess`` output)."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    from anp_emu.emg.dataset import EventDataset

    return EventDataset.load(p)


def load_chip_config(path):
    """A chip config file (``anp map`` / ``anp train`` output)."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    from anp_emu.files.config_io import load_config

    return load_config(p)


# --seed of every command: the seed of scikit-learn's splits, numpy's generators and the rounding
SEED = click.IntRange(0, 2 ** 32 - 1)

def initial_config(ds_train, chip_path, seed: int, target_hidden: float, aux_frac: float, rule: str = "mpd-ed"):
    """The config training starts from: a file, or the seeded threshold-calibrated random init
    of ``anp_emu.experiments.trainer.initial_config`` (what ``Trainer`` makes without a config)."""
    from anp_emu.errors import InputError

    if chip_path:
        cfg = load_chip_config(chip_path)
        if ds_train.n_in > cfg.spec.n_in:
            raise InputError("dataset.n_in", "more input lines than the chip config has", limit=cfg.spec.n_in,
                             value=ds_train.n_in)
        return cfg, None
    from anp_emu.experiments.trainer import initial_config as init

    return init(ds_train, rule, seed, target_hidden, aux_frac)


def make_outdir(path, need_bytes: int = 0) -> Path:
    """Create the output folder ``path`` (and its parents) if needed and check, before any long
    work, that a file can be written in it and ``need_bytes`` are free. Errors name ``path``."""
    from anp_emu.files.fileio import check_writable

    out = Path(path)
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                what = "output path" if p == out else f"{p} (a parent of the output folder)"
                raise FileFormatError(out, f"{what} exists and is not a folder")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileFormatError(out, f"cannot create the output folder: {e.strerror or e}") from None
    return check_writable(out, need_bytes)


def refuse_existing(path, force: bool, option: str = "--force") -> None:
    """An existing output file is replaced only with ``--force`` (never silently)."""
    p = Path(path)
    if p.is_dir():
        raise FileFormatError(p, "is a folder, expected a file name")
    if p.exists() and not force:
        raise FileFormatError(p, f"exists; not replaced (add {option} to replace it)")


def write_json(path, obj) -> None:
    from anp_emu.files.fileio import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=1, default=_default) + "\n")


def write_csv(path, df) -> None:
    from anp_emu.files.fileio import atomic_write_text

    atomic_write_text(path, df.to_csv(index=False))


def _default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)

