"""scale, scale_by_learning_rate, scale_by_schedule, scale_by_sign, centralize against NumPy."""

from __future__ import annotations

import _reference as ref
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 6
RTOL = {"float32": 1e-6, "float64": 1e-12}


def _hyperbolic(count):
    # The course notes' decay alpha_0 / (1 + k t), for an int or an int32 array.
    return 0.1 / (1.0 + 0.5 * count)


CASES = [
    pytest.param(gradtx.scale(-0.5), ref.Scale(-0.5), id="scale"),
    pytest.param(gradtx.scale(3.0), ref.Scale(3.0), id="scale-positive"),
    pytest.param(
        gradtx.scale_by_learning_rate(0.1), ref.ScaleByLearningRate(0.1), id="learning_rate"
    ),
    pytest.param(
        gradtx.scale_by_learning_rate(0.1, flip_sign=False),
        ref.ScaleByLearningRate(0.1, flip_sign=False),
        id="learning_rate-ascent",
    ),
    pytest.param(
        gradtx.scale_by_learning_rate(_hyperbolic),
        ref.ScaleByLearningRate(_hyperbolic),
        id="learning_rate-schedule",
    ),
    pytest.param(
        gradtx.scale_by_schedule(_hyperbolic), ref.ScaleBySchedule(_hyperbolic), id="schedule"
    ),
    pytest.param(gradtx.scale_by_sign(), ref.ScaleBySign(), id="sign"),
    pytest.param(gradtx.centralize(), ref.Centralize(), id="centralize"),
    pytest.param(
        gradtx.chain(gradtx.centralize(), gradtx.scale_by_sign()),
        ref.Chain(ref.Centralize(), ref.ScaleBySign()),
        id="centralize-then-sign",
    ),
]


@pytest.mark.parametrize(("tx", "reference"), CASES)
def test_matches_reference(tx, reference, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(tx, params, grads)
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_schedule_sees_the_number_of_previous_updates():
    tx = gradtx.scale_by_schedule(lambda count: 10.0**count)
    state = tx.init(None)
    seen = []
    for _ in range(4):
        u, state = tx.update(jnp.ones([]), state)
        seen.append(float(u))
    assert seen == [1.0, 10.0, 100.0, 1000.0]


def test_centralize_leaves_low_rank_leaves_and_zeroes_row_means(rng):
    g = {
        "m": jnp.asarray(rng.normal(size=(3, 2, 4)).astype(np.float32)),
        "v": jnp.asarray(rng.normal(size=5).astype(np.float32)),
    }
    tx = gradtx.centralize()
    u, _ = tx.update(g, tx.init(None))
    np.testing.assert_array_equal(u["v"], g["v"])
    np.testing.assert_allclose(np.mean(np.asarray(u["m"]), axis=(1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(
        u["m"] - g["m"],
        np.broadcast_to(-np.mean(np.asarray(g["m"]), axis=(1, 2), keepdims=True), (3, 2, 4)),
        atol=1e-6,
    )


def test_sign_of_zero_is_zero():
    tx = gradtx.scale_by_sign()
    u, _ = tx.update(jnp.array([0.0, -0.0, 2.0, -1e-30]), tx.init(None))
    np.testing.assert_array_equal(u, [0.0, 0.0, 1.0, -1.0])


def test_negative_learning_rate_raises():
    with pytest.raises(
        ValueError,
        match=r"scale_by_learning_rate\(learning_rate=\.\.\.\)` must "
        r"lie in \[0, inf\); got learning_rate=-0\.1",
    ):
        gradtx.scale_by_learning_rate(-0.1)


def test_schedule_must_be_callable():
    with pytest.raises(
        TypeError,
        match=r"scale_by_schedule\(step_size_fn=\.\.\.\)` must be a "
        r"function of the step count; got float",
    ):
        gradtx.scale_by_schedule(0.1)
