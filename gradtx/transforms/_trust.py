"""Layer-wise trust ratios, annealed gradient noise, Polyak step sizes and optimism."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import call_name, check_nonnegative
from gradtx.base import EmptyState, GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._common import as_float, like, tmap

__all__ = [
    "AddNoiseState",
    "ScaleByOptimisticGradientState",
    "ScaleByTrustRatioState",
    "add_noise",
    "scale_by_optimistic_gradient",
    "scale_by_polyak",
    "scale_by_trust_ratio",
]

POLYAK_VARIANTS = ("sps", "sps+")


def _norm(x: jax.Array) -> jax.Array:
    """The Euclidean norm of a whole leaf, computed in at least float32."""
    x = jnp.asarray(x)
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return jnp.sqrt(jnp.sum(abs_sq(x)))


class ScaleByTrustRatioState(NamedTuple):
    """State of :func:`scale_by_trust_ratio` (it keeps none)."""


def scale_by_trust_ratio(
    min_norm: jax.typing.ArrayLike = 0.0,
    trust_coefficient: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 0.0,
) -> GradientTransformationExtraArgs:
    """Scale each leaf's update by the ratio of the parameter's norm to the update's.

    Update rule, leaf by leaf, with :math:`\\eta` = ``trust_coefficient``:

    .. math::

       p = \\max(\\|\\theta\\|, m),\\quad q = \\max(\\|u\\|, m),\\quad
       u \\leftarrow \\begin{cases} \\eta\\, \\dfrac{p}{q + \\epsilon}\\, u
         & p > 0 \\text{ and } q > 0 \\\\ u & \\text{otherwise} \\end{cases}

    with :math:`m` = ``min_norm`` and :math:`\\epsilon` = ``eps``. A zero parameter
    (freshly initialised biases) or a zero update leaves the update as it is, so the
    ratio is never 0/0. This is the layer-wise adaptation of LARS and LAMB; the norms
    are over whole leaves (one "layer" per array).

    Args:
      min_norm: the smallest value either norm is taken to have, >= 0.
      trust_coefficient: :math:`\\eta` >= 0, multiplies the ratio.
      eps: added to the update's norm, >= 0.

    Returns:
      A stateless transformation (:class:`ScaleByTrustRatioState`); ``update`` needs
      the params.

    References:
      You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional Networks",
      arXiv 1708.03888; You et al. 2019, "Large Batch Optimization for Deep Learning:
      Training BERT in 76 minutes", arXiv 1904.00962.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_trust_ratio()
      >>> p = jnp.array([3.0, 4.0])
      >>> tx.update(jnp.array([0.0, 0.5]), tx.init(p), p)[0]
      Array([0., 5.], dtype=float32)
    """
    check_nonnegative("scale_by_trust_ratio", "min_norm", min_norm)
    check_nonnegative("scale_by_trust_ratio", "trust_coefficient", trust_coefficient)
    check_nonnegative("scale_by_trust_ratio", "eps", eps)

    def init_fn(params: Params) -> ScaleByTrustRatioState:
        del params
        return ScaleByTrustRatioState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError(
                "`scale_by_trust_ratio` needs the parameters: call update(updates, state, params)."
            )

        def scale(u: jax.Array, p: jax.Array) -> jax.Array:
            p_norm = jnp.maximum(_norm(p), min_norm)
            u_norm = jnp.maximum(_norm(u), min_norm)
            ok = (p_norm > 0) & (u_norm > 0)
            ratio = trust_coefficient * p_norm / jnp.where(ok, u_norm + eps, 1.0)
            return like(u * jnp.where(ok, ratio, 1.0), u)

        return tmap(scale, updates, params), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


class AddNoiseState(NamedTuple):
    """State of :func:`add_noise`.

    Attributes:
      count: int32 number of updates so far (:math:`t`, from 0).
      rng_key: the PRNG key the next step splits, as its raw ``uint32`` data
        (``jax.random.key_data``), so the state holds only plain numeric arrays.
    """

    count: jax.Array
    rng_key: jax.Array


def _as_key(key: Any) -> jax.Array:
    if isinstance(key, int) and not isinstance(key, bool):
        return jax.random.key(key)
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if key.shape == () and jnp.issubdtype(key.dtype, jnp.integer):
        return jax.random.key(key)
    return jax.random.wrap_key_data(key)


def add_noise(
    eta: jax.typing.ArrayLike,
    gamma: jax.typing.ArrayLike,
    key: jax.Array | int | None = None,
    *,
    seed: int | None = None,
) -> GradientTransformationExtraArgs:
    """Add annealed Gaussian noise to the updates.

    Update rule, with :math:`t` counting updates from 0:

    .. math::

       \\sigma_t^2 = \\frac{\\eta}{(1 + t)^{\\gamma}},\\qquad
       u_t \\leftarrow u_t + \\sigma_t\\, \\xi_t,\\quad \\xi_t \\sim \\mathcal N(0, I)

    The key lives in the state: each step splits it in two, keeps the first half for
    the next step and splits the second into one key per leaf (so a run is reproducible
    from ``key`` alone, and is optax's stream).

    Args:
      eta: :math:`\\eta` >= 0, the initial variance (the paper tries 0.01, 0.3, 1.0).
      gamma: :math:`\\gamma` >= 0, the annealing exponent (the paper uses 0.55).
      key: a PRNG key (typed, or raw ``uint32[2]``) or an integer seed.
      seed: an integer seed; optax's older name for ``key`` (give one of the two). With
        neither, seed 0 is used and a warning says so.

    Returns:
      A transformation with :class:`AddNoiseState`.

    Reference: Neelakantan et al. 2015, "Adding Gradient Noise Improves Learning for
    Very Deep Networks", arXiv 1511.06807.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.add_noise(0.0, 0.55, key=0)
      >>> tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))[0]
      Array([1.], dtype=float32)
    """
    check_nonnegative("add_noise", "eta", eta)
    check_nonnegative("add_noise", "gamma", gamma)
    if key is not None and seed is not None:
        raise ValueError(
            f"`add_noise` takes `key` or `seed`, not both; got {key=} and {seed=}. Pass key."
        )
    if key is None and seed is None:
        warnings.warn(
            "`add_noise` got no key; using seed 0. Pass key=... for independent noise.",
            UserWarning,
            stacklevel=2,
        )
        seed = 0
    start = key if key is not None else seed

    def init_fn(params: Params) -> AddNoiseState:
        del params
        return AddNoiseState(jnp.zeros([], jnp.int32), jax.random.key_data(_as_key(start)))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        next_key, noise_key = jax.random.split(jax.random.wrap_key_data(state.rng_key))
        leaves, treedef = jax.tree.flatten(updates)  # None leaves are dropped here
        keys = jax.random.split(noise_key, len(leaves))
        t = as_float(state.count)
        std = jnp.sqrt(as_float(eta) / (1 + t) ** as_float(gamma))
        noisy = [
            like(g + std * jax.random.normal(k, jnp.shape(g), jnp.result_type(g)), g)
            for g, k in zip(leaves, keys, strict=True)
        ]
        out = jax.tree.unflatten(treedef, noisy)
        return out, AddNoiseState(safe_increment(state.count), jax.random.key_data(next_key))

    return GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_polyak(
    f_min: jax.typing.ArrayLike = 0.0,
    max_learning_rate: jax.typing.ArrayLike = 1.0,
    eps: jax.typing.ArrayLike = 0.0,
    variant: str = "sps",
) -> GradientTransformationExtraArgs:
    """Scale the updates by the stochastic Polyak step size.

    Update rule, with :math:`f` = ``value`` (the loss at the current params, passed to
    ``update`` as the keyword argument ``value``) and :math:`g` the updates:

    .. math::

       \\gamma = \\min\\left(\\frac{f - f^*}{\\|g\\|^2 + \\epsilon},\\
       \\gamma_{max}\\right),\\qquad u \\leftarrow \\gamma\\, g

    with :math:`f^*` = ``f_min``, :math:`\\gamma_{max}` = ``max_learning_rate`` and the
    norm over the whole tree. ``variant="sps+"`` uses :math:`\\max(f - f^*, 0)` in the
    numerator, so a loss below ``f_min`` gives a zero step instead of an ascent step.
    A zero gradient gives a zero update (not 0/0).

    Args:
      f_min: :math:`f^*`, a lower bound on the loss (0 for interpolating models).
      max_learning_rate: :math:`\\gamma_{max}` >= 0, the largest step size (SPS_max).
      eps: >= 0, added to :math:`\\|g\\|^2`.
      variant: ``"sps"`` or ``"sps+"``.

    Returns:
      A stateless transformation; ``update`` needs ``value=`` (a scalar).

    Reference: Loizou, Vaswani, Laradji & Lacoste-Julien 2021, "Stochastic Polyak
    Step-size for SGD: An Adaptive Learning Rate for Fast Convergence",
    arXiv 2002.10542.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_polyak(max_learning_rate=10.0)
      >>> g = jnp.array([1.0, 1.0])
      >>> tx.update(g, tx.init(g), value=jnp.array(4.0))[0]
      Array([2., 2.], dtype=float32)
    """
    check_nonnegative("scale_by_polyak", "max_learning_rate", max_learning_rate)
    check_nonnegative("scale_by_polyak", "eps", eps)
    if variant not in POLYAK_VARIANTS:
        raise ValueError(
            f"`{call_name('scale_by_polyak', 'variant', variant)}(variant=...)` must be one of "
            f"{POLYAK_VARIANTS}; got {variant=}."
        )

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError(
                "`scale_by_polyak` needs the loss: call update(updates, state, params, "
                "value=loss) with the loss at the current params (Polyak's step divides "
                "f - f_min by the squared gradient norm)."
            )
        gap = as_float(value) - as_float(f_min)
        if variant == "sps+":
            gap = jnp.maximum(gap, 0.0)
        sq = sum((jnp.sum(abs_sq(as_float(g))) for g in jax.tree.leaves(updates)), as_float(0))
        denom = sq + as_float(eps)
        step = jnp.minimum(gap / jnp.where(denom > 0, denom, 1.0), max_learning_rate)
        step = jnp.where(denom > 0, step, 0.0)
        return tmap(lambda g: like(step * g, g), updates), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByOptimisticGradientState(NamedTuple):
    """State of :func:`scale_by_optimistic_gradient`.

    Attributes:
      is_initial_step: bool, ``True`` until the first update.
      previous_gradient: the last step's input, shaped like the parameters.
    """

    is_initial_step: jax.Array
    previous_gradient: Any


def scale_by_optimistic_gradient(
    alpha: jax.typing.ArrayLike = 1.0, beta: jax.typing.ArrayLike = 1.0
) -> GradientTransformationExtraArgs:
    """Add optimism: extrapolate the update with the change since the last step.

    Update rule:

    .. math::

       u_t = \\alpha\\, g_t + \\beta\\, (g_t - g_{t-1})
           = (\\alpha + \\beta)\\, g_t - \\beta\\, g_{t-1}

    with :math:`g_0 = g_1` (the first step is :math:`\\alpha g_1`). ``alpha = beta = 1``
    is optimistic gradient descent, :math:`2 g_t - g_{t-1}`; chained after Adam's
    scaling it is Optimistic Adam.

    Args:
      alpha: :math:`\\alpha` >= 0, the weight of the current input.
      beta: :math:`\\beta` >= 0, the weight of the change since the last step.

    Returns:
      A transformation with :class:`ScaleByOptimisticGradientState`.

    References:
      Daskalakis, Ilyas, Syrgkanis & Zeng 2018, "Training GANs with Optimism",
      arXiv 1711.00141; Mokhtari, Ozdaglar & Pattathil 2020, "A Unified Analysis of
      Extra-gradient and Optimistic Gradient Methods for Saddle Point Problems",
      arXiv 1901.08511.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_optimistic_gradient()
      >>> s = tx.init(jnp.zeros(1))
      >>> u, s = tx.update(jnp.array([1.0]), s)
      >>> u, s = tx.update(jnp.array([3.0]), s)
      >>> u
      Array([5.], dtype=float32)
    """
    check_nonnegative("scale_by_optimistic_gradient", "alpha", alpha)
    check_nonnegative("scale_by_optimistic_gradient", "beta", beta)

    def init_fn(params: Params) -> ScaleByOptimisticGradientState:
        prev = tmap(lambda p: jnp.zeros(jnp.shape(p), jnp.result_type(p)), params)
        return ScaleByOptimisticGradientState(jnp.asarray(True), prev)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        first = state.is_initial_step

        def step(g: jax.Array, prev: jax.Array) -> jax.Array:
            prev = jnp.where(first, g, prev)
            return like((alpha + beta) * g - beta * prev, g)

        out = tmap(step, updates, state.previous_gradient)
        new_prev = tmap(like, updates, state.previous_gradient)
        return out, ScaleByOptimisticGradientState(jnp.asarray(False), new_prev)

    return GradientTransformationExtraArgs(init_fn, update_fn)
