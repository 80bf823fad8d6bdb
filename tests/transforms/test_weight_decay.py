"""add_decayed_weights against NumPy, with schedules and masks."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 6
RTOL = {"float32": 1e-6, "float64": 1e-12}

# Leaves of nested_params in tree order: b[0] (3,), b[1][0] (), w (2, 3).
MASK_TREE = {"w": True, "b": [False, (True, None)]}
MASK_LEAVES = [False, True, True]


def _decay_schedule(count):
    return 0.1 * 0.5**count


CASES = [
    pytest.param({"weight_decay": 0.1}, {"weight_decay": 0.1}, id="constant"),
    pytest.param({"weight_decay": 0.0}, {"weight_decay": 0.0}, id="zero"),
    pytest.param(
        {"weight_decay": _decay_schedule}, {"weight_decay": _decay_schedule}, id="schedule"
    ),
    pytest.param(
        {"weight_decay": 0.3, "mask": MASK_TREE},
        {"weight_decay": 0.3, "mask": MASK_LEAVES},
        id="mask-tree",
    ),
    pytest.param(
        {"weight_decay": 0.3, "mask": lambda p: jax.tree.map(lambda x: x.ndim != 1, p)},
        {"weight_decay": 0.3, "mask": MASK_LEAVES},
        id="mask-function",
    ),
    pytest.param(
        {"weight_decay": _decay_schedule, "mask": MASK_TREE},
        {"weight_decay": _decay_schedule, "mask": MASK_LEAVES},
        id="mask-schedule",
    ),
]


@pytest.mark.parametrize(("kwargs", "ref_kwargs"), CASES)
def test_matches_reference(kwargs, ref_kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.add_decayed_weights(**kwargs), params, grads)
    want = ref.run(ref.AddDecayedWeights(**ref_kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_masked_out_leaves_pass_unchanged(rng):
    params = nested_params(rng, np.float32)
    g = gradient_stream(rng, params, 1)[0]
    tx = gradtx.add_decayed_weights(10.0, mask=MASK_TREE)
    u, _ = tx.update(g, tx.init(params), params)
    np.testing.assert_array_equal(u["b"][0], g["b"][0])
    assert u["b"][1][1] is None
    np.testing.assert_allclose(u["w"], g["w"] + 10.0 * params["w"], rtol=1e-6)


@pytest.mark.parametrize(
    ("mask", "path"),
    [
        pytest.param({"w": 1, "b": [True, (True, None)]}, r"\['w'\]", id="int"),
        pytest.param(
            {"w": True, "b": [jnp.ones(3, bool), (True, None)]}, r"\['b'\]\[0\]", id="array"
        ),
        pytest.param({"w": True, "b": [True, ("yes", None)]}, r"\['b'\]\[1\]\[0\]", id="str"),
    ],
)
def test_non_boolean_mask_raises_type_error_naming_the_path(mask, path, rng):
    params = nested_params(rng, np.float32)
    tx = gradtx.add_decayed_weights(0.1, mask=mask)
    with pytest.raises(TypeError, match=r"mask leaves must be booleans; at " + path):
        tx.init(params)


def test_negative_weight_decay_raises():
    with pytest.raises(
        ValueError,
        match=r"add_decayed_weights\(weight_decay=\.\.\.\)` must lie "
        r"in \[0, inf\); got weight_decay=-0\.1",
    ):
        gradtx.add_decayed_weights(-0.1)


def test_update_without_params_raises():
    tx = gradtx.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match=r"add_decayed_weights` needs the parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
