"""Table II/III of Wei et al. 2024: formulas, the paper's 94.22 % / 99.14 %, zeta from counters."""
import math

import numpy as np
import pytest

from anp_emu.chip.emulator import Chip
from anp_emu.chip.counters import Counters, new_counts, NAMES
from anp_emu.energy.complexity import (activity_from_counters, complexity, complexity_from_counters, paper_table3,
                                       reduction, terms, truncate_pct)
from anp_emu.errors import InputError
from anp_emu.chip.spec import ChipSpec
from conftest import make_config


def test_formulas_table2():
    M, N, T = 200, 10, 30
    assert complexity("stbp", M, N, T) == M * N * T + N * T + N * T == 60600
    assert complexity("mpd-ed", M, N, T, 0.0527, 0.1287) == pytest.approx(0.0527 * 60000 + 300 + 0.1287 * 300)
    assert complexity("std-ed", M, N, T, 0.0086, 0.0604) == pytest.approx(0.0086 * 60000)
    assert terms("mpd-ed", M, N, T, 1.0, 1.0) == terms("stbp", M, N, T)  # full activity = STBP


def test_paper_reductions_exact_to_two_decimals():
    mpd = reduction("mpd-ed", 200, 10, 30, 0.0527, 0.1287)
    std = reduction("std-ed", 200, 10, 30, 0.0086, 0.0604)
    assert truncate_pct(mpd) == 94.22
    assert truncate_pct(std) == 99.14
    # exact values: 1 - 3500.61/60600 and 1 - 516/60600; the paper truncates (STD-ED rounds to 99.15)
    assert 100 * mpd == pytest.approx(100 * (1 - 3500.61 / 60600), abs=1e-12)
    assert 100 * std == pytest.approx(100 * (1 - 516 / 60600), abs=1e-12)
    assert f"{100 * mpd:.2f}" == "94.22" and f"{100 * std:.2f}" == "99.15"


def test_paper_table3_frame():
    df = paper_table3().set_index("rule")
    assert df.loc["mpd-ed", "reduction_pct_2dp"] == 94.22 == df.loc["mpd-ed", "paper_reduction_pct"]
    assert df.loc["std-ed", "reduction_pct_2dp"] == 99.14 == df.loc["std-ed", "paper_reduction_pct"]
    assert (df["stbp_complexity"] == 60600).all()


def test_truncate_guard():
    assert truncate_pct(0.9422) == 94.22      # not 94.21 through binary rounding
    assert truncate_pct(0.5) == 50.0


@pytest.mark.parametrize("args", [("stbp", 0, 10, 30), ("stbp", 200, 10, 30, 1.5, 0.1), ("x", 2, 2, 2),
                                  ("mpd-ed", 2, 2, 2, float("nan"), 0.1)])
def test_bad_arguments(args):
    with pytest.raises(InputError):
        complexity(*args)


def test_activity_from_counters_of_a_run():
    cfg = make_config([[5, 0, 3, -2], [0, 0, 7, 1], [4, 4, 0, 0]], [[6, 0, 2], [3, 3, 3]], 6, 5, 1, 0)
    x = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=np.uint8)
    r = Chip(cfg).run(x)
    c = Counters(r.counters.counts * 2, n_samples=2)          # two identical samples
    a = activity_from_counters(c, cfg.spec, 3).set_index("layer")
    assert a.loc["hidden", "zeta_i"] == pytest.approx(8 / (4 * 3))
    assert a.loc["hidden", "zeta_o"] == pytest.approx(6 / (3 * 3))
    assert a.loc["output", "zeta_i"] == pytest.approx(6 / (3 * 3))
    assert a.loc["output", "zeta_o"] == pytest.approx(4 / (2 * 3))
    cx = complexity_from_counters(c, cfg.spec, 3).set_index(["layer", "rule"])
    zi, zo = 6 / 9, 4 / 6
    assert cx.loc[("output", "mpd-ed"), "complexity"] == pytest.approx(zi * 3 * 2 * 3 + 2 * 3 + zo * 2 * 3)


def test_measured_backward_ops_beside_formula():
    counts = new_counts()
    counts[1, NAMES.index("input_events")] = 60
    counts[1, NAMES.index("spikes")] = 12
    counts[1, NAMES.index("bwd_inter_ops")] = 600
    counts[1, NAMES.index("bwd_intra_ops")] = 300
    counts[1, NAMES.index("bwd_spike_ops")] = 12
    counts[1, NAMES.index("wgrad_accumulates")] = 40
    c = Counters(counts, n_samples=2)
    spec = ChipSpec(n_in=8, n_hid=20, n_out=10)
    cx = complexity_from_counters(c, spec, 5, rule="mpd-ed").set_index("layer")
    assert cx.loc["output", "measured_bp"] == (600 + 300 + 12) / 2
    assert cx.loc["output", "measured_wgrad"] == 20
    assert cx.loc["output", "zeta_i"] == pytest.approx(60 / (20 * 5 * 2))
    assert math.isclose(cx.loc["output", "complexity"],
                        complexity("mpd-ed", 20, 10, 5, 60 / 200, 12 / 100))


def test_stbp_wgrad_figures_dense_vs_event_input():
    from anp_emu.energy.complexity import stbp_wgrad_figures

    f = stbp_wgrad_figures(1024, 512, 39, 0.02)
    assert f["stbp_dense_wgrad"] == 1024 * 512 * 39
    assert f["stbp_event_input_wgrad"] == pytest.approx(0.02 * 1024 * 512 * 39)
    assert stbp_wgrad_figures(10, 5, 3, 0.0)["stbp_event_input_wgrad"] == 0.0
