"""Schedule-free averaging (Defazio et al. 2024) and ADOPT (Taniguchi et al. 2024)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_nonnegative, check_schedule_or_nonnegative
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    ScalarOrSchedule,
    with_extra_args_support,
)
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._adaptive import ScaleByAdamState
from gradtx.transforms._common import (
    as_float,
    like,
    real_zeros_state,
    require_params,
    tmap,
    upcast,
    zeros_state,
)

__all__ = [
    "ScheduleFreeState",
    "scale_by_adopt",
    "schedule_free",
    "schedule_free_eval_params",
]


class ScheduleFreeState(NamedTuple):
    """State of :func:`schedule_free` (optax's field names and order).

    Attributes:
      b1: the interpolation :math:`\\beta` of the last update (kept so that
        :func:`schedule_free_eval_params` can recover :math:`x` from :math:`y`, :math:`z`).
      weight_sum: :math:`\\sum_i w_i`, the total averaging weight so far.
      step_count: int32 number of the step about to be taken (starts at 1, as optax's).
      max_lr: the largest learning rate seen so far.
      base_optimizer_state: the state of the wrapped optimizer.
      z: the base optimizer's iterate :math:`z_t`, in ``state_dtype``.
    """

    b1: jax.Array
    weight_sum: jax.Array
    step_count: jax.Array
    max_lr: jax.Array
    base_optimizer_state: Any
    z: Any


def schedule_free(
    base_optimizer: GradientTransformation,
    learning_rate: ScalarOrSchedule,
    b1: jax.typing.ArrayLike = 0.9,
    weight_lr_power: jax.typing.ArrayLike = 2.0,
    state_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Turn ``base_optimizer`` into its schedule-free version.

    Three sequences share one run. The base optimizer steps :math:`z`; :math:`x` is a
    weighted average of the :math:`z` iterates; gradients are taken at their
    interpolation :math:`y`, and :math:`y` is what the user holds as ``params``:

    .. math::

       y_t = (1-\\beta) z_t + \\beta x_t, \\qquad
       z_{t+1} = z_t + u_t, \\qquad
       x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1},

    with :math:`u_t` the base optimizer's update at :math:`y_t` (it includes
    :math:`-\\gamma_t`), :math:`\\beta` = ``b1``, the weights
    :math:`w_t = (\\max_{i \\le t} \\gamma_i)^{p}` (:math:`p` = ``weight_lr_power``) and
    :math:`c_{t+1} = w_t / \\sum_{i \\le t} w_i`. :math:`x` is never stored: the emitted
    update is :math:`y_{t+1} - y_t = c_{t+1}(z_t - y_t) +
    (1 - \\beta(1 - c_{t+1}))\\, u_t`, and :func:`schedule_free_eval_params` recovers
    :math:`x = (y - (1-\\beta) z)/\\beta` for evaluation. All three start at the
    initial params.

    Args:
      base_optimizer: the optimizer stepping :math:`z`, learning rate included (e.g.
        ``gradtx.sgd(lr)``; it receives :math:`y` as ``params``).
      learning_rate: the base optimizer's rate :math:`\\gamma_t`, a number >= 0 or a
        schedule, used only for the weights. A schedule is evaluated at the 0-based step,
        like the base optimizer's own (optax evaluates it one step ahead).
      b1: :math:`\\beta` in [0, 1]; ``b1=0`` is the base optimizer itself (and
        :math:`x` cannot be recovered), ``b1=1`` is primal averaging.
      weight_lr_power: :math:`p` >= 0.
      state_dtype: dtype of :math:`z`; the parameters' dtype when ``None``. The scalars
        stay in JAX's default float dtype.

    Returns:
      A transformation with :class:`ScheduleFreeState`.

    Reference: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky 2024, "The Road
    Less Scheduled", arXiv 2405.15682.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.schedule_free(gradtx.sgd(0.5), 0.5)
      >>> y = jnp.ones(1); state = tx.init(y)
      >>> u, state = tx.update(jnp.ones(1), state, y)
      >>> u
      Array([-0.5], dtype=float32)
    """
    check_schedule_or_nonnegative("schedule_free", "learning_rate", learning_rate)
    check_decay("schedule_free", "b1", b1)
    check_nonnegative("schedule_free", "weight_lr_power", weight_lr_power)
    base = with_extra_args_support(base_optimizer)
    real = jnp.result_type(float)

    def init_fn(params: Params) -> ScheduleFreeState:
        z = tmap(lambda p: jnp.asarray(p, state_dtype or jnp.result_type(p)), params)
        zero = jnp.zeros([], real)
        return ScheduleFreeState(
            jnp.asarray(b1, real), zero, jnp.ones([], jnp.int32), zero, base.init(params), z
        )

    def update_fn(updates, state, params=None, **extra_args):
        require_params("schedule_free", params)
        base_updates, base_state = base.update(
            updates, state.base_optimizer_state, params, **extra_args
        )
        beta = as_float(b1)
        lr = learning_rate(state.step_count - 1) if callable(learning_rate) else learning_rate
        max_lr = jnp.maximum(state.max_lr, as_float(lr))
        weight = jnp.power(max_lr, as_float(weight_lr_power))
        weight_sum = state.weight_sum + weight
        c = jnp.where(weight_sum > 0, weight / jnp.where(weight_sum > 0, weight_sum, 1), 0.0)
        keep = 1 - beta * (1 - c)
        out = tmap(lambda u, z, y: like(c * (z - y) + keep * u, u), base_updates, state.z, params)
        z = tmap(lambda z, u: like(z + u, z), state.z, base_updates)
        new_state = ScheduleFreeState(
            jnp.asarray(beta, real),
            like(weight_sum, state.weight_sum),
            safe_increment(state.step_count),
            like(max_lr, state.max_lr),
            base_state,
            z,
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _find_schedule_free_state(state: Any) -> ScheduleFreeState:
    found = [
        s
        for s in jax.tree.leaves(state, is_leaf=lambda s: isinstance(s, ScheduleFreeState))
        if isinstance(s, ScheduleFreeState)
    ]
    if len(found) != 1:
        raise ValueError(
            "`schedule_free_eval_params(state, ...)` needs a state holding exactly one"
            f" ScheduleFreeState (from schedule_free or its aliases); found {len(found)}."
        )
    return found[0]


def schedule_free_eval_params(state: Any, params: Params) -> Params:
    """The evaluation parameters :math:`x` of a schedule-free run.

    The params a schedule-free optimizer updates are :math:`y`, where gradients are
    taken; the averaged iterate :math:`x`, which is the one to evaluate or ship, is

    .. math::

       x = \\frac{y - (1 - \\beta) z}{\\beta}

    with :math:`z` and :math:`\\beta` read from ``state`` (undefined when
    :math:`\\beta = 0`, where :math:`y = z`).

    Args:
      state: the state of :func:`schedule_free`, :func:`gradtx.schedule_free_sgd` or
        :func:`gradtx.schedule_free_adamw`, or any state holding exactly one
        :class:`ScheduleFreeState`.
      params: the current parameters :math:`y`.

    Returns:
      :math:`x`, shaped and typed like ``params`` (``None`` leaves stay ``None``).

    Reference: Defazio et al. 2024, "The Road Less Scheduled", arXiv 2405.15682.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.schedule_free_sgd(0.5, b1=0.5)
      >>> y = jnp.ones(1); state = tx.init(y)
      >>> for _ in range(2):
      ...     u, state = tx.update(jnp.ones(1), state, y)
      ...     y = gradtx.apply_updates(y, u)
      >>> y, gradtx.schedule_free_eval_params(state, y)
      (Array([0.125], dtype=float32), Array([0.25], dtype=float32))
    """
    sf = _find_schedule_free_state(state)
    beta = as_float(sf.b1)
    return tmap(lambda y, z: like((y - (1 - beta) * z) / beta, y), params, sf.z)


def _adopt_clip(count: jax.Array) -> jax.Array:
    """ADOPT's clipping threshold :math:`t^{1/4}` (the paper's choice)."""
    return count**0.25


def _clip_magnitude(x: jax.Array, limit: jax.Array) -> jax.Array:
    if jnp.iscomplexobj(x):
        size = jnp.abs(x)
        return x * jnp.where(size > limit, limit / jnp.where(size > 0, size, 1), 1)
    return jnp.clip(x, -limit, limit)


def scale_by_adopt(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.9999,
    eps: jax.typing.ArrayLike = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _adopt_clip,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """ADOPT: normalize each gradient by the second moment of the *previous* steps.

    Update rule, for :math:`t \\ge 1` (step :math:`t = 0` only sets
    :math:`v_0 = |g_0|^2` and emits zeros):

    .. math::

       \\tilde g_t = \\mathrm{clip}\\!\\left(\\frac{g_t}{\\max(\\sqrt{v_{t-1}},
       \\epsilon)},\\ c_t\\right),\\quad
       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) \\tilde g_t,\\quad
       v_t = \\beta_2 v_{t-1} + (1-\\beta_2) |g_t|^2

    and the output :math:`m_t` (or :math:`\\beta_1 m_t + (1-\\beta_1)\\tilde g_t` with
    ``nesterov``). Since :math:`v_{t-1}` does not depend on :math:`g_t`, the step is
    unbiased, which lets ADOPT converge for any :math:`\\beta_2`. The clip
    :math:`c_t` = ``clip_value_fn(t)`` (:math:`t^{1/4}` by default) elementwise bounds
    the normalized gradient (by modulus for complex gradients).

    Args:
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: the floor :math:`\\epsilon` >= 0 of :math:`\\sqrt{v}`.
      mu_dtype: dtype of ``mu``; the parameters' dtype when ``None``.
      nesterov: emit the Nesterov look-ahead :math:`\\beta_1 m_t + (1-\\beta_1)\\tilde g_t`.
      use_clipping: clip the normalized gradient (the paper's stable variant).
      clip_value_fn: the threshold as a function of the step :math:`t` (int32).
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``. Moments are upcast to at least float32 for the arithmetic and
        rounded only when stored.

    Returns:
      A transformation with :class:`gradtx.ScaleByAdamState` (``nu`` holds :math:`v`).

    Reference: Taniguchi, Harada, Minegishi, Oshima, Jeong, Nagahara, Iiyama, Suzuki,
    Iwasawa & Matsuo 2024, "ADOPT: Modified Adam Can Converge with Any beta2 with the
    Optimal Rate", arXiv 2411.02853.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adopt(b1=0.5)
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.array([2.0]), state)
      >>> u, state = tx.update(jnp.array([1.0]), state)
      >>> u
      Array([0.25], dtype=float32)
    """
    check_decay("scale_by_adopt", "b1", b1)
    check_decay("scale_by_adopt", "b2", b2)
    check_nonnegative("scale_by_adopt", "eps", eps)

    def init_fn(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        first = state.count == 0
        limit = clip_value_fn(state.count) if use_clipping else None

        def step(g: jax.Array, m0: jax.Array, v0: jax.Array) -> tuple[Any, Any, Any]:
            g32, m, v = upcast(g), upcast(m0), upcast(v0)
            normed = g32 / jnp.maximum(jnp.sqrt(v), eps)
            if limit is not None:
                normed = _clip_magnitude(normed, limit)
            new_m = jnp.where(first, m, b1 * m + (1 - b1) * normed)
            new_v = jnp.where(first, abs_sq(g32), b2 * v + (1 - b2) * abs_sq(g32))
            out = b1 * new_m + (1 - b1) * normed if nesterov else new_m
            out = jnp.where(first, jnp.zeros_like(out), out)
            return like(out, g), like(new_m, m0), like(new_v, v0)

        triples = tmap(step, updates, state.mu, state.nu)
        pick = lambda i: tmap(lambda g, t: t[i], updates, triples)  # noqa: E731
        new_state = ScaleByAdamState(safe_increment(state.count), pick(1), pick(2))
        return pick(0), new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)
