"""Small synthetic tasks shared by the learning tests (importable: pytest puts tests/ on sys.path)."""
import numpy as np

from anp_emu.chip.events import SpikeInput


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
    from anp_emu.chip.emulator import Chip
    from anp_emu.learning.engine import LearningEngine

    chip = Chip(cfg)
    eng = LearningEngine(chip, settings)
    total = None
    for epoch in range(epochs):
        for i in np.random.default_rng(epoch).permutation(len(train[0])):
            r = eng.train_step(train[0][i], int(train[1][i]))
            total = r.counters if total is None else total + r.counters
    acc = np.mean([chip.run(x, record=True).neuron_argmax == y for x, y in zip(*test)])
    return acc, total


def ref_forward(cfg, X, ideal=False):
    """Dense float64 forward of DESIGN.md's five steps, written plainly (leak tau, 1 with the leak
    off; the ideal AFT or the aux boost). Returns per layer the potentials V, spikes S and
    thresholds TH (T, n) at the fire decision, the float weights W, thresholds th0 and tau."""
    spec = cfg.spec
    tau = 1.0 if spec.leak_shift == 0 else 1.0 - 2.0 ** -spec.leak_shift
    W = [cfg.w_hid.astype(float), cfg.w_out.astype(float)]
    th0 = [float(cfg.theta_hid), float(cfg.theta_out)]
    a = [float(cfg.w_aux_hid), float(cfg.w_aux_out)]
    v = [np.zeros(spec.n_hid), np.zeros(spec.n_out)]
    s = [np.zeros(spec.n_hid), np.zeros(spec.n_out)]
    th = [np.full(spec.n_hid, th0[0]), np.full(spec.n_out, th0[1])]
    vs, ss, ths = [[], []], [[], []], [[], []]
    for t in range(X.shape[0]):
        pre = X[t].astype(float)
        for l in (0, 1):
            nv = np.where(s[l] > 0, 0.0, tau * v[l]) + W[l] @ pre
            if ideal:
                th[l] = np.where(s[l] > 0, th0[l], np.maximum(th[l] - a[l], 0.0))
            else:
                nv = nv + np.where(s[l] > 0, 0.0, a[l])
            v[l] = nv
            s[l] = (nv >= th[l]).astype(float)
            vs[l].append(v[l].copy())
            ss[l].append(s[l].copy())
            ths[l].append(th[l].copy())
            pre = s[l]
    arrays = lambda xs: [np.array(x) for x in xs]  # noqa: E731
    return arrays(vs), arrays(ss), arrays(ths), W, th0, tau


def separable_dataset(seed, n, T):
    """:func:`separable_task` as a 4-class EventDataset (64 lines, classes a-d, one subject and session)."""
    from anp_emu.emg.dataset import EventDataset

    xs, ys = separable_task(seed, n=n, T=T)
    k = len(xs)
    return EventDataset.from_spikes(xs, T, 64, ys, np.zeros(k), np.zeros(k), np.arange(k), ["a", "b", "c", "d"],
                                    "test", {})


def tiny_events_and_chip(d):
    """A tiny event dataset (64 lines, 12 steps, 45 samples) as ``d/ev.h5`` and a 64-16-4 initial
    chip calibrated on its training part as ``d/chip.h5``."""
    from anp_emu.chip.initialise import init_config
    from anp_emu.chip.spec import ChipSpec
    from anp_emu.files.config_io import save_config

    ds = separable_dataset(3, n=45, T=12)
    ds.save(d / "ev.h5")
    tr, _ = ds.split_random(seed=0)
    cfg, _ = init_config(ChipSpec(n_in=64, n_hid=16, n_out=4), [tr.sample(i) for i in range(10)], seed=1,
                         target_hidden=0.1)
    save_config(cfg, d / "chip.h5")
    return d
