"""Ceolini et al. 2020 EMG data: readers, synthetic recordings, spike encoders, event datasets."""
