"""Fuzz every file reader through its command (hypothesis, derandomized, MAX_EXAMPLES = 15 mutated
inputs per format per run): bit flips, truncation, zero length, wrong-typed/shaped attributes,
missing and extra datasets, NaN/inf and huge values. Each command must end with exit code 0 or
1 (never a crash), print no traceback, print exactly one ``error:`` line when it fails, fail for
mutations that make the file invalid, and change no file outside its own new output.
Formats: events and chip-config HDF5, checkpoints (through ``anp train --resume``), energy
tables, map models / npz exports (``anp map``), the preprocessed pickle and sweep TOML: 10 test
functions x 15 = 150 mutated inputs per run, about 20 s."""
import json
import pickle
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from anp_emu.cli.main import main
from anp_emu.chip.initialise import init_config
from anp_emu.chip.spec import ChipSpec
from anp_emu.energy.model import default_table
from anp_emu.files.config_io import save_config
from tasks import separable_dataset

MAX_EXAMPLES = 15
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz_src")
    ds = separable_dataset(3, n=12, T=6)
    ds.save(d / "ev.h5")
    cfg, _ = init_config(ChipSpec(n_in=64, n_hid=8, n_out=4), [ds.sample(i) for i in range(4)], seed=1)
    save_config(cfg, d / "cfg.h5")
    (d / "costs.json").write_text(default_table().to_json())
    emg = [np.array([[0, 3, 7], [0.01, 0.5, 1.5], [1, 0, 1]], float) for _ in range(5)]
    (d / "em.pkl").write_bytes(pickle.dumps({"y": np.arange(5), "sub": np.ones(5, int), "ses": np.ones(5, int),
                                             "emg": emg, "dvs": []}))
    (d / "spec.toml").write_text(f'dataset = "{d / "ev.h5"}"\n[grid]\nseed = [0, 1]\n[fixed]\nepochs = 1\n')
    r = CliRunner().invoke(main, ["export", str(d / "cfg.h5"), "--format", "npz", "-o", str(d / "model.npz")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["train", str(d / "ev.h5"), "-o", str(d / "run"), "--chip", str(d / "cfg.h5"),
                                  "--epochs", "1", "--schedule", "constant", "--no-progress", "--json"])
    assert r.exit_code == 0, r.output
    return d


def _snapshot(folder):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _check(folder, args, must_fail):
    before = _snapshot(folder)
    r = CliRunner().invoke(main, args, catch_exceptions=True)
    text = r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), (args, repr(r.exception))
    assert "Traceback" not in text, text
    assert r.exit_code in (0, 1), (r.exit_code, text)
    if must_fail:
        assert r.exit_code == 1, text
    if r.exit_code == 1:
        errors = [ln for ln in text.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1, text
    after = _snapshot(folder)
    assert {p: v for p, v in after.items() if p in before} == before       # nothing changed
    if r.exit_code == 1:
        assert set(after) == set(before)                                    # and nothing new on failure


# ------------------------------------------------------------------ raw bytes (every format)
BYTE_MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10 ** 6), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.floats(0, 0.95), st.just(0)),
    st.tuples(st.just("zero"), st.just(0), st.just(0)),
)


def _mutate_bytes(data: bytes, m):
    kind, a, b = m
    if kind == "flip" and data:
        i = a % len(data)
        return data[:i] + bytes([data[i] ^ (1 << b)]) + data[i + 1:], False
    if kind == "truncate":
        return data[:int(len(data) * a)], True
    return b"", True


COMMANDS = {
    "ev.h5": lambda p, out: ["data", "info", str(p)],
    "cfg.h5": lambda p, out: ["info", str(p)],
    "costs.json": lambda p, out: ["energy-table", "--costs", str(p)],
    "em.pkl": lambda p, out: ["data", "preprocess", str(p), "-o", str(out / "o.h5"), "--encoder", "delta",
                              "--no-progress"],
    "spec.toml": lambda p, out: ["sweep", str(p), "-o", str(out / "sw"), "--workers", "1", "--no-progress"],
    "model.npz": lambda p, out: ["map", str(p), "-o", str(out / "mapped.h5")],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
@FUZZ
@given(m=BYTE_MUTATIONS)
def test_byte_mutations(originals, tmp_path_factory, name, m):
    work = tmp_path_factory.mktemp("fz")
    data, must_fail = _mutate_bytes((originals / name).read_bytes(), m)
    p = work / name
    p.write_bytes(data)
    if name == "spec.toml" and data:
        must_fail = False          # a SPEC cut after a whole line can still be a valid (smaller) SPEC
    _check(work, COMMANDS[name](p, work), must_fail)


# ------------------------------------------------------------------ HDF5 structure
ATTR_VALUES = st.sampled_from([np.nan, np.inf, -1, 10 ** 18, 1e308, "text", np.array([1, 2]), b"\xff\xfe",
                               np.zeros((2, 2)), True])


@pytest.mark.parametrize("name", ["ev.h5", "cfg.h5"])
@FUZZ
@given(what=st.sampled_from(["attr", "drop", "extra", "nan"]), pick=st.integers(0, 100), value=ATTR_VALUES)
def test_hdf5_structure_mutations(originals, tmp_path_factory, name, what, pick, value):
    work = tmp_path_factory.mktemp("fz")
    p = work / name
    shutil.copy(originals / name, p)
    with h5py.File(p, "a") as f:
        names = []
        f.visit(names.append)
        datasets = sorted(n for n in names if isinstance(f[n], h5py.Dataset))
        if what == "attr":
            keys = sorted(f.attrs)
            f.attrs[keys[pick % len(keys)]] = value
        elif what == "drop":
            del f[datasets[pick % len(datasets)]]
        elif what == "extra":
            f.create_dataset(f"extra_{pick}", data=np.arange(3))
        else:
            n = datasets[pick % len(datasets)]
            a = f[n][()]
            del f[n]
            f.create_dataset(n, data=np.full(np.shape(a) or (1,), np.nan))
    _check(work, COMMANDS[name](p, work), True)


# ------------------------------------------------------------------ JSON energy table values
@FUZZ
@given(section=st.sampled_from(["relative_costs", "operating_points", "options", "cycles"]), pick=st.integers(0, 50),
       value=st.sampled_from([1e308, -1.0, "x", None, [1], {"a": 1}, 1e-12, True]))
def test_energy_table_value_mutations(originals, tmp_path_factory, section, pick, value):
    work = tmp_path_factory.mktemp("fz")
    d = json.loads((originals / "costs.json").read_text())
    target = d[section]
    if section == "operating_points":
        target = target[sorted(target)[pick % 2]]
    key = sorted(target)[pick % len(target)]
    target[key] = value
    p = work / "costs.json"
    p.write_text(json.dumps(d))
    must_fail = not ((section == "options" and value is True)
                     or (value == 1e-12 and (section == "relative_costs" or key == "static_power_mw")))
    _check(work, COMMANDS["costs.json"](p, work), must_fail)


# ------------------------------------------------------------------ checkpoints, through anp train --resume
@FUZZ
@given(m=BYTE_MUTATIONS, what=st.sampled_from(["bytes", "attr"]), pick=st.integers(0, 100), value=ATTR_VALUES)
def test_checkpoint_mutations(originals, tmp_path_factory, m, what, pick, value):
    """The run's checkpoint mutated, and the run's manifest told it is what anp wrote (else the
    manifest refuses the changed file before the reader sees it): the reader must refuse it."""
    from anp_emu.files.manifest import OutputFolder, read_manifest

    work = tmp_path_factory.mktemp("fz")
    shutil.copy(originals / "ev.h5", work / "ev.h5")
    shutil.copy(originals / "cfg.h5", work / "cfg.h5")
    run = work / "run"
    shutil.copytree(originals / "run", run)
    ck = run / "checkpoint.h5"
    if what == "bytes":
        data, must_fail = _mutate_bytes(ck.read_bytes(), m)
        ck.write_bytes(data)
    else:
        with h5py.File(ck, "a") as f:
            keys = sorted(f.attrs)
            f.attrs[keys[pick % len(keys)]] = value
        must_fail = True
    man = read_manifest(run)
    OutputFolder(run, man["kind"], man["files"]).wrote("checkpoint.h5")
    args = ["train", str(work / "ev.h5"), "-o", str(run), "--chip", str(work / "cfg.h5"), "--epochs", "2",
            "--schedule", "constant", "--resume", "--no-progress", "--json"]
    before = _snapshot(work)
    r = CliRunner().invoke(main, args, catch_exceptions=True)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and r.exit_code in (0, 1), r.output
    if must_fail:
        assert r.exit_code == 1, r.output
    if r.exit_code == 1:
        assert len([ln for ln in r.output.splitlines() if ln.startswith("error:")]) == 1, r.output
        assert _snapshot(work) == before                                  # a refused resume changes nothing
