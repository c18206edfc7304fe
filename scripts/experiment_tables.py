"""Regenerate the accuracy tables of README.md and docs/experiments.md from today's code.

    python scripts/experiment_tables.py [-o OUT] [--seeds 0,1,2] [--what sessions,shaped,rules,ablation]

- sessions: leave-one-session-out on the demo's default synthetic set (10 subjects x 3 sessions,
  the `real` profile), `anp cv --split session --rules mpd-ed,stbp` with its defaults, the
  reference baselines on the same folds.
- shaped: six sets shaped like small real recordings (1 subject, 4 sessions, 1 trial per gesture
  and session: 15 training trials per fold; `anp data synth --subjects 1 --sessions 4 --reps 1
  --seed G`, G = 0..5), `anp cv --split session` on each, the mean over the sets.
- rules: all four rules on the default set, stratified 2:1 split, 10 epochs, as one `anp sweep`
  (rule x seed), mean ± sd over the seeds, with their learning energy averaged over training.
- ablation: `anp ablation` (Fig. 5: MPD-ED with the chip's aux AFT on the int chip and the float
  twin, the ideal AFT-LIF, no AFT; STBP, STD-ED, ebp) over the seeds, on the default set.

Every step is an `anp` command whose output folder is reused on a rerun (cv and sweep resume), so
an interrupted script continues. Prints the markdown tables and writes them to
OUT/experiment_tables.md. About 25 minutes on 2 cores (AMD EPYC, nproc 2) with a warm kernel cache.
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


def anp(*args: str) -> str:
    exe = shutil.which("anp") or str(Path(sys.executable).parent / "anp")
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"anp {' '.join(args)} failed:\n{r.stderr or r.stdout}")
    return r.stdout


def pct(x, sd=None) -> str:
    return f"{100 * x:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None and np.isfinite(sd) else "") + " %"


def cv_table(folds: pd.DataFrame) -> dict:
    """{arm: (mean, sd, n)} of test accuracy over folds and seeds (baselines: over folds)."""
    out = {}
    for rule, g in folds.groupby("rule", sort=False):
        a = g["test_accuracy"].astype(float)
        out[rule] = (a.mean(), a.std(ddof=1) if len(a) > 1 else np.nan, len(a))
    return out


def sessions(out: Path, seeds: str, lines: list[str]) -> None:
    raw, ev = out / "raw", out / "events.h5"
    if not raw.exists():
        anp("data", "synth", str(raw), "--subjects", "10", "--seed", "0")
    if not ev.exists():
        anp("data", "preprocess", str(raw), "-o", str(ev), "--no-progress")
    anp("cv", str(ev), "--split", "session", "--rules", "mpd-ed,stbp", "--seeds", seeds, "-o", str(out / "cv-session"),
        "--no-progress")
    folds = pd.read_csv(out / "cv-session" / "folds.csv")
    t = cv_table(folds)
    runs = folds[folds.rule.isin(["mpd-ed", "stbp"])]
    energy = runs.groupby("rule")["learning_nj"].mean()
    lines += ["### Leave-one-session-out, default synthetic set (10 subjects x 3 sessions)", "",
              f"`anp cv events.h5 --split session --rules mpd-ed,stbp --seeds {seeds}` (3 folds x "
              f"{len(seeds.split(','))} seeds; baselines on the same folds):", "",
              "| MPD-ED (int chip) | STBP (int chip) | nearest centroid on MAV | logistic regression | LDA | "
              "learning energy MPD-ED / STBP (nJ, 0.56 V) |", "|---|---|---|---|---|---|",
              f"| {pct(*t['mpd-ed'][:2])} | {pct(*t['stbp'][:2])} | {pct(*t['baseline:centroid'][:2])} | "
              f"{pct(*t['baseline:logreg'][:2])} | {pct(*t['baseline:lda'][:2])} | "
              f"{energy['mpd-ed']:,.0f} / {energy['stbp']:,.0f} |", ""]


def shaped(out: Path, seeds: str, lines: list[str]) -> None:
    rows = []
    for g in range(6):
        raw = out / f"shaped{g}"
        if not raw.exists():
            anp("data", "synth", str(raw), "--subjects", "1", "--sessions", "4", "--reps", "1", "--seed", str(g))
        anp("cv", str(raw), "--split", "session", "--rules", "mpd-ed,stbp", "--seeds", seeds,
            "-o", str(out / f"cv-shaped{g}"), "--no-progress")
        t = cv_table(pd.read_csv(out / f"cv-shaped{g}" / "folds.csv"))
        rows.append({"set": g, **{k: v[0] for k, v in t.items()}})
    df = pd.DataFrame(rows)
    cols = ["mpd-ed", "stbp", "baseline:centroid", "baseline:logreg"]
    lines += ["### Leave-one-session-out, six sets shaped like small real recordings", "",
              "`anp data synth shapedG --subjects 1 --sessions 4 --reps 1 --seed G` (G = 0..5; 15 training "
              f"trials per fold), `anp cv shapedG --split session --rules mpd-ed,stbp --seeds {seeds}` "
              "(its default: 50 epochs on such small folds); test accuracy, mean over 4 folds and the seeds:", "",
              "| set | MPD-ED (int chip) | STBP (int chip) | nearest centroid | logistic regression |",
              "|---|---|---|---|---|"]
    for r in df.to_dict(orient="records"):
        lines.append(f"| {r['set']} | " + " | ".join(pct(r[c]) for c in cols) + " |")
    lines.append("| mean | " + " | ".join("**" + pct(df[c].mean()) + "**" if c == "mpd-ed" else pct(df[c].mean())
                                           for c in cols) + " |")
    lines.append("")


def rules(out: Path, seeds: str, lines: list[str]) -> None:
    ev = out / "events.h5"
    if not ev.exists():
        sessions(out, seeds, [])
    spec = out / "rules.toml"
    seed_list = ", ".join(s.strip() for s in seeds.split(","))
    spec.write_text(f'dataset = "events.h5"\n[grid]\nrule = ["mpd-ed", "stbp", "std-ed", "ebp"]\n'
                    f"seed = [{seed_list}]\n[fixed]\nepochs = 10\n")
    anp("sweep", str(spec), "-o", str(out / "sweep-rules"), "--no-progress")
    s = pd.read_csv(out / "sweep-rules" / "summary.csv")
    lines += ["### All four rules, stratified 2:1 split, default synthetic set", "",
              "`anp sweep rules.toml` (rule x seed, 10 epochs, int chip, every other option the default of "
              "`anp train`); mean ± sd over the seeds, learning energy averaged over training at 0.56 V:", "",
              "| rule | test accuracy | train accuracy | learning nJ | inference nJ | hidden activity |",
              "|---|---|---|---|---|---|"]
    for r in s.to_dict(orient="records"):
        lines.append(f"| {r['rule']} | {pct(r['test_accuracy_mean'], r['test_accuracy_sd'])} | "
                     f"{pct(r['train_accuracy_mean'])} | {r['learning_nj_mean']:,.0f} ± {r['learning_nj_sd']:,.0f} | "
                     f"{r['inference_nj_mean']:,.0f} | {100 * r['hidden_activity_mean']:.2f} % |")
    lines.append("")


def ablation(out: Path, seeds: str, lines: list[str]) -> None:
    ev = out / "events.h5"
    if not ev.exists():
        sessions(out, seeds, [])
    seed_list = [int(x) for x in seeds.split(",")]
    anp("ablation", str(ev), "-o", str(out / "ablation"), "--seed", str(seed_list[0]), "--seeds", str(len(seed_list)),
        "--no-progress")
    t = pd.read_csv(out / "ablation" / "ablation.csv")
    lines += ["### The ablation (Wei et al. Fig. 5), default synthetic set", "",
              f"`anp ablation events.h5 --seeds {len(seed_list)}` (5 epochs, TET, stratified 2:1 split; every arm from "
              "the same initial weights per seed); mean ± sd over the seeds, learning energy averaged over training "
              "at 0.56 V:", "",
              "| rule | AFT | precision | test accuracy | learning nJ | hidden activity |", "|---|---|---|---|---|---|"]
    for r in t.to_dict(orient="records"):
        lines.append(f"| {r['rule']} | {r['aft']} | {r['precision']} | {pct(r['test_accuracy'], r['test_accuracy_sd'])} | "
                     f"{r['learning_nj']:,.0f} ± {r['learning_nj_sd']:,.0f} | {100 * r['hidden_activity']:.2f} % |")
    lines.append("")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="experiment-tables")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--what", default="sessions,shaped,rules,ablation")
    a = ap.parse_args()
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lines: list[str] = []
    for part in a.what.split(","):
        {"sessions": sessions, "shaped": shaped, "rules": rules, "ablation": ablation}[part.strip()](out, a.seeds, lines)
    lines.append(f"(`python scripts/experiment_tables.py --what {a.what}` took {(time.perf_counter() - t0) / 60:.1f} min)")
    text = "\n".join(lines) + "\n"
    (out / "experiment_tables.md").write_text(text)
    (out / "experiment_tables.json").write_text(json.dumps({"what": a.what, "seeds": a.seeds}))
    print(text)


if __name__ == "__main__":
    main()
