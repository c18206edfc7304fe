"""Energy = counters x table, checked by hand on a tiny net; the table file format and its errors."""
import json
import math

import numpy as np
import pytest

from anp_emu.chip.emulator import Chip
from anp_emu.chip.config import ChipConfig
from anp_emu.chip.counters import NAMES, Counters, new_counts
from anp_emu.energy.model import (COST_NAMES, EnergyTable, default_table, load_table, resolve_table, save_table,
                                  table_from_dict)
from anp_emu.energy.report import compare, energy_per_sample, ratio, run_report
from anp_emu.errors import AnpError, ConfigKeyError, FileFormatError, InputError
from anp_emu.chip.spec import ChipSpec

# tiny net 4-3-2; leak_shift 1, hidden aux 1
W_HID = [[5, 0, 3, -2],
         [0, 0, 7, 1],
         [4, 4, 0, 0]]
W_OUT = [[6, 0, 2],
         [3, 3, 3]]
X = [[1, 0, 1, 0],   # t0: lines 0, 2
     [0, 1, 0, 1],   # t1: lines 1, 3
     [1, 1, 1, 1]]   # t2: all


@pytest.fixture(scope="module")
def tiny():
    spec = ChipSpec(n_in=4, n_hid=3, n_out=2)
    cfg = ChipConfig(spec, np.array(W_HID), np.array(W_OUT), theta_hid=6, theta_out=5, w_aux_hid=1, w_aux_out=0)
    r = Chip(cfg).run(np.array(X, dtype=np.uint8), record=True)
    return spec, r


def test_tiny_net_counters_by_hand(tiny):
    # hidden: t0 acc [8,7,4] +aux -> [9,8,5] fires h0,h1; t1 h0,h1 reset: [-2, 1], h2 leak 5->3 +4 +1 = 8 fires;
    # t2 h0 -2->-1 +6 +1 = 6 fires, h1 1->1 +8 +1 = 10 fires, h2 reset 0 +8 = 8 fires
    spec, r = tiny
    assert r.s_hid.tolist() == [[1, 1, 0], [0, 0, 1], [1, 1, 1]]
    assert r.s_out.tolist() == [[1, 1], [0, 0], [1, 1]]
    c = r.counters
    # non-zero fan-out per input line: l0 2, l1 1, l2 2, l3 2; per hidden neuron: h0 2, h1 1, h2 2
    assert [c["hidden", n] for n in ("input_events", "sop_effective", "sop_dense", "sop_aux", "neuron_updates",
                                      "spikes")] == [8, 4 + 3 + 7, 24, 3 + 1 + 2, 9, 6]
    assert [c["output", n] for n in ("input_events", "sop_effective", "sop_dense", "sop_aux", "neuron_updates",
                                      "spikes")] == [6, 3 + 2 + 5, 12, 0, 6, 4]


def test_tiny_net_energy_by_hand(tiny):
    spec, r = tiny
    m = default_table().model("0.56V")
    rep = run_report(r.counters, spec, 3, m, "tiny")
    # hidden: 8 events x 1.49 + 14 SOP x 1.49 + 6 aux x 1.49 + 9 updates x 0.745 = 48.425 pJ
    # output: 6 x 1.49 + 10 x 1.49 + 6 x 0.745 = 28.31 pJ
    dyn_pj = 48.425 + 28.31
    # cycles: per event 1 overhead + ceil(3/64) = 2, plus T x ceil(n/64) neuron cycles
    cycles = (8 * 2 + 3) + (6 * 2 + 3)   # 34
    latency_s = cycles / 40e6             # 0.85 us
    static_pj = 0.1e-3 * latency_s * 1e12  # 85 pJ
    row = rep.row
    assert row["dynamic_nj"] == pytest.approx(dyn_pj * 1e-3, rel=1e-12)
    assert row["cycles"] == cycles
    assert row["latency_us"] == pytest.approx(0.85)
    assert row["static_nj"] == pytest.approx(static_pj * 1e-3)
    assert row["total_nj"] == pytest.approx((dyn_pj + static_pj) * 1e-3)
    assert row["inference_nj"] == row["total_nj"]          # forward only: no learning increment
    assert row["learning_nj"] == 0 and row["learning_pct_of_inference"] == 0
    assert row["power_mw"] == pytest.approx(row["total_nj"] / 0.85)
    assert row["edp_nj_us"] == pytest.approx(row["total_nj"] * 0.85)
    ph = rep.phases.set_index(["layer", "phase"])
    assert ph.loc[("hidden", "forward"), "dynamic_nj"] == pytest.approx(0.048425)
    assert ph.loc[("output", "forward"), "dynamic_nj"] == pytest.approx(0.02831)
    assert ph.loc[("hidden", "forward"), "static_nj"] == pytest.approx(0.1e-3 * 19 / 40e6 * 1e9)
    # the ops table is exactly counts x pJ/op
    ops = rep.ops
    assert np.allclose(ops["energy_nj"], ops["count"] * ops["pj_per_op"] * 1e-3)
    assert ops.loc[(ops.layer == "hidden") & (ops.counter == "sop_effective"), "energy_nj"].item() == \
        pytest.approx(14 * 1.49e-3)


def test_zero_skipping_option_charges_dense_sops(tiny):
    spec, r = tiny
    t = default_table().with_overrides(["zero_skipping=false"])
    m = t.model("0.56V")
    tab = m.per_op_pj()
    assert tab["sop_effective"] == 0 and tab["sop_dense"] == 1.49
    rep = run_report(r.counters, spec, 3, m)
    # dense: 24 + 12 SOPs instead of 14 + 10
    assert rep.row["dynamic_nj"] * 1e3 == pytest.approx(48.425 + 28.31 + 1.49 * (24 + 12 - 14 - 10))
    assert rep.row["sops"] == 36


def test_other_operating_point_scales_and_clock(tiny):
    spec, r = tiny
    m = default_table().model("0.9V")
    rep = run_report(r.counters, spec, 3, m)
    assert rep.row["dynamic_nj"] * 1e3 == pytest.approx((48.425 + 28.31) * 4.16 / 1.49)
    assert rep.row["latency_us"] == pytest.approx(34 / 210)
    assert rep.row["static_nj"] * 1e3 == pytest.approx(0.4e-3 * 34 / 210e6 * 1e12)


def _train_counters():
    c = new_counts()
    for li in range(2):
        for i, n in enumerate(NAMES):
            c[li, i] = 10 * (li + 1) + i          # every counter non-zero, distinct
    return Counters(c, n_samples=2)


def test_learning_phases_counters_times_table():
    spec = ChipSpec(n_in=4, n_hid=3, n_out=2)
    m = default_table().model("0.56V")
    cnt = _train_counters()
    tab = m.per_op_pj()
    e = m.energy_pj(cnt)
    for li in range(2):
        for i, n in enumerate(NAMES):
            assert e[li, i] == cnt.counts[li, i] * tab[n]
    rep = run_report(cnt, spec, 5, m, "x")
    row = rep.row
    per_sample_dyn = e.sum() / 2 * 1e-3
    assert row["dynamic_nj"] == pytest.approx(per_sample_dyn)
    # learning = backward + update and total = inference + learning, exactly
    assert row["learning_nj"] == row["backward_nj"] + row["update_nj"]
    assert row["total_nj"] == row["inference_nj"] + row["learning_nj"]
    assert row["learning_pct_of_inference"] == pytest.approx(100 * row["learning_nj"] / row["inference_nj"])
    # backward of the hidden layer by hand: (bwd_inter 17 + intra 18 + spike 19 + wgrad 20) x cost x 1.49 pJ / 2
    rc = default_table().relative_costs
    bwd_dyn_h = (17 * rc["bwd_inter_ops"] + 18 * rc["bwd_intra_ops"] + 19 * rc["bwd_spike_ops"]
                 + 20 * rc["wgrad_accumulates"]) * 1.49 / 2
    ph = rep.phases.set_index(["layer", "phase"])
    assert ph.loc[("hidden", "backward"), "dynamic_nj"] * 1e3 == pytest.approx(bwd_dyn_h)
    # per-step helper agrees with the report
    se = energy_per_sample(cnt, spec, 5, m)
    for f in ("learning_nj", "inference_nj", "total_nj", "backward_nj", "update_nj"):
        assert se[f] == pytest.approx(row[f], rel=1e-12)
    assert se["learning_nj"] == se["backward_nj"] + se["update_nj"]
    assert se["total_nj"] == se["inference_nj"] + se["learning_nj"]


def test_compare_ratio():
    spec = ChipSpec(n_in=4, n_hid=3, n_out=2)
    m = default_table().with_overrides(["static_power_mw=0"]).model("0.56V")  # dynamic only: scales with counts
    a = run_report(_train_counters(), spec, 5, m, "mpd-ed")
    c2 = _train_counters()
    c2.counts *= 3
    b = run_report(c2, spec, 5, m, "stbp")
    reps = {"mpd-ed": a, "stbp": b}
    assert ratio(reps) == pytest.approx(3.0)
    df = compare(reps).set_index("metric")
    assert df.loc["learning_nj", "stbp / mpd-ed"] == pytest.approx(3.0)
    assert df.loc["total_nj", "stbp / mpd-ed"] == pytest.approx(3.0)
    assert "312" in df.loc["learning_nj", "paper"] and "9,320" in df.loc["learning_nj", "paper"]
    assert "15 %" in df.loc["learning_pct_of_inference", "paper"]


def test_sop_includes_static_reproduces_published_at_full_load():
    t = default_table().with_overrides(["sop_includes_static=true"])
    m = t.model("0.56V")
    assert m.sop_pj == pytest.approx(1.49 * (1 - 0.1 / 2.91))
    n = 1_000_000
    seconds = n / (m.point.sop_rate_gsops * 1e9)      # full load: the published SOP rate
    cycles = seconds * 40e6
    assert n * m.sop_pj + m.static_pj(cycles) == pytest.approx(n * 1.49)


def test_shipped_points_are_the_published_ones():
    t = default_table()
    p, q = t.points["0.56V"], t.points["0.9V"]
    assert (p.voltage_v, p.clock_mhz, p.pj_per_sop, p.power_mw) == (0.56, 40.0, 1.49, 2.91)
    assert (q.voltage_v, q.clock_mhz, q.pj_per_sop, q.power_mw) == (0.9, 210.0, 4.16, 56.8)
    assert set(t.relative_costs) == set(COST_NAMES)
    assert t.model().per_op_pj()["sop_effective"] == 1.49


def test_cli_style_overrides():
    t = default_table()
    t2 = t.with_overrides(["weight_writes=3", "0.9V.static_power_mw=1.5", "pj_per_sop=2", "cycles.synaptic_lanes=32"])
    assert t2.relative_costs["weight_writes"] == 3.0
    assert t2.points["0.9V"].static_power_mw == 1.5
    assert t2.points["0.56V"].pj_per_sop == 2.0
    assert t2.cycle_table.synaptic_lanes == 32
    assert t.relative_costs["weight_writes"] == 1.5             # the original is untouched
    assert t2.sources["weight_writes"].startswith("overridden (3 SOP)") and "CACTI" in t.sources["weight_writes"]
    t3 = t.with_overrides(["pj_per_sop=5"], point="0.9V")
    assert t3.points["0.9V"].pj_per_sop == 5 and t3.points["0.56V"].pj_per_sop == 1.49


@pytest.mark.parametrize("item, fragment", [
    ("weight_write=3", "--cost weight_write: unknown cost name"),
    ("sop_effective=2", "SOP counters are the unit"),
    ("weight_writes=-1", "must not be negative"),
    ("weight_writes=nan", "must be finite"),
    ("weight_writes=abc", "must be a number"),
    ("weight_writes", "expected NAME=VALUE"),
    ("zero_skipping=maybe", "must be true or false"),
    ("0.9V.pj_per_sop=0", "must be > 0"),
    ("static_power_mw=5", "static power exceeds the total power"),
    ("cycles.lanes=3", "unknown cycle-table field"),
])
def test_bad_overrides(item, fragment):
    with pytest.raises(InputError) as e:
        default_table().with_overrides([item])
    assert fragment in str(e.value)


def _write(tmp_path, d, name="t.json"):
    p = tmp_path / name
    p.write_text(json.dumps(d) if not isinstance(d, str) else d)
    return p


def _base():
    return json.loads(default_table().to_json())


def test_roundtrip_file(tmp_path):
    t = default_table().with_overrides(["weight_writes=4", "zero_skipping=false"])
    p = tmp_path / "x.json"
    save_table(t, p)
    t2 = load_table(p)
    assert t2.relative_costs == t.relative_costs and t2.points == t.points
    assert t2.zero_skipping is False and t2.cycle_table == t.cycle_table
    assert resolve_table(p, ["neuron_updates=0.25"]).relative_costs["neuron_updates"] == 0.25


def test_toml_file(tmp_path):
    costs = "\n".join(f"{k} = {v}" for k, v in default_table().relative_costs.items())
    text = f"""format = "anp-energy-table"
version = 1
[operating_points.low]
voltage_v = 0.5
clock_mhz = 20
pj_per_sop = 1.2
power_mw = 1.0
static_power_mw = 0.05
[relative_costs]
{costs}
[options]
zero_skipping = true
sop_includes_static = false
"""
    t = load_table(_write(tmp_path, text, "t.toml"))
    assert t.point_names == ("low",) and t.model("low").per_op_pj()["sop_effective"] == 1.2


@pytest.mark.parametrize("mutate, err, fragment", [
    (lambda d: d["relative_costs"].update(weight_writez=1.0), ConfigKeyError,
     "relative_costs.weight_writez: unknown operation"),
    (lambda d: d["relative_costs"].update(weight_writes=-0.5), InputError, "relative_costs.weight_writes: must not be negative"),
    (lambda d: d["relative_costs"].pop("bwd_inter_ops"), ConfigKeyError, "relative_costs.bwd_inter_ops: required field missing"),
    (lambda d: d["operating_points"]["0.9V"].pop("pj_per_sop"), ConfigKeyError,
     "operating_points.0.9V.pj_per_sop: required field missing"),
    (lambda d: d["operating_points"]["0.56V"].update(pj_per_sop=-1.49), InputError,
     "operating_points.0.56V.pj_per_sop: must be > 0"),
    (lambda d: d["operating_points"]["0.56V"].update(static_power_mw=-0.1), InputError,
     "operating_points.0.56V.static_power_mw: must not be negative"),
    (lambda d: d["operating_points"]["0.56V"].update(pj_per_sop="1.49"), InputError, "must be a number"),
    (lambda d: d["operating_points"]["0.56V"].update(volts=1), ConfigKeyError, "operating_points.0.56V.volts: unknown field"),
    (lambda d: d["options"].pop("zero_skipping"), ConfigKeyError, "options.zero_skipping: required field missing"),
    (lambda d: d["options"].update(skip=True), ConfigKeyError, "options.skip: unknown option"),
    (lambda d: d.pop("relative_costs"), ConfigKeyError, "relative_costs: required field missing"),
    (lambda d: d.update(extra=1), ConfigKeyError, "extra: unknown key"),
    (lambda d: d.update(format="other"), FileFormatError, "format: expected 'anp-energy-table'"),
    (lambda d: d.update(version=2), FileFormatError, "version: supported [1], got 2"),
    (lambda d: d["cycles"].update(synaptic_lanes=0), InputError, "cycles.synaptic_lanes"),
    (lambda d: d["cycles"].update(synaptic_lanes=1.5), InputError, "cycles.synaptic_lanes: must be an integer"),
])
def test_bad_energy_files(tmp_path, mutate, err, fragment):
    d = _base()
    mutate(d)
    p = _write(tmp_path, d)
    with pytest.raises(err) as e:
        load_table(p)
    msg = str(e.value)
    assert fragment in msg
    assert "\n" not in msg
    if "extra" not in fragment and "cycles" not in fragment:
        assert str(p) in msg                     # the file is named


def test_nan_in_json_file_is_refused(tmp_path):
    text = default_table().to_json().replace('"weight_reads": 1.0', '"weight_reads": NaN')
    with pytest.raises(InputError, match=r"relative_costs.weight_reads: must be finite"):
        load_table(_write(tmp_path, text))


@pytest.mark.parametrize("text, fragment", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a table"),
])
def test_malformed_files(tmp_path, text, fragment):
    with pytest.raises(FileFormatError, match=fragment):
        load_table(_write(tmp_path, text))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileFormatError, match="file not found"):
        load_table(tmp_path / "nope.json")
    with pytest.raises(FileFormatError, match="is a folder"):
        load_table(tmp_path)


def test_every_error_is_typed():
    assert issubclass(ConfigKeyError, AnpError)
    with pytest.raises(InputError, match="unknown operating point"):
        default_table().model("1.2V")
    with pytest.raises(InputError, match="T: must be an integer"):
        run_report(Counters(), ChipSpec(n_in=4, n_hid=3, n_out=2), 0, default_table().model())


def test_table_from_dict_without_file():
    t = table_from_dict(_base())
    assert isinstance(t, EnergyTable) and math.isclose(t.model().sop_pj, 1.49)


def test_shipped_table_names_a_source_for_every_cost():
    t = default_table()
    for name in (*t.relative_costs, "sop", "static_power_mw"):
        assert len(t.sources.get(name, "")) > 20, name
    d = t.to_dict()
    d["sources"]["nonsense"] = "x"
    from anp_emu.energy.model import table_from_dict
    with pytest.raises(ConfigKeyError, match="sources.nonsense"):
        table_from_dict(d)
