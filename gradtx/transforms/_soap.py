"""SOAP: Adam run in the eigenbasis of Shampoo's Kronecker factors."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_nonnegative
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import safe_increment
from gradtx.transforms._common import debias_factor, is_none, tmap

__all__ = ["ScaleBySoapState", "scale_by_soap"]

_HIGHEST = jax.lax.Precision.HIGHEST


class ScaleBySoapState(NamedTuple):
    """State of :func:`scale_by_soap`.

    Every array is kept in the statistics dtype: float32 for bfloat16, float16 and
    float32 parameters, float64 for float64 ones.

    Attributes:
      count: int32 number of updates so far (the first one only builds the bases).
      mu: the first moment :math:`M`, an EMA of the gradients in the parameters' own
        coordinates (rotated into the eigenbasis at every step).
      nu: the second moment :math:`V`, an EMA of the squared *rotated* gradients.
      factors: per parameter, a tuple with one entry per dimension: the Kronecker
        factor of that dimension (for a matrix, :math:`L` then :math:`R`), a
        :math:`d \\times d` EMA of the gradient's Gram matrix along it, or ``None``
        where the dimension is not rotated.
      bases: per parameter, the same layout holding the eigenbasis :math:`Q` of each
        factor (columns ordered by decreasing eigenvalue), or ``None``.
    """

    count: jax.Array
    mu: Any
    nu: Any
    factors: Any
    bases: Any


def _check_int(fn: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{fn}({name}=...)` must be an integer >= 1; got {name}={value!r}.")


def check_soap_args(
    fn: str,
    b1: Any,
    b2: Any,
    shampoo_beta: Any,
    eps: Any,
    precondition_frequency: Any,
    max_precondition_dim: Any,
) -> None:
    """Validate SOAP's hyperparameters (shared by :func:`scale_by_soap` and ``soap``)."""
    check_decay(fn, "b1", b1)
    check_decay(fn, "b2", b2)
    if shampoo_beta is not None:
        check_decay(fn, "shampoo_beta", shampoo_beta)
    check_nonnegative(fn, "eps", eps)
    _check_int(fn, "precondition_frequency", precondition_frequency)
    _check_int(fn, "max_precondition_dim", max_precondition_dim)


def _stat_dtype(x: Any) -> Any:
    return jnp.promote_types(jnp.result_type(x), jnp.float32)


def _work_dtype(g: Any, mu: Any) -> Any:
    """The arithmetic's dtype: float32 or wider, and at least the stored moment's."""
    return jnp.promote_types(_stat_dtype(g), _stat_dtype(mu))


def _require_real(tree: Any, what: str) -> None:
    for path, x in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_none)[0]:
        if x is not None and jnp.iscomplexobj(x):
            raise TypeError(
                "`scale_by_soap` rotates real gradients by real orthogonal bases; got "
                f"complex {what} at {jax.tree_util.keystr(path)} (dtype "
                f"{jnp.result_type(x)}). Optimize the real and imaginary parts as separate "
                "real parameters."
            )


def _rotated(shape: tuple[int, ...], max_dim: int) -> tuple[bool, ...]:
    """Which dimensions get a basis: all of size <= max_dim, for rank >= 2 only."""
    return tuple(len(shape) >= 2 and d <= max_dim for d in shape)


def _rotate(x: jax.Array, bases: tuple[Any, ...], back: bool) -> jax.Array:
    """Apply :math:`Q^T` (or :math:`Q` when ``back``) along every dimension with a basis."""
    for axis, q in enumerate(bases):
        if q is not None:
            y = jnp.tensordot(x, q, axes=((axis,), (1 if back else 0,)), precision=_HIGHEST)
            x = jnp.moveaxis(y, -1, axis)
    return x


def _gram(g: jax.Array, axis: int) -> jax.Array:
    """The Gram matrix of ``g`` along ``axis``: :math:`G_{(i)} G_{(i)}^T` (``G G^T`` for i=0)."""
    other = tuple(a for a in range(g.ndim) if a != axis)
    return jnp.tensordot(g, g, axes=(other, other), precision=_HIGHEST)


def _eigh_basis(factor: jax.Array) -> jax.Array:
    """Eigenvectors of a symmetric factor, by decreasing eigenvalue."""
    _, q = jnp.linalg.eigh(factor)
    return q[:, ::-1]


def _refresh_basis(
    factor: jax.Array, q: jax.Array, nu: jax.Array, axis: int
) -> tuple[jax.Array, jax.Array]:
    """One power-iteration step and a QR, after sorting ``q`` (and ``nu``) by eigenvalue."""
    estimate = jnp.einsum("ij,ik,kj->j", q, factor, q, precision=_HIGHEST)
    order = jnp.argsort(-estimate, stable=True)
    q, nu = q[:, order], jnp.take(nu, order, axis=axis)
    q, _ = jnp.linalg.qr(jnp.matmul(factor, q, precision=_HIGHEST))
    return q, nu


# The three ways a step treats the bases, as module-level functions so that an eager
# (unjitted) ``lax.switch`` finds them in its tracing cache instead of compiling anew at
# every step. Each takes and returns trees keyed by ``nu`` (one entry per parameter).
_Operand = tuple[Any, Any, Any]


def _keep(operand: _Operand) -> tuple[Any, Any]:
    nu, _, qs = operand
    return qs, nu


def _build(operand: _Operand) -> tuple[Any, Any]:
    nu, fs, _ = operand
    qs = tmap(lambda _, f: tuple(None if a is None else _eigh_basis(a) for a in f), nu, fs)
    return qs, nu


def _refresh(operand: _Operand) -> tuple[Any, Any]:
    nu, fs, qs = operand

    def leaf(v: jax.Array, f: tuple[Any, ...], q: tuple[Any, ...]) -> Any:
        new_q = []
        for axis, (a, b) in enumerate(zip(f, q, strict=True)):
            if a is not None:
                b, v = _refresh_basis(a, b, v, axis)
            new_q.append(b)
        return tuple(new_q), v

    pairs = tmap(leaf, nu, fs, qs)
    return tmap(lambda _, x: x[0], nu, pairs), tmap(lambda _, x: x[1], nu, pairs)


_BRANCHES = (_keep, _build, _refresh)


def scale_by_soap(
    b1: jax.typing.ArrayLike = 0.95,
    b2: jax.typing.ArrayLike = 0.95,
    shampoo_beta: jax.typing.ArrayLike | None = None,
    eps: jax.typing.ArrayLike = 1e-8,
    precondition_frequency: int = 10,
    max_precondition_dim: int = 10000,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by Adam run in the eigenbasis of Shampoo's Kronecker factors (SOAP).

    Update rule for a matrix gradient :math:`G_t` (:math:`m \\times n`), with
    :math:`\\beta_1` = ``b1``, :math:`\\beta_2` = ``b2``, :math:`\\beta_s` =
    ``shampoo_beta`` (``b2`` when ``None``) and the bases :math:`Q_L, Q_R` of the
    previous step:

    .. math::

       G'_t &= Q_L^T G_t Q_R, \\qquad
       M_t = \\beta_1 M_{t-1} + (1-\\beta_1) G_t, \\qquad
       V_t = \\beta_2 V_{t-1} + (1-\\beta_2)\\, G'_t \\odot G'_t \\\\
       u_t &= Q_L \\left(\\frac{Q_L^T M_t Q_R / (1-\\beta_1^t)}
          {\\sqrt{V_t / (1-\\beta_2^t)} + \\epsilon}\\right) Q_R^T \\\\
       L_t &= \\beta_s L_{t-1} + (1-\\beta_s)\\, G_t G_t^T, \\qquad
       R_t = \\beta_s R_{t-1} + (1-\\beta_s)\\, G_t^T G_t

    The first moment is kept in the original coordinates and rotated at every step,
    the second moment lives in the rotated ones (Algorithm 3 of the paper). The
    rotated first moment is computed as :math:`\beta_1 Q_L^T M_{t-1} Q_R +
    (1-\beta_1) G'_t`, equal to :math:`Q_L^T M_t Q_R` in exact arithmetic but rounded
    like the :math:`G'_t` that enters :math:`V_t`: where :math:`G'` is only rounding
    noise (a direction outside the gradients' span so far), the ratio stays bounded
    as in Adam, instead of dividing one noise by another (which, at the first step of
    a rank-deficient matrix least-squares problem, made steps of ~1e4). The very
    first update only accumulates :math:`L_1, R_1` and sets :math:`Q_L, Q_R` to their
    eigenvectors (``eigh``, by decreasing eigenvalue); it outputs zeros, so that no
    gradient is ever rotated by a basis built from itself (as the authors' code does),
    and the Adam steps :math:`t = 1, 2, \\ldots` start with the second update. After
    Adam step :math:`t` with :math:`t \\bmod` ``precondition_frequency`` :math:`= 0`
    each basis is refreshed as in the paper's Algorithm 4: its columns are sorted by
    the estimated eigenvalues :math:`\\operatorname{diag}(Q^T L Q)` (decreasing), the
    matching axis of :math:`V` is permuted alike (:math:`V` is otherwise kept, not
    rotated), and :math:`Q \\leftarrow \\operatorname{QR}(L Q)` (one power-iteration
    step; the orthogonal factor).

    A parameter of any rank is rotated along each dimension of size <=
    ``max_precondition_dim`` independently (for a tensor, the factor of dimension
    :math:`i` is the Gram matrix of the gradient unfolded along :math:`i`; dimensions
    are never merged); a larger dimension keeps the identity. Vectors and scalars are
    not rotated at all: for them this is Adam (with the first step skipped).

    The statistics (moments, factors, bases) are kept and computed in float32 for
    bfloat16/float16/float32 parameters (float64 for float64 ones); the update is cast
    back to the gradients' dtype. The matrix products run at ``Precision.HIGHEST``.
    The bias correction is Adam's (:math:`\\epsilon` added to :math:`\\sqrt{\\hat V}`);
    the authors' code adds it to :math:`\\sqrt{V}` before correcting, which differs
    only in the :math:`\\epsilon` term.

    Args:
      b1: :math:`\\beta_1` in [0, 1], the decay of the first moment.
      b2: :math:`\\beta_2` in [0, 1], the decay of the second moment.
      shampoo_beta: :math:`\\beta_s` in [0, 1], the decay of the Kronecker factors;
        ``b2`` when ``None`` (the paper's choice).
      eps: :math:`\\epsilon` >= 0, added to the root of the second moment.
      precondition_frequency: refresh the bases after every this many Adam steps (an
        integer >= 1, static).
      max_precondition_dim: dimensions larger than this are not rotated (an integer
        >= 1, static).
      mu_dtype: dtype of :math:`M` (keyword-only); float32 (or the parameters' dtype
        if wider) when ``None``.
      nu_dtype: dtype of :math:`V` (keyword-only), likewise. Narrow moments are upcast
        for the arithmetic and rounded only when stored; the Kronecker factors and
        bases stay in float32 or wider.

    Returns:
      A transformation with :class:`ScaleBySoapState`. Complex parameters or gradients
      raise a ``TypeError`` naming the leaf.

    Reference: Vyas, Morwani, Zhao, Kwun, Shapira, Brandfonbrener, Janson & Kakade
    2024, "SOAP: Improving and Stabilizing Shampoo using Adam", arXiv 2409.11321,
    Algorithms 3 and 4.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_soap(precondition_frequency=2)
      >>> s = tx.init(jnp.zeros((2, 2)))
      >>> u, s = tx.update(jnp.array([[2.0, 1.0], [1.0, 2.0]]), s)
      >>> u  # the first update only builds the bases
      Array([[0., 0.],
             [0., 0.]], dtype=float32)
      >>> s.bases[0]  # eigenvectors of L = 0.05 G G^T, by decreasing eigenvalue
      Array([[ 0.70710677, -0.70710677],
             [ 0.70710677,  0.70710677]], dtype=float32)
      >>> u, s = tx.update(jnp.array([[1.0, 0.0], [0.0, 0.0]]), s)
      >>> u.round(3) + 0.0  # Adam's first step is sign(G') in the rotated coordinates
      Array([[2., 0.],
             [0., 0.]], dtype=float32)
      >>> tx.init(jnp.zeros(3)).factors  # vectors are not rotated
      (None,)
    """
    fn = "scale_by_soap"
    check_soap_args(fn, b1, b2, shampoo_beta, eps, precondition_frequency, max_precondition_dim)
    beta_s = b2 if shampoo_beta is None else shampoo_beta
    freq, max_dim = precondition_frequency, max_precondition_dim

    def init_fn(params: Params) -> ScaleBySoapState:
        _require_real(params, "parameters")

        def zeros(p: Any, dtype: Any) -> jax.Array:
            return jnp.zeros(jnp.shape(p), dtype or _stat_dtype(p))

        def square(p: Any, eye: bool) -> tuple[Any, ...]:
            shape, dt = jnp.shape(p), _stat_dtype(p)
            return tuple(
                (jnp.eye(d, dtype=dt) if eye else jnp.zeros((d, d), dt)) if r else None
                for d, r in zip(shape, _rotated(shape, max_dim), strict=True)
            )

        return ScaleBySoapState(
            count=jnp.zeros([], jnp.int32),
            mu=tmap(lambda p: zeros(p, mu_dtype), params),
            nu=tmap(lambda p: zeros(p, nu_dtype), params),
            factors=tmap(lambda p: square(p, False), params),
            bases=tmap(lambda p: square(p, True), params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        _require_real(updates, "gradients")
        first = state.count == 0
        t = jnp.maximum(state.count, 1)
        bc1, bc2 = debias_factor(b1, t), debias_factor(b2, t)

        def adam(g, mu, nu, qs):
            dt = _work_dtype(g, mu)
            g, m, v = g.astype(dt), mu.astype(dt), nu.astype(jnp.promote_types(dt, nu.dtype))
            new_mu = b1 * m + (1 - b1) * g
            rotated = _rotate(g, qs, back=False)
            new_nu = b2 * v + (1 - b2) * rotated * rotated
            # rot(M_t) as b1 rot(M_{t-1}) + (1 - b1) G'_t: the same number in exact
            # arithmetic, but rounded like the G'_t that enters V (see the docstring).
            m_rot = b1 * _rotate(m, qs, back=False) + (1 - b1) * rotated
            m_hat = m_rot / bc1.astype(dt)
            n = m_hat / (jnp.sqrt(new_nu / bc2.astype(dt)) + eps)
            out = jnp.where(first, 0, _rotate(n, qs, back=True))
            new_mu = jnp.where(first, m, new_mu).astype(mu.dtype)
            new_nu = jnp.where(first, v, new_nu).astype(nu.dtype)
            return out, new_mu, new_nu

        def factors(g, mu, fs):
            g = g.astype(_work_dtype(g, mu))
            return tuple(
                None if f is None else (beta_s * f + (1 - beta_s) * _gram(g, i)).astype(f.dtype)
                for i, f in enumerate(fs)
            )

        triples = tmap(adam, updates, state.mu, state.nu, state.bases)
        out = tmap(lambda g, x: x[0].astype(jnp.result_type(g)), updates, triples)
        mu = tmap(lambda g, x: x[1], updates, triples)
        nu = tmap(lambda g, x: x[2], updates, triples)
        fs = tmap(factors, updates, state.mu, state.factors)

        due = (state.count % freq == 0) & ~first
        branch = jnp.where(first, 1, jnp.where(due, 2, 0))
        bases, nu = jax.lax.switch(branch, _BRANCHES, (nu, fs, state.bases))
        new_state = ScaleBySoapState(safe_increment(state.count), mu, nu, fs, bases)
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)
