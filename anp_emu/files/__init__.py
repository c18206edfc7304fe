"""File formats, in one place: atomic writes and HDF5 reading with checked attributes
(``fileio``), chip configs (``config_io``) and training checkpoints (``checkpoint``). Event
datasets are ``anp_emu.emg.dataset``; energy tables ``anp_emu.energy.model``; exports to other
toolchains ``anp_emu.mapping.export``."""
