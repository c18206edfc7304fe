"""Issue 18: a front end and an evaluation protocol that hold up on real Myo recordings."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.emg.ceolini import load_raw_folder
from anp_emu.emg.crossval import fold_baselines, folds_of, split_dataset
from anp_emu.emg.encoders import encode_chip, encode_delta
from anp_emu.emg.pipeline import preprocess
from anp_emu.emg.synthetic import SynthParams, write_synthetic_dataset
from anp_emu.errors import InputError
from anp_emu.experiments.splits import make_folds


def noise_trial(rng, mav_per_channel, n=391):
    """(n, 8) int-valued Myo-like noise with the given per-channel mean absolute value (LSB)."""
    sd = np.asarray(mav_per_channel, dtype=float) / np.sqrt(2 / np.pi)
    return np.clip(np.round(rng.standard_normal((n, 8)) * sd), -128, 127)


@pytest.fixture(scope="module")
def quiet_set():
    """Five gestures, one at 1-2 LSB MAV on every channel (quieter than rest), the others 10-30 LSB
    on 1-3 channels and 2-5 LSB elsewhere, as on the real recordings of the issue."""
    rng = np.random.default_rng(0)
    pats = [np.full(8, 1.5)] + [np.where(np.isin(np.arange(8), [c, (c + 1) % 8]), 20.0, 3.0) for c in (0, 2, 4, 6)]
    trials, labels = [], []
    for rep in range(6):
        for g, p in enumerate(pats):
            trials.append(noise_trial(rng, p * np.exp(rng.normal(0, 0.1, 8))))
            labels.append(g)
    return trials, np.array(labels)


def test_near_rest_gesture_yields_events_after_calibration(quiet_set):
    trials, y = quiet_set
    old = encode_chip(trials, level_step=32.0)            # the fixed step of the earlier default
    ev_old = np.diff(old.sample_ptr)
    assert ev_old[y == 0].max() <= 4                       # the failure the issue saw: a silent gesture
    new = encode_chip(trials, labels=y)                    # the default: fitted on these (training) trials
    ev = np.diff(new.sample_ptr)
    assert ev[y == 0].min() >= new.params["min_events"] == 39
    dens = ev.mean() / (39 * 1024)
    assert 0.02 <= dens <= 0.06                            # near the 3 % target (the floor may lift it)
    # the loud gestures still use more lines than the quiet one: the amplitude is not thrown away
    assert ev[y == 0].mean() < ev[y != 0].mean()


def test_delta_density_stays_in_range_from_1_to_100_lsb():
    # the authors' fixed thresholds saturate (93 % on real data); fitted on the training part the
    # density stays within 10-40 % of the 39 x 16 slots for trials of 1 to 100 LSB
    rng = np.random.default_rng(1)
    for amp in (1.0, 3.0, 10.0, 30.0, 100.0):
        env = 1 + 0.8 * np.sin(np.linspace(0, 6 * np.pi, 391))[:, None]
        trials = [np.clip(np.round(noise_trial(rng, np.full(8, amp)) * env), -128, 127) for _ in range(6)]
        d = np.diff(encode_delta(trials).sample_ptr).mean() / (39 * 16)
        assert 0.10 <= d <= 0.40, (amp, d)
    fixed = np.diff(encode_delta(trials, calibrate="fixed").sample_ptr).mean() / (39 * 16)
    assert fixed > 0.6                                     # the saturation the issue reports


@pytest.fixture(scope="module")
def raw_small(tmp_path_factory):
    d = tmp_path_factory.mktemp("real") / "raw"
    write_synthetic_dataset(d, n_subjects=2, n_sessions=3, n_reps=1, seed=3)
    return d


def test_one_trial_per_class_preprocesses_without_a_warning(raw_small):
    ds = preprocess(raw_small)
    assert len(ds) == 30 and ds.notes == []


def test_no_statistic_of_the_test_fold_enters_the_encoder(raw_small):
    ts = load_raw_folder(raw_small)
    ds = preprocess(ts)
    a = split_dataset(ds, "session", "session2")
    # change every test-session trial (10x louder, other noise): the training encoding is unchanged
    ts2 = load_raw_folder(raw_small)
    rng = np.random.default_rng(5)
    for i in np.flatnonzero(ts2.session == 2):
        ts2.trials[i] = np.clip(ts2.trials[i] * 10 + rng.normal(0, 5, ts2.trials[i].shape), -128, 127)
    b = split_dataset(preprocess(ts2), "session", "session2")
    assert a.calibration["scale"] == b.calibration["scale"] and a.calibration["level_step"] == b.calibration["level_step"]
    assert np.array_equal(a.train.line, b.train.line) and np.array_equal(a.train.sample_ptr, b.train.sample_ptr)
    assert not np.array_equal(a.test.sample_ptr, b.test.sample_ptr)
    assert a.calibration["fitted"]["n_samples"] == 20       # the two training sessions only
    # the delta encoder too
    da = split_dataset(preprocess(ts, encoder="delta"), "session", "session2")
    db = split_dataset(preprocess(ts2, encoder="delta"), "session", "session2")
    assert da.calibration["sigma"] == db.calibration["sigma"]
    assert np.array_equal(da.train.line, db.train.line)


def test_splits_have_no_overlap_and_cover_everything():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 24)
    subject = rng.integers(1, 4, size=len(y))
    session = rng.integers(1, 5, size=len(y))
    for kind in ("random", "session", "subject", "kfold"):
        folds = make_folds(kind, y, subject, session, k=4, seed=1)
        for f in folds:
            assert len(np.intersect1d(f.train, f.test)) == 0
            assert len(f.train) + len(f.test) == len(y)
            if kind == "session":
                assert len(set(session[f.test])) == 1 and set(session[f.test]).isdisjoint(session[f.train])
            if kind == "subject":
                assert set(subject[f.test]).isdisjoint(subject[f.train])
        if kind in ("kfold", "session", "subject"):
            assert np.array_equal(np.sort(np.concatenate([f.test for f in folds])), np.arange(len(y)))
    with pytest.raises(InputError, match="--split session: needs at least 2 sessions"):
        make_folds("session", y, subject, np.ones(len(y)))
    with pytest.raises(InputError, match="--split: unknown split"):
        make_folds("leave-one-out", y, subject, session)


def test_five_class_data_never_predicts_an_unused_output(raw_small):
    from anp_emu.chip.emulator import Chip
    from anp_emu.chip.config import ChipConfig
    from anp_emu.experiments.evaluate import evaluate
    from anp_emu.learning.engine import LearningEngine

    ds = preprocess(raw_small)
    cfg = ChipConfig.random(seed=0, theta_hid=200, theta_out=50, w_aux_hid=10, w_aux_out=10)
    w_out = cfg.w_out.copy()
    w_out[5:] = 511                                        # outputs 5..9 fire hardest on every input
    w_out[:5] = 0
    cfg = cfg.replace(w_out=w_out)
    assert Chip(cfg).run(ds.sample(0), record=True).neuron_argmax >= 5   # the raw winner is 5..9
    res = evaluate(Chip(cfg), ds)
    assert res.predictions.max() < 5 and list(res.confusion.columns) == list(ds.class_names)
    eng = LearningEngine(Chip(cfg), n_classes=5)
    assert eng.train_step(ds.sample(0), 0).prediction < 5
    with pytest.raises(InputError, match="label: class index out of range"):
        eng.train_step(ds.sample(0), 7)


def test_synthetic_real_profile_has_the_real_properties(tmp_path):
    write_synthetic_dataset(tmp_path / "r", n_subjects=1, n_sessions=8, n_reps=1, seed=2)
    ts = load_raw_folder(tmp_path / "r")
    mav = np.array([np.abs(x[:391]).mean(axis=0) for x in ts.trials])
    per_class = np.array([mav[ts.labels == c].max(axis=1).mean() for c in range(5)])
    assert per_class.max() / per_class.min() > 10          # gestures differ by more than 10x
    assert per_class.min() < 2.5                           # one sits near rest
    P = SynthParams()
    assert P.rotated_session_prob > 0 and P.session_gain_sd > 0
    with pytest.raises(InputError, match="profile: unknown synthetic profile"):
        SynthParams.profile("studio")


def test_fold_baselines_on_the_same_folds(raw_small):
    ds = preprocess(raw_small)
    f = folds_of(ds, "session")[0]
    b = fold_baselines(ds, f)
    assert set(b) == {"centroid", "logreg", "lda"} and all(0 <= v <= 1 for v in b.values())


def test_cli_cv_rows_resume_and_bad_input(raw_small, tmp_path):
    r = CliRunner()
    out = tmp_path / "cv"
    args = ["cv", str(raw_small), "-o", str(out), "--split", "session", "--rules", "mpd-ed", "--seeds", "0",
            "--epochs", "1", "--workers", "1", "--json", "--no-progress"]
    res = r.invoke(main, args)
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    chip = [x for x in rows if x["rule"] == "mpd-ed"]
    assert sorted(x["fold"] for x in chip) == ["session1", "session2", "session3"]
    for x in chip:
        assert 0 <= x["test_accuracy"] <= 1 and x["learning_nj"] > 0 and x["seed"] == 0
        assert x["total_nj"] == pytest.approx(x["inference_nj"] + x["learning_nj"], rel=1e-9)
    summary = pd.read_csv(out / "summary.csv").set_index("rule")
    assert {"learning_nj_mean", "inference_nj_mean", "total_nj_mean"} <= set(summary.columns)
    assert {x["rule"] for x in rows} >= {"baseline:centroid", "baseline:logreg"}
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    res = r.invoke(main, args)                             # resumable: nothing is run again
    assert res.exit_code == 0 and {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == mtimes
    res = r.invoke(main, ["cv", str(raw_small), "-o", str(tmp_path / "x"), "--rules", "hebb"])
    assert res.exit_code == 1 and res.stderr.count("\n") == 1 and "rule" in res.stderr and "Traceback" not in res.output
    res = r.invoke(main, ["cv", str(tmp_path / "missing"), "-o", str(tmp_path / "y")])
    assert res.exit_code == 2


def test_train_then_eval_reuse_the_training_encoder(raw_small, tmp_path):
    r = CliRunner()
    ev = tmp_path / "ev.h5"
    assert r.invoke(main, ["data", "preprocess", str(raw_small), "-o", str(ev), "--no-progress"]).exit_code == 0
    run = tmp_path / "run"
    res = r.invoke(main, ["train", str(ev), "-o", str(run), "--split", "session", "--fold", "session3", "--epochs", "1",
                          "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["fold"] == "session3" and summary["classes"] == ["pinky", "elle", "yo", "index", "thumb"]
    enc = json.loads((run / "encoding.json").read_text())
    assert enc["calibration"]["fitted"]["n_samples"] == 20
    res = r.invoke(main, ["eval", str(run / "config.h5"), str(ev), "--split", "session", "--fold", "session3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["encoding"].endswith("encoding.json") and out["samples"] == 10
    assert out["accuracy"] == pytest.approx(summary["final"]["test_accuracy"])
    assert out["classes"] == summary["classes"] and len(out["confusion"]) == 5
    res = r.invoke(main, ["train", str(ev), "-o", str(tmp_path / "r2"), "--split", "session", "--no-progress"])
    assert res.exit_code == 1 and "--fold" in res.stderr and "session1" in res.stderr


def test_alignment_finds_and_undoes_a_rotated_armband(tmp_path):
    from anp_emu.emg.alignment import align_sessions, rotate_features, session_shifts
    from anp_emu.emg.dataset import EventDataset

    write_synthetic_dataset(tmp_path / "c", n_subjects=1, n_sessions=4, n_reps=2, seed=1,
                            params=SynthParams.profile("clean"))          # no session rotation
    ds = preprocess(tmp_path / "c")
    feats = {k: v.copy() for k, v in ds.features.items()}
    rows = np.flatnonzero(ds.session == 4)
    rotate_features(feats, rows, -3)                       # session 4: the armband 3 electrodes round
    rot = EventDataset(ds.T, ds.n_in, ds.labels, ds.subject, ds.session, ds.trial, ds.sample_ptr, ds.step, ds.line,
                       ds.class_names, ds.encoder, ds.encoder_params, features=feats, feature_kind=ds.feature_kind)
    train = np.flatnonzero(ds.session != 4)
    assert session_shifts(rot, train) == {(1, 1): 0, (1, 2): 0, (1, 3): 0, (1, 4): 3}
    back = align_sessions(rot, train)
    assert np.allclose(back.features["sums"], ds.features["sums"])      # undone exactly
    assert back.encoder_params["alignment"]["shifts"]["subject01_session04"] == 3
    assert session_shifts(ds, train) == {(1, 1): 0, (1, 2): 0, (1, 3): 0, (1, 4): 0}   # nothing read into noise


def test_cli_cv_checks_everything_before_writing(raw_small, tmp_path):
    r = CliRunner()
    ev = tmp_path / "ev.h5"
    assert r.invoke(main, ["data", "preprocess", str(raw_small), "-o", str(ev), "--no-progress"]).exit_code == 0
    for args, field in ((["--set", "bogus=1"], "--set bogus: unknown option"),
                        (["--set", "lr=-1"], "--set lr"),
                        (["--split", "kfold", "--folds", "9"], "--folds: more folds than samples"),
                        (["--set", "seed=3"], "--set seed: is set by anp cv itself")):
        out = tmp_path / "never"
        res = r.invoke(main, ["cv", str(ev), "-o", str(out), "--no-progress", *args])
        assert res.exit_code == 1 and field in res.stderr and res.stderr.count("\n") == 1, (args, res.output)
        assert not out.exists()                            # nothing created
    res = r.invoke(main, ["cv", str(raw_small), "-o", str(tmp_path / "n2"), "-p", "level_stp=3", "--no-progress"])
    assert res.exit_code == 1 and "encoder_params.level_stp" in res.stderr and not (tmp_path / "n2").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    res = r.invoke(main, ["cv", str(ev), "-o", str(mine), "--no-progress"])
    assert res.exit_code == 1 and "not an earlier sweep" in res.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
