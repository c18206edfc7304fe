import numpy as np
import pytest

from anp_emu.chip.emulator import Chip
from anp_emu.errors import InputError
from anp_emu.experiments.evaluate import evaluate
from anp_emu.chip.events import SpikeInput
from anp_emu.chip.initialise import dead_neurons, init_config
from anp_emu.chip.spec import ChipSpec


class ListDataset:
    """Minimal event dataset: what evaluate() and the trainer read."""

    def __init__(self, samples, labels, n_in, class_names):
        self.samples, self.labels, self.n_in, self.class_names = samples, np.asarray(labels), n_in, class_names
        self.T = samples[0].T

    def __len__(self):
        return len(self.samples)

    def sample(self, i):
        return self.samples[i]


def test_init_reaches_target_activity_with_no_dead_neurons():
    rng = np.random.default_rng(0)
    spec = ChipSpec(n_in=128, n_hid=64, n_out=4)
    samples = [SpikeInput.from_dense(rng.random((20, 128)) < 0.05) for _ in range(12)]
    cfg, rep = init_config(spec, samples, seed=3, target_hidden=0.05)
    assert rep.dead_hidden == 0 and rep.dead_output == 0
    assert 0.02 < rep.hidden_activity < 0.10
    assert cfg.w_aux_hid == round(0.05 * cfg.theta_hid)
    dh, do = dead_neurons(cfg, samples)
    assert not dh.any() and not do.any()
    # deterministic for a seed
    cfg2, _ = init_config(spec, samples, seed=3, target_hidden=0.05)
    assert cfg.equals(cfg2)


def test_init_redraws_silent_neurons():
    spec = ChipSpec(n_in=16, n_hid=8, n_out=2)
    # only line 0 ever spikes: neurons with a negative weight from line 0 would be dead
    x = np.zeros((10, 16), dtype=np.uint8); x[::2, 0] = 1
    cfg, rep = init_config(spec, [SpikeInput.from_dense(x)], seed=1, target_hidden=0.3)
    assert rep.dead_hidden == 0


def test_init_rejects_bad_arguments():
    spec = ChipSpec(n_in=16, n_hid=8, n_out=2)
    with pytest.raises(InputError, match="samples"):
        init_config(spec, [])
    with pytest.raises(InputError, match="target_hidden.*out of range"):
        init_config(spec, [SpikeInput.from_dense(np.zeros((3, 16)))], target_hidden=1.5)


def test_evaluate_confusion_and_per_class():
    from conftest import make_config
    # line 0 drives output 0, line 1 drives output 1 (through hidden neurons 0 / 1)
    cfg = make_config([[10, 0], [0, 10]], [[10, 0], [0, 10]], theta_hid=5, theta_out=5)
    a = SpikeInput.from_dense(np.array([[1, 0], [1, 0]]))
    b = SpikeInput.from_dense(np.array([[0, 1], [0, 1]]))
    ds = ListDataset([a, b, b], [0, 1, 0], 2, ["zero", "one"])
    res = evaluate(Chip(cfg), ds)
    assert res.predictions.tolist() == [0, 1, 1]
    assert res.accuracy == pytest.approx(2 / 3)
    assert res.confusion.to_numpy().tolist() == [[1, 1], [0, 1]]
    assert res.per_class_accuracy.tolist() == [0.5, 1.0]
    assert res.counters.n_samples == 3 and res.counters["hidden", "input_events"] == 6


def test_evaluate_refuses_a_dataset_wider_than_the_chip():
    from conftest import make_config
    cfg = make_config([[10, 0], [0, 10]], [[10, 0], [0, 10]], theta_hid=5, theta_out=5)
    ds = ListDataset([SpikeInput.from_dense(np.zeros((2, 3)))], [0], 3, ["a"])
    with pytest.raises(InputError, match="dataset.n_in.*limit 2.*got 3"):
        evaluate(Chip(cfg), ds)
