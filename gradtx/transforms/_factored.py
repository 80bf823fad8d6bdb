"""Memory-efficient second moments: Adafactor's factored RMS, SM3's covers, block scales."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._checks import call_name, check_nonnegative, check_range
from gradtx.base import EmptyState, GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._common import as_float, like, require_params, tmap, upcast, zeros_state

__all__ = [
    "FactoredState",
    "ScaleBySM3State",
    "scale_by_factored_rms",
    "scale_by_param_block_norm",
    "scale_by_param_block_rms",
    "scale_by_sm3",
]


def _real_dtype(p: Any) -> Any:
    dtype = jnp.result_type(p)
    return jnp.finfo(dtype).dtype if jnp.issubdtype(dtype, jnp.complexfloating) else dtype


# --------------------------------------------------------------------------------------
# Adafactor's factored second moment


def _decay_rate_pow(step: jax.Array, exponent: jax.typing.ArrayLike = 0.8) -> jax.Array:
    """Adafactor's :math:`\\hat\\beta_{2,t} = 1 - t^{-c}`, ``t = step + 1``.

    Steps before 0 (before a ``step_offset``) use the first step's rate, 0.
    """
    t = jnp.maximum(step, 0.0) + 1.0
    return 1.0 - t ** (-as_float(exponent))


def _factored_dims(shape: tuple[int, ...], factored: bool, min_dim: int) -> tuple[int, int] | None:
    """``(d0, d1)``: the second-largest and the largest axis, or ``None`` (not factored).

    A leaf is factored when ``factored`` is set, its rank is >= 2 and its second-largest
    dimension is at least ``min_dim``; ties go to the later axis as the larger.
    """
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(np.asarray(shape), kind="stable")
    d0, d1 = int(order[-2]), int(order[-1])
    if shape[d0] < min_dim:
        return None
    return d0, d1


class FactoredState(NamedTuple):
    """State of :func:`scale_by_factored_rms` (optax's field names and order).

    Attributes:
      count: int32 number of updates so far.
      v_row: per leaf, the EMA of the squared gradients' mean over the largest axis
        (the row statistics, shape without that axis); a ``(1,)`` placeholder for a leaf
        that is not factored.
      v_col: per leaf, the EMA of their mean over the second-largest axis; a ``(1,)``
        placeholder for a leaf that is not factored.
      v: per leaf, the full EMA of squared gradients for a leaf that is not factored; a
        ``(1,)`` placeholder for one that is.
    """

    count: jax.Array
    v_row: Any
    v_col: Any
    v: Any


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: jax.typing.ArrayLike = 0.8,
    step_offset: jax.typing.ArrayLike = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: jax.typing.ArrayLike = 1e-30,
    decay_rate_fn: Callable[[jax.Array, Any], jax.Array] = _decay_rate_pow,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Divide updates by Adafactor's factored estimate of the root mean square.

    Update rule for a matrix :math:`G_t` (``n x m``, the last axis the largest), with
    :math:`\\hat\\beta_t = 1 - t^{-c}`, ``c = decay_rate``, ``t`` counting from 1 (after
    ``step_offset`` steps) and :math:`\\epsilon_1` = ``epsilon``:

    .. math::

       r_t = \\hat\\beta_t r_{t-1} + (1 - \\hat\\beta_t)\\,
             \\operatorname{mean}_j(|G_t|^2 + \\epsilon_1), \\quad
       c_t = \\hat\\beta_t c_{t-1} + (1 - \\hat\\beta_t)\\,
             \\operatorname{mean}_i(|G_t|^2 + \\epsilon_1),

    .. math::

       \\hat V_{t,ij} = r_{t,i}\\, c_{t,j} / \\operatorname{mean}_i r_{t,i}, \\qquad
       U_t = G_t / \\sqrt{\\hat V_t},

    the paper's :math:`\\hat V_t = R_t C_t / 1^\\top R_t` written with means instead of
    sums (the same matrix). A leaf of rank >= 2 is factored over its two largest axes
    (the others are batch axes) when ``factored`` and its second-largest dimension is at
    least ``min_dim_size_to_factor``; any other leaf keeps the full average
    :math:`v_t = \\hat\\beta_t v_{t-1} + (1-\\hat\\beta_t)(|g_t|^2 + \\epsilon_1)` and
    :math:`u_t = g_t / \\sqrt{v_t}`. The state of a factored ``n x m`` leaf holds
    ``n + m`` numbers instead of ``n m``.

    Args:
      factored: factor the second moment of leaves of rank >= 2.
      decay_rate: the exponent :math:`c` of :math:`\\hat\\beta_t = 1 - t^{-c}`, >= 0.
      step_offset: steps before the schedule :math:`\\hat\\beta_t` starts (for
        fine-tuning from a checkpoint), >= 0; steps before it use
        :math:`\\hat\\beta = 0` (optax 0.2.8 gives NaN there).
      min_dim_size_to_factor: the smallest second-largest dimension that is factored.
      epsilon: :math:`\\epsilon_1`, added to the squared gradients, >= 0.
      decay_rate_fn: ``(step, decay_rate) -> beta`` with ``step`` counting from 0;
        the default is :math:`1 - (step + 1)^{-c}`.
      nu_dtype: dtype of the averages :math:`r, c` and :math:`v` (keyword-only); the
        parameters' real dtype when ``None``. They are upcast to at least float32 for
        the arithmetic and rounded only when stored.

    Returns:
      A transformation with :class:`FactoredState`.

    Reference: Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear
    Memory Cost", arXiv 1804.04235, algorithms 4 and 5.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_factored_rms(min_dim_size_to_factor=2)
      >>> g = jnp.array([[1.0, 2.0], [-2.0, 4.0]])
      >>> state = tx.init(jnp.zeros((2, 2)))
      >>> [x.shape for x in (state.v_row, state.v_col, state.v)]
      [(2,), (2,), (1,)]
      >>> tx.update(g, state)[0]  # |g|^2 has rank one: the estimate is exact
      Array([[ 1.,  1.],
             [-1.,  1.]], dtype=float32)
    """
    check_nonnegative("scale_by_factored_rms", "decay_rate", decay_rate)
    check_nonnegative("scale_by_factored_rms", "step_offset", step_offset)
    check_nonnegative("scale_by_factored_rms", "epsilon", epsilon)
    _check_min_dim("scale_by_factored_rms", min_dim_size_to_factor)

    def dims(p: Any) -> tuple[int, int] | None:
        return _factored_dims(tuple(jnp.shape(p)), factored, min_dim_size_to_factor)

    def init_one(p: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
        shape, dtype = tuple(jnp.shape(p)), nu_dtype or _real_dtype(p)
        placeholder = jnp.zeros((1,), dtype)
        d = dims(p)
        if d is None:
            return placeholder, placeholder, jnp.zeros(shape, dtype)
        d0, d1 = d
        row = shape[:d1] + shape[d1 + 1 :]
        col = shape[:d0] + shape[d0 + 1 :]
        return jnp.zeros(row, dtype), jnp.zeros(col, dtype), placeholder

    def init_fn(params: Params) -> FactoredState:
        triples = tmap(init_one, params)
        pick = [tmap(lambda p, s, i=i: s[i], params, triples) for i in range(3)]
        return FactoredState(jnp.zeros([], jnp.int32), *pick)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        step = as_float(state.count) - step_offset
        beta = decay_rate_fn(step, decay_rate)

        def one(g: jax.Array, v_row: jax.Array, v_col: jax.Array, v: jax.Array) -> tuple:
            g2 = abs_sq(upcast(g)) + epsilon
            d = dims(g)
            if d is None:
                new_v = beta * upcast(v) + (1 - beta) * g2
                return like(upcast(g) * jax.lax.rsqrt(new_v), g), v_row, v_col, like(new_v, v)
            d0, d1 = d
            new_row = beta * upcast(v_row) + (1 - beta) * jnp.mean(g2, axis=d1)
            new_col = beta * upcast(v_col) + (1 - beta) * jnp.mean(g2, axis=d0)
            # new_row lacks axis d1, so its copy of axis d0 moves down by one after it.
            row_axis = d0 if d0 < d1 else d0 - 1
            row_mean = jnp.mean(new_row, axis=row_axis, keepdims=True)
            row_factor = jnp.expand_dims(jax.lax.rsqrt(new_row / row_mean), d1)
            col_factor = jnp.expand_dims(jax.lax.rsqrt(new_col), d0)
            out = upcast(g) * row_factor * col_factor
            return like(out, g), like(new_row, v_row), like(new_col, v_col), v

        quads = tmap(one, updates, state.v_row, state.v_col, state.v)
        out, v_row, v_col, v = (tmap(lambda g, q, i=i: q[i], updates, quads) for i in range(4))
        return out, FactoredState(safe_increment(state.count), v_row, v_col, v)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _check_min_dim(fn: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"`{call_name(fn, 'min_dim_size_to_factor', value)}"
            f"(min_dim_size_to_factor=...)` must be an integer >= 0 (it decides the "
            f"state's shapes); got min_dim_size_to_factor={value!r}."
        )


# --------------------------------------------------------------------------------------
# Scaling by the size of the parameters


def _param_block_scale(fn: str, min_scale: Any, size: Callable[[jax.Array], jax.Array]) -> Any:
    check_nonnegative(fn, "min_scale", min_scale)

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(fn, params)
        out = tmap(lambda g, p: like(g * jnp.maximum(size(p), min_scale), g), updates, params)
        return out, state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _block_rms(p: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.mean(abs_sq(jnp.asarray(p))))


def _block_norm(p: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(abs_sq(jnp.asarray(p))))


def scale_by_param_block_rms(
    min_scale: jax.typing.ArrayLike = 1e-3,
) -> GradientTransformationExtraArgs:
    """Multiply each leaf's update by the root mean square of its parameter.

    Update rule: :math:`u \\leftarrow u \\cdot \\max(\\mathrm{rms}(\\theta), s)` with
    ``s = min_scale``, per leaf. Adafactor's relative step size: a learning rate then
    sets steps relative to the scale of each parameter block, and ``s`` lets
    parameters that start at zero move.

    Args:
      min_scale: :math:`s` >= 0, the smallest scale (the paper's :math:`\\epsilon_2`).

    Returns:
      A stateless transformation that needs ``params``.

    Reference: Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear
    Memory Cost", arXiv 1804.04235, section 8.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_param_block_rms()
      >>> p = jnp.array([3.0, -4.0])
      >>> tx.update(jnp.array([1.0, 0.5]), tx.init(p), p)[0]
      Array([3.535534, 1.767767], dtype=float32)
    """
    return _param_block_scale("scale_by_param_block_rms", min_scale, _block_rms)


def scale_by_param_block_norm(
    min_scale: jax.typing.ArrayLike = 1e-3,
) -> GradientTransformationExtraArgs:
    """Multiply each leaf's update by the Euclidean norm of its parameter.

    Update rule: :math:`u \\leftarrow u \\cdot \\max(\\|\\theta\\|_2, s)` with
    ``s = min_scale``, per leaf (the norm over all the leaf's entries).

    Args:
      min_scale: :math:`s` >= 0, the smallest scale.

    Returns:
      A stateless transformation that needs ``params``.

    Reference: Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear
    Memory Cost", arXiv 1804.04235, section 8 (with the norm in place of the RMS).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_param_block_norm()
      >>> p = jnp.array([3.0, -4.0])
      >>> tx.update(jnp.array([1.0, 0.5]), tx.init(p), p)[0]
      Array([5. , 2.5], dtype=float32)
    """
    return _param_block_scale("scale_by_param_block_norm", min_scale, _block_norm)


# --------------------------------------------------------------------------------------
# SM3


class ScaleBySM3State(NamedTuple):
    """State of :func:`scale_by_sm3` (optax's field names and order).

    Attributes:
      mu: per leaf, a tuple of one accumulator per axis (shape ``(n_a,)`` for an axis
        of size ``n_a``): the largest second-moment estimate over each slice of the
        leaf along that axis; a scalar leaf has one accumulator of shape ``()``.
      nu: the momentum of the preconditioned updates, shaped like the parameters.
    """

    mu: Any
    nu: Any


def _cover_shape(ndim: int, axis: int, size: int) -> tuple[int, ...]:
    shape = [1] * ndim
    shape[axis] = size
    return tuple(shape)


def scale_by_sm3(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 1e-8,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by SM3's cover-based second moment, then take momentum.

    Update rule (SM3-II with the cover of a rank-``k`` leaf by its slices along each
    axis, one accumulator :math:`\\mu^{(a)}` per axis ``a``):

    .. math::

       \\nu_t(i) = b_2 \\min_a \\mu^{(a)}_{t-1}(i_a) + \\kappa\\, |g_t(i)|^2, \\qquad
       \\mu^{(a)}_t(j) = \\max_{i:\\, i_a = j} \\nu_t(i),

    .. math::

       m_t = b_1 m_{t-1} + (1 - b_1)\\, g_t / \\sqrt{\\nu_t + \\epsilon},

    with :math:`\\kappa = 1` when :math:`b_2 = 1` (the paper's accumulation) and
    :math:`\\kappa = 1 - b_2` otherwise (an exponential average); the update is
    :math:`m_t`, and 0 where :math:`\\nu_t = 0`. For a vector (and a scalar) SM3 is
    Adagrad. A ``n x m`` leaf keeps ``n + m`` accumulators instead of ``n m``.

    Args:
      b1: the momentum :math:`b_1` in [0, 1].
      b2: :math:`b_2` in [0, 1]; 1 accumulates as in the paper.
      eps: added inside the root, >= 0.
      mu_dtype: dtype of the momentum :math:`m` (the state's ``nu`` field, named as
        optax names it; keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of the cover accumulators :math:`\\mu^{(a)}` (the state's ``mu``
        field; keyword-only); the parameters' real dtype when ``None``. Both are upcast
        to at least float32 for the arithmetic and rounded only when stored.

    Returns:
      A transformation with :class:`ScaleBySM3State`.

    Reference: Anil, Gupta, Koren & Singer 2019, "Memory-Efficient Adaptive
    Optimization", arXiv 1901.11150, algorithm SM3-II.

    Note: optax 0.2.8 fails on scalar leaves; here a scalar gets Adagrad's accumulator.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_sm3(b1=0.0, eps=0.0)
      >>> state = tx.init(jnp.zeros((2, 3)))
      >>> [a.shape for a in state.mu]
      [(2,), (3,)]
      >>> tx.update(jnp.array([[3.0, -1.0, 0.0], [2.0, 2.0, -4.0]]), state)[0].round(6)
      Array([[ 1.,  -1.,  0.],
             [ 1.,  1.,  -1.]], dtype=float32)
    """
    check_range("scale_by_sm3", "b1", b1, 0.0, 1.0)
    check_range("scale_by_sm3", "b2", b2, 0.0, 1.0)
    check_nonnegative("scale_by_sm3", "eps", eps)

    def init_one(p: Any) -> tuple[jax.Array, ...]:
        shape, dtype = tuple(jnp.shape(p)), nu_dtype or _real_dtype(p)
        if not shape:
            return (jnp.zeros((), dtype),)
        return tuple(jnp.zeros((n,), dtype) for n in shape)

    def init_fn(params: Params) -> ScaleBySM3State:
        return ScaleBySM3State(tmap(init_one, params), zeros_state(params, mu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        kappa = jnp.where(jnp.asarray(b2) == 1, 1.0, 1 - jnp.asarray(b2))

        def one(g: jax.Array, mu: tuple[jax.Array, ...], m: jax.Array) -> tuple:
            ndim = jnp.ndim(g)
            if ndim == 0:
                smallest = upcast(mu[0])
            else:
                covers = [
                    jnp.reshape(upcast(a), _cover_shape(ndim, i, a.size)) for i, a in enumerate(mu)
                ]
                smallest = covers[0]
                for c in covers[1:]:
                    smallest = jnp.minimum(smallest, c)
            g = upcast(g)
            nu = b2 * smallest + kappa * abs_sq(g)
            inv = jnp.where(nu > 0, jax.lax.rsqrt(nu + eps), 0.0)
            new_m = b1 * upcast(m) + (1 - b1) * (g * inv)
            if ndim == 0:
                new_mu = (like(nu, mu[0]),)
            else:
                others = [tuple(j for j in range(ndim) if j != i) for i in range(ndim)]
                new_mu = tuple(
                    # nu >= 0, so initial=0 changes nothing but an empty leaf's maximum
                    like(jnp.max(nu, axis=o, initial=0.0), a)
                    for o, a in zip(others, mu, strict=True)
                )
            return new_m, new_mu, like(new_m, m)

        triples = tmap(one, updates, state.mu, state.nu)
        out, mu, nu = (tmap(lambda g, t, i=i: t[i], updates, triples) for i in range(3))
        out = tmap(like, out, updates)
        return out, ScaleBySM3State(mu, nu)

    return GradientTransformationExtraArgs(init_fn, update_fn)
