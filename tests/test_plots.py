"""anp_emu.plots, anp plot and anp report on a tiny run: each figure's content, not only that it
renders; bad inputs are one error line; the HTML report loads every image in headless Chromium."""
import json
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from anp_emu import plots  # noqa: E402
from anp_emu.cli.main import main  # noqa: E402
from anp_emu.energy.model import default_table  # noqa: E402
from anp_emu.energy.report import energy_per_sample  # noqa: E402
from tasks import tiny_events_and_chip  # noqa: E402

EPOCHS = 3


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """`anp train` of a 64-16-4 chip on a tiny separable set, 3 epochs, with --report."""
    d = tiny_events_and_chip(tmp_path_factory.mktemp("plots"))
    r = CliRunner().invoke(main, ["train", str(d / "ev.h5"), "-o", str(d / "run"), "--chip", str(d / "chip.h5"),
                                  "--epochs", str(EPOCHS), "--lr", "3000", "--no-progress", "--report"])
    assert r.exit_code == 0, r.output
    return d / "run"


@pytest.fixture(scope="module")
def run(run_dir):
    return plots.load_run(run_dir)


def test_raster_has_one_point_per_spike_and_names_the_classes(run):
    _, test = run.datasets()
    from anp_emu.plots.html_report import raster_panel

    p = raster_panel(run, 2)
    fig = plots.plot_raster(p, class_names=test.class_names)
    want = plots.raster_counts(p["events"], p["result"])
    got = [len(c.get_offsets()) for ax in fig.axes for c in ax.collections]
    assert got == [want["input"], want["hidden"], want["output"]]
    assert want["input"] == test.sample(2).n_events > 0
    title = fig.axes[0].get_title()
    assert f"true {test.class_names[test.labels[2]]!r}" in title and "predicted" in title
    # the points sit where the spikes are: output spikes at (t + 1, neuron)
    t, n = np.nonzero(p["result"].s_out)
    assert sorted(map(tuple, fig.axes[2].collections[0].get_offsets().data.tolist())) == sorted(zip(t + 1.0, n * 1.0))
    two = plots.plot_raster([p, p], class_names=test.class_names)         # two rules / epochs side by side
    assert len(two.axes) == 6
    plt.close("all")


def test_membrane_traces_are_the_recorded_potentials_with_threshold_and_aux(run):
    cfg = run.config("trained")
    ev = run.datasets()[1].sample(0)
    ri, rf = plots.sample_traces(cfg, ev, "int"), plots.sample_traces(cfg, ev, "float")
    fig = plots.plot_membrane(ri, config=cfg, neurons=[0, 1], hidden=[3], float_result=rf)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert np.array_equal(lines["int chip"].get_ydata(), ri.v_out[:, 0])
    assert np.allclose(lines["float twin"].get_ydata(), rf.v_out[:, 0])
    assert np.array_equal(lines["threshold"].get_ydata(), ri.th_out[:, 0])
    assert fig.axes[2].get_title() == "hidden neuron 3"
    boosts = [p for p in ax.patches]
    silent_before = 1 + int(np.sum(ri.s_out[:-1, 0] == 0))          # step 1 and every step after a silent one
    assert len(boosts) == silent_before and all(b.get_height() == cfg.w_aux_out for b in boosts)
    plt.close("all")


def test_training_curves_have_one_point_per_epoch_and_the_paper_lines(run):
    fig = plots.plot_training_curves(run)
    acc, en, act = fig.axes[:3]
    for ln in acc.get_lines():
        assert len(ln.get_xdata()) == EPOCHS
    test_line = next(ln for ln in acc.get_lines() if ln.get_label().endswith("test"))
    assert np.allclose(test_line.get_ydata(), 100 * run.log["test_accuracy"])
    labels = [ln.get_label() for ln in en.get_lines()]
    assert {"mpd-ed learning, 0.56V", "mpd-ed learning, 0.9V", "mpd-ed inference, 0.56V"} <= set(labels)
    learn = next(ln for ln in en.get_lines() if ln.get_label() == "mpd-ed learning, 0.56V")
    assert np.allclose(learn.get_ydata(), run.log["learning_nj"])     # re-priced counters = the log's figure
    refs = sorted(ln.get_ydata()[0] for ln in en.get_lines() if ln.get_label().startswith("_"))
    assert 312.0 in refs and 9320.0 in refs
    assert all(len(ln.get_xdata()) == EPOCHS for ln in act.get_lines())
    plt.close("all")


def test_confusion_matrix_sums_to_the_test_set(run):
    ev = run.evaluation()
    _, test = run.datasets()
    fig = plots.plot_confusion(ev.confusion)
    counts = [int(t.get_text().split("\n")[0]) for t in fig.axes[0].texts]
    assert sum(counts) == len(test) == run.summary["test_samples"]
    assert np.array_equal(np.array(counts).reshape(4, 4), ev.confusion.to_numpy())
    # per-class accuracy beside each row
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert all(f"({100 * a:.0f} %)" in s for s, a in zip(ticks, ev.per_class_accuracy.fillna(0)))
    # the run's final test accuracy is what the chip gives now
    assert ev.accuracy == pytest.approx(run.log["test_accuracy"].iloc[-1])
    plt.close("all")


def test_energy_breakdown_bars_add_up_to_the_total(run):
    model = default_table().model("0.56V")
    tot = run.total_counters()
    e = energy_per_sample(tot, run.spec(), run.T, model)
    b = plots.breakdown(tot, run.spec(), run.T, model)
    assert b["nj"].sum() == pytest.approx(e["total_nj"])
    assert b[b.phase != "forward"]["nj"].sum() == pytest.approx(e["learning_nj"])
    fig = plots.plot_energy_breakdown({"mpd-ed": b, "again": b})
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert len(heights) == 2 * 2 * 3 and sum(heights) == pytest.approx(2 * e["total_nj"])
    plt.close("all")


def test_weight_histograms_count_every_weight_and_the_saturated_ones(run):
    after, before = run.config("trained"), run.config("initial")
    assert before is not None and not np.array_equal(after.w_hid, before.w_hid)
    fig = plots.plot_weight_histograms(after, before)
    for ax, w, bits in zip(fig.axes, (after.w_hid, after.w_out), (8, 10)):
        hi = 2 ** (bits - 1) - 1
        sums = [sum(p.get_height() for p in [])]  # noqa: F841 (patches of step hists are polygons)
        sat = int(np.sum((w == hi) | (w == -hi - 1)))
        assert any(f"after training: {sat:,} saturated of {w.size:,}" == t.get_text() for t in ax.get_legend().get_texts())
        assert sorted(ln.get_xdata()[0] for ln in ax.get_lines()) == [-hi - 1, hi]
        assert ax.get_xlabel().startswith(f"weight (LSB of the {bits}-bit grid")
    plt.close("all")


def test_error_bars_equal_the_seeds_sd():
    t = pd.DataFrame({"rule": ["mpd-ed"] * 3 + ["stbp"] * 3, "seed": [0, 1, 2] * 2, "status": "ok",
                      "test_accuracy": [0.8, 0.9, 0.85, 0.7, 0.75, 0.9],
                      "learning_nj": [60.0, 70.0, 80.0, 7800.0, 7900.0, 7850.0]})
    fig = plots.plot_accuracy_energy(t, ["rule"])
    ax = fig.axes[0]
    for k, rule in enumerate(["mpd-ed", "stbp"]):
        g = t[t.rule == rule]
        cont = ax.containers[k]
        _, _, (xbar, ybar) = cont.lines
        (x0, y0), (x1, y1) = ybar.get_segments()[0]
        assert (y1 - y0) / 2 == pytest.approx(100 * g.test_accuracy.std(ddof=1))
        assert (y1 + y0) / 2 == pytest.approx(100 * g.test_accuracy.mean())
        (x0, _), (x1, _) = xbar.get_segments()[0]
        assert (x1 - x0) / 2 == pytest.approx(g.learning_nj.std(ddof=1))
    folds = pd.concat([t.assign(fold=["s1", "s2", "s3"] * 2),
                       pd.DataFrame({"rule": "baseline:logreg", "fold": ["s1", "s2", "s3"], "test_accuracy": [.5, .6, .7]})])
    fig = plots.plot_folds(folds, split="session")
    ax = fig.axes[0]
    assert len(ax.patches) == 6 and sorted(ax.collections[-1].get_offsets()[:, 1]) == [50, 60, 70]
    plt.close("all")


def test_formats_and_the_moved_energy_plot(tmp_path, run):
    fig = plots.plot_training_curves(run)
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        p = plots.save(fig, tmp_path / f"c.{fmt}")
        assert p.read_bytes()[:5].startswith(magic)
    w, h = fig.get_size_inches()
    assert w <= 7.2                                   # fits the full width of a two-column paper
    from anp_emu.energy import plot as old

    assert old.plot_energy_over_training is plots.plot_energy_over_training
    plt.close("all")


@pytest.mark.parametrize("kind", ["raster", "membrane", "curves", "confusion", "energy", "weights"])
def test_anp_plot_every_run_kind(run_dir, tmp_path, kind):
    out = tmp_path / f"{kind}.svg"
    r = CliRunner().invoke(main, ["plot", kind, str(run_dir), "-o", str(out), "--hidden", "1,2"])
    assert r.exit_code == 0, r.output
    assert out.read_text().lstrip().startswith("<?xml")


def _one_error_line(r):
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert "Traceback" not in r.output
    return lines[0]


def test_bad_inputs_are_one_error_line(run_dir, tmp_path):
    inv = lambda *a: CliRunner().invoke(main, list(map(str, a)))  # noqa: E731
    assert "not found" in _one_error_line(inv("plot", "curves", tmp_path / "nothing", "-o", tmp_path / "a.png"))
    assert "unknown kind of plot" in _one_error_line(inv("plot", "pie", run_dir, "-o", tmp_path / "a.png"))
    (tmp_path / "file").write_text("x")
    assert "output folder not found" in _one_error_line(inv("plot", "curves", run_dir, "-o", tmp_path / "file" / "a.png"))
    assert "unknown image format" in _one_error_line(inv("plot", "curves", run_dir, "-o", tmp_path / "a.gif"))
    assert "not found" in _one_error_line(inv("report", tmp_path / "nothing", "-o", tmp_path / "r.html"))
    assert "output folder not found" in _one_error_line(inv("report", run_dir, "-o", tmp_path / "file" / "r.html"))
    assert "out of range" in _one_error_line(inv("plot", "raster", run_dir, "-o", tmp_path / "a.png", "--sample", 999))
    (tmp_path / "old.png").write_bytes(b"mine")
    assert "--force" in _one_error_line(inv("plot", "curves", run_dir, "-o", tmp_path / "old.png"))
    assert (tmp_path / "old.png").read_bytes() == b"mine"
    assert "--force" in _one_error_line(inv("report", run_dir, "-o", run_dir / "report.html"))
    assert "holds none of" in _one_error_line(inv("report", tmp_path, "-o", tmp_path / "r.html"))


def test_report_is_self_contained_and_names_the_run(run_dir, run):
    text = (run_dir / "report.html").read_text()
    imgs = re.findall(r"<img [^>]*src=\"([^\"]+)\"", text)
    assert len(imgs) >= 6 and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert not re.search(r"(src|href)=\"(https?:)?//", text)        # nothing fetched from a network
    acc = f"{100 * run.log['test_accuracy'].iloc[-1]:.1f} %"
    assert run_dir.name in text and acc in text and "input density" in text and "subjects" in text


def test_sweep_report(tmp_path):
    d = tmp_path / "sw"
    d.mkdir()
    pd.DataFrame({"run_id": list("abcd"), "rule": ["mpd-ed", "mpd-ed", "stbp", "stbp"], "seed": [0, 1, 0, 1],
                  "status": "ok", "test_accuracy": [.8, .9, .7, .8], "learning_nj": [50., 60., 7000., 7100.]}
                 ).to_csv(d / "results.csv", index=False)
    r = CliRunner().invoke(main, ["report", str(d), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r.html").read_text().count("<img ") == 1
    r = CliRunner().invoke(main, ["plot", "folds", str(d), "-o", str(tmp_path / "f.png")])
    assert "needs an anp cv folder" in _one_error_line(r)


def test_report_in_headless_chromium(run_dir, run, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it when apt is "
                    "available)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
    url = (run_dir / "report.html").resolve().as_uri()
    with tempfile.TemporaryDirectory() as prof:
        dom = subprocess.run([exe, *flags, f"--user-data-dir={prof}", "--virtual-time-budget=10000", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'id="img-status" data-total="(\d+)" data-loaded="(\d+)"', dom)
    assert m, dom[-500:]
    total, loaded = int(m.group(1)), int(m.group(2))
    assert total >= 6 and loaded == total                      # every image decoded: naturalWidth > 0
    acc = f"{100 * run.log['test_accuracy'].iloc[-1]:.1f} %"
    assert run_dir.name in dom and acc in dom
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as prof:
        subprocess.run([exe, *flags, f"--user-data-dir={prof}", "--window-size=1200,2400", f"--screenshot={shot}", url],
                       capture_output=True, timeout=120)
    assert shot.exists() and shot.read_bytes()[:4] == b"\x89PNG"


def test_raster_shows_every_output_row(run):
    """Output spikes of unused neurons (beyond the dataset's classes) are inside the axes too."""
    from anp_emu.plots.html_report import raster_panel

    _, test = run.datasets()
    p = raster_panel(run, 2)
    fig = plots.plot_raster(p, class_names=test.class_names)
    ax = fig.axes[2]
    lo, hi = ax.get_ylim()
    assert lo <= -0.5 and hi >= p["result"].s_out.shape[1] - 0.5
    assert [t.get_text() for t in ax.get_yticklabels()][len(test.class_names):] == \
        ["(unused)"] * (p["result"].s_out.shape[1] - len(test.class_names))
