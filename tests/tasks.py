"""Small synthetic tasks shared by the learning tests (importable: pytest puts tests/ on sys.path)."""
import numpy as np

from anp_emu.events import SpikeInput


def separable_task(seed, n=240, T=20, n_in=64, k=4):
    """n samples of k classes; each class owns n_in / k lines that fire with p = 0.25 (others 0.02)."""
    rng = np.random.default_rng(seed)
    proto = rng.permutation(n_in).reshape(k, -1)
    xs, ys = [], []
    for i in range(n):
        y = i % k
        p = np.full(n_in, 0.02)
        p[proto[y]] = 0.25
        xs.append(SpikeInput.from_dense(rng.random((T, n_in)) < p))
        ys.append(y)
    return xs, np.array(ys)
