"""Schedule-free SGD and AdamW (Defazio et al. 2024), and ADOPT (Taniguchi et al. 2024)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradtx._checks import (
    check_decay,
    check_nonnegative,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    scale_by_adopt,
    scale_by_learning_rate,
    scale_by_rms,
    schedule_free,
)

__all__ = ["adopt", "schedule_free_adamw", "schedule_free_sgd"]

Num = jax.typing.ArrayLike


def _adopt_clip(count: jax.Array) -> jax.Array:
    """ADOPT's clipping threshold :math:`t^{1/4}` (the paper's choice)."""
    return count**0.25


def _check_warmup(fn: str, warmup_steps: Any) -> None:
    if warmup_steps is None:
        return
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(
            f"`{fn}(warmup_steps=...)` must be None or an int >= 0; got {warmup_steps=!r}."
        )


def _warmed_up(learning_rate: Any, warmup_steps: int | None) -> Any:
    """``learning_rate * min((t + 1) / warmup_steps, 1)`` at the 0-based step ``t``."""
    if not warmup_steps:
        return learning_rate
    # in JAX's default float: an int32 count divides to float32 even under x64
    return lambda count: (
        learning_rate
        * jnp.minimum(jnp.asarray(count + 1, jnp.result_type(float)) / warmup_steps, 1.0)
    )


def _schedule_free_build(
    learning_rate,
    b1,
    weight_lr_power,
    weight_decay=None,
    b2=None,
    eps=None,
    *,
    warmup_steps,
    state_dtype,
    mask,
    nu_dtype=None,
):
    lr = _warmed_up(learning_rate, warmup_steps)
    parts = []
    if b2 is not None:
        parts.append(
            scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True, nu_dtype=nu_dtype)
        )
    if weight_decay is not None:
        parts.append(add_decayed_weights(weight_decay, mask))
    parts.append(scale_by_learning_rate(lr))
    return schedule_free(chain(*parts), lr, b1, weight_lr_power, state_dtype)


@reports_as_itself
def schedule_free_sgd(
    learning_rate: Num = 1.0,
    warmup_steps: int | None = None,
    b1: Num = 0.9,
    weight_decay: Num | None = None,
    weight_lr_power: Num = 2.0,
    state_dtype: Any = None,
    *,
    mask: Any = None,
) -> GradientTransformationExtraArgs:
    """Schedule-free SGD: SGD steps on :math:`z`, gradients at :math:`y`, evaluate :math:`x`.

    Update rule (see :func:`gradtx.schedule_free` for :math:`x, y, z`), with
    :math:`\\gamma_t = \\alpha \\min((t+1)/` ``warmup_steps`` :math:`, 1)`:

    .. math::

       z_{t+1} = z_t - \\gamma_t (\\nabla f(y_t) + \\lambda y_t), \\quad
       x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}, \\quad
       y_{t+1} = (1-\\beta) z_{t+1} + \\beta x_{t+1}

    with :math:`c_{t+1} = w_t/\\sum_{i \\le t} w_i`,
    :math:`w_t = (\\max_{i\\le t}\\gamma_i)^{p}`. The params you hold are :math:`y`;
    evaluate at :math:`x` = :func:`gradtx.schedule_free_eval_params` ``(state, y)``.

    Args:
      learning_rate: :math:`\\alpha` >= 0 (the method needs no decay schedule).
      warmup_steps: steps of linear warmup, or ``None``. gradtx uses the paper's
        :math:`(t+1)/` ``warmup_steps`` for both the step and the weight; optax steps
        with :math:`t/` ``warmup_steps`` (a zero first step) but weights with
        :math:`(t+1)/` ``warmup_steps``, so the two differ during warmup only.
      b1: the interpolation :math:`\\beta` in [0, 1] (the paper's momentum).
      weight_decay: :math:`\\lambda` >= 0 applied at :math:`y`, or ``None``.
      weight_lr_power: :math:`p` >= 0.
      state_dtype: dtype of :math:`z`.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``weight_lr_power`` (and ``weight_decay`` when given).

    Reference: Defazio et al. 2024, "The Road Less Scheduled", arXiv 2405.15682.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda y: jnp.sum((y - 3.0) ** 2)
      >>> tx = gradtx.schedule_free_sgd(0.1)
      >>> y = jnp.zeros(2); state = tx.init(y)
      >>> for _ in range(300):
      ...     u, state = tx.update(jax.grad(f)(y), state, y)
      ...     y = gradtx.apply_updates(y, u)
      >>> gradtx.schedule_free_eval_params(state, y).round(2)
      Array([3., 3.], dtype=float32)
    """
    fn = "schedule_free_sgd"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    _check_warmup(fn, warmup_steps)
    check_decay(fn, "b1", b1)
    check_nonnegative(fn, "weight_lr_power", weight_lr_power)
    hps: dict[str, Any] = dict(learning_rate=learning_rate, b1=b1, weight_lr_power=weight_lr_power)
    if weight_decay is not None:
        hps["weight_decay"] = weight_decay
    return build_optimizer(
        fn,
        _schedule_free_build,
        hps,
        warmup_steps=warmup_steps,
        state_dtype=state_dtype,
        mask=mask,
    )


@reports_as_itself
def schedule_free_adamw(
    learning_rate: Num = 0.0025,
    warmup_steps: int | None = None,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    weight_decay: Num = 0.0,
    weight_lr_power: Num = 2.0,
    state_dtype: Any = None,
    *,
    mask: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Schedule-free AdamW: :func:`schedule_free_sgd` with Adam's second-moment scaling.

    Update rule: as :func:`schedule_free_sgd`, with the step on :math:`z`

    .. math::

       v_t = \\beta_2 v_{t-1} + (1-\\beta_2) |g_t|^2, \\quad
       z_{t+1} = z_t - \\gamma_t\\left(\\frac{g_t}{\\sqrt{v_t/(1-\\beta_2^{t+1})}
       + \\epsilon} + \\lambda y_t\\right)

    (no first moment: ``b1`` is the interpolation :math:`\\beta`), :math:`g_t` the
    gradient at :math:`y_t`. The params you hold are :math:`y`; evaluate at
    :func:`gradtx.schedule_free_eval_params` ``(state, y)``. The reference PyTorch code
    puts :math:`\\sqrt{1-\\beta_2^{t+1}}` into :math:`\\gamma_t` instead (the same up to
    where :math:`\\epsilon` sits, and in the weights); this follows optax.

    Args:
      learning_rate, warmup_steps, weight_lr_power, state_dtype, mask: as in
        :func:`schedule_free_sgd`.
      b1: the interpolation :math:`\\beta` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: added to the root, >= 0.
      weight_decay: :math:`\\lambda` >= 0, decoupled and applied at :math:`y`.
      nu_dtype: dtype of :math:`v` (keyword-only); the parameters' real dtype when
        ``None`` (``state_dtype`` sets :math:`z`'s).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``, ``weight_decay``, ``weight_lr_power``.

    Reference: Defazio et al. 2024, "The Road Less Scheduled", arXiv 2405.15682.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.schedule_free_adamw(1e-3, weight_decay=0.1)
      >>> sorted(gradtx.hyperparams(tx.init({"w": jnp.zeros(2)})))
      ['b1', 'b2', 'eps', 'learning_rate', 'weight_decay', 'weight_lr_power']
    """
    fn = "schedule_free_adamw"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    _check_warmup(fn, warmup_steps)
    check_decay(fn, "b1", b1)
    check_nonnegative(fn, "weight_lr_power", weight_lr_power)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)
    return build_optimizer(
        fn,
        _schedule_free_build,
        dict(
            learning_rate=learning_rate,
            b1=b1,
            weight_lr_power=weight_lr_power,
            weight_decay=weight_decay,
            b2=b2,
            eps=eps,
        ),
        warmup_steps=warmup_steps,
        state_dtype=state_dtype,
        mask=mask,
        nu_dtype=nu_dtype,
    )


def _adopt_build(
    learning_rate, b1, b2, eps, *, mu_dtype, nesterov, use_clipping, clip_value_fn, nu_dtype
):
    direction = scale_by_adopt(
        b1,
        b2,
        eps,
        mu_dtype,
        nesterov=nesterov,
        use_clipping=use_clipping,
        clip_value_fn=clip_value_fn,
        nu_dtype=nu_dtype,
    )
    return chain(direction, scale_by_learning_rate(learning_rate))


@reports_as_itself
def adopt(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.9999,
    eps: Num = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _adopt_clip,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """ADOPT: Adam that normalizes each gradient by the previous steps' second moment.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t m_t` with ADOPT's
    :math:`m_t` (see :func:`gradtx.scale_by_adopt`); the first step only records
    :math:`v_0 = |g_0|^2` and leaves the params unchanged.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1, b2, eps, mu_dtype, nesterov, use_clipping, clip_value_fn, nu_dtype: as in
        :func:`gradtx.scale_by_adopt` (``nu_dtype`` is keyword-only).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``.

    Reference: Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any beta2
    with the Optimal Rate", arXiv 2411.02853.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.adopt(0.1)
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(300):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    check_schedule_or_nonnegative("adopt", "learning_rate", learning_rate)
    check_decay("adopt", "b1", b1)
    check_decay("adopt", "b2", b2)
    check_nonnegative("adopt", "eps", eps)
    return build_optimizer(
        "adopt",
        _adopt_build,
        dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps),
        mu_dtype=mu_dtype,
        nesterov=nesterov,
        use_clipping=use_clipping,
        clip_value_fn=clip_value_fn,
        nu_dtype=nu_dtype,
    )
