"""Experiments on the emulated chip: training and evaluation, and grids of trainings.

    trainer    Trainer and TrainOptions: epochs of on-chip training, logs, checkpoints
    evaluate   accuracy, confusion matrix and counters of a chip on a dataset
    presets    --preset paper, defined once for every command
    train_run  one training run of a sweep: exactly `anp train` as a function
    runner     the run executor (local processes or Dask) under sweeps, ablations and cv
    sweep      TOML grids of `anp train` runs: one results table, mean ± sd per arm
    splits     fold selection shared by the commands
    selftest   small deterministic run functions that test the executor
"""
from .runner import RunSpec, RunStatus, run_all

__all__ = ["RunSpec", "RunStatus", "run_all"]
