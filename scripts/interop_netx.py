"""lava-dl netx interop check: netx's own reader (``lava.lib.dl.netx.hdf5.Network``) builds our
``anp export --format netx`` file, and Lava's CPU simulation of it is compared spike by spike
with the integer chip and the float twin.

Run through scripts/interop_netx.sh. lava-dl 0.6 / lava-nc 0.10 declare Python < 3.11; the script
installs them with --ignore-requires-python into a venv and applies the one Python 3.11 fix
lava-nc needs (dataclass defaults in lava/magma/compiler/var_model.py). torchvision is stubbed:
only slayer's object-detection utilities import it, netx does not use it.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

for _name in ("torchvision", "torchvision.ops", "torchvision.transforms", "torchvision.transforms.functional"):
    sys.modules[_name] = mock.MagicMock()


def main():
    from lava.lib.dl.netx import hdf5

    from anp_emu.chip.emulator import Chip
    from anp_emu.chip.config import ChipConfig
    from anp_emu.mapping.export import export_config, import_config
    from anp_emu.chip.spec import ChipSpec

    t0 = time.perf_counter()
    base = ChipConfig.random(ChipSpec(n_in=40, n_hid=20, n_out=5), seed=0, w_aux_hid=15, w_aux_out=20,
                             theta_hid=60, theta_out=80)
    results = {}
    for name, cfg in (("output_weights_within_netx_range", base.replace(w_out=np.clip(base.w_out, -256, 254))),
                      ("output_weights_up_to_285_clipped_by_netx", base)):
        results[name] = compare(cfg, hdf5, Chip, export_config, import_config)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(results, indent=1))


def compare(cfg, hdf5, Chip, export_config, import_config):
    import warnings

    path = Path(tempfile.mkdtemp(prefix="anp-netx-")) / "chip.net"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_config(cfg, path, "netx")
    assert import_config(path).equals(cfg)
    net = hdf5.Network(net_config=str(path))
    result = {"built": True, "layers": len(net.layers), "table": str(net).splitlines(),
              "export_warnings": [str(w.message) for w in caught]}
    T = 30
    x = np.random.default_rng(0).random((T, 40)) < 0.3
    try:
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc import io

        src = io.source.RingBuffer(data=x.T.astype(np.int32))
        hid_sink = io.sink.RingBuffer(shape=(20,), buffer=T)
        out_sink = io.sink.RingBuffer(shape=(5,), buffer=T)
        src.s_out.connect(net.inp)
        net.layers[0].out.connect(hid_sink.a_in)
        net.out.connect(out_sink.a_in)
        net.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        hid, out = hid_sink.data.get().T.astype(bool), out_sink.data.get().T.astype(bool)
        net.stop()
        for name, prec in (("chip", "int"), ("float_twin", "float")):
            r = Chip(cfg, prec).run(x, record=True)
            # netx adds one step of latency per layer (Loihi's pipeline): align before comparing
            for lag in (0, 1, 2):
                h, o = hid[lag:], out[2 * lag:] if 2 * lag < T else out[:0]
                result.setdefault(name, {})[f"lag_{lag}"] = {
                    "hidden_bins_identical": int(np.sum(h == r.s_hid[:len(h)])), "hidden_bins": int(h.size),
                    "output_bins_identical": int(np.sum(o == r.s_out[:len(o)])), "output_bins": int(o.size),
                    "hidden_spikes": [int(h.sum()), int(r.s_hid[:len(h)].sum())],
                    "output_spikes": [int(o.sum()), int(r.s_out[:len(o)].sum())]}
    except Exception as e:   # the run is a bonus: building is what the netx export promises
        result["run_error"] = f"{e.__class__.__name__}: {e}"
    return result


if __name__ == "__main__":
    main()
