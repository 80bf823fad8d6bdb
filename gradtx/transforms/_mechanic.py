"""Mechanic: a learning-rate tuner wrapped around any base optimizer."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import (
    call_name,
    check_nonnegative,
    check_positive,
)
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
)
from gradtx.numerics import safe_increment
from gradtx.transforms._common import (
    as_float,
    like,
    require_params,
    tmap,
)
from gradtx.transforms._lr_free import _dot, _sq_norm

__all__ = ["MechanicState", "scale_by_mechanic"]


class MechanicState(NamedTuple):
    """State of :func:`scale_by_mechanic` (names as in optax).

    Attributes:
      base_optimizer_state: the wrapped optimizer's state.
      count: int32 number of updates so far.
      r: :math:`r_t`, the reward of each of the ``num_betas`` tuners (float, shape (n,)).
      m: :math:`m_t`, the running maximum of :math:`|h|` of each tuner.
      v: :math:`v_t`, the discounted sum of :math:`h^2` of each tuner.
      s: :math:`s_t`, the scale of each tuner; the step is scaled by their sum.
      x0: the reference point :math:`x_{ref}` (the initial parameters).
    """

    base_optimizer_state: Any
    count: jax.Array
    r: jax.Array
    m: jax.Array
    v: jax.Array
    s: jax.Array
    x0: Any


def scale_by_mechanic(
    base_optimizer: GradientTransformation,
    weight_decay: jax.typing.ArrayLike = 1e-2,
    eps: jax.typing.ArrayLike = 1e-8,
    s_init: jax.typing.ArrayLike = 1e-6,
    num_betas: int = 6,
) -> GradientTransformationExtraArgs:
    """Mechanic's tuner around ``base_optimizer``: the steps of :func:`gradtx.mechanize`.

    See :func:`gradtx.mechanize` for the update rule; this is the same transformation
    without its hyperparameters kept in the state.

    Args:
      base_optimizer: the optimizer whose steps are scaled.
      weight_decay: >= 0, the tuner's decay term.
      eps: > 0.
      s_init: > 0, the initial total scale.
      num_betas: the number of tuners, an integer >= 1.

    Returns:
      A transformation with :class:`MechanicState`; ``update`` needs ``params``.

    Reference: Cutkosky, Defazio & Mehta 2023, "Mechanic: A Learning Rate Tuner",
    arXiv 2306.00144, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_mechanic(gradtx.sgd(1.0))
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([1.0, -2.0]), tx.init(x), x)[0]
      Array([-1.e-06,  2.e-06], dtype=float32)
    """
    check_nonnegative("scale_by_mechanic", "weight_decay", weight_decay)
    check_positive("scale_by_mechanic", "eps", eps)
    check_positive("scale_by_mechanic", "s_init", s_init)
    if isinstance(num_betas, bool) or not isinstance(num_betas, int) or num_betas < 1:
        raise ValueError(
            f"`{call_name('scale_by_mechanic', 'num_betas', num_betas)}(num_betas=...)` must be a "
            f"positive integer; got {num_betas=}."
        )
    betas = 1 - as_float(10.0) ** -jnp.arange(1, num_betas + 1, dtype=jnp.result_type(float))

    def init_fn(params: Params) -> MechanicState:
        zeros = jnp.zeros([num_betas], jnp.result_type(float))
        return MechanicState(
            base_optimizer.init(params),
            jnp.zeros([], jnp.int32),
            zeros,
            zeros,
            zeros,
            jnp.full([num_betas], s_init, jnp.result_type(float)),
            tmap(jnp.asarray, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        require_params("scale_by_mechanic", params)
        base_updates, base_state = base_optimizer.update(
            updates, state.base_optimizer_state, params, **extra_args
        )
        total = jnp.sum(state.s)
        delta = tmap(lambda p, p0: (p - p0) / (total + eps), params, state.x0)
        g_norm = jnp.sqrt(_sq_norm(updates))
        x_norm = jnp.sqrt(_sq_norm(params))
        decay = weight_decay * total * g_norm / (x_norm + eps)
        h = _dot(delta, updates) + decay * _dot(delta, params)
        r = betas * state.r - state.s * jnp.clip(h, -state.m, state.m)
        m = jnp.maximum(betas * state.m, jnp.abs(h) + eps)
        v = betas**2 * state.v + h * h
        wealth = s_init / num_betas * m + jnp.maximum(r, 0.0)
        s = wealth / (jnp.sqrt(v) + eps)
        new_total = jnp.sum(s)
        out = tmap(
            # x_ref + S (delta + u) - x, with x - x_ref formed first: it is exact for
            # nearby values, where x_ref + S (...) would round to the params' precision
            lambda g, d, u, p, p0: like(new_total * (d + u) - (p - p0), g),
            updates,
            delta,
            base_updates,
            params,
            state.x0,
        )
        return out, MechanicState(
            base_state,
            safe_increment(state.count),
            like(r, state.r),
            like(m, state.m),
            like(v, state.v),
            like(s, state.s),
            state.x0,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
