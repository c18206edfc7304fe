"""The chip's readout rule for other simulators' outputs (numpy only), the NIR metadata that states
it, the interop script's accuracy (no torch needed), and RunResult's prediction among classes."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from anp_emu.chip.config import ChipConfig
from anp_emu.chip.emulator import Chip
from anp_emu.chip.kernels import predict_class
from anp_emu.chip.spec import ChipSpec
from anp_emu.errors import InputError
from anp_emu.mapping.readout import chip_readout, readout_of

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("interop_snntorch", ROOT / "scripts" / "interop_snntorch.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readout_equals_the_chip_kernel_on_random_ties():
    """Spike count, ties by summed membrane, then the lower index: the same as the chip's kernel,
    on arrays built to tie often; (T, B, n) batches and one (T, n) sample."""
    rng = np.random.default_rng(0)
    T, B, n = 6, 200, 10
    s = (rng.random((T, B, n)) < 0.15).astype(np.uint8)
    v = rng.integers(-3, 4, size=(T, B, n)).astype(np.int64)
    v[:, ::3] = 0                                             # membrane ties too: lowest index decides
    for k in (10, 5, 1):
        want = [predict_class(np.ascontiguousarray(s[:, b, :k]), np.ascontiguousarray(v[:, b, :k])) for b in range(B)]
        assert chip_readout(s, v, n_classes=k).tolist() == want
        no_v = [predict_class(np.ascontiguousarray(s[:, b, :k]), np.zeros((0, k), np.int64)) for b in range(B)]
        assert chip_readout(s, None, n_classes=k).tolist() == no_v
    assert int(chip_readout(s[:, 0], v[:, 0], n_classes=1)) == want[0] == 0
    # batch-first layout (B, T, n)
    assert np.array_equal(chip_readout(s.transpose(1, 0, 2), v.transpose(1, 0, 2), 5, time_axis=1),
                          chip_readout(s, v, 5))


def test_readout_bad_inputs_name_the_field():
    s = np.zeros((3, 2, 10))
    with pytest.raises(InputError, match="n_classes: out of range; limit 1..10; got 11"):
        chip_readout(s, n_classes=11)
    with pytest.raises(InputError, match="membranes: shape differs"):
        chip_readout(s, np.zeros((3, 2, 9)), n_classes=5)


def test_interop_script_accuracy_counts_only_the_datasets_classes():
    """The bug: a 5-class dataset on 10 outputs, untrained outputs 5..9 firing hardest. Plain
    argmax over every output scores 0.0; the chip's readout among the 5 classes scores the truth."""
    acc = _script().accuracies
    T, B = 4, 6
    labels = np.arange(B) % 5
    s = np.zeros((T, B, 10), np.uint8)
    s[:2, np.arange(B), labels] = 1                           # the right class: 2 spikes
    s[:3, :, 5:] = 1                                          # every untrained output: 3
    assert acc(s, labels, 5) == {"chip_readout": 1.0, "argmax": 0.0}
    # a tie between two classes goes to the larger summed membrane when membranes are given
    s3 = np.zeros((2, 1, 10), np.uint8)
    s3[:, 0, [1, 3]] = 1
    v = np.zeros((2, 1, 10))
    v[:, 0, 3] = 5.0
    assert acc(s3, np.array([3]), 5, v)["chip_readout"] == 1.0
    assert acc(s3, np.array([3]), 5)["chip_readout"] == 0.0     # without: the lower index


def test_run_result_prediction_is_among_the_datasets_classes():
    """RunResult.prediction needs the dataset's classes (the old one picked among all outputs);
    the raw winner is neuron_argmax."""
    cfg = ChipConfig.random(ChipSpec(n_in=8, n_hid=6, n_out=10), seed=1, theta_hid=20, theta_out=10)
    w_out = cfg.w_out.copy()
    w_out[:5], w_out[5:] = 0, 500
    cfg = cfg.replace(w_out=w_out)
    x = np.ones((5, 8), np.uint8)
    r = Chip(cfg).run(x, record=True)
    assert r.neuron_argmax >= 5
    with pytest.raises(InputError, match="n_classes: unknown"):
        r.prediction
    assert Chip(cfg, n_classes=5).run(x).prediction < 5
    assert Chip(cfg).run(x, n_classes=5).prediction < 5
    with pytest.raises(InputError, match="n_classes: out of range"):
        Chip(cfg, n_classes=11)


def test_nir_export_states_the_readout_rule_and_classes(tmp_path):
    pytest.importorskip("nir")
    import nir

    from anp_emu.mapping.export import export_config, import_config

    cfg = ChipConfig.random(ChipSpec(n_in=12, n_hid=6, n_out=10), seed=0, w_aux_hid=5, w_aux_out=7)
    export_config(cfg, tmp_path / "a.nir", "nir", class_names=["pinky", "elle", "yo", "index", "thumb"])
    r = readout_of(nir.read(tmp_path / "a.nir"))
    assert r["rule"] == "spike_count" and r["tie_break"] == ["summed_membrane", "lowest_index"]
    assert r["n_classes"] == 5 and r["class_names"][0] == "pinky"
    assert np.array_equal(import_config(tmp_path / "a.nir").w_out, cfg.w_out)   # the reload is still exact
    export_config(cfg, tmp_path / "b.nir", "nir")
    assert readout_of(nir.read(tmp_path / "b.nir"))["n_classes"] == 10
    with pytest.raises(InputError, match="n_classes"):
        export_config(cfg, tmp_path / "c.nir", "nir", n_classes=11)


def test_anp_export_takes_the_classes_of_the_run_beside_the_config(tmp_path):
    pytest.importorskip("nir")
    import nir
    from click.testing import CliRunner

    from anp_emu.cli.main import main
    from anp_emu.files.config_io import save_config

    cfg = ChipConfig.random(ChipSpec(n_in=12, n_hid=6, n_out=10), seed=0, w_aux_hid=5, w_aux_out=7)
    save_config(cfg, tmp_path / "config.h5")
    (tmp_path / "summary.json").write_text(json.dumps({"classes": ["a", "b", "c"]}))
    res = CliRunner().invoke(main, ["export", str(tmp_path / "config.h5"), "--format", "nir", "-o",
                                    str(tmp_path / "x.nir")])
    assert res.exit_code == 0, res.output
    assert readout_of(nir.read(tmp_path / "x.nir"))["class_names"] == ["a", "b", "c"]


def test_the_package_readout_needs_no_torch(tmp_path):
    import subprocess

    code = ("import sys, anp_emu.mapping.readout, anp_emu.mapping.export\n"
            "print('torch' in sys.modules)")
    # cwd: not the checkout, whose anp_emu/ folder would shadow the installed package
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert out.strip() == "False"
