"""Small deterministic run functions for testing the executor (importable by spawned and dask
workers; no numba, so a worker starts in a fraction of a second)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np


def seeded_sum(seed: int, n: int = 1000, fail: bool = False, fail_while: str | None = None,
               calls_dir: str | None = None, sleep_s: float = 0.0) -> dict:
    """The sum and maximum of ``n`` seeded standard normal draws. ``fail`` raises ValueError, and
    so does an existing file ``fail_while`` (a transient failure); ``calls_dir``: one new file per
    call there (to count calls across processes); ``sleep_s``: wait that long first."""
    import time

    time.sleep(sleep_s)
    if calls_dir is not None:
        Path(calls_dir, f"seed{seed}-{uuid.uuid4().hex}").touch()
    if fail or (fail_while is not None and Path(fail_while).exists()):
        raise ValueError(f"seed {seed}: asked to fail\nsecond line of the message")
    x = np.random.default_rng(seed).standard_normal(n)
    return {"sum": float(x.sum()), "max": float(x.max()), "n": n}


def worker_threads() -> dict:
    """The thread settings a worker runs with (NUMBA_NUM_THREADS and numba's current count)."""
    import numba

    return {"env": os.environ.get("NUMBA_NUM_THREADS"), "numba": numba.get_num_threads(), "pid": os.getpid()}


def worker_environment(names: list) -> dict:
    """The values of the environment variables ``names`` in the worker (None: unset)."""
    return {"env": {k: os.environ.get(k) for k in names}, "pid": os.getpid()}
