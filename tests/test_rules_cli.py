"""The spike-time rules through the command line: anp train --rule std-ed/ebp, the measured
Table II/III of anp complexity --measured, anp gradients, and their refusals."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.files.config_io import load_config
from anp_emu.learning.agreement import gradient_agreement
from tasks import separable_dataset, separable_task


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rules")
    ds = separable_dataset(3, n=60, T=12)
    ev = tmp / "ev.h5"
    ds.save(ev)
    out = {}
    for rule in ("stbp", "mpd-ed", "std-ed", "ebp"):
        r = CliRunner().invoke(main, ["train", str(ev), "-o", str(tmp / rule), "--rule", rule, "--epochs", "1",
                                      "--no-progress", "--json"])
        assert r.exit_code == 0, r.output
        out[rule] = tmp / rule
    return ev, out


def test_train_writes_counters_and_std_ed_runs_on_the_if_neuron(runs):
    _, out = runs
    doc = json.loads((out["std-ed"] / "counters.json").read_text())
    assert doc["rule"] == "std-ed" and doc["spec"]["leak_shift"] == 0 and doc["n_samples"] == 40
    assert doc["counters"]["hidden"]["bwd_intra_ops"] == 0 and doc["counters"]["output"]["bwd_spike_ops"] == 0
    cfg = load_config(out["std-ed"] / "config.h5")
    assert cfg.spec.leak_shift == 0 and cfg.learning.loss == "count-enhanced"
    assert load_config(out["ebp"] / "config.h5").learning.loss == "count"


def test_complexity_measured_from_runs(runs):
    _, out = runs
    r = CliRunner().invoke(main, ["complexity", "--measured", *[str(p) for p in out.values()], "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    rows = {(m["rule"], m["layer"]): m for m in doc["measured"]}
    assert len(rows) == 8 and {p["rule"] for p in doc["paper"]} == {"mpd-ed", "std-ed"}
    assert rows["stbp", "output"]["counted_vs_stbp_pct"] == 0.0
    for rule in ("mpd-ed", "std-ed", "ebp"):
        assert rows[rule, "output"]["counted_vs_stbp_pct"] > 0      # event-driven rules count fewer ops
    std = rows["std-ed", "output"]
    assert std["measured_intra"] == 0 and std["measured_spike"] == 0 and std["intra"] == 0
    text = CliRunner().invoke(main, ["complexity", "--measured", str(out["std-ed"])]).output
    assert "Table III" in text and "std-ed" in text


@pytest.mark.parametrize("content,fragment", [
    (None, "no counters.json"), ("{", "not JSON"), ('{"format": "x", "version": 1}', "format"),
    ('{"format": "anp-training-counters", "version": 1, "rule": "sgd", "T": 3, "n_samples": 1}', "rule"),
    ('{"format": "anp-training-counters", "version": 1, "rule": "ebp", "T": 0, "n_samples": 1}', "T"),
    ('{"format": "anp-training-counters", "version": 1, "rule": "ebp", "T": 3, "n_samples": 1, "spec": {},'
     ' "counters": {"hidden": {}, "output": {}}}', "counters.hidden")])
def test_bad_counters_files_are_one_error_line(tmp_path, content, fragment):
    run = tmp_path / "run"
    run.mkdir()
    if content is not None:
        (run / "counters.json").write_text(content)
    r = CliRunner().invoke(main, ["complexity", "--measured", str(run)])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], r.output
    r = CliRunner().invoke(main, ["complexity", str(run)])       # a run without --measured: usage error line
    assert r.exit_code == 1 and r.output.startswith("error: --measured")


def test_gradients_command_and_stbp_agrees_with_itself(runs, tmp_path):
    ev, out = runs
    r = CliRunner().invoke(main, ["gradients", str(ev), "-n", "3", "--json", "-o", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    rows = {d["rule"]: d for d in json.loads(r.output)}
    assert set(rows) == {"stbp", "mpd-ed", "std-ed", "ebp"}
    assert rows["stbp"]["cos_hidden"] == pytest.approx(1.0) and rows["stbp"]["cos_output"] == pytest.approx(1.0)
    for rule in ("mpd-ed", "std-ed", "ebp"):                    # event-driven: sparser dL/dS than STBP
        assert rows[rule]["dLdS_sparsity"] >= rows["stbp"]["dLdS_sparsity"]
        assert -1.0 <= rows[rule]["cos_hidden"] <= 1.0 or np.isnan(rows[rule]["cos_hidden"])
    assert (tmp_path / "g" / "gradients_per_sample.csv").exists()
    r = CliRunner().invoke(main, ["gradients", str(ev), "--rules", "mpd-ed,sgd"])
    assert r.exit_code == 1 and r.output.startswith("error: --rules")


def test_gradient_agreement_of_a_rule_with_itself_is_one():
    from anp_emu.chip.initialise import init_config
    from anp_emu.chip.spec import ChipSpec
    xs, ys = separable_task(1, n=4, T=10)
    cfg, _ = init_config(ChipSpec(n_in=64, n_hid=32, n_out=4), xs, seed=1, target_hidden=0.1)
    per, summary = gradient_agreement(cfg, xs, ys, ["stbp"])
    assert summary["cos_hidden"].iloc[0] == pytest.approx(1.0) and list(summary["rule"]) == ["stbp"]
    assert ((per["dLdS_sparsity"] >= 0) & (per["dLdS_sparsity"] <= 1)).all()


def test_std_ed_on_a_leaky_chip_file_is_refused_before_any_output(runs, tmp_path):
    ev, out = runs
    r = CliRunner().invoke(main, ["train", str(ev), "-o", str(tmp_path / "never"), "--rule", "std-ed", "--chip",
                                  str(out["mpd-ed"] / "config.h5"), "--no-progress"])
    assert r.exit_code == 1 and r.output.startswith("error: spec.leak_shift") and len(r.output.splitlines()) == 1
    assert not (tmp_path / "never").exists()


def test_gradients_plot(runs, tmp_path):
    pytest.importorskip("matplotlib")
    ev, _ = runs
    r = CliRunner().invoke(main, ["gradients", str(ev), "-n", "2", "-o", str(tmp_path / "g"), "--plot"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "g" / "gradients.png").read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(main, ["gradients", str(ev), "--plot"])           # no folder for the image
    assert r.exit_code == 1 and r.output.startswith("error: --plot")
