"""Issue 29/30: every bad input is one line ``error: ...`` naming the file or option, the field,
the expectation and the value; a non-zero exit; no traceback; and nothing in the folder is
created or changed. One table: (case, make the inputs, command line, exit code, words the error
line must hold)."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.chip.config import ChipConfig
from anp_emu.files.config_io import save_config
from anp_emu.files.fileio import CHECKSUM_ATTR, h5_content_sha256
from anp_emu.chip.spec import ChipSpec
from tasks import separable_dataset, separable_task

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


# ----------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """An events file, a chip config and a finished 1-epoch training folder (made once)."""
    d = tmp_path_factory.mktemp("templates")
    separable_dataset(0, 24, 10).save(d / "ev.h5")
    cfg = ChipConfig.random(ChipSpec(n_in=64, n_hid=6, n_out=4), seed=0, w_aux_hid=5, w_aux_out=7)
    save_config(cfg, d / "cfg.h5")
    r = CliRunner().invoke(main, ["train", str(d / "ev.h5"), "-o", str(d / "run"), "--epochs", "1",
                                  "--schedule", "constant", "--no-progress"])
    assert r.exit_code == 0, r.output
    return d


def edit_attr(path: Path, value, name: str = "version", group: str = "", rehash: bool = True) -> None:
    """Set attribute ``name`` of ``group`` in ``path`` (and, with ``rehash``, restamp the content
    checksum, so that the reader's own check of the field is what refuses it)."""
    with h5py.File(path, "a") as f:
        (f[group] if group else f).attrs[name] = value
        if rehash and CHECKSUM_ATTR in f.attrs:
            f.attrs[CHECKSUM_ATTR] = h5_content_sha256(f)


def events(t, d, **kw):
    shutil.copy(t / "ev.h5", d / "ev.h5")
    if kw:
        edit_attr(d / "ev.h5", **kw)
    return d / "ev.h5"


def config(t, d, **kw):
    shutil.copy(t / "cfg.h5", d / "cfg.h5")
    if kw:
        edit_attr(d / "cfg.h5", **kw)
    return d / "cfg.h5"


def restamp(run):
    """Record the run's files as anp wrote them (the manifest's SHA-256s): the case then reaches
    the reader of the edited file instead of the manifest's refusal of a changed file."""
    from anp_emu.files.manifest import OutputFolder, read_manifest

    m = read_manifest(run)
    OutputFolder(run, m["kind"], m["files"]).wrote(*m["files"])


def run_folder(t, d, **kw):
    shutil.copy(t / "ev.h5", d / "ev.h5")
    shutil.copytree(t / "run", d / "run")
    if kw:
        edit_attr(d / "run" / "checkpoint.h5", **kw)
        restamp(d / "run")
    return d / "run"


def history_with_epoch(t, d, epoch):
    run = run_folder(t, d)
    with h5py.File(run / "checkpoint.h5", "r") as f:
        rows = json.loads(f.attrs["history"])
    rows[0]["epoch"] = epoch
    edit_attr(run / "checkpoint.h5", json.dumps(rows), name="history")
    restamp(run)
    return run


def samples_csv(t, d, text):
    run = run_folder(t, d)
    (run / "samples.csv").write_text(text)
    restamp(run)


def one_class_events(t, d):
    from anp_emu.emg.dataset import EventDataset

    xs, ys = separable_task(0, n=24, T=10)
    xs = [x for x, y in zip(xs, ys) if y == 0]
    k = len(xs)
    EventDataset.from_spikes(xs, 10, 64, np.zeros(k), np.zeros(k), np.zeros(k), np.arange(k), ["a"], "test",
                             {}).save(d / "one.h5")


def float_model(t, d, **extra):
    r = np.random.default_rng(0)
    np.savez(d / "model.npz", w_hid=r.normal(size=(6, 64)), w_out=r.normal(size=(4, 6)), theta_hid=1.0,
             theta_out=1.0, **extra)


def raw_folder_with_png(t, d):
    from anp_emu.emg.synthetic import write_synthetic_dataset

    write_synthetic_dataset(d / "raw", n_subjects=1, n_sessions=1, n_reps=2, seed=0)
    victim = sorted((d / "raw").rglob("*_emg.npy"))[0]
    victim.write_bytes(PNG)


def sweep_spec(t, d, dataset):
    (d / "sweep.toml").write_text(f'dataset = "{dataset}"\n[grid]\nseed = [0, 1]\n[fixed]\nepochs = 1\n')


# (case, setup(templates, folder), argv (with {d} for the folder), exit code, words of the error line)
CASES = [
    # issue 30: malformed attributes of our own HDF5 formats
    ("events version text", lambda t, d: events(t, d, value="2"), ["data", "info", "{d}/ev.h5"], 1,
     ["ev.h5", "attribute version", "integer", "'2'"]),
    ("events version array", lambda t, d: events(t, d, value=np.array([1, 2])), ["data", "info", "{d}/ev.h5"], 1,
     ["ev.h5", "attribute version", "single value", "(2,)"]),
    ("events format array", lambda t, d: events(t, d, name="format", value=np.array([1, 2])),
     ["data", "info", "{d}/ev.h5"], 1, ["ev.h5", "attribute format", "single value"]),
    ("events T float", lambda t, d: events(t, d, name="T", value=2.5), ["data", "info", "{d}/ev.h5"], 1,
     ["ev.h5", "@T", "integer", "2.5"]),
    ("config version text", lambda t, d: config(t, d, value="x"), ["info", "{d}/cfg.h5"], 1,
     ["cfg.h5", "attribute version", "integer", "'x'"]),
    ("config version array", lambda t, d: config(t, d, value=np.array([2, 2])), ["info", "{d}/cfg.h5"], 1,
     ["cfg.h5", "attribute version", "single value"]),
    ("config version array in eval", lambda t, d: (config(t, d, value=np.array([2, 2])), events(t, d)),
     ["eval", "{d}/cfg.h5", "{d}/ev.h5"], 1, ["cfg.h5", "attribute version", "single value"]),
    ("config spec n_in text", lambda t, d: config(t, d, name="n_in", group="spec", value="64"),
     ["info", "{d}/cfg.h5"], 1, ["cfg.h5", "/spec@n_in", "integer", "'64'"]),
    ("config spec aux 5", lambda t, d: config(t, d, name="aux", group="spec", value=np.int64(5)),
     ["info", "{d}/cfg.h5"], 1, ["cfg.h5", "/spec@aux", "boolean", "5"]),
    ("config learning lr array", lambda t, d: config(t, d, name="lr", group="learning", value=np.array([1.0, 2.0])),
     ["info", "{d}/cfg.h5"], 1, ["cfg.h5", "/learning@lr", "single value"]),
    ("config learning seed negative", lambda t, d: config(t, d, name="seed", group="learning", value=np.int64(-3)),
     ["info", "{d}/cfg.h5"], 1, ["cfg.h5", "/learning@seed", "limit 0..", "-3"]),
    ("config learning rule number", lambda t, d: config(t, d, name="rule", group="learning", value=np.int64(1)),
     ["info", "{d}/cfg.h5"], 1, ["cfg.h5", "/learning@rule", "text", "1"]),
    ("checkpoint version array", lambda t, d: run_folder(t, d, value=np.array([2, 2])),
     ["train", "{d}/ev.h5", "-o", "{d}/run", "--epochs", "1", "--schedule", "constant", "--resume", "--no-progress"], 1,
     ["checkpoint.h5", "attribute version", "single value"]),
    ("checkpoint epochs_done text", lambda t, d: run_folder(t, d, name="epochs_done", value="1"),
     ["train", "{d}/ev.h5", "-o", "{d}/run", "--epochs", "1", "--schedule", "constant", "--resume", "--no-progress"], 1,
     ["checkpoint.h5", "epochs_done", "integer", "'1'"]),
    ("checkpoint fingerprint array", lambda t, d: run_folder(t, d, name="fingerprint", value=np.array([1, 2])),
     ["train", "{d}/ev.h5", "-o", "{d}/run", "--epochs", "1", "--schedule", "constant", "--resume", "--no-progress"], 1,
     ["checkpoint.h5", "fingerprint", "single value"]),
    ("checkpoint history epoch text", lambda t, d: history_with_epoch(t, d, "x"),
     ["train", "{d}/ev.h5", "-o", "{d}/run", "--epochs", "1", "--schedule", "constant", "--resume", "--no-progress"], 1,
     ["checkpoint.h5", "history[0].epoch", "integer", "'x'"]),
    # a samples.csv of another shape in the run folder, on --resume
    ("samples.csv without epoch", lambda t, d: samples_csv(t, d, "a,b\n1,2\n"),
     ["train", "{d}/ev.h5", "-o", "{d}/run", "--epochs", "2", "--schedule", "constant", "--resume", "--no-progress"], 1,
     ["samples.csv", "column epoch", "missing", "a, b"]),
    ("samples.csv epoch text", lambda t, d: samples_csv(t, d, "epoch\nx\n"),
     ["train", "{d}/ev.h5", "-o", "{d}/run", "--epochs", "2", "--schedule", "constant", "--resume", "--no-progress"], 1,
     ["samples.csv", "column epoch", "integer", "'x'"]),
    # one class: no classifier
    ("baseline one class", one_class_events, ["data", "baseline", "{d}/one.h5"], 1,
     ["one.h5", "labels", "two classes", "1 class"]),
    # error lines that named the wrong field
    ("train seed -1", lambda t, d: events(t, d), ["train", "{d}/ev.h5", "-o", "{d}/out", "--seed", "-1"], 2,
     ["--seed", "-1"]),
    ("map alpha_hid 1e30", lambda t, d: float_model(t, d, alpha_hid=1e30), ["map", "{d}/model.npz", "-o", "{d}/m.h5"], 1,
     ["alpha_hid", "AUX_RANGE", "<= 127"]),
    ("png renamed npy", raw_folder_with_png, ["data", "baseline", "{d}/raw"], 1,
     ["_emg.npy", "not a .npy file", "PNG"]),
    ("cv repeated seeds", lambda t, d: events(t, d), ["cv", "{d}/ev.h5", "-o", "{d}/cv", "--seeds", "0,0"], 1,
     ["--seeds", "repeats", "0,0"]),
    ("cv repeated rules", lambda t, d: events(t, d), ["cv", "{d}/ev.h5", "-o", "{d}/cv", "--rules", "stbp,stbp"], 1,
     ["--rules", "repeats", "stbp,stbp"]),
    ("cv seed out of range", lambda t, d: events(t, d), ["cv", "{d}/ev.h5", "-o", "{d}/cv", "--seeds", "0,-2"], 1,
     ["--seeds", "out of range", "-2"]),
    # issue 29: a sweep whose dataset is not an events file
    ("sweep dataset is a config", lambda t, d: (config(t, d), sweep_spec(t, d, "cfg.h5")),
     ["sweep", "{d}/sweep.toml", "-o", "{d}/sw"], 1, ["dataset", "cfg.h5", "attribute format", "anp-emu-events"]),
    ("sweep dataset is text", lambda t, d: ((d / "notes.h5").write_text("hello\n"), sweep_spec(t, d, "notes.h5")),
     ["sweep", "{d}/sweep.toml", "-o", "{d}/sw"], 1, ["dataset", "notes.h5", "not a readable HDF5 file"]),
]


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder``: a file's content hash and mtime (a folder's own
    mtime moves when the writability probe, a temporary file, comes and goes)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        key = str(p.relative_to(folder))
        out[key] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) if p.is_file() else "dir"
    return out


@pytest.mark.parametrize("case,setup,argv,code,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_and_writes_nothing(templates, tmp_path, case, setup, argv, code, words):
    d = tmp_path / "case"
    d.mkdir()
    setup(templates, d)
    before = snapshot(d)
    r = CliRunner().invoke(main, [a.replace("{d}", str(d)) for a in argv])
    out = r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), f"{case}: crashed: {r.exception!r}\n{out}"
    assert r.exit_code == code, out
    assert "Traceback" not in out, out
    lines = [ln for ln in out.splitlines() if re.match(r"(?i)error:", ln)]
    assert len(lines) == 1, out
    for w in words:
        assert w in lines[0], f"{case}: {w!r} not in {lines[0]!r}"
    assert snapshot(d) == before, f"{case}: the folder changed"


# ----------------------------------------------------------------------------- Ctrl-C at start-up
def test_ctrl_c_while_anp_starts_is_one_line_and_exit_130(tmp_path):
    """A KeyboardInterrupt while ``anp`` imports its commands (simulated deterministically: the
    import of one command module raises it) ends with one line and exit code 130."""
    code = (
        "import sys, importlib.abc\n"
        "class Stop(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'anp_emu.cli.commands_train':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Stop())\n"
        "sys.argv = ['anp', '--help']\n"
        "from anp_emu.cli import run\n"
        "run()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_anp_script_is_the_guarded_entry_point():
    from importlib.metadata import entry_points

    eps = [e for e in entry_points(group="console_scripts") if e.name == "anp"]
    assert eps and eps[0].value == "anp_emu.cli:run"
