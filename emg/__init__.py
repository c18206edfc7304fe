"""Ceolini et al. 2020 EMG data: readers, synthetic recordings, spike encoders, event datasets.

Modules (import them directly; this package imports nothing heavy):

* :mod:`.ceolini` — raw folder (``subjectXX_sessionYY_{emg,ann}.npy``) and pickle readers, label
  shift + edge segmentation, per-session sampling rates, restricted unpickler;
* :mod:`.synthetic` — ``write_synthetic_dataset(outdir, n_subjects=4, seed=0)``: the embedded
  default dataset, written in exactly the raw format;
* :mod:`.encoders` — ``encode_trials(trials, "chip" | "delta", T=39)``;
* :mod:`.dataset` — ``EventDataset`` (HDF5 ``anp-emu-events`` v1, splits, stats);
* :mod:`.pipeline` — ``preprocess(src, encoder="chip", T=39) -> EventDataset``;
* :mod:`.baseline` — ``baseline_accuracy(...)``, the non-spiking reference classifier.

Measured on the default synthetic set (4 subjects x 3 sessions x 25 trials = 300 trials, seed 0):

* baseline (softmax regression on log RMS per channel, stratified random 2:1 split): 79.0 % test
  accuracy on split seed 0, 76.7 % +- 4.2 % over split seeds 0-9; nearest centroid 66 % +- 6 %;
  on the chip-encoded events (log spike counts per line) 62 % — realistic, not trivially 100 %;
* at the 21-subject size (1575 trials, ``n_subjects=21``): 71.2 % (log RMS, softmax regression),
  68.6 % (nearest centroid), 70.5 % (softmax regression on the chip-encoded event counts);
* chip encoder (level_step 32 LSB): 615 events per trial, input density 1.5 % of the 39 x 1024
  slots (about 16 lines per step, at most 136);
* delta encoder binned to 39 steps: density 93 % of the 39 x 16 slots (the authors' encoder is
  meant for ms bins; at 50 ms bins almost every line fires every step);
* throughput (2 cores): 1575 trials preprocessed end to end in 0.26 s (chip) / 0.68 s (delta), see
  ``benchmarks/README.md``.
"""
