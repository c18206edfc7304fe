"""Ctrl-C ends ``anp sweep`` (and every grid of the runner) with any number of workers: no new run
starts, the running ones stop, no ``.part`` file survives, exit code 130 — also when the command
was started from a script that left SIGINT ignored (a background job of a non-interactive shell)."""
import json
import signal
import subprocess
import sys
import time

import pytest

from tasks import separable_dataset


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    d = tmp_path_factory.mktemp("intr")
    separable_dataset(3, n=45, T=12).save(d / "ev.h5")
    (d / "spec.toml").write_text(f'dataset = "{d / "ev.h5"}"\n[grid]\nseed = [0, 1, 2, 3, 4, 5, 6, 7]\n'
                                 "[fixed]\nepochs = 4\n")
    return d


def _records(out):
    runs = out / "runs"
    return sorted(p.name for p in runs.glob("*.json")) if runs.is_dir() else []


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_sigint_stops_a_sweep_with_exit_130(grid, tmp_path, workers, inherited):
    out = tmp_path / "out"

    def child_signals():
        # a test run inside a background job inherits SIGINT ignored: set what we test explicitly
        signal.signal(signal.SIGINT, signal.SIG_IGN if inherited == "ignored" else signal.default_int_handler)

    proc = subprocess.Popen([sys.executable, "-c", "from anp_emu.cli import run; run()", "sweep",
                             str(grid / "spec.toml"), "-o", str(out), "--workers", str(workers), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=child_signals,
                            cwd=tmp_path)      # not the checkout: its anp_emu/ folder would shadow the installed package
    deadline = time.monotonic() + 300
    # the signal lands after the first run finished, while the others run or wait
    while time.monotonic() < deadline and not _records(out) and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    before = _records(out)
    assert 1 <= len(before) < 8
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert _records(out) == before                         # no run recorded after the signal
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    assert all(json.loads((out / "runs" / n).read_text())["status"] == "ok" for n in before)
    time.sleep(1.0)                                        # no worker left behind writing files
    assert _records(out) == before
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
