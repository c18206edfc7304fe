"""Compile every numba kernel the chip and its learning rules use, ahead of time (``anp warmup``).

numba compiles a kernel on its first call for each type signature and writes it to the on-disk
cache (``NUMBA_CACHE_DIR``, else ``__pycache__`` beside the sources); every later process loads
it from there. ``compile_kernels`` runs each path once on a tiny chip — the same types as the real
1024-512-10 chip (int8 hidden / int16 output weights on the int chip, float64 on the float twin) —
so an image or a cluster's workers can be prepared once: int and float precision, the aux and ideal
AFT, MPD-ED and STBP, both losses, applied updates and plain gradients, inference; each update on
one numba thread (the serial kernels) and, where numba has more, on two (the threaded kernels run
only then: ``learning.update.update_kernels``). Only the types matter, not the sizes, so the run
takes seconds once compiled and a few minutes on an empty cache.
"""
from __future__ import annotations

import time
from typing import Callable

import numba
import numpy as np

PATHS = [  # (precision, aft, rule, loss)
    ("int", "aux", "mpd-ed", "tet"), ("int", "aux", "mpd-ed", "ce"), ("int", "aux", "stbp", "tet"),
    ("int", "aux", "stbp", "ce"), ("float", "aux", "mpd-ed", "tet"), ("float", "aux", "stbp", "tet"),
    ("float", "ideal", "mpd-ed", "tet"), ("float", "aux", "mpd-ed", "ce"),
]


def compile_kernels(progress: Callable[[str, float], None] | None = None) -> list[tuple[str, float]]:
    """Run every kernel path once; returns (path, seconds) per path (load or compile time)."""
    from ..chip.emulator import Chip
    from ..chip.config import ChipConfig
    from ..chip.events import as_spike_input
    from ..learning.engine import LearningEngine
    from ..learning.settings import LearningSettings
    from ..chip.spec import ChipSpec

    spec = ChipSpec(n_in=96, n_hid=64, n_out=4)
    rng = np.random.default_rng(0)
    x = (rng.random((6, spec.n_in)) < 0.3).astype(np.uint8)
    si = as_spike_input(x, spec.n_in)
    done = []
    t0 = time.perf_counter()
    threads = numba.get_num_threads()
    counts = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})
    for precision, aft, rule, loss in PATHS:
        cfg = ChipConfig(spec, rng.integers(-40, 41, (spec.n_hid, spec.n_in)), rng.integers(-60, 61, (4, 64)), 60, 60,
                         8, 8, learning=LearningSettings(rule=rule, loss=loss, lr=1000.0))
        chip = Chip(cfg, precision, aft=aft)
        eng = LearningEngine(chip)
        try:
            for n in counts:
                numba.set_num_threads(n)
                eng.train_step(si, 1)
                eng.gradients(si, 1)
        finally:
            numba.set_num_threads(threads)
        chip.run(si).neuron_argmax
        name = f"{precision} {rule} {loss}" + (" ideal AFT" if aft == "ideal" else "")
        t = time.perf_counter()
        done.append((name, t - t0))
        t0 = t
        if progress is not None:
            progress(name, done[-1][1])
    return done
