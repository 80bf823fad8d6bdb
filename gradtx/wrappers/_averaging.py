"""Averages of the parameters themselves (EMA and SWA), kept in the optimizer's state.

The transforms here pass the updates through unchanged: they only watch the training
trajectory. Each one averages the parameters *after* the step it sees, ``params +
updates`` (what ``apply_updates`` returns), so it must come last in a chain, after the
learning rate, where ``updates`` is the final step. That matches torch, where
``AveragedModel.update_parameters(model)`` is called after ``optimizer.step()``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay
from gradtx._treeutil import is_none
from gradtx.base import GradientTransformationExtraArgs, Params, Updates
from gradtx.numerics import safe_increment

__all__ = ["ParamEmaState", "SWAState", "averaged_params", "param_ema", "swa"]


class ParamEmaState(NamedTuple):
    """State of :func:`param_ema`.

    Attributes:
      count: int32 number of updates so far.
      average: the moving average of the parameters, ready to use (already debiased
        when ``debias=True``); the parameters given to ``init`` before the first update.
        float32 for bfloat16/float16 parameters, the parameters' dtype otherwise.
    """

    count: jax.Array
    average: Any


class SWAState(NamedTuple):
    """State of :func:`swa`.

    Attributes:
      count: int32 number of updates so far.
      n_averaged: int32 number of parameter snapshots in ``average`` (torch's
        ``n_averaged``).
      average: the equal-weight average of those snapshots; the parameters given to
        ``init`` while ``n_averaged`` is 0. float32 for bfloat16/float16 parameters,
        the parameters' dtype otherwise.
    """

    count: jax.Array
    n_averaged: jax.Array
    average: Any


def _average_dtype(p: Any) -> Any:
    """float32 for half-precision parameters, the parameters' own dtype otherwise."""
    return jnp.promote_types(jnp.result_type(p), jnp.float32)


def _init_average(params: Params) -> Any:
    return jax.tree.map(
        # A copy, not the same buffer: params and state may both be donated to a jit.
        lambda p: None if p is None else jnp.array(p, dtype=_average_dtype(p), copy=True),
        params,
        is_leaf=is_none,
    )


def _new_params(fn: str, updates: Updates, params: Params | None) -> Any:
    """``apply_updates(params, updates)``: the parameters after this step."""
    if params is None:
        raise ValueError(
            f"`{fn}` averages the parameters, so it needs them: call "
            "update(updates, state, params)."
        )

    def step(p: Any, u: Any) -> Any:
        if p is None:
            return None
        p = jnp.asarray(p)
        return p if u is None else jnp.asarray(p + u).astype(p.dtype)

    return jax.tree.map(step, params, updates, is_leaf=is_none)


def _move(average: Any, new: Any, weight: jax.Array, keep: Any = None) -> Any:
    """``average + weight * (new - average)`` leaf by leaf, in the average's dtype.

    Where ``keep`` (a boolean scalar) holds, the average is returned as it was (even if
    ``new`` is not finite).
    """

    def f(a: Any, p: Any) -> Any:
        if a is None:
            return None
        w = weight.astype(jnp.finfo(a.dtype).dtype)
        moved = (a + w * (p.astype(a.dtype) - a)).astype(a.dtype)
        return moved if keep is None else jnp.where(keep, a, moved)

    return jax.tree.map(f, average, new, is_leaf=is_none)


def param_ema(decay: jax.typing.ArrayLike, debias: bool = True) -> GradientTransformationExtraArgs:
    """Keep an exponential moving average of the parameters; pass updates unchanged.

    With :math:`\\theta_t` = ``params + updates``, the parameters after update
    :math:`t = 1, 2, \\ldots`, and :math:`\\beta` = ``decay``, the average moves
    towards them by a weight :math:`w_t`:

    .. math::

       \\bar\\theta_t = \\bar\\theta_{t-1} + w_t\\, (\\theta_t - \\bar\\theta_{t-1}),
       \\qquad
       w_t = \\begin{cases} \\dfrac{1-\\beta}{1-\\beta^t} & \\texttt{debias=True} \\\\
          1 \\text{ if } t = 1 \\text{ else } 1-\\beta & \\texttt{debias=False}
          \\end{cases}

    Both start with a copy (:math:`w_1 = 1`). ``debias=True`` gives the
    bias-corrected average :math:`\\sum_i \\beta^{t-i}\\theta_i / \\sum_i
    \\beta^{t-i}` (Adam's correction of an average started at zero, computed without
    ever holding the biased sum); ``debias=False`` is exactly torch's
    ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))`` updated after
    every ``optimizer.step()``, and Keras' ``use_ema``. Before the first update the
    average is the parameters given to ``init``.

    Place it last in the chain (after the learning rate), where ``updates`` is the
    step that ``apply_updates`` will add. Read the average with
    :func:`gradtx.averaged_params`. The average of bfloat16/float16 parameters is kept
    in float32 (their own precision cannot absorb steps of weight :math:`1-\\beta`).

    Args:
      decay: :math:`\\beta` in [0, 1]; 0 tracks the parameters, 1 keeps the first
        post-update parameters (with ``debias=True``, :math:`\\beta \\to 1` tends to
        the equal-weight average of :func:`swa`, and ``decay=1`` is exactly that).
      debias: the bias-corrected weights above (default) or torch's.

    Returns:
      A transformation with :class:`ParamEmaState`; its ``update`` needs ``params``.

    Reference: Polyak and Juditsky 1992, "Acceleration of Stochastic Approximation by
    Averaging", SIAM J. Control Optim. 30(4), doi:10.1137/0330046; the debiasing is
    Kingma and Ba 2015, "Adam: A Method for Stochastic Optimization", arXiv 1412.6980.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.sgd(1.0), gradtx.param_ema(0.5))
      >>> params = jnp.array([0.0])
      >>> state = tx.init(params)
      >>> for grad in (-1.0, -2.0):  # params go 0 -> 1 -> 3
      ...     updates, state = tx.update(jnp.array([grad]), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> gradtx.averaged_params(state)  # (0.5 * 1 + 3) / 1.5
      Array([2.3333335], dtype=float32)
    """
    check_decay("param_ema", "decay", decay)
    if not isinstance(debias, bool):
        raise TypeError(f"`param_ema(debias=...)` must be a bool; got {debias=}.")

    def init_fn(params: Params) -> ParamEmaState:
        return ParamEmaState(jnp.zeros([], jnp.int32), _init_average(params))

    def weight(t: jax.Array) -> jax.Array:
        # Computed in JAX's default float (float64 under x64), then cast per leaf.
        d = jnp.asarray(decay, jnp.result_type(float))
        tf = t.astype(d.dtype)
        if debias:
            # (1 - d) / (1 - d**t) = expm1(log d) / expm1(t log d): no cancellation for
            # d near 1; its limit at d = 1 is 1/t.
            log_d = jnp.log(jnp.where(d == 1, 0.5, d))
            w = jnp.expm1(log_d) / jnp.expm1(tf * log_d)
            return jnp.where(d == 1, 1 / tf, w)
        return jnp.where(t == 1, jnp.ones_like(d), 1 - d)

    def update_fn(
        updates: Updates, state: ParamEmaState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, ParamEmaState]:
        del extra_args
        new = _new_params("param_ema", updates, params)
        count = safe_increment(state.count)
        return updates, ParamEmaState(count, _move(state.average, new, weight(count)))

    return GradientTransformationExtraArgs(init_fn, update_fn)


def swa(start_step: int = 0, every_k: int = 1) -> GradientTransformationExtraArgs:
    """Keep the equal-weight average of the parameters (SWA); pass updates unchanged.

    With :math:`\\theta_t` = ``params + updates``, the parameters after update
    :math:`t = 1, 2, \\ldots`, the snapshot :math:`\\theta_t` joins the average when
    :math:`t > s` and :math:`(t - s) \\bmod k = 0`, with :math:`s` = ``start_step``
    and :math:`k` = ``every_k``:

    .. math::

       \\bar\\theta \\leftarrow \\bar\\theta + \\frac{\\theta_t - \\bar\\theta}{n + 1},
       \\qquad n \\leftarrow n + 1

    so after :math:`n` snapshots :math:`\\bar\\theta` is their mean. This is torch's
    ``AveragedModel(model)`` (default ``avg_fn``) with ``update_parameters(model)``
    called after those optimizer steps; before the first snapshot the average is the
    parameters given to ``init``, as torch's copy of the model. Pair it with a constant
    or cyclic learning rate from ``start_step`` on, as the paper does.

    Place it last in the chain (after the learning rate). Read the average with
    :func:`gradtx.averaged_params`; the average of bfloat16/float16 parameters is kept
    in float32. Networks with batch norm need their statistics recomputed for the
    averaged weights (torch's ``update_bn``), which is outside the optimizer.

    Args:
      start_step: :math:`s \\ge 0`, the number of updates before averaging starts.
      every_k: :math:`k \\ge 1`, the number of updates between snapshots.

    Returns:
      A transformation with :class:`SWAState`; its ``update`` needs ``params``.

    Reference: Izmailov, Podoprikhin, Garipov, Vetrov and Wilson 2018, "Averaging
    Weights Leads to Wider Optima and Better Generalization", arXiv 1803.05407.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.sgd(1.0), gradtx.swa(start_step=1))
      >>> params = jnp.array([0.0])
      >>> state = tx.init(params)
      >>> for _ in range(3):  # params go 0 -> 1 -> 2 -> 3; the last two are averaged
      ...     updates, state = tx.update(jnp.array([-1.0]), state, params)
      ...     params = gradtx.apply_updates(params, updates)
      >>> gradtx.averaged_params(state), gradtx.tree.get(state, "n_averaged")
      (Array([2.5], dtype=float32), Array(2, dtype=int32))
    """
    for name, value, low in (("start_step", start_step, 0), ("every_k", every_k, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`swa({name}=...)` must be an int >= {low}; got {name}={value!r}.")

    def init_fn(params: Params) -> SWAState:
        zero = jnp.zeros([], jnp.int32)
        return SWAState(zero, zero, _init_average(params))

    def update_fn(
        updates: Updates, state: SWAState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, SWAState]:
        del extra_args
        new = _new_params("swa", updates, params)
        count = safe_increment(state.count)
        join = (count > start_step) & (jnp.mod(count - start_step, every_k) == 0)
        n = state.n_averaged
        weight = 1 / (n + 1).astype(jnp.result_type(float))
        average = _move(state.average, new, weight, keep=~join)
        return updates, SWAState(count, n + join.astype(jnp.int32), average)

    return GradientTransformationExtraArgs(init_fn, update_fn)


_AVERAGING_STATES = (ParamEmaState, SWAState)


def averaged_params(state: Any) -> Any:
    """Return the averaged parameters kept by :func:`param_ema` or :func:`swa`.

    The averaging state is searched for anywhere in ``state`` (a chain's tuple, a
    ``named_chain``'s dict, a wrapper's inner state, ...), so the optimizer's whole
    state can be passed.

    Args:
      state: an optimizer state holding exactly one :class:`ParamEmaState` or
        :class:`SWAState`.

    Returns:
      The average, a tree shaped like the parameters (float32 leaves for
      bfloat16/float16 parameters: cast with ``gradtx.tree.cast_like(avg, params)`` if
      the model needs its own dtype).

    Raises:
      ValueError: when the state holds no averaging state, or several (the message
        lists their paths; pass the one wanted, e.g. ``averaged_params(state[2])``).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.adam(0.1), gradtx.swa())
      >>> params = {"w": jnp.array([1.0, -1.0])}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.array([1.0, 2.0])}, state, params)
      >>> gradtx.averaged_params(state)
      {'w': Array([ 0.9, -1.1], dtype=float32)}
    """
    found, _ = jax.tree_util.tree_flatten_with_path(
        state, is_leaf=lambda x: isinstance(x, _AVERAGING_STATES)
    )
    found = [(p, s) for p, s in found if isinstance(s, _AVERAGING_STATES)]
    if len(found) == 1:
        return found[0][1].average
    if not found:
        raise ValueError(
            "`averaged_params(state)`: the state holds no ParamEmaState or SWAState (got "
            f"{type(state).__name__}); chain gradtx.param_ema(...) or gradtx.swa() last "
            "into the optimizer to keep an average of the parameters."
        )
    where = [
        f"{jax.tree_util.keystr(p) or '(the state itself)'}: {type(s).__name__}" for p, s in found
    ]
    raise ValueError(
        f"`averaged_params(state)`: the state holds {len(found)} averaging states, at "
        f"{where}; pass the one wanted (e.g. averaged_params(state[i]))."
    )
