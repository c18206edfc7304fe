"""Experiment grids: the run executor (``runner``) under sweeps, ablations and cross-validation."""
from .runner import RunSpec, RunStatus, run_all

__all__ = ["RunSpec", "RunStatus", "run_all"]
