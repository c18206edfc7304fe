import numpy as np
import pytest

from anp_emu.chip.config import ChipConfig
from anp_emu.chip.spec import ChipSpec


def make_config(w_hid, w_out, theta_hid, theta_out, aux_hid=0, aux_out=0, **spec_kw):
    """A config for a tiny hand-checked network; spec sizes follow the weight shapes."""
    w_hid = np.asarray(w_hid, dtype=np.int64)
    w_out = np.asarray(w_out, dtype=np.int64)
    spec = ChipSpec(n_in=w_hid.shape[1], n_hid=w_hid.shape[0], n_out=w_out.shape[0], **spec_kw)
    return ChipConfig(spec, w_hid, w_out, theta_hid, theta_out, aux_hid, aux_out)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
