"""Pictures of anp-emu: every function returns a matplotlib Figure (restyle it in a notebook;
``save`` writes PNG, SVG or PDF atomically), in an Okabe-Ito colour-blind-safe palette at the
sizes of a two-column paper.

- one sample on the chip: :func:`plot_raster`, :func:`plot_membrane`
- a run: :func:`plot_training_curves`, :func:`plot_confusion`, :func:`plot_weight_histograms`,
  :func:`plot_energy_breakdown`, :func:`plot_energy_over_training`
- sweeps, cv, ablation: :func:`plot_accuracy_energy`, :func:`plot_folds`, :func:`plot_ablation`
- :func:`write_report`: one self-contained HTML page
"""
from .chip import plot_membrane, plot_raster, raster_counts
from .data import Run, kind_of, load_run, load_table, sample_traces
from .energy import breakdown, check_log, plot_energy_breakdown, plot_energy_over_training
from .experiments import arm_stats, plot_ablation, plot_accuracy_energy, plot_folds
from .html_report import build_report, write_report
from .style import FORMATS, OKABE_ITO, RULE_COLORS, save
from .training import energy_per_epoch, plot_confusion, plot_training_curves, plot_weight_histograms

__all__ = ["plot_raster", "plot_membrane", "raster_counts", "Run", "kind_of", "load_run", "load_table",
           "sample_traces", "breakdown", "check_log", "plot_energy_breakdown", "plot_energy_over_training",
           "arm_stats", "plot_ablation", "plot_accuracy_energy", "plot_folds", "build_report", "write_report",
           "FORMATS", "OKABE_ITO", "RULE_COLORS", "save", "energy_per_epoch", "plot_confusion",
           "plot_training_curves", "plot_weight_histograms"]
