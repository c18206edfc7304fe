"""Energy-over-training plot: written atomically, log checked, clear error without matplotlib."""
import sys

import pandas as pd
import pytest

from anp_emu.plots import energy as plot
from anp_emu.errors import AnpError, InputError

LOG = pd.DataFrame({"rule": ["mpd-ed"] * 30 + ["stbp"] * 30, "step": list(range(30)) * 2,
                    "learning_nj": [300.0 - i for i in range(30)] + [9000.0 - 10 * i for i in range(30)]})


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    p = tmp_path / "e.png"
    fig = plot.plot_energy_over_training(LOG, p, paper={"mpd-ed": 312.0, "stbp": 9320.0})
    assert p.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.part"))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("paper" in s for s in labels) and any(s.startswith("stbp") for s in labels)
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize("log, fragment", [
    (LOG.drop(columns="learning_nj"), "log.learning_nj: required column missing"),
    (LOG.iloc[:0], "no rows"),
    (LOG.assign(learning_nj=float("nan")), "must be finite"),
    ([1, 2], "must be a pandas DataFrame"),
])
def test_bad_log(log, fragment):
    with pytest.raises(InputError, match=fragment):
        plot.plot_energy_over_training(log)


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    with pytest.raises(AnpError, match="pip install matplotlib"):
        plot.plot_energy_over_training(LOG)
