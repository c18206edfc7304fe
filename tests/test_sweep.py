"""anp sweep: same table for any executor and worker count, resume, failures recorded, bad SPECs."""
import json

import pandas as pd
import numpy as np
import pytest
from click.testing import CliRunner

from anp_emu.experiments import sweep
from anp_emu.cli.main import main
from anp_emu.errors import InputError
from tasks import tiny_events_and_chip

FIGURES = ["train_accuracy", "test_accuracy", "learning_nj", "inference_nj", "total_nj", "hidden_activity", "output_activity",
           "sop_per_sample", "learning_ops_per_sample", "loss", "status", "error"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny event dataset (64 lines, 12 steps, 45 samples) and a 64-16-4 initial chip."""
    d = tiny_events_and_chip(tmp_path_factory.mktemp("sweep"))
    (d / "bad_chip.h5").write_text("not hdf5")
    return d


def spec(files, **grid):
    return {"dataset": str(files / "ev.h5"), "grid": grid or {"rule": ["mpd-ed", "stbp"], "seed": [0, 1]},
            "fixed": {"epochs": 1, "lr": 3000.0, "chip": str(files / "chip.h5")}}


def figures(table):
    return table[["run_id", "rule", "seed"] + FIGURES].reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(files, tmp_path_factory):
    return sweep.run(spec(files), tmp_path_factory.mktemp("ref") / "out", workers=1)


def test_table_has_a_row_per_run_and_a_column_per_option(reference, files):
    t = reference
    assert list(t.run_id) == ["rule=mpd-ed__seed=0", "rule=mpd-ed__seed=1", "rule=stbp__seed=0", "rule=stbp__seed=1"]
    assert {"rule", "seed", "epochs", "lr", "chip", "wall_s"} <= set(t.columns)
    assert (t.status == "ok").all() and (t.learning_nj > 0).all()
    assert np.allclose(t.total_nj, t.inference_nj + t.learning_nj, rtol=1e-9)
    # STBP is dense: more learning energy per training sample than MPD-ED
    assert t[t.rule == "stbp"].learning_nj.min() > t[t.rule == "mpd-ed"].learning_nj.max()
    s = sweep.summarise(t, ["rule"])
    assert list(s["n"]) == [2, 2]
    mpd = t[t.rule == "mpd-ed"].test_accuracy
    assert s.loc[0, "test_accuracy_mean"] == pytest.approx(mpd.mean())
    assert s.loc[0, "test_accuracy_sd"] == pytest.approx(mpd.std(ddof=1))


def test_two_local_workers_give_the_same_table(reference, files, tmp_path):
    t2 = sweep.run(spec(files), tmp_path / "out", workers=2)
    pd.testing.assert_frame_equal(figures(t2), figures(reference))
    on_disk = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(on_disk.run_id) == list(t2.run_id)
    assert (tmp_path / "out" / "runs" / "rule=stbp__seed=1" / "config.h5").exists()


def test_dask_local_cluster_gives_the_same_table(reference, files, tmp_path):
    pytest.importorskip("dask.distributed")
    td = sweep.run(spec(files), tmp_path / "out", workers=2, executor="dask")
    pd.testing.assert_frame_equal(figures(td), figures(reference))


def test_interrupted_sweep_runs_only_the_missing_runs(reference, files, tmp_path):
    out = tmp_path / "out"

    def stop_after_two(st):
        if st.done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run(spec(files), out, workers=1, progress=stop_after_two)
    first = sorted(p for p in (out / "runs").glob("*.json"))
    assert len(first) == 2
    stamps = {p.name: p.stat().st_mtime_ns for p in first}
    seen = []
    table = sweep.run(spec(files), out, workers=1, progress=seen.append)
    assert seen[-1].skipped == 2 and seen[-1].done == 2
    assert {p.name: p.stat().st_mtime_ns for p in first} == stamps          # finished runs not redone
    pd.testing.assert_frame_equal(figures(table), figures(reference))


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(files, tmp_path):
    s = spec(files, seed=[0])
    s["grid"]["chip"] = [str(files / "chip.h5"), str(files / "bad_chip.h5")]
    del s["fixed"]["chip"]
    r = CliRunner().invoke(main, ["sweep", _toml(tmp_path, s), "-o", str(tmp_path / "out"), "--workers", "1",
                                  "--no-progress"])
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1].startswith("error: 1 of 2 runs failed")
    t = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(t.status) == ["ok", "failed"]
    assert "bad_chip.h5" in t.error[1] and "\n" not in t.error[1]
    assert t.test_accuracy.notna()[0] and t.test_accuracy.isna()[1]


def _toml(tmp_path, s):
    def val(v):
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()
    lines = [f'dataset = {json.dumps(s["dataset"])}'] if "dataset" in s else []
    lines += [f"{k} = {val(v)}" for k, v in s.items() if k not in ("dataset", "grid", "fixed")]
    for table in ("grid", "fixed"):
        if table in s:
            lines.append(f"[{table}]")
            lines += [f"{k} = {val(v)}" for k, v in s[table].items()]
    p = tmp_path / "spec.toml"
    p.write_text("\n".join(lines) + "\n")
    return str(p)


@pytest.mark.parametrize("change, message", [
    (lambda s: s["grid"].update(learning_rate=[1.0]), "grid.learning_rate: unknown option"),
    (lambda s: s["grid"].update(seed=["0"]), "grid.seed: must be an integer"),
    (lambda s: s["fixed"].update(epochs=1.5), "fixed.epochs: must be an integer"),
    (lambda s: s["fixed"].update(temporal="no"), "fixed.temporal: must be true or false"),
    (lambda s: s["fixed"].update(rule="sgd"), "fixed.rule"),
    (lambda s: s["fixed"].update(epochs=0), "fixed.epochs"),
    (lambda s: s["grid"].update(seed=[]), "grid.seed: empty list"),
    (lambda s: s.update(grid={}), "grid: empty"),
    (lambda s: s["grid"].update(seed=3), "grid.seed: must be a list"),
    (lambda s: s["grid"].update(seed=[1, 1]), "grid.seed: repeated value"),
    (lambda s: s["fixed"].update(seed=0), "fixed.seed: is also in [grid]"),
    (lambda s: s.update(dataset="nowhere.h5"), "dataset: file not found"),
    (lambda s: s.pop("dataset"), "dataset: missing"),
    (lambda s: s.update(workers=2), "workers: unknown SPEC key"),
    (lambda s: s["fixed"].update(output="x"), "fixed.output: unknown option"),
    (lambda s: s["fixed"].update(aft="ideal"), "aft: the ideal AFT-LIF neuron exists only in the float twin"),
])
def test_bad_spec_gets_one_line_naming_the_key_before_any_run(files, tmp_path, change, message):
    s = spec(files)
    change(s)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sweep.load_spec(s)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["sweep", _toml(tmp_path, s), "-o", str(out), "--no-progress"])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert r.output.startswith("error: ") and message in r.output
    assert not out.exists()


def test_bad_spec_files(tmp_path):
    r = CliRunner().invoke(main, ["sweep", str(tmp_path / "none.toml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "file not found" in r.output
    (tmp_path / "bad.toml").write_text("grid = [\n")
    r = CliRunner().invoke(main, ["sweep", str(tmp_path / "bad.toml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "not valid TOML" in r.output and len(r.output.strip().splitlines()) == 1


def test_options_become_the_train_command_line():
    from anp_emu.experiments.train_run import option_arguments, train_parameters

    assert option_arguments({"temporal": False, "reset": True, "lr": 0.5, "operating_point": "0.9V", "seed": 3}) == [
        "--no-temporal", "--reset", "--lr", "0.5", "--operating-point", "0.9V", "--seed", "3"]
    keys = set(train_parameters())
    assert {"rule", "aft", "loss", "lr", "epochs", "temporal_window", "rounding", "seed", "split", "chip"} <= keys
    assert not keys & {"output", "resume", "json", "progress", "dataset"}


def test_warmup_compiles_every_path():
    r = CliRunner().invoke(main, ["warmup", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {"int mpd-ed tet", "int stbp ce", "float mpd-ed tet ideal AFT", "delta encoder"} <= set(out["paths"])


def test_dask_local_workers_start_without_malloc_trim_and_leave_our_environment(tmp_path, monkeypatch):
    """distributed's nannies set MALLOC_TRIM_THRESHOLD_=65536 (and 1 OMP thread) in os.environ
    before spawning a worker; our LocalCluster workers start without the former, with our thread
    count, and this process's environment is left as it was. (Kept in this file, which runs after
    the tests that import no dask: importing distributed installs tblib's exception pickling for
    the whole process, which test_emg_ceolini's unpickler test does not expect.)"""
    pytest.importorskip("dask.distributed")
    import os

    from anp_emu.experiments.runner import RunSpec, run_all

    names = ["MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"]
    for k in names:
        monkeypatch.delenv(k, raising=False)
    recs = run_all([RunSpec("env", "anp_emu.experiments.selftest:worker_environment", {"names": names})],
                   tmp_path / "out", workers=1, executor="dask", threads_per_worker=2)
    assert recs[0]["status"] == "ok", recs[0]["error"]
    env = recs[0]["result"]["env"]
    assert env["MALLOC_TRIM_THRESHOLD_"] is None
    assert env["OMP_NUM_THREADS"] == "2" and env["NUMBA_NUM_THREADS"] == "2"
    assert {k: os.environ.get(k) for k in names} == dict.fromkeys(names)


def test_sweep_report_through_the_command_is_recorded_as_ours(files, tmp_path):
    from anp_emu.files.manifest import read_manifest

    p = tmp_path / "s.toml"
    p.write_text(f'dataset = "{files / "ev.h5"}"\n[grid]\nseed = [0, 1]\n[fixed]\nepochs = 1\nlr = 3000.0\n'
                 f'chip = "{files / "chip.h5"}"\n')
    out = tmp_path / "sw"
    r = CliRunner().invoke(main, ["sweep", str(p), "-o", str(out), "--workers", "1", "--no-progress", "--report"])
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") or "<html" in html[:200]
    assert "data:image/png;base64," in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "report.html" in read_manifest(out)["files"]
    # a rerun resumes the sweep and replaces its own report
    r = CliRunner().invoke(main, ["sweep", str(p), "-o", str(out), "--workers", "1", "--no-progress", "--report"])
    assert r.exit_code == 0, r.output
