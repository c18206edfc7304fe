"""Regenerate the energy figures of README.md and docs/energy.md from today's code.

    python scripts/paper_tables.py [-o OUT] [--seeds 0,1,2] [--epochs 10] [--subjects 10] [--figures docs/figures]

On the demo's default synthetic set (``anp data synth --subjects 10``, the `real` profile; chip
encoder, 39 steps x 1024 lines), it trains 1024-512-10 on the int chip with MPD-ED and with STBP
(the paper's dense emulation) for every seed, with the options of ``anp train`` otherwise at their
defaults, then reads every run back with ``anp energy summary``, and one STBP run per seed with
``--stbp-emulation event-input`` (the what-if; the same weights, other counts). It prints the
markdown tables (mean ± sd over the seeds, both operating points) and writes them with the raw
figures to OUT/paper_tables.md and OUT/paper_tables.json. Runs already in OUT are reused (each
`anp train` run folder is resumed or skipped), so an interrupted script continues.

Takes about 4 minutes on 2 cores (AMD EPYC, nproc 2) for 3 seeds x 10 epochs with a warm kernel cache.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

POINTS = ("0.56V", "0.9V")


def anp(*args: str, refusal_ok: bool = False) -> str:
    exe = shutil.which("anp") or str(Path(sys.executable).parent / "anp")
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode == 1 and refusal_ok:
        return (r.stderr or r.stdout).strip()       # one `error:` line, e.g. a refused calibration
    if r.returncode != 0:
        sys.exit(f"anp {' '.join(args)} failed:\n{r.stderr or r.stdout}")
    return r.stdout


def train(events: Path, run: Path, rule: str, seed: int, epochs: int, emulation: str = "dense") -> None:
    if (run / "summary.json").exists():
        return
    args = [str(events), "-o", str(run), "--rule", rule, "--seed", str(seed), "--epochs", str(epochs),
            "--no-progress", "--json", "--stbp-emulation", emulation]
    if (run / "checkpoint.h5").exists():
        args.append("--resume")
    anp("train", *args)


def breakdown(runs: dict, seed: int) -> list[str]:
    """Where the learning energy goes (0.56 V): per learning counter, count and nJ per sample,
    and the static share, of each rule's run of ``seed`` (counts averaged over training)."""
    from anp_emu.cli.commands_energy import run_counters
    from anp_emu.chip.counters import Counters
    from anp_emu.energy.model import default_table
    from anp_emu.energy.report import run_report

    model = default_table().model("0.56V")
    reps = {}
    for rule, run in runs.items():
        _, _, spec, T, epochs = run_counters(run)
        total = Counters(n_samples=0)
        for c in epochs.values():
            total.update(c)
        reps[rule] = run_report(total, spec, T, model, rule)
    rules = list(reps)
    out = ["", f"Where the learning energy goes (seed {seed}, 0.56 V, per training sample averaged over training; "
               "count x cost, the static share from the learning phases' cycles):", "",
           "| counter | " + " | ".join(f"{r}: count | {r}: nJ" for r in rules) + " |",
           "|---" * (1 + 2 * len(rules)) + "|"]
    ops = {r: rep.ops[rep.ops.phase.isin(["backward", "update"])].groupby("counter", sort=False)[["count", "energy_nj"]]
           .sum() for r, rep in reps.items()}
    for name in ops[rules[0]].index:
        if all(ops[r].loc[name, "count"] == 0 for r in rules):
            continue
        out.append(f"| {name} | " + " | ".join(f"{ops[r].loc[name, 'count']:,.0f} | {ops[r].loc[name, 'energy_nj']:,.1f}"
                                              for r in rules) + " |")
    static = {r: rep.phases[rep.phases.phase.isin(["backward", "update"])].static_nj.sum() for r, rep in reps.items()}
    out.append("| static (power x learning latency) | " + " | ".join(f" | {static[r]:,.1f}" for r in rules) + " |")
    out.append("| **learning energy** | " + " | ".join(f" | **{reps[r].learning_nj:,.1f}**" for r in rules) + " |")
    return out


def pm(values, fmt="{:,.0f}") -> str:
    v = np.asarray(values, dtype=float)
    return fmt.format(v.mean()) + (" ± " + fmt.format(v.std(ddof=1)) if len(v) > 1 else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="paper-tables")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--subjects", type=int, default=10)
    ap.add_argument("--figures", default=None, help="Also copy learning_energy_per_epoch.png into this folder.")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    raw, events = out / "raw", out / "events.h5"
    if not raw.exists():
        anp("data", "synth", str(raw), "--subjects", str(a.subjects), "--seed", "0")
    if not events.exists():
        anp("data", "preprocess", str(raw), "-o", str(events), "--encoder", "chip", "--no-progress")
    runs = {}
    for seed in seeds:
        for rule, emulation in (("mpd-ed", "dense"), ("stbp", "dense"), ("stbp", "event-input")):
            name = f"{rule}-{emulation}-seed{seed}" if rule == "stbp" else f"{rule}-seed{seed}"
            train(events, out / "runs" / name, rule, seed, a.epochs, emulation)
            runs[(rule, emulation, seed)] = out / "runs" / name
    doc = json.loads(anp("energy", "summary", *map(str, runs.values()), "--json"))
    cal_table = json.loads(anp("energy-table", "--json"))["relative_costs"]
    summary_dir = out / "summary"
    if not summary_dir.exists():       # the learning energy per epoch of every run, as a picture
        anp("energy", "summary", *[str(runs[k]) for k in runs if k[1] == "dense"], "-o", str(summary_dir), "--plot")
    if a.figures:
        Path(a.figures).mkdir(parents=True, exist_ok=True)
        shutil.copy(summary_dir / "learning_energy_per_epoch.png", Path(a.figures) / "learning_energy_per_epoch.png")
    table = pd.DataFrame(doc["runs"])
    table["arm"] = [f"{r}" if r == "mpd-ed" else f"stbp ({e})" for r, e in zip(table.rule, table.stbp_emulation)]
    arms = {"mpd-ed": table[table.arm == "mpd-ed"], "stbp": table[table.arm == "stbp (dense)"],
            "stbp-event-input": table[table.arm == "stbp (event-input)"]}
    lines = [f"Measured with `python scripts/paper_tables.py` ({len(seeds)} seeds, {a.epochs} epochs, "
             f"{a.subjects} synthetic subjects, int chip, defaults of `anp train`); mean ± sd over the seeds.", ""]
    lines += ["| per training sample, averaged over training | " + " | ".join(POINTS) + " | paper (0.56 V) |",
              "|---" * (len(POINTS) + 2) + "|"]

    def row(label, cells, paper=""):
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {paper} |")

    m, s, w = arms["mpd-ed"], arms["stbp"], arms["stbp-event-input"]
    row("learning energy, MPD-ED (nJ)", [pm(m[f"learning_nj@{p}"]) for p in POINTS], "312")
    row("learning energy, STBP (nJ)", [pm(s[f"learning_nj@{p}"]) for p in POINTS], "9,320")
    ratio = {p: s[f"learning_nj@{p}"].to_numpy() / m[f"learning_nj@{p}"].to_numpy() for p in POINTS}
    row("STBP : MPD-ED", [pm(ratio[p], "{:.1f}") + "x" for p in POINTS], "29.9x")
    row("inference energy, MPD-ED (nJ)", [pm(m[f"inference_nj@{p}"]) for p in POINTS])
    row("learning as % of inference, MPD-ED", [pm(m[f"learning_pct_of_inference@{p}"], "{:.1f}") + " %"
                                               for p in POINTS], "< 15 % (JSSC 2024)")
    row("learning energy, MPD-ED, first / last epoch (nJ)",
        [pm(m[f"first_epoch_learning_nj@{p}"]) + " / " + pm(m[f"last_epoch_learning_nj@{p}"]) for p in POINTS])
    row("learning energy, STBP, first / last epoch (nJ)",
        [pm(s[f"first_epoch_learning_nj@{p}"]) + " / " + pm(s[f"last_epoch_learning_nj@{p}"]) for p in POINTS])
    row("what-if: STBP skipping silent input lines (nJ)", [pm(w[f"learning_nj@{p}"]) for p in POINTS])
    row("test accuracy, MPD-ED / STBP", [pm(m.test_accuracy * 100, "{:.1f}") + " % / "
                                         + pm(s.test_accuracy * 100, "{:.1f}") + " %"] * len(POINTS))
    lines += breakdown({r: runs[(r, "dense", seeds[0])] for r in ("mpd-ed", "stbp")}, seeds[0])
    # which costs would have to change for the paper's figures, on the measured counts averaged over training
    fit_runs = [str(runs[(r, "dense", s)]) for r in ("mpd-ed", "stbp") for s in seeds]
    lines += ["", "`anp energy calibrate --from-runs` (MPD-ED and STBP runs above, their counts averaged over "
                  "training) against the paper's 312 / 9,320 nJ:", "",
              "| costs fitted | result |", "|---|---|"]
    calibrations = {}
    for fit in ("bwd_inter_ops,wgrad_accumulates", "bwd_intra_ops,wgrad_accumulates", "weight_reads,weight_writes"):
        args = ["energy", "calibrate", "--fit", fit, "--json"] + [x for r in fit_runs for x in ("--from-runs", r)]
        outcome = anp(*args, refusal_ok=True)
        if outcome.startswith("error:"):
            calibrations[fit] = outcome
            lines.append(f"| {fit} | refused: {outcome[len('error: calibration: '):]} |")
        else:
            cal = json.loads(outcome)
            calibrations[fit] = cal
            lines.append(f"| {fit} | " + ", ".join(f"{k} = {v:.3g} SOP" for k, v in cal["fitted"].items())
                         + f" (shipped: " + ", ".join(f"{cal_table[k]:g}" for k in cal["fitted"]) + ") |")
    elapsed = time.perf_counter() - t0
    lines += ["", f"(the script took {elapsed / 60:.1f} min)"]
    text = "\n".join(lines) + "\n"
    (out / "paper_tables.md").write_text(text)
    (out / "paper_tables.json").write_text(json.dumps({"runs": doc["runs"], "calibrations": calibrations,
                                                       "seeds": seeds, "epochs": a.epochs,
                                                       "subjects": a.subjects, "seconds": elapsed}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
