"""Moved to :mod:`anp_emu.plots` (the one room for pictures); these names stay importable here."""
from __future__ import annotations

from ..plots.energy import check_log, plot_energy_over_training
from ..plots.style import AXIS_LABELS, RULE_COLORS, _has_display, _pyplot

__all__ = ["plot_energy_over_training", "check_log", "RULE_COLORS", "AXIS_LABELS", "_pyplot", "_has_display"]
