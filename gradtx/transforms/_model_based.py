"""Model-based steps: MoMo's momentum model, Sophia's clipped Newton step, DP aggregation."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import call_name, check_decay, check_nonnegative, check_positive, check_range
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._common import (
    as_float,
    debias_factor,
    like,
    real_zeros_state,
    tmap,
    upcast,
    zeros_state,
)
from gradtx.transforms._trust import _as_key

__all__ = [
    "DifferentiallyPrivateAggregateState",
    "HutchinsonState",
    "MomoAdamState",
    "MomoState",
    "ScaleBySophiaState",
    "differentially_private_aggregate",
    "hutchinson_estimator_diag_hessian",
    "scale_by_momo",
    "scale_by_momo_adam",
    "scale_by_sophia",
]


def _tree_sum(tree: Any) -> jax.Array:
    """The sum over all leaves of a tree of scalars, in the default float dtype."""
    return sum((as_float(x) for x in jax.tree.leaves(tree)), as_float(0.0))


def _real_dot(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.sum(jnp.real(jnp.conj(as_float(a)) * b))


def _need_value(fn: str, value: Any, params: Any) -> None:
    if params is None:
        raise ValueError(f"`{fn}` needs the parameters: call update(updates, state, params).")
    if value is None:
        raise ValueError(
            f"`{fn}` needs the loss: call update(updates, state, params, value=loss) with "
            "the loss at the current params (the momentum model averages past losses)."
        )


class MomoState(NamedTuple):
    """State of :func:`scale_by_momo`.

    Attributes:
      exp_avg: :math:`d_t`, the moving average of gradients.
      barf: :math:`\\bar f_t`, the moving average of losses.
      gamma: :math:`\\gamma_t`, the moving average of :math:`\\langle g_s, x_s\\rangle`.
      lb: the lower bound the next step starts from (the online estimate with
        ``adapt_lower_bound``, else ``lower_bound``).
      count: int32 number of updates so far.
    """

    exp_avg: Any
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


class MomoAdamState(NamedTuple):
    """State of :func:`scale_by_momo_adam`.

    Attributes:
      exp_avg: :math:`d_t`, the moving average of gradients.
      exp_avg_sq: :math:`v_t`, the moving average of squared gradients.
      barf: :math:`\\bar f_t`, the moving average of losses.
      gamma: :math:`\\gamma_t`, the moving average of :math:`\\langle g_s, x_s\\rangle`.
      lb: the lower bound the next step starts from (the online estimate with
        ``adapt_lower_bound``, else ``lower_bound``).
      count: int32 number of updates so far.
    """

    exp_avg: Any
    exp_avg_sq: Any
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array


def _momo_step(
    fn: str,
    updates: Any,
    params: Any,
    value: Any,
    d: Any,
    precond: Any,
    barf: jax.Array,
    gamma: jax.Array,
    lb: jax.Array,
    learning_rate: Any,
    lower_bound: Any,
    weight_decay: Any,
    adapt_lower_bound: bool,
) -> tuple[Any, jax.Array]:
    """The MoMo step from the averaged model; returns the updates and the next bound."""
    lr = as_float(learning_rate)
    dot = _tree_sum(tmap(_real_dot, d, params))
    sq = _tree_sum(tmap(lambda di, ci: jnp.sum(abs_sq(as_float(di)) / ci), d, precond))
    h = barf + dot - gamma
    decay = lr * as_float(weight_decay)
    rho = 1 + decay
    if adapt_lower_bound:  # MoMo*: an estimate above the model's value is reset below it
        lb = jnp.where(h < lb, jnp.maximum(h / 2, as_float(lower_bound)), lb)
    else:  # the fixed bound is the (settable) hyperparameter itself
        lb = as_float(lower_bound)
    gap = jnp.maximum(rho * (h - lb) - decay * dot, 0.0)
    tau = jnp.minimum(lr, gap / jnp.where(sq > 0, sq, 1.0))
    tau = jnp.where(sq > 0, tau, 0.0)
    # x_{t+1} = (x_t - tau D^-1 d_t) / rho, written as an update.
    out = tmap(
        lambda g, di, ci, p: like(-(decay * p + tau * di / ci) / rho, g),
        updates,
        d,
        precond,
        params,
    )
    new_lb = jnp.maximum(h - tau * sq / 2, as_float(lower_bound)) if adapt_lower_bound else lb
    return out, new_lb


def scale_by_momo(
    learning_rate: Any = 1.0,
    beta: jax.typing.ArrayLike = 0.9,
    lower_bound: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    adapt_lower_bound: bool = False,
    *,
    mu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """MoMo's update: an SGD-momentum step whose size comes from a model of the loss.

    With :math:`f_t` = ``value`` (the loss at :math:`x_t`, passed to ``update``),
    :math:`\\beta` = ``beta`` (taken as 0 at the first step), :math:`\\alpha` =
    ``learning_rate``, :math:`\\lambda` = ``weight_decay`` and :math:`f_*` the lower bound:

    .. math::

       d_t = \\beta d_{t-1} + (1-\\beta) g_t,\\quad
       \\bar f_t = \\beta \\bar f_{t-1} + (1-\\beta) f_t,\\quad
       \\gamma_t = \\beta\\gamma_{t-1} + (1-\\beta)\\langle g_t, x_t\\rangle,

       h_t = \\bar f_t + \\langle d_t, x_t\\rangle - \\gamma_t,\\quad
       \\tau_t = \\min\\Big(\\alpha, \\frac{(\\rho(h_t - f_*)
       - \\alpha\\lambda\\langle d_t, x_t\\rangle)_+}{\\|d_t\\|^2}\\Big),\\quad
       x_{t+1} = \\frac{x_t - \\tau_t d_t}{\\rho}

    with :math:`\\rho = 1 + \\alpha\\lambda`: the exact minimizer of the truncated
    model :math:`\\max(h_t + \\langle d_t, x - x_t\\rangle, f_*)` plus
    :math:`\\frac\\lambda2\\|x\\|^2 + \\frac1{2\\alpha}\\|x - x_t\\|^2` (for
    :math:`\\lambda = 0`, :math:`\\tau_t = \\min(\\alpha, (h_t - f_*)_+/\\|d_t\\|^2)`).
    optax 0.2.8 takes :math:`x_t/\\rho - \\tau_t d_t` instead, a step :math:`\\rho` times
    longer along :math:`d_t` than the minimizer, so the two differ when
    ``weight_decay > 0``.
    The output is :math:`x_{t+1} - x_t` (the learning rate is included). With
    ``adapt_lower_bound`` (MoMo*, which needs no known bound) the bound
    :math:`f_*^t` lives in the state: it starts at ``lower_bound``; a step whose model
    value falls below it first resets it to :math:`\\max(h_t/2,` ``lower_bound``
    :math:`)`, and after the step it becomes :math:`\\max(h_t - \\tau_t\\|d_t\\|^2/2,`
    ``lower_bound`` :math:`)`, the model's value halfway along the step (optax's
    numerics).

    Args:
      learning_rate: :math:`\\alpha` >= 0, the largest step size.
      beta: :math:`\\beta` in [0, 1].
      lower_bound: :math:`f_*`, a lower bound on the loss (0 for most losses).
      weight_decay: :math:`\\lambda` >= 0.
      adapt_lower_bound: estimate the bound online (MoMo*, see above).
      mu_dtype: dtype of :math:`d` (keyword-only); the parameters' dtype when ``None``.
        It is upcast to at least float32 for the arithmetic and rounded when stored.

    Returns:
      A transformation with :class:`MomoState`; ``update`` needs the params and
      ``value=``.

    Reference: Schaipp, Ohana, Eickenberg, Defazio & Gower 2023, "MoMo: Momentum
    Models for Adaptive Learning Rates", arXiv 2305.07583.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_momo(learning_rate=10.0)
      >>> x = jnp.array([1.0, 1.0])
      >>> tx.update(x, tx.init(x), x, value=jnp.array(1.0))[0]
      Array([-0.5, -0.5], dtype=float32)
    """
    check_nonnegative("scale_by_momo", "learning_rate", learning_rate)
    check_decay("scale_by_momo", "beta", beta)
    check_nonnegative("scale_by_momo", "weight_decay", weight_decay)

    def init_fn(params: Params) -> MomoState:
        z = as_float(0.0)
        return MomoState(
            zeros_state(params, mu_dtype), z, z, as_float(lower_bound), jnp.zeros([], jnp.int32)
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del extra_args
        _need_value("scale_by_momo", value, params)
        b = jnp.where(state.count == 0, 0.0, as_float(beta))
        d = tmap(lambda g, m: b * upcast(m) + (1 - b) * upcast(g), updates, state.exp_avg)
        barf = b * state.barf + (1 - b) * as_float(value)
        gamma = b * state.gamma + (1 - b) * _tree_sum(tmap(_real_dot, updates, params))
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        ones = tmap(lambda g: 1.0, updates)
        out, lb = _momo_step(
            "scale_by_momo", updates, params, value, d, ones, barf, gamma, state.lb, lr,
            lower_bound, weight_decay, adapt_lower_bound,
        )  # fmt: skip
        new = MomoState(
            tmap(like, d, state.exp_avg),
            like(barf, state.barf),
            like(gamma, state.gamma),
            like(lb, state.lb),
            safe_increment(state.count),
        )
        return out, new

    return GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_momo_adam(
    learning_rate: Any = 1e-2,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    lower_bound: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    adapt_lower_bound: bool = False,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """MoMo-Adam's update: Adam's preconditioned step sized by a model of the loss.

    As :func:`scale_by_momo`, with bias-corrected averages (:math:`\\beta_1` = ``b1``,
    :math:`c_t = 1 - \\beta_1^t`) and Adam's diagonal preconditioner :math:`D_t`:

    .. math::

       \\hat d_t = d_t / c_t,\\ \\hat f_t = \\bar f_t / c_t,\\
       \\hat\\gamma_t = \\gamma_t / c_t,\\quad
       D_t = \\epsilon + \\sqrt{v_t / (1 - \\beta_2^t)},\\quad
       v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,

       h_t = \\hat f_t + \\langle \\hat d_t, x_t\\rangle - \\hat\\gamma_t,\\quad
       \\tau_t = \\min\\Big(\\alpha, \\frac{(\\rho(h_t - f_*) - \\alpha\\lambda
       \\langle \\hat d_t, x_t\\rangle)_+}{\\|\\hat d_t\\|^2_{D_t^{-1}}}\\Big),\\quad
       x_{t+1} = \\frac{x_t - \\tau_t D_t^{-1}\\hat d_t}{\\rho}

    with :math:`\\rho = 1 + \\alpha\\lambda` (the proximal step in the metric
    :math:`D_t`; see :func:`scale_by_momo` for optax's different weight decay).

    Args:
      learning_rate: :math:`\\alpha` >= 0.
      b1: :math:`\\beta_1` in [0, 1), the averages' decay.
      b2: :math:`\\beta_2` in [0, 1), the second moment's decay.
      eps: :math:`\\epsilon` >= 0, added to the root.
      lower_bound, weight_decay, adapt_lower_bound: as in :func:`scale_by_momo`.
      mu_dtype: dtype of :math:`d` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of :math:`v` (keyword-only); the parameters' real dtype when
        ``None``. Both are upcast to at least float32 for the arithmetic.

    Returns:
      A transformation with :class:`MomoAdamState`; ``update`` needs the params and
      ``value=``.

    Reference: Schaipp, Ohana, Eickenberg, Defazio & Gower 2023, "MoMo: Momentum
    Models for Adaptive Learning Rates", arXiv 2305.07583, Algorithm 2.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_momo_adam(learning_rate=0.1, eps=0.0)
      >>> x = jnp.array([1.0, 1.0])
      >>> tx.update(x, tx.init(x), x, value=jnp.array(1.0))[0]
      Array([-0.1, -0.1], dtype=float32)
    """
    fn = "scale_by_momo_adam"
    check_nonnegative(fn, "learning_rate", learning_rate)
    check_decay(fn, "b1", b1)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "weight_decay", weight_decay)

    def init_fn(params: Params) -> MomoAdamState:
        z = as_float(0.0)
        return MomoAdamState(
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
            z,
            z,
            as_float(lower_bound),
            jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del extra_args
        _need_value(fn, value, params)
        count = safe_increment(state.count)
        d = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * upcast(g), updates, state.exp_avg)
        v = tmap(
            lambda g, s: b2 * upcast(s) + (1 - b2) * abs_sq(upcast(g)), updates, state.exp_avg_sq
        )
        barf = b1 * state.barf + (1 - b1) * as_float(value)
        gamma = b1 * state.gamma + (1 - b1) * _tree_sum(tmap(_real_dot, updates, params))
        c1, c2 = debias_factor(b1, count), debias_factor(b2, count)
        precond = tmap(lambda s: eps + jnp.sqrt(s / c2), v)
        d_hat = tmap(lambda m: m / c1, d)
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        out, lb = _momo_step(
            fn, updates, params, value, d_hat, precond, barf / c1, gamma / c1, state.lb, lr,
            lower_bound, weight_decay, adapt_lower_bound,
        )  # fmt: skip
        new = MomoAdamState(
            tmap(like, d, state.exp_avg),
            tmap(like, v, state.exp_avg_sq),
            like(barf, state.barf),
            like(gamma, state.gamma),
            like(lb, state.lb),
            count,
        )
        return out, new

    return GradientTransformationExtraArgs(init_fn, update_fn)


class HutchinsonState(NamedTuple):
    """State of :func:`hutchinson_estimator_diag_hessian`.

    Attributes:
      key: the PRNG key the next estimate splits, as raw ``uint32`` data.
    """

    key: jax.Array


def hutchinson_estimator_diag_hessian(
    random_seed: jax.Array | int | None = None,
) -> GradientTransformationExtraArgs:
    """Hutchinson's estimate of the Hessian's diagonal (replaces the updates by it).

    With :math:`H` the Hessian of ``obj_fn`` (passed to ``update``) at the params and
    :math:`z` a Rademacher vector (entries :math:`\\pm 1`, one draw per leaf):

    .. math::

       \\widehat{\\operatorname{diag}(H)} = z \\odot (H z),\\qquad
       \\mathbb E[z \\odot Hz] = \\operatorname{diag}(H),

    with :math:`Hz` a Hessian-vector product (forward over reverse mode). Each call
    splits the key in two, keeps the first half and splits the second into one key per
    leaf.

    Args:
      random_seed: a PRNG key or an integer seed (0 when ``None``).

    Returns:
      A transformation with :class:`HutchinsonState`; ``update`` needs the params and
      ``obj_fn=`` (a function of the params returning a scalar).

    References:
      Hutchinson 1989, "A stochastic estimator of the trace of the influence matrix
      for Laplacian smoothing splines"; Liu et al. 2023, "Sophia: A Scalable
      Stochastic Second-order Optimizer for Language Model Pre-training",
      arXiv 2305.14342, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.hutchinson_estimator_diag_hessian()
      >>> x = jnp.array([1.0, 2.0])
      >>> f = lambda p: jnp.sum(jnp.array([3.0, 5.0]) * p**2)
      >>> tx.update(x, tx.init(x), x, obj_fn=f)[0]
      Array([ 6., 10.], dtype=float32)
    """
    start = 0 if random_seed is None else random_seed

    def init_fn(params: Params) -> HutchinsonState:
        del params
        return HutchinsonState(jax.random.key_data(_as_key(start)))

    def update_fn(updates, state, params=None, *, obj_fn=None, **extra_args):
        del updates, extra_args
        if obj_fn is None:
            raise ValueError(
                "`hutchinson_estimator_diag_hessian` needs the objective: call "
                "update(updates, state, params, obj_fn=f) with f(params) -> scalar loss."
            )
        if params is None:
            raise ValueError(
                "`hutchinson_estimator_diag_hessian` needs the parameters: call "
                "update(updates, state, params, obj_fn=f)."
            )
        next_key, sample_key = jax.random.split(jax.random.wrap_key_data(state.key))
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(sample_key, len(leaves))
        z = [
            jax.random.rademacher(k, jnp.shape(p), jnp.result_type(p))
            for p, k in zip(leaves, keys, strict=True)
        ]
        z_tree = jax.tree.unflatten(treedef, z)
        hz = jax.jvp(jax.grad(obj_fn), (params,), (z_tree,))[1]
        out = tmap(lambda zi, hi: like(zi * hi, zi), z_tree, hz)
        return out, HutchinsonState(jax.random.key_data(next_key))

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleBySophiaState(NamedTuple):
    """State of :func:`scale_by_sophia`.

    Attributes:
      count: int32 number of updates so far.
      mu: the EMA of gradients :math:`m_t`.
      nu: the EMA of Hessian-diagonal estimates :math:`h_t`.
      hessian_fn_state: the state of the Hessian-diagonal estimator.
    """

    count: jax.Array
    mu: Any
    nu: Any
    hessian_fn_state: Any


def scale_by_sophia(
    b1: jax.typing.ArrayLike = 0.965,
    b2: jax.typing.ArrayLike = 0.99,
    eps: jax.typing.ArrayLike = 1e-8,
    gamma: jax.typing.ArrayLike = 0.01,
    clip_threshold: jax.typing.ArrayLike | None = 1.0,
    update_interval: int = 10,
    hessian_diagonal_fn: GradientTransformation | None = None,
    mu_dtype: Any = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Sophia's direction: momentum divided by a clipped diagonal Hessian estimate.

    With :math:`k` = ``update_interval`` and :math:`\\hat h` the estimator's output
    (``hessian_diagonal_fn``, Hutchinson's by default), :math:`t` counting from 1:

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\qquad
       h_t = \\begin{cases} \\beta_2 h_{t-1} + (1-\\beta_2)\\hat h_t
             & t \\equiv 1 \\pmod k \\\\ h_{t-1} & \\text{otherwise} \\end{cases}

       u_t = \\operatorname{clip}\\Big(\\frac{m_t / (1-\\beta_1^t)}
             {\\max(\\gamma h_{t-1}, \\epsilon)},\\ \\rho\\Big)

    with :math:`\\rho` = ``clip_threshold`` (no clipping when ``None``). The step uses
    the curvature known before this step's estimate (:math:`h_{t-1}`) and the
    bias-corrected momentum, as optax does; the paper writes :math:`h_t` and
    uncorrected :math:`m_t`, which differ only in the first steps.

    Args:
      b1: :math:`\\beta_1` in [0, 1), the momentum's decay.
      b2: :math:`\\beta_2` in [0, 1], the Hessian average's decay.
      eps: :math:`\\epsilon` >= 0, the smallest denominator.
      gamma: :math:`\\gamma` >= 0, scales the Hessian.
      clip_threshold: :math:`\\rho` > 0, or ``None``.
      update_interval: :math:`k` >= 1, steps between Hessian estimates.
      hessian_diagonal_fn: a transformation whose ``update(g, s, params, obj_fn=f)``
        returns the estimate; :func:`hutchinson_estimator_diag_hessian` when ``None``.
      mu_dtype: dtype of the momentum.
      verbose: print the fraction of unclipped coordinates (the win rate).
      print_win_rate_every_n_steps: how often to print it (0: never).
      nu_dtype: dtype of the Hessian-diagonal average :math:`h` (keyword-only); the
        parameters' dtype when ``None``. Both moments are upcast to at least float32 for
        the arithmetic and rounded only when stored.

    Returns:
      A transformation with :class:`ScaleBySophiaState`; ``update`` needs the params and
      ``obj_fn=`` (passed on to the estimator).

    Reference: Liu, Li, Hall, Liang & Ma 2023, "Sophia: A Scalable Stochastic
    Second-order Optimizer for Language Model Pre-training", arXiv 2305.14342.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_sophia()
      >>> x = jnp.array([1.0, -2.0])
      >>> tx.update(x, tx.init(x), x, obj_fn=lambda p: jnp.sum(p**2))[0]
      Array([ 1., -1.], dtype=float32)
    """
    fn = "scale_by_sophia"
    check_range(fn, "b1", b1, 0.0, 1.0, high_open=True)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "gamma", gamma)
    if clip_threshold is not None:
        check_positive(fn, "clip_threshold", clip_threshold)
    if isinstance(update_interval, bool) or not isinstance(update_interval, int):
        if not (hasattr(update_interval, "is_integer") and float(update_interval).is_integer()):
            raise ValueError(
                f"`{call_name(fn, 'update_interval', update_interval)}(update_interval=...)` "
                f"must be a positive integer; got {update_interval=}."
            )
    update_interval = int(update_interval)
    if update_interval < 1:
        raise ValueError(
            f"`{call_name(fn, 'update_interval', update_interval)}(update_interval=...)` must be "
            f"a positive integer; got {update_interval=}."
        )
    estimator = hessian_diagonal_fn or hutchinson_estimator_diag_hessian()

    def init_fn(params: Params) -> ScaleBySophiaState:
        return ScaleBySophiaState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            zeros_state(params, nu_dtype),
            estimator.init(params),
        )

    def update_fn(updates, state, params=None, *, obj_fn=None, **extra_args):
        if obj_fn is None:
            raise ValueError(
                f"`{fn}` needs the objective: call update(updates, state, params, obj_fn=f) "
                "with f(params) -> scalar loss (for the Hessian-diagonal estimate)."
            )
        count = safe_increment(state.count)
        mu = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * upcast(g), updates, state.mu)

        def estimate(_):
            h, s = estimator.update(updates, state.hessian_fn_state, params, obj_fn=obj_fn)
            nu = tmap(lambda hi, v: like(b2 * upcast(v) + (1 - b2) * upcast(hi), v), h, state.nu)
            return nu, s

        def keep(_):
            return state.nu, state.hessian_fn_state

        nu, h_state = jax.lax.cond(state.count % update_interval == 0, estimate, keep, operand=None)
        del extra_args
        c1 = debias_factor(b1, count)

        def direction(g: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            r = (m / c1) / jnp.maximum(gamma * upcast(v), eps)
            if clip_threshold is not None:
                r = jnp.clip(r, -clip_threshold, clip_threshold)
            return like(r, g)

        out = tmap(direction, updates, mu, state.nu)
        if verbose and print_win_rate_every_n_steps:
            inside = _tree_sum(
                tmap(lambda m, v: jnp.sum(jnp.abs(m / c1) < clip_threshold * jnp.maximum(
                    gamma * v, eps)), mu, state.nu)
            )  # fmt: skip
            size = sum(jnp.size(x) for x in jax.tree.leaves(updates))
            jax.lax.cond(
                state.count % print_win_rate_every_n_steps == 0,
                lambda: jax.debug.print("sophia win rate: {}", inside / size),
                lambda: None,
            )
        return out, ScaleBySophiaState(count, tmap(like, mu, state.mu), nu, h_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)


class DifferentiallyPrivateAggregateState(NamedTuple):
    """State of :func:`differentially_private_aggregate`.

    Attributes:
      rng_key: the PRNG key the next step splits, as raw ``uint32`` data.
    """

    rng_key: jax.Array


def differentially_private_aggregate(
    l2_norm_clip: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformationExtraArgs:
    """Clip per-example gradients, sum them, add Gaussian noise and average (DP-SGD).

    The updates carry a leading per-example axis of size :math:`B`. With :math:`C` =
    ``l2_norm_clip`` and :math:`\\sigma` = ``noise_multiplier``, and
    :math:`\\|g_i\\|` the norm of example :math:`i`'s gradient over the whole tree:

    .. math::

       \\bar g = \\frac{1}{B}\\Big(\\sum_{i=1}^B
       \\frac{g_i}{\\max(1, \\|g_i\\|/C)} + \\mathcal N(0, \\sigma^2 C^2 I)\\Big)

    The output has the parameters' shapes (the leading axis is gone). Each step splits
    the key in two, keeps the first half and splits the second into one key per leaf.

    Args:
      l2_norm_clip: :math:`C` > 0, the largest norm of one example's gradient.
      noise_multiplier: :math:`\\sigma` >= 0.
      key: a PRNG key or an integer seed.
      seed: an integer seed (optax's older name for ``key``; give one of the two, 0
        when neither).

    Returns:
      A transformation with :class:`DifferentiallyPrivateAggregateState`.

    Reference: Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang 2016, "Deep
    Learning with Differential Privacy", arXiv 1607.00133, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.differentially_private_aggregate(1.0, 0.0, key=0)
      >>> per_example = jnp.array([[3.0, 4.0], [0.3, 0.4]])
      >>> tx.update(per_example, tx.init(jnp.zeros(2)))[0]
      Array([0.45, 0.6 ], dtype=float32)
    """
    fn = "differentially_private_aggregate"
    check_positive(fn, "l2_norm_clip", l2_norm_clip)
    check_nonnegative(fn, "noise_multiplier", noise_multiplier)
    if key is not None and seed is not None:
        raise ValueError(f"`{fn}` takes `key` or `seed`, not both; got {key=} and {seed=}.")
    start = key if key is not None else (seed or 0)

    def init_fn(params: Params) -> DifferentiallyPrivateAggregateState:
        del params
        return DifferentiallyPrivateAggregateState(jax.random.key_data(_as_key(start)))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves, treedef = jax.tree.flatten(updates)
        if not leaves:
            return updates, state
        sizes = {jnp.shape(g)[0] if jnp.ndim(g) else None for g in leaves}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(
                f"`{fn}` needs per-example gradients with one leading batch axis shared by "
                f"every leaf; got leading sizes {sorted(map(str, sizes))}."
            )
        batch = sizes.pop()
        sq = sum(jnp.sum(abs_sq(as_float(g)).reshape(batch, -1), axis=1) for g in leaves)
        norms = jnp.sqrt(sq)
        scale = 1 / jnp.maximum(1.0, norms / as_float(l2_norm_clip))
        next_key, noise_key = jax.random.split(jax.random.wrap_key_data(state.rng_key))
        keys = jax.random.split(noise_key, len(leaves))
        std = as_float(l2_norm_clip) * as_float(noise_multiplier)
        out = []
        for g, k in zip(leaves, keys, strict=True):
            s = scale.reshape((batch,) + (1,) * (jnp.ndim(g) - 1))
            total = jnp.sum(g * s, axis=0)
            noise = jax.random.normal(k, jnp.shape(total), jnp.result_type(total))
            out.append(like((total + std * noise) / batch, g))
        new = DifferentiallyPrivateAggregateState(jax.random.key_data(next_key))
        return jax.tree.unflatten(treedef, out), new

    return GradientTransformationExtraArgs(init_fn, update_fn)
