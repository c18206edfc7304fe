"""The generic run executor: same records for any worker count, failures recorded, resume."""
import json

import pytest

from anp_emu.errors import FileFormatError, InputError
from anp_emu.experiments import RunSpec, run_all
from anp_emu.experiments.runner import run_path

FUNC = "anp_emu.experiments.selftest:seeded_sum"


def _specs(calls_dir, seeds=(0, 1, 2, 3), fail=(), fail_while=None):
    return [RunSpec(f"seed={s}", FUNC, {"seed": s, "n": 50, "fail": s in fail, "calls_dir": str(calls_dir),
                                        **({"fail_while": str(fail_while)} if s == 2 and fail_while else {})})
            for s in seeds]


def _stable(records):
    """A record without what depends on where and how fast it ran."""
    return [{k: v for k, v in r.items() if k not in ("wall_s", "host", "traceback")} for r in records]


def _calls(calls_dir, seed=None):
    return len([p for p in calls_dir.iterdir() if seed is None or p.name.startswith(f"seed{seed}-")])


def test_one_and_two_workers_give_identical_records(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    one = run_all(_specs(calls), tmp_path / "w1", workers=1)
    two = run_all(_specs(calls), tmp_path / "w2", workers=2)
    assert _stable(one) == _stable(two)
    assert [r["run_id"] for r in two] == ["seed=0", "seed=1", "seed=2", "seed=3"]
    assert all(r["status"] == "ok" for r in two)
    on_disk = json.loads(run_path(tmp_path / "w2", "seed=2").read_text())
    assert _stable([on_disk]) == _stable([two[2]])
    assert on_disk["params"]["seed"] == 2 and on_disk["wall_s"] >= 0


def test_raising_run_is_recorded_and_others_finish(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    recs = run_all(_specs(calls, fail=(1,)), tmp_path / "out", workers=2)
    assert [r["status"] for r in recs] == ["ok", "failed", "ok", "ok"]
    err = recs[1]["error"]
    assert err == "ValueError: seed 1: asked to fail second line of the message"   # one line
    assert recs[1]["result"] is None and "Traceback" in recs[1]["traceback"]
    assert json.loads(run_path(tmp_path / "out", "seed=1").read_text())["status"] == "failed"


def test_rerun_skips_finished_and_reruns_failed(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    flag = tmp_path / "failing"
    flag.touch()
    first = run_all(_specs(calls, fail_while=flag), tmp_path / "out", workers=2)
    assert _calls(calls) == 4 and first[2]["status"] == "failed"
    flag.unlink()
    statuses = []
    second = run_all(_specs(calls, fail_while=flag), tmp_path / "out", workers=2, progress=statuses.append)
    assert _calls(calls) == 5 and _calls(calls, 2) == 2          # only the failed run ran again
    assert second[2]["status"] == "ok"
    assert _stable(second)[:2] == _stable(first)[:2]
    assert statuses[0].skipped == 3 and statuses[-1].done == 1 and statuses[-1].finished == 4
    run_all(_specs(calls, fail_while=flag), tmp_path / "out", workers=1)
    assert _calls(calls) == 5                                      # nothing left to run


def test_worker_threads_do_not_oversubscribe(tmp_path):
    specs = [RunSpec(f"r{i}", "anp_emu.experiments.selftest:worker_threads", {}) for i in range(2)]
    recs = run_all(specs, tmp_path / "out", workers=2, threads_per_worker=1)
    assert all(r["result"]["env"] == "1" and r["result"]["numba"] == 1 for r in recs)


def test_changed_params_are_not_overwritten(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    run_all(_specs(calls, seeds=(0,)), tmp_path / "out", workers=1)
    other = [RunSpec("seed=0", FUNC, {"seed": 5, "n": 50})]
    before = run_path(tmp_path / "out", "seed=0").read_text()
    with pytest.raises(FileFormatError, match="other func or params"):
        run_all(other, tmp_path / "out", workers=1)
    assert run_path(tmp_path / "out", "seed=0").read_text() == before


@pytest.mark.parametrize("specs, match", [
    ([RunSpec("a/b", FUNC, {})], "run_id"),
    ([RunSpec("..", FUNC, {})], "run_id"),
    ([RunSpec("a", FUNC, {}), RunSpec("a", FUNC, {})], "unique"),
    ([RunSpec("a", "no_colon", {})], "module:function"),
    ([RunSpec("a", FUNC, {"x": object()})], "JSON-able"),
])
def test_bad_specs_are_rejected_before_any_run(tmp_path, specs, match):
    with pytest.raises(InputError, match=match):
        run_all(specs, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_executor_arguments(tmp_path):
    with pytest.raises(InputError, match="executor"):
        run_all([], tmp_path / "o", executor="slurm")
    with pytest.raises(InputError, match="scheduler"):
        run_all([], tmp_path / "o", scheduler="tcp://x:1")
    with pytest.raises(InputError, match="workers"):
        run_all([], tmp_path / "o", workers=0)


def test_dask_local_cluster_gives_the_same_records(tmp_path):
    pytest.importorskip("dask.distributed")
    calls = tmp_path / "calls"
    calls.mkdir()
    one = run_all(_specs(calls, fail=(3,)), tmp_path / "w1", workers=1)
    dask = run_all(_specs(calls, fail=(3,)), tmp_path / "dask", workers=2, executor="dask")
    assert _stable(one) == _stable(dask)
    assert dask[3]["status"] == "failed" and dask[3]["error"].startswith("ValueError: seed 3")


def test_interrupted_grid_keeps_finished_runs_and_resumes(tmp_path):
    """SIGINT to the driver mid-way: finished records intact, no partial files, a rerun runs the rest."""
    import signal
    import subprocess
    import sys
    import time

    calls = tmp_path / "calls"
    calls.mkdir()
    out = tmp_path / "out"
    code = ("import signal, sys; from anp_emu.experiments import RunSpec, run_all\n"
            # pytest in a background job inherits SIGINT ignored: restore Python's handler
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            f"specs = [RunSpec(f'seed={{s}}', {FUNC!r}, {{'seed': s, 'sleep_s': 1.2, 'calls_dir': {str(calls)!r}}}) "
            "for s in range(8)]\n"
            f"run_all(specs, {str(out)!r}, workers=2)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / "runs").glob("*.json")) if (out / "runs").exists() else []) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    done = sorted(p.name for p in (out / "runs").iterdir())
    assert 2 <= len(done) < 8 and all(n.endswith(".json") for n in done)     # no .part files left
    assert all(json.loads((out / "runs" / n).read_text())["status"] == "ok" for n in done)
    n_before = _calls(calls)
    specs = [RunSpec(f"seed={s}", FUNC, {"seed": s, "sleep_s": 1.2, "calls_dir": str(calls)}) for s in range(8)]
    recs = run_all(specs, out, workers=2)
    assert all(r["status"] == "ok" for r in recs)
    assert _calls(calls) - n_before == 8 - len(done)


def test_dask_executor_without_dask_names_the_extra(tmp_path, monkeypatch):
    import sys

    for name in ("dask", "dask.distributed", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)          # import dask.distributed -> ImportError
    with pytest.raises(InputError, match=r"anp-emu\[cluster\]"):
        run_all(_specs([]), tmp_path / "d", workers=2, executor="dask")


def test_a_script_without_a_main_guard_runs_its_grid(tmp_path):
    """Spawned workers re-import the parent's main script: one without an ``if __name__ ==
    "__main__":`` guard used to start a sweep inside every worker, which multiprocessing refuses,
    and every run was recorded as failed (exit 0). The workers now start without the script."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from anp_emu.experiments.runner import RunSpec, run_all\n"
        "recs = run_all([RunSpec(f's{i}', 'anp_emu.experiments.selftest:seeded_sum', {'seed': i}) for i in range(3)],\n"
        "               'out', workers=2)\n"
        "print(' '.join(r['status'] for r in recs))\n")
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["ok", "ok", "ok"]
