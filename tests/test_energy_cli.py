"""`anp energy`, `anp energy-table`, `anp complexity` through click's CliRunner: exit codes, one-line
errors, written files. The dataset and learning engine are stand-ins here (the plumbing is tested);
tests/test_energy_training.py runs the real ones."""
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anp_emu.cli import commands_energy
from anp_emu.cli.main import main
from anp_emu.chip.counters import NAMES, Counters
from anp_emu.energy import measure as runner
from anp_emu.energy.model import default_table
from anp_emu.chip.events import SpikeInput


class FakeDataset:
    """Duck-typed event dataset: 6 samples of T=5 steps on 16 lines, 3 classes."""

    def __init__(self, n=6, T=5, n_in=16, seed=0):
        rng = np.random.default_rng(seed)
        self.T, self.n_in = T, n_in
        self.rasters = [(rng.random((T, n_in)) < 0.3).astype(np.uint8) for _ in range(n)]
        self.labels = np.arange(n) % 3
        self.class_names = ["a", "b", "c"]

    def __len__(self):
        return len(self.rasters)

    def sample(self, i):
        return SpikeInput.from_dense(self.rasters[i])


@dataclass
class FakeStep:
    counters: Counters
    loss: float
    prediction: int


class FakeEngine:
    """Forward on the chip, then backward counters shaped like the rules: STBP dense, MPD-ED at spikes."""

    def __init__(self, chip, settings):
        self.chip, self.settings = chip, settings

    def train_step(self, x, label):
        r = self.chip.run(x)
        c = r.counters
        T = len(r.s_hid)
        n_in, n_hid, n_out = self.chip.spec.n_in, self.chip.spec.n_hid, self.chip.spec.n_out
        dense = self.settings.rule == "stbp"
        i = NAMES.index
        c.counts[0, i("bwd_inter_ops")] = n_hid * n_out * T if dense else c["hidden", "spikes"] * n_out
        c.counts[0, i("bwd_intra_ops")] = n_hid * T
        c.counts[0, i("wgrad_accumulates")] = c["hidden", "input_events"] * (n_hid if dense else 2)
        c.counts[0, i("weight_reads")] = n_in * n_hid if dense else 10
        c.counts[0, i("weight_writes")] = n_in * n_hid // 2 if dense else 5
        c.counts[1, i("bwd_inter_ops")] = n_out * T
        c.counts[1, i("bwd_intra_ops")] = n_out * T
        return FakeStep(c, 1.0, r.neuron_argmax)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    ds = FakeDataset()
    path = tmp_path / "ds.h5"
    path.write_bytes(b"stand-in")
    monkeypatch.setattr(commands_energy, "load_dataset", lambda p: ds)
    monkeypatch.setattr(runner, "_default_engine", FakeEngine)
    return path


def run(args):
    return CliRunner().invoke(main, args)


def test_energy_help():
    r = run(["energy", "--help"])
    assert r.exit_code == 0
    for opt in ("--chip", "--rules", "--samples", "--operating-point", "--costs", "--cost", "--seed", "--json",
                "--output", "--plot"):
        assert opt in r.output


def test_energy_tables_and_ratio(fake):
    r = run(["energy", str(fake), "--samples", "4", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "per training sample" in r.output and "stbp / mpd-ed" in r.output
    assert "learning energy per training sample: MPD-ED" in r.output and "STBP : MPD-ED" in r.output
    assert "312 / 9,320 nJ" in r.output and "< 15 %" in r.output        # paper references at 0.56 V
    assert "assumption" in r.output


def test_energy_stbp_emulation_modes(tmp_path):
    """The default counts STBP as the paper ran it (dense); event-input is the what-if. The
    forward pass, and MPD-ED, are the same in both (the real engine, 64-512-10)."""
    from tasks import separable_dataset

    ev = tmp_path / "ev.h5"
    separable_dataset(0, 6, 8).save(ev)
    docs = {}
    for mode in ("dense", "event-input"):
        r = run(["energy", str(ev), "-n", "2", "--json", "--no-progress", "--stbp-emulation", mode])
        assert r.exit_code == 0, r.output
        docs[mode] = json.loads(r.output)
        assert docs[mode]["meta"]["stbp_emulation"] == mode
    s = {m: pd.DataFrame(d["summary"]).set_index("rule") for m, d in docs.items()}
    assert s["dense"].loc["stbp", "learning_nj"] > 2 * s["event-input"].loc["stbp", "learning_nj"]
    ops = {m: pd.DataFrame(d["ops"]).set_index(["rule", "layer", "counter"])["count"] for m, d in docs.items()}
    T, M, N = 8, 64, 512           # every line at every step into every hidden neuron, every synapse read
    assert ops["dense"]["stbp", "hidden", "wgrad_accumulates"] == T * M * N
    assert ops["dense"]["stbp", "hidden", "weight_reads"] == ops["dense"]["stbp", "hidden", "weight_writes"] == M * N
    assert ops["event-input"]["stbp", "hidden", "wgrad_accumulates"] < T * M * N
    assert s["dense"].loc["stbp", "inference_nj"] == s["event-input"].loc["stbp", "inference_nj"]
    assert s["dense"].loc["mpd-ed", "learning_nj"] == s["event-input"].loc["mpd-ed", "learning_nj"]
    r = run(["energy", str(ev), "--stbp-emulation", "all"])
    assert r.exit_code == 2 and "--stbp-emulation" in r.output


def test_energy_json_and_files(fake, tmp_path):
    out = tmp_path / "rep"
    r = run(["energy", str(fake), "-n", "3", "--json", "-o", str(out), "--seed", "3", "--no-progress",
             "--operating-point", "0.9", "--cost", "weight_writes=4"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["meta"]["model"]["operating_point"] == "0.9V"
    assert doc["meta"]["cost_overrides"] == ["weight_writes=4"]
    assert doc["meta"]["paper_learning_nj"] is None
    rules = {row["rule"] for row in doc["summary"]}
    assert rules == {"mpd-ed", "stbp"}
    assert len(doc["steps"]) == 6
    for name in ("comparison", "summary", "phases", "ops", "complexity", "steps"):
        assert (out / f"{name}.csv").is_file()
    assert json.loads((out / "energy.json").read_text()) == doc
    table = json.loads((out / "energy_table.json").read_text())
    assert table["relative_costs"]["weight_writes"] == 4.0
    # the same samples for both rules
    steps = pd.read_csv(out / "steps.csv")
    a, b = steps[steps.rule == "mpd-ed"], steps[steps.rule == "stbp"]
    assert a["sample"].tolist() == b["sample"].tolist()
    assert a["input_events"].tolist() == b["input_events"].tolist()
    # the summary adds up: learning = backward + update, total = inference + learning, per rule
    s = pd.read_csv(out / "summary.csv")
    assert np.allclose(s.learning_nj, s.backward_nj + s.update_nj, rtol=1e-12)
    assert np.allclose(s.total_nj, s.inference_nj + s.learning_nj, rtol=1e-12)
    assert np.allclose(steps.learning_nj, steps.backward_nj + steps.update_nj, rtol=1e-12)
    # the report equals the per-step log averaged, for each of the three figures
    for rule, g in steps.groupby("rule"):
        for f in ("learning_nj", "inference_nj", "total_nj"):
            assert s.set_index("rule").loc[rule, f] == pytest.approx(g[f].mean())


def test_energy_plot(fake, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p"
    r = run(["energy", str(fake), "-n", "2", "-o", str(out), "--plot", "--no-progress", "--rules", "mpd-ed"])
    assert r.exit_code == 0, r.output
    assert (out / "energy_over_training.png").stat().st_size > 1000
    assert "STBP : MPD-ED" not in r.output        # one rule: no ratio


@pytest.mark.parametrize("args, fragment", [
    (["--rules", "mpd-ed,bp"], "rules: unknown rule"),
    (["--rules", "stbp,stbp"], "a rule is given twice"),
    (["--rules", ","], "need at least one rule"),
    (["--operating-point", "1.2V"], "--operating-point: unknown operating point"),
    (["--cost", "weight_writes=-2"], "must not be negative"),
    (["--cost", "foo=1"], "--cost foo: unknown cost name"),
    (["--plot"], "--plot: needs an output folder"),
])
def test_energy_bad_input_one_error_line(fake, args, fragment):
    r = CliRunner().invoke(main, ["energy", str(fake), "-n", "1", "--no-progress", *args])
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], r.output


def test_energy_bad_costs_file(fake, tmp_path):
    d = json.loads(default_table().to_json())
    del d["relative_costs"]["weight_reads"]
    p = tmp_path / "c.json"
    p.write_text(json.dumps(d))
    r = run(["energy", str(fake), "--costs", str(p), "--no-progress"])
    assert r.exit_code == 1
    assert r.output.strip() == f"error: {p}:relative_costs.weight_reads: required field missing"


def test_energy_missing_dataset(tmp_path):
    r = run(["energy", str(tmp_path / "none.h5"), "--no-progress"])
    assert r.exit_code == 1 and r.output.startswith("error: ") and "file not found" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_energy_usage_error_exit_2(fake):
    assert run(["energy", str(fake), "--samples", "0"]).exit_code == 2
    assert run(["energy"]).exit_code == 2


def test_energy_table_command(tmp_path):
    p = tmp_path / "t.json"
    r = run(["energy-table", "--cost", "neuron_updates=0.25", "--write", str(p)])
    assert r.exit_code == 0, r.output
    assert "pJ@0.56V" in r.output and "pJ@0.9V" in r.output
    assert json.loads(p.read_text())["relative_costs"]["neuron_updates"] == 0.25
    r = run(["energy-table", "--costs", str(p), "--operating-point", "0.9V", "--json"])
    assert r.exit_code == 0
    assert json.loads(r.output)["relative_costs"]["neuron_updates"] == 0.25
    r = run(["energy-table", "--costs", str(tmp_path)])
    assert r.exit_code == 1 and "is a folder" in r.output


def test_complexity_command_reproduces_paper():
    r = run(["complexity"])
    assert r.exit_code == 0
    assert "94.22" in r.output and "99.14" in r.output
    r = run(["complexity", "--json"])
    rows = {x["rule"]: x for x in json.loads(r.output)}
    assert rows["mpd-ed"]["reduction_pct_2dp"] == 94.22 and rows["std-ed"]["reduction_pct_2dp"] == 99.14
    r = run(["complexity", "-M", "512", "-N", "10", "-T", "39", "--zeta-i", "0.05", "--zeta-o", "0.1", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.output)) == 3
    r = run(["complexity", "--zeta-i", "0.05"])
    assert r.exit_code == 1 and r.output.startswith("error: ")
    r = run(["complexity", "--zeta-i", "2", "--zeta-o", "0.1"])
    assert r.exit_code == 1 and "zeta_i" in r.output


def _event_file(tmp_path, n=6, T=5, n_in=16):
    from anp_emu.emg.dataset import EventDataset

    fd = FakeDataset(n, T, n_in)
    ds = EventDataset.from_spikes([fd.sample(i) for i in range(n)], T, n_in, fd.labels, np.ones(n), np.ones(n),
                                  np.arange(n), fd.class_names, "test")
    p = tmp_path / "events.h5"
    ds.save(p)
    return p


def test_energy_reads_a_real_event_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_default_engine", FakeEngine)
    p = _event_file(tmp_path)
    r = run(["energy", str(p), "-n", "3", "--json", "--no-progress"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["meta"]["T"] == 5 and doc["meta"]["network"] == "16-512-10"


def test_energy_corrupt_dataset_one_error_line(tmp_path):
    p = tmp_path / "bad.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    r = run(["energy", str(p), "--no-progress"])
    assert r.exit_code == 1 and r.output.startswith("error: ") and len(r.output.strip().splitlines()) == 1


def test_energy_output_path_is_a_file(fake, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    r = run(["energy", str(fake), "-n", "1", "--no-progress", "-o", str(f)])
    assert r.exit_code == 1 and "is not a folder" in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("item, fragment", [
    ("weight_writes=1e308", "relative_costs.weight_writes): out of the plausible range; limit 0..1000; got 1e+308"),
    ("weight_writes=1001", "limit 0..1000"),
    ("pj_per_sop=1e308", "0.56V.pj_per_sop): out of the plausible range; limit 0.001..1000"),
    ("power_mw=1e9", "power_mw): out of the plausible range"),
    ("0.9V.clock_mhz=1e12", "0.9V.clock_mhz): out of the plausible range"),
    ("voltage_v=300", "voltage_v): out of the plausible range"),
    ("cycles.weight_write_cycles=1e308", "cycles.weight_write_cycles: must be an integer in 1..1000000"),
])
def test_energy_implausible_cost_is_refused(fake, item, fragment):
    """A huge cost gave inf/NaN energies with exit 0: now one error naming the field and range."""
    r = CliRunner().invoke(main, ["energy", str(fake), "-n", "1", "--no-progress", "--cost", item])
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], r.output


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d["relative_costs"].update(weight_writes=1e308), "relative_costs.weight_writes: out of the plausible range"),
    (lambda d: d["operating_points"]["0.9V"].update(pj_per_sop=1e-9), "operating_points.0.9V.pj_per_sop: out of the"),
    (lambda d: d["operating_points"]["0.56V"].update(static_power_mw=1e300, power_mw=1e300), "power_mw: out of the"),
])
def test_energy_implausible_costs_file_is_refused(fake, tmp_path, edit, fragment):
    d = json.loads(default_table().to_json())
    edit(d)
    p = tmp_path / "c.json"
    p.write_text(json.dumps(d))
    r = run(["energy", str(fake), "--costs", str(p), "--no-progress"])
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {p}:") and fragment in lines[0], r.output
