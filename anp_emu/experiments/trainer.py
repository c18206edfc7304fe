"""Training on the emulated chip, sample by sample (batch size 1, as on ANP-I).

``Trainer`` runs epochs of the learning engine over an event dataset, evaluates, logs one row per
epoch and writes an atomic checkpoint after each epoch. Every random choice of epoch ``e`` (the
sample order and the stochastic rounding) is drawn from generators seeded by ``(seed, e)``, so a
run resumed from the checkpoint of epoch ``e`` is bit-identical to an uninterrupted run.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from .. import defaults as D
from ..chip.emulator import Chip
from ..chip.config import ChipConfig
from ..chip.counters import Counters
from ..errors import CheckpointError, InputError
from .evaluate import check_fits, evaluate
from ..learning.engine import LearningEngine
from ..learning.settings import LearningSettings

SCHEDULES = ("constant", "cosine")
# samples.csv: one row per training sample; the three energy figures (anp_emu.energy.report) at the
# run's operating point, static included
SAMPLE_COLUMNS = ("epoch", "step", "sample", "label", "prediction", "loss", "learning_nj", "inference_nj", "total_nj",
                  "input_events", "hidden_spikes", "output_spikes")
ENERGY_FIGURES = ("learning_nj", "inference_nj", "total_nj")


@dataclass(frozen=True)
class TrainOptions:
    """What a training run does beyond the learning rule itself. Defaults: ``anp_emu.defaults``,
    the same values ``anp train`` shows in ``--help``.

    ``target_hidden`` and ``aux_frac`` are the random init's (used when a ``Trainer`` makes the
    initial config itself); ``operating_point`` prices the energy figures of the logs."""

    epochs: int = D.EPOCHS
    schedule: str = D.SCHEDULE     # lr per epoch: constant, or cosine from lr to lr_min
    lr_min_frac: float = D.LR_MIN_FRAC   # cosine ends at lr * lr_min_frac
    precision: str = D.PRECISION   # "int": on-chip training; "float": the float twin
    seed: int = D.SEED
    aft: str = D.AFT               # aux | ideal | none (ideal: float twin only)
    target_hidden: float = D.TARGET_HIDDEN
    aux_frac: float = D.AUX_FRAC
    operating_point: str = D.OPERATING_POINT

    def __post_init__(self):
        if not (isinstance(self.epochs, int) and 1 <= self.epochs <= 100000):
            raise InputError("epochs", "out of range", limit="1..100000", value=self.epochs)
        if self.schedule not in SCHEDULES:
            raise InputError("schedule", "unknown schedule", limit=f"one of {list(SCHEDULES)}", value=repr(self.schedule))
        if not (0.0 <= self.lr_min_frac <= 1.0):
            raise InputError("lr_min_frac", "out of range", limit="0..1", value=self.lr_min_frac)
        if self.precision not in ("int", "float"):
            raise InputError("precision", "unknown precision", limit="int or float", value=repr(self.precision))
        if self.aft not in ("aux", "ideal", "none"):
            raise InputError("aft", "unknown AFT mode", limit="aux, ideal or none", value=repr(self.aft))
        if self.aft == "ideal" and self.precision != "float":
            raise InputError("aft", "the ideal AFT-LIF neuron exists only in the float twin",
                             limit="precision float", value=self.precision)
        if not (isinstance(self.target_hidden, (int, float)) and 0 < self.target_hidden <= 1):
            raise InputError("target_hidden", "out of range", limit="0 < target_hidden <= 1", value=self.target_hidden)
        if not (isinstance(self.aux_frac, (int, float)) and 0 <= self.aux_frac <= 1):
            raise InputError("aux_frac", "out of range", limit="0..1", value=self.aux_frac)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """Learning rate of 0-based ``epoch``."""
        if self.schedule == "constant" or self.epochs == 1:
            return base_lr
        lo = base_lr * self.lr_min_frac
        return lo + 0.5 * (base_lr - lo) * (1.0 + math.cos(math.pi * epoch / (self.epochs - 1)))


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """Independent 63-bit seed for (run seed, epoch, stream)."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1, np.uint64)[0] >> 1)


@dataclass
class EpochLog:
    epoch: int
    lr: float
    loss: float
    train_accuracy: float
    test_accuracy: float
    hidden_activity: float         # spikes / (n_hid x T), mean over training samples
    output_activity: float
    sop_per_sample: float          # effective forward SOPs per training sample
    learning_ops_per_sample: float  # backward + update operations per training sample
    learning_nj: float             # per training sample of the epoch: backward + update (at the trainer's model)
    inference_nj: float            # ... the forward pass
    total_nj: float                # ... learning + inference
    dead_hidden: int               # hidden neurons silent over the whole epoch
    samples_per_s: float
    samples: int = 0               # training samples of the epoch (0: a log written before it was kept)
    input_events_per_sample: float = float("nan")
    counts: list | None = None     # (2 layers, N counters) totals of the epoch (anp_emu.chip.counters.NAMES)


LOG_COLUMNS = tuple(f for f in EpochLog.__dataclass_fields__ if f != "counts")   # log.csv (counts: counters.csv)


def history_counters(history) -> Counters:
    """Every epoch's counters of ``history`` summed (``n_samples``: all their training samples)."""
    total = Counters(n_samples=0)
    for h in history:
        if h.counts is None or not h.samples:
            raise InputError("history", "an epoch without its counters (a log written before they were kept)",
                             value=h.epoch)
        total.update(Counters(np.asarray(h.counts, dtype=np.int64), n_samples=int(h.samples)))
    return total


def averaged_energy(history, energy_model, spec, T: int) -> dict[str, float]:
    """The paper's metric: energy per training sample averaged over every sample of every epoch
    = energy of all epochs' counters / all samples, at ``energy_model``: ``learning_nj`` (the
    paper's figure), ``inference_nj``, ``total_nj`` (and backward_nj, update_nj, latency_us;
    ``anp_emu.energy.report.energy_per_sample``). Energy is linear in the counters (dynamic:
    counts x pJ; static: power x cycles, cycles linear in the counts and samples), so this equals
    the mean of the per-sample energies."""
    from ..energy.report import energy_per_sample

    total = history_counters(history)
    if total.n_samples == 0:
        raise InputError("history", "no trained epochs", value=0)
    return energy_per_sample(total, spec, T, energy_model)




def rule_leak_shift(rule: str):
    """The leak setting a rule's random init is calibrated for: STD-ED's IF neuron has the leak off."""
    from ..chip.spec import LEAK_OFF
    from ..learning.engine import RULES

    return LEAK_OFF if getattr(RULES[rule], "leak_free", False) else None


def initial_config(train, rule: str = D.RULE, seed: int = D.SEED, target_hidden: float = D.TARGET_HIDDEN,
                   aux_frac: float = D.AUX_FRAC, learning: LearningSettings | None = None):
    """The config ``anp train`` starts from without ``--chip``: a seeded random init whose
    thresholds are calibrated on ``CALIBRATION_SAMPLES`` training samples (drawn by ``seed``) for
    ``target_hidden`` activity, aux weight ``aux_frac`` theta, the leak the rule wants. Returns
    (config, InitReport)."""
    from ..chip.initialise import init_config
    from ..chip.spec import ChipSpec

    leak_shift = rule_leak_shift(rule)
    n_in = int(train.n_in)
    spec = ChipSpec(n_in=n_in) if leak_shift is None else ChipSpec(n_in=n_in, leak_shift=leak_shift)
    rng = np.random.default_rng(seed)
    calib = [train.sample(int(i)) for i in rng.permutation(len(train))[:D.CALIBRATION_SAMPLES]]
    return init_config(spec, calib, seed=seed, target_hidden=target_hidden, aux_frac=aux_frac,
                       learning=learning or LearningSettings())


def check_classes(labels, field: str, class_names=None) -> None:
    """Refuse a dataset (or a training part) that cannot train a classifier: no samples, or every
    sample of one class (training would report 100 % accuracy and baselines NaN)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        raise InputError(field, "no samples: nothing to train on", value=0)
    present = np.unique(labels)
    if len(present) < 2:
        name = class_names[int(present[0])] if class_names is not None and 0 <= int(present[0]) < len(class_names) \
            else int(present[0])
        raise InputError(field, "every sample is of one class: a classifier needs at least 2",
                         limit=">= 2 classes", value=f"1 class ({name!r}, {labels.size} samples)")


class Trainer:
    """Trains ``config`` on ``train`` (optionally evaluating on ``test``) with ``settings``.

    With no config (``Trainer(train=train, test=test)``) the initial config is the one ``anp
    train`` makes: :func:`initial_config` with the options' seed, ``target_hidden`` and
    ``aux_frac``, for the settings' rule. With no settings: the config's (a config made here:
    ``LearningSettings(rule, seed)``, the commands' defaults). With no options: ``TrainOptions()``.
    Every default is ``anp train``'s (``anp_emu.defaults``).

    ``energy_model``: an :class:`anp_emu.energy.model.EnergyModel`-like object with
    ``energy_pj(counters)`` (array of pJ) to log energy per sample; default: the default table at
    ``options.operating_point``.
    """

    epoch_log_type = EpochLog          # the rows of ``history`` (a checkpoint's reader checks them)

    def __init__(self, config: ChipConfig | None = None, train=None, test=None,
                 settings: LearningSettings | None = None, options: TrainOptions | None = None,
                 energy_model=None, *, rule: str | None = None):
        self.options = options or TrainOptions()
        if train is None:
            raise InputError("train", "a training dataset is needed", value=None)
        if settings is not None and rule is not None and settings.rule != rule:
            raise InputError("rule", "differs from the settings' rule", limit=settings.rule, value=repr(rule))
        if config is None:
            if settings is None:
                settings = LearningSettings(rule=rule or D.RULE, seed=self.options.seed)
            config, self.init_report = initial_config(
                train, settings.rule, self.options.seed, self.options.target_hidden, self.options.aux_frac)
        else:
            self.init_report = None
            if settings is None and rule is not None:
                settings = LearningSettings(rule=rule, seed=self.options.seed)
        self.settings = settings or config.learning
        check_fits(config.spec.n_in, train)
        if test is not None:
            check_fits(config.spec.n_in, test)
        check_classes(train.labels, "train", getattr(train, "class_names", None))
        if test is not None and len(test) == 0:
            raise InputError("test", "no test samples: accuracy would be undefined", value=0)
        for name, ds in (("train", train), ("test", test)):
            if ds is not None and len(ds) and int(np.max(ds.labels)) >= config.spec.n_out:
                raise InputError(f"{name}.labels", "class index beyond the output layer",
                                 limit=config.spec.n_out - 1, value=int(np.max(ds.labels)))
        self.n_classes = len(train.class_names) if hasattr(train, "class_names") else config.spec.n_out
        if self.n_classes > config.spec.n_out:
            raise InputError("train.class_names", "more classes than output neurons", limit=config.spec.n_out,
                             value=self.n_classes)
        cfg = config.replace(learning=self.settings)
        if self.options.aft == "none":
            cfg = cfg.replace(w_aux_hid=0, w_aux_out=0)
        self.config = cfg
        self.train, self.test = train, test
        if energy_model is None:
            from ..energy.model import model_at

            energy_model = model_at(self.options.operating_point)
        self.energy_model = energy_model
        self.chip = Chip(cfg, self.options.precision, aft="ideal" if self.options.aft == "ideal" else "aux")
        self.history: list[EpochLog] = []
        self.epochs_done = 0
        self.last_samples = pd.DataFrame(columns=list(SAMPLE_COLUMNS))   # per-sample log of the last epoch

    # ---------------------------------------------------------------- one epoch
    def run_epoch(self, progress=None) -> EpochLog:
        e = self.epochs_done
        opt = self.options
        lr = opt.lr_at(self.settings.effective_lr, e)
        settings_e = replace(self.settings, lr=lr, lr_shift=None if opt.schedule != "constant" else self.settings.lr_shift,
                             seed=epoch_seed(opt.seed, e, 1))
        engine = LearningEngine(self.chip, settings_e, n_classes=self.n_classes)
        order = np.random.default_rng(epoch_seed(opt.seed, e, 0)).permutation(len(self.train))
        labels = np.asarray(self.train.labels)
        total = Counters(n_samples=0)
        loss_sum, correct = 0.0, 0
        fired = np.zeros(self.config.spec.n_hid, bool)
        rows = []
        t0 = time.perf_counter()
        for k, i in enumerate(order):
            res = engine.train_step(self.train.sample(int(i)), int(labels[i]))
            loss_sum += float(res.loss)
            correct += int(res.prediction == labels[i])
            total.update(res.counters)
            fired |= res.hidden_fired
            c = res.counters
            en = self._energy(c)
            rows.append((e + 1, k, int(i), int(labels[i]), int(res.prediction), float(res.loss),
                         *(en[f] for f in ENERGY_FIGURES), c["hidden", "input_events"], c["hidden", "spikes"],
                         c["output", "spikes"]))
            if progress is not None:
                progress(k + 1, correct / (k + 1), en["learning_nj"])
        dt = time.perf_counter() - t0
        n = len(order)
        T = self.train.T
        test_acc = evaluate(self.chip, self.test).accuracy if self.test is not None and len(self.test) else float("nan")
        learn_ops = sum(total[name] for name in ("bwd_inter_ops", "bwd_intra_ops", "bwd_spike_ops",
                                                  "wgrad_accumulates", "weight_reads", "weight_writes", "aux_writes"))
        log = EpochLog(
            epoch=e + 1, lr=lr, loss=loss_sum / n, train_accuracy=correct / n, test_accuracy=test_acc,
            hidden_activity=total["hidden", "spikes"] / (n * T * self.config.spec.n_hid),
            output_activity=total["output", "spikes"] / (n * T * self.config.spec.n_out),
            sop_per_sample=total["sop_effective"] / n, learning_ops_per_sample=learn_ops / n,
            **self._energy(total),
            dead_hidden=int((~fired).sum()), samples_per_s=n / dt if dt > 0 else float("inf"),
            samples=n, input_events_per_sample=total["hidden", "input_events"] / n, counts=total.counts.tolist())
        self.last_samples = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
        self.history.append(log)
        self.epochs_done += 1
        return log

    def _energy(self, counters: Counters) -> dict[str, float]:
        """The three energy figures per sample of ``counters`` (nJ, static included) at the
        trainer's model; NaN without a model."""
        if self.energy_model is None:
            return {f: float("nan") for f in ENERGY_FIGURES}
        from ..energy.report import energy_per_sample

        e = energy_per_sample(counters, self.config.spec, self.train.T, self.energy_model)
        return {f: e[f] for f in ENERGY_FIGURES}

    def fit(self, checkpoint_path=None, on_epoch=None, progress_factory=None) -> pd.DataFrame:
        """Run the remaining epochs; checkpoint after each (atomically) if a path is given."""
        while self.epochs_done < self.options.epochs:
            progress = progress_factory(self.epochs_done) if progress_factory else None
            log = self.run_epoch(progress)
            if checkpoint_path is not None:
                from ..files.checkpoint import save_checkpoint

                save_checkpoint(checkpoint_path, self)
            if on_epoch is not None:
                on_epoch(log)
        return self.log_frame()

    def log_frame(self) -> pd.DataFrame:
        """One row per epoch (log.csv); the epochs' counters are in ``counters_frame``."""
        return pd.DataFrame([{k: v for k, v in asdict(h).items() if k != "counts"} for h in self.history],
                            columns=list(LOG_COLUMNS))

    def counters_frame(self) -> pd.DataFrame:
        """counters.csv: epoch, samples, layer, counter, total over the epoch (every counter of
        both layers), from which any energy table and operating point re-prices the run."""
        from ..chip.counters import LAYERS, NAMES

        rows = [(h.epoch, h.samples, LAYERS[li], name, int(h.counts[li][ci]))
                for h in self.history if h.counts is not None
                for li in range(len(LAYERS)) for ci, name in enumerate(NAMES)]
        return pd.DataFrame(rows, columns=["epoch", "samples", "layer", "counter", "total"])

    def history_counters(self) -> Counters:
        """The counters of every epoch of the run (restored epochs of a resumed run included)."""
        return history_counters(self.history)

    def averaged_energy(self, energy_model=None) -> dict[str, float]:
        """Energy per training sample averaged over every sample of every epoch (the paper's
        metric: ``learning_nj``; with ``inference_nj`` and ``total_nj``), at ``energy_model``
        (default: the trainer's); NaN without a model."""
        model = energy_model or self.energy_model
        if model is None:
            return {f: float("nan") for f in ENERGY_FIGURES}
        return averaged_energy(self.history, model, self.config.spec, self.train.T)

    def trained_config(self) -> ChipConfig:
        """The trained integer config (int precision), with the original learning settings."""
        if self.options.precision != "int":
            raise InputError("precision", "a float-twin run has no integer config; map it first", value="float")
        return self.chip.to_config()

    def restore(self, weights: list[np.ndarray], history: list[dict], epochs_done: int) -> None:
        """Load the state saved by a checkpoint (weights as (n_post, n_pre) in the chip's dtype)."""
        for layer, w in enumerate(weights):
            if w.shape != self.chip.wT[layer].T.shape:
                raise CheckpointError("checkpoint", f"layer {layer} weight shape {w.shape} does not match the run")
        self.chip.replace_weights(weights)
        self.history = [self._epoch_log(h) for h in history]
        self.epochs_done = int(epochs_done)

    def _epoch_log(self, h: dict) -> EpochLog:
        """An epoch's log as a checkpoint holds it; its energy figures are priced again from its
        counters at the trainer's model (a checkpoint written before the three figures existed
        holds one ``energy_nj_per_sample``)."""
        known = set(EpochLog.__dataclass_fields__)
        d = {k: v for k, v in h.items() if k in known}
        d.update({f: float("nan") for f in ENERGY_FIGURES if f not in d})
        if d.get("counts") is not None and d.get("samples"):
            d.update(self._energy(Counters(np.asarray(d["counts"], dtype=np.int64), n_samples=int(d["samples"]))))
        return EpochLog(**d)
