"""NIR -> snnTorch interop check: does snnTorch's NIR importer run our export as the float twin?

Synthetic EMG (the raw Ceolini format) -> chip encoding (39 steps x 1024 lines) -> MPD-ED training
on the emulated chip (1024-512-10) -> ``anp export --format nir`` -> ``snntorch.import_nir.
import_from_nir`` -> spikes of every (step, neuron) bin of both layers on held-out samples,
compared with the float twin (``Chip(config, "float")``, the reference the export promises) and
the integer chip. Also measured: the same export with the threshold offset 0 (``v > theta``
instead of the chip's ``v >= theta``) and with the aux neuron dropped (what the old export gave).

Accuracy is reported two ways for every run: with the chip's readout rule (``anp_emu.mapping.
readout.chip_readout``: most output spikes among the dataset's classes, ties by summed membrane,
then lowest index; what the NIR export's ``anp_readout`` metadata states) and with a plain
``argmax`` of the spike counts over every output neuron (what an snnTorch user writes first; on a
5-class dataset the untrained outputs 5..9 can win: this script once printed 0.0 accuracy that way).

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


def accuracies(out_spikes, labels, n_classes: int, membranes=None) -> dict:
    """Accuracy of output spikes (T, B, n_out) against ``labels`` (B,): ``chip_readout``, the
    chip's rule among the dataset's ``n_classes`` (ties by summed ``membranes`` when given, else
    the lower index), and ``argmax``, plain argmax of the spike counts over every output neuron."""
    from anp_emu.mapping.readout import accuracy, chip_readout

    s = np.asarray(out_spikes)
    return {"chip_readout": accuracy(chip_readout(s, membranes, n_classes=n_classes), labels),
            "argmax": accuracy(np.argmax(s.sum(axis=0), axis=-1), labels)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    import nir

    from anp_emu.chip.emulator import Chip
    from anp_emu.emg.crossval import split_dataset
    from anp_emu.emg.pipeline import preprocess
    from anp_emu.emg.synthetic import write_synthetic_dataset
    from anp_emu.mapping.export import export_config, nir_graph
    from anp_emu.mapping.readout import readout_of
    from anp_emu.experiments.trainer import Trainer, TrainOptions

    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="anp-interop-"))
    write_synthetic_dataset(work / "raw", n_subjects=args.subjects, seed=args.seed)
    ds = preprocess(work / "raw", encoder="chip", T=39)
    sd = split_dataset(ds, "random", seed=args.seed)       # anp train's split, encoder fitted on its train part
    train, test = sd.train, sd.test
    # anp train's defaults (anp_emu/defaults.py): init, loss, lr, cosine schedule
    trainer = Trainer(train=train, test=test, options=TrainOptions(epochs=args.epochs, seed=args.seed))
    trainer.fit()
    cfg = trainer.trained_config()
    t_train = time.perf_counter() - t0

    path = work / "chip.nir"
    export_config(cfg, path, "nir", class_names=test.class_names)   # what `anp export --format nir` writes
    xs = np.stack([test.sample(i).to_dense(ds.n_in).astype(np.float32) for i in range(len(test))], axis=1)  # (T, B, n_in)
    labels = np.asarray(test.labels)
    n_classes = len(test.class_names)

    twin, chip = Chip(cfg, "float", n_classes=n_classes), Chip(cfg, "int", n_classes=n_classes)
    ref = [twin.run(test.sample(i), record=True) for i in range(len(test))]
    ints = [chip.run(test.sample(i), record=True) for i in range(len(test))]
    twin_hid = np.stack([r.s_hid for r in ref], axis=1)
    twin_out = np.stack([r.s_out for r in ref], axis=1)
    twin_v = np.stack([r.v_out for r in ref], axis=1)
    chip_out, chip_v = np.stack([r.s_out for r in ints], axis=1), np.stack([r.v_out for r in ints], axis=1)
    twin_acc = accuracies(twin_out, labels, n_classes, twin_v)
    assert twin_acc["chip_readout"] == float(np.mean(np.array([r.prediction for r in ref]) == labels))
    readout = readout_of(nir.read(path))
    assert readout["n_classes"] == n_classes

    result = {"samples": len(test), "T": int(ds.T), "network": f"{cfg.spec.n_in}-{cfg.spec.n_hid}-{cfg.spec.n_out}",
              "classes": n_classes, "readout": readout,
              "aux": [cfg.w_aux_hid, cfg.w_aux_out], "theta": [cfg.theta_hid, cfg.theta_out],
              "twin_accuracy": twin_acc,
              "twin_accuracy_chip_readout_without_membranes": accuracies(twin_out, labels, n_classes)["chip_readout"],
              "chip_accuracy": accuracies(chip_out, labels, n_classes, chip_v), "variants": {}}
    t1 = time.perf_counter()
    for name, graph in (("export", nir.read(path)),
                        ("theta_offset_0", nir_graph(cfg, theta_offset=0.0)),
                        ("aux_dropped", nir_graph(cfg.replace(w_aux_hid=0, w_aux_out=0)))):
        hid, out = snntorch_run(graph, xs)
        result["variants"][name] = {
            "hidden_bins_identical": int(np.sum(hid == twin_hid)), "hidden_bins": int(hid.size),
            "output_bins_identical": int(np.sum(out == twin_out)), "output_bins": int(out.size),
            "samples_all_spikes_identical": int(np.sum(np.all(hid == twin_hid, axis=(0, 2))
                                                       & np.all(out == twin_out, axis=(0, 2)))),
            "hidden_spikes": [int(hid.sum()), int(twin_hid.sum())], "output_spikes": [int(out.sum()), int(twin_out.sum())],
            # snnTorch's Leaky returns the membrane after its reset, not at the fire decision the chip
            # sums: its readout breaks ties by the lower index
            "snntorch_accuracy": accuracies(out, labels, n_classes)}
    result["seconds"] = {"data_and_training": round(t_train, 1), "comparison": round(time.perf_counter() - t1, 1),
                         "total": round(time.perf_counter() - t0, 1)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")


if __name__ == "__main__":
    main()
