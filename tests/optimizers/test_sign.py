"""sign_sgd, signum, lion and rprop (and scale_by_lion, scale_by_rprop) against NumPy and optax.

The NumPy references below are written from the papers: signSGD and Signum from
Bernstein et al. 2018 (arXiv 1802.04434, Algorithms 1 and 3), Lion from Chen et al.
2023 (arXiv 2302.06675, Program 1), Rprop from Riedmiller & Braun 1993 in the form
without weight backtracking (a flipped gradient is forgotten) that torch implements.
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 10
RTOL = {"float32": 1e-5, "float64": 1e-9}

# Leaves of nested_params in tree order: b[0] (3,), b[1][0] (), w (2, 3).
MASK_TREE = {"w": True, "b": [False, (True, None)]}
MASK_LEAVES = [False, True, True]


def _schedule(count):
    return 0.1 * 0.9**count


# ---------------------------------------------------------------------------------------
# NumPy references


class SignOfEma(ref.Transform):
    """Signum's direction: :math:`m_t = \\beta m_{t-1} + (1-\\beta) g_t`, output
    :math:`\\mathrm{sign}(m_t)` (signSGD when :math:`\\beta = 0`)."""

    def __init__(self, beta: float) -> None:
        self.beta = beta

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        self.m = [self.beta * m + (1 - self.beta) * g for m, g in zip(self.m, grads, strict=True)]
        return [np.sign(m) for m in self.m]


class Lion(ref.Transform):
    """Chen et al. 2023, Program 1: :math:`u = \\mathrm{sign}(\\beta_1 m + (1-\\beta_1) g)`,
    then :math:`m \\leftarrow \\beta_2 m + (1-\\beta_2) g`."""

    def __init__(self, b1: float = 0.9, b2: float = 0.99) -> None:
        self.b1, self.b2 = b1, b2

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        out = [np.sign(self.b1 * m + (1 - self.b1) * g) for m, g in zip(self.m, grads, strict=True)]
        self.m = [self.b2 * m + (1 - self.b2) * g for m, g in zip(self.m, grads, strict=True)]
        return out


class Rprop(ref.Transform):
    """Riedmiller & Braun 1993, without weight backtracking; the output is the step to
    subtract, :math:`\\mathrm{sign}(g_t)\\Delta_t`, 0 where the gradient flipped."""

    def __init__(self, learning_rate, eta_minus=0.5, eta_plus=1.2, min_step=1e-6, max_step=50.0):
        self.delta0 = learning_rate
        self.eta_minus, self.eta_plus = eta_minus, eta_plus
        self.lo, self.hi = min_step, max_step

    def _init(self, params):
        self.delta = [np.full_like(p, self.delta0) for p in params]
        self.prev = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        out = []
        for i, g in enumerate(grads):
            agree = g * self.prev[i]
            factor = np.where(agree > 0, self.eta_plus, np.where(agree < 0, self.eta_minus, 1.0))
            delta = np.clip(self.delta[i] * factor, self.lo, self.hi)
            # A flipped gradient is forgotten: no step now, no adaptation next time.
            g = np.where(agree < 0, 0.0, g)
            self.delta[i], self.prev[i] = delta, g
            out.append(np.sign(g) * delta)
        return out


def ref_sign_sgd(learning_rate):
    return ref.Chain(ref.ScaleBySign(), ref.ScaleByLearningRate(learning_rate))


def ref_signum(learning_rate, beta=0.9):
    return ref.Chain(SignOfEma(beta), ref.ScaleByLearningRate(learning_rate))


def ref_lion(learning_rate, b1=0.9, b2=0.99, weight_decay=1e-3, mask=None):
    return ref.Chain(
        Lion(b1, b2),
        ref.AddDecayedWeights(weight_decay, mask),
        ref.ScaleByLearningRate(learning_rate),
    )


def ref_rprop(learning_rate, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0):
    rprop = Rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)
    return ref.Chain(rprop, ref.Scale(-1.0))


# ---------------------------------------------------------------------------------------
# (1) Against the NumPy references, float32 and float64, on a tree with a None leaf

CASES = [
    pytest.param(gradtx.sign_sgd, ref_sign_sgd, {"learning_rate": 0.1}, id="sign_sgd"),
    pytest.param(
        gradtx.sign_sgd, ref_sign_sgd, {"learning_rate": _schedule}, id="sign_sgd-schedule"
    ),
    pytest.param(gradtx.signum, ref_signum, {"learning_rate": 0.1}, id="signum"),
    pytest.param(
        gradtx.signum, ref_signum, {"learning_rate": _schedule, "beta": 0.5}, id="signum-beta"
    ),
    pytest.param(gradtx.lion, ref_lion, {"learning_rate": 0.1}, id="lion"),
    pytest.param(
        gradtx.lion,
        ref_lion,
        {"learning_rate": _schedule, "b1": 0.5, "b2": 0.8, "weight_decay": 0.5},
        id="lion-args",
    ),
    pytest.param(gradtx.rprop, ref_rprop, {"learning_rate": 0.1}, id="rprop"),
    # Tight bounds: both clamps bind within the run.
    pytest.param(
        gradtx.rprop,
        ref_rprop,
        {
            "learning_rate": 0.1,
            "eta_minus": 0.25,
            "eta_plus": 1.5,
            "min_step_size": 0.03,
            "max_step_size": 0.2,
        },
        id="rprop-bounds",
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    stored = ref.as_stored(factory, reference, kwargs)
    want = ref.run(reference(**stored), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_rprop_bounds_bind(rng):
    # The tight-bounds case above really clamps: the reference's step sizes hit both.
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, STEPS)
    r = Rprop(0.1, 0.25, 1.5, 0.03, 0.2).init(leaves(params))
    seen = set()
    for g in grads:
        r.update(leaves(g))
        seen |= {float(v) for d in r.delta for v in d.ravel()}
    assert 0.03 in seen and 0.2 in seen


@pytest.mark.parametrize(
    ("primitive", "reference", "kwargs"),
    [
        pytest.param(gradtx.scale_by_lion, Lion, {}, id="scale_by_lion"),
        pytest.param(gradtx.scale_by_lion, Lion, {"b1": 0.3, "b2": 0.7}, id="scale_by_lion-args"),
        pytest.param(gradtx.scale_by_rprop, Rprop, {"learning_rate": 0.1}, id="scale_by_rprop"),
        pytest.param(
            gradtx.scale_by_rprop,
            Rprop,
            {"learning_rate": 0.5, "eta_minus": 0.3, "eta_plus": 2.0, "max_step_size": 1.0},
            id="scale_by_rprop-args",
        ),
    ],
)
def test_primitive_matches_reference(primitive, reference, kwargs, float_dtype, rng):
    # A primitive keeps its hyperparameters as given (no float32 storage).
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(primitive(**kwargs), params, grads)
    ref_kwargs = {k.replace("_size", ""): v for k, v in kwargs.items()}
    want = ref.run(reference(**ref_kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


@pytest.mark.parametrize(
    "mask", [MASK_TREE, lambda p: jax.tree.map(lambda x: x.ndim != 1, p)], ids=["tree", "function"]
)
def test_lion_weight_decay_mask(mask, rng):
    params = nested_params(rng, np.float32)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.lion(0.1, weight_decay=0.5, mask=mask), params, grads)
    want = ref.run(
        ref_lion(ref.f32(0.1), ref.f32(0.9), ref.f32(0.99), ref.f32(0.5), MASK_LEAVES),
        leaves(params),
        [leaves(g) for g in grads],
    )
    assert_close_to_reference(got, want, rtol=1e-5)


@pytest.mark.parametrize(
    ("factory", "field", "kwargs"),
    [
        (gradtx.lion, "mu", {"mu_dtype": jnp.bfloat16}),
        (gradtx.signum, "ema", {"accumulator_dtype": jnp.bfloat16}),
    ],
    ids=["lion", "signum"],
)
def test_accumulator_dtype(factory, field, kwargs, rng):
    params = nested_params(rng, np.float32)
    tx = factory(0.1, **kwargs)
    state = tx.init(params)
    grads = gradient_stream(rng, params, 2)
    for g in grads:
        u, state = tx.update(g, state, params)
    acc = gradtx.tree.get(state, field)
    assert {x.dtype for x in jax.tree.leaves(acc)} == {jnp.dtype(jnp.bfloat16)}
    assert {x.dtype for x in jax.tree.leaves(u)} == {jnp.dtype(jnp.float32)}


def test_lion_complex_sign_is_the_phase():
    # For complex gradients sign(z) = z/|z|: Lion's step has modulus learning_rate.
    tx = gradtx.lion(0.1, weight_decay=0.0)
    z = jnp.zeros(2, jnp.complex64)
    g = jnp.array([3.0 + 4.0j, -2.0j], jnp.complex64)
    u, _ = tx.update(g, tx.init(z), z)
    assert u.dtype == jnp.complex64
    np.testing.assert_allclose(u, -0.1 * np.array([0.6 + 0.8j, -1.0j]), rtol=1e-6)


def test_rprop_rejects_complex_naming_the_leaf():
    params = {"a": jnp.zeros(2), "z": [jnp.zeros(2, jnp.complex64)]}
    with pytest.raises(TypeError, match=r"complex parameters at \['z'\]\[0\] \(dtype complex64\)"):
        gradtx.scale_by_rprop(0.1).init(params)
    tx = gradtx.scale_by_rprop(0.1)
    state = tx.init(jnp.zeros(2))
    with pytest.raises(TypeError, match=r"scale_by_rprop` compares the signs.*complex gradients"):
        tx.update(jnp.ones(2, jnp.complex64), state)


def test_rprop_learning_rate_scales_the_step_sizes(rng, x64):
    # The state keeps step sizes in units of the learning rate: setting the rate to
    # `c` times its value scales every later step by `c` (the bounds do not bind here).
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, STEPS)
    tx = gradtx.rprop(0.1)
    state, scaled = tx.init(params), None
    for t, g in enumerate(grads):
        u, state = tx.update(g, state, params)
        if t == 4:
            scaled = gradtx.set_hyperparams(state, learning_rate=0.3)
        if t > 4:
            v, scaled = tx.update(g, scaled, params)
            for a, b in zip(leaves(u), leaves(v), strict=True):
                np.testing.assert_allclose(3 * a, b, rtol=1e-12)


# ---------------------------------------------------------------------------------------
# (2) Against optax, float64, rtol 1e-10


@pytest.fixture(scope="module")
def optax():
    return pytest.importorskip("optax")


@pytest.fixture
def data():
    from parity._sequences import standard_data

    return standard_data()


def _sched(count):
    return 0.1 / (1.0 + 0.25 * count)


MASK = {"w": True, "b": False, "s": True}


def _mask_fn(params):
    return jax.tree.map(lambda x: jnp.ndim(x) >= 1, params)


OPTAX = [
    ("sign_sgd", lambda m: m.sign_sgd(0.1)),
    ("sign_sgd-schedule", lambda m: m.sign_sgd(_sched)),
    ("signum", lambda m: m.signum(0.1)),
    ("signum-beta-schedule", lambda m: m.signum(_sched, beta=0.5)),
    ("signum-accumulator-f32", lambda m: m.signum(0.1, accumulator_dtype=jnp.float32)),
    ("lion", lambda m: m.lion(0.1)),
    ("lion-args", lambda m: m.lion(0.05, b1=0.8, b2=0.9, weight_decay=0.1)),
    ("lion-mask", lambda m: m.lion(0.1, weight_decay=0.1, mask=MASK)),
    ("lion-mask_fn-schedule", lambda m: m.lion(_sched, weight_decay=0.05, mask=_mask_fn)),
    ("lion-mu_dtype-f32", lambda m: m.lion(0.1, mu_dtype=jnp.float32)),
    ("scale_by_lion", lambda m: m.chain(m.scale_by_lion(0.8, 0.95), m.scale(-0.1))),
]


@pytest.mark.parametrize("build", [b for _, b in OPTAX], ids=[i for i, _ in OPTAX])
def test_matches_optax(build, optax, data, x64):
    from parity._sequences import assert_trajectories_close, run_optax_like

    params, grads = data
    got = run_optax_like(build(gradtx), params, grads)
    want = run_optax_like(build(optax), params, grads)
    assert_trajectories_close(got, want, rtol=1e-10)


RPROP = [
    ("rprop", lambda m: m.rprop(0.1)),
    ("rprop-args", lambda m: m.rprop(0.05, eta_minus=0.3, eta_plus=1.5)),
    ("rprop-bounds", lambda m: m.rprop(0.1, min_step_size=0.02, max_step_size=0.3)),
    ("scale_by_rprop", lambda m: m.chain(m.scale_by_rprop(0.1), m.scale(-1.0))),
]


@pytest.mark.parametrize("build", [b for _, b in RPROP], ids=[i for i, _ in RPROP])
def test_rprop_is_optax_one_step_earlier(build, optax, data, x64):
    """optax's rprop is gradtx's one step late, with the step dropped at sign flips.

    optax's first update is 0, and its update at step t+1 is gradtx's at step t where
    g_{t+1} g_t >= 0, and 0 where the gradient changes sign between the two steps.
    """
    from parity._sequences import assert_sequences_close, run_updates

    params, grads = data
    ours = run_updates(build(gradtx), params, grads)
    theirs = run_updates(build(optax), params, grads)
    assert all(np.all(x == 0) for x in jax.tree.leaves(theirs[0]))
    shifted = [
        jax.tree.map(
            lambda u, g1, g0: np.where(g1 * g0 < 0, 0.0, u), ours[t], grads[t + 1], grads[t]
        )
        for t in range(len(grads) - 1)
    ]
    assert_sequences_close(theirs[1:], shifted, rtol=1e-10)
    # The relationship is not vacuous: many entries flip sign (optax drops those
    # steps), and gradtx's first update is already -sign(g_1) times the rate.
    flips = sum(
        int(np.sum(g1[k] * g0[k] < 0))
        for g0, g1 in zip(grads[:-1], grads[1:], strict=True)
        for k in g0
    )
    assert flips > 20
    for k, u in ours[0].items():
        np.testing.assert_array_equal(np.sign(u), -np.sign(grads[0][k]))


# ---------------------------------------------------------------------------------------
# (3) Invalid hyperparameters


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.sign_sgd(-0.1),
            r"`sign_sgd\(learning_rate=\.\.\.\)` must lie in \[0, inf\)",
        ),
        (lambda: gradtx.signum(-0.1), r"`signum\(learning_rate=.*got learning_rate=-0\.1"),
        (lambda: gradtx.signum(0.1, beta=1.5), r"`signum\(beta=\.\.\.\)` must lie in \[0, 1\]"),
        (lambda: gradtx.lion(-1.0), r"`lion\(learning_rate=.*got learning_rate=-1\.0"),
        (
            lambda: gradtx.lion(0.1, b1=-0.1),
            r"`lion\(b1=\.\.\.\)` must lie in \[0, 1\]; got b1=-0\.1",
        ),
        (
            lambda: gradtx.lion(0.1, b2=1.1),
            r"`lion\(b2=\.\.\.\)` must lie in \[0, 1\]; got b2=1\.1",
        ),
        (lambda: gradtx.lion(0.1, weight_decay=-1e-3), r"`lion\(weight_decay=.*got weight_decay"),
        (lambda: gradtx.scale_by_lion(b1=2.0), r"`scale_by_lion\(b1=\.\.\.\)`.*got b1=2\.0"),
        (lambda: gradtx.scale_by_lion(b2=-1.0), r"`scale_by_lion\(b2=\.\.\.\)`.*got b2=-1\.0"),
        (lambda: gradtx.rprop(-0.1), r"`rprop\(learning_rate=.*got learning_rate=-0\.1"),
        (
            lambda: gradtx.rprop(0.1, eta_minus=1.0),
            r"`rprop\(eta_minus=\.\.\.\)` must lie in \(0, 1\); got eta_minus=1\.0",
        ),
        (lambda: gradtx.rprop(0.1, eta_minus=0.0), r"must lie in \(0, 1\); got eta_minus=0\.0"),
        (
            lambda: gradtx.rprop(0.1, eta_plus=1.0),
            r"`rprop\(eta_plus=\.\.\.\)` must lie in \(1, inf\); got eta_plus=1\.0",
        ),
        (lambda: gradtx.rprop(0.1, min_step_size=-1.0), r"`rprop\(min_step_size=.*got min_step"),
        (lambda: gradtx.rprop(0.1, max_step_size=0.0), r"`rprop\(max_step_size=.*\(0, inf\)"),
        (
            lambda: gradtx.rprop(0.1, min_step_size=2.0, max_step_size=1.0),
            r"`rprop\(min_step_size=\.\.\., max_step_size=\.\.\.\)` must bound an interval; "
            r"got min_step_size=2\.0 > max_step_size=1\.0",
        ),
        (lambda: gradtx.scale_by_rprop(-1.0), r"`scale_by_rprop\(learning_rate=.*got learning"),
        (lambda: gradtx.scale_by_rprop(0.1, eta_plus=0.5), r"`scale_by_rprop\(eta_plus=.*got eta"),
        (
            lambda: gradtx.scale_by_rprop(0.1, min_step_size=1.0, max_step_size=0.5),
            r"`scale_by_rprop\(min_step_size=\.\.\., max_step_size=\.\.\.\)` must bound",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------
# (4) Hyperparameters in the state


@pytest.mark.parametrize(
    ("tx", "want"),
    [
        (gradtx.sign_sgd(0.5), {"learning_rate": 0.5}),
        (gradtx.signum(0.5, beta=0.75), {"learning_rate": 0.5, "beta": 0.75}),
        (
            gradtx.lion(0.25, b1=0.5, b2=0.875, weight_decay=0.125),
            {"learning_rate": 0.25, "b1": 0.5, "b2": 0.875, "weight_decay": 0.125},
        ),
        (
            gradtx.rprop(0.5, eta_minus=0.25, eta_plus=1.5, min_step_size=0.125, max_step_size=8),
            {
                "learning_rate": 0.5,
                "eta_minus": 0.25,
                "eta_plus": 1.5,
                "min_step_size": 0.125,
                "max_step_size": 8.0,
            },
        ),
    ],
    ids=["sign_sgd", "signum", "lion", "rprop"],
)
def test_hyperparams_are_in_the_state(tx, want):
    state = tx.init({"w": jnp.zeros(3), "frozen": None})
    hps = gradtx.hyperparams(state)
    assert {k: float(v) for k, v in hps.items()} == want
    assert all(v.dtype == jnp.float32 and v.shape == () for v in hps.values())
    # A schedule's current value is shown after each update.
    u, state = tx.update(
        {"w": jnp.ones(3), "frozen": None}, state, {"w": jnp.zeros(3), "frozen": None}
    )
    assert u["frozen"] is None
    assert float(gradtx.hyperparams(state)["learning_rate"]) == want["learning_rate"]


# ---------------------------------------------------------------------------------------
# (4) Lion's continuous modes ("smooth", "refined")


class LionSquashed(Lion):
    """Lion with the sign replaced by :math:`\\tanh(\\kappa c)` ("smooth") or by
    :math:`c` clipped to [-1, 1] ("refined"), as gradtx's docstring states."""

    def __init__(self, b1=0.9, b2=0.99, mode="hard", smooth_beta=1.0):
        super().__init__(b1, b2)
        self.mode, self.kappa = mode, smooth_beta

    def _update(self, grads, params):
        cs = [self.b1 * m + (1 - self.b1) * g for m, g in zip(self.m, grads, strict=True)]
        self.m = [self.b2 * m + (1 - self.b2) * g for m, g in zip(self.m, grads, strict=True)]
        if self.mode == "smooth":
            return [np.tanh(self.kappa * c) for c in cs]
        if self.mode == "refined":
            return [np.minimum(np.maximum(c, -1.0), 1.0) for c in cs]
        return [np.sign(c) for c in cs]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "smooth"},
        {"mode": "smooth", "smooth_beta": 3.0, "b1": 0.5},
        {"mode": "refined"},
        {"mode": "refined", "b1": 0.3, "b2": 0.7},
    ],
    ids=["smooth", "smooth-beta", "refined", "refined-args"],
)
def test_lion_modes_match_reference(kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    # Gradients of size ~1, so that "refined" is linear for some entries and clipped
    # for others, and "smooth" is far from the sign.
    grads = [jax.tree.map(lambda g: 20 * g, g) for g in gradient_stream(rng, params, STEPS)]
    got = run_gradtx(gradtx.scale_by_lion(**kwargs), params, grads)
    want = ref.run(LionSquashed(**kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])
    outs = np.concatenate([np.abs(x).ravel() for w in want for x in w])
    assert np.any(outs < 0.5) and np.any(outs > 0.9 if kwargs["mode"] == "smooth" else outs == 1)
    # The alias: the same direction, then decoupled weight decay and the learning rate.
    alias = gradtx.lion(0.1, weight_decay=0.0, **kwargs)
    got = run_gradtx(alias, params, grads)
    stored = {k: ref.f32(v) if isinstance(v, float) else v for k, v in kwargs.items()}
    want = ref.run(
        ref.Chain(LionSquashed(**stored), ref.ScaleByLearningRate(ref.f32(0.1))),
        leaves(params),
        [leaves(g) for g in grads],
    )
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_lion_smooth_beta_is_a_hyperparameter_only_when_smooth():
    p = jnp.zeros(2)
    assert "smooth_beta" not in gradtx.hyperparams(gradtx.lion(0.1).init(p))
    assert "smooth_beta" not in gradtx.hyperparams(gradtx.lion(0.1, mode="refined").init(p))
    tx = gradtx.lion(0.1, weight_decay=0.0, mode="smooth", smooth_beta=2.0)
    state = tx.init(p)
    assert float(gradtx.hyperparams(state)["smooth_beta"]) == 2.0
    g = jnp.array([1.0, -3.0])
    u, _ = tx.update(g, gradtx.set_hyperparams(state, smooth_beta=0.5), p)
    np.testing.assert_allclose(u, -0.1 * np.tanh(0.5 * 0.1 * np.array([1.0, -3.0])), rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.scale_by_lion(mode="soft"),
            r"`scale_by_lion\(mode=\.\.\.\)` must be one of \['hard', 'smooth', 'refined'\]; "
            r"got mode='soft'",
        ),
        (
            lambda: gradtx.lion(0.1, mode="Hard"),
            r"`lion\(mode=\.\.\.\)` must be one of \['hard', 'smooth', 'refined'\]",
        ),
        (
            lambda: gradtx.scale_by_lion(mode="smooth", smooth_beta=0.0),
            r"`scale_by_lion\(smooth_beta=\.\.\.\)` must lie in \(0, inf\)",
        ),
        (lambda: gradtx.lion(0.1, smooth_beta=-1.0), r"`lion\(smooth_beta=.*got smooth_beta=-1"),
    ],
)
def test_lion_mode_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
