"""Sign-based scaling: Lion's interpolated sign and Rprop's per-parameter step sizes."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_nonnegative, check_positive, check_range, concrete
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import safe_increment
from gradtx.transforms._common import full_state, is_none, like, tmap, upcast, zeros_state

__all__ = [
    "ScaleByLionState",
    "ScaleByRpropState",
    "scale_by_lion",
    "scale_by_rprop",
]


class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion`.

    Attributes:
      count: int32 number of updates so far.
      mu: the momentum :math:`m` (an EMA of gradients with decay ``b2``), in
        ``mu_dtype``.
    """

    count: jax.Array
    mu: Any


LION_MODES = ("hard", "smooth", "refined")


def lion_squash(fn: str, mode: str, smooth_beta: Any) -> Any:
    """The function that turns Lion's interpolated momentum into a step (checked)."""
    if mode not in LION_MODES:
        raise ValueError(f"`{fn}(mode=...)` must be one of {list(LION_MODES)}; got {mode=}.")
    check_positive(fn, "smooth_beta", smooth_beta)
    if mode == "smooth":
        return lambda c: jnp.tanh(smooth_beta * c)
    if mode == "refined":
        # Linear inside the unit ball, the sign outside (for complex c: the phase).
        return lambda c: jnp.where(jnp.abs(c) < 1, c, jnp.sign(c))
    return jnp.sign


def scale_by_lion(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.99,
    mu_dtype: Any = None,
    *,
    mode: str = "hard",
    smooth_beta: jax.typing.ArrayLike = 1.0,
) -> GradientTransformationExtraArgs:
    """Replace updates by the sign of Lion's interpolated momentum.

    Update rule, from :math:`m_0 = 0`:

    .. math::

       c_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\, g_t, \\qquad
       u_t = s(c_t), \\qquad
       m_t = \\beta_2 m_{t-1} + (1-\\beta_2)\\, g_t

    with :math:`\\beta_1` = ``b1`` and :math:`\\beta_2` = ``b2``: the direction
    interpolates with one decay, the momentum is tracked with another. The squashing
    function :math:`s` is chosen by ``mode``:

    .. math::

       s_{\\text{hard}}(c) = \\operatorname{sign}(c), \\qquad
       s_{\\text{smooth}}(c) = \\tanh(\\kappa c), \\qquad
       s_{\\text{refined}}(c) = \\begin{cases} c & |c| < 1 \\\\
          \\operatorname{sign}(c) & |c| \\ge 1 \\end{cases}

    with :math:`\\kappa` = ``smooth_beta``. ``"hard"`` is the paper's Lion; the other
    two are optax's continuous variants (``"smooth"`` approaches ``"hard"`` as
    :math:`\\kappa \\to \\infty`; ``"refined"`` is :math:`\\operatorname{clip}(c, -1, 1)`,
    so small momenta give proportionally small steps). For complex gradients
    :math:`\\operatorname{sign}(z) = z/|z|` (0 at 0).

    Args:
      b1: :math:`\\beta_1` in [0, 1], the interpolation weight of the momentum in the
        update.
      b2: :math:`\\beta_2` in [0, 1], the decay of the momentum.
      mu_dtype: dtype of ``mu``; the parameters' dtype when ``None``.
      mode: ``"hard"`` (default), ``"smooth"`` or ``"refined"``, the function
        :math:`s` above.
      smooth_beta: :math:`\\kappa` > 0, the slope of ``"smooth"`` at 0 (unused by
        the other modes).

    Returns:
      A transformation with :class:`ScaleByLionState`.

    Reference: Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
    arXiv 2302.06675, Program 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_lion()
      >>> s = tx.init(jnp.zeros(3))
      >>> u, s = tx.update(jnp.array([0.5, -2.0, 0.0]), s)
      >>> u
      Array([ 1., -1.,  0.], dtype=float32)
      >>> s.mu
      Array([ 0.005, -0.02 ,  0.   ], dtype=float32)
      >>> tx = gradtx.scale_by_lion(b1=0.0, mode="refined")
      >>> tx.update(jnp.array([0.5, -2.0, 0.0]), tx.init(jnp.zeros(3)))[0]
      Array([ 0.5, -1. ,  0. ], dtype=float32)
    """
    check_decay("scale_by_lion", "b1", b1)
    check_decay("scale_by_lion", "b2", b2)
    squash = lion_squash("scale_by_lion", mode, smooth_beta)

    def init_fn(params: Params) -> ScaleByLionState:
        return ScaleByLionState(jnp.zeros([], jnp.int32), zeros_state(params, mu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        c1, c2 = 1 - b1, 1 - b2  # once, not once per leaf
        out = tmap(lambda g, m: like(squash(b1 * upcast(m) + c1 * upcast(g)), g), updates, state.mu)
        mu = tmap(lambda g, m: like(b2 * upcast(m) + c2 * upcast(g), m), updates, state.mu)
        return out, ScaleByLionState(safe_increment(state.count), mu)

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByRpropState(NamedTuple):
    """State of :func:`scale_by_rprop`.

    Attributes:
      step_sizes: the per-parameter step sizes :math:`\\Delta` of the last update
        (``learning_rate`` before the first), in the parameters' dtype.
      prev_updates: the sign of the previous gradient, set to 0 where that gradient
        flipped sign (torch's ``prev``; only its sign matters, so no product of two
        gradients can underflow or overflow).
    """

    step_sizes: Any
    prev_updates: Any


def _require_real(fn: str, tree: Any, what: str) -> None:
    leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_none)[0]
    for path, x in leaves:
        if x is not None and jnp.iscomplexobj(x):
            raise TypeError(
                f"`{fn}` compares the signs of successive gradients, which complex numbers "
                f"do not have; got complex {what} at {jax.tree_util.keystr(path)} "
                f"(dtype {jnp.result_type(x)}). Optimize the real and imaginary parts as "
                "separate real parameters."
            )


def _check_rprop(
    fn: str, eta_minus: Any, eta_plus: Any, min_step_size: Any, max_step_size: Any
) -> None:
    check_range(fn, "eta_minus", eta_minus, 0.0, 1.0, low_open=True, high_open=True)
    check_range(fn, "eta_plus", eta_plus, 1.0, None, low_open=True)
    check_nonnegative(fn, "min_step_size", min_step_size)
    check_positive(fn, "max_step_size", max_step_size)
    lo, hi = concrete(min_step_size), concrete(max_step_size)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(
            f"`{fn}(min_step_size=..., max_step_size=...)` must bound an interval; got "
            f"{min_step_size=} > {max_step_size=}."
        )


def scale_by_rprop(
    learning_rate: jax.typing.ArrayLike,
    eta_minus: jax.typing.ArrayLike = 0.5,
    eta_plus: jax.typing.ArrayLike = 1.2,
    min_step_size: jax.typing.ArrayLike = 1e-6,
    max_step_size: jax.typing.ArrayLike = 50.0,
    *,
    accumulator_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Resilient backpropagation: move each parameter by its own adaptive step size.

    Update rule, per parameter, with :math:`\\eta^-` = ``eta_minus``,
    :math:`\\eta^+` = ``eta_plus``, :math:`s_t = \\operatorname{sign}(g_t)\\,
    \\operatorname{sign}(g_{t-1})` and :math:`g_0 = 0`, :math:`\\Delta_0` =
    ``learning_rate``:

    .. math::

       \\Delta_t = \\operatorname{clip}\\Big(\\Delta_{t-1} \\cdot
          \\begin{cases} \\eta^+ & s_t > 0 \\\\ \\eta^- & s_t < 0 \\\\
          1 & s_t = 0 \\end{cases},\\
          \\text{min_step_size}, \\text{max_step_size}\\Big), \\qquad
       u_t = \\begin{cases} 0 & s_t < 0 \\\\
          \\operatorname{sign}(g_t)\\, \\Delta_t & \\text{otherwise} \\end{cases}

    and where :math:`s_t < 0` the gradient is forgotten (:math:`g_t \\leftarrow 0`),
    so the next step neither grows nor shrinks that step size. This is the Rprop
    without weight backtracking that ``torch.optim.Rprop`` implements (it clamps
    every step size, so a ``learning_rate`` outside the bounds is clamped at the first
    step); the output is the step to *subtract*, chain ``scale(-1.0)`` to descend.
    The first update is already :math:`\\operatorname{sign}(g_1)\\,\\Delta_1`.

    optax's ``scale_by_rprop`` differs (a known bug there): it emits the previous
    step's update, so its first update is zero and its update at step :math:`t+1`
    is this one's at step :math:`t`, set to 0 where :math:`g_{t+1} g_t < 0`.

    Args:
      learning_rate: the initial step size :math:`\\Delta_0` >= 0 (used by ``init``
        only).
      eta_minus: the shrink factor :math:`\\eta^-` in (0, 1).
      eta_plus: the growth factor :math:`\\eta^+` > 1.
      min_step_size: the smallest step size, >= 0.
      max_step_size: the largest step size, > 0 and >= ``min_step_size``.
      accumulator_dtype: dtype of the step sizes and of the previous signs
        (keyword-only); the parameters' dtype when ``None``. The step sizes are
        upcast to at least float32 for the arithmetic and rounded when stored.

    Returns:
      A transformation with :class:`ScaleByRpropState`. Complex parameters or
      gradients raise a ``TypeError`` naming the leaf.

    Reference: Riedmiller & Braun 1993, "A direct adaptive method for faster
    backpropagation learning: the RPROP algorithm", IEEE International Conference on
    Neural Networks, doi:10.1109/ICNN.1993.298623.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_rprop(0.1)
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([3.0, -1.0]), s)
      >>> u
      Array([ 0.1, -0.1], dtype=float32)
      >>> u, s = tx.update(jnp.array([2.0, 1.0]), s)
      >>> u
      Array([0.12, 0.  ], dtype=float32)
    """
    check_nonnegative("scale_by_rprop", "learning_rate", learning_rate)
    _check_rprop("scale_by_rprop", eta_minus, eta_plus, min_step_size, max_step_size)

    def init_fn(params: Params) -> ScaleByRpropState:
        _require_real("scale_by_rprop", params, "parameters")
        return ScaleByRpropState(
            full_state(params, learning_rate, accumulator_dtype),
            zeros_state(params, accumulator_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        _require_real("scale_by_rprop", updates, "gradients")

        def step(g: jax.Array, size: jax.Array, prev: jax.Array) -> tuple[Any, Any, Any]:
            sign = jnp.sign(g)
            agree = sign * prev
            factor = jnp.where(agree > 0, eta_plus, jnp.where(agree < 0, eta_minus, 1.0))
            new_size = jnp.clip(upcast(size) * factor, min_step_size, max_step_size)
            sign = jnp.where(agree < 0, 0, sign)
            return like(sign * new_size, g), like(new_size, size), like(sign, prev)

        triples = tmap(step, updates, state.step_sizes, state.prev_updates)
        out = tmap(lambda g, t: t[0], updates, triples)
        sizes = tmap(lambda g, t: t[1], updates, triples)
        prevs = tmap(lambda g, t: t[2], updates, triples)
        return out, ScaleByRpropState(sizes, prevs)

    return GradientTransformationExtraArgs(init_fn, update_fn)
