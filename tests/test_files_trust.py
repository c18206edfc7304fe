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
from anp_emu.config import ChipConfig
from anp_emu.config_io import save_config
from anp_emu.errors import FileFormatError
from anp_emu.mapping.export import export_config, import_config
from anp_emu.spec import ChipSpec


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
