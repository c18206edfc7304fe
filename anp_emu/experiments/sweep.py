"""``anp sweep``: a grid of ``anp train`` runs, in parallel, resumable, as one tidy table.

A SPEC is a small TOML file (or the same as a dict):

    dataset = "ev10.h5"                  # relative paths: relative to the SPEC file
    [grid]                               # lists, crossed
    rule = ["mpd-ed", "stbp"]
    seed = [0, 1, 2]
    [fixed]                              # single values, the same for every run
    epochs = 3
    loss = "tet"
    [[arms]]                             # optional: option sets taken together, crossed with [grid]
    aft = "aux"
    [[arms]]
    aft = "ideal"
    precision = "float"

Keys are the ``anp train`` options under their long names with ``_`` for ``-`` (``lr_shift``,
``temporal_window``, ``operating_point``, ``temporal = false`` ...). Every key, type and range is
checked before any run starts. ``run`` trains every combination through the run executor
(:mod:`anp_emu.experiments.runner`) and writes, under OUT:

    runs/<run_id>.json     each run's record (params, status, error line, figures, wall time)
    runs/<run_id>/         each run's ``anp train`` folder (trained config.h5, log.csv, checkpoint)
    results.csv            one row per run: a column per option, the figures, status, wall time
                           (and results.parquet when pyarrow is installed)
    summary.csv            grouped by the swept options other than seed: mean, sd and n
    spec.json              the SPEC as run

    import anp_emu.experiments.sweep
    table = anp_emu.experiments.sweep.run("sweep.toml", "out", workers=2)
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import AnpError, FileFormatError, InputError

RUN_FUNC = "anp_emu.experiments.train_run:train_run"
SPEC_KEYS = {"dataset", "grid", "fixed", "arms"}
# swept options that are replicates, not arms: the summary pools over them
REPLICATE_KEYS = ("seed", "fold")
SUMMARY_METRICS = ("test_accuracy", "train_accuracy", "learning_nj", "inference_nj", "total_nj", "hidden_activity",
                   "output_activity",
                   "wall_s")


@dataclass(frozen=True)
class SweepSpec:
    dataset: str                                   # absolute path
    grid: dict = field(default_factory=dict)       # key -> list of values (crossed, in this order)
    fixed: dict = field(default_factory=dict)      # key -> value
    arms: list = field(default_factory=list)       # [[arms]]: option sets taken together, crossed with the grid

    @property
    def swept(self) -> list[str]:
        """Every key that varies between runs: the arms' keys, then the grid's."""
        keys = [k for a in self.arms for k in a]
        return list(dict.fromkeys(keys + list(self.grid)))

    @property
    def arm_keys(self) -> list[str]:
        """The swept keys that define an arm of the summary (all but the replicates seed, fold)."""
        return [k for k in self.swept if k not in REPLICATE_KEYS]

    def combinations(self) -> list[dict]:
        keys = list(self.grid)
        crossed = [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]
        return [{**arm, **combo} for arm in (self.arms or [{}]) for combo in crossed]

    def run_specs(self, outdir) -> list:
        from .runner import RunSpec

        out = Path(outdir).resolve()
        specs = []
        for combo in self.combinations():
            run_id = run_name(combo)
            params = {"dataset": self.dataset, "output": str(out / "runs" / run_id), **self.fixed, **combo}
            specs.append(RunSpec(run_id, RUN_FUNC, params))
        return specs

    def to_dict(self) -> dict:
        d = {"dataset": self.dataset, "grid": self.grid, "fixed": self.fixed}
        if self.arms:
            d["arms"] = self.arms
        return d


def run_name(combo: dict) -> str:
    """A filesystem-safe run id from the swept values, e.g. ``rule=mpd-ed__seed=0``."""
    import re

    parts = []
    for k, v in combo.items():
        text = ("true" if v else "false") if isinstance(v, bool) else (repr(v) if isinstance(v, float) else str(v))
        parts.append(f"{k}={re.sub(r'[^A-Za-z0-9_.,+@-]', '_', text)}")
    return "__".join(parts) or "run"


# ----------------------------------------------------------------------------- reading a SPEC
def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:                   # Python 3.10
        import tomli as tomllib
    if not path.exists():
        raise FileFormatError(path, "file not found")
    if path.is_dir():
        raise FileFormatError(path, "is a folder, expected a TOML sweep SPEC")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(path, f"not valid TOML: {e}") from None


def load_spec(spec) -> SweepSpec:
    """A checked :class:`SweepSpec` from a TOML file path or a dict (relative dataset paths are
    relative to the file, or to the working folder for a dict). Every error names the key."""
    from .train_run import check_option

    if isinstance(spec, SweepSpec):
        spec = spec.to_dict()
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        raw, base = _read_toml(path), path.resolve().parent
    elif isinstance(spec, dict):
        raw, base = spec, Path.cwd()
    else:
        raise InputError("spec", "must be a TOML file path or a dict", value=type(spec).__name__)
    unknown = sorted(set(raw) - SPEC_KEYS)
    if unknown:
        raise InputError(unknown[0], "unknown SPEC key", limit=f"one of {sorted(SPEC_KEYS)}",
                         hint="options go in [grid] (lists, crossed) or [fixed] (single values)")
    if "dataset" not in raw:
        raise InputError("dataset", "missing", hint='add dataset = "PATH" (an `anp data preprocess` file)')
    if not isinstance(raw["dataset"], str) or not raw["dataset"]:
        raise InputError("dataset", "must be a file path (text)", value=repr(raw["dataset"]))
    dataset = Path(raw["dataset"]).expanduser()
    dataset = (dataset if dataset.is_absolute() else base / dataset).resolve()
    if not dataset.is_file():
        raise InputError("dataset", "file not found", value=str(dataset))
    check_events_file(dataset)
    grid, fixed, arms = raw.get("grid", {}), raw.get("fixed", {}), raw.get("arms", [])
    for name, table in (("grid", grid), ("fixed", fixed)):
        if not isinstance(table, dict):
            raise InputError(name, "must be a table", value=repr(table), hint=f"write [{name}] on a line of its own")
    if not isinstance(arms, list) or not all(isinstance(a, dict) and a for a in arms):
        raise InputError("arms", "must be an array of non-empty tables", value=repr(arms),
                         hint="write [[arms]] above each arm's options")
    for i, arm in enumerate(arms):
        for key, value in arm.items():
            if key in grid or key in fixed:
                raise InputError(f"arms[{i}].{key}", "is also in [grid] or [fixed]", hint="keep it in one table")
            if isinstance(value, list):
                raise InputError(f"arms[{i}].{key}", "must be a single value", value=repr(value))
            check_option(key, value, f"arms[{i}].")
    if len({json.dumps(a, sort_keys=True) for a in arms}) < len(arms):
        raise InputError("arms", "two arms are the same", value=repr(arms))
    if not grid and not arms:
        raise InputError("grid", "empty: nothing to sweep",
                         hint='give at least one list of values, e.g. [grid] seed = [0, 1, 2]')
    for key, values in grid.items():
        if not isinstance(values, list):
            raise InputError(f"grid.{key}", "must be a list of values", value=repr(values),
                             hint="or move it to [fixed]")
        if not values:
            raise InputError(f"grid.{key}", "empty list: the grid would have no runs", value="[]")
        for v in values:
            check_option(key, v, "grid.")
        seen = []
        for v in values:
            if any(v == s and type(v) is type(s) for s in seen):
                raise InputError(f"grid.{key}", "repeated value", value=repr(v))
            seen.append(v)
    for key, value in fixed.items():
        if key in grid:
            raise InputError(f"fixed.{key}", "is also in [grid]", hint="keep it in one table")
        if isinstance(value, list):
            raise InputError(f"fixed.{key}", "must be a single value (lists belong in [grid])", value=repr(value))
        check_option(key, value, "fixed.")
    grid = {k: [_resolve_path(k, v, base) for v in vs] for k, vs in grid.items()}
    fixed = {k: _resolve_path(k, v, base) for k, v in fixed.items()}
    arms = [{k: _resolve_path(k, v, base) for k, v in a.items()} for a in arms]
    out = SweepSpec(str(dataset), grid, fixed, arms)
    _check_combinations(out)
    return out


_CHECKED_EVENTS: dict = {}


def check_events_file(path: Path) -> None:
    """Open ``path`` with the events-file reader (format, version, every field) before any run
    starts, so that a file that is not an events file is one error, not a failure of every run.
    A file is read once per process while its size and modification time stay the same."""
    from ..emg.dataset import EventDataset

    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _CHECKED_EVENTS:
        return
    from .trainer import check_classes

    try:
        ds = EventDataset.load(path)
    except AnpError as e:
        raise InputError("dataset", "not a readable events file (an `anp data preprocess` output)",
                         value=f"{e}") from None
    check_classes(ds.labels, f"dataset {path}", ds.class_names)
    _CHECKED_EVENTS.clear()
    _CHECKED_EVENTS[key] = True


def _resolve_path(key, value, base: Path):
    """File options (e.g. ``chip``) relative to the SPEC's folder, as the dataset."""
    import click

    from .train_run import train_parameters

    if isinstance(train_parameters()[key].type, click.Path) and value:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())
    return value


def _check_combinations(spec: SweepSpec) -> None:
    """Constraints between options, checked for every run before any starts."""
    from .trainer import TrainOptions

    for combo in spec.combinations():
        opts = {**spec.fixed, **combo}
        try:
            TrainOptions(epochs=opts.get("epochs", 5), precision=opts.get("precision", "int"),
                         aft=opts.get("aft", "aux"))
        except InputError as e:
            raise InputError(f"{run_name(combo)}: {e.field}", e.problem, limit=e.limit, value=e.value) from None
        if opts.get("split") == "subjects" and not opts.get("test_subjects"):
            raise InputError(f"{run_name(combo)}: test_subjects", "needed with split = \"subjects\"",
                             hint='e.g. test_subjects = "1,2"')


# ----------------------------------------------------------------------------- running
SWEEP_FILES = ("spec.json", "results.csv", "results.parquet", "summary.csv")   # beside runs/ (the runner's)


def claim_outdir(out, kind: str = "sweep", own_files=()):
    """The output folder of a sweep (or of a command built on one: ``kind`` cv, ablation, with
    the files it writes itself, ``own_files``), claimed before anything is written
    (``anp_emu.files.manifest``): a new folder, or an earlier output of the same kind, which is
    resumed. A folder holding ``runs/`` or a file of these names without our manifest, or the
    output of another command, is refused: a folder that merely looks like ours is not ours."""
    from ..files.manifest import OutputFolder, read_manifest

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileFormatError(out, "output path exists and is not a folder")
    m = read_manifest(out) if out.is_dir() else None
    if m is None and out.is_dir():
        names = sorted(p.name for p in out.iterdir())
        if names:
            raise FileFormatError(out, f"holds files that are not an earlier sweep's (e.g. {names[0]}; the folder has "
                                       "no anp-manifest.json): nothing is written there, choose a new folder")
    return OutputFolder.claim(out, kind, SWEEP_FILES + tuple(own_files), resume=m is not None)


def check_grid(out: Path, specs) -> None:
    """Before anything is written into an earlier sweep's folder: every finished run there is a run
    of this grid (the same grid, or a larger one: results.csv keeps every finished row), made with
    the same options (``runner.load_record`` refuses another)."""
    from .runner import load_record

    runs = out / "runs"
    if not runs.is_dir():
        return
    ids = {s.run_id for s in specs}
    for p in sorted(runs.glob("*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            rec = None
        if isinstance(rec, dict) and rec.get("status") == "ok" and rec.get("run_id") not in ids:
            raise FileFormatError(out, f"holds finished runs of another grid (e.g. {rec.get('run_id')}) that this grid "
                                       "would drop from results.csv; run the same grid (or one that includes it), "
                                       "or choose a new folder")
    for s in specs:
        load_record(out, s)


def run(spec, outdir, workers: int | None = None, executor: str = "local", scheduler: str | None = None,
        progress=None, threads_per_worker: int | None = None, own=None) -> pd.DataFrame:
    """Run the sweep ``spec`` (TOML path, dict or :class:`SweepSpec`) into ``outdir`` (finished
    runs are skipped) and return the results table (one row per run, in grid order). ``outdir``
    must be new or an earlier sweep's of a grid this one includes (``claim_outdir``,
    ``check_grid``), checked before anything is written; ``own``: the folder already claimed by
    the calling command (cv, ablation)."""
    from .runner import run_all

    sweep = load_spec(spec)
    out = Path(outdir)
    own = own if own is not None else claim_outdir(out)
    specs = sweep.run_specs(out)
    check_grid(out, specs)
    out.mkdir(parents=True, exist_ok=True)
    spec_text = json.dumps(sweep.to_dict(), indent=1) + "\n"
    own.write_text("spec.json", spec_text)
    records = run_all(specs, out, workers=workers, executor=executor, scheduler=scheduler, progress=progress,
                      threads_per_worker=threads_per_worker)
    table = results_table(sweep, records)
    own.write_text("results.csv", table.to_csv(index=False))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        from ..files.fileio import atomic_path

        with atomic_path(out / "results.parquet") as tmp:
            table.to_parquet(tmp, index=False)
        own.wrote("results.parquet")
    own.write_text("summary.csv", summarise(table, sweep.arm_keys).to_csv(index=False))
    return table


def results_table(sweep: SweepSpec, records: list[dict]) -> pd.DataFrame:
    """One row per run: run_id, a column per option (grid, then fixed), the figures, status,
    error line, wall time."""
    from .train_run import METRICS

    keys = sweep.swept + [k for k in sweep.fixed if k not in sweep.swept]
    rows = []
    for rec in records:
        p = rec["params"]
        row = {"run_id": rec["run_id"], **{k: p.get(k) for k in keys}}
        res = rec.get("result") or {}
        for m in METRICS + ("epochs_done",):
            row[m] = res.get(m, math.nan)
        row["status"] = rec["status"]
        row["error"] = rec.get("error") or ""
        row["wall_s"] = rec.get("wall_s", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame, arms: list[str], metrics=SUMMARY_METRICS) -> pd.DataFrame:
    """Mean, sd (n - 1) and n of each metric per arm, over the finished runs."""
    ok = table[table["status"] == "ok"]
    cols = [m for m in metrics if m in ok.columns]
    if arms:
        groups = ok.groupby(arms, sort=False, dropna=False)
    else:
        groups = [((), ok)]
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(arms, key))
        row["n"] = len(g)
        for m in cols:
            x = pd.to_numeric(g[m], errors="coerce")
            row[f"{m}_mean"] = float(x.mean()) if len(x) else math.nan
            row[f"{m}_sd"] = float(x.std(ddof=1)) if len(x) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def format_summary(summary: pd.DataFrame, arms: list[str]) -> str:
    """The summary as a human table: mean ± sd (n) of accuracy and energy per arm."""
    lines = []
    head = arms + ["n", "test accuracy", "train accuracy", "learning nJ", "inference nJ", "total nJ",
                   "hidden activity"]
    body = []
    for r in summary.to_dict(orient="records"):
        def pm(m, scale=1.0, fmt="{:.1f}"):
            mu, sd = r.get(f"{m}_mean", math.nan), r.get(f"{m}_sd", math.nan)
            s = fmt.format(mu * scale)
            return s + (" ± " + fmt.format(sd * scale) if not math.isnan(sd) else "")
        body.append([str(r[a]) for a in arms] + [str(r["n"]), pm("test_accuracy", 100) + " %",
                                                 pm("train_accuracy", 100) + " %",
                                                 *(pm(f, 1, "{:,.0f}") for f in ("learning_nj", "inference_nj",
                                                                                 "total_nj")),
                                                 pm("hidden_activity", 100, "{:.2f}") + " %"])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for b in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(b, widths)))
    return "\n".join(lines)
