"""Energy and cycle model: counters x per-operation energies at an operating point.

- :mod:`.model`       the energy table (operating points, per-op costs, options; JSON/TOML files)
- :mod:`.report`      per-sample / per-phase / per-layer energy, cycles, latency, power, EDP; rule vs rule
- :mod:`.complexity`  Table II/III of Wei et al. 2024 from the formulas and from measured activity
- :mod:`.measure`     train both rules on the same samples from the same weights and report
- (pictures, energy over training included: :mod:`anp_emu.plots`)

Published numbers are the two operating points' pJ/SOP and power; every other cost is a named
assumption (see docs/energy.md).
"""
from .complexity import activity_from_counters, complexity, complexity_from_counters, paper_table3, reduction
from .model import (EnergyModel, EnergyTable, OperatingPoint, default_table, load_table, resolve_table,
                    save_table, table_from_dict)
from .report import RunReport, compare, ratio, run_report, energy_per_sample

__all__ = ["EnergyModel", "EnergyTable", "OperatingPoint", "default_table", "load_table", "resolve_table",
           "save_table", "table_from_dict", "RunReport", "run_report", "energy_per_sample", "compare", "ratio",
           "complexity", "reduction", "paper_table3", "activity_from_counters", "complexity_from_counters"]
