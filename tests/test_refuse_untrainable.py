"""Inputs that used to be accepted silently: a 0-trial pickle (a 0-sample events file) and empty or
one-class datasets (100 % accuracy, NaN baselines) are refused with one error naming the reason."""
import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.errors import InputError
from tasks import separable_dataset


def _one_line_error(r, *fragments):
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert all(f in lines[0] for f in fragments), r.output
    assert "Traceback" not in r.output


def test_empty_pickle_is_refused_by_preprocess(tmp_path):
    p = tmp_path / "relax21_cropped_dvs_emg_spikes.pkl"
    p.write_bytes(pickle.dumps({"y": np.zeros(0, int), "sub": np.zeros(0, int), "ses": np.zeros(0, int),
                                "emg": [], "dvs": []}))
    out = tmp_path / "ev.h5"
    r = CliRunner().invoke(main, ["data", "preprocess", str(p), "-o", str(out), "--encoder", "delta", "--no-progress"])
    _one_line_error(r, str(p), "emg: no trials")
    assert not out.exists() and [q.name for q in tmp_path.iterdir()] == [p.name]


@pytest.fixture(scope="module")
def one_class(tmp_path_factory):
    d = tmp_path_factory.mktemp("oneclass")
    ds = separable_dataset(3, n=24, T=8)
    ds.subset(np.flatnonzero(ds.labels == 1)).save(d / "one.h5")
    return d


def test_train_refuses_a_one_class_dataset(one_class, tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", str(one_class / "one.h5"), "-o", str(out), "--epochs", "1", "--no-progress"])
    _one_line_error(r, "every sample is of one class", "'b'")
    assert not (out / "summary.json").exists()


def test_trainer_refuses_empty_and_one_class(one_class):
    from anp_emu.chip.initialise import init_config
    from anp_emu.chip.spec import ChipSpec
    from anp_emu.emg.dataset import EventDataset
    from anp_emu.experiments.trainer import Trainer

    ds = EventDataset.load(one_class / "one.h5")
    cfg, _ = init_config(ChipSpec(n_in=64, n_hid=8, n_out=4), [ds.sample(i) for i in range(3)], seed=1)
    with pytest.raises(InputError, match="train: every sample is of one class"):
        Trainer(cfg, ds, ds)
    full = separable_dataset(3, n=24, T=8)
    with pytest.raises(InputError, match="test: no test samples"):
        Trainer(cfg, full, full.subset([]))


def test_sweep_refuses_a_one_class_dataset(one_class, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(f'dataset = "{one_class / "one.h5"}"\n[grid]\nseed = [0, 1]\n[fixed]\nepochs = 1\n')
    r = CliRunner().invoke(main, ["sweep", str(spec), "-o", str(tmp_path / "o"), "--workers", "1", "--no-progress"])
    _one_line_error(r, "one.h5", "every sample is of one class")
    assert not (tmp_path / "o").exists()


def test_cv_refuses_a_one_class_dataset(one_class, tmp_path):
    r = CliRunner().invoke(main, ["cv", str(one_class / "one.h5"), "-o", str(tmp_path / "o"), "--split", "kfold",
                                  "--workers", "1", "--no-progress"])
    _one_line_error(r, "every sample is of one class")
    assert not (tmp_path / "o").exists()
