"""docs/getting_started.md runs top to bottom and does what it says.

The page is the "pip install to a trained model" tutorial: digits data, an MLP in plain JAX,
a jitted loop, AdamW with a warmup-cosine schedule, a weight-decay mask and clipping, a
checkpoint that is resumed, and a loss plot. The numbers asserted were measured on CPU
(jax 0.10): test accuracy 0.949 after 6 epochs and 0.958 after 12, lr 0.00174631 at step
126, decay factor -1.726e-05.
"""

from __future__ import annotations

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _guides import run_page

pytest.importorskip("matplotlib")  # the page's data and plot; both in the test extra
pytest.importorskip("sklearn")


def test_getting_started_trains_a_model_with_every_piece_the_page_promises():
    # The page writes `x @ w + b` as users do; the suite's strict rank promotion would
    # reject that broadcast, so the page runs with JAX's default.
    with jax.numpy_rank_promotion("allow"):
        printed, ns = run_page("getting_started.md", expected_blocks=9)
    try:
        _check(printed, ns)
    finally:
        shutil.rmtree(ns["workdir"], ignore_errors=True)


def _check(printed: list[str], ns: dict) -> None:
    gradtx = ns["gradtx"]
    assert printed[0] == "(1347, 64) (450, 64)"
    assert printed[1] == "[{'b': (64,), 'w': (64, 64)}, {'b': (10,), 'w': (64, 10)}]"
    # The mask decays the weight matrices only, like the function mask the page mentions.
    assert printed[2] == "[{'b': False, 'w': True}, {'b': False, 'w': True}]"
    by_ndim = jax.tree.map(lambda p: p.ndim == 2, ns["params"])
    assert ns["decay_mask"](ns["params"]) == by_ndim

    # Training works: measured 0.949 after 6 epochs.
    assert printed[3].startswith("after 6 epochs: test accuracy ")
    assert float(printed[3].rsplit(" ", 1)[1]) > 0.92

    # The learning rate read back from the state is the schedule's value at the last step.
    steps_per_epoch = ns["steps_per_epoch"]
    assert steps_per_epoch == 21
    assert ns["step"] == 6 * steps_per_epoch
    assert float(ns["lr"]) == float(ns["schedule"](ns["step"] - 1))
    assert 1e-3 < float(ns["lr"]) < 3e-3  # past the warmup, half-way down the cosine
    assert printed[4] == "step 126: learning rate 0.00174631, schedule(step - 1) = 0.00174631"
    assert printed[5].startswith("gradient norm of the last step, before clipping: ")

    # The mask: the weights' updates differ by -lr * wd * w, the biases' not at all.
    next_lr = float(ns["next_lr"])
    for layer, a, b in zip(
        ns["ckpt"]["params"], ns["with_decay"], ns["without_decay"], strict=True
    ):
        np.testing.assert_allclose(a["w"] - b["w"], -next_lr * 1e-2 * layer["w"], rtol=0, atol=1e-9)
        assert not np.allclose(a["w"] - b["w"], 0.0)
        np.testing.assert_array_equal(a["b"], b["b"])
    factors = [float(line.split("decay = ")[1].split(" ")[0]) for line in printed[7:9]]
    np.testing.assert_allclose(factors, -next_lr * 1e-2, rtol=1e-3)
    assert all(line.endswith("bias update unchanged: True") for line in printed[7:9])

    # The resumed run reproduces the uninterrupted one bit for bit.
    assert printed[9] == "resumed run ends with the same parameters: True"
    for a, b in zip(
        jax.tree.leaves(ns["resumed_params"]), jax.tree.leaves(ns["params"]), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert int(gradtx.tree.get(ns["resumed_state"], "step")) == 12 * steps_per_epoch
    assert ns["ckpt"]["epoch"] == 6
    # Trained to the end: measured 0.958; the schedule has decayed to its end value.
    assert float(printed[10].rsplit(" ", 1)[1]) > 0.93
    final_lr = gradtx.hyperparams(ns["opt_state"])["learning_rate"]
    np.testing.assert_allclose(float(final_lr), 3e-5, rtol=0.05)

    # The loss went down (measured: first epoch's mean 2.35, during the warmup; last 0.068).
    losses = np.asarray(ns["losses"])
    assert losses.shape == (12 * steps_per_epoch,)
    first, last = losses[:steps_per_epoch].mean(), losses[-steps_per_epoch:].mean()
    assert last < 0.1 * first

    # The plot was written, as a PNG.
    assert printed[11] == "loss.png True"
    assert ns["plot_path"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(printed) == 12
    assert isinstance(ns["params"][0]["w"], jnp.ndarray)
