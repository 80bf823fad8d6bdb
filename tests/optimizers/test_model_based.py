"""momo, momo_adam, sophia, dpsgd and their primitives.

The NumPy references below are written from the papers' update rules; optax is only
called, as a black box, for the parity tests.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params

import gradtx

STEPS = 6
RTOL = {"float32": 2e-5, "float64": 1e-9}


# --------------------------------------------------------------------------------------
# NumPy references, one step per call, on flat lists of float64 leaves.


class Momo:
    """Schaipp et al. 2023, Algorithm 1 (MoMo) and Algorithm 2 (MoMo-Adam).

    MoMo averages with beta = 0 at the first step; MoMo-Adam bias-corrects its averages
    by 1 - b1^t and preconditions with D = eps + sqrt(v / (1 - b2^t)). Weight decay:
    the minimizer of max(h + <d, x - x_t>, lb) + wd/2 |x|^2 + |x - x_t|^2 / (2 lr),
    x_{t+1} = (x_t - tau D^-1 d) / rho with rho = 1 + lr wd and
    tau = min(lr, (rho (h - lb) - lr wd <d, x_t>)_+ / |d|^2_{D^-1}). MoMo* (``adapt``):
    a bound above h is first reset to max(h / 2, lb0); after the step it becomes
    max(h - tau |d|^2_{D^-1} / 2, lb0).
    """

    def __init__(self, lr, beta, lb=0.0, wd=0.0, adapt=False, adam=False, b2=0.999, eps=1e-8):
        self.lr, self.beta, self.lb0, self.lb, self.wd = lr, beta, lb, lb, wd
        self.adapt, self.adam, self.b2, self.eps, self.t = adapt, adam, b2, eps, 0

    def init(self, params):
        self.d = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.fbar = self.gamma = 0.0
        return self

    def update(self, grads, params, value):
        self.t += 1
        b = self.beta if (self.adam or self.t > 1) else 0.0
        c = 1 - self.beta**self.t if self.adam else 1.0
        gx = sum(float(np.sum(g * p)) for g, p in zip(grads, params, strict=True))
        self.fbar = b * self.fbar + (1 - b) * value
        self.gamma = b * self.gamma + (1 - b) * gx
        pre = []
        for i, g in enumerate(grads):
            self.d[i] = b * self.d[i] + (1 - b) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            pre.append(self.eps + np.sqrt(self.v[i] / (1 - self.b2**self.t)) if self.adam else 1.0)
        d = [x / c for x in self.d]
        h = (
            self.fbar / c
            + sum(float(np.sum(x * p)) for x, p in zip(d, params, strict=True))
            - self.gamma / c
        )
        sq = sum(float(np.sum(x * x / q)) for x, q in zip(d, pre, strict=True))
        dx = sum(float(np.sum(x * p)) for x, p in zip(d, params, strict=True))
        rho = 1 + self.lr * self.wd
        if self.adapt and h < self.lb:
            self.lb = max(h / 2, self.lb0)
        tau = min(self.lr, max(rho * (h - self.lb) - self.lr * self.wd * dx, 0.0) / sq)
        out = [(p - tau * x / q) / rho - p for p, x, q in zip(params, d, pre, strict=True)]
        if self.adapt:
            self.lb = max(h - tau * sq / 2, self.lb0)
        return out


class Sophia:
    """Liu et al. 2023, Algorithm 3, with the exact Hessian diagonal ``hess(params)``.

    The step divides the bias-corrected momentum by the curvature average from before
    this step's estimate (see ``scale_by_sophia``).
    """

    def __init__(self, lr, b1, b2, eps, wd, gamma, clip, k, hess):
        self.lr, self.b1, self.b2, self.eps, self.wd = lr, b1, b2, eps, wd
        self.gamma, self.clip, self.k, self.hess, self.t = gamma, clip, k, hess, 0

    def init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.h = [np.zeros_like(p) for p in params]
        return self

    def update(self, grads, params):
        old_h = [x.copy() for x in self.h]
        if self.t % self.k == 0:
            diag = self.hess(params)
            self.h = [self.b2 * h + (1 - self.b2) * e for h, e in zip(self.h, diag, strict=True)]
        self.t += 1
        out = []
        for i, (g, p) in enumerate(zip(grads, params, strict=True)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            r = self.m[i] / (1 - self.b1**self.t) / np.maximum(self.gamma * old_h[i], self.eps)
            if self.clip is not None:
                r = np.clip(r, -self.clip, self.clip)
            out.append(-self.lr * (r + self.wd * p))
        return out


def _dp_mean(per_example, clip):
    """Abadi et al. 2016, Algorithm 1 without noise: clip each example, average."""
    batch = per_example[0].shape[0]
    norms = np.sqrt(sum(np.sum(g.reshape(batch, -1) ** 2, axis=1) for g in per_example))
    scale = 1 / np.maximum(1.0, norms / clip)
    return [np.einsum("b...,b->...", g, scale) / batch for g in per_example]


# --------------------------------------------------------------------------------------
# Against the references, float32 and float64, on nested trees with a None leaf.


def _run(tx, params, grads, values=None, obj_fn=None):
    """Run ``tx`` under one jit, passing ``value=values[t]`` and/or ``obj_fn``."""

    @jax.jit
    def step(g, state, p, value):
        extra = {} if obj_fn is None else {"obj_fn": obj_fn}
        if value is not None:
            extra["value"] = value
        return tx.update(g, state, p, **extra)

    state, out = tx.init(params), []
    for t, g in enumerate(grads):
        u, state = step(g, state, params, None if values is None else values[t])
        assert jax.tree.structure(u, is_leaf=lambda x: x is None) == jax.tree.structure(
            g, is_leaf=lambda x: x is None
        )
        assert all(
            a.dtype == b.dtype for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True)
        )
        params = gradtx.apply_updates(params, u)
        out.append(u)
    return out


MOMO_CASES = [
    ("momo", dict(learning_rate=0.5), dict(lr=0.5, beta=0.9)),
    (
        "momo",
        dict(learning_rate=0.5, beta=0.8, lower_bound=-0.5, weight_decay=0.1),
        dict(lr=0.5, beta=0.8, lb=-0.5, wd=0.1),
    ),
    (
        "momo",
        dict(learning_rate=5.0, adapt_lower_bound=True),
        dict(lr=5.0, beta=0.9, adapt=True),
    ),
    ("momo_adam", dict(learning_rate=0.05), dict(lr=0.05, beta=0.9, adam=True)),
    (
        "momo_adam",
        dict(learning_rate=0.5, b1=0.8, b2=0.9, eps=1e-3, weight_decay=0.1),
        dict(lr=0.5, beta=0.8, b2=0.9, eps=1e-3, wd=0.1, adam=True),
    ),
    (
        "momo_adam",
        dict(learning_rate=5.0, adapt_lower_bound=True, lower_bound=0.1),
        dict(lr=5.0, beta=0.9, adam=True, adapt=True, lb=0.1),
    ),
]


@pytest.mark.parametrize(("name", "kw", "ref_kw"), MOMO_CASES)
def test_momo_matches_reference(name, kw, ref_kw, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    values = rng.uniform(0.5, 3.0, size=STEPS)
    got = _run(getattr(gradtx, name)(**kw), params, grads, jnp.asarray(values, float_dtype))
    ref = Momo(**ref_kw).init(leaves(params))
    p, want = leaves(params), []
    for g, v, u in zip(grads, values, got, strict=True):
        want.append(
            ref.update(leaves(g), p, float(np.float32(v)) if float_dtype == np.float32 else v)
        )
        p = [a + b for a, b in zip(p, leaves(u), strict=True)]  # follow gradtx's iterates
    assert_close_to_reference(got, want, RTOL[float_dtype.name])


def _separable(params):
    """f = sum(a p^2 / 2 + p^4 / 4) over the leaves: its Hessian is diagonal."""
    return sum(
        jnp.sum(0.5 * (1 + i) * x**2 + 0.25 * x**4) for i, x in enumerate(jax.tree.leaves(params))
    )


def _separable_hess(flat):
    return [(1 + i) + 3 * x**2 for i, x in enumerate(flat)]


@pytest.mark.parametrize(
    "kw",
    [
        dict(learning_rate=0.1, update_interval=2),
        dict(
            learning_rate=0.1,
            b1=0.8,
            b2=0.7,
            eps=0.05,
            weight_decay=0.1,
            gamma=2.0,
            clip_threshold=None,
            update_interval=3,
        ),
        dict(learning_rate=0.1, gamma=0.5, clip_threshold=0.7, update_interval=1),
    ],
)
def test_sophia_matches_reference(kw, float_dtype, rng):
    # A separable objective: Hutchinson's z * (H z) is the exact diagonal for any signs.
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = _run(gradtx.sophia(**kw), params, grads, obj_fn=_separable)
    full = dict(b1=0.965, b2=0.99, eps=1e-8, weight_decay=1e-4, gamma=0.01, clip_threshold=1.0)
    full.update(kw)
    ref = Sophia(
        full["learning_rate"], full["b1"], full["b2"], full["eps"], full["weight_decay"],
        full["gamma"], full["clip_threshold"], full["update_interval"], _separable_hess,
    ).init(leaves(params))  # fmt: skip
    p, want = leaves(params), []
    for g, u in zip(grads, got, strict=True):
        want.append(ref.update(leaves(g), p))
        p = [a + b for a, b in zip(p, leaves(u), strict=True)]
    assert_close_to_reference(got, want, RTOL[float_dtype.name])


def test_hutchinson_is_unbiased_and_advances_its_key(x64):
    m = np.random.default_rng(0).normal(size=(4, 4))
    hess = m @ m.T
    tx = gradtx.hutchinson_estimator_diag_hessian(random_seed=3)
    x = jnp.zeros(4)
    state = tx.init(x)
    step = jax.jit(lambda s: tx.update(x, s, x, obj_fn=lambda p: 0.5 * p @ hess @ p))
    draws = []
    for _ in range(400):
        est, new = step(state)
        assert not np.array_equal(new.key, state.key)
        draws.append(np.asarray(est))
        state = new
    # z (H z) = diag(H) + sum_{j != i} H_ij z_i z_j: off-diagonal terms average out.
    off = np.sqrt(np.sum(hess**2, axis=1) - np.diag(hess) ** 2)
    np.testing.assert_array_less(np.abs(np.mean(draws, 0) - np.diag(hess)), 5 * off / 20)


@pytest.mark.parametrize("momentum", [None, 0.9])
def test_dpsgd_without_noise_matches_reference(momentum, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    batch = 5

    def per_example(scale):
        return jax.tree.map(
            lambda p: jnp.asarray((scale * rng.normal(size=(batch, *p.shape))).astype(p.dtype)),
            params,
        )

    grads = [per_example(s) for s in (0.1, 1.0, 3.0, 0.5)]
    tx = gradtx.dpsgd(0.1, l2_norm_clip=1.5, noise_multiplier=0.0, seed=0, momentum=momentum)
    state, m, step = tx.init(params), None, jax.jit(tx.update)
    for g in grads:
        u, state = step(g, state, params)
        assert jax.tree.structure(u) == jax.tree.structure(params)
        mean = _dp_mean(leaves(g), 1.5)
        m = (
            mean
            if m is None or momentum is None
            else [momentum * a + b for a, b in zip(m, mean, strict=True)]
        )
        assert_close_to_reference([u], [[-0.1 * x for x in m]], RTOL[float_dtype.name])


def test_dp_noise_has_the_papers_scale():
    tx = gradtx.differentially_private_aggregate(l2_norm_clip=2.0, noise_multiplier=1.5, key=1)
    zeros = {"a": jnp.zeros((8, 200, 50)), "b": jnp.zeros((8, 1000))}
    out, state = tx.update(zeros, tx.init(None))
    noise = np.concatenate([np.ravel(x) for x in jax.tree.leaves(out)])
    # std = clip * multiplier / batch = 0.375, over 11000 draws (the std's std ~ 0.7%).
    assert abs(np.std(noise) / 0.375 - 1) < 0.03 and abs(np.mean(noise)) < 0.375 * 0.05
    again, _ = tx.update(zeros, state)
    assert not np.allclose(again["b"], out["b"])


def test_dp_clips_each_example_over_the_whole_tree():
    tx = gradtx.differentially_private_aggregate(1.0, 0.0, key=0)
    g = {"a": jnp.array([[3.0], [0.0]]), "b": jnp.array([[4.0], [0.5]])}
    out, _ = tx.update(g, tx.init(None))
    np.testing.assert_allclose([out["a"][0], out["b"][0]], [0.3, 0.4 + 0.25], rtol=1e-6)


def test_dp_rejects_gradients_without_a_shared_batch_axis():
    tx = gradtx.differentially_private_aggregate(1.0, 1.0, key=0)
    with pytest.raises(ValueError, match=r"needs per-example gradients.*leading sizes"):
        tx.update({"a": jnp.ones((2, 3)), "b": jnp.ones((3, 3))}, tx.init(None))


# --------------------------------------------------------------------------------------
# Parity with optax.contrib (black box).

optax = pytest.importorskip("optax")
contrib = optax.contrib


def _traj(tx, params, grads, values=None, obj_fn=None):
    out = _run(tx, params, grads, values, obj_fn)
    p, traj = params, []
    for u in out:
        p = jax.tree.map(lambda a, b: a + b, p, u)
        traj.append(p)
    return traj


def _max_rel(got, want):
    err = 0.0
    for a, b in zip(got, want, strict=True):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            x, y = np.asarray(x), np.asarray(y)
            err = max(err, float(np.max(np.abs(x - y))) / max(float(np.max(np.abs(y))), 1e-300))
    return err


def _parity_data(rng, steps=12):
    params = {"w": jnp.asarray(rng.normal(size=(3, 4))), "b": jnp.asarray(rng.normal(size=4))}
    scales = 10.0 ** rng.uniform(-2, 0.5, size=steps)
    grads = [jax.tree.map(lambda p, s=s: jnp.asarray(s * rng.normal(size=p.shape)), params)
             for s in scales]  # fmt: skip
    return params, grads, rng.uniform(0.5, 3.0, size=steps)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("momo", {}),
        ("momo", dict(learning_rate=0.3, beta=0.7, lower_bound=-0.2)),
        ("momo_adam", {}),
        ("momo_adam", dict(learning_rate=0.2, b1=0.8, b2=0.95, eps=1e-4, lower_bound=-0.1)),
    ],
)
def test_momo_matches_optax(name, kw, x64, rng):
    params, grads, values = _parity_data(rng)
    got = _traj(getattr(gradtx, name)(**kw), params, grads, values)
    want = _traj(getattr(contrib, name)(**kw), params, grads, values)
    assert _max_rel(got, want) < 1e-10


@pytest.mark.parametrize("name", ["momo", "momo_adam"])
def test_weight_decay_step_is_the_proximal_minimizer(name, x64, rng):
    """optax 0.2.8 steps to x/rho - tau d; ours is the minimizer of the regularized model."""
    x = jnp.asarray(rng.normal(size=5))
    g = jnp.asarray(rng.normal(size=5))
    lr, wd = 2.0, 0.3
    tx = (
        getattr(gradtx, name)(learning_rate=lr, weight_decay=wd, eps=0.0)
        if name == "momo_adam"
        else gradtx.momo(lr, weight_decay=wd)
    )
    u, _ = tx.update(g, tx.init(x), x, value=jnp.asarray(0.4))
    d = np.asarray(g)
    metric = np.abs(d) if name == "momo_adam" else np.ones(5)  # D_1 = |g_1|

    def objective(y):  # first step: h = f, the model is max(f + <g, y - x>, 0)
        model = max(0.4 + float(d @ (y - np.asarray(x))), 0.0)
        return (
            model
            + wd / 2 * float(np.sum(metric * y**2))
            + float(np.sum(metric * (y - np.asarray(x)) ** 2)) / (2 * lr)
        )

    best = np.asarray(x + u)
    for _ in range(200):
        y = best + 1e-3 * rng.normal(size=5)
        assert objective(y) >= objective(best) - 1e-12


@pytest.mark.parametrize("name", ["momo", "momo_adam"])
@pytest.mark.parametrize("lower_bound", [0.0, 1.0])
def test_adapted_lower_bound_matches_optax(name, lower_bound, x64, rng):
    """MoMo*'s online bound: the steps and the bound in the state agree with optax."""
    params, grads, values = _parity_data(rng)
    kw = dict(lower_bound=lower_bound, adapt_lower_bound=True)
    tx, otx = getattr(gradtx, name)(**kw), getattr(contrib, name)(**kw)
    s, os_, p = tx.init(params), otx.init(params), params
    for g, v in zip(grads, values, strict=True):
        u, s = tx.update(g, s, p, value=jnp.asarray(v))
        ou, os_ = otx.update(g, os_, p, value=jnp.asarray(v))
        assert _max_rel([u], [ou]) < 1e-10
        np.testing.assert_allclose(s.inner_state.lb, os_.lb, rtol=1e-10)
        p = jax.tree.map(lambda a, b: a + b, p, ou)


@pytest.mark.parametrize(
    "kw",
    [
        dict(learning_rate=0.1),
        dict(learning_rate=0.05, b1=0.9, b2=0.8, eps=0.05, gamma=3.0, update_interval=3),
        dict(
            learning_rate=0.05, gamma=1.0, clip_threshold=None, weight_decay=0.01, update_interval=1
        ),
    ],  # fmt: skip
)
def test_sophia_matches_optax(kw, x64, rng):
    params, grads, _ = _parity_data(rng)
    m = jnp.asarray(rng.normal(size=(16, 16)) / 4)

    def obj_fn(p):  # a non-separable objective: Hutchinson's samples must agree too
        v = jnp.concatenate([p["b"], p["w"].ravel()])
        return 0.5 * v @ (m @ m.T) @ v + jnp.sum(v**4) / 4

    got = _traj(gradtx.sophia(**kw), params, grads, obj_fn=obj_fn)
    want = _traj(contrib.sophia(**kw), params, grads, obj_fn=obj_fn)
    assert _max_rel(got, want) < 1e-10


@pytest.mark.parametrize("momentum", [None, 0.9])
def test_dpsgd_without_noise_matches_optax(momentum, x64, rng):
    params, _, _ = _parity_data(rng)
    grads = [
        jax.tree.map(lambda p, s=s: jnp.asarray(s * rng.normal(size=(4, *p.shape))), params)
        for s in 10.0 ** rng.uniform(-1, 0.5, size=10)
    ]
    kw = dict(learning_rate=0.1, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0)
    got = _traj(gradtx.dpsgd(**kw, momentum=momentum), params, grads)
    want = _traj(contrib.dpsgd(**kw, momentum=momentum), params, grads)
    assert _max_rel(got, want) < 1e-10


@pytest.mark.parametrize(
    "name",
    ["momo", "momo_adam", "sophia", "dpsgd", "differentially_private_aggregate",
     "hutchinson_estimator_diag_hessian"],
)  # fmt: skip
def test_signature_matches_optax(name):
    def params(f):
        return [
            (p.name, p.kind, None if isinstance(p.default, tuple) else p.default)
            for p in inspect.signature(f).parameters.values()
        ]

    ours, theirs = params(getattr(gradtx, name)), params(getattr(contrib, name))
    if name == "sophia":  # optax's default estimator is an instance; ours is None (the same)
        theirs = [t if t[0] != "hessian_diagonal_fn" else (t[0], t[1], None) for t in theirs]
    assert ours[: len(theirs)] == theirs


# --------------------------------------------------------------------------------------
# Errors and hyperparameters


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gradtx.momo(-1.0), r"`momo\(learning_rate=\.\.\.\)` must lie in \[0, inf\)"),
        (lambda: gradtx.momo(beta=1.5), r"`momo\(beta=.*got beta=1\.5"),
        (lambda: gradtx.momo(weight_decay=-1.0), r"`momo\(weight_decay=.*got weight"),
        (lambda: gradtx.momo_adam(b2=2.0), r"`momo_adam\(b2=.*got b2=2\.0"),
        (lambda: gradtx.momo_adam(eps=-1.0), r"`momo_adam\(eps=.*got eps=-1\.0"),
        (lambda: gradtx.sophia(-0.1), r"`sophia\(learning_rate=.*got learning_rate=-0\.1"),
        (lambda: gradtx.sophia(0.1, b1=1.0), r"`sophia\(b1=.*\[0, 1\); got b1=1\.0"),
        (lambda: gradtx.sophia(0.1, gamma=-1.0), r"`sophia\(gamma=.*got gamma"),
        (lambda: gradtx.sophia(0.1, clip_threshold=0.0), r"`sophia\(clip_threshold="),
        (lambda: gradtx.sophia(0.1, update_interval=0), r"update_interval=\.\.\.\)` must be a"),
        (lambda: gradtx.sophia(0.1, weight_decay=-1.0), r"`sophia\(weight_decay=.*got weight"),
        (lambda: gradtx.dpsgd(0.1, 0.0, 1.0, 0), r"`dpsgd\(l2_norm"),
        (lambda: gradtx.dpsgd(0.1, 1.0, -1.0, 0), r"dpsgd\(noise_multiplier=.*got noise"),
        (
            lambda: gradtx.dpsgd(0.1, 1.0, 1.0, 0, momentum=2.0),
            r"`dpsgd\(momentum=.*got momentum=2",
        ),
        (
            lambda: gradtx.differentially_private_aggregate(1.0, 1.0, key=0, seed=1),
            r"takes `key` or `seed`, not both",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_missing_extra_arguments_are_named():
    x = jnp.ones(2)
    for tx in (gradtx.momo(), gradtx.momo_adam()):
        with pytest.raises(ValueError, match=r"needs the loss: .*value=loss"):
            tx.update(x, tx.init(x), x)
    tx = gradtx.sophia(0.1)
    with pytest.raises(ValueError, match=r"`scale_by_sophia` needs the objective: .*obj_fn=f"):
        tx.update(x, tx.init(x), x)
    with pytest.raises(ValueError, match=r"`scale_by_momo` needs the parameters"):
        gradtx.scale_by_momo().update(x, gradtx.scale_by_momo().init(x), value=1.0)


@pytest.mark.parametrize(
    ("tx", "names"),
    [
        (gradtx.momo(), ["beta", "learning_rate", "lower_bound", "weight_decay"]),
        (
            gradtx.momo_adam(),
            ["b1", "b2", "eps", "learning_rate", "lower_bound", "weight_decay"],
        ),
        (
            gradtx.sophia(0.1),
            ["b1", "b2", "clip_threshold", "eps", "gamma", "learning_rate", "weight_decay"],
        ),
        (gradtx.dpsgd(0.1, 1.0, 1.1, 0), ["l2_norm_clip", "learning_rate", "noise_multiplier"]),
        (
            gradtx.dpsgd(0.1, 1.0, 1.1, 0, momentum=0.9),
            ["l2_norm_clip", "learning_rate", "momentum", "noise_multiplier"],
        ),
    ],
)
def test_hyperparams_are_in_state(tx, names):
    hps = gradtx.hyperparams(tx.init({"w": jnp.ones(3)}))
    assert sorted(hps) == names
    assert all(hps[k].dtype == jnp.float32 for k in names)


def test_set_learning_rate_changes_momo_cap():
    tx = gradtx.momo(learning_rate=1.0)
    x = jnp.array([1.0, 1.0])
    s = gradtx.set_hyperparams(tx.init(x), learning_rate=0.1)
    u, _ = tx.update(x, s, x, value=jnp.asarray(100.0))
    np.testing.assert_allclose(u, [-0.1, -0.1], rtol=1e-6)


def test_momo_fixed_lower_bound_can_be_set_by_hand():
    x = jnp.ones(2)
    tx = gradtx.momo(learning_rate=10.0)
    state = tx.init(x)
    u0, _ = tx.update(x, state, x, value=jnp.array(1.0))
    raised = gradtx.set_hyperparams(state, lower_bound=0.5)
    u1, s1 = tx.update(x, raised, x, value=jnp.array(1.0))
    # the Polyak-type step (value - lower_bound) / |d|^2 halves when the bound rises to 0.5
    np.testing.assert_allclose(np.asarray(u1), 0.5 * np.asarray(u0), rtol=1e-6)
