"""Numba threads on a shared machine: as many as the cores other processes leave free.

numba's default (its OpenMP layer, every core, threads that spin while they wait) collapses as
soon as the cores are shared: three `anp train` runs at once on 2 cores took 5-8x their
one-thread time, each run's spinning threads taking the cores the others need
(benchmarks/README.md, threading). One thread per run loses the threaded weight update's gain on
an idle machine (about 20 % of a step in the fast phase). So the ``anp`` command and the library
adapt alike (the same thread counts, and so the same compiled kernels: a threaded update kernel
is compiled only when more than one thread is granted, ``learning.update.update_kernels``):

- whenever a learning engine is made (``LearningEngine`` calls ``adapt()``; a ``Trainer`` makes
  one per epoch) the number of other runnable tasks is read from the kernel (``/proc/loadavg``, less this process's own
  running threads, the median of a few samples) and numba gets ``cores - others`` threads, at
  least 1 (``numba.set_num_threads``; the OpenMP layer's idle threads then sleep);
- ``NUMBA_NUM_THREADS`` set by the user, or ``ANP_THREADING=numba``, turns this off: numba's own
  settings apply as they are (the sweep's workers are started with NUMBA_NUM_THREADS set, so that
  workers x threads fit the cores).

Results never depend on the thread count (the update kernels split rows into independent chunks).
"""
from __future__ import annotations

import os
import time

SWITCH = "ANP_THREADING"          # "auto" (the default, command and library alike) or "numba" (numba's own)


def _auto_from_env() -> bool:
    mode = os.environ.get(SWITCH, "auto").strip().lower()
    return mode == "auto" and not os.environ.get("NUMBA_NUM_THREADS")


_auto = _auto_from_env()          # on by default, for the library too (read once at import)


def enable_auto() -> bool:
    """Adapt the thread count to the machine's load from now on (unless the user fixed it with
    NUMBA_NUM_THREADS or ANP_THREADING=numba); returns whether adapting is on."""
    global _auto
    _auto = _auto_from_env()
    return _auto


def cores_available() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _own_running() -> int:
    n = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                n += f.read().rpartition(")")[2].split()[0] == "R"
        except OSError:
            pass
    return n


def other_runnable(samples: int = 5, gap_s: float = 0.001) -> int | None:
    """Runnable tasks of other processes now (median of ``samples`` reads), or None off Linux."""
    reads = []
    try:
        for k in range(samples):
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
            reads.append(max(0, running - max(1, _own_running())))
            if k + 1 < samples:
                time.sleep(gap_s)
    except (OSError, ValueError, IndexError):
        return None
    return sorted(reads)[len(reads) // 2]


def adapt() -> int | None:
    """If adapting is on, set numba's threads to the cores the other tasks leave free (at least
    1); returns the count set, or None when off."""
    if not _auto:
        return None
    others = other_runnable()
    if others is None:
        return None
    import numba

    n = max(1, min(numba.config.NUMBA_NUM_THREADS, cores_available() - others))
    numba.set_num_threads(n)
    return n
