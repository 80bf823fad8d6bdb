"""Multilayer perceptrons from an initializer, and the signal-propagation diagnostic.

The variance argument (Glorot & Bengio 2010; He et al. 2015): in a ReLU layer
``h_l = relu(h_{l-1} W_l)`` with i.i.d. zero-mean weights of variance ``c / n`` (``n`` =
fan_in), the mean square of the activations obeys ``E[h_l^2] = (c / 2) E[h_{l-1}^2]``, since
ReLU keeps half of a symmetric input's second moment. After ``L`` layers the signal is scaled
by ``(c / 2)^(L / 2)``: it vanishes for ``c < 2``, explodes for ``c > 2`` and stays flat only
at ``c = 2`` (He/Kaiming). The backward pass obeys the same recursion with fan_out, so the
gradients follow. :func:`signal_propagation` measures both, layer by layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.init._initializers import kaiming_normal

__all__ = ["SignalPropagation", "init_mlp", "mlp_forward", "signal_propagation"]

Params = list[dict[str, jax.Array]]


def init_mlp(
    key: jax.Array,
    sizes: Sequence[int],
    init: Callable[..., jax.Array] | None = None,
    *,
    bias_init: Callable[..., jax.Array] = jax.nn.initializers.zeros,
    dtype: Any = jnp.float32,
) -> Params:
    """The parameters of a multilayer perceptron with layer widths ``sizes``.

    .. math::

        W_l = \\texttt{init}(k_l, (\\text{sizes}[l-1], \\text{sizes}[l])), \\qquad
        b_l = \\texttt{bias\\_init}(k'_l, (\\text{sizes}[l],)), \\qquad l = 1, \\dots, L

    The params pytree is a list with one dict ``{"w": (fan_in, fan_out) array, "b":
    (fan_out,) array}`` per layer, ``L = len(sizes) - 1`` layers; the kernels are in the JAX
    layout, ``x @ w + b``, so ``init`` must treat axis -2 as the input axis (every
    :mod:`gradtx.init` initializer with ``layout="jax"``, its default, and every
    ``jax.nn.initializers`` one do). :func:`mlp_forward` runs it.

    Args:
        key: a PRNG key; each layer draws from its own split of it.
        sizes: ``[in_features, hidden_1, ..., out_features]``, at least two positive ints.
        init: the kernel initializer ``init(key, shape, dtype)``; ``None`` means
            :func:`kaiming_normal` (variance ``2 / fan_in``, for ReLU networks).
        bias_init: the bias initializer (zeros by default).
        dtype: the parameters' dtype.

    Returns:
        ``[{"w": ..., "b": ...}, ...]``, one dict per layer.

    Example:
        >>> import jax
        >>> from gradtx.init import init_mlp
        >>> params = init_mlp(jax.random.key(0), [64, 32, 10])
        >>> print([(p["w"].shape, p["b"].shape) for p in params])
        [((64, 32), (32,)), ((32, 10), (10,))]
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ValueError(
            "`init_mlp(sizes=...)` must list at least two positive widths (input, ..., "
            f"output); got {sizes=}."
        )
    init = kaiming_normal() if init is None else init
    keys = jax.random.split(key, 2 * (len(sizes) - 1))
    return [
        {
            "w": init(keys[2 * i], (n_in, n_out), dtype),
            "b": bias_init(keys[2 * i + 1], (n_out,), dtype),
        }
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
    ]


def mlp_forward(
    params: Params,
    x: jax.Array,
    *,
    activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
) -> list[jax.Array]:
    """Run an :func:`init_mlp` network and return every layer's output.

    .. math::

        h_0 = x, \\qquad h_l = \\phi(h_{l-1} W_l + b_l) \\ (l < L), \\qquad
        h_L = h_{L-1} W_L + b_L

    The last layer is linear (its outputs are logits). This is the ``apply_fn`` that
    :func:`signal_propagation` expects.

    Args:
        params: the list of ``{"w", "b"}`` dicts from :func:`init_mlp`.
        x: the inputs, shape ``(batch, sizes[0])``.
        activation: the nonlinearity :math:`\\phi` after every layer but the last.

    Returns:
        ``[h_1, ..., h_L]``, one ``(batch, sizes[l])`` array per layer.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from gradtx.init import init_mlp, mlp_forward
        >>> params = init_mlp(jax.random.key(0), [4, 8, 3])
        >>> print([h.shape for h in mlp_forward(params, jnp.ones((5, 4)))])
        [(5, 8), (5, 3)]
    """
    outputs = []
    h = x
    for i, layer in enumerate(params):
        h = h @ layer["w"] + layer["b"][None, :]
        if i < len(params) - 1:
            h = activation(h)
        outputs.append(h)
    return outputs


class SignalPropagation(NamedTuple):
    """Per-layer statistics of one forward and backward pass, from :func:`signal_propagation`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from gradtx.init import SignalPropagation
        >>> s = SignalPropagation(jnp.ones(3), jnp.ones(3), jnp.zeros(()))
        >>> print(s.activation_rms.shape)
        (3,)
    """

    activation_rms: jax.Array
    """``(L,)`` float32: the root mean square of each layer's output,
    :math:`\\sqrt{\\mathrm{mean}(h_l^2)}` over the batch and the units."""
    gradient_norm: jax.Array
    """``(L,)`` float32: the L2 norm of the loss gradient with respect to each layer's
    parameters ``params[l]`` (all of its leaves together)."""
    loss: jax.Array
    """``()`` the loss the gradients are of."""


def _probe_loss(output: jax.Array) -> jax.Array:
    return jnp.sum(output) / output.shape[0]


def signal_propagation(
    apply_fn: Callable[[Any, jax.Array], Sequence[jax.Array]],
    params: Sequence[Any],
    x: jax.Array,
    *,
    loss_fn: Callable[[jax.Array], jax.Array] | None = None,
) -> SignalPropagation:
    """Per-layer activation and gradient scales of a network at its initialization.

    .. math::

        a_l = \\sqrt{\\mathrm{mean}(h_l^2)}, \\qquad
        g_l = \\left\\lVert \\frac{\\partial\\, \\texttt{loss\\_fn}(h_L)}
        {\\partial\\, \\texttt{params}[l]} \\right\\rVert_2, \\qquad l = 1, \\dots, L

    How layers are exposed: ``apply_fn(params, x)`` returns the list of the ``L`` layers'
    outputs ``[h_1, ..., h_L]`` (:func:`mlp_forward` does), and ``params`` is a sequence
    with one entry (any pytree) per layer, in the same order. The default loss is
    :math:`\\sum h_L / \\text{batch}`: its gradient at the output is the same whatever the
    forward scale, so :math:`g_l` shows what the backward pass alone does to a fixed
    signal. In a ReLU network with weight variance ``c / fan_in``, :math:`a_l` scales like
    :math:`(c/2)^{l/2}` and the backward signal reaching layer ``l`` like
    :math:`(c/2)^{(L-l)/2}`: only ``c = 2`` (Kaiming) keeps both of order one through 50
    layers (``examples/init_study.py`` shows it on digits).

    Args:
        apply_fn: ``apply_fn(params, x) -> [h_1, ..., h_L]``.
        params: a list or tuple of the ``L`` layers' parameters.
        x: a batch of inputs, batch axis first.
        loss_fn: ``loss_fn(h_L) -> scalar`` to differentiate; defaults to the probe
            above. Pass e.g. a cross-entropy (closing over the labels) to measure the
            gradients training would see.

    Returns:
        A :class:`SignalPropagation` of ``(L,)`` arrays ``activation_rms`` and
        ``gradient_norm``, and the ``loss``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from gradtx.init import init_mlp, mlp_forward, signal_propagation
        >>> x = jax.random.normal(jax.random.key(1), (128, 64))
        >>> params = init_mlp(jax.random.key(0), [64] * 11)  # 10 layers, He init
        >>> s = jax.jit(signal_propagation, static_argnums=0)(mlp_forward, params, x)
        >>> print(s.activation_rms.shape, bool(0.3 < s.activation_rms[-2] < 3))
        (10,) True

    Reference:
        He, Zhang, Ren, Sun, 2015, "Delving Deep into Rectifiers: Surpassing Human-Level
        Performance on ImageNet Classification", arXiv:1502.01852 (Section 2.2).
    """
    if not isinstance(params, (list, tuple)):
        raise ValueError(
            "`signal_propagation(params=...)` must be a list or tuple with one entry per "
            f"layer (as init_mlp returns); got a {type(params).__name__}."
        )
    loss_fn = _probe_loss if loss_fn is None else loss_fn

    def forward(p: Sequence[Any]) -> tuple[jax.Array, list[jax.Array]]:
        outputs = list(apply_fn(p, x))
        if len(outputs) != len(p):
            raise ValueError(
                "`signal_propagation`: apply_fn(params, x) must return one output per "
                f"layer; got {len(outputs)} outputs for {len(p)} entries in params."
            )
        return loss_fn(outputs[-1]), outputs

    (loss, outputs), grads = jax.value_and_grad(forward, has_aux=True)(params)
    rms = jnp.stack([jnp.sqrt(jnp.mean(jnp.square(h.astype(jnp.float32)))) for h in outputs])
    norms = jnp.stack(
        [
            jnp.sqrt(
                sum(
                    (jnp.sum(jnp.square(g.astype(jnp.float32))) for g in jax.tree.leaves(layer)),
                    jnp.zeros((), jnp.float32),
                )
            )
            for layer in grads
        ]
    )
    return SignalPropagation(activation_rms=rms, gradient_norm=norms, loss=loss)
