"""The one plotting stack of anp-emu: matplotlib (Agg when there is no display), an Okabe-Ito
colour-blind-safe palette, two-column-paper sizes, labelled axes with units, atomic PNG/SVG/PDF.

Every plotting function returns a matplotlib Figure, so a notebook can restyle it.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import AnpError, InputError

# Okabe & Ito (2008), colour-blind safe; black last
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
RULE_COLORS = {"mpd-ed": "#0072B2", "stbp": "#D55E00", "std-ed": "#009E73", "ebp": "#CC79A7"}
# layer / phase colours of the stacked bars and rasters
ROLE_COLORS = {"input": "#999999", "hidden": "#0072B2", "output": "#D55E00", "forward": "#56B4E9",
               "backward": "#E69F00", "update": "#009E73", "threshold": "#000000", "aux": "#CC79A7"}
AXIS_LABELS = {"step": "training step (sample)", "epoch": "epoch",
               "learning_nj": "learning energy per training sample (nJ)",
               "inference_nj": "inference energy per sample (nJ)", "total_nj": "total energy per training sample (nJ)"}
# a two-column paper: one column 3.5 in, the full width 7.16 in (IEEE)
SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.16
FORMATS = ("png", "svg", "pdf")
DPI = 150


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise AnpError("plotting needs matplotlib, which is not installed: pip install matplotlib") from None
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


pyplot = _pyplot

RC = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7,
      "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False, "savefig.bbox": "tight",
      "svg.fonttype": "none", "pdf.fonttype": 42}


def figure(ncols: int = 1, nrows: int = 1, *, width: str = "single", height: float | None = None, **kw):
    """(fig, axes) sized for a two-column paper: ``width`` "single" (3.5 in) or "double" (7.16 in)."""
    plt = _pyplot()
    w = SINGLE_COLUMN_IN if width == "single" else DOUBLE_COLUMN_IN
    h = height if height is not None else (2.4 * nrows if width == "single" else 2.3 * nrows)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(w, h), **kw)
    return fig, axes


def styled(fn):
    """Run ``fn`` under the house rc (fonts for print sizes)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        plt = _pyplot()
        with plt.rc_context(RC):
            return fn(*a, **kw)

    return wrapper


def color_for(name: str, i: int = 0) -> str:
    return RULE_COLORS.get(str(name), OKABE_ITO[i % len(OKABE_ITO)])


def check_format(path) -> str:
    fmt = Path(str(path)).suffix.lower().lstrip(".") or "png"
    if fmt not in FORMATS:
        raise InputError("output", "unknown image format", limit=f"one of {list(FORMATS)}", value=repr(fmt))
    return fmt


def save(fig, path, *, close: bool = False) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format of its suffix (png, svg, pdf)."""
    from ..files.fileio import atomic_path

    fmt = check_format(path)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=DPI, bbox_inches="tight",
                    metadata={"Software": None} if fmt == "png" else None)
    if close:
        _pyplot().close(fig)
    return path


def to_data_uri(fig, fmt: str = "png") -> str:
    """``fig`` as a data: URI (for a self-contained HTML page)."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight")
    mime = {"png": "image/png", "svg": "image/svg+xml"}[fmt]
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")
