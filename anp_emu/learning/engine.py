"""The on-chip learning engine: one forward pass, one backward pass per rule family, one update.

Rules: MPD-ED and STBP (surrogate-gradient BPTT, ``backward``), STD-ED and ebp (spike-timing
gradients, ``spike_time``); all share the forward pass, the counters, the weight-gradient kernel
and the integer update.

    engine = LearningEngine(chip, settings)          # chip: Chip(config, "int" | "float")
    step = engine.train_step(x, label)               # forward + backward + update, batch size 1
    grads = engine.gradients(x, label)               # exact float dL/dW of the same pass, no update

``train_step`` on an int chip is on-chip training: integer weights, rounded and saturated
updates; on a float chip it is the float twin (float weights, exact updates). Aux weights are not
learned: the chip restores them after every iteration, counted as ``aux_writes``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..chip.emulator import Chip, RunResult
from ..chip.counters import C_AUX_WRITES, C_W_READS, C_W_WRITES, C_WGRAD, Counters, new_counts
from ..errors import InputError
from ..chip.spec import LEAK_OFF
from ..runtime.threads import adapt as adapt_threads
from ..chip.events import SpikeInput, as_spike_input
from .backward import backward
from .loss import ce_count_loss, tet_loss, tet_mse_loss
from .mpd_ed import MPD_ED
from .rule import SpikeTimeRule
from .settings import LearningSettings
from .stbp import STBP
from .std_ed import STD_ED
from .ebp import EBP
from .spike_time import spike_time_backward
from .surrogate import SHAPE_ID
from .rounding import ROUNDING_ID
from .update import gradient_rows, stbp_learning_counts, update_kernels

RULES = {r.name: r for r in (MPD_ED, STBP, STD_ED, EBP)}
PARALLEL_LAYERS = (0,)   # layers whose update runs on the numba threads, if several are granted (output: serial)


@dataclass
class StepResult:
    loss: float
    prediction: int
    out_counts: np.ndarray       # (n_out,) output spike counts
    counters: Counters           # forward + backward + update of this sample
    hidden_fired: np.ndarray     # (n_hid,) bool: hidden neurons that fired in this sample


@dataclass
class Gradients:
    dW_hid: np.ndarray           # (n_hid, n_in) dL/dW in loss per weight LSB
    dW_out: np.ndarray           # (n_out, n_hid)
    loss: float
    counters: Counters           # forward + backward (no update)
    du_hid: np.ndarray           # (T, n_hid) dL/du
    du_out: np.ndarray           # (T, n_out)
    forward: RunResult
    dt_hid: np.ndarray | None = None   # spike-time rules: dL/dt at the hidden spikes (T, n_hid), else None
    dt_out: np.ndarray | None = None   # ... at the output spikes (T, n_out)


class LearningEngine:
    """Trains the weights held by ``chip`` with ``settings`` (default: the config's)."""

    def __init__(self, chip: Chip, settings: LearningSettings | None = None, n_classes: int | None = None):
        """``n_classes``: the dataset's classes K <= n_out; the loss and the prediction use output
        neurons 0..K-1 only (the others are unused: no error reaches them, they are never predicted)."""
        adapt_threads()      # the cores other processes leave free (anp_emu.runtime.threads; off if the user fixed them)
        self.chip = chip
        self.settings = settings or chip.config.learning
        n_out = chip.spec.n_out
        self.n_classes = n_out if n_classes is None else int(n_classes)
        if not 1 <= self.n_classes <= n_out:
            raise InputError("n_classes", "more classes than output neurons", limit=f"1..{n_out}", value=n_classes)
        if self.settings.rule not in RULES:
            raise InputError("learning.rule", "unknown rule", limit=f"one of {list(RULES)}", value=self.settings.rule)
        self.rule = RULES[self.settings.rule]
        check_rule_spec(self.rule.name, chip.spec)
        self._last_dt = (None, None)
        self.rng = np.random.default_rng(self.settings.seed)
        self._keys = np.zeros((0, 2), dtype=np.int64)
        self._next_key = 0
        self._no_grad = np.zeros((0, 0))

    _KEY_BATCH = 256

    def _step_keys(self):
        """This step's stochastic-rounding key per layer: the next pair of rng.integers(0, 2^63 - 1)
        draws, taken from a batch (the same sequence as one call per step, without numpy's
        per-call overhead of ~5 us)."""
        if self._next_key == len(self._keys):
            self._keys = self.rng.integers(0, 2**63 - 1, size=(self._KEY_BATCH, 2))
            self._next_key = 0
        self._next_key += 1
        return self._keys[self._next_key - 1]

    def _limits(self, layer: int):
        if self.chip.precision == "int":
            lo, hi = self.chip.spec.w_range(layer)
            return float(lo), float(hi), True
        return -np.inf, np.inf, False

    # ------------------------------------------------------------------ passes
    def _backward(self, si: SpikeInput, label: int):
        chip, st = self.chip, self.settings
        n_out, K = chip.spec.n_out, self.n_classes
        if not (isinstance(label, (int, np.integer)) and 0 <= label < K):
            raise InputError("label", "class index out of range", limit=f"0..{K - 1}", value=label)
        r = chip.run_checked(si, record=True)
        if isinstance(self.rule, SpikeTimeRule):
            loss, du_hid, du_out, dt_hid, dt_out = spike_time_backward(chip, si, r, int(label), st, self.rule,
                                                                       r.counters.counts, K)
            self._last_dt = (dt_hid, dt_out)
            return r, loss, du_hid, du_out
        T = si.T
        th = (float(chip.theta[0]), float(chip.theta[1]))
        g_s = np.zeros((T, n_out))
        g_u = np.zeros((T, n_out))
        if st.loss == "ce":
            loss, g_s[:, :K] = ce_count_loss(np.ascontiguousarray(r.s_out[:, :K]), int(label), float(st.logit_gain))
        else:
            v_k = np.ascontiguousarray(r.v_out[:, :K])
            if st.tet_lambda > 0:
                loss, g_u[:, :K] = tet_mse_loss(v_k, int(label), float(st.logit_gain), th[1], float(st.tet_lambda))
            else:
                loss, g_u[:, :K] = tet_loss(v_k, int(label), float(st.logit_gain), th[1])
        du_hid = np.zeros((T, chip.spec.n_hid))
        du_out = np.zeros((T, n_out))
        aux = (0.0, 0.0) if chip.aft == "ideal" else (float(chip.w_aux[0]), float(chip.w_aux[1]))
        counts = r.counters.counts
        hid = r.hid_events
        backward(r.s_hid, r.v_hid, r.th_hid, hid.step_ptr, hid.lines, r.s_out, r.v_out, r.th_out, chip.wT[1],
                 aux[0], aux[1], chip.spec.tau, g_s, g_u, self.rule.masked, SHAPE_ID[st.surrogate],
                 st.surrogate_width * th[0], st.surrogate_width * th[1], st.window, st.reset_path,
                 du_hid, du_out, counts)
        return r, loss, du_hid, du_out

    def _presynaptic(self, si: SpikeInput, r: RunResult):
        """CSR events of each layer's presynaptic side: input lines, then hidden spikes."""
        return (si, r.hid_events)

    def _weight_pass(self, si, r, du_hid, du_out, apply: bool):
        """Form the weight gradients (and apply the update if ``apply``); returns dense gradients
        (n_post, n_pre) per layer when not applying."""
        chip, st = self.chip, self.settings
        counts = r.counters.counts
        mode = ROUNDING_ID[st.rounding]
        lr = float(st.effective_lr)
        keys = self._step_keys()
        grads = [None, None]
        n_threads = numba.get_num_threads()
        pres = self._presynaptic(si, r)
        # output layer first: the hidden errors were computed with the old output weights
        for layer, du in ((1, du_out), (0, du_hid)):
            pre = pres[layer]
            lo, hi, is_int = self._limits(layer)
            wT, nnz = chip.wT[layer], chip.nnz_row[layer]
            sparse_update, dense_update = update_kernels(layer in PARALLEL_LAYERS, n_threads)
            if self.rule.dense:
                G = gradient_rows(pre, du, wT.shape[0])      # (n_pre, n_post)
                wgrad, n_read, n_write = stbp_learning_counts(st.stbp_emulation, pre.step_ptr, pre.lines, *wT.shape)
                counts[layer, C_WGRAD] += wgrad
                if apply:
                    # "dense" reads and writes every synapse: the kernel's event-driven tally is not it
                    tally = counts if n_write is None else new_counts()
                    dense_update(G, wT, nnz, lr, mode, lo, hi, is_int, tally, layer, int(keys[layer]),
                                 n_threads, n_read)
                    if n_write is not None:
                        counts[layer, C_W_READS] += n_read
                        counts[layer, C_W_WRITES] += n_write
                else:
                    grads[layer] = G.T.copy()
            else:
                G = self._no_grad if apply else np.zeros(wT.shape)
                sparse_update(pre.step_ptr, pre.lines, du, wT, nnz, G, lr, mode, lo, hi, is_int, apply, counts, layer,
                              int(keys[layer]), n_threads)
                if not apply:
                    grads[layer] = G.T.copy()
        return grads

    def gradients(self, x, label: int) -> Gradients:
        """Exact dL/dW of the documented backward equations for this chip's forward pass (dense
        arrays, for checking); the weights are not changed."""
        si = as_spike_input(x, self.chip.spec.n_in)
        r, loss, du_hid, du_out = self._backward(si, label)
        g = self._weight_pass(si, r, du_hid, du_out, apply=False)
        return Gradients(g[0], g[1], loss, r.counters, du_hid, du_out, r, *self._last_dt)

    def train_step(self, x, label: int) -> StepResult:
        """One on-chip training iteration: forward, backward, rounded update, aux restore."""
        chip = self.chip
        si = as_spike_input(x, chip.spec.n_in)
        r, loss, du_hid, du_out = self._backward(si, label)
        self._weight_pass(si, r, du_hid, du_out, apply=True)
        counts = r.counters.counts
        for layer in (0, 1):
            if chip.aft == "aux" and chip.w_aux[layer] != 0:
                counts[layer, C_AUX_WRITES] += chip.spec.layer_sizes[layer][0]
        fired = np.zeros(chip.spec.n_hid, dtype=bool)
        fired[r.hid_events.lines] = True
        return StepResult(loss, r.class_prediction(self.n_classes), r.out_counts, r.counters, fired)

    def predict(self, x) -> int:
        return self.chip.run(x, record=True).class_prediction(self.n_classes)


def settings_for_rule(settings: LearningSettings, rule: str, **changes) -> LearningSettings:
    """``settings`` switched to ``rule``: a spike-time rule gets its own count loss when the
    settings hold a surrogate rule's loss (and back: the library default)."""
    from dataclasses import replace

    from .settings import COUNT_LOSSES, DEFAULT_COUNT_LOSS

    loss = changes.pop("loss", settings.loss)
    if rule in DEFAULT_COUNT_LOSS and loss not in COUNT_LOSSES:
        loss = DEFAULT_COUNT_LOSS[rule]
    elif rule not in DEFAULT_COUNT_LOSS and loss in COUNT_LOSSES:
        loss = LearningSettings().loss
    return replace(settings, rule=rule, loss=loss, **changes)


def config_for_rule(config, rule: str, **changes):
    """``config`` (same weights, thresholds, aux) set up for ``rule``: its learning settings
    (``settings_for_rule``) and, for a rule on the non-leaky IF neuron (STD-ED), the spec with the
    leak off. The thresholds were calibrated for the config's own neuron: an IF chip built from a
    leaky one's config fires more."""
    from dataclasses import replace

    cfg = config.replace(learning=settings_for_rule(config.learning, rule, **changes))
    if getattr(RULES[rule], "leak_free", False) and cfg.spec.leak_shift != LEAK_OFF:
        cfg = cfg.replace(spec=replace(cfg.spec, leak_shift=LEAK_OFF))
    return cfg


def check_rule_spec(rule: str, spec) -> None:
    """Refuse a chip whose neuron ``rule`` cannot train (STD-ED: the leak must be off)."""
    if getattr(RULES[rule], "leak_free", False) and spec.leak_shift != LEAK_OFF:
        raise InputError("spec.leak_shift", f"{rule} needs the non-leaky IF neuron", limit=f"{LEAK_OFF} (leak off)",
                         value=spec.leak_shift, hint="use a config whose spec has leak_shift=0")
