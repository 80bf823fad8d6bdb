"""Independent NumPy references for gradtx's primitives and optimizers.

Each reference is written from the paper that introduced the method and from the update
rule that gradtx's docstring states (see the notes where the two differ); it never looks
at gradtx's, optax's or torch's code. A reference works on a flat list of float64 NumPy
leaves and keeps its state on ``self``:

    ref = Adam(b1=0.9).init(params)      # params: list of np.ndarray
    updates = ref.update(grads, params)  # one step; t counts from 1

Learning rates and weight decays may be schedules, ``count -> value`` with the count of
previous updates (0 at the first step), as in gradtx.

Where the papers and gradtx's docstrings differ (each case is reported to the maintainers):

- ``Nadam``: Dozat (2016), Algorithm 2, decays the first moment with the scheduled
  momentum, :math:`m_t = \\mu_t m_{t-1} + (1-\\mu_t) g_t`; ``gradtx.scale_by_nadam``'s
  docstring (and torch's NAdam) use Adam's :math:`m_t = \\beta_1 m_{t-1} + (1-\\beta_1)
  g_t`. ``Nadam(paper_moment=True)`` is the paper's form; the default is the docstring's.
- ``SGD`` with ``nesterov`` follows ``gradtx.sgd``'s docstring, :math:`g'_t + \\beta m_t`;
  ``gradtx.scale_by_momentum``'s docstring states :math:`(1-d) g_t + \\beta m_t`. The two
  agree when ``dampening=0``.
- ``Amsgrad``: Reddi et al. (2018) state AMSGrad without bias correction; gradtx's
  default corrects both moments (the paper's form is
  ``bias_correction_mu=bias_correction_nu=False``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import jax
import numpy as np

Leaves = list[np.ndarray]
Value = float | Callable[[int], float]


def f32(x: float) -> float:
    """``x`` as gradtx stores an optimizer's hyperparameters: rounded to float32, unless
    ``jax_enable_x64`` is on (then they are float64, and ``x`` is kept)."""
    if jax.config.jax_enable_x64:
        return float(x)
    return float(np.float32(x))


def as_stored(
    factory: Callable[..., object], reference: Callable[..., object], kwargs: dict[str, object]
) -> dict[str, object]:
    """``kwargs`` for ``reference``, with the numbers an optimizer alias stores.

    gradtx's aliases keep their numeric hyperparameters as float32 in the state, so a
    float64 run computes with ``float32(b1)``, not ``b1``. This completes ``kwargs``
    with ``factory``'s float defaults that ``reference`` also takes, and rounds every
    float (and every value a schedule returns) to float32.
    """
    takes = inspect.signature(reference).parameters
    any_name = any(p.kind is p.VAR_KEYWORD for p in takes.values())
    full = {
        name: p.default
        for name, p in inspect.signature(factory).parameters.items()
        if (any_name or name in takes) and isinstance(p.default, float)
    }
    full.update(kwargs)
    out: dict[str, object] = {}
    for k, v in full.items():
        if callable(v):
            out[k] = lambda c, v=v: f32(v(c))
        elif isinstance(v, float):
            out[k] = f32(v)
        else:
            out[k] = v
    return out


def _value(v: Value, count: int) -> float:
    return float(v(count)) if callable(v) else float(v)


class Transform:
    """A NumPy gradient transformation with its state on ``self``."""

    t: int

    def init(self, params: Leaves) -> Transform:
        self.t = 0
        self._init([np.asarray(p, np.float64) for p in params])
        return self

    def update(self, grads: Leaves, params: Leaves | None = None) -> Leaves:
        self.t += 1
        grads = [np.asarray(g, np.float64) for g in grads]
        params = None if params is None else [np.asarray(p, np.float64) for p in params]
        return self._update(grads, params)

    def _init(self, params: Leaves) -> None:
        del params

    def _update(self, grads: Leaves, params: Leaves | None) -> Leaves:
        raise NotImplementedError


class Chain(Transform):
    """Apply the transformations one after another."""

    def __init__(self, *parts: Transform) -> None:
        self.parts = parts

    def _init(self, params: Leaves) -> None:
        for p in self.parts:
            p.init(params)

    def _update(self, grads: Leaves, params: Leaves | None) -> Leaves:
        for p in self.parts:
            grads = p.update(grads, params)
        return grads


# ---------------------------------------------------------------------------------------
# Scaling


class Scale(Transform):
    """:math:`u = s g`."""

    def __init__(self, step_size: float) -> None:
        self.s = step_size

    def _update(self, grads, params):
        return [self.s * g for g in grads]


class ScaleBySchedule(Transform):
    """:math:`u_t = s(t-1) g_t`: the schedule sees the number of previous updates."""

    def __init__(self, fn: Callable[[int], float]) -> None:
        self.fn = fn

    def _update(self, grads, params):
        s = _value(self.fn, self.t - 1)
        return [s * g for g in grads]


class ScaleByLearningRate(Transform):
    """:math:`u_t = -\\alpha_t g_t` (or :math:`+\\alpha_t g_t` without ``flip_sign``)."""

    def __init__(self, learning_rate: Value, flip_sign: bool = True) -> None:
        self.lr = learning_rate
        self.sign = -1.0 if flip_sign else 1.0

    def _update(self, grads, params):
        s = self.sign * _value(self.lr, self.t - 1)
        return [s * g for g in grads]


class ScaleBySign(Transform):
    """signSGD (Bernstein et al. 2018, arXiv 1802.04434): :math:`u = \\mathrm{sign}(g)`."""

    def _update(self, grads, params):
        return [np.sign(g) for g in grads]


class Centralize(Transform):
    """Gradient centralization (Yong et al. 2020, arXiv 2004.01461).

    A leaf of rank >= 2 loses its mean over all axes but the first; others pass.
    """

    def _update(self, grads, params):
        out = []
        for g in grads:
            if g.ndim >= 2:
                flat = g.reshape(g.shape[0], -1)
                g = (flat - flat.mean(axis=1, keepdims=True)).reshape(g.shape)
            out.append(g)
        return out


# ---------------------------------------------------------------------------------------
# Momentum and averages


class Momentum(Transform):
    """Heavy ball (Polyak 1964) with dampening and the Nesterov form (Sutskever 2013).

    :math:`m_t = \\beta m_{t-1} + k_t g_t` with :math:`k_t = 1 - d` (:math:`k_1 = 1`
    with ``undampened_first_step``); the output is :math:`m_t`, or
    :math:`k_t g_t + \\beta m_t` with ``nesterov``.
    """

    def __init__(self, decay, nesterov=False, dampening=0.0, undampened_first_step=False):
        self.b, self.nesterov, self.d = decay, nesterov, dampening
        self.undampened = undampened_first_step

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        k = 1.0 if (self.undampened and self.t == 1) else 1.0 - self.d
        self.m = [self.b * m + k * g for m, g in zip(self.m, grads, strict=True)]
        if self.nesterov:
            return [k * g + self.b * m for g, m in zip(grads, self.m, strict=True)]
        return list(self.m)


class Trace(Transform):
    """optax's trace: :math:`m_t = \\beta m_{t-1} + g_t`; Nesterov: :math:`g_t + \\beta m_t`."""

    def __init__(self, decay, nesterov=False):
        self.b, self.nesterov = decay, nesterov

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        self.m = [self.b * m + g for m, g in zip(self.m, grads, strict=True)]
        if self.nesterov:
            return [g + self.b * m for g, m in zip(grads, self.m, strict=True)]
        return list(self.m)


class Ema(Transform):
    """The exponentially weighted average of the course notes.

    :math:`v_t = \\beta v_{t-1} + (1-\\beta) g_t`, output :math:`v_t/(1-\\beta^t)` when
    ``debias`` (Kingma & Ba 2015, section 3).
    """

    def __init__(self, decay, debias=True):
        self.b, self.debias = decay, debias

    def _init(self, params):
        self.v = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        self.v = [self.b * v + (1 - self.b) * g for v, g in zip(self.v, grads, strict=True)]
        c = 1 - self.b**self.t if self.debias else 1.0
        return [v / c for v in self.v]


class BiasCorrection(Transform):
    """:math:`u_t = g_t / (1 - \\beta^t)`."""

    def __init__(self, decay):
        self.b = decay

    def _update(self, grads, params):
        return [g / (1 - self.b**self.t) for g in grads]


# ---------------------------------------------------------------------------------------
# Adaptive scaling


def _inv_root(v: np.ndarray, eps: float, eps_in_sqrt: bool) -> np.ndarray:
    return 1 / np.sqrt(v + eps) if eps_in_sqrt else 1 / (np.sqrt(v) + eps)


class Rms(Transform):
    """RMSProp's scaling (Tieleman & Hinton 2012, lecture 6.5).

    :math:`\\nu_t = \\rho\\nu_{t-1} + (1-\\rho) g_t^2` from :math:`\\nu_0` =
    ``initial_scale``; :math:`u_t = g_t/\\sqrt{\\hat\\nu_t + \\epsilon}` (or
    :math:`/(\\sqrt{\\hat\\nu_t} + \\epsilon)`), :math:`\\hat\\nu_t = \\nu_t/(1-\\rho^t)`
    with ``bias_correction``.
    """

    def __init__(
        self, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False
    ):
        self.rho, self.eps, self.s0 = decay, eps, initial_scale
        self.in_sqrt, self.bc = eps_in_sqrt, bias_correction

    def _init(self, params):
        self.nu = [np.full_like(p, self.s0) for p in params]

    def _update(self, grads, params):
        self.nu = [
            self.rho * v + (1 - self.rho) * g**2 for v, g in zip(self.nu, grads, strict=True)
        ]
        c = 1 - self.rho**self.t if self.bc else 1.0
        return [
            g * _inv_root(v / c, self.eps, self.in_sqrt)
            for g, v in zip(grads, self.nu, strict=True)
        ]


class Stddev(Transform):
    """Centered RMSProp (Graves 2013, arXiv 1308.0850, eq. 38-45).

    :math:`u_t = g_t/\\sqrt{\\hat\\nu_t - \\hat\\mu_t^2 + \\epsilon}` with EMAs
    :math:`\\mu, \\nu` of :math:`g, g^2` (both divided by :math:`1-\\rho^t` with
    ``bias_correction``).
    """

    def __init__(
        self, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False
    ):
        self.rho, self.eps, self.s0 = decay, eps, initial_scale
        self.in_sqrt, self.bc = eps_in_sqrt, bias_correction

    def _init(self, params):
        self.mu = [np.zeros_like(p) for p in params]
        self.nu = [np.full_like(p, self.s0) for p in params]

    def _update(self, grads, params):
        r = self.rho
        self.mu = [r * m + (1 - r) * g for m, g in zip(self.mu, grads, strict=True)]
        self.nu = [r * v + (1 - r) * g**2 for v, g in zip(self.nu, grads, strict=True)]
        c = 1 - r**self.t if self.bc else 1.0
        return [
            g * _inv_root(v / c - (m / c) ** 2, self.eps, self.in_sqrt)
            for g, m, v in zip(grads, self.mu, self.nu, strict=True)
        ]


class Rss(Transform):
    """Adagrad's scaling (Duchi, Hazan & Singer 2011, JMLR 12).

    :math:`s_t = s_{t-1} + g_t^2`, :math:`u_t = g_t/\\sqrt{s_t + \\epsilon}` (0 where
    :math:`s_t = 0`) or :math:`g_t/(\\sqrt{s_t} + \\epsilon)`.
    """

    def __init__(self, initial_accumulator_value=0.1, eps=1e-7, eps_in_sqrt=True):
        self.s0, self.eps, self.in_sqrt = initial_accumulator_value, eps, eps_in_sqrt

    def _init(self, params):
        self.s = [np.full_like(p, self.s0) for p in params]

    def _update(self, grads, params):
        self.s = [s + g**2 for s, g in zip(self.s, grads, strict=True)]
        out = []
        for g, s in zip(grads, self.s, strict=True):
            if self.in_sqrt:
                inv = np.where(s > 0, 1 / np.sqrt(np.where(s > 0, s, 1.0) + self.eps), 0.0)
            else:
                inv = 1 / (np.sqrt(s) + self.eps)
            out.append(g * inv)
        return out


class Adam(Transform):
    """Adam (Kingma & Ba 2015, arXiv 1412.6980, Algorithm 1).

    :math:`m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t`, :math:`v_t = \\beta_2 v_{t-1} +
    (1-\\beta_2) g_t^2`, :math:`u_t = \\hat m_t/(\\sqrt{\\hat v_t + \\epsilon_r} +
    \\epsilon)`. With ``nesterov`` (Dozat 2016, constant :math:`\\beta_1`):
    :math:`\\hat m_t = \\beta_1 m_t/(1-\\beta_1^{t+1}) + (1-\\beta_1) g_t/(1-\\beta_1^t)`.
    """

    def __init__(
        self, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=False, bias_correction=True
    ):
        self.b1, self.b2, self.eps, self.eps_root = b1, b2, eps, eps_root
        self.nesterov, self.bc = nesterov, bias_correction

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def _moments(self, grads):
        b1, b2 = self.b1, self.b2
        self.m = [b1 * m + (1 - b1) * g for m, g in zip(self.m, grads, strict=True)]
        self.v = [b2 * v + (1 - b2) * g**2 for v, g in zip(self.v, grads, strict=True)]

    def _m_hat(self, grads):
        b1, t = self.b1, self.t
        c1 = 1 - b1**t if self.bc else 1.0
        if not self.nesterov:
            return [m / c1 for m in self.m]
        c1_next = 1 - b1 ** (t + 1) if self.bc else 1.0
        return [b1 * m / c1_next + (1 - b1) * g / c1 for m, g in zip(self.m, grads, strict=True)]

    def _update(self, grads, params):
        self._moments(grads)
        m_hat = self._m_hat(grads)
        c2 = 1 - self.b2**self.t if self.bc else 1.0
        return [
            m / (np.sqrt(v / c2 + self.eps_root) + self.eps)
            for m, v in zip(m_hat, self.v, strict=True)
        ]


class Amsgrad(Adam):
    """AMSGrad (Reddi, Kale & Kumar 2018, arXiv 1904.09237, Algorithm 2).

    :math:`\\bar v_t = \\max(\\bar v_{t-1}, \\hat v_t)`, :math:`u_t = \\hat m_t/
    (\\sqrt{\\bar v_t + \\epsilon_r} + \\epsilon)`; with ``max_of_raw_moment`` the maximum
    is of the raw :math:`v_t`, divided by the current :math:`1-\\beta_2^t`.
    """

    def __init__(
        self,
        b1=0.9,
        b2=0.999,
        eps=1e-8,
        eps_root=0.0,
        bias_correction_mu=True,
        bias_correction_nu=True,
        max_of_raw_moment=False,
    ):
        super().__init__(b1, b2, eps, eps_root, False, bias_correction_mu)
        self.bc_nu, self.raw = bias_correction_nu, max_of_raw_moment

    def _init(self, params):
        super()._init(params)
        self.v_max = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        self._moments(grads)
        m_hat = self._m_hat(grads)
        c2 = 1 - self.b2**self.t if self.bc_nu else 1.0
        if self.raw:
            self.v_max = [np.maximum(a, v) for a, v in zip(self.v_max, self.v, strict=True)]
            denom = [a / c2 for a in self.v_max]
        else:
            self.v_max = [np.maximum(a, v / c2) for a, v in zip(self.v_max, self.v, strict=True)]
            denom = self.v_max
        return [
            m / (np.sqrt(v + self.eps_root) + self.eps) for m, v in zip(m_hat, denom, strict=True)
        ]


class Adamax(Transform):
    """Adamax (Kingma & Ba 2015, section 7.1, Algorithm 2).

    :math:`u_t = \\max(\\beta_2 u_{t-1}, |g_t| + \\epsilon)`, step
    :math:`m_t/((1-\\beta_1^t) u_t)`. The paper has no epsilon; it sits inside the maximum
    here, where torch and optax put it (and gradtx documents it).
    """

    def __init__(self, b1=0.9, b2=0.999, eps=1e-8):
        self.b1, self.b2, self.eps = b1, b2, eps

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.u = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        self.m = [self.b1 * m + (1 - self.b1) * g for m, g in zip(self.m, grads, strict=True)]
        self.u = [
            np.maximum(self.b2 * u, np.abs(g) + self.eps)
            for u, g in zip(self.u, grads, strict=True)
        ]
        c1 = 1 - self.b1**self.t
        return [m / (c1 * u) for m, u in zip(self.m, self.u, strict=True)]


class Adadelta(Transform):
    """Adadelta (Zeiler 2012, arXiv 1212.5701, Algorithm 1), without the sign.

    :math:`E[g^2]_t = \\rho E[g^2]_{t-1} + (1-\\rho) g_t^2`,
    :math:`u_t = \\mathrm{RMS}[\\Delta x]_{t-1}/\\mathrm{RMS}[g]_t\\, g_t`,
    :math:`E[\\Delta x^2]_t = \\rho E[\\Delta x^2]_{t-1} + (1-\\rho) u_t^2`,
    :math:`\\mathrm{RMS}[y] = \\sqrt{E[y^2] + \\epsilon}`.
    """

    def __init__(self, rho=0.9, eps=1e-6):
        self.rho, self.eps = rho, eps

    def _init(self, params):
        self.eg = [np.zeros_like(p) for p in params]
        self.ex = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        r, eps = self.rho, self.eps
        self.eg = [r * e + (1 - r) * g**2 for e, g in zip(self.eg, grads, strict=True)]
        out = [
            np.sqrt(x + eps) / np.sqrt(e + eps) * g
            for x, e, g in zip(self.ex, self.eg, grads, strict=True)
        ]
        self.ex = [r * x + (1 - r) * u**2 for x, u in zip(self.ex, out, strict=True)]
        return out


class Radam(Adam):
    """Rectified Adam (Liu et al. 2020, arXiv 1908.03265, Algorithm 2).

    :math:`\\rho_\\infty = 2/(1-\\beta_2) - 1`, :math:`\\rho_t = \\rho_\\infty -
    2t\\beta_2^t/(1-\\beta_2^t)`; when :math:`\\rho_t >` ``threshold`` (the paper says
    4; its code and gradtx use 5) the step is :math:`r_t \\hat m_t/(\\sqrt{\\hat v_t +
    \\epsilon_r} + \\epsilon)` with :math:`r_t = \\sqrt{(\\rho_t-4)(\\rho_t-2)\\rho_\\infty
    /((\\rho_\\infty-4)(\\rho_\\infty-2)\\rho_t)}`, otherwise :math:`\\hat m_t`.
    """

    def __init__(self, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0, nesterov=False):
        super().__init__(b1, b2, eps, eps_root, nesterov, True)
        self.threshold = threshold

    def _update(self, grads, params):
        self._moments(grads)
        m_hat = self._m_hat(grads)
        b2, t = self.b2, self.t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t <= self.threshold:
            return m_hat
        r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        c2 = 1 - b2**t
        return [
            r * m / (np.sqrt(v / c2 + self.eps_root) + self.eps)
            for m, v in zip(m_hat, self.v, strict=True)
        ]


class Nadam(Transform):
    """NAdam with Dozat's momentum schedule (Dozat 2016, Algorithm 2).

    :math:`\\mu_t = \\beta_1(1 - \\tfrac12 0.96^{t\\psi})`, :math:`\\Pi_t = \\prod_{i \\le t}
    \\mu_i`, :math:`u_t = ((1-\\mu_t) g_t/(1-\\Pi_t) + \\mu_{t+1} m_t/(1-\\Pi_t
    \\mu_{t+1}))/(\\sqrt{\\hat v_t + \\epsilon_r} + \\epsilon)`. ``m_t`` decays with
    :math:`\\beta_1` (gradtx's docstring, torch) or with :math:`\\mu_t` (the paper,
    ``paper_moment=True``). ``product_dtype=np.float32`` stores :math:`\\Pi_t` rounded to float32
    between steps, as gradtx documents.
    """

    def __init__(
        self,
        b1=0.9,
        b2=0.999,
        eps=1e-8,
        eps_root=0.0,
        momentum_decay=4e-3,
        paper_moment=False,
        product_dtype=None,
    ):
        self.b1, self.b2, self.eps, self.eps_root = b1, b2, eps, eps_root
        self.psi, self.paper, self.pdtype = momentum_decay, paper_moment, product_dtype

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.prod = 1.0

    def _mu(self, t: int) -> float:
        return self.b1 * (1 - 0.5 * 0.96 ** (t * self.psi))

    def _update(self, grads, params):
        t = self.t
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        decay = mu_t if self.paper else self.b1
        self.m = [decay * m + (1 - decay) * g for m, g in zip(self.m, grads, strict=True)]
        self.v = [self.b2 * v + (1 - self.b2) * g**2 for v, g in zip(self.v, grads, strict=True)]
        prod = self.prod * mu_t
        # The product is used exactly in this step and stored rounded for the next one.
        self.prod = prod if self.pdtype is None else float(np.asarray(prod, self.pdtype))
        c2 = 1 - self.b2**t
        return [
            ((1 - mu_t) * g / (1 - prod) + mu_next * m / (1 - prod * mu_next))
            / (np.sqrt(v / c2 + self.eps_root) + self.eps)
            for g, m, v in zip(grads, self.m, self.v, strict=True)
        ]


# ---------------------------------------------------------------------------------------
# Weight decay and clipping


class AddDecayedWeights(Transform):
    """:math:`u = g + \\lambda_t\\theta` (Loshchilov & Hutter 2019), where ``mask`` holds."""

    def __init__(self, weight_decay: Value = 0.0, mask: Sequence[bool] | None = None):
        self.wd, self.mask = weight_decay, mask

    def _update(self, grads, params):
        wd = _value(self.wd, self.t - 1)
        mask = self.mask if self.mask is not None else [True] * len(grads)
        return [g + wd * p if keep else g for g, p, keep in zip(grads, params, mask, strict=True)]


class Clip(Transform):
    """:math:`u = \\min(\\max(g, -\\delta), \\delta)`."""

    def __init__(self, max_delta):
        self.d = max_delta

    def _update(self, grads, params):
        return [np.minimum(np.maximum(g, -self.d), self.d) for g in grads]


class ClipByGlobalNorm(Transform):
    """Pascanu et al. 2013 (arXiv 1211.5063): :math:`u = g\\min(1, c/\\|g\\|)`."""

    def __init__(self, max_norm):
        self.c = max_norm

    def _update(self, grads, params):
        norm = np.sqrt(sum(float(np.sum(g**2)) for g in grads))
        factor = min(1.0, self.c / norm) if norm > 0 else 1.0
        return [g * factor for g in grads]


class ClipByBlockRms(Transform):
    """:math:`u_i = g_i\\min(1, c/\\mathrm{rms}(g_i))` for each leaf."""

    def __init__(self, threshold):
        self.c = threshold

    def _update(self, grads, params):
        out = []
        for g in grads:
            rms = float(np.sqrt(np.mean(g**2)))
            out.append(g * (min(1.0, self.c / rms) if rms > 0 else 1.0))
        return out


# ---------------------------------------------------------------------------------------
# Optimizers, from the update rules in gradtx's optimizer docstrings


class SGD(Transform):
    """SGD with momentum, dampening and coupled (L2) weight decay, as ``gradtx.sgd`` states.

    :math:`g'_t = g_t + \\lambda\\theta_t`, :math:`m_1 = g'_1`, :math:`m_t = \\beta
    m_{t-1} + (1-d) g'_t`, step :math:`-\\alpha_t m_t` or, with ``nesterov``,
    :math:`-\\alpha_t(g'_t + \\beta m_t)` (torch.optim.SGD's documented algorithm).
    Without momentum the step is :math:`-\\alpha_t g'_t` (Robbins & Monro 1951).
    """

    def __init__(
        self, learning_rate: Value, momentum=None, nesterov=False, dampening=0.0, weight_decay=0.0
    ):
        self.lr, self.b, self.nesterov = learning_rate, momentum, nesterov
        self.d, self.wd = dampening, weight_decay

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        g = [g + self.wd * p for g, p in zip(grads, params, strict=True)]
        lr = _value(self.lr, self.t - 1)
        if self.b is None:
            return [-lr * x for x in g]
        if self.t == 1:
            self.m = [x.copy() for x in g]
        else:
            self.m = [self.b * m + (1 - self.d) * x for m, x in zip(self.m, g, strict=True)]
        step = [x + self.b * m for x, m in zip(g, self.m, strict=True)] if self.nesterov else self.m
        return [-lr * s for s in step]


class RMSProp(Transform):
    """RMSProp as ``gradtx.rmsprop`` states it: momentum on the learning-rate-scaled step.

    :math:`d_t = \\alpha_t g_t/\\sqrt{\\hat\\nu_t(-\\hat\\mu_t^2) + \\epsilon}`,
    :math:`m_t = \\beta m_{t-1} + d_t`, :math:`\\theta_{t+1} = \\theta_t - m_t` (Nesterov:
    :math:`- (d_t + \\beta m_t)`; no momentum: :math:`- d_t`).
    """

    def __init__(
        self,
        learning_rate: Value,
        decay=0.9,
        eps=1e-8,
        initial_scale=0.0,
        eps_in_sqrt=True,
        centered=False,
        momentum=None,
        nesterov=False,
        bias_correction=False,
    ):
        self.lr, self.b, self.nesterov = learning_rate, momentum, nesterov
        scaler = Stddev if centered else Rms
        self.scaler = scaler(decay, eps, initial_scale, eps_in_sqrt, bias_correction)

    def _init(self, params):
        self.scaler.init(params)
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        lr = _value(self.lr, self.t - 1)
        d = [lr * x for x in self.scaler.update(grads, params)]
        if self.b is None:
            return [-x for x in d]
        self.m = [self.b * m + x for m, x in zip(self.m, d, strict=True)]
        if self.nesterov:
            return [-(x + self.b * m) for x, m in zip(d, self.m, strict=True)]
        return [-m for m in self.m]


def sgd(learning_rate, momentum=None, nesterov=False, *, dampening=0.0, weight_decay=0.0):
    return SGD(learning_rate, momentum, nesterov, dampening, weight_decay)


def adam(
    learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, *, nesterov=False, bias_correction=True
):
    """:math:`\\theta_{t+1} = \\theta_t - \\alpha_t\\,\\mathrm{Adam}_t`."""
    return Chain(
        Adam(b1, b2, eps, eps_root, nesterov, bias_correction), ScaleByLearningRate(learning_rate)
    )


def adamw(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    weight_decay=1e-4,
    mask=None,
    *,
    nesterov=False,
):
    """Decoupled decay (Loshchilov & Hutter 2019): :math:`-\\alpha_t(\\mathrm{Adam}_t +
    \\lambda\\theta_t)`."""
    return Chain(
        Adam(b1, b2, eps, eps_root, nesterov),
        AddDecayedWeights(weight_decay, mask),
        ScaleByLearningRate(learning_rate),
    )


def nadam(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    *,
    momentum_decay=None,
    product_dtype=None,
):
    """Constant-:math:`\\beta_1` NAdam, or Dozat's schedule when ``momentum_decay`` is set."""
    if momentum_decay is None:
        direction: Transform = Adam(b1, b2, eps, eps_root, nesterov=True)
    else:
        direction = Nadam(b1, b2, eps, eps_root, momentum_decay, product_dtype=product_dtype)
    return Chain(direction, ScaleByLearningRate(learning_rate))


def nadamw(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    weight_decay=1e-4,
    mask=None,
    *,
    momentum_decay=None,
    product_dtype=None,
):
    inner = nadam(
        1.0, b1, b2, eps, eps_root, momentum_decay=momentum_decay, product_dtype=product_dtype
    ).parts[0]
    return Chain(inner, AddDecayedWeights(weight_decay, mask), ScaleByLearningRate(learning_rate))


def amsgrad(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    bias_correction_mu=True,
    bias_correction_nu=True,
    *,
    max_of_raw_moment=False,
):
    return Chain(
        Amsgrad(b1, b2, eps, eps_root, bias_correction_mu, bias_correction_nu, max_of_raw_moment),
        ScaleByLearningRate(learning_rate),
    )


def adamax(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    return Chain(Adamax(b1, b2, eps), ScaleByLearningRate(learning_rate))


def adamaxw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4, mask=None):
    return Chain(
        Adamax(b1, b2, eps),
        AddDecayedWeights(weight_decay, mask),
        ScaleByLearningRate(learning_rate),
    )


def radam(
    learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0, *, nesterov=False
):
    return Chain(
        Radam(b1, b2, eps, eps_root, threshold, nesterov), ScaleByLearningRate(learning_rate)
    )


def rmsprop(
    learning_rate,
    decay=0.9,
    eps=1e-8,
    initial_scale=0.0,
    eps_in_sqrt=True,
    centered=False,
    momentum=None,
    nesterov=False,
    bias_correction=False,
):
    return RMSProp(
        learning_rate,
        decay,
        eps,
        initial_scale,
        eps_in_sqrt,
        centered,
        momentum,
        nesterov,
        bias_correction,
    )


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7, *, eps_in_sqrt=True):
    """Duchi et al. 2011: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t g_t/\\sqrt{s_t +
    \\epsilon}`."""
    return Chain(
        Rss(initial_accumulator_value, eps, eps_in_sqrt), ScaleByLearningRate(learning_rate)
    )


def adadelta(learning_rate=None, rho=0.9, eps=1e-6, weight_decay=0.0, mask=None):
    """Zeiler 2012 on :math:`g_t + \\lambda\\theta_t`, times :math:`-\\alpha` (1 by default)."""
    lr = 1.0 if learning_rate is None else learning_rate
    return Chain(AddDecayedWeights(weight_decay, mask), Adadelta(rho, eps), ScaleByLearningRate(lr))


def run(ref: Transform, params: Leaves, grads: Sequence[Leaves]) -> list[Leaves]:
    """Run ``ref`` over the gradient sequence, applying each update to the params.

    Returns the update of every step.
    """
    params = [np.asarray(p, np.float64) for p in params]
    ref.init(params)
    out = []
    for g in grads:
        u = ref.update(g, params)
        params = [p + x for p, x in zip(params, u, strict=True)]
        out.append(u)
    return out
