"""Issue 20: files you can trust — no command destroys a user's data, every file the toolkit
writes it reads back, and the errors name the user's paths."""
from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.chip.config import ChipConfig
from anp_emu.files.config_io import save_config
from anp_emu.errors import FileFormatError
from anp_emu.mapping.export import export_config, import_config
from anp_emu.chip.spec import ChipSpec


def small_config(seed=0):
    return ChipConfig.random(ChipSpec(n_in=12, n_hid=6, n_out=3), seed=seed, w_aux_hid=5, w_aux_out=7)


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.h5"
    save_config(small_config(), path)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ------------------------------------------------------------------ item 1: csv export never deletes
def test_csv_export_into_an_existing_folder_deletes_nothing(tmp_path, config_file):
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes")
    for force in ((), ("--force",)):
        r = run("export", config_file, "--format", "csv", "-o", tmp_path, *force)
        assert r.exit_code == 1, r.output
        assert "error:" in r.output and "Traceback" not in r.output
        assert mine.read_text() == "my notes" and config_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.h5", "notes.txt"]   # no stray temp folder


def test_csv_export_to_the_current_folder_is_refused_cleanly(tmp_path, config_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("export", config_file, "--format", "csv", "-o", ".", "--force")
    assert r.exit_code == 1 and "current folder" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.h5"]


def test_csv_export_force_replaces_only_a_previous_export_of_ours(tmp_path, config_file):
    out = tmp_path / "csv"
    assert run("export", config_file, "--format", "csv", "-o", out).exit_code == 0
    r = run("export", config_file, "--format", "csv", "-o", out)
    assert r.exit_code == 1 and "--force" in r.output
    save_config(small_config(seed=3), tmp_path / "other.h5")
    assert run("export", tmp_path / "other.h5", "--format", "csv", "-o", out, "--force").exit_code == 0
    assert import_config(out).equals(small_config(seed=3))
    # a file the user added, or an edited file, makes the folder no longer ours: never replaced
    (out / "mine.txt").write_text("x")
    r = run("export", config_file, "--format", "csv", "-o", out, "--force")
    assert r.exit_code == 1 and "mine.txt" in r.output and (out / "mine.txt").exists()
    (out / "mine.txt").unlink()
    with open(out / "spec.csv", "a") as f:
        f.write("\n")
    r = run("export", config_file, "--format", "csv", "-o", out, "--force")
    assert r.exit_code == 1 and "spec.csv was changed" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.h5", "csv", "other.h5"]


def test_file_exports_refuse_an_existing_file_without_force(tmp_path, config_file):
    for fmt in ("h5", "npz", "c", "nir"):
        out = tmp_path / f"x.{fmt}"
        out.write_text("precious")
        r = run("export", config_file, "--format", fmt, "-o", out)
        assert r.exit_code == 1 and "--force" in r.output and out.read_text() == "precious"
        assert run("export", config_file, "--format", fmt, "-o", out, "--force").exit_code == 0


# ------------------------------------------------------------------ item 2: train -o OLD_RUN, --resume --epochs N
@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    from tasks import separable_dataset

    ds = separable_dataset(3, n=45, T=10)
    path = tmp_path_factory.mktemp("ev") / "ev.h5"
    ds.save(path)
    return path


def train(ev, out, *args):
    return run("train", ev, "-o", out, "--lr", "3000", "--no-progress", "--json", *args)


def test_train_into_an_earlier_run_is_refused_without_resume_or_force(tmp_path, events_file):
    out = tmp_path / "run"
    assert train(events_file, out, "--epochs", "1").exit_code == 0
    before = {f: (out / f).read_bytes() for f in ("checkpoint.h5", "config.h5", "log.csv", "summary.json")}
    r = train(events_file, out, "--epochs", "1", "--seed", "4")
    assert r.exit_code == 1 and "holds an earlier run" in r.output and "--resume" in r.output
    assert {f: (out / f).read_bytes() for f in before} == before
    assert train(events_file, out, "--epochs", "1", "--seed", "4", "--force").exit_code == 0
    assert (out / "config.h5").read_bytes() != before["config.h5"]


def test_resume_with_more_epochs_extends_a_finished_run_bit_identically(tmp_path, events_file):
    from anp_emu.files.config_io import load_config

    a, b = tmp_path / "a", tmp_path / "b"
    assert train(events_file, a, "--epochs", "2", "--schedule", "constant").exit_code == 0
    r = train(events_file, a, "--epochs", "3", "--schedule", "constant", "--resume")
    assert r.exit_code == 0, r.output
    assert train(events_file, b, "--epochs", "3", "--schedule", "constant").exit_code == 0
    assert load_config(a / "config.h5").equals(load_config(b / "config.h5"))
    la = (a / "log.csv").read_text().splitlines()
    assert len(la) == 4
    # a cosine schedule depends on the epoch count: the extension is refused, with the reason
    c = tmp_path / "c"
    assert train(events_file, c, "--epochs", "2").exit_code == 0
    before = (c / "config.h5").read_bytes()
    r = train(events_file, c, "--epochs", "3", "--resume")
    assert r.exit_code == 1 and "cannot extend to 3 epochs bit-identically" in r.output
    assert (c / "config.h5").read_bytes() == before
    r = train(events_file, c, "--epochs", "1", "--resume")
    assert r.exit_code == 1 and "would shorten" in r.output


# ------------------------------------------------------------------ item 3: content checksums
def _zero_some_weights(path, name):
    import h5py

    with h5py.File(path, "a") as f:
        w = f[name][()]
        w.flat[: w.size // 2] = 0
        f[name][...] = w


def test_a_damaged_checkpoint_is_refused_and_the_good_config_stays(tmp_path, events_file):
    out = tmp_path / "run"
    assert train(events_file, out, "--epochs", "1", "--schedule", "constant").exit_code == 0
    good = (out / "config.h5").read_bytes()
    _zero_some_weights(out / "checkpoint.h5", "w_hid")
    r = train(events_file, out, "--epochs", "2", "--schedule", "constant", "--resume")
    # not what anp wrote (its manifest): the run is not continued, nothing is replaced
    assert r.exit_code == 1 and "changed since anp wrote it" in r.output and "Traceback" not in r.output
    assert (out / "config.h5").read_bytes() == good


def test_a_damaged_config_is_one_clear_error(tmp_path, config_file):
    from anp_emu.files.config_io import load_config

    assert load_config(config_file).equals(small_config())
    _zero_some_weights(config_file, "layer/0/weight")
    with pytest.raises(FileFormatError, match="content checksum mismatch"):
        load_config(config_file)
    r = run("info", config_file)
    assert r.exit_code == 1 and "checksum mismatch" in r.output


# ------------------------------------------------------------------ item 4: writability, paths, umask
def _read_only_folder(monkeypatch):
    """Tests run as root here, where chmod cannot make a folder read-only: make every new file fail
    the way a read-only file system does (errno EROFS, naming the temporary file)."""
    import errno
    import tempfile

    def refuse(*a, dir=None, prefix="", suffix="", **k):
        raise OSError(errno.EROFS, "Read-only file system", os.path.join(dir or ".", prefix + "x" + suffix))
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)


def test_an_unwritable_output_folder_fails_before_training_and_names_the_users_path(tmp_path, events_file,
                                                                                     monkeypatch):
    from anp_emu.experiments.trainer import Trainer

    def no_training(self, *a, **k):
        raise AssertionError("training started before the output folder was checked")
    monkeypatch.setattr(Trainer, "run_epoch", no_training)
    _read_only_folder(monkeypatch)
    out = tmp_path / "run"
    r = train(events_file, out, "--epochs", "1")
    assert r.exit_code == 1 and f"error: {out}: " in r.output and "Read-only file system" in r.output
    assert ".part" not in r.output and "Traceback" not in r.output


def test_no_free_space_is_found_before_training(tmp_path, events_file, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**6, 10**6 - 1000, 1000))
    r = train(events_file, tmp_path / "run", "--epochs", "1")
    assert r.exit_code == 1 and "not enough free space" in r.output and str(tmp_path / "run") in r.output


def test_write_errors_name_the_final_path_not_the_temporary_file(tmp_path, monkeypatch):
    import errno

    real = os.replace

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(src))
    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(FileFormatError) as e:
        save_config(small_config(), tmp_path / "c.h5")
    monkeypatch.setattr(os, "replace", real)
    assert str(e.value).startswith(f"{tmp_path / 'c.h5'}: ") and ".part" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["h5", "npz", "csv", "c", "nir"])
def test_outputs_get_the_users_umask(tmp_path, config_file, fmt):
    old = os.umask(0o022)
    try:
        out = tmp_path / f"x.{fmt}"
        export_config(small_config(), out, fmt)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode == (0o755 if fmt == "csv" else 0o644), oct(mode)
    if fmt == "csv":
        assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o644}


def test_map_with_an_unwritable_report_path_writes_nothing(tmp_path):
    from test_mapping import separable_float_model

    m = separable_float_model()
    np.savez(tmp_path / "m.npz", w_hid=m.w_hid, w_out=m.w_out, theta_hid=0.3, theta_out=0.5, tau=0.5)
    r = run("map", tmp_path / "m.npz", "-o", tmp_path / "c.h5", "--report", tmp_path / "missing" / "r.json")
    assert r.exit_code == 1 and "missing" in r.output and not (tmp_path / "c.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    # and an existing config is not replaced without --force
    (tmp_path / "c.h5").write_text("mine")
    r = run("map", tmp_path / "m.npz", "-o", tmp_path / "c.h5")
    assert r.exit_code == 1 and (tmp_path / "c.h5").read_text() == "mine"


def test_synthetic_dataset_folder_gets_the_users_umask(tmp_path):
    from anp_emu.emg.synthetic import write_synthetic_dataset

    old = os.umask(0o022)
    try:
        write_synthetic_dataset(tmp_path / "raw", n_subjects=1, n_sessions=1, n_reps=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "raw").stat().st_mode) == 0o755


# ------------------------------------------------------------------ item 10: tracebacks
class _Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("payload", [_Reduce(bytearray, (2 ** 63,)), _Reduce(bytearray, (2 ** 34,)),
                                     _Reduce(bytes, (2 ** 40,))])
def test_a_pickle_asking_for_a_huge_allocation_is_a_clean_error(tmp_path, payload):
    import pickle

    from anp_emu.emg.ceolini import restricted_load
    from anp_emu.errors import UnsafePickleError

    (tmp_path / "bomb.pkl").write_bytes(pickle.dumps({"emg": payload}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"bomb.pkl: refused byte"):
        restricted_load(tmp_path / "bomb.pkl")


def test_a_pickle_with_an_unknown_codec_is_a_clean_error(tmp_path):
    import codecs
    import pickle

    from anp_emu.emg.ceolini import restricted_load, restricted_loads

    data = pickle.dumps(_Reduce(codecs.encode, ("abc", "no-such-codec")), protocol=2)
    (tmp_path / "c.pkl").write_bytes(data)
    with pytest.raises(FileFormatError, match="codec 'no-such-codec'"):
        restricted_load(tmp_path / "c.pkl")
    assert restricted_loads(pickle.dumps(b"\x00\xffab", protocol=2)) == b"\x00\xffab"   # real bytes still load


def test_train_into_a_path_below_a_file_is_one_error_line(tmp_path, events_file):
    (tmp_path / "afile").write_text("x")
    r = train(events_file, tmp_path / "afile" / "run", "--epochs", "1")
    assert r.exit_code == 1 and "afile (a parent of the output folder) exists and is not a folder" in r.output
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)


def test_without_nir_installed_nir_commands_name_the_extra(tmp_path, config_file, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nir", None)      # import nir raises ImportError
    r = run("export", config_file, "--format", "nir", "-o", tmp_path / "x.nir")
    assert r.exit_code == 1 and "anp-emu[nir]" in r.output and "Traceback" not in r.output
    (tmp_path / "g.nir").write_bytes(b"")
    r = run("map", tmp_path / "g.nir", "-o", tmp_path / "c2.h5")
    assert r.exit_code == 1 and "anp-emu[nir]" in r.output


def test_nir_is_a_default_dependency():
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert any(d.startswith("nir") for d in meta["project"]["dependencies"])


# ------------------------------------------------------------------ item 9: nonsense inputs
def test_eval_refuses_a_dataset_encoded_for_another_network(tmp_path, events_file):
    cfg = ChipConfig.random(ChipSpec(n_in=128, n_hid=8, n_out=4), seed=0)
    save_config(cfg, tmp_path / "wide.h5")
    r = run("eval", tmp_path / "wide.h5", events_file)
    assert r.exit_code == 1 and "dataset.n_in: differs from the config's input lines" in r.output
    assert "limit 128; got 64" in r.output and "--pad-inputs" in r.output
    assert run("eval", tmp_path / "wide.h5", events_file, "--pad-inputs", "--json").exit_code == 0


def test_a_learning_rate_that_saturates_every_weight_is_refused(tmp_path, events_file):
    from anp_emu.errors import InputError
    from anp_emu.learning.settings import LR_MAX, LearningSettings

    with pytest.raises(InputError, match="learning.lr: so large that every update saturates"):
        LearningSettings(lr=1e308)
    LearningSettings(lr=LR_MAX)
    r = run("train", events_file, "-o", tmp_path / "run", "--lr", "1e308")
    assert r.exit_code == 2 and "1e+308" in r.output and not (tmp_path / "run").exists()


def test_preprocess_refuses_more_input_lines_than_the_chip_has(tmp_path):
    from anp_emu.emg.synthetic import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "raw", n_subjects=1, n_sessions=1, n_reps=1)
    r = run("data", "preprocess", tmp_path / "raw", "-o", tmp_path / "ev.h5", "-p", "levels=128")
    assert r.exit_code == 1 and "SIZE_WITHIN_CHIP" in r.output and "limit <= 1024" in r.output
    assert "got 2048" in r.output and not (tmp_path / "ev.h5").exists()


def test_an_all_zero_layer_maps_with_a_warning(tmp_path):
    from test_mapping import separable_float_model

    m = separable_float_model()
    np.savez(tmp_path / "z.npz", w_hid=np.zeros_like(m.w_hid), w_out=m.w_out, theta_hid=0.3, theta_out=0.5, tau=0.5)
    r = run("map", tmp_path / "z.npz", "-o", tmp_path / "z.h5", "--json")
    assert r.exit_code == 0, r.output
    assert any("hidden layer: every weight is zero" in w for w in json.loads(r.stdout)["warnings"])


# ------------------------------------------------------------------ item 8: every export reads back, exactly
def rich_config():
    from anp_emu.learning.settings import LearningSettings

    cfg = ChipConfig.random(ChipSpec(n_in=12, n_hid=6, n_out=3), seed=2, w_aux_hid=5, w_aux_out=7,
                            learning=LearningSettings(rule="stbp", lr=12.5, temporal_window=3, loss="tet",
                                                      rounding="nearest", reset_path=True, seed=9))
    return cfg.replace(scale_hid=0.0123, scale_out=0.3, theta_hid=77, theta_out=151)


@pytest.mark.parametrize("fmt", ["h5", "npz", "csv", "c", "nir", "netx"])
def test_every_export_round_trips_through_the_cli_exactly(tmp_path, fmt):
    from anp_emu.files.config_io import load_config

    cfg = rich_config()
    save_config(cfg, tmp_path / "c.h5")
    out = tmp_path / f"exp.{fmt}"
    assert run("export", tmp_path / "c.h5", "--format", fmt, "-o", out).exit_code == 0
    r = run("info", out, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["format"] == fmt and info["learning"] == cfg.learning.to_dict()
    assert [L["theta"] for L in info["layers"]] == [77, 151] and [L["aux_weight"] for L in info["layers"]] == [5, 7]
    r = run("map", out, "-o", tmp_path / "back.h5", "--json")
    assert r.exit_code == 0, r.output
    assert "not re-quantised" in json.loads(r.stdout)["recognised"]
    back = load_config(tmp_path / "back.h5")
    assert back.equals(cfg)                               # integers, scales and learning settings


@pytest.mark.parametrize("fmt", ["npz", "c", "nir"])
def test_an_edited_export_fails_its_checksum(tmp_path, fmt):
    cfg = rich_config()
    out = tmp_path / f"exp.{fmt}"
    export_config(cfg, out, fmt)
    if fmt == "c":
        out.write_text(out.read_text().replace("#define ANP_THETA_HID 77", "#define ANP_THETA_HID 78"))
    elif fmt == "npz":
        d = dict(np.load(out))
        d["theta_hid"] = np.int64(78)
        with open(out, "wb") as f:
            np.savez(f, **d)
    else:
        import h5py

        with h5py.File(out, "a") as f:
            node = f["node/nodes/hid_fc/metadata"]
            node["anp_theta"][...] = 78
    with pytest.raises(FileFormatError, match="checksum mismatch"):
        import_config(out)


def _simulate_nir(graph, x):
    """A plain reading of a NIR graph in discrete time (what snnTorch's importer builds): each
    Affine/Linear applies its weights to its inputs' outputs (a loop edge carries the previous
    step's value), each LIF v <- (1 - dt/tau) v + r dt/tau I with reset to zero and s = v > thr."""
    import nir

    dt = float(graph.metadata["anp_dt"])
    prev = {k: None for k in graph.nodes}
    order = ["input", "hid_fc", "hid_aux", "hid_aux_back", "hid_lif", "out_fc", "out_aux", "out_aux_back",
             "out_lif"]
    v = {}
    spikes = {"hid_lif": [], "out_lif": []}
    for t in range(x.shape[0]):
        cur = {"input": x[t].astype(np.float64)}
        for name in order[1:]:
            if name not in graph.nodes:
                continue
            node = graph.nodes[name]
            srcs = [a for a, b in graph.edges if b == name]
            ins = [cur[a] if a in cur else (prev[a] if prev[a] is not None else 0.0) for a in srcs]
            if isinstance(node, nir.LIF):
                ins = sum(ins)
                tau, r, thr = (float(np.unique(a)[0]) for a in (node.tau, node.r, node.v_threshold))
                vv = (1 - dt / tau) * v.get(name, 0.0) + r * dt / tau * ins
                s = (vv > thr).astype(np.float64)
                v[name] = np.where(s > 0, 0.0, vv)
                cur[name] = s
                spikes[name].append(s)
            else:
                inp = ins[0] if np.ndim(ins[0]) else np.zeros(node.weight.shape[1])
                y = node.weight @ inp
                cur[name] = y + (node.bias if isinstance(node, nir.Affine) else 0.0)
        prev = dict(cur)
    return np.array(spikes["hid_lif"]), np.array(spikes["out_lif"])


def test_the_nir_export_read_as_nir_says_is_the_float_twin():
    from anp_emu.chip.emulator import Chip
    from anp_emu.mapping.export import nir_graph

    cfg = ChipConfig.random(ChipSpec(n_in=40, n_hid=20, n_out=5), seed=0, w_aux_hid=15, w_aux_out=20,
                            theta_hid=60, theta_out=80)
    x = np.random.default_rng(0).random((30, 40)) < 0.3
    hid, out = _simulate_nir(nir_graph(cfg), x)
    r = Chip(cfg, "float").run(x, record=True)
    assert r.s_hid.sum() > 50 and r.s_out.sum() > 10
    assert np.array_equal(hid, r.s_hid) and np.array_equal(out, r.s_out)
    # without the aux synapse (the old export) the network is a different one
    hid0, _ = _simulate_nir(nir_graph(cfg.replace(w_aux_hid=0, w_aux_out=0)), x)
    assert not np.array_equal(hid0, r.s_hid)


def test_nir_export_uses_snntorchs_step_and_takes_dt(tmp_path, config_file):
    import nir

    assert run("export", config_file, "--format", "nir", "-o", tmp_path / "a.nir").exit_code == 0
    g = nir.read(tmp_path / "a.nir")
    lif = g.nodes["hid_lif"]
    assert float(g.metadata["anp_dt"]) == 1e-4
    assert np.allclose(1 - 1e-4 / lif.tau, 0.5) and np.allclose(lif.r * 1e-4 / lif.tau, 1.0)   # snnTorch: beta, w_scale
    assert run("export", config_file, "--format", "nir", "-o", tmp_path / "b.nir", "--dt", "1e-3").exit_code == 0
    assert float(nir.read(tmp_path / "b.nir").metadata["anp_dt"]) == 1e-3
    assert import_config(tmp_path / "b.nir").equals(small_config())


# ------------------------------------------------------------------ item 6: snnTorch's dt convention
def _snntorch_style_graph(tmp_path, tau):
    import nir

    rng = np.random.default_rng(0)

    def lif(n):
        return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / 1e-4), v_leak=np.zeros(n), v_threshold=np.ones(n))
    g = nir.NIRGraph.from_list(nir.Input(input_type=np.array([20])),
                               nir.Linear(weight=rng.normal(0, 1, (12, 20))), lif(12),
                               nir.Linear(weight=rng.normal(0, 1, (3, 12))), lif(3),
                               nir.Output(output_type=np.array([3])))
    nir.write(tmp_path / "s.nir", g)
    return tmp_path / "s.nir"


def test_map_takes_a_graph_in_snntorchs_dt_convention(tmp_path):
    path = _snntorch_style_graph(tmp_path, 2e-4)           # beta = 1 - 1e-4/2e-4 = 0.5 in snnTorch
    r = run("map", path, "-o", tmp_path / "c.h5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["leak_shift"] == 1 and json.loads(r.stdout)["warnings"] == []
    r = run("map", path, "-o", tmp_path / "d.h5", "--dt", "1e-3")
    assert r.exit_code == 1 and "LEAK_SHIFT_SUPPORTED" in r.output and "give --dt 0.0001" in r.output
    assert "snnTorch" in r.output


# ------------------------------------------------------------------ item 7: lava-dl netx
def test_netx_export_has_what_netx_reads(tmp_path):
    """The keys and types lava-dl netx's hdf5.Network reads (its NetDict: 'type' text, 'shape',
    'weight', 'weight_rec', 'bias', neuron 'type' CUBA with vThMant, vDecay, iDecay); building
    it with netx itself is scripts/interop_netx.sh."""
    import h5py

    cfg = small_config()
    cfg = cfg.replace(w_out=np.clip(cfg.w_out, -256, 254))
    export_config(cfg, tmp_path / "c.net", "netx")
    with h5py.File(tmp_path / "c.net", "r") as f:
        assert sorted(f["layer"].keys()) == ["0", "1", "2"]
        assert f["layer/0/type"][()].decode() == "input" and list(f["layer/0/shape"][()]) == [12]
        for i, (layer, w) in enumerate(((f["layer/1"], cfg.w_hid), (f["layer/2"], cfg.w_out))):
            assert layer["type"][()].decode() == "dense_rec"
            assert np.array_equal(layer["weight"][()], w)
            assert np.array_equal(layer["weight_rec"][()], np.diag(np.full(w.shape[0], -cfg.w_aux(i))))
            assert np.all(layer["bias"][()] == cfg.w_aux(i))
            n = layer["neuron"]
            assert n["type"][()].decode() == "CUBA" and int(n["vThMant"][()]) == cfg.theta(i)
            assert int(n["vDecay"][()]) == 2048 and int(n["iDecay"][()]) - 1 == 4095



def test_netx_export_refuses_a_network_it_would_clip_naming_every_parameter(tmp_path):
    """A network netx cannot hold is refused by default (Lava would run another network than the
    one trained), naming every clipped parameter, the aux loop's -w_aux included; clip=True
    (``anp export --clip``) writes it with a warning naming the same parameters."""
    from anp_emu.errors import InputError
    from anp_emu.mapping.export import netx_clipped

    cfg = small_config()
    big = cfg.replace(w_out=np.clip(cfg.w_out * 4 + 300, -512, 511), w_aux_out=300)
    assert len(netx_clipped(big)) == 2
    with pytest.raises(InputError, match=r"netx: .*output weight: \d+ of .* outside -256..254.*"
                                         r"output aux loop weight_rec -w_aux = -300 outside -256..254"):
        export_config(big, tmp_path / "big.net", "netx")
    assert not (tmp_path / "big.net").exists()
    with pytest.warns(UserWarning, match="output aux loop weight_rec -w_aux = -300"):
        export_config(big, tmp_path / "big.net", "netx", clip=True)
    assert import_config(tmp_path / "big.net").w_aux_out == 300     # our reload stays exact


# ------------------------------------------------------------------ top-level API
def test_the_notebook_names_are_importable_from_the_package_lazily(tmp_path):
    import subprocess
    import sys

    code = ("import anp_emu, anp_emu.runtime.codegen\n"
            "print(anp_emu.runtime.codegen.code_generation_fixed())\n"
            "from anp_emu import (Chip, ChipConfig, LearningEngine, Trainer, EventDataset, load_config,\n"
            "                     export_config, import_config, TrainOptions, LearningSettings)\n"
            "print(Chip.__module__, EventDataset.__module__, export_config.__module__, load_config.__name__)\n"
            "print('Trainer' in dir(anp_emu))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout.split()
    assert out == ["False", "anp_emu.chip.emulator", "anp_emu.emg.dataset", "anp_emu.mapping.export", "load_config", "True"]
    import anp_emu

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        anp_emu.Nope


def test_the_demo_never_removes_a_raw_folder_it_did_not_write(tmp_path):
    raw = tmp_path / "demo" / "raw"
    raw.mkdir(parents=True)
    (raw / "subject01_session01_emg.npy").write_bytes(b"real recording")   # Ceolini names, no sampling_rates.csv
    r = run("demo", "-o", tmp_path / "demo", "--subjects", "1", "--epochs", "1", "--no-progress")
    assert r.exit_code == 1 and "not removed" in r.output
    assert (raw / "subject01_session01_emg.npy").read_bytes() == b"real recording"


def test_ablation_into_an_earlier_ablation_is_refused_without_force(tmp_path, events_file):
    out = tmp_path / "abl"
    (out / "mpd-ed-aux").mkdir(parents=True)
    (out / "mpd-ed-aux" / "config.h5").write_text("an earlier arm")
    r = run("ablation", events_file, "-o", out, "--epochs", "1", "--no-progress")
    assert r.exit_code == 1 and "not an earlier sweep" in r.output    # the ablation is a sweep: it resumes
    assert (out / "mpd-ed-aux" / "config.h5").read_text() == "an earlier arm"   # its own folders, nothing else


def test_preprocess_and_energy_refuse_an_existing_output_without_force(tmp_path, events_file):
    from anp_emu.emg.synthetic import write_synthetic_dataset

    raw = tmp_path / "raw"
    write_synthetic_dataset(raw, n_subjects=1, n_sessions=1, n_reps=1)
    out = tmp_path / "ev.h5"
    out.write_text("a file of the user")
    r = run("data", "preprocess", raw, "-o", out, "--no-progress")
    assert r.exit_code == 1 and "exists; not replaced" in r.output and out.read_text() == "a file of the user"
    assert run("data", "preprocess", raw, "-o", out, "--no-progress", "--force").exit_code == 0
    rep = tmp_path / "rep"
    assert run("energy", events_file, "-n", "1", "-o", rep, "--no-progress").exit_code == 0
    before = (rep / "energy.json").read_text()
    r = run("energy", events_file, "-n", "1", "-o", rep, "--no-progress")
    assert r.exit_code == 1 and "energy.json" in r.output and (rep / "energy.json").read_text() == before
    assert run("energy", events_file, "-n", "1", "-o", rep, "--no-progress", "--force").exit_code == 0
