"""Mapping float models onto the chip, quantisation reports, export/import of every format."""
import json
import shutil
import subprocess

import nir
import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.chip.emulator import Chip
from anp_emu.cli.main import main
from anp_emu.errors import ConfigKeyError, FileFormatError
from anp_emu.chip.events import SpikeInput
from anp_emu.mapping.export import FORMATS, export_config, import_config
from anp_emu.mapping.float_model import FloatModel, load_npz, load_nir
from anp_emu.mapping.quantise import accuracy_gap, map_model


def separable_float_model(seed=0):
    """64-32-4: class c's 16 input lines drive hidden group c (8 neurons), which drives output c."""
    rng = np.random.default_rng(seed)
    w_hid = rng.normal(0, 0.02, (32, 64))
    w_out = rng.normal(0, 0.02, (4, 32))
    for c in range(4):
        w_hid[8 * c:8 * c + 8, 16 * c:16 * c + 16] += 0.12 + rng.normal(0, 0.01, (8, 16))
        w_out[c, 8 * c:8 * c + 8] += 0.3
    return FloatModel(w_hid, w_out, theta_hid=0.3, theta_out=0.5, tau=0.5, alpha_hid=0.01)


class Data:
    def __init__(self, seed=1, n=80, T=15):
        rng = np.random.default_rng(seed)
        self.labels = np.arange(n) % 4
        self.samples = []
        for y in self.labels:
            p = np.full(64, 0.02)
            p[16 * y:16 * y + 16] = 0.3
            self.samples.append(SpikeInput.from_dense(rng.random((T, 64)) < p))
        self.n_in, self.T, self.class_names = 64, T, list("abcd")

    def __len__(self):
        return len(self.samples)

    def sample(self, i):
        return self.samples[i]


def test_mapped_chip_accuracy_is_within_two_points_of_the_float_model(capsys):
    cfg, rep, fp = map_model(separable_float_model())
    gap = accuracy_gap(cfg, fp, Data())
    with capsys.disabled():
        print(f"\nmapping 64-32-4: float {gap['float_accuracy']:.1%}, chip {gap['chip_accuracy']:.1%}, "
              f"output spike agreement {gap['output_spike_agreement']:.3f}")
    assert gap["float_accuracy"] > 0.9
    assert abs(gap["gap"]) <= 0.02


def test_quantisation_within_half_an_lsb_and_report():
    m = separable_float_model()
    cfg, rep, fp = map_model(m)
    for layer, w in ((0, m.w_hid), (1, m.w_out)):
        assert np.abs(cfg.weights(layer) * cfg.scale(layer) - w).max() <= 0.5 * cfg.scale(layer) + 1e-15
        assert np.abs(cfg.weights(layer)).max() == cfg.spec.w_range(layer)[1]   # max-abs uses the full range
    df = rep.to_frame()
    assert list(df.layer) == ["hidden", "output"] and (df.clipped == 0).all()
    assert (df.weight_max_error_lsb <= 0.5 + 1e-9).all()
    assert cfg.w_aux_hid == round(0.01 / cfg.scale_hid)
    cfg_p, rep_p, _ = map_model(m, percentile=99.0)
    assert rep_p.to_frame().clipped.iloc[0] > 0 and cfg_p.scale_hid < cfg.scale_hid


def test_leak_maps_to_the_nearest_shift_with_a_warning():
    m = separable_float_model()
    m.tau = 0.7
    with pytest.warns(UserWarning, match="tau 0.7.*leak_shift 2 \\(tau 0.75\\)"):
        cfg, rep, _ = map_model(m)
    assert cfg.spec.leak_shift == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_map_export_reload_round_trip_gives_identical_integers(tmp_path, fmt):
    cfg, _, _ = map_model(separable_float_model())
    out = tmp_path / {"h5": "c.h5", "npz": "c.npz", "csv": "c_csv", "c": "c.h", "nir": "c.nir", "netx": "c.net"}[fmt]
    export_config(cfg, out, fmt, clip=fmt == "netx")     # netx: our reload is exact even where netx would clip
    if fmt == "c":
        text = out.read_text()
        assert "static const int8_t anp_w_hid[32][64]" in text and "static const int16_t anp_w_out[4][32]" in text
        if shutil.which("gcc"):
            subprocess.run(["gcc", "-fsyntax-only", "-x", "c", str(out)], check=True)
        return
    back = import_config(out, fmt)
    assert back.equals(cfg.replace(learning=back.learning))
    assert np.array_equal(back.w_hid, cfg.w_hid) and np.array_equal(back.w_out, cfg.w_out)


def test_nir_graph_written_by_nir_maps_and_runs(tmp_path):
    rng = np.random.default_rng(0)
    n_in, n_hid, n_out = 20, 12, 3

    def lif(n):
        return nir.LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))

    g = nir.NIRGraph.from_list(nir.Input(input_type=np.array([n_in])),
                               nir.Affine(weight=rng.normal(0, 1, (n_hid, n_in)), bias=np.zeros(n_hid)), lif(n_hid),
                               nir.Linear(weight=rng.normal(0, 1, (n_out, n_hid))), lif(n_out),
                               nir.Output(output_type=np.array([n_out])))
    nir.write(tmp_path / "g.nir", g)
    m = load_nir(tmp_path / "g.nir", dt=1e-3)
    assert m.tau == pytest.approx(0.5)                 # 1 - dt / tau
    np.testing.assert_allclose(m.w_hid, g.nodes["affine"].weight * 0.5)   # r * dt / tau
    cfg, _, _ = map_model(m)
    r = Chip(cfg).run(rng.random((10, n_in)) < 0.3)
    assert r.s_hid.shape == (10, n_hid) and r.counters["hidden", "input_events"] > 0


def test_npz_model_file_and_its_errors(tmp_path):
    m = separable_float_model()
    np.savez(tmp_path / "m.npz", w_hid=m.w_hid, w_out=m.w_out, theta_hid=0.3, theta_out=0.5, tau=0.5)
    assert load_npz(tmp_path / "m.npz").w_hid.shape == (32, 64)
    np.savez(tmp_path / "x.npz", w_hid=m.w_hid, w_out=m.w_out, theta_hid=0.3, theta_out=0.5, momentum=1.0)
    with pytest.raises(ConfigKeyError, match="momentum.*unknown key"):
        load_npz(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", w_hid=m.w_hid, theta_hid=0.3, theta_out=0.5)
    with pytest.raises(FileFormatError, match="w_out: required field missing"):
        load_npz(tmp_path / "y.npz")
    np.savez(tmp_path / "o.npz", w_hid=np.array([object()]), w_out=m.w_out, theta_hid=0.3, theta_out=0.5)
    with pytest.raises(FileFormatError, match="object arrays are refused"):
        load_npz(tmp_path / "o.npz")


def test_cli_map_export_info(tmp_path):
    m = separable_float_model()
    np.savez(tmp_path / "m.npz", w_hid=m.w_hid, w_out=m.w_out, theta_hid=0.3, theta_out=0.5, tau=0.6)
    r = CliRunner().invoke(main, ["map", str(tmp_path / "m.npz"), "-o", str(tmp_path / "c.h5"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["leak_shift"] == 1 and "mapped to leak_shift 1" in rep["warnings"][0]
    r = CliRunner().invoke(main, ["export", str(tmp_path / "c.h5"), "--format", "csv", "-o", str(tmp_path / "csv")])
    assert r.exit_code == 0 and (tmp_path / "csv" / "hidden_weight.csv").exists()
    r = CliRunner().invoke(main, ["info", str(tmp_path / "c.h5"), "--json"])
    info = json.loads(r.stdout)
    assert info["layers"][0]["memory_bits"] == 32 * 64 * 8
    bad = tmp_path / "bad.npz"
    np.savez(bad, w_hid=np.full((32, 64), np.inf), w_out=m.w_out, theta_hid=0.3, theta_out=0.5)
    r = CliRunner().invoke(main, ["map", str(bad), "-o", str(tmp_path / "bad.h5")])
    assert r.exit_code == 1 and "FINITE_VALUES" in r.output and not (tmp_path / "bad.h5").exists()
    r = CliRunner().invoke(main, ["export", str(tmp_path / "c.h5"), "--format", "xls", "-o", "x"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["info", str(tmp_path / "missing.h5")])
    assert r.exit_code == 1 and "file not found" in r.output


def test_a_float_network_trained_in_the_test_maps_within_a_stated_gap(capsys):
    """Train 64-32-4 on the float twin (float weights, exact updates), map the trained float
    network onto the 8/10-bit chip, and compare their accuracies on held-out samples."""
    from anp_emu.chip.initialise import init_config
    from anp_emu.learning.engine import LearningEngine
    from anp_emu.learning.settings import LearningSettings
    from anp_emu.chip.spec import ChipSpec

    data, test = Data(seed=2, n=120), Data(seed=3, n=80)
    start, _ = init_config(ChipSpec(n_in=64, n_hid=32, n_out=4), [data.sample(i) for i in range(20)], seed=1,
                           target_hidden=0.1)
    chip = Chip(start, "float")
    eng = LearningEngine(chip, LearningSettings(rule="mpd-ed", lr=3000.0))
    for epoch in range(4):
        for i in np.random.default_rng(epoch).permutation(120):
            eng.train_step(data.sample(int(i)), int(data.labels[i]))
    unit = 1e-3  # float units of the trained network: 1 weight LSB of the start = 1e-3
    model = FloatModel(chip.weights(0) * unit, chip.weights(1) * unit, start.theta_hid * unit,
                       start.theta_out * unit, tau=0.5, alpha_hid=start.w_aux_hid * unit, alpha_out=start.w_aux_out * unit)
    cfg, rep, fp = map_model(model)
    gap = accuracy_gap(cfg, fp, test)
    with capsys.disabled():
        print(f"\ntrained float 64-32-4 -> chip: float {gap['float_accuracy']:.1%}, chip {gap['chip_accuracy']:.1%}, "
              f"output spike agreement {gap['output_spike_agreement']:.3f}")
    assert gap["float_accuracy"] > 0.6   # it learned (chance is 0.25)
    assert abs(gap["gap"]) <= 0.05   # stated gap: at most 5 points on 80 held-out samples
