"""examples/data_parallel.py trains on 8 simulated devices and splits its state under ZeRO-1.

The example must choose its device count before JAX first uses a device, so it runs in a
subprocess (this process already uses JAX with one device). Measured (jax 0.10, CPU,
seed 0, quick run of 8 epochs, 21 steps of 64 examples each): test accuracy 0.9556 with
and without ``--zero1`` (train_digits' quick Adam is 0.951-0.962; a broken optimizer stays
below 0.90 there), epoch losses 1.90 -> 0.073; the state is 20 arrays of 137,841 bytes,
of which ZeRO-1 splits the 10 moments of the 5 parameters with a dimension divisible by 8,
and the fullest device holds 17,329 bytes (8.0x less: only the 10-element last bias's
moments and the scalars stay whole). It uses ~7 s of CPU time (2.5 s of it imports, most
of the rest compilation): 17-35 s of wall time on the 2 busy shared cores here.

An earlier version dispatched one jitted step per batch without waiting and aborted now and
then in XLA's CPU collective rendezvous ("Expected 8 threads to join the rendezvous"): the
host ran more than 32 programs ahead of the devices, which deadlocks XLA's CPU runtime (see
the example's docstring). The example now runs one scan per epoch and waits for each; an
abort would fail the return-code check here, though 8 quick epochs (8 dispatches) stay far
below the 32 that trigger it, so this test alone cannot catch the old pattern coming back.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")  # train_digits, whose data and model it imports
pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "data_parallel.py"


def test_data_parallel_quick_zero1():
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--quick", "--zero1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.startswith("8 devices, batch 64 split 8 per device, 8 epochs, ZeRO-1 on"), out
    losses = [float(v) for v in re.search(r"epoch loss: ([0-9. ]+)", out).group(1).split()]
    assert len(losses) == 8, out
    assert losses[0] > 1.5 and losses[-1] < 0.15, losses  # measured 1.90 -> 0.073
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.94, out  # measured 0.9556
    # 20 state arrays (Adam's mu and nu of the 6 parameters, its count, 5 hyperparameters,
    # their override flags and the step); ZeRO-1 splits the moments of the 5 parameters with
    # a dimension divisible by 8, and every leaf keeps the sharding state_shardings promised.
    assert "20 arrays, 10 split over the devices, shardings as promised: True" in out, out
    total, per_device = map(
        int, re.search(r"state: (\d+) bytes in all, (\d+) bytes on the fullest", out).groups()
    )
    assert total == 137_841, out  # 17,226 float32 parameters x 2 moments + 33 scalar bytes
    assert 7.5 <= total / per_device <= 8.0, out  # measured 7.95
