"""Training on the emulated chip: resume, checkpoints, refusals, and the train/eval CLI."""
import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.files.checkpoint import load_checkpoint_into
from anp_emu.cli.main import main
from anp_emu.files.config_io import save_config
from anp_emu.errors import CheckpointError, InputError
from anp_emu.chip.initialise import init_config
from anp_emu.learning.settings import LearningSettings
from anp_emu.chip.spec import ChipSpec
from anp_emu.experiments.trainer import Trainer, TrainOptions
from tasks import separable_dataset


@pytest.fixture(scope="module")
def dataset():
    return separable_dataset(3, n=90, T=12)


def make_trainer(ds, epochs=3, lr=3000.0, seed=0):
    tr, te = ds.split_random(seed=0)
    spec = ChipSpec(n_in=64, n_hid=32, n_out=4)
    cfg, _ = init_config(spec, [tr.sample(i) for i in range(10)], seed=1, target_hidden=0.1)
    return Trainer(cfg, tr, te, LearningSettings(lr=lr), TrainOptions(epochs=epochs, schedule="cosine", seed=seed))


class Stop(Exception):
    pass


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, dataset):
    full = make_trainer(dataset)
    full.fit()
    ck = tmp_path / "ck.h5"
    first = make_trainer(dataset)

    def stop_after_first(log):
        raise Stop

    with pytest.raises(Stop):
        first.fit(checkpoint_path=ck, on_epoch=stop_after_first)
    resumed = make_trainer(dataset)
    load_checkpoint_into(ck, resumed)
    assert resumed.epochs_done == 1
    resumed.fit(checkpoint_path=ck)
    for layer in (0, 1):
        assert np.array_equal(full.chip.weights(layer), resumed.chip.weights(layer))
    a, b = full.log_frame().drop(columns="samples_per_s"), resumed.log_frame().drop(columns="samples_per_s")
    assert a.equals(b)
    assert not np.array_equal(full.chip.weights(0), full.config.w_hid)   # it did train


def test_interrupt_inside_an_epoch_keeps_the_last_checkpoint(tmp_path, dataset):
    ck = tmp_path / "ck.h5"
    t = make_trainer(dataset)
    calls = {"n": 0}

    def progress_factory(epoch):
        def update(k, acc, nj):
            if epoch == 1 and k == 5:
                raise KeyboardInterrupt
        return update

    with pytest.raises(KeyboardInterrupt):
        t.fit(checkpoint_path=ck, progress_factory=progress_factory)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.h5"]   # no temporary left behind
    with h5py.File(ck) as f:
        assert int(f.attrs["epochs_done"]) == 1
    r = make_trainer(dataset)
    load_checkpoint_into(ck, r)
    assert r.epochs_done == 1 and calls["n"] == 0


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path, dataset):
    ck = tmp_path / "ck.h5"
    t = make_trainer(dataset, epochs=1)
    t.fit(checkpoint_path=ck)
    data = ck.read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[:3000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint_into(tmp_path / "trunc.h5", make_trainer(dataset, epochs=1))
    with pytest.raises(CheckpointError, match=r"another run: settings.lr"):
        load_checkpoint_into(ck, make_trainer(dataset, epochs=1, lr=10.0))
    with pytest.raises(CheckpointError, match=r"another run: options.seed"):
        load_checkpoint_into(ck, make_trainer(dataset, epochs=1, seed=5))
    with h5py.File(ck, "a") as f:
        f["w_hid"][0, 0] = 1000   # outside the 8-bit range: never wrapped
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint_into(ck, make_trainer(dataset, epochs=1))
    from anp_emu.files.fileio import h5_content_sha256
    with h5py.File(ck, "a") as f:   # re-stamped, the range check still refuses it
        f.attrs["sha256"] = h5_content_sha256(f)
    with pytest.raises(CheckpointError, match="WEIGHT_RANGE"):
        load_checkpoint_into(ck, make_trainer(dataset, epochs=1))
    other = tmp_path / "other.h5"
    make_trainer(dataset, epochs=1).fit(checkpoint_path=other)
    sub = dataset.subset(np.arange(80))
    tr, te = sub.split_random(seed=0)
    t2 = make_trainer(dataset, epochs=1)
    t2.train = tr
    with pytest.raises(CheckpointError, match="training dataset differs"):
        load_checkpoint_into(other, t2)


def test_a_dataset_wider_than_the_chip_is_refused_before_training(dataset):
    tr, te = dataset.split_random(seed=0)
    spec = ChipSpec(n_in=32, n_hid=8, n_out=4)
    cfg, _ = init_config(spec, [np.zeros((12, 32), np.uint8)], seed=0)
    with pytest.raises(InputError, match=r"dataset.n_in.*limit 32.*got 64"):
        Trainer(cfg, tr, te)


def test_bad_training_options():
    with pytest.raises(InputError, match="epochs"):
        TrainOptions(epochs=0)
    with pytest.raises(InputError, match="schedule"):
        TrainOptions(schedule="step")
    with pytest.raises(InputError, match="only in the float twin"):
        TrainOptions(aft="ideal", precision="int")
    assert TrainOptions(epochs=5, schedule="cosine").lr_at(1.0, 4) == pytest.approx(0.1)


def train_json(tmp_path, dataset, *args):
    """``anp train`` on ``dataset`` saved to tmp_path/ev.h5, into tmp_path/run, with --json;
    returns (result, events path, output folder)."""
    ev = tmp_path / "ev.h5"
    dataset.save(ev)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(out), *args, "--no-progress", "--json"])
    assert r.exit_code == 0, r.output
    return r, ev, out


def test_train_and_eval_commands(tmp_path, dataset):
    r, ev, out = train_json(tmp_path, dataset, "--epochs", "2", "--lr", "3000")
    summary = json.loads(r.stdout)
    assert summary["epochs"] == 2 and (out / "config.h5").exists() and (out / "log.csv").exists()
    r2 = CliRunner().invoke(main, ["eval", str(out / "config.h5"), str(ev), "--split", "test", "--json"])
    assert r2.exit_code == 0, r2.output
    ev_res = json.loads(r2.stdout)
    assert ev_res["accuracy"] == pytest.approx(summary["final"]["test_accuracy"])
    assert len(ev_res["confusion"]) == 4 and ev_res["inference_nj"] > 0
    assert ev_res["learning_nj"] == 0 and ev_res["total_nj"] == ev_res["inference_nj"]      # inference only
    assert 0 <= ev_res["decided_by_spike_count"] <= 1
    # same seed, same result: bit-identical configs
    out2 = tmp_path / "run2"
    CliRunner().invoke(main, ["train", str(ev), "-o", str(out2), "--epochs", "2", "--lr", "3000", "--no-progress"])
    from anp_emu.files.config_io import load_config
    assert load_config(out / "config.h5").equals(load_config(out2 / "config.h5"))


def test_cli_bad_inputs_give_one_line_and_exit_codes(tmp_path, dataset):
    ev = tmp_path / "ev.h5"
    dataset.save(ev)
    r = CliRunner().invoke(main, ["train", str(tmp_path / "missing.h5"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and r.output.strip().startswith("error:") and "file not found" in r.output
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(tmp_path / "o"), "--rule", "sgd"])
    assert r.exit_code == 2
    small = tmp_path / "small.h5"
    cfg, _ = init_config(ChipSpec(n_in=32, n_hid=8, n_out=4), [np.zeros((12, 32), np.uint8)], seed=0)
    save_config(cfg, small)
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(tmp_path / "o2"), "--chip", str(small)])
    assert r.exit_code == 1 and "dataset.n_in" in r.output and "limit 32" in r.output
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(tmp_path / "o3"), "--resume"])
    assert r.exit_code == 1 and "no checkpoint" in r.output
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(tmp_path / "o4"), "--aft", "ideal"])
    assert r.exit_code == 1 and "float twin" in r.output
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(tmp_path / "o5"), "--temporal-window", "0"])
    assert r.exit_code == 2 and "--temporal-window" in r.output


def test_train_with_a_temporal_window_records_it(tmp_path, dataset):
    r, _, out = train_json(tmp_path, dataset, "--epochs", "1", "--temporal-window", "1")
    assert json.loads(r.stdout)["settings"]["temporal_window"] == 1
    from anp_emu.files.config_io import load_config
    assert load_config(out / "config.h5").learning.temporal_window == 1


def test_demo_runs_end_to_end_small(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(main, ["demo", "-o", str(out), "--subjects", "1", "--epochs", "1",
                                  "--energy-samples", "2", "--no-progress"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "demo_summary.json").read_text())
    assert 0 <= summary["test_accuracy"] <= 1
    for p, ratio in summary["stbp_over_mpd_ed_learning"].items():
        avg = summary["energy_per_training_sample_averaged_over_training"]
        assert ratio == pytest.approx(avg["stbp"][p]["learning_nj"] / avg["mpd-ed"][p]["learning_nj"]) and ratio > 5
    assert (out / "train" / "config.h5").exists() and (out / "events.h5").exists()
    assert "STBP : MPD-ED (learning)" in r.output and "9,320" in r.output and "JSSC" in r.output


def test_ablation_writes_one_row_per_arm(tmp_path, dataset):
    ev = tmp_path / "ev.h5"
    dataset.save(ev)
    r = CliRunner().invoke(main, ["ablation", str(ev), "-o", str(tmp_path / "abl"), "--epochs", "1", "--seeds", "2",
                                  "--workers", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    import pandas as pd
    t = pd.read_csv(tmp_path / "abl" / "ablation.csv")
    assert list(zip(t.rule, t.aft, t.precision)) == [("mpd-ed", "aux", "int"), ("mpd-ed", "ideal", "float"),
                                                     ("mpd-ed", "aux", "float"), ("mpd-ed", "none", "int"),
                                                     ("stbp", "aux", "int"), ("std-ed", "aux", "int"),
                                                     ("ebp", "aux", "int")]
    assert (t.learning_nj > 0).all() and (t.n == 2).all()
    runs = pd.read_csv(tmp_path / "abl" / "results.csv")
    assert len(runs) == 14 and sorted(set(runs.seed)) == [0, 1]
    arm = runs[(runs.rule == "stbp")]
    assert t.learning_nj[4] == pytest.approx(arm.learning_nj.mean())
    assert t.learning_nj_sd[4] == pytest.approx(arm.learning_nj.std(ddof=1))
    # each arm is `anp train` with the same seed: the same figures as a train run of that arm
    r2, _, _ = train_json(tmp_path, dataset, "--epochs", "1", "--rule", "stbp", "--seed", "1")
    assert json.loads(r2.stdout)["final"]["test_accuracy"] == pytest.approx(arm.test_accuracy.iloc[1])
    r = CliRunner().invoke(main, ["ablation", str(ev), "-o", str(tmp_path / "abl_ce"), "--epochs", "1", "--loss", "ce",
                                  "--seeds", "1", "--workers", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    from anp_emu.files.config_io import load_config
    run = tmp_path / "abl_ce" / "runs" / "rule=mpd-ed__aft=none__precision=int__seed=0"
    assert load_config(run / "config.h5").learning.loss == "ce"
    std = load_config(tmp_path / "abl_ce" / "runs" / "rule=std-ed__aft=aux__precision=int__seed=0" / "config.h5")
    assert std.learning.loss == "count-enhanced" and std.spec.leak_shift == 0   # its own loss, the IF neuron


def test_trainer_defaults_train_exactly_as_anp_train_defaults(tmp_path, dataset):
    """One set of defaults: ``Trainer(train=..., test=...)`` with no options (init, loss, lr per
    rule, cosine schedule, epochs, operating point) gives the weights ``anp train`` gives with no
    options, on the same dataset, split and seed, and energy figures with no model built by hand."""
    import pandas as pd

    from anp_emu.emg.crossval import split_dataset
    from anp_emu.emg.dataset import EventDataset
    from anp_emu.files.config_io import load_config

    r, ev, out = train_json(tmp_path, dataset)
    cli = load_config(out / "config.h5")
    sd = split_dataset(EventDataset.load(ev), "random", seed=0)
    t = Trainer(train=sd.train, test=sd.test)
    t.fit()
    api = t.trained_config()
    for k in ("w_hid", "w_out"):
        assert np.array_equal(getattr(api, k), getattr(cli, k)), k
    for k in ("theta_hid", "theta_out", "w_aux_hid", "w_aux_out"):
        assert getattr(api, k) == getattr(cli, k), k
    assert api.learning == cli.learning and api.learning.loss == "tet"
    log = pd.read_csv(out / "log.csv")
    assert t.options.schedule == "cosine" and len(log) == t.options.epochs == 5
    assert np.allclose(t.log_frame()["lr"], log["lr"])
    for f in ("learning_nj", "inference_nj", "total_nj"):
        assert np.isfinite(t.history[-1].__dict__[f]) and t.history[-1].__dict__[f] > 0
        assert np.allclose(t.log_frame()[f], log[f])
        assert t.averaged_energy()[f] > 0


def test_evaluation_says_which_samples_the_spike_counts_decided():
    """Hand-made outputs: h0 (line 0) drives o0 over threshold, h1 (line 1) drives o0 and o1 alike
    (a tie), line 2 drives nothing (no class output fires: the membrane decides)."""
    from conftest import make_config

    from anp_emu.chip.emulator import Chip
    from anp_emu.chip.events import as_spike_input
    from anp_emu.emg.dataset import EventDataset
    from anp_emu.experiments.evaluate import evaluate

    cfg = make_config([[10, 0, 0], [0, 10, 0]], [[10, 10], [0, 10]], theta_hid=5, theta_out=5)
    xs = [as_spike_input(np.array([row], np.uint8), 3) for row in ([1, 0, 0], [0, 1, 0], [0, 0, 1])]
    ds = EventDataset.from_spikes(xs, 1, 3, np.array([0, 1, 0]), np.zeros(3), np.zeros(3), np.arange(3), ["a", "b"],
                                  "test", {})
    res = evaluate(Chip(cfg), ds)
    assert res.by_spike_count.tolist() == [True, False, False]
    assert res.spike_count_share == pytest.approx(1 / 3)
