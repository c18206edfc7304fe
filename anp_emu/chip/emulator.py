"""The emulated chip: runs samples through a ChipConfig in the int (bit-exact) or float precision."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arithmetic import ONE_GROUP, partial_sum_group, weight_storage
from .config import ChipConfig
from .counters import Counters, new_counts
from .cycles import DEFAULT_CYCLES, CycleTable
from .design_rules import WEIGHT_RANGE, check_integer_array, check_range
from ..errors import InputError
from .events import SpikeInput, as_spike_input
from .kernels import forward, predict_class, spike_counts

PRECISIONS = ("int", "float")
AFT_MODES = ("aux", "ideal")


@dataclass
class RunResult:
    """Outputs of one sample: spikes (T, n) uint8 per layer, membranes at the fire decision
    (T, n) when recorded (int64 LSBs for int, float64 LSBs for float), and the counters."""

    s_hid: np.ndarray
    s_out: np.ndarray
    v_hid: np.ndarray | None
    v_out: np.ndarray | None
    counters: Counters
    th_hid: np.ndarray | None = None   # (T, n) thresholds at the fire decision (when recorded)
    th_out: np.ndarray | None = None
    hid_events: SpikeInput | None = None   # the hidden spikes as events (the output layer's input)
    n_classes: int | None = None  # the dataset's classes (output neurons 0..n_classes-1), when the chip was told

    @property
    def out_counts(self) -> np.ndarray:
        return spike_counts(self.s_out)

    @property
    def prediction(self) -> int:
        """The predicted class among the dataset's ``n_classes`` (``Chip(config, n_classes=K)``
        or ``chip.run(x, n_classes=K)``): most output spikes; ties go to the larger summed output
        membrane (when recorded), then to the lower index. Without ``n_classes`` it is an error,
        not a guess: an output neuron beyond the dataset's classes is untrained and would win
        (:attr:`neuron_argmax` is that raw winner among all output neurons)."""
        if self.n_classes is None:
            raise InputError("n_classes", "unknown: a prediction is among the dataset's classes",
                             hint="Chip(config, n_classes=len(dataset.class_names)), or "
                                  "result.class_prediction(K); result.neuron_argmax is the winner among all outputs")
        return self.class_prediction(self.n_classes)

    @property
    def neuron_argmax(self) -> int:
        """The winning output neuron among all of them (the chip's readout rule over every output,
        whatever the dataset's classes)."""
        return self.class_prediction(self.s_out.shape[1])

    def class_prediction(self, n_classes: int) -> int:
        """The chip's readout among output neurons 0..n_classes-1 only (a dataset with fewer classes
        than output neurons never predicts an unused neuron)."""
        if not (isinstance(n_classes, (int, np.integer)) and 1 <= n_classes <= self.s_out.shape[1]):
            raise InputError("n_classes", "out of range", limit=f"1..{self.s_out.shape[1]}", value=n_classes)
        s = np.ascontiguousarray(self.s_out[:, :n_classes])
        v = (np.ascontiguousarray(self.v_out[:, :n_classes]) if self.v_out is not None
             else np.zeros((0, n_classes), dtype=np.int64))
        return int(predict_class(s, v))


class Chip:
    """One chip holding one config, in ``precision`` "int" (bit-exact) or "float" (ideal twin).

    The float twin uses the config's integers as floats, or — to measure the quantisation gap —
    an unquantised model in the same units (weight LSBs): ``float_params`` may give any of
    ``w_hid``, ``w_out`` (float arrays of the config's shapes), ``theta_hid``, ``theta_out``,
    ``w_aux_hid``, ``w_aux_out`` (floats), all already divided by the layer's scale.
    Weights are held transposed (pre, post): one row per presynaptic line, as the chip's SRAM.

    ``aft``: "aux" (the chip: the aux neuron adds w_aux to neurons silent at t-1) or "ideal"
    (float twin only: the AFT-LIF threshold of Wei et al. Eq. 16 decays by alpha = w_aux per silent
    step and returns to theta after a spike). No AFT at all is a config with zero aux weights.
    """

    FLOAT_KEYS = ("w_hid", "w_out", "theta_hid", "theta_out", "w_aux_hid", "w_aux_out")

    def __init__(self, config: ChipConfig, precision: str = "int", float_params: dict | None = None,
                 cycle_table: CycleTable = DEFAULT_CYCLES, aft: str = "aux", n_classes: int | None = None):
        if aft not in AFT_MODES:
            raise InputError("aft", "unknown AFT mode", limit=f"one of {list(AFT_MODES)}", value=repr(aft))
        if aft == "ideal" and precision != "float":
            raise InputError("aft", "the ideal AFT-LIF neuron exists only in the float twin",
                             limit="precision 'float'", value=precision)
        self.aft = aft
        if precision not in PRECISIONS:
            raise InputError("precision", "unknown precision", limit=f"one of {list(PRECISIONS)}", value=repr(precision))
        if float_params and precision != "float":
            raise InputError("float_params", "only for precision='float'")
        self.config = config
        self.spec = config.spec
        self.n_classes = self._check_classes(n_classes)
        self.precision = precision
        self.cycle_table = cycle_table
        fp = dict(float_params or {})
        for k in fp:
            if k not in self.FLOAT_KEYS:
                raise InputError(f"float_params.{k}", "unknown key", limit=f"one of {list(self.FLOAT_KEYS)}")
        if precision == "int":
            dtypes = [weight_storage(self.spec.w_bits(layer)) for layer in (0, 1)]
            self._partial = [partial_sum_group(self.spec.w_bits(layer)) for layer in (0, 1)]
            self._v_dtype, self._acc_dtype = np.int64, np.int32
            self.v_lo, self.v_hi = self.spec.v_range
            self.theta = (np.int64(config.theta_hid), np.int64(config.theta_out))
            self.w_aux = (np.int64(config.w_aux_hid), np.int64(config.w_aux_out))
        else:
            dtypes = [np.float64, np.float64]
            self._partial = [(np.float64, ONE_GROUP)] * 2      # the plain float sum
            self._v_dtype = self._acc_dtype = np.float64
            self.v_lo, self.v_hi = -np.inf, np.inf
            self.theta = (float(fp.get("theta_hid", config.theta_hid)), float(fp.get("theta_out", config.theta_out)))
            self.w_aux = (float(fp.get("w_aux_hid", config.w_aux_hid)), float(fp.get("w_aux_out", config.w_aux_out)))
        self.wT = []
        for layer, key in enumerate(("w_hid", "w_out")):
            w = fp.get(key, config.weights(layer))
            w = np.asarray(w)
            if w.shape != config.weights(layer).shape:
                raise InputError(f"float_params.{key}", "wrong shape", limit=config.weights(layer).shape, value=w.shape)
            if w.dtype.kind == "f" and not np.all(np.isfinite(w)):
                raise InputError(f"float_params.{key}", "must be finite", value="NaN/inf")
            self.wT.append(np.ascontiguousarray(w.T, dtype=dtypes[layer]))
        self.refresh_weights()

    def refresh_weights(self) -> None:
        """Recount non-zero fan-out after the transposed weights were changed in place."""
        self.nnz_row = [np.count_nonzero(wt, axis=1).astype(np.int64) for wt in self.wT]

    def check_weights(self, layer: int, w) -> np.ndarray:
        """``w`` (n_post, n_pre) as an array, if it may replace the weights of ``layer``: integers
        within the layer's width on the int chip (refused, never wrapped into the narrower
        storage), finite numbers on the float twin."""
        where = ("w_hid", "w_out")[layer]
        want = self.wT[layer].T.shape
        w = np.asarray(w)
        if w.shape != want:
            raise InputError(where, "wrong shape", limit=want, value=w.shape)
        if self.precision == "int":
            lo, hi = self.spec.w_range(layer)
            check_range(check_integer_array(w, where), lo, hi, WEIGHT_RANGE, where)
        elif w.dtype.kind not in "iuf" or not np.all(np.isfinite(w)):
            raise InputError(where, "must be finite numbers", value="NaN/inf" if w.dtype.kind == "f" else w.dtype)
        return w

    def set_weights(self, layer: int, w) -> None:
        """Replace the weights (n_post, n_pre) of ``layer`` (``check_weights``; nothing changes
        when they are refused)."""
        self.wT[layer][...] = self.check_weights(layer, w).T
        self.refresh_weights()

    def replace_weights(self, weights) -> None:
        """Replace the weights of every layer (a sequence of (n_post, n_pre), hidden then output),
        all or nothing: each is checked (``check_weights``) before any is written."""
        checked = [self.check_weights(layer, w) for layer, w in enumerate(weights)]
        for layer, w in enumerate(checked):
            self.wT[layer][...] = w.T
        self.refresh_weights()

    def weights(self, layer: int) -> np.ndarray:
        """Weights (n_post, n_pre) as currently held by the chip (a copy): int16 on the int chip,
        as configs and files hold them (whatever the storage), float64 on the float twin."""
        return self.wT[layer].T.astype(np.int16 if self.precision == "int" else np.float64)

    def to_config(self) -> ChipConfig:
        """The chip's current integer state as a validated config (int precision only)."""
        if self.precision != "int":
            raise InputError("precision", "only an int chip holds a config's integers", value=self.precision)
        return self.config.replace(w_hid=self.weights(0), w_out=self.weights(1))

    def _check_classes(self, n_classes):
        if n_classes is not None and not (isinstance(n_classes, (int, np.integer)) and not isinstance(n_classes, bool)
                                          and 1 <= n_classes <= self.spec.n_out):
            raise InputError("n_classes", "out of range (the dataset's classes are output neurons 0..K-1)",
                             limit=f"1..{self.spec.n_out}", value=n_classes)
        return None if n_classes is None else int(n_classes)

    def run(self, x, record: bool = False, n_classes: int | None = None) -> RunResult:
        """Run one sample: ``x`` is a SpikeInput or a (T, n_in) 0/1 raster. ``n_classes``: the
        dataset's classes, for ``RunResult.prediction`` (default: the chip's)."""
        r = self.run_checked(as_spike_input(x, self.spec.n_in), record)
        if n_classes is not None:
            r.n_classes = self._check_classes(n_classes)
        return r

    def run_checked(self, si: SpikeInput, record: bool = False) -> RunResult:
        """``run`` for a SpikeInput that ``as_spike_input`` returned for this chip's n_in (checked
        and typed; the learning engine's path, which checks each sample once)."""
        T = si.T
        n_hid, n_out = self.spec.n_hid, self.spec.n_out
        s_hid = np.zeros((T, n_hid), dtype=np.uint8)
        s_out = np.zeros((T, n_out), dtype=np.uint8)
        rec_shape_h = (T, n_hid) if record else (1, n_hid)
        rec_shape_o = (T, n_out) if record else (1, n_out)
        v_hid_rec = np.empty(rec_shape_h, dtype=self._v_dtype)    # every row written when recorded
        v_out_rec = np.empty(rec_shape_o, dtype=self._v_dtype)
        th_hid_rec = np.empty(rec_shape_h, dtype=self._v_dtype)
        th_out_rec = np.empty(rec_shape_o, dtype=self._v_dtype)
        hid_ptr = np.empty(T + 1, dtype=np.int64)
        hid_lines = np.empty(T * n_hid, dtype=np.int32)
        counts = new_counts()
        forward(si.step_ptr, si.lines, self.wT[0], self.wT[1], self.nnz_row[0], self.nnz_row[1],
                self.theta[0], self.theta[1], self.w_aux[0], self.w_aux[1], self.aft == "ideal",
                self.spec.leak_shift,
                self._v_dtype(self.v_lo), self._v_dtype(self.v_hi),
                np.zeros(n_hid, self._v_dtype), np.zeros(n_out, self._v_dtype),
                np.zeros(n_hid, self._acc_dtype), np.zeros(n_out, self._acc_dtype),
                np.zeros(n_hid, self._partial[0][0]), np.zeros(n_out, self._partial[1][0]),
                self._partial[0][1], self._partial[1][1],
                s_hid, s_out, hid_ptr, hid_lines, v_hid_rec, v_out_rec, th_hid_rec, th_out_rec, record, counts)
        hid_events = SpikeInput(hid_ptr, hid_lines[:hid_ptr[T]])
        if not record:
            return RunResult(s_hid, s_out, None, None, Counters(counts), hid_events=hid_events,
                             n_classes=self.n_classes)
        return RunResult(s_hid, s_out, v_hid_rec, v_out_rec, Counters(counts), th_hid_rec, th_out_rec, hid_events,
                         self.n_classes)

    def cycles(self, counters: Counters, T: int) -> dict[str, float]:
        return self.cycle_table.cycles(counters, self.spec, T)
