"""The generic run executor of every experiment grid: sweeps, ablations, cross-validation.

    specs = [RunSpec("seed=0", "anp_emu.experiments.selftest:seeded_sum", {"seed": 0, "n": 10}), ...]
    records = run_all(specs, "out", workers=2)                 # local spawn pool (default)
    records = run_all(specs, "out", executor="dask")            # a dask LocalCluster
    records = run_all(specs, "out", executor="dask", scheduler="tcp://host:8786")   # a cluster

A run is a pure function ``func(**params) -> dict`` (JSON-able) named by ``"module:function"`` so a
spawned or remote worker can import it. Each finished run is written atomically (temporary file,
then rename) by this process to ``outdir/runs/<run_id>.json``:

    {"run_id", "func", "params", "status": "ok" | "failed", "result": dict | null,
     "error": one line | null, "traceback": text | null, "wall_s": seconds inside the worker, "host"}

A run whose file holds status ``ok`` for the same func and params is not run again (resume); a
failed run is run again by the next call; a file made with other params is an error (it is never
overwritten). A run that raises is recorded as failed and the others go on. Ctrl-C (or a killed
parent) leaves every finished run's file intact and no half-written file.

Executors:
- ``local``: ``ProcessPoolExecutor`` over ``multiprocessing.get_context("spawn")`` — numba's OpenMP
  layer aborts in a forked child. ``workers`` defaults to the cores this process may use, and each
  worker gets ``threads_per_worker`` numba threads (default cores // workers, at least 1), set
  through ``NUMBA_NUM_THREADS``/``OMP_NUM_THREADS`` before the worker imports numba, so workers x
  threads never oversubscribe the cores. ``workers=1`` runs in this process (same results: a run
  depends only on its params).
- ``dask``: ``dask.distributed.Client(scheduler)`` when an address is given (the workers there must
  have anp-emu installed and see the files the params name), else a ``LocalCluster`` of
  ``workers`` single-threaded worker processes. No scheduler of our own. The LocalCluster's
  workers start without distributed's ``MALLOC_TRIM_THRESHOLD_=65536`` (its
  ``distributed.nanny.pre-spawn-environ``), which slows training; a cluster's own workers keep
  their configuration (set ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` to null
  in that cluster's dask config).
"""
from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import re
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import FileFormatError, InputError

EXECUTORS = ("local", "dask")
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.,=+@-]{0,199}$")
FUNC_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# thread-count variables a worker sets before numba (and any BLAS) is imported
THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class RunSpec:
    """One run of a grid: ``func(**params)`` with a filesystem-safe ``run_id`` unique in its grid."""

    run_id: str            # e.g. "rule=mpd-ed__seed=0__fold=2"
    func: str              # "module:function", importable in a spawned worker
    params: dict = field(default_factory=dict)   # JSON-able keyword arguments


@dataclass
class RunStatus:
    """What ``progress`` is called with after each change: counts of runs and an ETA."""

    total: int             # runs in the grid
    skipped: int           # already finished by an earlier call (not run again)
    done: int              # finished ok in this call
    failed: int            # failed in this call
    running: int           # started and not finished (at most the worker slots)
    elapsed_s: float
    eta_s: float           # NaN until a run has finished

    @property
    def finished(self) -> int:
        return self.skipped + self.done + self.failed


# ----------------------------------------------------------------------------- validation
def cores_available() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _normalised(params) -> dict:
    """params as they read back from JSON (tuples become lists); error if not JSON-able."""
    try:
        return json.loads(json.dumps(params))
    except (TypeError, ValueError) as e:
        raise InputError("params", "must be JSON-able (numbers, strings, booleans, lists, dicts)",
                         value=f"{e}") from None


def _check_specs(specs) -> list[RunSpec]:
    specs = list(specs)
    seen = set()
    for s in specs:
        if not isinstance(s, RunSpec):
            raise InputError("specs", "every item must be a RunSpec", value=type(s).__name__)
        if not isinstance(s.run_id, str) or not RUN_ID_PATTERN.match(s.run_id):
            raise InputError("run_id", "must be a filesystem-safe name (letters, digits, _ . , = + @ -; "
                             "not starting with . or -; at most 200 characters)", value=repr(s.run_id))
        if s.run_id in seen:
            raise InputError("run_id", "must be unique within a grid", value=repr(s.run_id))
        seen.add(s.run_id)
        if not isinstance(s.func, str) or not FUNC_PATTERN.match(s.func):
            raise InputError(f"{s.run_id}.func", "must be 'module:function'", value=repr(s.func))
        if not isinstance(s.params, dict):
            raise InputError(f"{s.run_id}.params", "must be a dict", value=type(s.params).__name__)
        if not all(isinstance(k, str) for k in s.params):
            raise InputError(f"{s.run_id}.params", "keys must be strings", value=list(s.params))
        _normalised(s.params)
    return specs


def run_path(outdir, run_id: str) -> Path:
    return Path(outdir) / "runs" / f"{run_id}.json"


def load_record(outdir, spec: RunSpec) -> dict | None:
    """The record of ``spec`` written by an earlier call, or None. A file that is not a run
    record, or a finished run made with another func or params, is an error: not ours to replace."""
    p = run_path(outdir, spec.run_id)
    if not p.exists():
        return None
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise FileFormatError(p, f"not a readable run record ({e.__class__.__name__}); move it away to re-run") from None
    if not isinstance(rec, dict) or rec.get("run_id") != spec.run_id or rec.get("status") not in ("ok", "failed"):
        raise FileFormatError(p, "not a run record of this grid; move it away to re-run")
    same = _func_path(rec.get("func")) == _func_path(spec.func) and rec.get("params") == _normalised(spec.params)
    if rec["status"] == "failed":
        return rec if same else None        # a failed run is run again anyway (its options may be fixed)
    if not same:
        raise FileFormatError(p, "was made with other func or params than this grid's run "
                                 f"{spec.run_id}; use another output folder")
    return rec


def _write_record(outdir, rec: dict) -> None:
    from ..files.fileio import atomic_write_text

    atomic_write_text(run_path(outdir, rec["run_id"]), json.dumps(rec, indent=1, allow_nan=True) + "\n")


# ----------------------------------------------------------------------------- in the worker
def set_worker_threads(threads: int | None) -> None:
    """Numba (and BLAS) threads of this process: the environment for libraries not imported yet,
    and ``numba.set_num_threads`` if numba already is (capped by its pool size)."""
    if threads is None:
        return
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


_IN_RUN = False


def _stop_worker(signum, frame):
    """SIGTERM/SIGINT in a spawned local worker: the driver stops its workers (after Ctrl-C).
    Idle, the worker exits at once; inside a run, SystemExit unwinds the run first, so that the
    atomic writer of a file being written removes its temporary ``.part`` file, and then
    :func:`_execute_in_worker` exits quietly (no traceback from multiprocessing)."""
    if not _IN_RUN:
        os._exit(128 + signum)
    raise SystemExit(128 + signum)


def _init_worker(threads: int | None, codegen: dict | None) -> None:
    """Initializer of a spawned local worker (signals: see :func:`_stop_worker`)."""
    import signal

    signal.signal(signal.SIGTERM, _stop_worker)
    signal.signal(signal.SIGINT, _stop_worker)
    set_worker_threads(threads)
    if codegen:
        from ..runtime import codegen as cg

        cg.apply_settings(codegen)


def _func_path(func) -> str | None:
    """``module:function`` with a module path of an earlier version read as where it lives now, so
    that a grid recorded before a module moved still resumes."""
    if not isinstance(func, str):
        return None
    from .. import moved_to

    module, _, name = func.partition(":")
    return f"{moved_to(module)}:{name}"


def _resolve(func: str) -> Callable:
    module, _, name = func.partition(":")
    return getattr(importlib.import_module(module), name)


def _error_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def execute(run_id: str, func: str, params: dict, threads: int | None = None, auto_threads: bool = False) -> dict:
    """Run one spec in this process and return its record (never raises for the run's own
    errors: a failure is a record with status "failed" and its error line). ``auto_threads``
    (a cluster's worker, whose cores we do not know): numba threads follow the machine's load
    (``anp_emu.runtime.threads``) unless that worker fixed NUMBA_NUM_THREADS."""
    set_worker_threads(threads)
    if auto_threads and threads is None:
        from ..runtime.threads import enable_auto

        enable_auto()
    t0 = time.perf_counter()
    result, error, tb = None, None, None
    try:
        out = _resolve(func)(**params)
        if not isinstance(out, dict):
            raise TypeError(f"{func} returned {type(out).__name__}, expected a dict")
        result = json.loads(json.dumps(out, allow_nan=True))
    except Exception as e:                       # noqa: BLE001 - a run's failure is data
        if _interrupted_by_user(e):
            raise KeyboardInterrupt from e
        error, tb = _error_line(e), traceback.format_exc()
    return {"run_id": run_id, "func": func, "params": _normalised(params),
            "status": "ok" if error is None else "failed", "result": result, "error": error, "traceback": tb,
            "wall_s": time.perf_counter() - t0, "host": socket.gethostname()}


def _execute_in_worker(run_id: str, func: str, params: dict, threads: int | None = None) -> dict:
    """:func:`execute` in a spawned local worker, which a signal stops (see :func:`_stop_worker`)."""
    global _IN_RUN
    _IN_RUN = True
    try:
        return execute(run_id, func, params, threads)
    except (SystemExit, KeyboardInterrupt):
        from ..files.fileio import remove_unfinished_temps

        remove_unfinished_temps()
        os._exit(143)
    finally:
        _IN_RUN = False


def _interrupted_by_user(e: BaseException) -> bool:
    """``e`` is, or was caused by, a Ctrl-C (click turns KeyboardInterrupt into Abort)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _failed(spec: RunSpec, error: str) -> dict:
    """The record of a run whose worker could not return one (it died, or the cluster lost it)."""
    return {"run_id": spec.run_id, "func": spec.func, "params": _normalised(spec.params), "status": "failed",
            "result": None, "error": error, "traceback": None, "wall_s": float("nan"), "host": None}


# ----------------------------------------------------------------------------- the driver
class _Tracker:
    def __init__(self, total, skipped, slots, progress):
        self.total, self.skipped, self.slots, self.progress = total, skipped, slots, progress
        self.done = self.failed = 0
        self.t0 = time.perf_counter()
        self.report()

    def finish(self, rec):
        if rec["status"] == "ok":
            self.done += 1
        else:
            self.failed += 1
        self.report()

    def report(self):
        if self.progress is None:
            return
        todo = self.total - self.skipped
        n = self.done + self.failed
        elapsed = time.perf_counter() - self.t0
        running = min(self.slots, todo - n)
        eta = elapsed / n * (todo - n) if n else (0.0 if todo == 0 else math.nan)
        self.progress(RunStatus(self.total, self.skipped, self.done, self.failed, running, elapsed, eta))


@contextlib.contextmanager
def _environment(values: dict):
    """Set environment variables while the pool spawns its workers (they inherit os.environ)."""
    with _kept_environment(values):
        os.environ.update({k: str(v) for k, v in values.items()})
        yield


@contextlib.contextmanager
def _kept_environment(names):
    """Restore the variables ``names`` of os.environ (set, changed or removed meanwhile) on exit."""
    old = {k: os.environ.get(k) for k in names}
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_all(specs: Iterable[RunSpec], outdir, workers: int | None = None, executor: str = "local",
            scheduler: str | None = None, progress: Callable[[RunStatus], None] | None = None,
            threads_per_worker: int | None = None) -> list[dict]:
    """Run every spec not finished yet under ``outdir`` and return all records in the order of
    ``specs`` (see the module docstring for the record, the executors and resuming)."""
    specs = _check_specs(specs)
    if executor not in EXECUTORS:
        raise InputError("executor", "unknown executor", limit=f"one of {list(EXECUTORS)}", value=repr(executor))
    if scheduler is not None and executor != "dask":
        raise InputError("scheduler", "a scheduler address needs the dask executor", value=repr(scheduler),
                         hint="add --executor dask")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise InputError("workers", "must be a positive integer", value=repr(workers))
    if threads_per_worker is not None and (not isinstance(threads_per_worker, int) or threads_per_worker < 1):
        raise InputError("threads_per_worker", "must be a positive integer", value=repr(threads_per_worker))
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise FileFormatError(out, "output path exists and is not a folder")
    (out / "runs").mkdir(parents=True, exist_ok=True)

    records: dict[str, dict] = {}
    for s in specs:
        rec = load_record(out, s)
        if rec is not None and rec["status"] == "ok":
            records[s.run_id] = rec
    todo = [s for s in specs if s.run_id not in records]
    cores = cores_available()
    if executor == "local":
        n_workers = min(workers or cores, max(1, len(todo)))
    else:
        n_workers = workers or (cores if scheduler is None else 1)
    if executor == "local" or scheduler is None:
        threads = threads_per_worker or max(1, cores // n_workers)
    else:
        threads = threads_per_worker             # a cluster's own setting unless asked
    tracker = _Tracker(len(specs), len(records), n_workers, progress)

    def store(rec):                        # called inside _sigint_noted only (it binds ``interrupted``)
        if interrupted():                  # after Ctrl-C no run is recorded (a run it broke is not a failure)
            raise KeyboardInterrupt
        _write_record(out, rec)
        records[rec["run_id"]] = rec
        tracker.finish(rec)

    if todo:
        with _sigint_noted() as interrupted:
            if executor == "local" and n_workers == 1:
                for s in todo:             # a Ctrl-C the run swallowed: store refuses its record
                    store(execute(s.run_id, s.func, s.params, threads_per_worker))
            elif executor == "local":
                _run_local(todo, n_workers, threads, store)
            else:
                _run_dask(todo, n_workers, threads, scheduler, store)
            if interrupted():
                raise KeyboardInterrupt
    return [records[s.run_id] for s in specs]


@contextlib.contextmanager
def _sigint_noted():
    """While the grid runs, SIGINT raises KeyboardInterrupt (also when this process inherited it
    ignored, as a background job of a script does) and is remembered, so that a run function that
    catches the interruption cannot make the grid carry on or end with success. Yields a function
    telling whether SIGINT arrived. Outside the main thread nothing is changed."""
    import signal
    import threading

    hits = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        hits.append(signum)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, old)


def _codegen_settings():
    try:
        from ..runtime import codegen

        return codegen.current_settings()
    except (ImportError, AttributeError):
        return None


@contextlib.contextmanager
def _main_script_hidden(specs):
    """While the pool spawns its workers, hide the ``__main__`` script from multiprocessing.

    A spawned worker re-imports the parent's main script (as ``__mp_main__``) before it runs
    anything: a script that calls ``sweep.run(..., workers=2)`` without an ``if __name__ ==
    "__main__":`` guard then starts a sweep inside every worker, multiprocessing refuses it, every
    worker dies and every run was recorded as failed. Our workers need nothing from the script
    (the run function is a "module:function" name, the parameters are plain data), so unless a
    spec's function lives in ``__main__`` the workers start from an empty main module: a script
    with or without the guard works the same."""
    import sys

    main = sys.modules.get("__main__")
    in_main = any(s.func.split(":")[0] in ("__main__", "__mp_main__") for s in specs)
    if main is None or in_main:
        yield
        return
    missing = object()
    saved = {k: main.__dict__.get(k, missing) for k in ("__file__", "__spec__")}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None        # multiprocessing.spawn.get_preparation_data reads these two
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                main.__dict__.pop(k, None)
            else:
                main.__dict__[k] = v


def _run_local(todo, n_workers, threads, store):
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    env = {name: threads for name in THREAD_ENV}
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads, _codegen_settings()))
    futures = {}
    try:
        with _environment(env), _main_script_hidden(todo):    # the workers are spawned while submitting
            for s in todo:
                futures[pool.submit(_execute_in_worker, s.run_id, s.func, s.params, threads)] = s
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                spec = futures[f]
                try:
                    rec = f.result()
                except BrokenProcessPool as e:
                    rec = _failed(spec, f"worker process died before the run finished ({_error_line(e)})")
                except Exception as e:           # noqa: BLE001 - e.g. an unpicklable result
                    rec = _failed(spec, _error_line(e))
                store(rec)
    except BaseException:
        # Ctrl-C or an error here: keep what is written, stop the workers (SIGTERM: a worker
        # removes the file it is writing, see _init_worker) and wait for them, so that no
        # half-written file is left once this returns
        # (the pool's own shutdown cancels what waits: a future cancelled here could not take the
        # broken-pool error its manager thread then sets, which kills that thread with a traceback)
        procs = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            with contextlib.suppress(Exception):
                p.terminate()
        deadline = time.monotonic() + 20
        for p in procs:
            with contextlib.suppress(Exception):
                p.join(max(0.1, deadline - time.monotonic()))
                if p.is_alive():
                    p.kill()
                    p.join(5)
        raise
    pool.shutdown(wait=True)


def _run_dask(todo, n_workers, threads, scheduler, store):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("executor", "the dask executor needs dask.distributed", value="dask",
                         hint="pip install 'anp-emu[cluster]' (dask.distributed)") from None
    import uuid

    cluster, saved = None, contextlib.nullcontext()
    if scheduler is None:
        import dask

        env = {name: str(threads) for name in THREAD_ENV}
        # distributed's nannies set distributed.nanny.pre-spawn-environ in os.environ before they
        # spawn a worker: MALLOC_TRIM_THRESHOLD_=65536 (glibc then returns freed memory to the OS
        # eagerly; about 25 % of a training run's time in one measurement, as training allocates
        # and frees per-sample buffers) and 1 thread for OMP/MKL/OpenBLAS. Start our workers
        # without the former, with our thread count for the latter, and keep this process's
        # environment as it was (the nannies run here).
        pre = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in env.items()}
        pre["distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"] = None
        current = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
        saved = _kept_environment(set(current) | set(env) | {"MALLOC_TRIM_THRESHOLD_", "PYTHONHASHSEED"})
        saved.__enter__()
        try:
            with dask.config.set(pre):
                cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, env=env)
            client = Client(cluster)
        except BaseException:
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()
            saved.__exit__(None, None, None)
            raise
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError("scheduler", "cannot connect to the dask scheduler", value=repr(scheduler),
                             hint=_error_line(e)) from None
    token = uuid.uuid4().hex[:8]
    futures = {}
    try:
        for s in todo:
            f = client.submit(execute, s.run_id, s.func, s.params, threads, scheduler is not None,
                              key=f"anp-run-{s.run_id}-{token}", pure=False)
            futures[f.key] = (f, s)
        for f in as_completed([f for f, _ in futures.values()]):
            spec = futures[f.key][1]
            try:
                rec = f.result()
            except Exception as e:               # noqa: BLE001 - KilledWorker, lost connection, ...
                rec = _failed(spec, _error_line(e))
            store(rec)
    finally:
        with contextlib.suppress(Exception):
            client.cancel([f for f, _ in futures.values()])
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
        saved.__exit__(None, None, None)
