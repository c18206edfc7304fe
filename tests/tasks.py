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


def train_on_task(cfg, settings, train, test, epochs: int = 4):
    """Train ``cfg`` on the int chip sample by sample (seeded orders); returns (test accuracy,
    summed counters of every training step)."""
    from anp_emu.chip import Chip
    from anp_emu.learning.engine import LearningEngine

    chip = Chip(cfg)
    eng = LearningEngine(chip, settings)
    total = None
    for epoch in range(epochs):
        for i in np.random.default_rng(epoch).permutation(len(train[0])):
            r = eng.train_step(train[0][i], int(train[1][i]))
            total = r.counters if total is None else total + r.counters
    acc = np.mean([chip.run(x, record=True).prediction == y for x, y in zip(*test)])
    return acc, total
