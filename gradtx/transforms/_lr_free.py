"""Learning-rate-free scaling: COCOB, DoG, DoWG, Prodigy, D-Adaptation (Mechanic: _mechanic).

Each method estimates its own step size from the gradients and the distance travelled
from the initial parameters, so the learning rate left to the user is a multiplier
around 1. DoG, DoWG, Prodigy and D-Adaptation reduce over the whole parameter tree (one
step size for all leaves); COCOB bets coordinate by coordinate.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import (
    check_nonnegative,
    check_positive,
    check_range,
    check_schedule_or_nonnegative,
)
from gradtx.base import (
    GradientTransformationExtraArgs,
    Params,
    ScalarOrSchedule,
)
from gradtx.numerics import abs_sq, safe_increment
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
    "COCOBState",
    "DAdaptAdamWState",
    "DoGState",
    "DoWGState",
    "ProdigyState",
    "scale_by_cocob",
    "scale_by_dadapt_adamw",
    "scale_by_dog",
    "scale_by_dowg",
    "scale_by_prodigy",
]

_INIT_STEPS = ("distance", "learning_rate", "heuristic")


def _scalar(value: Any = 0.0) -> jax.Array:
    """A scalar in JAX's default float dtype (float64 under x64): a tree-wide statistic."""
    return as_float(value)


def _leaves(tree: Any) -> list[jax.Array]:
    return [x for x in jax.tree.leaves(tree) if x is not None]


def _sum(values: list[jax.Array]) -> jax.Array:
    """Sum per-leaf scalars into one in the default float dtype."""
    return sum((as_float(v) for v in values), _scalar())


def _wide(x: jax.Array) -> jax.Array:
    """``x`` in at least the default float precision (bf16 leaves are not summed in bf16)."""
    return jnp.asarray(x, jnp.promote_types(jnp.result_type(x), jnp.result_type(float)))


def _sq_norm(tree: Any) -> jax.Array:
    """:math:`\\|x\\|^2` over all leaves."""
    return _sum([jnp.sum(abs_sq(_wide(x))) for x in _leaves(tree)])


def _dot(a: Any, b: Any) -> jax.Array:
    """:math:`\\mathrm{Re}\\langle a, b\\rangle` over all leaves."""
    return _sum(
        [
            jnp.sum(jnp.real(jnp.conj(_wide(x)) * _wide(y)))
            for x, y in zip(_leaves(a), _leaves(b), strict=True)
        ]
    )


def _l1(tree: Any) -> jax.Array:
    return _sum([jnp.sum(jnp.abs(_wide(x))) for x in _leaves(tree)])


def _check_betas(fn: str, betas: Any) -> None:
    b1, b2 = betas
    check_range(fn, "betas[0]", b1, 0.0, 1.0, high_open=True)
    check_range(fn, "betas[1]", b2, 0.0, 1.0, high_open=True)


# --------------------------------------------------------------------------------------
# COCOB


class COCOBState(NamedTuple):
    """State of :func:`scale_by_cocob` (names as in optax).

    Attributes:
      init_particles: the initial parameters :math:`w_1`.
      cumulative_gradients: :math:`\\theta_t`, the sum of the negative gradients.
      scale: :math:`L_t`, the largest absolute gradient seen (starts at ``eps``).
      subgradients: :math:`G_t`, the sum of absolute gradients.
      reward: :math:`R_t`, the wealth won so far (kept >= 0).
    """

    init_particles: Any
    cumulative_gradients: Any
    scale: Any
    subgradients: Any
    reward: Any


def scale_by_cocob(
    alpha: jax.typing.ArrayLike = 100.0,
    eps: jax.typing.ArrayLike = 1e-8,
    *,
    accumulator_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Coin betting through backpropagation (COCOB-Backprop).

    Per coordinate, with :math:`\\tilde g_t = -g_t` and ``alpha`` :math:`=\\alpha`:

    .. math::

       L_t = \\max(L_{t-1}, |\\tilde g_t|),\\quad G_t = G_{t-1} + |\\tilde g_t|,\\quad
       R_t = \\max(R_{t-1} + (w_t - w_1)\\tilde g_t, 0),\\quad
       \\theta_t = \\theta_{t-1} + \\tilde g_t,

    .. math::

       w_{t+1} = w_1 + \\frac{\\theta_t}{L_t \\max(G_t + L_t, \\alpha L_t)}(L_t + R_t),
       \\qquad u_t = w_{t+1} - w_t,

    with :math:`L_0` = ``eps``. The output is the step itself (already a descent
    direction, like optax's): chain it with ``scale_by_learning_rate(..., flip_sign=False)``
    or nothing.

    Args:
      alpha: :math:`\\alpha` > 0, which caps the first bets (the paper's 100).
      eps: :math:`L_0` > 0, which keeps the first division finite.
      accumulator_dtype: dtype of :math:`L, G, R, \\theta` (keyword-only); the
        parameters' dtype when ``None``. They are upcast to at least float32 for the
        arithmetic and rounded only when stored; :math:`w_1` keeps the parameters' dtype.

    Returns:
      A transformation with :class:`COCOBState`; ``update`` needs ``params``.

    Reference: Orabona & Tommasi 2017, "Training Deep Networks without Learning Rates
    Through Coin Betting", arXiv 1705.07795, Algorithm 2.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_cocob()
      >>> x = jnp.zeros(2)
      >>> u, _ = tx.update(jnp.array([1.0, -2.0]), tx.init(x), x)
      >>> u
      Array([-0.01,  0.01], dtype=float32)
    """
    check_positive("scale_by_cocob", "alpha", alpha)
    check_positive("scale_by_cocob", "eps", eps)

    def init_fn(params: Params) -> COCOBState:
        return COCOBState(
            init_particles=tmap(jnp.asarray, params),
            cumulative_gradients=zeros_state(params, accumulator_dtype),
            scale=tmap(
                lambda p: jnp.full(jnp.shape(p), eps, accumulator_dtype or jnp.result_type(p)),
                params,
            ),
            subgradients=zeros_state(params, accumulator_dtype),
            reward=zeros_state(params, accumulator_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params("scale_by_cocob", params)

        def wide(x: jax.Array, like_state: jax.Array) -> jax.Array:
            # at least float32, and at least the state's dtype (float64 stays float64)
            return x.astype(jnp.promote_types(upcast(like_state).dtype, jnp.result_type(x)))

        neg = tmap(lambda g, t: -wide(g, t), updates, state.cumulative_gradients)
        # L_t >= L_0 = eps: taking the max with eps again keeps L positive when the stored
        # eps underflows (1e-8 is zero in float16), which would make the bet 0/0 = NaN.
        lip = tmap(
            lambda n, s: jnp.maximum(jnp.maximum(upcast(s), jnp.abs(n)), eps), neg, state.scale
        )
        big_g = tmap(lambda n, s: upcast(s) + jnp.abs(n), neg, state.subgradients)
        reward = tmap(
            lambda n, p, w1, r: jnp.maximum(upcast(r) + (upcast(p) - upcast(w1)) * n, 0.0),
            neg,
            params,
            state.init_particles,
            state.reward,
        )
        theta = tmap(lambda n, t: upcast(t) + n, neg, state.cumulative_gradients)

        def step(g, p, w1, t, lo, s, r):
            bet = t / (lo * jnp.maximum(s + lo, alpha * lo))
            return like(upcast(w1) + bet * (lo + r) - upcast(p), g)

        out = tmap(step, updates, params, state.init_particles, theta, lip, big_g, reward)
        return out, COCOBState(
            state.init_particles,
            tmap(like, theta, state.cumulative_gradients),
            tmap(like, lip, state.scale),
            tmap(like, big_g, state.subgradients),
            tmap(like, reward, state.reward),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------------------
# DoG and DoWG


class DoGState(NamedTuple):
    """State of :func:`scale_by_dog` (names as in optax).

    Attributes:
      is_init_step: bool, true until the first update (for ``init_step`` of kind
        ``"learning_rate"``).
      init_params: the initial parameters :math:`x_0`.
      max_dist: :math:`\\bar r_t = \\max(r_\\epsilon, \\max_{i \\le t} \\|x_i - x_0\\|)`.
      sum_sq_norm_grads: :math:`G_t = \\sum_{i \\le t} \\|g_i\\|^2`.
    """

    is_init_step: jax.Array
    init_params: Any
    max_dist: jax.Array
    sum_sq_norm_grads: jax.Array


def scale_by_dog(
    init_step: tuple[Literal["distance", "learning_rate", "heuristic"], Any] = (
        "heuristic",
        1e-6,
    ),
    eps: jax.typing.ArrayLike = 1e-8,
) -> GradientTransformationExtraArgs:
    """Scale by DoG's step size, distance over gradients (one scalar for the tree).

    .. math::

       \\bar r_t = \\max(\\bar r_{t-1}, \\|x_t - x_0\\|),\\quad
       G_t = G_{t-1} + \\|g_t\\|^2,\\quad
       u_t = \\frac{\\bar r_t}{\\sqrt{G_t + \\epsilon}}\\, g_t

    where :math:`\\bar r_0 = r_\\epsilon` is ``init_step[1]`` for ``"distance"``,
    ``init_step[1] (1 + \\|x_0\\|)`` for ``"heuristic"`` (the paper's suggestion), and
    for ``"learning_rate"`` the first step is :math:`u_1 = ` ``init_step[1]``
    :math:`g_1` (then :math:`\\bar r_0 = 0`). Chain with ``scale_by_learning_rate``.

    Args:
      init_step: ``(kind, value)`` fixing the first step, as above; value > 0.
      eps: >= 0, added under the root.

    Returns:
      A transformation with :class:`DoGState`; ``update`` needs ``params``.

    Reference: Ivgi, Hinder & Carmon 2023, "DoG is SGD's Best Friend: A Parameter-Free
    Dynamic Step Size Schedule", arXiv 2302.12022, eq. 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_dog(init_step=("distance", 1.0), eps=0.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(x), x)[0]
      Array([0.6, 0.8], dtype=float32)
    """
    kind, value = _check_init_step("scale_by_dog", init_step)
    check_nonnegative("scale_by_dog", "eps", eps)

    def init_fn(params: Params) -> DoGState:
        if kind == "heuristic":
            r_eps = value * (1 + jnp.sqrt(_sq_norm(params)))
        elif kind == "distance":
            r_eps = value
        else:
            r_eps = 0.0
        return DoGState(jnp.asarray(True), tmap(jnp.asarray, params), _scalar(r_eps), _scalar(0.0))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params("scale_by_dog", params)
        dist = jnp.sqrt(_sq_norm(tmap(lambda p, p0: p - p0, params, state.init_params)))
        max_dist = jnp.maximum(state.max_dist, dist)
        sum_sq = state.sum_sq_norm_grads + _sq_norm(updates)
        eta = max_dist / jnp.sqrt(sum_sq + eps)
        if kind == "learning_rate":
            eta = jnp.where(state.is_init_step, as_float(value), eta)
        out = tmap(lambda g: like(eta * g, g), updates)
        new_state = DoGState(
            jnp.asarray(False),
            state.init_params,
            like(max_dist, state.max_dist),
            like(sum_sq, state.sum_sq_norm_grads),
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _check_init_step(fn: str, init_step: Any) -> tuple[str, Any]:
    if not (isinstance(init_step, tuple | list) and len(init_step) == 2):
        raise ValueError(
            f"`{fn}(init_step=...)` must be a pair (kind, value) with kind one of"
            f" {_INIT_STEPS}; got init_step={init_step!r}."
        )
    kind, value = init_step
    if kind not in _INIT_STEPS:
        raise ValueError(
            f"`{fn}(init_step=...)` must name its kind as one of {_INIT_STEPS}; got {kind!r}."
        )
    check_positive(fn, "init_step[1]", value)
    return kind, value


class DoWGState(NamedTuple):
    """State of :func:`scale_by_dowg` (names as in optax).

    Attributes:
      init_params: the initial parameters :math:`x_0`.
      weighted_sq_norm_grads: :math:`v_t = \\sum_{i \\le t} \\bar r_i^2 \\|g_i\\|^2`.
      estim_sq_dist: :math:`\\bar r_t^2`, the largest squared distance from
        :math:`x_0` (starts at ``init_estim_sq_dist``).
    """

    init_params: Any
    weighted_sq_norm_grads: jax.Array
    estim_sq_dist: jax.Array


def scale_by_dowg(
    init_estim_sq_dist: jax.typing.ArrayLike | None = None,
    eps: jax.typing.ArrayLike = 1e-4,
) -> GradientTransformationExtraArgs:
    """Scale by DoWG's step size, distance over weighted gradients (one scalar).

    .. math::

       \\bar r_t^2 = \\max(\\bar r_{t-1}^2, \\|x_t - x_0\\|^2),\\quad
       v_t = v_{t-1} + \\bar r_t^2 \\|g_t\\|^2,\\quad
       u_t = \\frac{\\bar r_t^2}{\\sqrt{v_t} + \\epsilon}\\, g_t

    with :math:`\\bar r_0^2` = ``init_estim_sq_dist`` (``eps`` when ``None``). Chain
    with ``scale_by_learning_rate``.

    Args:
      init_estim_sq_dist: :math:`\\bar r_0^2` > 0, or ``None`` for ``eps``.
      eps: > 0, added to the root.

    Returns:
      A transformation with :class:`DoWGState`; ``update`` needs ``params``.

    Reference: Khaled, Mishchenko & Jin 2023, "DoWG Unleashed: An Efficient Universal
    Parameter-Free Gradient Descent Method", arXiv 2305.16284, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_dowg(init_estim_sq_dist=1.0, eps=0.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(x), x)[0]
      Array([0.6, 0.8], dtype=float32)
    """
    if init_estim_sq_dist is not None:
        check_positive("scale_by_dowg", "init_estim_sq_dist", init_estim_sq_dist)
    check_nonnegative("scale_by_dowg", "eps", eps)

    def init_fn(params: Params) -> DoWGState:
        r2 = eps if init_estim_sq_dist is None else init_estim_sq_dist
        return DoWGState(tmap(jnp.asarray, params), _scalar(0.0), _scalar(r2))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params("scale_by_dowg", params)
        sq_dist = _sq_norm(tmap(lambda p, p0: p - p0, params, state.init_params))
        r2 = jnp.maximum(state.estim_sq_dist, sq_dist)
        v = state.weighted_sq_norm_grads + r2 * _sq_norm(updates)
        eta = r2 / (jnp.sqrt(v) + eps)
        out = tmap(lambda g: like(eta * g, g), updates)
        return out, DoWGState(
            state.init_params,
            like(v, state.weighted_sq_norm_grads),
            like(r2, state.estim_sq_dist),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------------------
# Prodigy and D-Adaptation (Adam forms)


def _adam_bias_correction(b1: Any, b2: Any, count: jax.Array) -> jax.Array:
    """:math:`\\sqrt{1-\\beta_2^k}/(1-\\beta_1^k)`, the Adam correction folded into the step."""
    k = jnp.asarray(count)
    return jnp.sqrt(1 - jax.lax.pow(as_float(b2), k)) / (1 - jax.lax.pow(as_float(b1), k))


def _grow(d: jax.Array, numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """:math:`\\max(d, \\text{numerator}/\\text{denominator})`; ``d`` when the denominator is 0."""
    safe = jnp.where(denominator > 0, denominator, 1.0)
    return jnp.where(denominator > 0, jnp.maximum(d, numerator / safe), d)


class ProdigyState(NamedTuple):
    """State of :func:`scale_by_prodigy` (names as in optax).

    Attributes:
      exp_avg: :math:`m_t`, the EMA of :math:`d\\, g`.
      exp_avg_sq: :math:`v_t`, the EMA of :math:`d^2 |g|^2`.
      grad_sum: :math:`s_t`, the weighted sum of gradients of the denominator.
      params0: the initial parameters :math:`x_0`.
      estim_lr: :math:`d_t`, the estimated distance to the solution.
      numerator_weighted: :math:`r_t`, the numerator of :math:`\\hat d`.
      count: int32 number of updates so far.
    """

    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    params0: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


def scale_by_prodigy(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[Any, Any] = (0.9, 0.999),
    beta3: jax.typing.ArrayLike | None = None,
    eps: jax.typing.ArrayLike = 1e-8,
    estim_lr0: jax.typing.ArrayLike = 1e-6,
    estim_lr_coef: jax.typing.ArrayLike = 1.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    safeguard_warmup: bool = False,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Prodigy's Adam step with its distance estimate :math:`d_t` (the full update).

    With :math:`k` the step number, :math:`\\beta_3` = ``beta3`` (default
    :math:`\\sqrt{\\beta_2}`), :math:`d_0` = ``estim_lr0``, :math:`\\gamma` =
    ``learning_rate`` and :math:`\\eta_k = d_k \\gamma \\sqrt{1-\\beta_2^k}/(1-\\beta_1^k)`:

    .. math::

       r_k = \\beta_3 r_{k-1} + \\tfrac{d_k}{d_0}\\eta_k \\langle g_k, x_0 - x_k\\rangle,\\quad
       s_k = \\beta_3 s_{k-1} + \\tfrac{d_k}{d_0}\\eta_k g_k
       \\ (\\text{or } \\tfrac{d_k}{d_0} d_k g_k \\text{ with safeguard\\_warmup}),

    .. math::

       m_k = \\beta_1 m_{k-1} + (1-\\beta_1) d_k g_k,\\quad
       v_k = \\beta_2 v_{k-1} + (1-\\beta_2) d_k^2 |g_k|^2,\\quad
       d_{k+1} = \\max\\Big(d_k, c\\,\\frac{r_k}{\\|s_k\\|_1}\\Big),

    .. math::

       u_k = -\\eta_k\\Big(\\frac{m_k}{\\sqrt{v_k} + d_{k+1}\\epsilon} + \\lambda x_k\\Big)

    with :math:`c` = ``estim_lr_coef`` and :math:`\\lambda` = ``weight_decay``. The
    learning rate enters the estimate, so this primitive takes it and returns the final
    (descent) update; :func:`gradtx.prodigy` keeps it in its state.

    Args:
      learning_rate: :math:`\\gamma` >= 0, a number, an array or a schedule of the
        number of updates so far.
      betas: :math:`(\\beta_1, \\beta_2)`, each in [0, 1).
      beta3: :math:`\\beta_3` in [0, 1), or ``None`` for :math:`\\sqrt{\\beta_2}`.
      eps: >= 0, added to the root (times :math:`d`).
      estim_lr0: :math:`d_0` > 0.
      estim_lr_coef: :math:`c` > 0.
      weight_decay: :math:`\\lambda` >= 0, decoupled and multiplied by :math:`\\eta_k`.
      safeguard_warmup: leave :math:`\\gamma` (and the bias correction) out of
        :math:`s_k`, which keeps :math:`d` from growing too fast under a warm-up.

      mu_dtype: dtype of the first moment and of :math:`s` (keyword-only); the
        parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``. Moments are upcast to at least float32 for the arithmetic and
        rounded only when stored; :math:`x_0` keeps the parameters' dtype.
    Returns:
      A transformation with :class:`ProdigyState`; ``update`` needs ``params``.

    Reference: Mishchenko & Defazio 2023, "Prodigy: An Expeditiously Adaptive
    Parameter-Free Learner", arXiv 2306.06101, Algorithm 4 (as in the authors' code,
    with Adam's bias correction folded into the step).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_prodigy(estim_lr0=0.1)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([1.0, -2.0]), tx.init(x), x)[0]
      Array([-0.1,  0.1], dtype=float32)
    """
    _check_prodigy("scale_by_prodigy", learning_rate, betas, beta3, eps, estim_lr0)
    check_positive("scale_by_prodigy", "estim_lr_coef", estim_lr_coef)
    check_nonnegative("scale_by_prodigy", "weight_decay", weight_decay)
    b1, b2 = betas

    def init_fn(params: Params) -> ProdigyState:
        return ProdigyState(
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
            zeros_state(params, mu_dtype),
            tmap(jnp.asarray, params),
            _scalar(estim_lr0),
            _scalar(0.0),
            jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params("scale_by_prodigy", params)
        b3 = jnp.sqrt(as_float(b2)) if beta3 is None else as_float(beta3)
        count = safe_increment(state.count)
        d = state.estim_lr
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        dlr = d * as_float(lr) * _adam_bias_correction(b1, b2, count)
        ratio = d / as_float(estim_lr0)
        shift = tmap(lambda p0, p: p0 - p, state.params0, params)
        numerator = b3 * state.numerator_weighted + ratio * dlr * _dot(updates, shift)
        mu = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * d * upcast(g), updates, state.exp_avg)
        nu = tmap(
            lambda g, v: b2 * upcast(v) + (1 - b2) * d * d * abs_sq(upcast(g)),
            updates,
            state.exp_avg_sq,
        )
        step = ratio * (d if safeguard_warmup else dlr)
        s = tmap(lambda g, s: b3 * upcast(s) + step * upcast(g), updates, state.grad_sum)
        d_new = _grow(d, estim_lr_coef * numerator, _l1(s))
        out = tmap(
            lambda g, m, v, p: like(-dlr * (m / (jnp.sqrt(v) + d_new * eps) + weight_decay * p), g),
            updates,
            mu,
            nu,
            params,
        )
        return out, ProdigyState(
            tmap(like, mu, state.exp_avg),
            tmap(like, nu, state.exp_avg_sq),
            tmap(like, s, state.grad_sum),
            state.params0,
            like(d_new, state.estim_lr),
            like(numerator, state.numerator_weighted),
            count,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _check_prodigy(
    fn: str, learning_rate: Any, betas: Any, beta3: Any, eps: Any, estim_lr0: Any
) -> None:
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    _check_betas(fn, betas)
    if beta3 is not None:
        check_range(fn, "beta3", beta3, 0.0, 1.0, high_open=True)
    check_nonnegative(fn, "eps", eps)
    check_positive(fn, "estim_lr0", estim_lr0)


class DAdaptAdamWState(NamedTuple):
    """State of :func:`scale_by_dadapt_adamw` (names as in optax).

    Attributes:
      exp_avg: :math:`m_t`, the EMA of :math:`\\eta g` (the step already in it).
      exp_avg_sq: :math:`v_t`, the EMA of :math:`|g|^2`.
      grad_sum: :math:`s_t`, the EMA of :math:`\\eta g` with decay :math:`\\sqrt{\\beta_2}`.
      estim_lr: :math:`d_t`, the estimated distance to the solution.
      numerator_weighted: :math:`r_t`, the numerator of :math:`\\hat d`.
      count: int32 number of updates so far.
    """

    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


def scale_by_dadapt_adamw(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[Any, Any] = (0.9, 0.999),
    eps: jax.typing.ArrayLike = 1e-8,
    estim_lr0: jax.typing.ArrayLike = 1e-6,
    weight_decay: jax.typing.ArrayLike = 0.0,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """D-Adaptation's AdamW step with its distance estimate :math:`d_t` (the full update).

    With :math:`\\beta = \\sqrt{\\beta_2}`, :math:`\\gamma` = ``learning_rate``,
    :math:`d_1` = ``estim_lr0`` and
    :math:`\\eta_k = d_k \\gamma \\sqrt{1-\\beta_2^k}/(1-\\beta_1^k)`:

    .. math::

       r_k = \\beta r_{k-1} + (1-\\beta)\\,\\eta_k
       \\Big\\langle g_k, \\frac{s_{k-1}}{\\sqrt{v_{k-1}} + \\epsilon}\\Big\\rangle,\\quad
       s_k = \\beta s_{k-1} + (1-\\beta)\\eta_k g_k,

    .. math::

       m_k = \\beta_1 m_{k-1} + (1-\\beta_1)\\eta_k g_k,\\quad
       v_k = \\beta_2 v_{k-1} + (1-\\beta_2)|g_k|^2,\\quad
       d_{k+1} = \\max\\Big(d_k, \\frac{r_k}{(1-\\beta)\\|s_k\\|_1}\\Big),

    .. math::

       u_k = -\\frac{m_k}{\\sqrt{v_k} + \\epsilon} - \\lambda\\eta_k x_k

    with :math:`\\lambda` = ``weight_decay``. The learning rate enters the moments, so
    this primitive takes it and returns the final (descent) update.

    Args:
      learning_rate: :math:`\\gamma` >= 0, a number, an array or a schedule of the
        number of updates so far.
      betas: :math:`(\\beta_1, \\beta_2)`, each in [0, 1).
      eps: >= 0, added to the root.
      estim_lr0: :math:`d_1` > 0.
      weight_decay: :math:`\\lambda` >= 0, decoupled and multiplied by :math:`\\eta_k`.

      mu_dtype: dtype of the first moment and of :math:`s` (keyword-only); the
        parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``. Moments are upcast to at least float32 for the arithmetic and
        rounded only when stored.
    Returns:
      A transformation with :class:`DAdaptAdamWState`; ``update`` needs ``params``.

    Reference: Defazio & Mishchenko 2023, "Learning-Rate-Free Learning by
    D-Adaptation", arXiv 2301.07733, Algorithm 3 (as in the authors' code, with Adam's
    bias correction folded into the step).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_dadapt_adamw(estim_lr0=0.1)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([1.0, -2.0]), tx.init(x), x)[0]
      Array([-0.1,  0.1], dtype=float32)
    """
    _check_prodigy("scale_by_dadapt_adamw", learning_rate, betas, None, eps, estim_lr0)
    check_nonnegative("scale_by_dadapt_adamw", "weight_decay", weight_decay)
    b1, b2 = betas

    def init_fn(params: Params) -> DAdaptAdamWState:
        return DAdaptAdamWState(
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
            zeros_state(params, mu_dtype),
            _scalar(estim_lr0),
            _scalar(0.0),
            jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params("scale_by_dadapt_adamw", params)
        sb2 = jnp.sqrt(as_float(b2))
        count = safe_increment(state.count)
        d = state.estim_lr
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        dlr = d * as_float(lr) * _adam_bias_correction(b1, b2, count)
        scaled_s = tmap(
            lambda s, v: upcast(s) / (jnp.sqrt(upcast(v)) + eps), state.grad_sum, state.exp_avg_sq
        )
        numerator = sb2 * state.numerator_weighted + (1 - sb2) * dlr * _dot(updates, scaled_s)
        mu = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * dlr * upcast(g), updates, state.exp_avg)
        nu = tmap(
            lambda g, v: b2 * upcast(v) + (1 - b2) * abs_sq(upcast(g)), updates, state.exp_avg_sq
        )
        s = tmap(
            lambda g, s: sb2 * upcast(s) + (1 - sb2) * dlr * upcast(g), updates, state.grad_sum
        )
        d_new = _grow(d, numerator, (1 - sb2) * _l1(s))
        out = tmap(
            lambda g, m, v, p: like(-m / (jnp.sqrt(v) + eps) - weight_decay * dlr * p, g),
            updates,
            mu,
            nu,
            params,
        )
        return out, DAdaptAdamWState(
            tmap(like, mu, state.exp_avg),
            tmap(like, nu, state.exp_avg_sq),
            tmap(like, s, state.grad_sum),
            like(d_new, state.estim_lr),
            like(numerator, state.numerator_weighted),
            count,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)
