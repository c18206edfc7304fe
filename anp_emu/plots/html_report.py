"""``anp report``: one self-contained static HTML page of a run (or several runs side by side),
a sweep, a cross-validation or an ablation: figures embedded as data: URIs (no network, no
server, opens from the file system), the options, a data summary and the tables."""
from __future__ import annotations

import html
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import AnpError, InputError
from .style import _pyplot, to_data_uri

# inline, no network: after load, writes how many images decoded into <div id=img-status> (what a
# headless browser's --dump-dom shows)
STATUS_JS = ("<script>window.addEventListener('load',function(){var m=document.images,ok=0;"
             "for(var i=0;i<m.length;i++){if(m[i].complete&&m[i].naturalWidth>0)ok++;}"
             "var d=document.getElementById('img-status');d.setAttribute('data-total',m.length);"
             "d.setAttribute('data-loaded',ok);d.textContent=ok+' of '+m.length+' figures shown';});</script>")
CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}figure{margin:1em 0}img{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#555}.kv td{text-align:left}.note{color:#a33;font-size:.85em}"""


def _esc(x) -> str:
    return html.escape(str(x))


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return ""
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def table_html(df: pd.DataFrame, max_rows: int = 200) -> str:
    df = df.head(max_rows)
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_esc(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def kv_html(d: dict) -> str:
    rows = "".join(f"<tr><th class=l>{_esc(k)}</th><td>{_esc(json.dumps(v, default=str) if isinstance(v, (dict, list)) else _fmt(v))}</td></tr>"
                   for k, v in d.items())
    return f"<table class=kv>{rows}</table>"


class Page:
    def __init__(self, title: str):
        self.title, self.parts, self.n_images, self.notes = title, [], 0, []

    def h(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{_esc(text)}</h{level}>")

    def p(self, text: str, cls: str | None = None) -> None:
        self.parts.append(f"<p{' class=' + cls if cls else ''}>{_esc(text)}</p>")

    def raw(self, s: str) -> None:
        self.parts.append(s)

    def figure(self, make, caption: str, cmd: str | None = None) -> None:
        """Draw ``make()`` into an embedded PNG; a figure that cannot be drawn is a note, not a failure."""
        plt = _pyplot()
        try:
            fig = make()
        except AnpError as e:
            self.p(f"{caption}: not drawn ({e})", "note")
            self.notes.append(f"{caption}: {e}")
            return
        uri = to_data_uri(fig)
        plt.close(fig)
        self.n_images += 1
        cap = _esc(caption) + (f" <code>{_esc(cmd)}</code>" if cmd else "")
        self.parts.append(f"<figure><img alt=\"{_esc(caption)}\" src=\"{uri}\"><figcaption>{cap}</figcaption></figure>")

    def html(self) -> str:
        body = "\n".join(self.parts)
        return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_esc(self.title)}</title>"
                f"<style>{CSS}</style></head><body><h1>{_esc(self.title)}</h1>\n{body}\n"
                f"<p style='font-size:.8em;color:#777'>anp-emu report, written {time.strftime('%Y-%m-%d %H:%M')}; "
                f"every image is embedded in this file. <span id=img-status></span></p>{STATUS_JS}</body></html>\n")


def data_summary(train, test) -> dict:
    both = {"train": train, "test": test}
    out = {}
    for side, ds in both.items():
        out[side] = {"samples": len(ds), "subjects": sorted(int(s) for s in np.unique(ds.subject)),
                     "sessions": sorted(int(s) for s in np.unique(ds.session)),
                     "class counts": {c: int(np.sum(ds.labels == k)) for k, c in enumerate(ds.class_names)},
                     "input density (% of line-steps with an event)":
                         round(100 * float(ds.events_per_sample.mean()) / (ds.T * ds.n_in), 3),
                     "events per sample": round(float(ds.events_per_sample.mean()), 1)}
    return {"classes": list(train.class_names), "T (time steps)": int(train.T), "input lines": int(train.n_in),
            **{f"{side}: {k}": v for side, d in out.items() for k, v in d.items()}}


def pick_sample(run, index: int | None = None) -> tuple[int, object]:
    """(index in the test split, SpikeInput) of the sample to draw: ``index`` or the first test sample."""
    _, test = run.datasets()
    i = 0 if index is None else int(index)
    if not 0 <= i < len(test):
        raise InputError("--sample", "out of range of the test split", limit=f"0..{len(test) - 1}", value=index)
    return i, test.sample(i)


def raster_panel(run, i: int, label: str | None = None) -> dict:
    from .data import sample_traces

    _, test = run.datasets()
    ev = test.sample(i)
    cfg = run.config("trained")
    if cfg is None:
        raise InputError("run", "no trained config.h5 in the run folder", value=str(run.path))
    r = sample_traces(cfg, ev)
    return {"events": ev, "result": r, "label": label or f"{run.rule} ({run.name}), test sample {i}",
            "true": int(test.labels[i]), "pred": r.class_prediction(len(test.class_names)), "n_in": cfg.spec.n_in}


def add_run_sections(page: Page, runs, sample: int | None = None) -> None:
    from ..energy.model import default_table
    from . import chip, energy, training

    main = runs[0]
    page.h("Runs")
    rows = []
    for r in runs:
        f = r.log.iloc[-1]
        rows.append({"run": r.name, "rule": r.rule, "network": r.summary.get("network"), "epochs": len(r.log),
                     "test accuracy (%)": round(100 * float(f["test_accuracy"]), 2),
                     "train accuracy (%)": round(100 * float(f["train_accuracy"]), 2),
                     **{f"{k} @{p}": v[k] for p, v in r.summary.get("energy_per_training_sample_averaged_over_training", {}).items()
                        for k in ("learning_nj", "inference_nj", "total_nj")}})
    page.raw(table_html(pd.DataFrame(rows)))
    page.p("Energy per training sample averaged over every sample of every epoch (nJ); the paper's "
           "figures (ANP-I silicon, 0.56 V): 312 nJ MPD-ED, 9,320 nJ STBP learning energy.")
    page.h("Data")
    try:
        train, test = main.datasets()
        page.raw(kv_html(data_summary(train, test)))
    except AnpError as e:
        page.p(f"data summary: not available ({e})", "note")
    page.h("Training curves")
    page.figure(lambda: training.plot_training_curves(list(runs)),
                "Accuracy, learning and inference energy per training sample at both operating points, and "
                "spike activity per epoch; dashed lines: the paper's 312 / 9,320 nJ.",
                f"anp plot curves {' '.join(r.name for r in runs)}")
    page.h("Test set")
    for r in runs:
        page.figure(lambda r=r: training.plot_confusion(r.evaluation().confusion,
                                                        title=f"{r.rule} ({r.name}): test accuracy "
                                                              f"{100 * r.evaluation().accuracy:.1f} %"),
                    f"Confusion matrix of {r.name} on its test split (counts and row %), per-class accuracy",
                    f"anp plot confusion {r.name}")
    page.h("One sample on the chip")
    try:
        i = pick_sample(main, sample)[0]
        names = main.datasets()[1].class_names
        page.figure(lambda: chip.plot_raster([raster_panel(r, i, f"{r.rule} ({r.name})") for r in runs],
                                             class_names=names),
                    f"Spike raster of test sample {i}: input events, hidden and output spikes per time step",
                    f"anp plot raster {' '.join(r.name for r in runs)} --sample {i}")
        def membrane():
            from .data import sample_traces
            cfg = main.config("trained")
            ev = main.datasets()[1].sample(i)
            ri, rf = sample_traces(cfg, ev, "int"), sample_traces(cfg, ev, "float")
            hid = [int(j) for j in np.argsort(-ri.s_hid.sum(axis=0))[:2]]
            return chip.plot_membrane(ri, config=cfg, neurons=range(min(len(names), cfg.spec.n_out)), hidden=hid,
                                      float_result=rf)
        page.figure(membrane, f"Membrane potential of the output neurons and the two busiest hidden neurons, "
                              f"test sample {i}: threshold, resets, aux boost; int chip and float twin",
                    f"anp plot membrane {main.name} --sample {i}")
    except AnpError as e:
        page.p(f"sample pictures: not available ({e})", "note")
    page.h("Energy by layer and phase")
    table = default_table()

    def bars():
        return energy.plot_energy_breakdown({r.rule if len({x.rule for x in runs}) == len(runs) else r.name:
                                             energy.breakdown(r.total_counters(), r.spec(), r.T, table.model("0.56V"))
                                             for r in runs})
    page.figure(bars, "Energy per training sample averaged over training, per layer, stacked by phase (0.56 V)",
                f"anp plot energy {' '.join(r.name for r in runs)}")
    page.h("Weights")
    for r in runs:
        page.figure(lambda r=r: training.plot_weight_histograms(_need(r.config("trained"), r, "config.h5"),
                                                                r.config("initial")),
                    f"Weights of {r.name} before and after training on the chip's grid; dashed: the grid's ends "
                    f"(saturated weights)", f"anp plot weights {r.name}")
    page.h("Options")
    for r in runs:
        page.h(r.name, 3)
        page.raw(kv_html({k: r.summary.get(k) for k in ("dataset", "rule", "aft", "precision", "preset", "split", "fold",
                                                         "network", "T", "operating_point", "train_samples",
                                                         "test_samples", "epochs", "settings", "options")
                          if k in r.summary}))
    page.h("Per-epoch log")
    for r in runs:
        page.h(r.name, 3)
        cols = [c for c in r.log.columns if c not in ("samples_per_s",)]
        page.raw(table_html(r.log[cols]))


def _need(x, run, name):
    if x is None:
        raise InputError(name, "missing in the run folder", value=str(run.path))
    return x


def add_table_sections(page: Page, folder: Path, kind: str) -> None:
    from . import experiments
    from .data import _read_csv, _read_json, load_table

    kind, t = load_table(folder, kind)
    page.h("Accuracy and learning energy")
    arms = ["rule"]
    if kind == "sweep":
        spec = folder / "sweep.json"
        grid = [c for c in ("rule", "lr", "loss", "aft", "precision", "epochs", "surrogate") if c in t.columns
                and t[c].nunique() > 1]
        arms = grid or ["rule"]
    if kind == "ablation":
        arms = [c for c in ("rule", "aft", "precision") if c in t.columns]
    runs = t[~t["rule"].astype(str).str.startswith("baseline:")] if "rule" in t else t
    page.figure(lambda: experiments.plot_accuracy_energy(runs, arms),
                "Test accuracy against learning energy per training sample, per arm: mean ± sd (n - 1) over "
                "seeds and folds; faint points: the runs", f"anp plot accuracy-energy {folder.name}")
    if kind == "cv":
        split = "fold"
        if (folder / "cv.json").exists():
            split = _read_json(folder / "cv.json").get("split", "fold")
        page.figure(lambda: experiments.plot_folds(t, split=split),
                    "Test accuracy per fold (mean ± sd over seeds), baselines on the same folds as markers",
                    f"anp plot folds {folder.name}")
    if kind == "ablation":
        ab = _read_csv(folder / "ablation.csv")
        page.figure(lambda: experiments.plot_ablation(ab), "The ablation's arms: accuracy and learning energy, "
                    "mean ± sd over seeds", f"anp plot ablation {folder.name}")
    for name in ("summary.csv", "ablation.csv"):
        if (folder / name).exists():
            page.h(name)
            page.raw(table_html(_read_csv(folder / name)))
    if (folder / "cv.json").exists():
        page.h("Options")
        cv = _read_json(folder / "cv.json")
        page.raw(kv_html({k: cv.get(k) for k in ("source", "split", "folds", "rules", "seeds", "fixed") if k in cv}))
    name = "folds.csv" if kind == "cv" else "results.csv"
    page.h(name)
    keep = [c for c in t.columns if c not in ("error", "dataset", "chip", "wall_s")]
    page.raw(table_html(t[keep]))


def build_report(sources, *, sample: int | None = None, title: str | None = None) -> Page:
    """The report page of one folder (run, sweep, cv, ablation) or of several run folders."""
    from .data import kind_of, load_run

    sources = [Path(s) for s in (sources if isinstance(sources, (list, tuple)) else [sources])]
    if not sources:
        raise InputError("SOURCE", "at least one folder", value=0)
    kinds = [kind_of(s) for s in sources]
    if len(sources) > 1 and set(kinds) != {"run"}:
        raise InputError("SOURCE", "several folders must all be anp train runs", value=", ".join(kinds))
    if kinds[0] == "run":
        runs = [load_run(s) for s in sources]
        main = runs[0]
        acc = 100 * float(main.log["test_accuracy"].iloc[-1])
        page = Page(title or f"anp-emu report: {', '.join(r.name for r in runs)}")
        page.p(f"Run {main.name}: {main.rule} on {main.summary.get('network')}, test accuracy {acc:.1f} % "
               f"after {len(main.log)} epochs.")
        add_run_sections(page, runs, sample)
    else:
        page = Page(title or f"anp-emu report: {kinds[0]} {sources[0].name}")
        add_table_sections(page, sources[0], kinds[0])
    return page


def write_report(sources, output, *, force: bool = False, sample: int | None = None, title: str | None = None) -> dict:
    """Build the page and write it atomically to ``output`` (an existing file is refused unless
    ``force``). Returns {path, bytes, images, seconds, notes}."""
    from ..errors import FileFormatError
    from ..files.fileio import atomic_write_text, check_writable

    out = Path(output)
    if out.exists() and not force:
        raise FileFormatError(out, "exists; not replaced (--force to replace it)")
    if out.exists() and out.is_dir():
        raise FileFormatError(out, "is a folder; expected an .html file name")
    if not out.parent.is_dir():
        raise FileFormatError(out.parent, "output folder not found")
    check_writable(out.parent)
    t0 = time.perf_counter()
    page = build_report(sources, sample=sample, title=title)
    text = page.html()
    atomic_write_text(out, text)
    return {"path": str(out), "bytes": len(text.encode()), "images": page.n_images,
            "seconds": time.perf_counter() - t0, "notes": page.notes}
