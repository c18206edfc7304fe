"""What the pictures read: `anp train` run folders, sweep / cv / ablation folders, and the chip
runs of one sample (recorded traces), with one FileFormatError per bad input."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FileFormatError, InputError

RUN_FILES = ("summary.json", "log.csv")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise FileFormatError(path, "empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise FileFormatError(path, f"not a readable CSV ({' '.join(str(e).split())[:120]})") from None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise FileFormatError(path, f"not readable JSON ({e.__class__.__name__})") from None


def kind_of(folder) -> str:
    """"run" (anp train), "cv" (anp cv), "ablation" (anp ablation) or "sweep" (anp sweep)."""
    p = Path(folder)
    if not p.exists():
        raise FileFormatError(p, "not found (expected the -o folder of anp train, sweep, cv or ablation)")
    if not p.is_dir():
        raise FileFormatError(p, "not a folder (expected the -o folder of anp train, sweep, cv or ablation)")
    if (p / "summary.json").exists() and (p / "log.csv").exists():
        return "run"
    if (p / "folds.csv").exists():
        return "cv"
    if (p / "ablation.csv").exists():
        return "ablation"
    if (p / "results.csv").exists():
        return "sweep"
    raise FileFormatError(p, "holds none of summary.json + log.csv (anp train), results.csv (anp sweep), "
                             "folds.csv (anp cv), ablation.csv (anp ablation)")


@dataclass
class Run:
    """An `anp train` output folder, read and checked."""
    path: Path
    summary: dict
    log: pd.DataFrame
    counters: pd.DataFrame | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def rule(self) -> str:
        return str(self.summary.get("rule", "run"))

    @property
    def T(self) -> int:
        return int(self.summary["T"])

    def spec(self):
        from ..chip.spec import ChipSpec

        try:
            n_in, n_hid, n_out = (int(v) for v in str(self.summary["network"]).split("-"))
        except (KeyError, ValueError):
            raise FileFormatError(self.path / "summary.json", f"network: unreadable {self.summary.get('network')!r}") from None
        return ChipSpec(n_in=n_in, n_hid=n_hid, n_out=n_out)

    def epoch_counters(self) -> dict:
        """{epoch: Counters summed over the epoch} from counters.csv."""
        from ..chip.counters import LAYERS, NAMES, Counters

        if self.counters is None:
            raise FileFormatError(self.path / "counters.csv", "missing: this run kept no counters (train it again)")
        out = {}
        for epoch, g in self.counters.groupby("epoch", sort=True):
            c = np.zeros((len(LAYERS), len(NAMES)), dtype=np.int64)
            for layer, counter, total in zip(g["layer"], g["counter"], g["total"]):
                if layer not in LAYERS or counter not in NAMES:
                    raise FileFormatError(self.path / "counters.csv", f"unknown layer/counter {layer}/{counter}")
                c[LAYERS.index(layer), NAMES.index(counter)] = int(total)
            out[int(epoch)] = Counters(c, n_samples=int(g["samples"].iloc[0]))
        if not out:
            raise FileFormatError(self.path / "counters.csv", "no trained epoch")
        return out

    def total_counters(self):
        from ..chip.counters import Counters

        tot = Counters(n_samples=0)
        for c in self.epoch_counters().values():
            tot.update(c)
        return tot

    def config(self, which: str = "trained"):
        """The trained config (config.h5) or the initial one (config_init.h5); None when absent."""
        from ..files.config_io import load_config

        f = self.path / ("config.h5" if which == "trained" else "config_init.h5")
        return load_config(f) if f.exists() else None

    def datasets(self):
        """(train, test) event datasets of this run: its dataset file split as `anp train` split it
        (the encoder refitted on the training part). Needs ``split_args`` in summary.json."""
        if "test" in self._cache:
            return self._cache["train"], self._cache["test"]
        from ..emg.crossval import split_dataset
        from ..emg.dataset import EventDataset

        ds_path = Path(str(self.summary.get("dataset", "")))
        if not ds_path.is_absolute() and not ds_path.exists():
            ds_path = self.path / ds_path
        if not ds_path.is_file():
            raise FileFormatError(ds_path, "the run's dataset file is not found (summary.json: dataset)")
        args = self.summary.get("split_args")
        if args is None:
            raise FileFormatError(self.path / "summary.json", "split_args: missing (a run of an earlier version; "
                                                              "train it again for pictures of its test set)")
        ds = EventDataset.load(ds_path)
        sd = split_dataset(ds, args["split"], args.get("fold"), seed=int(args["seed"]),
                           train_fraction=float(args["train_fraction"]), k=int(args["folds"]),
                           test_subjects=args.get("test_subjects"), refit=args.get("encoder_fit", "train") == "train",
                           align=bool(args.get("align_sessions", False)))
        self._cache.update(train=sd.train, test=sd.test)
        return sd.train, sd.test

    def evaluation(self, precision: str = "int"):
        """The trained config evaluated on the test split (cached)."""
        key = f"eval-{precision}"
        if key not in self._cache:
            from ..chip.emulator import Chip
            from ..experiments.evaluate import evaluate

            cfg = self.config("trained")
            if cfg is None:
                raise FileFormatError(self.path / "config.h5", "missing (a float-twin run, or training did not finish)")
            _, test = self.datasets()
            self._cache[key] = evaluate(Chip(cfg, precision), test)
        return self._cache[key]


def load_run(folder) -> Run:
    p = Path(folder)
    if not p.exists():
        raise FileFormatError(p, "run folder not found (expected the -o folder of anp train)")
    if not p.is_dir():
        raise FileFormatError(p, "not a folder (expected the -o folder of anp train)")
    for n in RUN_FILES:
        if not (p / n).exists():
            raise FileFormatError(p / n, "missing: not an `anp train` run folder")
    summary = _read_json(p / "summary.json")
    if not isinstance(summary, dict):
        raise FileFormatError(p / "summary.json", "expected a JSON object")
    for k in ("rule", "network", "T"):
        if k not in summary:
            raise FileFormatError(p / "summary.json", f"{k}: required field missing")
    log = _read_csv(p / "log.csv")
    need = {"epoch", "train_accuracy", "test_accuracy"}
    if not need <= set(log.columns):
        raise FileFormatError(p / "log.csv", f"columns: expected at least {sorted(need)}, got {sorted(log.columns)[:8]}")
    counters = None
    if (p / "counters.csv").exists():
        counters = _read_csv(p / "counters.csv")
        need = {"epoch", "samples", "layer", "counter", "total"}
        if not need <= set(counters.columns):
            raise FileFormatError(p / "counters.csv", f"columns: expected {sorted(need)}, got {sorted(counters.columns)}")
    return Run(p, summary, log, counters)


def load_table(folder, kind: str | None = None) -> tuple[str, pd.DataFrame]:
    """(kind, table) of a sweep (results.csv), cv (folds.csv) or ablation (results.csv per run)."""
    p = Path(folder)
    kind = kind or kind_of(p)
    name = {"sweep": "results.csv", "ablation": "results.csv", "cv": "folds.csv"}.get(kind)
    if name is None:
        raise InputError("folder", "not a sweep, cv or ablation folder", value=str(p))
    f = p / name
    if not f.exists():
        raise FileFormatError(f, "missing")
    t = _read_csv(f)
    for c in ("test_accuracy",):
        if c not in t.columns:
            raise FileFormatError(f, f"column {c}: required column missing")
    return kind, t


def sample_traces(config, events, precision: str = "int", float_params: dict | None = None):
    """The recorded run (``RunResult`` with v/th/s traces) of one sample."""
    from ..chip.emulator import Chip

    return Chip(config, precision, float_params=float_params).run(events, record=True)
