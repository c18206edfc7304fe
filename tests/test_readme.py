"""The README's demo table is what `anp demo --json` reports for the same seed (issue 28)."""
import json
import re
from pathlib import Path

from click.testing import CliRunner

from anp_emu.cli.main import main
from anp_emu.energy.report import format_headline, headline_table

README = Path(__file__).resolve().parents[1] / "README.md"


def demo_block(summary: dict) -> str:
    """The README's demo block as `anp demo --json` output gives it."""
    table = format_headline(headline_table(summary["energy_per_training_sample_averaged_over_training"]),
                            markdown=True)
    b = summary["baselines"]
    return (f"{table}\n\nTest accuracy of MPD-ED on the int chip: {100 * summary['test_accuracy']:.1f} % "
            f"(nearest centroid on MAV {100 * b['centroid']:.1f} %, logistic regression {100 * b['logreg']:.1f} %, "
            f"same split).")


def test_readme_demo_table_matches_anp_demo(tmp_path):
    m = re.search(r"<!-- demo-table: anp demo \(seed (\d+)\) -->\n(.*?)\n<!-- /demo-table -->", README.read_text(), re.S)
    assert m, "README.md has no demo-table block"
    r = CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "demo"), "--seed", m.group(1), "--json", "--no-progress"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary == json.loads((tmp_path / "demo" / "demo_summary.json").read_text())
    assert m.group(2).strip() == demo_block(summary)
    # the three figures add up in the demo's own output
    for rule in summary["energy_per_training_sample_averaged_over_training"].values():
        for e in rule.values():
            assert abs(e["total_nj"] - e["inference_nj"] - e["learning_nj"]) < 1e-9 * e["total_nj"]
