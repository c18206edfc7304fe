"""Energy that reproduces the paper for the right reason (issue 19): the calibration of the op
costs, the energy averaged over the whole training, the paper preset and TET's MSE term."""
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.energy.calibrate import Activity, calibrate, counts_from_ops, paper_counts
from anp_emu.energy.model import default_table
from anp_emu.energy.report import energy_per_sample
from anp_emu.errors import InputError
from anp_emu.learning.loss import tet_loss, tet_mse_loss
from anp_emu.learning.settings import LearningSettings
from anp_emu.experiments.presets import PAPER, aux_step_weight, preset
from anp_emu.chip.spec import ChipSpec
from test_training import dataset, make_trainer  # noqa: F401  (module fixture)


# ----------------------------------------------------------------------------- calibration
def _energies(counts, table):
    return {r: energy_per_sample(c, ChipSpec(), 39, table.model("0.56V"))["learning_nj"] for r, c in counts.items()}


def test_calibration_recovers_known_costs_synthetic_round_trip():
    a = Activity(input_events=150, hidden=0.02, output=0.1, write_fraction=0.25)
    counts = {r: paper_counts(r, a) for r in ("mpd-ed", "stbp")}
    truth = default_table().with_cost("bwd_inter_ops", 3.7).with_cost("wgrad_accumulates", 0.35)
    targets = _energies(counts, truth)
    cal = calibrate(counts, default_table(), fit=("bwd_inter_ops", "wgrad_accumulates"), targets=targets)
    assert cal.fitted["bwd_inter_ops"] == pytest.approx(3.7, rel=1e-9)
    assert cal.fitted["wgrad_accumulates"] == pytest.approx(0.35, rel=1e-9)
    assert np.abs(cal.targets.residual_nj).max() < 1e-6
    # sensitivities are the energy shares: they add up to the dynamic fraction of each energy (<= 1)
    shares = cal.sensitivity.groupby("rule").energy_share.sum()
    assert ((shares > 0.5) & (shares <= 1.0 + 1e-12)).all()
    # one cost from two energies: a least-squares fit with a residual
    one = calibrate(counts, default_table(), fit=("wgrad_accumulates",), targets=targets)
    assert one.rank == 1 and np.abs(one.targets.residual_nj).max() > 1.0


def test_calibration_refusals():
    counts = {r: paper_counts(r, Activity(input_events=100, hidden=0.01)) for r in ("mpd-ed", "stbp")}
    with pytest.raises(InputError, match="negative cost"):
        calibrate(counts, default_table())          # STBP's dense learning work alone exceeds 9,320 nJ
    # the what-if counts (silent lines skipped) need a register op dearer than ten SRAM reads
    what_if = {r: paper_counts(r, Activity(input_events=100, hidden=0.01, stbp_emulation="event-input"))
               for r in ("mpd-ed", "stbp")}
    with pytest.raises(InputError, match=r"implausible cost.*<= 10 SOP.*wgrad_accumulates"):
        calibrate(what_if, default_table())
    for name in ("sop_effective", "neuron_updates"):    # not a learning cost: learning energy cannot fit it
        with pytest.raises(InputError, match="unknown"):
            calibrate(counts, default_table(), fit=(name,))
    with pytest.raises(InputError, match="cannot be told apart"):
        calibrate(counts, default_table(), fit=("weight_writes", "updates_skipped", "weight_reads"))
    with pytest.raises(InputError, match="activity.hidden"):
        Activity(hidden=1.5)


def test_paper_counts_stbp_dense_and_event_input():
    # the paper's emulation: Table II's M N T, every synapse read and written, whatever the input
    for ev in (0, 100, 200):
        c = paper_counts("stbp", Activity(input_events=ev))
        assert c["hidden", "wgrad_accumulates"] == 39 * 1024 * 512 and c["output", "wgrad_accumulates"] == 39 * 512 * 10
        assert c["hidden", "weight_reads"] == c["hidden", "weight_writes"] == 1024 * 512
        assert c["updates_skipped"] == 0
    # the what-if: event-driven on the input side
    c1 = paper_counts("stbp", Activity(input_events=100, stbp_emulation="event-input"))
    c2 = paper_counts("stbp", Activity(input_events=200, stbp_emulation="event-input"))
    assert c1["hidden", "wgrad_accumulates"] == 100 * 512
    assert c2["hidden", "wgrad_accumulates"] == 2 * c1["hidden", "wgrad_accumulates"]
    assert paper_counts("stbp", Activity(input_events=0, stbp_emulation="event-input"))[
        "hidden", "wgrad_accumulates"] == 0


def test_counts_from_ops_table_round_trip():
    c = paper_counts("mpd-ed", Activity())
    frame = c.to_frame().rename(columns={"value": "count"}).assign(rule="mpd-ed")
    frame["count"] = [c.counts[["hidden", "output"].index(l)][i % 15] for i, l in enumerate(frame.layer)]
    back = counts_from_ops(frame)["mpd-ed"]
    assert np.allclose(back.counts, c.counts)
    with pytest.raises(InputError, match="missing columns"):
        counts_from_ops(frame.drop(columns=["count"]))


def test_calibrate_command(tmp_path):
    p = tmp_path / "cal.json"
    r = CliRunner().invoke(main, ["energy", "calibrate", "--write", str(p), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc["fitted"]) == {"bwd_inter_ops", "wgrad_accumulates"}
    assert max(abs(t["residual_nj"]) for t in doc["targets"]) < 1e-6
    assert json.loads(p.read_text())["relative_costs"]["wgrad_accumulates"] == pytest.approx(doc["fitted"]["wgrad_accumulates"])
    r = CliRunner().invoke(main, ["energy", "calibrate", "--input-events", "100", "--hidden-activity", "0.01"])
    assert r.exit_code == 1 and r.output.strip().startswith("error:") and "negative cost" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(main, ["energy", "calibrate", "--input-events", "100", "--hidden-activity", "0.01",
                                  "--stbp-emulation", "event-input"])
    assert r.exit_code == 1 and "implausible cost" in r.output and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(main, ["energy", "calibrate", "--fit", "nonsense"])
    assert r.exit_code == 1 and "--fit" in r.output


# ----------------------------------------------------------------------------- averaged over training
def test_averaged_energy_is_the_mean_of_the_logged_per_sample_energies(tmp_path, dataset):  # noqa: F811
    ev = tmp_path / "ev.h5"
    dataset.save(ev)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(out), "--epochs", "2", "--lr", "3000", "--no-progress",
                                  "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    samples = pd.read_csv(out / "samples.csv")
    log = pd.read_csv(out / "log.csv")
    assert len(samples) == log.samples.sum() and sorted(samples.epoch.unique()) == [1, 2]
    avg = summary["energy_per_training_sample_averaged_over_training"]
    for f in ("learning_nj", "inference_nj", "total_nj"):
        assert avg["0.56V"][f] == pytest.approx(samples[f].mean(), rel=1e-12)
        # each epoch's logged energy is the mean of its samples'
        per_epoch = samples.groupby("epoch")[f].mean().to_numpy()
        assert np.allclose(log[f].to_numpy(), per_epoch, rtol=1e-12)
    for e in (avg["0.56V"], avg["0.9V"]):
        assert e["total_nj"] == pytest.approx(e["inference_nj"] + e["learning_nj"], rel=1e-12)
        assert e["learning_pct_of_inference"] == pytest.approx(100 * e["learning_nj"] / e["inference_nj"])
    assert np.allclose(samples.total_nj, samples.inference_nj + samples.learning_nj, rtol=1e-12)
    # anp energy summary re-prices the run from counters.csv and gives the same figures, per epoch too
    r = CliRunner().invoke(main, ["energy", "summary", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    run = doc["runs"][0]
    for p in ("0.56V", "0.9V"):
        for f in ("learning_nj", "inference_nj", "total_nj"):
            assert run[f"{f}@{p}"] == pytest.approx(avg[p][f], rel=1e-12)
    assert run["samples_csv_mean_learning_nj"] == pytest.approx(avg["0.56V"]["learning_nj"], rel=1e-12)
    epochs = pd.DataFrame(doc["epochs"])
    assert np.allclose(epochs["learning_nj@0.56V"], log.learning_nj, rtol=1e-12)
    assert run["first_epoch_learning_nj@0.56V"] == pytest.approx(log.learning_nj.iloc[0])
    assert run["last_epoch_learning_nj@0.56V"] == pytest.approx(log.learning_nj.iloc[-1])
    # a folder that is not a run: one error line
    r = CliRunner().invoke(main, ["energy", "summary", str(tmp_path)])
    assert r.exit_code == 1 and r.output.startswith("error:") and "summary.json" in r.output


def test_trainer_averaged_energy_and_counters_survive_in_the_history(dataset):  # noqa: F811
    from anp_emu.energy.model import default_table as dt

    tr = make_trainer(dataset, epochs=2)
    tr.energy_model = dt().model("0.56V")
    samples = []
    for _ in range(2):
        tr.run_epoch()
        samples.append(tr.last_samples)
    allrows = pd.concat(samples)
    for f in ("learning_nj", "inference_nj", "total_nj"):
        assert tr.averaged_energy()[f] == pytest.approx(allrows[f].mean(), rel=1e-12)
    cf = tr.counters_frame()
    assert set(cf.epoch) == {1, 2} and (cf.groupby("epoch").samples.first() == len(tr.train)).all()


# ----------------------------------------------------------------------------- preset and TET + MSE
def test_paper_preset_values():
    s = PAPER.apply_settings(LearningSettings(loss="tet"))
    assert (s.temporal_window, s.reset_path, s.loss, s.tet_lambda) == (1, True, "tet", 1e-3)
    assert PAPER.options == {"schedule": "cosine", "epochs": 50}
    assert PAPER.aux_frac(39) == pytest.approx(1 / 39)
    assert aux_step_weight(483, 39, 127) == 12 and aux_step_weight(5, 39, 127) == 1
    assert aux_step_weight(100000, 39, 127) == 127
    kept = PAPER.apply_settings(LearningSettings(loss="ce"), keep=("loss",))
    assert kept.loss == "ce" and kept.tet_lambda == 0.0
    with pytest.raises(InputError, match="--preset"):
        preset("fast")


def test_tet_mse_term_value_and_gradient():
    rng = np.random.default_rng(0)
    v = rng.integers(-50, 120, size=(5, 4)).astype(np.int64)
    gain, th, lam = 10.0, 100.0, 0.2
    loss, g = tet_mse_loss(v, 1, gain, th, lam)
    l0, _ = tet_loss(v, 1, gain, th)
    z = gain * v / th
    assert loss == pytest.approx((1 - lam) * l0 + lam * np.mean((z - 1.0) ** 2))
    vf = v.astype(np.float64)
    eps = 1e-4
    for t, k in ((0, 0), (2, 1), (4, 3)):
        vp, vm = vf.copy(), vf.copy()
        vp[t, k] += eps
        vm[t, k] -= eps
        num = (tet_mse_loss(vp, 1, gain, th, lam)[0] - tet_mse_loss(vm, 1, gain, th, lam)[0]) / (2 * eps)
        assert g[t, k] == pytest.approx(num, rel=1e-5, abs=1e-9)
    with pytest.raises(InputError, match="tet_lambda"):
        LearningSettings(loss="ce", tet_lambda=1e-3)
    with pytest.raises(InputError, match="tet_lambda"):
        LearningSettings(loss="tet", tet_lambda=1.0)


def test_train_with_the_paper_preset_records_it_and_explicit_options_win(tmp_path, dataset):  # noqa: F811
    ev = tmp_path / "ev.h5"
    dataset.save(ev)
    out = tmp_path / "pap"
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(out), "--preset", "paper", "--epochs", "1",
                                  "--no-progress", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["preset"] == "paper" and s["epochs"] == 1                  # --epochs given: it wins
    st = s["settings"]
    assert (st["temporal_window"], st["reset_path"], st["loss"], st["tet_lambda"]) == (1, True, "tet", 1e-3)
    assert s["options"]["schedule"] == "cosine"
    from anp_emu.files.config_io import load_config

    cfg = load_config(out / "config.h5")
    assert cfg.w_aux_hid == aux_step_weight(cfg.theta_hid, dataset.T, cfg.spec.w_range(0)[1])
    assert cfg.learning.tet_lambda == 1e-3


def test_energy_and_ablation_take_the_paper_preset(tmp_path, dataset):  # noqa: F811
    ev = tmp_path / "ev.h5"
    dataset.save(ev)
    r = CliRunner().invoke(main, ["energy", str(ev), "-n", "2", "--preset", "paper", "--json", "--no-progress"])
    assert r.exit_code == 0, r.output
    meta = json.loads(r.stdout)["meta"]
    assert meta["preset"] == "paper" and "preset paper" in meta["chip"]
    out = tmp_path / "abl"
    r = CliRunner().invoke(main, ["ablation", str(ev), "-o", str(out), "--epochs", "1", "--preset", "paper",
                                  "--seeds", "1", "--workers", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out / "ablation.csv")
    assert len(t) == 7 and (t.learning_nj > 0).all() and (t.inference_nj > 0).all()
    assert np.allclose(t.total_nj, t.inference_nj + t.learning_nj, rtol=1e-9)
    run = out / "runs" / "rule=mpd-ed__aft=aux__precision=int__seed=0"
    assert json.loads((run / "summary.json").read_text())["preset"] == "paper"
    log = pd.read_csv(run / "log.csv")
    assert len(log) == 1                                  # --epochs given: it wins over the preset's 50
