"""Vanishing and exploding gradients, measured, and the fixes: initialization and clipping.

What it shows: the course notes' numerical-stability lesson. The gradient reaching layer l
of an L-layer network is a product of the L - l layer Jacobians behind it, so it shrinks or
grows geometrically with depth unless every factor has norm ~1.

1. **Vanishing through sigmoid stacks.** Stacks of ``depth`` layers ``h = sigmoid(h W +
   b)`` (width 32, a batch of 64 standard-normal inputs, depth 5, 10, 20, 40), the
   gradient of the probe loss ``sum(h_L) / batch`` with respect to each layer's ``(W, b)``
   (what ``gradtx.init.signal_propagation`` measures, computed here with a ``lax.scan``
   over the stacked layers so that one compiled program serves every depth). The
   sigmoid's slope is at most 1/4 (at 0) and vanishes where it saturates, so with
   Xavier's variance 1/n (``gradtx.init.xavier_normal`` with ``calculate_gain("sigmoid")
   = 1``) each layer multiplies the backward signal by ~1/4: the first layer's gradient
   is ~1e-12 of the last one's at depth 20, ~1000x lost every 5 layers. The course
   notes' small init N(0, 0.01^2) adds a factor 0.01 sqrt(n) per layer and underflows to
   0; N(0, 1) saturates the units and still loses 3-4 orders of magnitude over 20 layers.
   No variance rescues a deep sigmoid stack; the fix is the ReLU with its matching
   initialization: ReLU with Xavier's 1/n still halves the signal's energy per layer,
   ReLU with Kaiming's 2/n (``gradtx.init.kaiming_normal(nonlinearity="relu")``) keeps
   the first/last ratio of order one (0.27-0.65) at every depth.
2. **Exploding products of Gaussian matrices.** The gradient through L linear layers is
   such a product. The norm of ``W_L ... W_1`` (64 x 64, entries N(0, v)) over sqrt(64),
   in float64: with v = 1 (``randn``, the notes' example) it grows ~8x per layer (1e90 at
   depth 100); v = 2/n grows like 2^(L/2) (2e7-3e7 at depth 50), v = 1/(2n) shrinks like
   2^(-L/2); v = 1/n (``gradtx.init.xavier_normal()``, square layers) stays of order one
   (0.7-1.2) up to depth 100. The notes' literal example, 100 random 4 x 4 N(0, 1)
   matrices, is printed too (~1e24).
3. **Clipping bounds an exploding update.** A 10-layer ReLU MLP (width 32) on standardized
   digits (``sklearn.datasets.load_digits``), full-batch SGD at rate 0.1, cross-entropy.
   Kaiming-initialized (2/n), it trains without help. The same network with every weight
   x sqrt(3) (variance 6/n) has forward signals and gradients ~1.5^(L/2) x too large
   (initial loss 200-800, gradient norm ~1e3), and plain SGD reaches inf/NaN within 2-3
   steps; ``gradtx.chain(gradtx.clip_by_global_norm(1.0), gradtx.sgd(0.1))`` caps every
   step at 0.1 and trains it from the same start (loss 811 -> 1.6 in 100 steps).

The script prints four tables (per-layer gradient norms at depth 20; first/last ratio per
depth; product norms per depth; the three training runs) and plots them into
``examples/out/gradient_health.png`` (log-scale norms against layer and depth, and the
training losses).

Measured (CPU, seed 0, --quick): first/last ratio at depth 20: sigmoid N(0, 1) 1.0e-3,
sigmoid Xavier 6e-13, sigmoid N(0, 0.01^2) 0, ReLU Xavier 2.6e-3, ReLU Kaiming 0.35;
product norm at depth 50: 2/n 2.5e7, 1/n 0.68, 1/(2n) 2.2e-8; training: 6/n without
clipping is non-finite from step 2, with clipping the loss goes 811 -> 1.6, Kaiming
without clipping 3.97 -> 0.42. Seeds 0-4 give the same picture (6/n diverges at step 2-3
every time; the clipped run ends at 0.6-2.0).

Run it from the repository root::

    python examples/gradient_health.py              # training: 300 steps, all 1797 digits
    python examples/gradient_health.py --quick      # training: 100 steps, 512 digits (CI)
    python examples/gradient_health.py --steps 500 --out /tmp/health
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import pathlib
import sys
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

import gradtx
import gradtx.init

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"
DEPTHS = (5, 10, 20, 40)  # the stacks of part 1
SHOW_DEPTH = 20  # whose per-layer norms are printed
WIDTH, BATCH = 32, 64
PRODUCT_DEPTHS = (10, 25, 50, 100)  # part 2
PRODUCT_WIDTH = 64
MLP_DEPTH, MLP_WIDTH = 10, 32  # part 3
LEARNING_RATE, MAX_NORM = 0.1, 1.0
TOO_LARGE = 6.0  # part 3's exploding init: weight variance TOO_LARGE / fan_in
DEFAULT_STEPS, QUICK_STEPS = 300, 100
QUICK_EXAMPLES = 512

Initializer = Callable[..., jax.Array]


def stacks() -> dict[str, tuple[Callable[[jax.Array], jax.Array], Initializer]]:
    """Part 1: (activation, weight initializer) by the name the tables print."""
    return {
        "sigmoid, N(0, 1)": (jax.nn.sigmoid, jax.nn.initializers.normal(1.0)),
        "sigmoid, N(0, 0.01^2)": (jax.nn.sigmoid, jax.nn.initializers.normal(0.01)),
        "sigmoid, xavier": (
            jax.nn.sigmoid,
            gradtx.init.xavier_normal(gradtx.init.calculate_gain("sigmoid")),
        ),
        "relu, xavier": (jax.nn.relu, gradtx.init.xavier_normal()),
        "relu, kaiming": (jax.nn.relu, gradtx.init.kaiming_normal(nonlinearity="relu")),
    }


@functools.partial(jax.jit, static_argnums=0)
def layer_gradient_norms(
    activation: Callable[[jax.Array], jax.Array],
    w: jax.Array,
    b: jax.Array,
    x: jax.Array,
    depth: jax.Array,
) -> jax.Array:
    """``||d loss / d (W_l, b_l)||`` per layer of ``h_l = activation(h_{l-1} W_l + b_l)``.

    ``w`` is ``(max_depth, n, n)`` and ``b`` is ``(max_depth, n)``; only the first
    ``depth`` layers run (the others pass ``h`` through and get zero gradients), so one
    compiled program serves every depth. The loss is the probe ``sum(h_depth) / batch`` of
    ``gradtx.init.signal_propagation``.
    """

    def probe(w, b):
        def layer(h, layer_input):
            w_l, b_l, index = layer_input
            return jnp.where(index < depth, activation(h @ w_l + b_l[None, :]), h), None

        h, _ = jax.lax.scan(layer, x, (w, b, jnp.arange(w.shape[0])))
        return jnp.sum(h) / x.shape[0]

    gw, gb = jax.grad(probe, argnums=(0, 1))(w, b)
    return jnp.sqrt(jnp.sum(gw**2, axis=(1, 2)) + jnp.sum(gb**2, axis=1))


@jax.jit
def draw_weights(key: jax.Array) -> dict[str, object]:
    """Every random weight of the three parts, drawn in one compiled program.

    ``"stacks"``: name -> ``(max(DEPTHS), WIDTH, WIDTH)`` kernels of part 1;
    ``"xavier"``: ``(max(PRODUCT_DEPTHS), n, n)`` Xavier matrices of part 2; ``"mlp"``: the
    Kaiming-initialized MLP of part 3.
    """
    k_stacks, k_xavier, k_mlp = jax.random.split(key, 3)
    keys = jax.random.split(k_stacks, max(DEPTHS))
    stacks_ = {
        name: jax.vmap(lambda k, init=init: init(k, (WIDTH, WIDTH), jnp.float32))(keys)
        for name, (_, init) in stacks().items()
    }
    n = PRODUCT_WIDTH
    xavier = jax.vmap(lambda k: gradtx.init.xavier_normal()(k, (n, n), jnp.float32))(
        jax.random.split(k_xavier, max(PRODUCT_DEPTHS))
    )
    mlp = init_params(k_mlp, gradtx.init.kaiming_normal(nonlinearity="relu"))
    return {"stacks": stacks_, "xavier": xavier, "mlp": mlp}


def vanishing(weights: dict[str, jax.Array], seed: int) -> dict[str, dict[int, np.ndarray]]:
    """Part 1: name -> depth -> the per-layer gradient norms, layer 1 first.

    Each name's stack of depth ``d`` is the first ``d`` layers of its ``weights`` (zero
    biases, as ``gradtx.init.init_mlp`` makes them); the inputs are standard normal.
    """
    x = np.random.default_rng(seed).standard_normal((BATCH, WIDTH)).astype(np.float32)
    depths = jnp.asarray(DEPTHS)
    b = jnp.zeros((max(DEPTHS), WIDTH))
    out: dict[str, dict[int, np.ndarray]] = {}
    for name, (activation, _) in stacks().items():
        norms = jax.vmap(layer_gradient_norms, in_axes=(None, None, None, None, 0))(
            activation, weights[name], b, jnp.asarray(x), depths
        )
        out[name] = {d: np.asarray(n[:d]) for d, n in zip(DEPTHS, norms, strict=True)}
    return out


def products(xavier: jax.Array, seed: int) -> dict[str, dict[int, float]]:
    """Part 2: variance name -> depth -> ||W_L ... W_1||_F / sqrt(n), in float64.

    N(0, c/n) for c = n, 2, 1/2 scale one NumPy draw; ``xavier`` are the Xavier matrices.
    """
    n, depth = PRODUCT_WIDTH, max(PRODUCT_DEPTHS)
    normal = np.random.default_rng(seed).standard_normal((depth, n, n))
    draws = {
        "N(0, 1)": normal,
        "N(0, 2/n)": np.sqrt(2 / n) * normal,
        "N(0, 1/n) = xavier": np.asarray(xavier, np.float64),
        "N(0, 1/(2n))": np.sqrt(0.5 / n) * normal,
    }
    out: dict[str, dict[int, float]] = {}
    for name, mats in draws.items():
        prod, norms = np.eye(n), {}
        for layers in range(1, depth + 1):
            prod = mats[layers - 1] @ prod
            if layers in PRODUCT_DEPTHS:
                norms[layers] = float(np.linalg.norm(prod) / np.sqrt(n))
        out[name] = norms
    return out


def course_product(seed: int) -> float:
    """The notes' example: the norm of a product of 100 random 4 x 4 N(0, 1) matrices."""
    mats = np.random.default_rng(seed).standard_normal((100, 4, 4))
    prod = np.eye(4)
    for m in mats:
        prod = m @ prod
    return float(np.linalg.norm(prod))


@dataclasses.dataclass
class Run:
    """One training run of part 3."""

    name: str
    losses: np.ndarray  # (steps + 1,): the loss before each step, then after the last
    grad_norms: np.ndarray  # (steps,): the global gradient norm at each step

    def first_non_finite(self) -> int | None:
        bad = np.flatnonzero(~np.isfinite(self.losses))
        return int(bad[0]) if bad.size else None


def load_data(examples: int | None) -> tuple[jax.Array, jax.Array]:
    """Standardized digits (constant pixels stay 0), the first ``examples`` of them."""
    x, y = load_digits(return_X_y=True)
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    x, y = x[:examples], y[:examples]
    return jnp.asarray(x, jnp.float32), jnp.asarray(y)


def init_params(key: jax.Array, init: Initializer) -> dict[str, jax.Array]:
    """The MLP of part 3: 64 inputs, MLP_DEPTH - 1 ReLU layers, 10 logits.

    The hidden layers are stacked (``lax.scan`` runs them: one small compiled program).
    """
    k_in, k_hidden, k_out = jax.random.split(key, 3)
    keys = jax.random.split(k_hidden, MLP_DEPTH - 2)
    return {
        "w_in": init(k_in, (64, MLP_WIDTH)),
        "b_in": jnp.zeros(MLP_WIDTH),
        "w_hidden": jax.vmap(lambda k: init(k, (MLP_WIDTH, MLP_WIDTH)))(keys),
        "b_hidden": jnp.zeros((MLP_DEPTH - 2, MLP_WIDTH)),
        "w_out": init(k_out, (MLP_WIDTH, 10)),
        "b_out": jnp.zeros(10),
    }


def clipping(good: dict[str, jax.Array], steps: int, examples: int | None) -> list[Run]:
    """Part 3: full-batch SGD with and without ``clip_by_global_norm``.

    ``good`` is the Kaiming-initialized MLP (:func:`init_params`).
    """
    x, y = load_data(examples)

    def loss(params):
        def layer(h, wb):
            return jax.nn.relu(h @ wb[0] + wb[1][None, :]), None

        h = jax.nn.relu(x @ params["w_in"] + params["b_in"][None, :])
        h, _ = jax.lax.scan(layer, h, (params["w_hidden"], params["b_hidden"]))
        logp = jax.nn.log_softmax(h @ params["w_out"] + params["b_out"][None, :])
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def train(params, max_norm):
        # max_norm = inf never clips: the factor min(1, max_norm / norm) is 1.
        tx = gradtx.chain(gradtx.clip_by_global_norm(max_norm), gradtx.sgd(LEARNING_RATE))

        def step(carry, _):
            params, state = carry
            value, grads = jax.value_and_grad(loss)(params)
            updates, state = tx.update(grads, state, params)
            norm = gradtx.global_norm(grads)
            return (gradtx.apply_updates(params, updates), state), (value, norm)

        (params, _), (values, norms) = jax.lax.scan(step, (params, tx.init(params)), length=steps)
        return jnp.concatenate([values, loss(params)[None]]), norms

    # Variance c/n, c = TOO_LARGE: the same network with every weight x sqrt(c / 2).
    bad = jax.tree.map(lambda w: np.sqrt(TOO_LARGE / 2) * w, good)
    train = jax.jit(train)  # compiled once: max_norm is an argument, not a constant
    runs = []
    for name, params, max_norm in [
        ("kaiming 2/n, no clipping", good, np.inf),
        (f"{TOO_LARGE:g}/n, no clipping", bad, np.inf),
        (f"{TOO_LARGE:g}/n, clip_by_global_norm({MAX_NORM:g})", bad, MAX_NORM),
    ]:
        values, norms = train(params, jnp.float32(max_norm))
        runs.append(Run(name, np.asarray(values), np.asarray(norms)))
    return runs


def ratio(norms: np.ndarray) -> float:
    """The first layer's gradient norm over the last layer's."""
    return float(norms[0] / norms[-1])


def layer_table(results: dict[str, dict[int, np.ndarray]]) -> str:
    layers = [1, 5, 10, 15, 20]
    lines = [
        f"| init (depth {SHOW_DEPTH}) | " + " | ".join(f"layer {i}" for i in layers) + " |",
        "|---|" + "---:|" * len(layers),
    ]
    for name, by_depth in results.items():
        g = by_depth[SHOW_DEPTH]
        lines.append(f"| {name} | " + " | ".join(f"{g[i - 1]:.3g}" for i in layers) + " |")
    return "\n".join(lines)


def ratio_table(results: dict[str, dict[int, np.ndarray]]) -> str:
    lines = [
        "| init | " + " | ".join(f"first/last, depth {d}" for d in DEPTHS) + " |",
        "|---|" + "---:|" * len(DEPTHS),
    ]
    for name, by_depth in results.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{ratio(by_depth[d]):.3g}" for d in DEPTHS) + " |"
        )
    return "\n".join(lines)


def product_table(results: dict[str, dict[int, float]]) -> str:
    lines = [
        "| variance | " + " | ".join(f"depth {d}" for d in PRODUCT_DEPTHS) + " |",
        "|---|" + "---:|" * len(PRODUCT_DEPTHS),
    ]
    for name, norms in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{norms[d]:.3g}" for d in PRODUCT_DEPTHS) + " |")
    return "\n".join(lines)


def run_table(runs: Sequence[Run]) -> str:
    steps = len(runs[0].grad_norms)
    lines = [
        "| run | loss at step 0 | grad norm at step 0 | max grad norm | first non-finite "
        f"step | loss after {steps} steps |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        bad = r.first_non_finite()
        finite = r.grad_norms[np.isfinite(r.grad_norms)]
        lines.append(
            f"| {r.name} | {r.losses[0]:.3g} | {r.grad_norms[0]:.3g} | {finite.max():.3g} "
            f"| {'none' if bad is None else bad} | {r.losses[-1]:.3g} |"
        )
    return "\n".join(lines)


def plot(
    stacks_: dict[str, dict[int, np.ndarray]],
    prods: dict[str, dict[int, float]],
    runs: Sequence[Run],
    path: pathlib.Path,
) -> None:
    fig = Figure(figsize=(16, 4.5), layout="constrained")  # no pyplot: renders with Agg
    ax_layer, ax_prod, ax_train = fig.subplots(1, 3)
    tiny = 1e-30  # zeros (underflow) drawn at the bottom of the log axis
    for name, by_depth in stacks_.items():
        g = by_depth[SHOW_DEPTH]
        ax_layer.semilogy(np.arange(1, SHOW_DEPTH + 1), np.maximum(g, tiny), ".-", label=name)
    ax_layer.set(
        xlabel="layer",
        ylabel="||d loss / d (W_l, b_l)||",
        title=f"part 1: per-layer gradient norm, {SHOW_DEPTH}-layer stacks",
        ylim=(tiny, None),
    )
    for name, norms in prods.items():
        depths = sorted(norms)
        ax_prod.semilogy(depths, [norms[d] for d in depths], "o-", label=name)
    ax_prod.set(
        xlabel="depth L",
        ylabel="||W_L ... W_1|| / sqrt(n)",
        title=f"part 2: products of {PRODUCT_WIDTH}x{PRODUCT_WIDTH} Gaussian matrices",
    )
    top = 1e3  # the diverging run leaves the axis: an x marks its last finite loss
    for r in runs:
        finite = np.where(np.isfinite(r.losses), r.losses, np.nan)
        ax_train.semilogy(finite, label=r.name)
        bad = r.first_non_finite()
        if bad is not None:
            ax_train.plot(bad - 1, min(finite[bad - 1], top), "kx", ms=9, clip_on=False)
    ax_train.set_ylim(None, top)
    ax_train.set(
        xlabel="step",
        ylabel="training loss",
        title=f"part 3: {MLP_DEPTH}-layer ReLU MLP, SGD {LEARNING_RATE:g} (x: diverged)",
    )
    for ax in (ax_layer, ax_prod, ax_train):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps of part 3 (default {DEFAULT_STEPS}, {QUICK_STEPS} with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"train on {QUICK_EXAMPLES} digits (CI)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the PRNG seed of the weights")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help="folder for gradient_health.png (default examples/out)",
    )
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.steps < 1:
        parser.error("--steps must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    weights = draw_weights(jax.random.key(args.seed))
    stacks_ = vanishing(weights["stacks"], args.seed)
    print(
        f"part 1: vanishing. Stacks of h = act(h W + b), width {WIDTH}, batch {BATCH}, "
        f"gradient norm of each layer's (W, b), seed {args.seed}\n"
    )
    print(layer_table(stacks_) + "\n")
    print(ratio_table(stacks_) + "\n")

    prods = products(weights["xavier"], args.seed)
    print(f"part 2: exploding. ||W_L ... W_1||_F / sqrt(n), n = {PRODUCT_WIDTH}, float64\n")
    print(product_table(prods) + "\n")
    print(
        "the notes' example: ||product of 100 random 4x4 N(0, 1) matrices|| = "
        f"{course_product(args.seed):.3g}\n"
    )

    examples = QUICK_EXAMPLES if args.quick else None
    runs = clipping(weights["mlp"], args.steps, examples)
    n = QUICK_EXAMPLES if args.quick else 1797
    print(
        f"part 3: clipping. {MLP_DEPTH}-layer ReLU MLP, width {MLP_WIDTH}, full-batch SGD "
        f"{LEARNING_RATE:g} on {n} digits, {args.steps} steps\n"
    )
    print(run_table(runs))

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gradient_health.png"
    plot(stacks_, prods, runs, path)
    print(f"\nfigure saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
