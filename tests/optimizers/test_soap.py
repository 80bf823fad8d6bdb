"""soap and scale_by_soap against an independent NumPy reference, and on a hard problem.

The reference is written from Vyas et al. 2024 (arXiv 2409.11321), Algorithm 3 (one SOAP
step: the first moment in the original coordinates, rotated at every step; the second
moment in the rotated ones) and Algorithm 4 (the basis refresh: one power-iteration step
and a QR), with the practical choices gradtx's docstring states: the first update only
builds the bases by ``eigh``, refreshes sort the columns (and the second moment's axis)
by the estimated eigenvalues, and a tensor is rotated along each of its dimensions of size
<= ``max_precondition_dim`` independently. Unlike gradtx, which contracts an axis with
``tensordot``, the reference unfolds the tensor along the axis into a matrix (the
n-mode product of Kolda & Bader 2009) and loops over the eigenvector columns; and it
rotates the first moment :math:`M_t` itself (the paper's form), where gradtx computes the
same number as :math:`\beta_1 Q^T M_{t-1} Q + (1-\beta_1) G'_t` (see its docstring).

Eigenvectors are only defined up to sign (and ``eigh``/``qr`` of NumPy and of XLA need not
pick the same signs). The update :math:`Q (Q^T M Q / \\ldots) Q^T` is invariant to the
sign of every column of every :math:`Q`, and the second moment holds squares, so updates
are compared directly; bases are compared through :math:`|Q_{gradtx}^T Q_{ref}|`, which
is the identity whatever the signs. Eigenvalues are ordered in decreasing order on both
sides, and the test problems have distinct eigenvalues, so there is no order ambiguity
(a first factor whose null space has two or more dimensions would leave its basis
there arbitrary; here every null space has at most one, fixed up to sign).
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, leaves

import gradtx

STEPS = 8
FREQ = 3  # bases built at update 1, refreshed after Adam steps 3 and 6 (updates 4 and 7)
MAX_DIM = 8


# ---------------------------------------------------------------------------------------
# NumPy reference


def unfold(x: np.ndarray, axis: int) -> np.ndarray:
    """The mode-``axis`` unfolding: ``axis`` becomes the rows, the rest the columns."""
    return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)


def mode_product(x: np.ndarray, mat: np.ndarray, axis: int) -> np.ndarray:
    """Multiply every mode-``axis`` fiber of ``x`` by ``mat`` (Kolda & Bader 2009)."""
    moved = np.moveaxis(x, axis, 0)
    y = (mat @ moved.reshape(moved.shape[0], -1)).reshape((mat.shape[0],) + moved.shape[1:])
    return np.moveaxis(y, 0, axis)


class Soap(ref.Transform):
    """SOAP (Vyas et al. 2024, Algorithms 3 and 4), output :math:`Q (\\hat M'/(\\sqrt{\\hat
    V}+\\epsilon)) Q^T` per leaf; the first update is zero and only builds the bases."""

    def __init__(self, b1=0.95, b2=0.95, shampoo_beta=None, eps=1e-8, frequency=10, max_dim=10000):
        self.b1, self.b2, self.eps = b1, b2, eps
        self.bs = b2 if shampoo_beta is None else shampoo_beta
        self.freq, self.max_dim = frequency, max_dim

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.factors = [
            [np.zeros((d, d)) if p.ndim >= 2 and d <= self.max_dim else None for d in p.shape]
            for p in params
        ]
        self.bases = [[None] * p.ndim for p in params]

    def _rotate(self, x, bases, back):
        for axis, q in enumerate(bases):
            if q is not None:
                x = mode_product(x, q if back else q.T, axis)
        return x

    def _update(self, grads, params):
        out = []
        step = self.t - 1  # the Adam step; the first update (step 0) only builds bases
        for i, g in enumerate(grads):
            if step == 0:
                out.append(np.zeros_like(g))
            else:
                q = self.bases[i]
                self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
                rotated = self._rotate(g, q, back=False)
                self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * rotated**2
                m_hat = self._rotate(self.m[i], q, back=False) / (1 - self.b1**step)
                v_hat = self.v[i] / (1 - self.b2**step)
                out.append(self._rotate(m_hat / (np.sqrt(v_hat) + self.eps), q, back=True))
            for axis, f in enumerate(self.factors[i]):
                if f is None:
                    continue
                u = unfold(g, axis)
                f = self.bs * f + (1 - self.bs) * (u @ u.T)
                self.factors[i][axis] = f
                if step == 0:
                    _, vecs = np.linalg.eigh(f)
                    self.bases[i][axis] = vecs[:, ::-1]  # decreasing eigenvalues
                elif step % self.freq == 0:
                    q = self.bases[i][axis]
                    estimate = np.array([q[:, j] @ f @ q[:, j] for j in range(q.shape[1])])
                    order = np.argsort(-estimate, kind="stable")
                    self.v[i] = np.take(self.v[i], order, axis=axis)
                    self.bases[i][axis], _ = np.linalg.qr(f @ q[:, order])
        return out


def ref_soap(
    learning_rate=3e-3,
    b1=0.95,
    b2=0.95,
    shampoo_beta=None,
    eps=1e-8,
    weight_decay=0.01,
    mask=None,
    precondition_frequency=10,
    max_precondition_dim=10000,
):
    return ref.Chain(
        Soap(b1, b2, shampoo_beta, eps, precondition_frequency, max_precondition_dim),
        ref.AddDecayedWeights(weight_decay, mask),
        ref.ScaleByLearningRate(learning_rate),
    )


# ---------------------------------------------------------------------------------------
# (1) Against the reference: a square matrix, a wide and a tall matrix whose long side
# exceeds max_precondition_dim, a vector, a scalar, a 3-D tensor and a None leaf


def soap_params(rng, dtype):
    def arr(*shape):
        return jnp.asarray(rng.normal(size=shape).astype(dtype))

    return {
        "square": arr(4, 4),
        "wide": arr(3, 12),
        "tall": arr(10, 2),
        "vector": arr(5),
        "scalar": arr(),
        "cube": arr(2, 3, 4),
        "frozen": None,
    }


def soap_grads(rng, params, steps=STEPS):
    """Gradients with a fixed random mixing along the first axis (so the bases matter),
    each step scaled by a random factor in [0.3, 3]."""
    mix = {k: rng.normal(size=(p.shape[0],) * 2) for k, p in params.items() if np.ndim(p)}

    def draw(k, p, scale):
        if p is None:
            return None
        g = scale * rng.normal(size=np.shape(p))
        if np.ndim(p):
            g = mode_product(g, mix[k], 0)
        return jnp.asarray(g, p.dtype)

    out = []
    for _ in range(steps):
        scale = rng.uniform(0.3, 3.0)
        out.append({k: draw(k, p, scale) for k, p in params.items()})
    return out


def run_both(tx, reference, params, grads, jit=False):
    state = tx.init(params)
    update = jax.jit(tx.update) if jit else tx.update
    got, states = [], []
    p = params
    for g in grads:
        u, state = update(g, state, p)
        got.append(u)
        states.append(state)
        p = gradtx.apply_updates(p, u)
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    return got, states, want


def assert_bases_agree(bases, reference_bases, names, atol):
    """:math:`|Q^T Q_{ref}| = I` for every rotated dimension, whatever the signs."""
    checked = 0
    for name, theirs in zip(names, reference_bases, strict=True):
        for q, q_ref in zip(bases[name], theirs, strict=True):
            assert (q is None) == (q_ref is None), name
            if q is not None:
                overlap = np.abs(np.asarray(q, np.float64).T @ q_ref)
                np.testing.assert_allclose(overlap, np.eye(len(q_ref)), atol=atol, err_msg=name)
                checked += 1
    return checked


ARGS = {
    "learning_rate": lambda c: 0.1 / (1.0 + c),
    "b1": 0.8,
    "b2": 0.9,
    "shampoo_beta": 0.7,
    "eps": 1e-3,
    "weight_decay": 0.5,
    "mask": {
        **{k: k != "cube" for k in ("square", "wide", "tall", "vector", "scalar", "cube")},
        "frozen": None,
    },
    "precondition_frequency": 2,
    "max_precondition_dim": 3,
}


@pytest.mark.parametrize(
    ("dtype", "kwargs", "rtol"),
    [
        # the paper's defaults but for a larger rate and a small max_precondition_dim
        pytest.param(
            "float32",
            {"learning_rate": 0.1, "precondition_frequency": FREQ, "max_precondition_dim": 8},
            5e-5,  # measured: 4.8e-6 of the largest update
            id="float32-defaults",
        ),
        # every argument changed; max_precondition_dim=3 leaves the square and the cube's
        # 4 unrotated
        pytest.param("float64", ARGS, 1e-10, id="float64-args"),  # measured 8e-15
    ],
)
def test_soap_matches_reference(dtype, kwargs, rtol, rng):
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", dtype == "float64")
    try:
        params = soap_params(rng, np.dtype(dtype))
        grads = soap_grads(rng, params)
        stored = ref.as_stored(gradtx.soap, ref_soap, kwargs)
        names = sorted(k for k, p in params.items() if p is not None)
        if "mask" in stored:
            stored["mask"] = [stored["mask"][k] for k in names]
        reference = ref_soap(**stored)
        got, states, want = run_both(gradtx.soap(**kwargs), reference, params, grads, jit=True)
        assert_close_to_reference(got, want, rtol=rtol)
        bases = gradtx.tree.get(states[-1], "bases")
        checked = assert_bases_agree(bases, reference.parts[0].bases, names, 10 * rtol)
    finally:
        jax.config.update("jax_enable_x64", previous)
    dims = stored["max_precondition_dim"]
    # max dim 8: square 2, cube 3, wide and tall 1 each (the 12 and the 10 are too long);
    # max dim 3: square none (4 > 3: plain Adam), cube 2 (not its 4), wide 1, tall 1
    assert checked == (7 if dims == 8 else 4)
    assert [q is None for q in bases["wide"]] == [False, True]
    assert [q is None for q in bases["tall"]] == [True, False]
    assert bases["vector"] == (None,) and bases["scalar"] == ()


def test_primitive_matches_reference(rng, x64):
    params = {"m": jnp.asarray(rng.normal(size=(3, 4))), "v": jnp.asarray(rng.normal(size=2))}
    grads = soap_grads(rng, params)
    tx = gradtx.scale_by_soap(b1=0.9, b2=0.99, shampoo_beta=0.8, precondition_frequency=FREQ)
    reference = Soap(0.9, 0.99, 0.8, 1e-8, FREQ)
    got, states, want = run_both(tx, reference, params, grads, jit=True)
    assert_close_to_reference(got, want, rtol=1e-10)  # measured 9e-16
    assert assert_bases_agree(states[-1].bases, reference.bases, ["m", "v"], 1e-9) == 2


def test_vectors_are_adam_one_step_late(rng, x64):
    # A vector is never rotated: its updates are Adam's on the gradients after the first.
    g = [jnp.asarray(rng.normal(size=4)) for _ in range(5)]
    soap_tx, adam_tx = gradtx.scale_by_soap(b1=0.9, b2=0.99), gradtx.scale_by_adam(0.9, 0.99)
    s, a = soap_tx.init(g[0]), adam_tx.init(g[0])
    soap_update, adam_update = jax.jit(soap_tx.update), jax.jit(adam_tx.update)
    u, s = soap_update(g[0], s)
    np.testing.assert_array_equal(u, np.zeros(4))
    for x in g[1:]:
        u, s = soap_update(x, s)
        v, a = adam_update(x, a)
        np.testing.assert_allclose(u, v, rtol=1e-12)


def test_bases_refresh_only_every_precondition_frequency(rng):
    params = {"w": jnp.zeros((4, 4)), "v": jnp.zeros(3)}
    grads = soap_grads(rng, params, steps=12)
    tx = gradtx.scale_by_soap(precondition_frequency=4)
    state = tx.init(params)
    changed = []
    update = jax.jit(tx.update)
    for g in grads:
        old = state
        _, state = update(g, state)
        same_bases = all(
            np.array_equal(a, b)
            for a, b in zip(jax.tree.leaves(old.bases), jax.tree.leaves(state.bases), strict=True)
        )
        same_factors = any(
            np.array_equal(a, b)
            for a, b in zip(
                jax.tree.leaves(old.factors), jax.tree.leaves(state.factors), strict=True
            )
        )
        assert not same_factors, "the factors are updated at every step"
        changed.append(not same_bases)
    # update 1 builds (eigh); Adam steps 4 and 8 (updates 5 and 9) refresh; the next
    # refresh, after Adam step 12, would be update 13
    assert [i + 1 for i, c in enumerate(changed) if c] == [1, 5, 9]
    assert int(state.count) == 12
    # every basis stays orthogonal
    for q in jax.tree.leaves(state.bases):
        np.testing.assert_allclose(np.asarray(q).T @ np.asarray(q), np.eye(len(q)), atol=1e-5)


# ---------------------------------------------------------------------------------------
# (2) It pays off: matrix least squares with correlated features


def _least_squares(m=8, n=4, condition=1e4, seed=0):
    """:math:`\tfrac12\|A W B - C\|_F^2` over :math:`W` (:math:`m \times n`), where
    :math:`A` and :math:`B` have condition number ``condition`` in random bases. The
    Hessian :math:`BB^T \otimes A^TA` (condition ``condition**2``) is Kronecker-factored
    and not axis-aligned: a diagonal method like Adam cannot undo it, Shampoo's factors
    can. The minimum is 0."""
    rng = np.random.default_rng(seed)

    def ill_conditioned(k):
        left, _ = np.linalg.qr(rng.normal(size=(k, k)))
        right, _ = np.linalg.qr(rng.normal(size=(k, k)))
        return (left * np.logspace(0, np.log10(condition) / 2, k)) @ right.T

    a, b = ill_conditioned(m), ill_conditioned(n)
    c = a @ rng.normal(size=(m, n)) @ b
    a, b, c = (jnp.asarray(x, jnp.float32) for x in (a, b, c))

    def loss(w):
        return 0.5 * jnp.sum((a @ w @ b - c) ** 2)

    return loss, jnp.zeros((m, n), jnp.float32)


def _sweep(make, loss, w0, learning_rates, steps):
    """Final losses after ``steps`` steps at each peak rate (linear decay to 0), in one
    vmapped, jitted program."""

    def run(lr):
        tx = make(lambda count: lr * (1.0 - count / steps))

        def body(carry, _):
            w, s = carry
            u, s = tx.update(jax.grad(loss)(w), s, w)
            return (gradtx.apply_updates(w, u), s), None

        (w, _), _ = jax.lax.scan(body, (w0, tx.init(w0)), None, length=steps)
        return loss(w)

    return np.asarray(jax.jit(jax.vmap(run))(jnp.asarray(learning_rates, jnp.float32)))


def test_beats_adamw_on_ill_conditioned_matrix_least_squares():
    loss, w0 = _least_squares()
    initial = float(loss(w0))  # 4.6e7
    lrs, steps = (0.03, 0.1, 0.3, 1.0), 200
    # Each at its best rate of the grid, the same betas, no weight decay.
    soap = _sweep(lambda lr: gradtx.soap(lr, weight_decay=0.0), loss, w0, lrs, steps)
    adamw = _sweep(
        lambda lr: gradtx.adamw(lr, b1=0.95, b2=0.95, weight_decay=0.0), loss, w0, lrs, steps
    )
    # measured: SOAP 1.7e2 (rate 0.3), AdamW 1.9e4 (rate 0.3): 110 times lower
    assert soap.min() < 1e-5 * initial, soap
    assert soap.min() < 0.03 * adamw.min(), (soap, adamw)


def test_first_adam_step_is_bounded_where_the_rotated_gradient_is_noise():
    # A full-batch gradient does not change over the first (skipped) step, so the first
    # Adam step rotates G by the eigenbases of G G^T and G^T G: G' is G's SVD, zero up to
    # rounding off its diagonal, and L (8 x 8 of rank 4) has 4 directions of pure noise.
    # Adam's first step is G'/(|G'| + eps), at most 1 per entry, so the update's norm is
    # at most sqrt(32). (Rotating M_t apart from G'_t gave a norm of 7.0 here, and
    # entries of 2.7e4 with B = I.)
    loss, w = _least_squares(m=8, n=4, condition=1e4)
    tx = gradtx.scale_by_soap()
    state = tx.init(w)
    update = jax.jit(tx.update)
    g = jax.grad(loss)(w)
    _, state = update(g, state)
    u, _ = update(g, state)
    assert float(jnp.linalg.norm(u)) <= np.sqrt(32) * (1 + 1e-5)
    assert float(jnp.linalg.norm(u)) > 1.0  # not vacuous: a real step


# ---------------------------------------------------------------------------------------
# (3) dtypes, jit and state stability


def test_bfloat16_params_keep_float32_statistics(rng):
    # Moments, factors and bases are float32 for bfloat16 params; updates stay bfloat16.
    params = {
        "w": jnp.asarray(rng.normal(size=(3, 4)), jnp.bfloat16),
        "b": jnp.zeros(4, jnp.bfloat16),
    }
    tx = gradtx.soap(0.1, precondition_frequency=2)
    traces = []

    def step(g, s, p):
        traces.append(1)
        u, s = tx.update(g, s, p)
        return gradtx.apply_updates(p, u), u, s

    jitted = jax.jit(step)
    s0 = state = tx.init(params)
    p = params
    for g in soap_grads(rng, params, steps=6):  # builds at update 1, refreshes at 3 and 5
        p, u, state = jitted(g, state, p)
        assert {x.dtype for x in jax.tree.leaves(u)} == {jnp.dtype(jnp.bfloat16)}
        assert {x.dtype for x in jax.tree.leaves(p)} == {jnp.dtype(jnp.bfloat16)}
    assert len(traces) == 1, "one trace for every step, refresh or not"
    for field in ("mu", "nu", "factors", "bases"):
        dtypes = {x.dtype for x in jax.tree.leaves(gradtx.tree.get(state, field))}
        assert dtypes == {jnp.dtype(jnp.float32)}, field
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(state))
    # The state keeps its tree, shapes and dtypes: lax.cond can pick either.
    picked = jax.eval_shape(
        lambda c, a, b: jax.lax.cond(c, lambda: a, lambda: b), jnp.bool_(False), s0, state
    )
    assert jax.tree.structure(picked) == jax.tree.structure(s0)
    for a, b in zip(jax.tree.leaves(picked), jax.tree.leaves(state), strict=True):
        assert (a.shape, a.dtype) == (b.shape, b.dtype)


def test_hyperparams_are_in_the_state():
    tx = gradtx.soap(0.5, b1=0.75, b2=0.875, eps=0.125, weight_decay=0.25)
    state = tx.init({"w": jnp.zeros((2, 2)), "frozen": None})
    want = {
        "learning_rate": 0.5,
        "b1": 0.75,
        "b2": 0.875,
        "shampoo_beta": 0.875,  # b2's value when None
        "eps": 0.125,
        "weight_decay": 0.25,
    }
    assert {k: float(v) for k, v in gradtx.hyperparams(state).items()} == want
    tx = gradtx.soap(shampoo_beta=0.5)
    assert float(gradtx.hyperparams(tx.init(jnp.zeros(2)))["shampoo_beta"]) == 0.5
    # the paper's defaults
    defaults = gradtx.hyperparams(gradtx.soap().init(jnp.zeros(2)))
    assert {k: float(v) for k, v in defaults.items()} == {
        "learning_rate": float(np.float32(3e-3)),
        "b1": float(np.float32(0.95)),
        "b2": float(np.float32(0.95)),
        "shampoo_beta": float(np.float32(0.95)),
        "eps": float(np.float32(1e-8)),
        "weight_decay": float(np.float32(0.01)),
    }


def test_complex_is_rejected_naming_the_leaf():
    params = {"a": jnp.zeros((2, 2)), "z": [jnp.zeros(2, jnp.complex64)]}
    with pytest.raises(TypeError, match=r"complex parameters at \['z'\]\[0\] \(dtype complex64\)"):
        gradtx.scale_by_soap().init(params)
    tx = gradtx.scale_by_soap()
    state = tx.init(jnp.zeros(2))
    with pytest.raises(TypeError, match=r"`scale_by_soap` rotates real gradients.*complex gradi"):
        tx.update(jnp.ones(2, jnp.complex64), state)


# ---------------------------------------------------------------------------------------
# (4) Invalid hyperparameters


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gradtx.soap(-0.1), r"`soap\(learning_rate=\.\.\.\)` must lie in \[0, inf\)"),
        (lambda: gradtx.soap(b1=1.5), r"`soap\(b1=\.\.\.\)` must lie in \[0, 1\]; got b1=1\.5"),
        (lambda: gradtx.soap(b2=-0.1), r"`soap\(b2=\.\.\.\)` must lie in \[0, 1\]; got b2=-0\.1"),
        (
            lambda: gradtx.soap(shampoo_beta=2.0),
            r"`soap\(shampoo_beta=\.\.\.\)` must lie in \[0, 1\]; got shampoo_beta=2\.0",
        ),
        (lambda: gradtx.soap(eps=-1e-8), r"`soap\(eps=\.\.\.\)` must lie in \[0, inf\)"),
        (lambda: gradtx.soap(weight_decay=-0.01), r"`soap\(weight_decay=.*got weight_decay"),
        (
            lambda: gradtx.soap(precondition_frequency=0),
            r"`soap\(precondition_frequency=\.\.\.\)` must be an integer >= 1; "
            r"got precondition_frequency=0",
        ),
        (
            lambda: gradtx.soap(precondition_frequency=2.5),
            r"`soap\(precondition_frequency=\.\.\.\)` must be an integer >= 1; got .*2\.5",
        ),
        (
            lambda: gradtx.soap(max_precondition_dim=True),
            r"`soap\(max_precondition_dim=\.\.\.\)` must be an integer >= 1; got .*True",
        ),
        (
            lambda: gradtx.scale_by_soap(b1=-1.0),
            r"`scale_by_soap\(b1=\.\.\.\)` must lie in \[0, 1\]; got b1=-1\.0",
        ),
        (lambda: gradtx.scale_by_soap(b2=1.1), r"`scale_by_soap\(b2=\.\.\.\)`.*got b2=1\.1"),
        (
            lambda: gradtx.scale_by_soap(shampoo_beta=-0.5),
            r"`scale_by_soap\(shampoo_beta=\.\.\.\)`.*got shampoo_beta=-0\.5",
        ),
        (lambda: gradtx.scale_by_soap(eps=-1.0), r"`scale_by_soap\(eps=\.\.\.\)`.*got eps=-1\.0"),
        (
            lambda: gradtx.scale_by_soap(precondition_frequency=-3),
            r"`scale_by_soap\(precondition_frequency=\.\.\.\)` must be an integer >= 1",
        ),
        (
            lambda: gradtx.scale_by_soap(max_precondition_dim=0),
            r"`scale_by_soap\(max_precondition_dim=\.\.\.\)` must be an integer >= 1; "
            r"got max_precondition_dim=0",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
