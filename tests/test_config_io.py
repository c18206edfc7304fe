import h5py
import numpy as np
import pytest

from anp_emu.chip.config import ChipConfig
from anp_emu.files.config_io import load_config, save_config
from anp_emu.errors import ConfigKeyError, DesignRuleError, FileFormatError
from anp_emu.learning.settings import LearningSettings
from anp_emu.chip.spec import ChipSpec


@pytest.fixture
def cfg():
    spec = ChipSpec(n_in=16, n_hid=8, n_out=3)
    return ChipConfig.random(spec, seed=2, theta_hid=100, theta_out=200, w_aux_hid=5, w_aux_out=7,
                             learning=LearningSettings(rule="stbp", lr_shift=3, surrogate="exp"))


def test_round_trip_is_identical(tmp_path, cfg):
    p = tmp_path / "c.h5"
    save_config(cfg.replace(scale_hid=0.01, scale_out=0.25), p)
    back = load_config(p)
    assert back.equals(cfg.replace(scale_hid=0.01, scale_out=0.25))
    assert back.w_hid.dtype == np.int16 and back.learning.lr_shift == 3
    assert back.learning.temporal_window is None
    windowed = cfg.replace(learning=LearningSettings(temporal_window=2))
    save_config(windowed, p)
    assert load_config(p).learning.temporal_window == 2
    with h5py.File(p) as f:  # netx-like layout
        assert f["layer/0/weight"].shape == (8, 16) and int(f["layer/1/neuron/vThMant"][()]) == 200
        assert int(f["layer/0/neuron/vDecay"][()]) == 2048


def test_full_size_anp1_round_trip(tmp_path):
    cfg = ChipConfig.random(seed=0)
    save_config(cfg, tmp_path / "a.h5")
    assert load_config(tmp_path / "a.h5").equals(cfg)


def _corrupt(tmp_path, cfg, fn, restamp=True):
    """``cfg`` saved, then changed by ``fn``; with ``restamp`` the content checksum is recomputed,
    as a file written wrongly by another tool would carry a consistent one, so each field's own
    check is what answers."""
    from anp_emu.files.fileio import h5_content_sha256

    p = tmp_path / "c.h5"
    save_config(cfg, p)
    with h5py.File(p, "a") as f:
        fn(f)
        if restamp and "sha256" in f.attrs:
            f.attrs["sha256"] = h5_content_sha256(f)
    return p


@pytest.mark.parametrize("mutate,err,pattern", [
    (lambda f: f.create_dataset("layer/0/bogus", data=1), ConfigKeyError, r"/layer/0/bogus.*unknown key"),
    (lambda f: f["spec"].attrs.__setitem__("color", 3), ConfigKeyError, r"spec.color.*unknown key"),
    (lambda f: f["learning"].attrs.__setitem__("momentum", 0.9), ConfigKeyError, r"learning.momentum.*unknown key"),
    (lambda f: f.__delitem__("layer/1/weight"), FileFormatError, r"/layer/1/weight: required field missing"),
    (lambda f: (f.__delitem__("layer/0/weight"), f.create_dataset("layer/0/weight", data=np.zeros((8, 16)))),
     FileFormatError, r"/layer/0/weight: dtype must be integer, got float64"),
    (lambda f: (f.__delitem__("layer/0/weight"), f.create_dataset("layer/0/weight", data=np.zeros((16, 8), np.int16))),
     FileFormatError, r"/layer/0/weight: expected shape \(8, 16\), got \(16, 8\)"),
    (lambda f: f["layer/0/weight"].__setitem__((2, 3), 300), DesignRuleError, r"WEIGHT_RANGE.*w_hid\[2, 3\].*-128..127.*300"),
    (lambda f: f["layer/1/neuron/vThMant"].write_direct(np.array(0)), DesignRuleError, r"THRESHOLD_POSITIVE"),
    (lambda f: f.attrs.__setitem__("format", "something-else"), FileFormatError, r"format: expected"),
    (lambda f: f.attrs.__setitem__("version", 99), FileFormatError, r"version: supported \[1, 2\], got 99"),
    (lambda f: f["layer/0/neuron/leakShift"].write_direct(np.array(3)), FileFormatError, r"leakShift: spec says 1, got 3"),
])
def test_malformed_config_files_give_clear_errors(tmp_path, cfg, mutate, err, pattern):
    p = _corrupt(tmp_path, cfg, mutate)
    with pytest.raises(err, match=pattern):
        load_config(p)


def test_truncated_and_missing_files(tmp_path, cfg):
    p = tmp_path / "c.h5"
    save_config(cfg, p)
    data = p.read_bytes()
    (tmp_path / "t.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupt"):
        load_config(tmp_path / "t.h5")
    with pytest.raises(FileFormatError, match="file not found"):
        load_config(tmp_path / "missing.h5")


def test_failed_write_leaves_no_file(tmp_path, cfg, monkeypatch):
    p = tmp_path / "c.h5"
    import anp_emu.files.config_io as cio

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(cio.np, "int64", boom)
    with pytest.raises(RuntimeError):
        save_config(cfg, p)
    assert list(tmp_path.iterdir()) == []
