"""Trust-ratio, noisy and Polyak optimizers: LAMB, LARS, Fromage, noisy SGD, SPS."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx._checks import (
    check_decay,
    check_nonnegative,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import (
    EmptyState,
    GradientTransformationExtraArgs,
    Params,
    ScalarOrSchedule,
)
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    add_noise,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_polyak,
    scale_by_trust_ratio,
    trace,
)
from gradtx.wrappers import masked

__all__ = [
    "fromage",
    "lamb",
    "lars",
    "noisy_sgd",
    "polyak_sgd",
]

Num = jax.typing.ArrayLike


def _lamb_build(learning_rate, b1, b2, eps, eps_root, weight_decay, *, mask, mu_dtype, nu_dtype):
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nu_dtype=nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def lamb(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-6,
    eps_root: Num = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """LAMB: Adam's direction plus decoupled weight decay, rescaled layer by layer.

    Update rule, per leaf (layer) :math:`\\theta`:

    .. math::

       r_t = \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}
             + \\lambda\\theta_t,\\qquad
       \\theta_{t+1} = \\theta_t - \\alpha_t\\,\\frac{\\|\\theta_t\\|}{\\|r_t\\|}\\, r_t

    with Adam's bias-corrected moments (:func:`gradtx.scale_by_adam`) and the trust
    ratio of :func:`gradtx.scale_by_trust_ratio` (1 where either norm is zero). The
    paper's scaling function :math:`\\phi` is the identity here.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: added outside the root, >= 0.
      eps_root: added inside the root, >= 0.
      weight_decay: :math:`\\lambda` >= 0 (a number or a schedule).
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      mu_dtype: dtype of the first moment (keyword-only).
      nu_dtype: dtype of the second moment (keyword-only).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``, ``b2``,
      ``eps``, ``eps_root`` and ``weight_decay``. ``update`` needs the params.

    Reference: You et al. 2019, "Large Batch Optimization for Deep Learning: Training
    BERT in 76 minutes", arXiv 1904.00962, Algorithm 2.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.lamb(0.1)
      >>> p = jnp.array([3.0, 4.0])
      >>> tx.update(jnp.array([1.0, 1.0]), tx.init(p), p)[0]
      Array([-0.35355338, -0.35355338], dtype=float32)
    """
    fn = "lamb"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    scale_by_adam(b1, b2, eps, eps_root)  # validates b1, b2, eps, eps_root eagerly
    hps = dict(
        learning_rate=learning_rate,
        b1=b1,
        b2=b2,
        eps=eps,
        eps_root=eps_root,
        weight_decay=weight_decay,
    )
    return build_optimizer(fn, _lamb_build, hps, mask=mask, mu_dtype=mu_dtype, nu_dtype=nu_dtype)


def _lars_build(
    learning_rate,
    weight_decay,
    trust_coefficient,
    eps,
    momentum,
    *,
    weight_decay_mask,
    trust_ratio_mask,
    nesterov,
    accumulator_dtype,
):
    decay = add_decayed_weights(weight_decay)
    if weight_decay_mask is not True:
        decay = masked(decay, weight_decay_mask)
    ratio = scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps)
    if trust_ratio_mask is not True:
        ratio = masked(ratio, trust_ratio_mask)
    return chain(
        decay,
        ratio,
        scale_by_learning_rate(learning_rate),
        trace(momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype),
    )


@reports_as_itself
def lars(
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = True,
    trust_coefficient: Num = 0.001,
    eps: Num = 0.0,
    trust_ratio_mask: Any = True,
    momentum: Num = 0.9,
    nesterov: bool = False,
    *,
    accumulator_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """LARS: SGD with momentum and a layer-wise trust ratio.

    Update rule, per leaf (layer) :math:`\\theta`, with :math:`\\eta` =
    ``trust_coefficient``, :math:`\\lambda` = ``weight_decay``, :math:`\\mu` =
    ``momentum``:

    .. math::

       d_t = g_t + \\lambda\\theta_t,\\quad
       v_t = \\mu v_{t-1} - \\alpha_t\\,
             \\frac{\\eta\\|\\theta_t\\|}{\\|d_t\\| + \\epsilon}\\, d_t,\\quad
       \\theta_{t+1} = \\theta_t + v_t

    (with ``nesterov``, :math:`\\theta_{t+1} = \\theta_t + (\\text{step}_t + \\mu v_t)`).
    The trust ratio is 1 where :math:`\\theta_t` or :math:`d_t` is zero.

    Note: Algorithm 1 of the paper divides by :math:`\\|g_t\\| + \\lambda\\|\\theta_t\\|`;
    this (like optax) divides by :math:`\\|g_t + \\lambda\\theta_t\\| + \\epsilon`, the
    norm of the direction actually taken (at most the paper's denominator, so the
    local rate is at least the paper's). The two agree when ``weight_decay=0``.

    Args:
      learning_rate: :math:`\\alpha`, the global rate, a number >= 0 or a schedule.
      weight_decay: :math:`\\lambda` >= 0, added to the gradient before the ratio.
      weight_decay_mask: where to decay (``True`` for everywhere, a tree of booleans
        or a function of the params).
      trust_coefficient: :math:`\\eta` >= 0.
      eps: >= 0, added to the denominator of the ratio.
      trust_ratio_mask: where to apply the ratio (as ``weight_decay_mask``; the paper
        excludes biases and normalisation parameters in practice).
      momentum: :math:`\\mu` in [0, 1].
      nesterov: Nesterov's look-ahead on the momentum.
      accumulator_dtype: dtype of the momentum buffer :math:`v` (keyword-only, as
        :func:`gradtx.trace`'s); the parameters' dtype when ``None``.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``,
      ``weight_decay``, ``trust_coefficient``, ``eps`` and ``momentum``. ``update``
      needs the params.

    Reference: You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional
    Networks", arXiv 1708.03888, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.lars(1.0, trust_coefficient=0.1)
      >>> p = jnp.array([3.0, 4.0])
      >>> tx.update(jnp.array([1.0, 0.0]), tx.init(p), p)[0]
      Array([-0.5, -0. ], dtype=float32)
    """
    fn = "lars"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    check_nonnegative(fn, "trust_coefficient", trust_coefficient)
    check_nonnegative(fn, "eps", eps)
    check_decay(fn, "momentum", momentum)
    hps = dict(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        trust_coefficient=trust_coefficient,
        eps=eps,
        momentum=momentum,
    )
    return build_optimizer(
        fn,
        _lars_build,
        hps,
        weight_decay_mask=weight_decay_mask,
        trust_ratio_mask=trust_ratio_mask,
        nesterov=nesterov,
        accumulator_dtype=accumulator_dtype,
    )


def _shrink(factor: Any) -> GradientTransformationExtraArgs:
    """``u <- u + factor * params`` for any real ``factor`` (Fromage's -1 < factor <= 0)."""

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError("`fromage` needs the parameters: call update(updates, state, params).")
        out = jax.tree.map(
            lambda g, p: None if g is None else (g + factor * p).astype(jnp.result_type(g)),
            updates,
            params,
            is_leaf=lambda x: x is None,
        )
        return out, state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _fromage_build(learning_rate, min_norm):
    shrink = 1 / jnp.sqrt(1 + jnp.square(jnp.asarray(learning_rate, jnp.result_type(float))))
    return chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(learning_rate * shrink),
        _shrink(shrink - 1),
    )


@reports_as_itself
def fromage(learning_rate: float, min_norm: float = 1e-6) -> GradientTransformationExtraArgs:
    """Fromage: a gradient step of relative size :math:`\\alpha` per layer, then a shrink.

    Update rule, per leaf (layer) :math:`\\theta`:

    .. math::

       \\theta_{t+1} = \\frac{1}{\\sqrt{1 + \\alpha_t^2}}\\left(\\theta_t
         - \\alpha_t \\frac{\\|\\theta_t\\|}{\\|g_t\\|}\\, g_t\\right)

    with both norms at least ``min_norm`` (and the ratio 1 where one is zero, see
    :func:`gradtx.scale_by_trust_ratio`). Each step moves a layer by a relative
    distance :math:`\\alpha` and the division keeps its norm from growing.

    Args:
      learning_rate: :math:`\\alpha` >= 0 (a number or a schedule).
      min_norm: >= 0, the smallest value either norm is taken to have.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate`` and
      ``min_norm``. ``update`` needs the params.

    Reference: Bernstein, Vahdat, Yue & Liu 2020, "On the distance between two neural
    networks and the stability of learning", arXiv 2002.03432, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.fromage(0.75)
      >>> p = jnp.array([3.0, 4.0])
      >>> [round(float(x), 4) for x in p + tx.update(jnp.array([0.0, 1.0]), tx.init(p), p)[0]]
      [2.4, 0.2]
    """
    check_schedule_or_nonnegative("fromage", "learning_rate", learning_rate)
    check_nonnegative("fromage", "min_norm", min_norm)
    return build_optimizer(
        "fromage", _fromage_build, dict(learning_rate=learning_rate, min_norm=min_norm)
    )


def _noisy_sgd_build(learning_rate, eta, gamma, *, key):
    return chain(add_noise(eta, gamma, key=key), scale_by_learning_rate(learning_rate))


@reports_as_itself
def noisy_sgd(
    learning_rate: ScalarOrSchedule,
    eta: Num = 0.01,
    gamma: Num = 0.55,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformationExtraArgs:
    """SGD with annealed Gaussian gradient noise.

    Update rule, with :math:`t` counting updates from 0:

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha_t\\left(g_t + \\sigma_t\\xi_t\\right),\\quad
       \\sigma_t^2 = \\frac{\\eta}{(1+t)^{\\gamma}},\\quad \\xi_t\\sim\\mathcal N(0, I)

    (see :func:`gradtx.add_noise`; the PRNG key is in the state).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      eta: :math:`\\eta` >= 0, the initial noise variance.
      gamma: :math:`\\gamma` >= 0, the annealing exponent.
      key: a PRNG key or an integer seed.
      seed: optax's older name for ``key`` (give one of the two).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``eta`` and
      ``gamma``.

    Reference: Neelakantan et al. 2015, "Adding Gradient Noise Improves Learning for
    Very Deep Networks", arXiv 1511.06807.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.noisy_sgd(0.5, eta=0.0, key=0)
      >>> tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))[0]
      Array([-0.5], dtype=float32)
    """
    check_schedule_or_nonnegative("noisy_sgd", "learning_rate", learning_rate)
    check_nonnegative("noisy_sgd", "eta", eta)
    check_nonnegative("noisy_sgd", "gamma", gamma)
    if key is not None and seed is not None:
        raise ValueError(
            f"`noisy_sgd` takes `key` or `seed`, not both; got {key=} and {seed=}. Pass key."
        )
    if key is None and seed is None:
        add_noise(eta, gamma)  # warns that seed 0 is used
        key = 0
    return build_optimizer(
        "noisy_sgd",
        _noisy_sgd_build,
        dict(learning_rate=learning_rate, eta=eta, gamma=gamma),
        key=key if key is not None else seed,
    )


def _polyak_build(max_learning_rate, scaling, f_min, eps, *, variant):
    # Scaling first: the Polyak step then divides by c^2 |g|^2, which is the paper's
    # (f - f*) / (c |g|^2) once multiplied by the scaled c g (and optax's numerics).
    return chain(
        scale_by_learning_rate(scaling),
        scale_by_polyak(f_min, max_learning_rate, eps, variant),
    )


@reports_as_itself
def polyak_sgd(
    max_learning_rate: Num = 1.0,
    scaling: ScalarOrSchedule = 1.0,
    f_min: Num = 0.0,
    eps: Num = 0.0,
    variant: str = "sps",
) -> GradientTransformationExtraArgs:
    """SGD with the stochastic Polyak step size (SPS_max).

    Update rule, with :math:`f` the loss at :math:`\\theta_t` (``update(..., value=f)``):

    .. math::

       \\theta_{t+1} = \\theta_t - \\min\\left(\\frac{f - f^*}{c_t^2\\|g_t\\|^2 +
       \\epsilon},\\ \\gamma_{max}\\right) c_t\\, g_t

    with :math:`c_t` = ``scaling``, :math:`f^*` = ``f_min``, :math:`\\gamma_{max}` =
    ``max_learning_rate``; ``variant="sps+"`` clips :math:`f - f^*` at 0 (see
    :func:`gradtx.scale_by_polyak`, applied to the scaled gradient :math:`c_t g_t`).
    Below the cap and with :math:`\\epsilon = 0` this is the paper's SPS step
    :math:`\\frac{f - f^*}{c\\|g\\|^2} g`; at the cap the step is
    :math:`\\gamma_{max} c\\, g` (the paper's SPS_max caps at :math:`\\gamma_b g`).

    Args:
      max_learning_rate: :math:`\\gamma_{max}` >= 0.
      scaling: :math:`c` >= 0, a number or a schedule (the paper's :math:`c`).
      f_min: :math:`f^*`, a lower bound on the loss.
      eps: >= 0, added to :math:`\\|g\\|^2`.
      variant: ``"sps"`` or ``"sps+"``.

    Returns:
      The optimizer; ``update`` needs ``value=`` (the loss). :func:`gradtx.hyperparams`
      shows ``max_learning_rate``, ``scaling``, ``f_min`` and ``eps``.

    Reference: Loizou, Vaswani, Laradji & Lacoste-Julien 2021, "Stochastic Polyak
    Step-size for SGD: An Adaptive Learning Rate for Fast Convergence",
    arXiv 2002.10542.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.polyak_sgd()
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(10):
      ...     value, grad = jax.value_and_grad(f)(x)
      ...     u, state = tx.update(grad, state, x, value=value)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    fn = "polyak_sgd"
    check_schedule_or_nonnegative(fn, "scaling", scaling)
    check_nonnegative(fn, "max_learning_rate", max_learning_rate)
    check_nonnegative(fn, "eps", eps)
    scale_by_polyak(variant=variant)  # validates variant
    hps = dict(max_learning_rate=max_learning_rate, scaling=scaling, f_min=f_min, eps=eps)
    return build_optimizer(fn, _polyak_build, hps, variant=variant)
