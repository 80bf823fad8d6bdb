"""Xavier/Glorot and Kaiming/He initializers with torch-style gains.

Each factory returns a JAX initializer ``init(key, shape, dtype=jnp.float32)`` built on
:func:`jax.nn.initializers.variance_scaling`: the gain ``g`` becomes its ``scale = g**2``
and the torch distribution picks its ``mode`` and ``distribution``.

**Fans and layouts.** A kernel has one input-feature axis, one output-feature axis and
zero or more receptive-field axes; ``fan_in = in_features * receptive_field`` and
``fan_out = out_features * receptive_field`` (receptive_field = the product of the other
axes, 1 for a dense kernel). The ``layout`` keyword says where the two feature axes are:

============  =====================  ======================  ===========================
``layout``    dense kernel           conv kernel             variance_scaling axes
============  =====================  ======================  ===========================
``"jax"``     ``(in, out)``          ``(*spatial, in, out)`` ``in_axis=-2, out_axis=-1``
                                     (HWIO, Flax/lax)
``"torch"``   ``(out, in)``          ``(out, in, *spatial)`` ``in_axis=1, out_axis=0``
                                     (OIHW, torch)
============  =====================  ======================  ===========================

So a ``(3, 3, 16, 32)`` HWIO kernel and a ``(32, 16, 3, 3)`` OIHW kernel both have
``fan_in = 16 * 9 = 144`` and ``fan_out = 32 * 9 = 288``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "calculate_gain",
    "compute_fans",
    "kaiming_normal",
    "kaiming_uniform",
    "xavier_normal",
    "xavier_uniform",
]

Initializer = Callable[..., jax.Array]

_LAYOUT_AXES = {"jax": (-2, -1), "torch": (1, 0)}  # (in_axis, out_axis)
_MODES = ("fan_in", "fan_out")
_LINEAR_GAINS = (
    "linear",
    "conv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)
_NONLINEARITIES = (*_LINEAR_GAINS, "tanh", "relu", "leaky_relu", "selu")


def _check_layout(fn: str, layout: str) -> tuple[int, int]:
    if layout not in _LAYOUT_AXES:
        raise ValueError(
            f"`{fn}(layout=...)` must be 'jax' (dense (in, out), conv HWIO) or 'torch' "
            f"(dense (out, in), conv OIHW); got {layout=}."
        )
    return _LAYOUT_AXES[layout]


def _check_shape(fn: str, shape: Sequence[int]) -> None:
    if len(shape) < 2:
        raise ValueError(
            f"`{fn}`: fan_in and fan_out need a kernel with at least 2 axes (an input and an "
            f"output feature axis); got shape={tuple(shape)}. Initialize biases with "
            "jax.nn.initializers.zeros instead."
        )


def compute_fans(shape: Sequence[int], layout: str = "jax") -> tuple[int, int]:
    """The ``(fan_in, fan_out)`` of a dense or convolution kernel of this shape.

    .. math::

        \\text{fan\\_in} = n_\\text{in} \\prod_k s_k, \\qquad
        \\text{fan\\_out} = n_\\text{out} \\prod_k s_k

    where :math:`s_k` are the receptive-field (spatial) sizes: every axis except the two
    feature axes, which ``layout`` locates (see Args; the guide page has a table). These are
    the fans :func:`jax.nn.initializers.variance_scaling` uses with the same axes, and the
    ones ``torch.nn.init`` uses for ``layout="torch"``.

    Args:
        shape: the kernel's shape, at least 2 axes.
        layout: ``"jax"`` (dense ``(in, out)``, conv ``(*spatial, in, out)``) or
            ``"torch"`` (dense ``(out, in)``, conv ``(out, in, *spatial)``).

    Returns:
        ``(fan_in, fan_out)`` as Python ints.

    Example:
        >>> from gradtx.init import compute_fans
        >>> compute_fans((3, 3, 16, 32))  # HWIO
        (144, 288)
        >>> compute_fans((32, 16, 3, 3), layout="torch")  # OIHW
        (144, 288)
    """
    in_axis, out_axis = _check_layout("compute_fans", layout)
    _check_shape("compute_fans", shape)
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    feature_axes = {in_axis % ndim, out_axis % ndim}
    receptive = math.prod(s for i, s in enumerate(shape) if i not in feature_axes)
    return shape[in_axis] * receptive, shape[out_axis] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as in ``torch.nn.init.calculate_gain``.

    The gain ``g`` is the factor that makes :math:`\\mathrm{Var}[f(y)] \\cdot g^2 \\approx
    \\mathrm{Var}[y]` for zero-mean inputs, so that ``std = g / sqrt(fan)`` keeps the signal
    scale through the layer:

    ========================================================  ==============================
    nonlinearity                                              gain
    ========================================================  ==============================
    ``linear``, ``conv``, ``conv{1,2,3}d``,                   :math:`1`
    ``conv_transpose{1,2,3}d``, ``sigmoid``
    ``tanh``                                                  :math:`5/3`
    ``relu``                                                  :math:`\\sqrt{2}`
    ``leaky_relu``                                            :math:`\\sqrt{2/(1+a^2)}`,
                                                              ``a = param`` (default 0.01)
    ``selu``                                                  :math:`3/4`
    ========================================================  ==============================

    ``"conv"`` is a gradtx spelling of the conv gains (torch knows only the numbered names).

    Args:
        nonlinearity: one of the names above.
        param: the negative slope for ``leaky_relu`` (``None`` means 0.01); ignored by the
            others.

    Returns:
        The gain, a Python float.

    Example:
        >>> from gradtx.init import calculate_gain
        >>> print(calculate_gain("relu"), calculate_gain("tanh"))
        1.4142135623730951 1.6666666666666667
        >>> print(round(calculate_gain("leaky_relu", 0.2), 6))
        1.386750

    Reference:
        He, Zhang, Ren, Sun, 2015, "Delving Deep into Rectifiers: Surpassing Human-Level
        Performance on ImageNet Classification", arXiv:1502.01852.
    """
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)):
            raise ValueError(
                f"`calculate_gain('leaky_relu', param=...)` must be a number (the negative "
                f"slope); got {param=}."
            )
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"`calculate_gain(nonlinearity=...)` must be one of {list(_NONLINEARITIES)}; "
        f"got {nonlinearity=}."
    )


def _check_gain(fn: str, gain: Any) -> float:
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not gain > 0:
        raise ValueError(f"`{fn}(gain=...)` must be a positive number; got {gain=}.")
    return float(gain)


def _variance_scaling(
    fn: str, scale: float, mode: str, distribution: str, layout: str
) -> Initializer:
    in_axis, out_axis = _check_layout(fn, layout)
    inner = jax.nn.initializers.variance_scaling(
        scale, mode, distribution, in_axis=in_axis, out_axis=out_axis
    )

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        _check_shape(fn, shape)
        return inner(key, shape, dtype)

    init.__doc__ = f"A `{fn}` initializer: init(key, shape, dtype=jnp.float32) -> jax.Array."
    return init


def xavier_uniform(gain: float = 1.0, *, layout: str = "jax") -> Initializer:
    """Xavier/Glorot uniform initialization with a gain, as ``torch.nn.init.xavier_uniform_``.

    .. math::

        W \\sim \\mathcal{U}(-a, a), \\qquad
        a = \\text{gain} \\sqrt{\\frac{6}{\\text{fan\\_in} + \\text{fan\\_out}}}

    (variance :math:`\\text{gain}^2 \\cdot 2 / (\\text{fan\\_in} + \\text{fan\\_out})`):
    ``variance_scaling(gain**2, "fan_avg", "uniform")``.

    Args:
        gain: the scale factor (see :func:`calculate_gain`), positive.
        layout: where the feature axes are, ``"jax"`` or ``"torch"`` (see
            :func:`compute_fans`).

    Returns:
        An initializer ``init(key, shape, dtype=jnp.float32)``.

    Example:
        >>> import jax
        >>> from gradtx.init import xavier_uniform
        >>> w = xavier_uniform()(jax.random.key(0), (300, 100))
        >>> print(w.shape, w.dtype, bool(abs(w).max() <= (6 / 400) ** 0.5))
        (300, 100) float32 True

    Reference:
        Glorot, Bengio, 2010, "Understanding the difficulty of training deep feedforward
        neural networks", AISTATS (PMLR 9:249-256).
    """
    gain = _check_gain("xavier_uniform", gain)
    return _variance_scaling("xavier_uniform", gain**2, "fan_avg", "uniform", layout)


def xavier_normal(gain: float = 1.0, *, layout: str = "jax") -> Initializer:
    """Xavier/Glorot normal initialization with a gain, as ``torch.nn.init.xavier_normal_``.

    .. math::

        W \\sim \\mathcal{N}(0, \\sigma^2), \\qquad
        \\sigma = \\text{gain} \\sqrt{\\frac{2}{\\text{fan\\_in} + \\text{fan\\_out}}}

    An untruncated normal, like torch's: ``variance_scaling(gain**2, "fan_avg", "normal")``
    (``jax.nn.initializers.glorot_normal`` truncates instead).

    Args:
        gain: the scale factor (see :func:`calculate_gain`), positive.
        layout: where the feature axes are, ``"jax"`` or ``"torch"`` (see
            :func:`compute_fans`).

    Returns:
        An initializer ``init(key, shape, dtype=jnp.float32)``.

    Example:
        >>> import jax
        >>> from gradtx.init import xavier_normal
        >>> w = xavier_normal(gain=2.0)(jax.random.key(0), (400, 400))
        >>> print(round(float(w.std()), 2), round(2 * (2 / 800) ** 0.5, 2))
        0.1 0.1

    Reference:
        Glorot, Bengio, 2010, "Understanding the difficulty of training deep feedforward
        neural networks", AISTATS (PMLR 9:249-256).
    """
    gain = _check_gain("xavier_normal", gain)
    return _variance_scaling("xavier_normal", gain**2, "fan_avg", "normal", layout)


def _kaiming_scale(fn: str, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in _MODES:
        raise ValueError(f"`{fn}(mode=...)` must be 'fan_in' or 'fan_out'; got {mode=}.")
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        raise ValueError(f"`{fn}(a=...)` must be a number (the negative slope); got {a=}.")
    try:
        gain = calculate_gain(nonlinearity, a)
    except ValueError as err:
        raise ValueError(f"`{fn}`: {err}") from None
    return gain**2


def kaiming_uniform(
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    layout: str = "jax",
) -> Initializer:
    """Kaiming/He uniform initialization, as ``torch.nn.init.kaiming_uniform_``.

    .. math::

        W \\sim \\mathcal{U}(-b, b), \\qquad
        b = \\text{gain} \\sqrt{\\frac{3}{\\text{fan}}}, \\qquad
        \\text{gain} = \\texttt{calculate\\_gain(nonlinearity, a)}

    with ``fan`` = fan_in or fan_out per ``mode`` (std :math:`\\text{gain}/\\sqrt{\\text{fan}}`):
    ``variance_scaling(gain**2, mode, "uniform")``. With the defaults (leaky ReLU of slope 0)
    the gain is :math:`\\sqrt 2`, variance ``2 / fan_in``.

    Args:
        a: the negative slope of the rectifier after this layer (used only with
            ``nonlinearity="leaky_relu"``).
        mode: ``"fan_in"`` keeps the forward activations' variance, ``"fan_out"`` the
            backward gradients'.
        nonlinearity: a name :func:`calculate_gain` knows; ``"relu"`` or ``"leaky_relu"``
            are the intended ones.
        layout: where the feature axes are, ``"jax"`` or ``"torch"`` (see
            :func:`compute_fans`).

    Returns:
        An initializer ``init(key, shape, dtype=jnp.float32)``.

    Example:
        >>> import jax
        >>> from gradtx.init import kaiming_uniform
        >>> w = kaiming_uniform(nonlinearity="relu")(jax.random.key(0), (3, 3, 16, 32))
        >>> print(w.shape, bool(abs(w).max() <= 2**0.5 * (3 / 144) ** 0.5))
        (3, 3, 16, 32) True

    Reference:
        He, Zhang, Ren, Sun, 2015, "Delving Deep into Rectifiers: Surpassing Human-Level
        Performance on ImageNet Classification", arXiv:1502.01852.
    """
    scale = _kaiming_scale("kaiming_uniform", a, mode, nonlinearity)
    return _variance_scaling("kaiming_uniform", scale, mode, "uniform", layout)


def kaiming_normal(
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    layout: str = "jax",
) -> Initializer:
    """Kaiming/He normal initialization, as ``torch.nn.init.kaiming_normal_``.

    .. math::

        W \\sim \\mathcal{N}(0, \\sigma^2), \\qquad
        \\sigma = \\frac{\\text{gain}}{\\sqrt{\\text{fan}}}, \\qquad
        \\text{gain} = \\texttt{calculate\\_gain(nonlinearity, a)}

    An untruncated normal, like torch's: ``variance_scaling(gain**2, mode, "normal")``
    (``jax.nn.initializers.he_normal`` truncates instead). With the defaults the variance is
    ``2 / fan_in``, the value that keeps a deep ReLU network's signal scale
    (see :func:`gradtx.init.signal_propagation`).

    Args:
        a: the negative slope of the rectifier after this layer (used only with
            ``nonlinearity="leaky_relu"``).
        mode: ``"fan_in"`` keeps the forward activations' variance, ``"fan_out"`` the
            backward gradients'.
        nonlinearity: a name :func:`calculate_gain` knows.
        layout: where the feature axes are, ``"jax"`` or ``"torch"`` (see
            :func:`compute_fans`).

    Returns:
        An initializer ``init(key, shape, dtype=jnp.float32)``.

    Example:
        >>> import jax
        >>> from gradtx.init import kaiming_normal
        >>> w = kaiming_normal(mode="fan_out", layout="torch")(jax.random.key(0), (500, 200))
        >>> print(round(float(w.std()), 3), round((2 / 500) ** 0.5, 3))
        0.063 0.063

    Reference:
        He, Zhang, Ren, Sun, 2015, "Delving Deep into Rectifiers: Surpassing Human-Level
        Performance on ImageNet Classification", arXiv:1502.01852.
    """
    scale = _kaiming_scale("kaiming_normal", a, mode, nonlinearity)
    return _variance_scaling("kaiming_normal", scale, mode, "normal", layout)
