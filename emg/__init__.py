"""Ceolini et al. 2020 EMG data: readers, synthetic recordings, spike encoders, event datasets.

Modules (import them directly; this package imports nothing heavy):

* :mod:`.ceolini` — raw folder (``subjectXX_sessionYY_{emg,ann}.npy``) and pickle readers, label
  shift + edge segmentation, per-session sampling rates, restricted unpickler;
* :mod:`.synthetic` — ``write_synthetic_dataset(outdir, n_subjects=4, seed=0)``: the embedded
  default dataset, written in exactly the raw format (profiles ``real`` and ``clean``);
* :mod:`.encoders` — ``encode_trials(trials, "chip" | "delta", T=39)``, fitted on training data;
* :mod:`.dataset` — ``EventDataset`` (HDF5 ``anp-emu-events`` v3 with the encoder features and a content checksum, stats);
* :mod:`.pipeline` — ``preprocess(src, encoder="chip", T=39) -> EventDataset``;
* :mod:`.baseline` — ``baseline_accuracy(...)``, the non-spiking reference classifier;
* :mod:`.crossval` — ``split_dataset(ds, split, fold)`` (the encoder fitted on the training part
  only), ``fold_baselines(ds, fold)`` (scikit-learn reference classifiers on the same fold);
* :mod:`.alignment` — optional unsupervised armband-rotation alignment.

The front end and its measurements: ``docs/emg.md`` and ``docs/experiments.md``.
"""
