"""NIR -> snnTorch interop check: does snnTorch's NIR importer run our export as the float twin?

Synthetic EMG (the raw Ceolini format) -> chip encoding (39 steps x 1024 lines) -> MPD-ED training
on the emulated chip (1024-512-10) -> ``anp export --format nir`` -> ``snntorch.import_nir.
import_from_nir`` -> spikes of every (step, neuron) bin of both layers on held-out samples,
compared with the float twin (``Chip(config, "float")``, the reference the export promises) and
the integer chip. Also measured: the same export with the threshold offset 0 (``v > theta``
instead of the chip's ``v >= theta``) and with the aux neuron dropped (what the old export gave).

Run through scripts/interop_snntorch.sh (it installs CPU torch, snntorch, nirtorch in a venv).
Prints one JSON object; ``--json-out FILE`` also writes it.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def snntorch_run(graph, xs: np.ndarray):
    """Spikes (T, B, n_hid), (T, B, n_out) of snnTorch's import of ``graph`` on xs (T, B, n_in)."""
    import snntorch as snn
    import torch
    from snntorch.import_nir import import_from_nir

    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):   # the importer prints its progress and warnings
        net = import_from_nir(graph)
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.reset_mem()
    state, hid, out = None, [], []
    seen = []
    net.get_submodule("hid_lif").register_forward_hook(lambda m, i, o: seen.append(o[0] if isinstance(o, tuple) else o))
    with torch.no_grad():
        for t in range(xs.shape[0]):
            o, state = net(torch.tensor(xs[t], dtype=torch.float32), state)
            out.append(o.numpy().copy())
            hid.append(seen[-1].numpy().copy())
    return np.array(hid), np.array(out)


def predict(counts: np.ndarray, n_classes: int) -> np.ndarray:
    """Class = most output spikes (ties: lowest index, what an snnTorch user's argmax does)."""
    return np.argmax(counts[:, :n_classes], axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    import nir

    from anp_emu.chip.emulator import Chip
    from anp_emu.emg.pipeline import preprocess
    from anp_emu.emg.synthetic import write_synthetic_dataset
    from anp_emu.chip.initialise import init_config
    from anp_emu.learning.settings import LearningSettings
    from anp_emu.mapping.export import export_config, nir_graph
    from anp_emu.chip.spec import ChipSpec
    from anp_emu.experiments.trainer import Trainer, TrainOptions

    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="anp-interop-"))
    write_synthetic_dataset(work / "raw", n_subjects=args.subjects, seed=args.seed)
    ds = preprocess(work / "raw", encoder="chip", T=39)
    train, test = ds.split_random(train_fraction=2 / 3, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    calib = [train.sample(int(i)) for i in rng.permutation(len(train))[:20]]
    cfg, _ = init_config(ChipSpec(n_in=ds.n_in), calib, seed=args.seed, target_hidden=0.05, aux_frac=0.3,
                         learning=LearningSettings(loss="tet", seed=args.seed))
    trainer = Trainer(cfg, train, test, cfg.learning, TrainOptions(epochs=args.epochs, schedule="cosine",
                                                                   seed=args.seed))
    trainer.fit()
    cfg = trainer.trained_config()
    t_train = time.perf_counter() - t0

    path = work / "chip.nir"
    export_config(cfg, path, "nir")                 # the file `anp export --format nir` writes
    xs = np.stack([test.sample(i).to_dense(ds.n_in).astype(np.float32) for i in range(len(test))], axis=1)  # (T, B, n_in)
    labels = np.asarray(test.labels)
    n_classes = len(test.class_names)

    twin, chip = Chip(cfg, "float"), Chip(cfg, "int")
    ref = [twin.run(test.sample(i), record=True) for i in range(len(test))]
    ints = [chip.run(test.sample(i), record=True) for i in range(len(test))]
    twin_hid = np.stack([r.s_hid for r in ref], axis=1)
    twin_out = np.stack([r.s_out for r in ref], axis=1)
    twin_pred = np.array([r.prediction for r in ref])
    chip_pred = np.array([r.prediction for r in ints])

    result = {"samples": len(test), "T": int(ds.T), "network": f"{cfg.spec.n_in}-{cfg.spec.n_hid}-{cfg.spec.n_out}",
              "aux": [cfg.w_aux_hid, cfg.w_aux_out], "theta": [cfg.theta_hid, cfg.theta_out],
              "twin_accuracy": float(np.mean(twin_pred == labels)),
              "twin_accuracy_argmax_ties_low": float(np.mean(predict(twin_out.sum(0), n_classes) == labels)),
              "chip_accuracy": float(np.mean(chip_pred == labels)), "variants": {}}
    t1 = time.perf_counter()
    for name, graph in (("export", nir.read(path)),
                        ("theta_offset_0", nir_graph(cfg, theta_offset=0.0)),
                        ("aux_dropped", nir_graph(cfg.replace(w_aux_hid=0, w_aux_out=0)))):
        hid, out = snntorch_run(graph, xs)
        pred = predict(out.sum(0), n_classes)
        result["variants"][name] = {
            "hidden_bins_identical": int(np.sum(hid == twin_hid)), "hidden_bins": int(hid.size),
            "output_bins_identical": int(np.sum(out == twin_out)), "output_bins": int(out.size),
            "samples_all_spikes_identical": int(np.sum(np.all(hid == twin_hid, axis=(0, 2))
                                                       & np.all(out == twin_out, axis=(0, 2)))),
            "hidden_spikes": [int(hid.sum()), int(twin_hid.sum())], "output_spikes": [int(out.sum()), int(twin_out.sum())],
            "snntorch_accuracy": float(np.mean(pred == labels)),
            "predictions_equal_twin_argmax": int(np.sum(pred == predict(twin_out.sum(0), n_classes)))}
    result["seconds"] = {"data_and_training": round(t_train, 1), "comparison": round(time.perf_counter() - t1, 1),
                         "total": round(time.perf_counter() - t0, 1)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")


if __name__ == "__main__":
    main()
