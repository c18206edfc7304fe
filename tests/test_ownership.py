"""Ownership by manifest and validate-then-write (issue 30): every example of the issue as a test
that fails on the code before the manifests."""
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.files.manifest import MANIFEST, OutputFolder, read_manifest


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    from tasks import separable_dataset

    d = tmp_path_factory.mktemp("own")
    separable_dataset(3, n=45, T=10).save(d / "ev.h5")
    separable_dataset(4, n=40, T=10).save(d / "other.h5")
    return d


def train(ev, out, *args):
    return run("train", ev, "-o", out, "--lr", "3000", "--no-progress", "--json", *args)


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def sweep_spec(tmp_path, events, seeds, name="s.toml"):
    p = tmp_path / name
    p.write_text(f'dataset = "{events / "ev.h5"}"\n[grid]\nseed = {list(seeds)}\n[fixed]\nepochs = 1\nlr = 3000.0\n')
    return p


# ------------------------------------------------------------------ folders that merely look like ours
def test_a_sweep_into_a_folder_with_runs_and_a_users_results_is_refused(tmp_path, events):
    out = tmp_path / "sw"
    (out / "runs").mkdir(parents=True)
    (out / "results.csv").write_text("mine,1\n")
    before = snapshot(out)
    r = run("sweep", sweep_spec(tmp_path, events, [0]), "-o", out, "--workers", "1", "--no-progress")
    assert r.exit_code == 1 and r.output.startswith("error:") and "Traceback" not in r.output
    assert snapshot(out) == before and not (out / MANIFEST).exists()


def test_a_sweep_of_another_grid_into_an_earlier_one_is_refused_before_a_byte_is_written(tmp_path, events):
    out = tmp_path / "sw"
    assert run("sweep", sweep_spec(tmp_path, events, [0, 1]), "-o", out, "--workers", "1", "--no-progress").exit_code == 0
    assert len(pd.read_csv(out / "results.csv")) == 2
    before = snapshot(out)
    r = run("sweep", sweep_spec(tmp_path, events, [1], "other.toml"), "-o", out, "--workers", "1", "--no-progress")
    assert r.exit_code == 1 and "another grid" in r.output and "seed=0" in r.output
    assert snapshot(out) == before                     # spec.json and results.csv untouched
    # a larger grid keeps every finished row
    r = run("sweep", sweep_spec(tmp_path, events, [0, 1, 2], "more.toml"), "-o", out, "--workers", "1", "--no-progress")
    assert r.exit_code == 0, r.output
    assert sorted(pd.read_csv(out / "results.csv").seed) == [0, 1, 2]


def test_force_never_replaces_a_users_file_in_a_run_folder(tmp_path, events):
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.csv").write_text("my own log\n")
    for extra in ((), ("--force",)):
        r = train(events / "ev.h5", out, "--epochs", "1", *extra)
        assert r.exit_code == 1 and "log.csv" in r.output and "not written by anp" in r.output
    assert (out / "log.csv").read_text() == "my own log\n" and sorted(p.name for p in out.iterdir()) == ["log.csv"]


def test_force_never_replaces_a_users_file_in_an_energy_folder(tmp_path, events):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "energy.json").write_text("{}")
    r = run("energy", events / "ev.h5", "-n", "1", "-o", out, "--no-progress", "--force")
    assert r.exit_code == 1 and "energy.json" in r.output and (out / "energy.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["energy.json"]


def test_force_replaces_what_anp_wrote_and_nothing_else(tmp_path, events):
    out = tmp_path / "run"
    assert train(events / "ev.h5", out, "--epochs", "1").exit_code == 0
    (out / "notes.txt").write_text("mine")
    assert read_manifest(out)["kind"] == "train-run" and "config.h5" in read_manifest(out)["files"]
    r = train(events / "ev.h5", out, "--epochs", "1", "--seed", "5", "--force")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "summary.json").read_text())["settings"]["seed"] == 5
    assert (out / "notes.txt").read_text() == "mine"
    # a run file changed by the user is not ours any more: never replaced, not even with --force
    (out / "summary.json").write_text("{}")
    r = train(events / "ev.h5", out, "--epochs", "1", "--force")
    assert r.exit_code == 1 and "changed since anp wrote it" in r.output and (out / "summary.json").read_text() == "{}"


def test_a_folder_of_another_command_is_not_resumed(tmp_path, events):
    out = tmp_path / "x"
    assert run("energy", events / "ev.h5", "-n", "1", "-o", out, "--no-progress").exit_code == 0
    r = train(events / "ev.h5", out, "--epochs", "1", "--force")
    assert r.exit_code == 1 and "another command" in r.output


# ------------------------------------------------------------------ validate, then write
def test_a_refused_option_writes_nothing_and_the_retry_works(tmp_path, events):
    out = tmp_path / "run"
    r = train(events / "ev.h5", out, "--epochs", "1", "--operating-point", "7V")
    assert r.exit_code == 1 and "operating" in r.output
    assert not out.exists() or not any(out.iterdir())       # no encoding.json left behind
    assert train(events / "ev.h5", out, "--epochs", "1").exit_code == 0


def test_a_refused_resume_with_another_dataset_changes_nothing(tmp_path, events):
    out = tmp_path / "run"
    assert train(events / "ev.h5", out, "--epochs", "1", "--schedule", "constant").exit_code == 0
    before = snapshot(out)
    r = train(events / "other.h5", out, "--epochs", "2", "--schedule", "constant", "--resume")
    assert r.exit_code == 1 and "another run" in r.output
    assert snapshot(out) == before


def test_resuming_a_finished_run_changes_nothing(tmp_path, events):
    out = tmp_path / "run"
    assert train(events / "ev.h5", out, "--epochs", "2", "--schedule", "constant").exit_code == 0
    before = snapshot(out)
    r = train(events / "ev.h5", out, "--epochs", "2", "--schedule", "constant", "--resume")
    assert r.exit_code == 0, r.output
    assert snapshot(out) == before
    c = json.loads((out / "counters.json").read_text())
    assert c["epochs"] == [1, 2] and c["n_samples"] > 0


def test_an_extended_run_counts_every_epoch(tmp_path, events):
    out, whole = tmp_path / "run", tmp_path / "whole"
    assert train(events / "ev.h5", out, "--epochs", "1", "--schedule", "constant").exit_code == 0
    assert train(events / "ev.h5", out, "--epochs", "3", "--schedule", "constant", "--resume").exit_code == 0
    assert train(events / "ev.h5", whole, "--epochs", "3", "--schedule", "constant").exit_code == 0
    ext, ref = (json.loads((d / "counters.json").read_text()) for d in (out, whole))
    assert ext["epochs"] == [1, 2, 3] and ext["counters"] == ref["counters"] and ext["n_samples"] == ref["n_samples"]


def test_the_manifest_records_every_file_with_its_sha256(tmp_path, events):
    out = tmp_path / "run"
    assert train(events / "ev.h5", out, "--epochs", "1").exit_code == 0
    from anp_emu.files.manifest import file_sha256

    files = read_manifest(out)["files"]
    assert set(files) == {p.name for p in out.iterdir() if p.name != MANIFEST}
    assert all(file_sha256(out / n) == h for n, h in files.items())
    (out / MANIFEST).write_text("not json")
    r = train(events / "ev.h5", out, "--epochs", "2", "--resume")
    assert r.exit_code == 1 and MANIFEST in r.output and "Traceback" not in r.output


def test_claim_refuses_symlinks_and_folders(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "a.csv").mkdir()
    (tmp_path / "target").write_text("x")
    (out / "b.csv").symlink_to(tmp_path / "target")
    for name in ("a.csv", "b.csv"):
        with pytest.raises(Exception, match="folder or a symlink"):
            OutputFolder.claim(out, "energy", (name,), replace=True)
