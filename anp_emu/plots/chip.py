"""One sample on the chip: the spike raster (input events, hidden and output spikes) and the
membrane traces with threshold, reset and aux boost, int chip and float twin overlaid."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .style import ROLE_COLORS, OKABE_ITO, figure, styled


def _events_tl(events):
    """(steps, lines) of a SpikeInput."""
    steps = np.repeat(np.arange(events.T), np.diff(np.asarray(events.step_ptr)))
    return steps, np.asarray(events.lines)


def _spikes_tn(s):
    s = np.asarray(s)
    if s.ndim != 2:
        raise InputError("spikes", "expected a (T, n) array", value=f"shape {s.shape}")
    t, n = np.nonzero(s)
    return t, n


def raster_counts(events, result) -> dict:
    """Spikes per layer of one sample: what the raster must show, point for point."""
    return {"input": int(events.n_events), "hidden": int(np.asarray(result.s_hid).sum()),
            "output": int(np.asarray(result.s_out).sum())}


@styled
def plot_raster(panels, *, class_names=None, title: str | None = None):
    """Spike raster of one sample: input events, hidden spikes and output spikes against the time
    step, one point per spike, with the true and predicted class.

    ``panels``: one dict, or a list of them side by side (two rules, two epochs), each with
    ``events`` (SpikeInput), ``result`` (RunResult of that sample), ``label`` (column title),
    ``true`` and ``pred`` (class indices). Returns the Figure; every point is an artist's offset
    (three PathCollections per column: input, hidden, output)."""
    if isinstance(panels, dict):
        panels = [panels]
    if not panels:
        raise InputError("panels", "nothing to draw", value=0)
    ncol = len(panels)
    fig, axes = figure(ncol, 3, width="single" if ncol == 1 else "double", height=4.2, sharex="col",
                       squeeze=False, gridspec_kw={"height_ratios": [3, 2, 1.2]})
    for c, p in enumerate(panels):
        ev, r = p["events"], p["result"]
        n_in = int(p.get("n_in", ev.lines.max() + 1 if ev.n_events else 1))
        rows = [("input", _events_tl(ev), "input line", n_in),
                ("hidden", _spikes_tn(r.s_hid), "hidden neuron", r.s_hid.shape[1]),
                ("output", _spikes_tn(r.s_out), "output neuron", r.s_out.shape[1])]
        for ax, (role, (t, n), ylabel, size) in zip(axes[:, c], rows):
            ax.scatter(t + 1, n, s=4 if role != "output" else 10, marker="|" if role == "output" else "o",
                       linewidths=1.0 if role == "output" else 0, color=ROLE_COLORS[role], rasterized=role == "input",
                       label=f"{role}: {len(t):,} spikes")
            ax.set_ylim(-0.5, size - 0.5)
            if c == 0:
                ax.set_ylabel(ylabel)
            ax.legend(loc="upper right", fontsize=6, frameon=False, handlelength=0, markerscale=0)
        if class_names is not None and r.s_out.shape[1] >= len(class_names):
            ax = axes[2, c]              # every output row: the classes', then the unused ones (never predicted)
            n_out = r.s_out.shape[1]
            ax.set_yticks(range(n_out))
            ax.set_yticklabels(list(class_names) + ["(unused)"] * (n_out - len(class_names)), fontsize=5)
            ax.axhspan(len(class_names) - 0.5, n_out - 0.5, color="0.93", zorder=0)
        T = r.s_hid.shape[0]
        axes[2, c].set_xlabel("time step")
        axes[2, c].set_xlim(0.5, T + 0.5)
        name = (lambda k: class_names[k] if class_names is not None and k is not None and k < len(class_names) else k)
        head = p.get("label", "")
        if "true" in p or "pred" in p:
            head = (head + "\n" if head else "") + f"true {name(p.get('true'))!r}, predicted {name(p.get('pred'))!r}"
        axes[0, c].set_title(head)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def plot_membrane(result, *, config, neurons=None, hidden=(), float_result=None, title: str | None = None):
    """Membrane potential (LSB) of the output neurons (``neurons``: indices, default all) and of
    the hidden neurons ``hidden`` over the time steps of one sample, with the threshold, the resets
    (a spike at t-1 sets v to 0 at t: marked ▼), the aux boost (+w_aux at every step after a
    silent one, the shaded band at the bottom) and, when ``float_result`` is given, the float
    twin's trace dashed on top of the int chip's."""
    if result.v_out is None or result.v_hid is None:
        raise InputError("result", "membranes not recorded", hint="run the chip with record=True")
    picks = [("output", i) for i in (range(result.s_out.shape[1]) if neurons is None else neurons)]
    picks += [("hidden", i) for i in hidden]
    if not picks:
        raise InputError("neurons", "no neuron to draw", value=0)
    ncol = 2 if len(picks) > 3 else 1
    nrow = -(-len(picks) // ncol)
    fig, axes = figure(ncol, nrow, width="double" if ncol == 2 else "single", height=min(9.0, 1.1 * nrow + 0.6),
                       sharex=True, squeeze=False)
    T = result.s_out.shape[0]
    t = np.arange(1, T + 1)
    for k, (layer, i) in enumerate(picks):
        ax = axes.flat[k]
        v = getattr(result, "v_out" if layer == "output" else "v_hid")
        s = getattr(result, "s_out" if layer == "output" else "s_hid")
        th = getattr(result, "th_out" if layer == "output" else "th_hid")
        n = v.shape[1]
        if not 0 <= int(i) < n:
            raise InputError(f"{layer} neuron", "out of range", limit=f"0..{n - 1}", value=i)
        col = ROLE_COLORS[layer]
        ax.plot(t, v[:, i], color=col, lw=1.0, label="int chip")
        if float_result is not None:
            fv = getattr(float_result, "v_out" if layer == "output" else "v_hid")
            ax.plot(t, fv[:, i], color=OKABE_ITO[4], lw=1.0, ls="--", label="float twin")
        theta = th[:, i] if th is not None else np.full(T, getattr(config, "theta_out" if layer == "output" else "theta_hid"))
        ax.step(t, theta, where="mid", color=ROLE_COLORS["threshold"], lw=0.8, ls=":", label="threshold")
        fired = np.nonzero(s[:, i])[0]
        ax.plot(fired + 1, v[fired, i], "o", ms=3, color=col, mfc="white", label="spike")
        resets = fired[fired + 1 < T] + 1
        ax.plot(resets + 1, v[resets, i], "v", ms=3.5, color=ROLE_COLORS["threshold"], label="after a reset (v restarts at 0)")
        w_aux = float(getattr(config, "w_aux_out" if layer == "output" else "w_aux_hid"))
        if config.spec.aux and w_aux > 0:
            boosted = np.ones(T, dtype=bool)
            boosted[1:] = s[:-1, i] == 0
            lo = min(0.0, float(np.min(v[:, i])))
            ax.bar(t[boosted], w_aux, bottom=lo, width=0.8, color=ROLE_COLORS["aux"], alpha=0.35,
                   label=f"aux boost (+{w_aux:g})")
        ax.set_title(f"{layer} neuron {i}", fontsize=7, pad=2)
        ax.set_ylabel("membrane (LSB)")
    for ax in axes.flat[len(picks):]:
        ax.set_visible(False)
    from matplotlib.ticker import MaxNLocator

    for ax in axes[-1]:
        ax.set_xlabel("time step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    h, lab = axes.flat[0].get_legend_handles_labels()
    seen = {}
    for ax in axes.flat[:len(picks)]:
        for hh, ll in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(ll, hh)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(6, len(seen)), fontsize=6, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
