"""End to end on the default synthetic dataset: generator, preprocessing, baseline, CLI."""
import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.emg.baseline import baseline_accuracy
from anp_emu.emg.ceolini import load_raw_folder
from anp_emu.emg.dataset import EventDataset
from anp_emu.emg.pipeline import preprocess
from anp_emu.emg.synthetic import write_synthetic_dataset
from anp_emu.errors import FileFormatError, InputError


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "raw"
    write_synthetic_dataset(out)
    return out


def test_synthetic_files_are_in_the_raw_format(raw):
    names = sorted(p.name for p in raw.iterdir())
    assert len(names) == 4 * 3 * 2 + 1 and "sampling_rates.csv" in names
    emg = np.load(raw / "subject02_session03_emg.npy", allow_pickle=False)
    ann = np.load(raw / "subject02_session03_ann.npy", allow_pickle=False)
    assert emg.dtype == np.int32 and emg.shape[1] == 8 and emg.shape[0] == ann.shape[0]
    assert emg.min() >= -128 and emg.max() <= 127
    assert set(ann.tolist()) == {"pinky", "elle", "yo", "index", "thumb", "none"}
    # the annotation leads by one sample, as in the release: a cue starts one sample early
    first = int(np.flatnonzero(ann != "none")[0])
    assert first == 199                                                   # 1 s rest, cue from sample 200


def test_synthetic_is_deterministic_and_atomic(tmp_path, raw):
    write_synthetic_dataset(tmp_path / "a")
    for p in raw.glob("*.npy"):
        assert (tmp_path / "a" / p.name).read_bytes() == p.read_bytes()
    write_synthetic_dataset(tmp_path / "b", seed=1, n_subjects=1, n_sessions=1)
    assert (tmp_path / "b" / "subject01_session01_emg.npy").read_bytes() != (raw / "subject01_session01_emg.npy").read_bytes()
    with pytest.raises(FileFormatError, match="exists and is not empty"):
        write_synthetic_dataset(tmp_path / "a")
    with pytest.raises(InputError, match="n_subjects: must be an integer; limit 1..99; got 0"):
        write_synthetic_dataset(tmp_path / "c", n_subjects=0)
    assert not (tmp_path / "c").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]     # no temporary folders left


def test_fs_jitter_sessions_and_overrides(tmp_path):
    info = write_synthetic_dataset(tmp_path / "j", n_subjects=2, seed=1, fs_jitter=True)
    slow = {k: f for k, f in info.fs.items() if f != 200.0}
    assert slow and all(167 <= f <= 197 for f in slow.values())
    ts = load_raw_folder(tmp_path / "j", fs_overrides=info.fs_table)
    assert ts.report.ok and len(ts) == 150
    assert all(abs(len(x) - 400) <= 1 for x in ts.trials)                # resampled to 200 Hz, 2 s
    ds = preprocess(tmp_path / "j", fs_overrides=info.fs_table)
    rec = {(s, k): f for s, k, f in ds.encoder_params["resampling"]["session_fs"]}
    assert rec == info.fs and ds.notes == []
    with pytest.raises(InputError, match="fs_overrides: the data is already loaded"):
        preprocess(ts, fs_overrides=info.fs_table)


def test_preprocess_default_dataset_end_to_end(raw, tmp_path):
    ds = preprocess(raw)
    assert len(ds) == 300 and ds.T == 39 and ds.n_in == 1024 and ds.encoder == "chip"
    assert np.bincount(ds.labels).tolist() == [60] * 5
    assert sorted(set(ds.subject.tolist())) == [1, 2, 3, 4] and sorted(set(ds.session.tolist())) == [1, 2, 3]
    assert ds.notes == []
    dens = ds.stats().loc["all", "density"]
    assert 0.025 < dens < 0.035                                           # the fitted 3 % target density
    assert ds.encoder_params["calibrate"] == "train" and ds.encoder_params["n_samples"] == 391
    assert ds.calibration["fitted"]["how"] in ("target density", "class floor")
    assert ds.stats()["events_min"].min() > 0                             # no silent sample
    ds.save(tmp_path / "ev.h5")
    d2 = EventDataset.load(tmp_path / "ev.h5")
    assert np.array_equal(d2.line, ds.line) and d2.encoder_params == ds.encoder_params
    dd = preprocess(raw, encoder="delta", T=39)
    assert dd.n_in == 16 and len(dd) == 300 and min(dd.calibration["sigma"]) > 0


def test_baseline_is_realistic_not_trivial(raw):
    ts = load_raw_folder(raw)
    r = baseline_accuracy(ts, seed=0)
    assert 0.6 <= r.accuracy <= 0.97, r                                   # 91 % on this split
    assert r.n_train == 200 and r.n_test == 100
    c = baseline_accuracy(ts, seed=0, method="centroid")
    assert 0.4 <= c.accuracy <= 0.9
    q = baseline_accuracy(ts, seed=0, method="quadratic")     # 8 + 36 features
    assert 0.5 <= q.accuracy <= 1.0 and "pairwise" in q.features
    ds = preprocess(ts)
    tr, te = ds.split_random(seed=0)
    assert 0.4 <= baseline_accuracy(tr, te).accuracy < 1.0


def test_quadratic_baseline_refuses_large_feature_sets(raw):
    ds = preprocess(load_raw_folder(raw))
    with pytest.raises(InputError, match="method.*64"):
        baseline_accuracy(ds, seed=0, method="quadratic")       # 1024 event-count features


def test_preprocess_pickle_source(tmp_path):
    d = {"y": np.array([[0, 3]]), "sub": np.array([1, 2]), "ses": np.array([1, 1]),
         "emg": [np.array([[0, 0, 5], [0.0, 0.01, 1.0], [1, 1, 0]]), np.array([[7], [2.5], [1]])], "dvs": [None, None]}
    p = tmp_path / "relax21_cropped_dvs_emg_spikes.pkl"
    p.write_bytes(pickle.dumps(d))
    ds = preprocess(p, encoder="delta", T=4)
    # window 2 s, 4 steps of 0.5 s: trial 0 -> (step 0, line 0) twice merged, (step 2, line 11); trial 1's
    # event at 2.5 s is after the window and dropped
    assert ds.dense(0).nonzero()[0].tolist() == [0, 2] and ds.dense(0).nonzero()[1].tolist() == [0, 11]
    assert ds.sample(1).n_events == 0 and ds.labels.tolist() == [0, 3]
    assert ds.encoder_params["events_dropped_after_window"] == 1 and any("dropped" in n for n in ds.notes)
    with pytest.raises(InputError, match="encoder: the pickle holds delta events"):
        preprocess(p, encoder="chip")


# ------------------------------------------------------------------------------------ CLI

def test_cli_synth_noise_knobs_change_the_recordings(tmp_path):
    r = CliRunner()
    assert r.invoke(main, ["data", "synth", str(tmp_path / "a"), "--subjects", "1"]).exit_code == 0
    res = r.invoke(main, ["data", "synth", str(tmp_path / "b"), "--subjects", "1", "--pattern-noise", "0.2",
                          "--effort-noise", "0.2"])
    assert res.exit_code == 0, res.output
    a = np.load(tmp_path / "a" / "subject01_session01_emg.npy")
    b = np.load(tmp_path / "b" / "subject01_session01_emg.npy")
    assert a.shape == b.shape and not np.array_equal(a, b)
    assert r.invoke(main, ["data", "synth", str(tmp_path / "c"), "--pattern-noise", "-1"]).exit_code == 2


def test_cli_synth_preprocess_info(tmp_path):
    r = CliRunner()
    res = r.invoke(main, ["data", "synth", str(tmp_path / "raw"), "--subjects", "2", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "150 trials" in res.output
    out = tmp_path / "ev.h5"
    res = r.invoke(main, ["data", "preprocess", str(tmp_path / "raw"), "-o", str(out), "--encoder", "chip"])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and "input density" in res.output and out.exists()
    res = r.invoke(main, ["data", "info", str(out), "--json"])
    assert res.exit_code == 0
    info = json.loads(res.stdout)
    assert info["n_samples"] == 150 and info["n_in"] == 1024 and info["stats"]["all"]["n_samples"] == 150
    res = r.invoke(main, ["data", "info", str(out)])
    assert res.exit_code == 0 and "density %" in res.output and "calibrate=train" in res.output
    res = r.invoke(main, ["data", "preprocess", str(tmp_path / "raw"), "-o", str(tmp_path / "d.h5"),
                          "--encoder", "delta", "--T", "20", "-p", "threshold_up=0.1", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["n_in"] == 16 and s["T"] == 20
    assert EventDataset.load(tmp_path / "d.h5").encoder_params["threshold_up"] == 0.1


def test_cli_reports_irregular_session(tmp_path):
    write_synthetic_dataset(tmp_path / "raw", n_subjects=1, n_sessions=1)
    ann_p = tmp_path / "raw" / "subject01_session01_ann.npy"
    ann = np.load(ann_p)
    ann[ann == "thumb"] = "none"                                          # every thumb trial lost
    np.save(ann_p, ann)
    res = CliRunner().invoke(main, ["data", "preprocess", str(tmp_path / "raw"), "-o", str(tmp_path / "e.h5")])
    assert res.exit_code == 0
    assert "warning: subject 1 session 1: class thumb missing (no trial)" in res.output
    assert EventDataset.load(tmp_path / "e.h5").notes[0].startswith("subject 1 session 1: class thumb")
    res = CliRunner().invoke(main, ["data", "preprocess", str(tmp_path / "raw"), "-o", str(tmp_path / "f.h5"),
                                    "--on-irregular", "raise"])
    assert res.exit_code == 1 and not (tmp_path / "f.h5").exists()


def test_cli_errors_are_one_line_and_leave_no_output(tmp_path):
    r = CliRunner()
    write_synthetic_dataset(tmp_path / "raw", n_subjects=1, n_sessions=1)
    np.save(tmp_path / "raw" / "subject01_session01_emg.npy", np.zeros((10, 7), np.int32))
    out = tmp_path / "ev.h5"
    res = r.invoke(main, ["data", "preprocess", str(tmp_path / "raw"), "-o", str(out)])
    assert res.exit_code == 1
    err = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and "emg: expected shape (T, 8)" in err[0] and "Traceback" not in res.output
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["raw"]
    # usage errors exit 2
    assert r.invoke(main, ["data", "preprocess", str(tmp_path / "raw")]).exit_code == 2          # no -o
    assert r.invoke(main, ["data", "preprocess", str(tmp_path / "raw"), "-o", str(out),
                           "--encoder", "rate"]).exit_code == 2
    assert r.invoke(main, ["data", "synth", str(tmp_path / "x"), "--subjects", "0"]).exit_code == 2
    # runtime errors exit 1
    res = r.invoke(main, ["data", "info", str(tmp_path / "missing.h5")])
    assert res.exit_code == 1 and "file not found" in res.stderr
    res = r.invoke(main, ["data", "synth", str(tmp_path / "raw")])
    assert res.exit_code == 1 and "exists and is not empty" in res.stderr
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    res = r.invoke(main, ["data", "info", str(bad)])
    assert res.exit_code == 1 and "not a readable HDF5 file" in res.stderr


def test_cli_help_everywhere():
    r = CliRunner()
    for cmd in (["data"], ["data", "synth"], ["data", "preprocess"], ["data", "info"], ["data", "baseline"]):
        res = r.invoke(main, cmd + ["--help"])
        assert res.exit_code == 0 and "Usage:" in res.output
