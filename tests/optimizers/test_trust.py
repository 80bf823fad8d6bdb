"""lamb, lars, fromage, noisy_sgd, polyak_sgd and the optimistic optimizers.

The NumPy references below are written from the papers' update rules (each cites its
equation); optax is only called, as a black box, for the parity tests.
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 6
RTOL = {"float32": 2e-5, "float64": 1e-9}


# --------------------------------------------------------------------------------------
# NumPy references, one step per call, on flat lists of float64 leaves.


def _trust(p, u, tc=1.0, eps=0.0, min_norm=0.0):
    """You et al. 2017/2019: the layer-wise ratio, 1 where either norm is zero."""
    pn = max(np.linalg.norm(p), min_norm)
    un = max(np.linalg.norm(u), min_norm)
    return tc * pn / (un + eps) if pn > 0 and un > 0 else 1.0


class Lamb:
    """You et al. 2019, Algorithm 2 (phi = identity)."""

    def __init__(self, learning_rate, b1, b2, eps, eps_root=0.0, weight_decay=0.0):
        self.lr, self.b1, self.b2, self.eps, self.eps_root = learning_rate, b1, b2, eps, eps_root
        self.wd, self.t = weight_decay, 0

    def init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        return self

    def update(self, grads, params):
        self.t += 1
        out = []
        for i, (g, p) in enumerate(zip(grads, params, strict=True)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            m_hat = self.m[i] / (1 - self.b1**self.t)
            v_hat = self.v[i] / (1 - self.b2**self.t)
            r = m_hat / (np.sqrt(v_hat + self.eps_root) + self.eps) + self.wd * p
            out.append(-self.lr * _trust(p, r) * r)
        return out


class Lars:
    """You et al. 2017, Algorithm 1, with the ratio on ||g + wd p|| (see lars's note)."""

    def __init__(self, learning_rate, weight_decay, trust_coefficient, eps, momentum, nesterov):
        self.lr, self.wd, self.tc, self.eps = learning_rate, weight_decay, trust_coefficient, eps
        self.mu, self.nesterov = momentum, nesterov

    def init(self, params):
        self.v = [np.zeros_like(p) for p in params]
        return self

    def update(self, grads, params):
        out = []
        for i, (g, p) in enumerate(zip(grads, params, strict=True)):
            d = g + self.wd * p
            step = -self.lr * _trust(p, d, self.tc, self.eps) * d
            self.v[i] = self.mu * self.v[i] + step
            out.append(step + self.mu * self.v[i] if self.nesterov else self.v[i])
        return out


class Fromage:
    """Bernstein et al. 2020, Algorithm 1."""

    def __init__(self, learning_rate, min_norm):
        self.lr, self.min_norm = learning_rate, min_norm

    def init(self, params):
        return self

    def update(self, grads, params):
        out = []
        for g, p in zip(grads, params, strict=True):
            r = _trust(p, g, min_norm=self.min_norm)
            new = (p - self.lr * r * g) / np.sqrt(1 + self.lr**2)
            out.append(new - p)
        return out


class Polyak:
    """Loizou et al. 2021, SPS_max (their eq. 4 with the scaling c), in polyak_sgd's
    documented form: min((f - f*) / (c^2 |g|^2 + eps), gmax) c g; ``plus`` clips f - f*
    at zero."""

    def __init__(self, max_learning_rate, scaling, f_min, eps, plus=False):
        self.gmax, self.c, self.f_min, self.eps, self.plus = (
            max_learning_rate,
            scaling,
            f_min,
            eps,
            plus,
        )

    def update(self, grads, value):
        gap = value - self.f_min
        if self.plus:
            gap = max(gap, 0.0)
        sq = sum(float(np.sum((self.c * g) ** 2)) for g in grads)
        step = min(gap / (sq + self.eps), self.gmax)
        return [-step * self.c * g for g in grads]


class Optimistic:
    """Daskalakis et al. 2018: u_t = -lr (a d_t + b (d_t - d_{t-1})), d_0 = d_1; d_t is
    the gradient (OGD, eq. 4) or Adam's direction (Optimistic Adam, Algorithm 1)."""

    def __init__(self, learning_rate, alpha, beta, adam=None):
        self.lr, self.a, self.b, self.adam = learning_rate, alpha, beta, adam

    def init(self, params):
        self.prev = None
        if self.adam is not None:
            self.adam.init(params)
        return self

    def update(self, grads, params):
        d = grads if self.adam is None else self.adam.update(grads, params)
        prev = d if self.prev is None else self.prev
        self.prev = d
        return [-self.lr * (self.a * x + self.b * (x - y)) for x, y in zip(d, prev, strict=True)]


# --------------------------------------------------------------------------------------
# Against the references


def _stored(**kwargs):
    return {k: ref.f32(v) if isinstance(v, float) else v for k, v in kwargs.items()}


CASES = [
    pytest.param(
        gradtx.lamb,
        lambda **k: Lamb(**k),
        dict(learning_rate=0.1, b1=0.9, b2=0.999, eps=1e-6),
        id="lamb",
    ),
    pytest.param(
        gradtx.lamb,
        lambda **k: Lamb(**k),
        dict(learning_rate=0.05, b1=0.5, b2=0.9, eps=1e-3, eps_root=1e-4, weight_decay=0.1),
        id="lamb-args",
    ),
    pytest.param(
        gradtx.lars,
        lambda **k: Lars(**k),
        dict(
            learning_rate=0.1,
            weight_decay=0.1,
            trust_coefficient=0.02,
            eps=1e-3,
            momentum=0.9,
            nesterov=False,
        ),
        id="lars",
    ),
    pytest.param(
        gradtx.lars,
        lambda **k: Lars(**k),
        dict(
            learning_rate=0.1,
            weight_decay=0.0,
            trust_coefficient=0.001,
            eps=0.0,
            momentum=0.5,
            nesterov=True,
        ),
        id="lars-nesterov",
    ),
    pytest.param(
        gradtx.fromage,
        lambda **k: Fromage(**k),
        dict(learning_rate=0.3, min_norm=1e-6),
        id="fromage",
    ),
    pytest.param(
        gradtx.fromage,
        lambda **k: Fromage(**k),
        dict(learning_rate=0.1, min_norm=2.0),
        id="fromage-mn",
    ),
    pytest.param(
        gradtx.optimistic_gradient_descent,
        lambda **k: Optimistic(**k),
        dict(learning_rate=0.1, alpha=0.5, beta=1.5),
        id="ogd",
    ),
    pytest.param(
        lambda **k: gradtx.optimistic_adam_v2(k.pop("learning_rate"), nesterov=False, **k),
        lambda b1, b2, eps, **k: Optimistic(
            **k, adam=ref.adam(learning_rate=-1.0, b1=b1, b2=b2, eps=eps)
        ),
        dict(learning_rate=0.1, alpha=1.0, beta=1.0, b1=0.9, b2=0.999, eps=1e-8),
        id="optimistic_adam_v2",
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    want = ref.run(reference(**_stored(**kwargs)), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


@pytest.mark.parametrize("variant", ["sps", "sps+"])
def test_polyak_sgd_matches_reference(variant, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    values = rng.uniform(-0.5, 3.0, size=STEPS)  # some below f_min
    kw = dict(max_learning_rate=0.8, scaling=0.5, f_min=0.25, eps=1e-3)
    tx = gradtx.polyak_sgd(**kw, variant=variant)
    reference = Polyak(**_stored(**kw), plus=variant == "sps+")
    state = tx.init(params)
    for g, v in zip(grads, values, strict=True):
        u, state = tx.update(g, state, params, value=jnp.asarray(v, float_dtype))
        assert u["b"][1][1] is None
        want = reference.update(leaves(g), float(np.asarray(v, float_dtype)))
        assert_close_to_reference([u], [want], rtol=RTOL[float_dtype.name])


def test_polyak_zero_gradient_gives_zero_update():
    tx = gradtx.scale_by_polyak()
    u, _ = tx.update(jnp.zeros(3), tx.init(jnp.zeros(3)), value=jnp.asarray(0.0))
    np.testing.assert_array_equal(u, np.zeros(3))


def test_polyak_without_value_names_it():
    tx = gradtx.polyak_sgd()
    with pytest.raises(ValueError, match=r"`scale_by_polyak` needs the loss: .*value=loss"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2))


def test_trust_ratio_is_one_where_a_norm_is_zero():
    tx = gradtx.scale_by_trust_ratio(trust_coefficient=0.5, eps=0.1)
    p = {"zero": jnp.zeros(2), "w": jnp.asarray([3.0, 4.0])}
    g = {"zero": jnp.asarray([1.0, 2.0]), "w": jnp.zeros(2)}
    u, _ = tx.update(g, tx.init(p), p)
    np.testing.assert_array_equal(u["zero"], [1.0, 2.0])
    np.testing.assert_array_equal(u["w"], [0.0, 0.0])
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(u))


def test_add_noise_variance_anneals_and_key_is_in_state(x64):
    eta, gamma, n = 0.5, 0.55, 200_000
    tx = gradtx.add_noise(eta, gamma, key=3)
    state = tx.init(jnp.zeros(n))
    for t in range(3):
        u, new_state = tx.update(jnp.zeros(n), state)
        assert float(np.var(np.asarray(u))) == pytest.approx(eta / (1 + t) ** gamma, rel=0.02)
        # The same state gives the same noise; the next state gives different noise.
        np.testing.assert_array_equal(u, tx.update(jnp.zeros(n), state)[0])
        assert not np.array_equal(u, tx.update(jnp.zeros(n), new_state)[0])
        state = new_state
    assert int(state.count) == 3


# --------------------------------------------------------------------------------------
# Parity with optax (float64, varying gradients)

optax = pytest.importorskip("optax")

PARITY = [
    ("lamb", lambda m: m.lamb(0.1, weight_decay=0.01)),
    ("lamb-mask", lambda m: m.lamb(0.1, b1=0.5, weight_decay=0.1, mask={"w": True, "b": False})),
    ("lars", lambda m: m.lars(0.1)),
    (
        "lars-args",
        lambda m: m.lars(
            0.1,
            weight_decay=0.01,
            weight_decay_mask={"w": True, "b": False},
            trust_coefficient=0.02,
            eps=1e-3,
            trust_ratio_mask={"w": True, "b": False},
            momentum=0.5,
            nesterov=True,
        ),
    ),
    ("fromage", lambda m: m.fromage(0.2)),
    ("fromage-mn", lambda m: m.fromage(0.1, min_norm=1.5)),
    ("noisy_sgd", lambda m: m.noisy_sgd(0.1, eta=0.3, key=7)),
    ("optimistic_gd", lambda m: m.optimistic_gradient_descent(0.1, alpha=0.5, beta=1.5)),
    ("optimistic_adam_v2", lambda m: m.optimistic_adam_v2(0.1)),
    ("optimistic_adam_v2-plain", lambda m: m.optimistic_adam_v2(0.1, beta=0.5, nesterov=False)),
    ("scale_by_trust_ratio", lambda m: m.scale_by_trust_ratio(0.5, 0.3, 0.1)),
    ("add_noise", lambda m: m.add_noise(0.2, 0.55, key=1)),
    ("scale_by_optimistic_gradient", lambda m: m.scale_by_optimistic_gradient(0.3, 0.6)),
]


def _parity_data(rng, steps=12):
    params = {
        "w": rng.normal(size=(3, 4)) + 0.5,
        "b": np.zeros(4),  # a zero leaf: the trust ratio is 1 there at first
    }
    scales = 10.0 ** rng.uniform(-2, 1, size=steps)
    grads = [{k: s * rng.normal(size=v.shape) for k, v in params.items()} for s in scales]
    return params, grads


def _trajectory(tx, params, grads, values=None):
    p = jax.tree.map(jnp.asarray, params)
    state, out = tx.init(p), []
    for t, g in enumerate(grads):
        extra = {} if values is None else {"value": jnp.asarray(values[t])}
        u, state = tx.update(jax.tree.map(jnp.asarray, g), state, p, **extra)
        p = jax.tree.map(lambda a, b: a + b, p, u)
        out.append(jax.tree.map(np.asarray, p))
    return out


def _max_rel(got, want):
    err = 0.0
    for a, b in zip(got, want, strict=True):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            scale = max(float(np.max(np.abs(y))), 1e-300)
            err = max(err, float(np.max(np.abs(x - y))) / scale)
    return err


@pytest.mark.parametrize(("name", "build"), PARITY, ids=[c[0] for c in PARITY])
def test_matches_optax(name, build, x64, rng):
    params, grads = _parity_data(rng)
    got = _trajectory(build(gradtx), params, grads)
    want = _trajectory(build(optax), params, grads)
    assert _max_rel(got, want) < 1e-10, name


@pytest.mark.parametrize("variant", ["sps", "sps+"])
def test_polyak_sgd_matches_optax(variant, x64, rng):
    params, grads = _parity_data(rng)
    values = rng.uniform(-0.5, 3.0, size=len(grads))
    kw = dict(max_learning_rate=0.8, scaling=0.5, f_min=0.25, eps=1e-3, variant=variant)
    got = _trajectory(gradtx.polyak_sgd(**kw), params, grads, values)
    want = _trajectory(optax.polyak_sgd(**kw), params, grads, values)
    assert _max_rel(got, want) < 1e-10


NAMES = [
    "lamb",
    "lars",
    "fromage",
    "noisy_sgd",
    "polyak_sgd",
    "optimistic_gradient_descent",
    "optimistic_adam",
    "optimistic_adam_v2",
    "scale_by_trust_ratio",
    "add_noise",
    "scale_by_polyak",
    "scale_by_optimistic_gradient",
]


@pytest.mark.parametrize("name", NAMES)
def test_signature_matches_optax(name):
    import inspect

    def params(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]

    ours, theirs = params(getattr(gradtx, name)), params(getattr(optax, name))
    assert ours[: len(theirs)] == theirs


# --------------------------------------------------------------------------------------
# Errors and hyperparameters


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gradtx.lamb(-1.0), r"`lamb\(learning_rate=\.\.\.\)` must lie in \[0, inf\)"),
        (lambda: gradtx.lamb(0.1, weight_decay=-1.0), r"`lamb\(weight_decay=.*got weight_decay"),
        (lambda: gradtx.lamb(0.1, b1=1.5), r"b1=\.\.\.\)` must lie in \[0, 1\]; got b1=1\.5"),
        (lambda: gradtx.lars(0.1, momentum=1.5), r"`lars\(momentum=.*got momentum=1\.5"),
        (lambda: gradtx.lars(0.1, trust_coefficient=-1.0), r"`lars\(trust_coefficient="),
        (lambda: gradtx.lars(0.1, eps=-1.0), r"`lars\(eps=.*got eps=-1\.0"),
        (lambda: gradtx.fromage(-0.1), r"`fromage\(learning_rate=.*got learning_rate=-0\.1"),
        (lambda: gradtx.fromage(0.1, min_norm=-1.0), r"`fromage\(min_norm=.*got min_norm"),
        (lambda: gradtx.noisy_sgd(0.1, eta=-1.0, key=0), r"`noisy_sgd\(eta=.*got eta=-1\.0"),
        (lambda: gradtx.noisy_sgd(0.1, gamma=-1.0, key=0), r"`noisy_sgd\(gamma=.*got gamma"),
        (lambda: gradtx.add_noise(0.1, 0.5, key=0, seed=1), r"`add_noise` takes `key` or `seed`"),
        (lambda: gradtx.add_noise(-0.1, 0.5, key=0), r"`add_noise\(eta=.*got eta=-0\.1"),
        (lambda: gradtx.polyak_sgd(-1.0), r"`polyak_sgd\(max_learning_rate=.*got max_learn"),
        (lambda: gradtx.polyak_sgd(scaling=-1.0), r"`polyak_sgd\(scaling=.*got scaling=-1\.0"),
        (lambda: gradtx.polyak_sgd(eps=-1.0), r"`polyak_sgd\(eps=.*got eps=-1\.0"),
        (lambda: gradtx.polyak_sgd(variant="sps++"), r"variant=\.\.\.\)` must be one of"),
        (lambda: gradtx.scale_by_trust_ratio(min_norm=-1.0), r"`scale_by_trust_ratio\(min_norm"),
        (
            lambda: gradtx.optimistic_gradient_descent(0.1, alpha=-1.0),
            r"`optimistic_gradient_descent\(alpha=.*got alpha=-1\.0",
        ),
        (lambda: gradtx.optimistic_adam_v2(0.1, beta=-1.0), r"`optimistic_adam_v2\(beta="),
        (lambda: gradtx.optimistic_adam(-0.1), r"`optimistic_adam\(learning_rate=.*got learn"),
        (
            lambda: gradtx.optimistic_adam(0.1, optimism=-1.0),
            r"`optimistic_adam\(optimism=\.\.\.\)` must lie in \[0, inf\); got optimism=-1\.0",
        ),
        (lambda: gradtx.optimistic_adam(0.1, b1=1.5), r"b1=\.\.\.\)` must lie in \[0, 1\]"),
        (lambda: gradtx.optimistic_adam_v2(0.1, b2=2.0), r"got b2=2\.0"),
        (lambda: gradtx.scale_by_optimistic_gradient(-1.0), r"optimistic_gradient\(alpha="),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_trust_ratio_needs_params():
    for tx, fn in [(gradtx.lamb(0.1), "add_decayed_weights"), (gradtx.fromage(0.1), "")]:
        with pytest.raises(ValueError, match=rf"`{fn}\w*` needs the parameters"):
            tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_add_noise_without_key_warns():
    with pytest.warns(UserWarning, match=r"`add_noise` got no key; using seed 0"):
        gradtx.add_noise(0.1, 0.5)


@pytest.mark.parametrize(
    ("tx", "names"),
    [
        (
            gradtx.lamb(0.1),
            ["b1", "b2", "eps", "eps_root", "learning_rate", "weight_decay"],
        ),
        (
            gradtx.lars(0.1),
            ["eps", "learning_rate", "momentum", "trust_coefficient", "weight_decay"],
        ),
        (gradtx.fromage(0.1), ["learning_rate", "min_norm"]),
        (gradtx.noisy_sgd(0.1, key=0), ["eta", "gamma", "learning_rate"]),
        (gradtx.polyak_sgd(), ["eps", "f_min", "max_learning_rate", "scaling"]),
        (gradtx.optimistic_gradient_descent(0.1), ["alpha", "beta", "learning_rate"]),
        (
            gradtx.optimistic_adam_v2(0.1),
            ["alpha", "b1", "b2", "beta", "eps", "eps_root", "learning_rate"],
        ),
        (gradtx.optimistic_adam(0.1), ["b1", "b2", "eps", "eps_root", "learning_rate"]),
        (
            gradtx.optimistic_adam(0.1, 0.5),
            ["b1", "b2", "eps", "eps_root", "learning_rate", "optimism"],
        ),
    ],
)
def test_hyperparams_are_in_state(tx, names):
    hps = gradtx.hyperparams(tx.init({"w": jnp.ones(3)}))
    assert sorted(hps) == names
    assert all(hps[k].dtype == jnp.float32 for k in names)


def test_set_hyperparams_changes_lamb_weight_decay():
    p = {"w": jnp.asarray([3.0, 4.0])}
    tx = gradtx.lamb(0.1, weight_decay=0.0)
    state = gradtx.set_hyperparams(tx.init(p), weight_decay=1.0)
    assert float(gradtx.hyperparams(state)["weight_decay"]) == 1.0
    u0, _ = tx.update({"w": jnp.zeros(2)}, tx.init(p), p)
    u1, _ = tx.update({"w": jnp.zeros(2)}, state, p)
    np.testing.assert_array_equal(u0["w"], [0.0, 0.0])
    # With a zero gradient the direction is the decay: a step of lr * |p| towards 0.
    np.testing.assert_allclose(u1["w"], [-0.3, -0.4], rtol=1e-6)


# --------------------------------------------------------------------------------------
# optimistic_adam (optax's first version): the paper's Algorithm 1, NumPy reference


class OptimisticAdamPaper:
    """Daskalakis et al. 2018, Algorithm 1 (Optimistic Adam), with the optimism as its
    own weight: :math:`r_t = \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)`, step
    :math:`-\\alpha r_t - o (r_t - r_{t-1})` (:math:`o = \\alpha` is the paper's
    :math:`-2\\alpha r_t + \\alpha r_{t-1}`), with :math:`r_0 = r_1`."""

    def __init__(self, learning_rate, optimism, b1, b2, eps):
        self.lr, self.o, self.b1, self.b2, self.eps = learning_rate, optimism, b1, b2, eps

    def init(self, params):
        self.t, self.prev = 0, None
        self.m = [np.zeros_like(p, dtype=np.float64) for p in params]
        self.v = [np.zeros_like(p, dtype=np.float64) for p in params]
        return self

    def update(self, grads, params):
        self.t += 1
        rs = []
        for i, g in enumerate(grads):
            g = np.asarray(g, np.float64)
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            m_hat = self.m[i] / (1 - self.b1**self.t)
            v_hat = self.v[i] / (1 - self.b2**self.t)
            rs.append(m_hat / (np.sqrt(v_hat) + self.eps))
        prev = rs if self.prev is None else self.prev
        self.prev = rs
        return [-self.lr * r - self.o * (r - q) for r, q in zip(rs, prev, strict=True)]


@pytest.mark.parametrize(
    ("lr", "optimism", "b1", "b2"),
    [(0.1, None, 0.9, 0.999), (0.05, 0.3, 0.8, 0.99)],
    ids=["paper", "optimism"],
)
def test_optimistic_adam_matches_paper(lr, optimism, b1, b2, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    tx = gradtx.optimistic_adam(lr, optimism, b1=b1, b2=b2, eps=1e-8, nesterov=False)
    got = run_gradtx(tx, params, grads)
    o = lr if optimism is None else optimism
    reference = OptimisticAdamPaper(*(ref.f32(x) for x in (lr, o, b1, b2, 1e-8)))
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_optimistic_adam_is_v2_with_relative_optimism(rng, x64):
    # optimistic_adam(lr, o) == optimistic_adam_v2(lr, alpha=1, beta=o / lr).
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.optimistic_adam(0.125, 0.5), params, grads)
    want = run_gradtx(gradtx.optimistic_adam_v2(0.125, alpha=1.0, beta=4.0), params, grads)
    assert_close_to_reference(got, [leaves(w) for w in want], rtol=1e-12)


def test_optimistic_adam_optimism_follows_the_learning_rate(rng, x64):
    # Without `optimism`, setting the learning rate sets the optimism too.
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, 3)
    tx = gradtx.optimistic_adam(0.1)
    state = gradtx.set_hyperparams(tx.init(params), learning_rate=0.25)
    ours, theirs = tx, gradtx.optimistic_adam(0.25, 0.25)
    s1, s2 = state, theirs.init(params)
    for g in grads:
        u1, s1 = ours.update(g, s1, params)
        u2, s2 = theirs.update(g, s2, params)
        for a, b in zip(leaves(u1), leaves(u2), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)
