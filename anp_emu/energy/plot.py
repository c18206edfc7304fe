"""Moved to :mod:`anp_emu.plots` (the one room for pictures): these names still import from here,
with a DeprecationWarning naming the new place."""
from __future__ import annotations

import warnings

from ..plots.energy import check_log, plot_energy_over_training
from ..plots.style import AXIS_LABELS, RULE_COLORS, _has_display, _pyplot

warnings.warn("anp_emu.energy.plot moved to anp_emu.plots (plot_energy_over_training: anp_emu.plots.energy)",
              DeprecationWarning, stacklevel=2)

__all__ = ["plot_energy_over_training", "check_log", "RULE_COLORS", "AXIS_LABELS", "_pyplot", "_has_display"]
