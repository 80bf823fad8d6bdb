"""Paths of gradient descent, momentum, Nesterov, Adam, Newton and L-BFGS down a narrow valley.

What it shows: the geometry behind the course notes' update rules, on

    f(x) = 1/2 x^T P x + q^T x,    P = R diag(1, 30) R^T  (R a 30 degree rotation),

whose minimum x* = -P^{-1} q sits at the bottom of a long, narrow valley (condition number 30).
Exact gradients, no noise, the same start for everyone:

* gradient descent (``gradtx.sgd``) with the classic step 1/L (L = 30, the largest
  curvature): one step takes it down to the valley floor, then it crawls along the floor,
  where the curvature is 30 times smaller and so is its progress;
* momentum 0.9 at the same step: the velocity builds up along the floor (up to 1/(1 - 0.9)
  = 10 times the step) while the particle sloshes from wall to wall;
* Nesterov momentum: the gradient is taken at the look-ahead point, so the velocity is
  corrected before it overshoots: it rides the floor and converges fastest;
* Adam (learning rate 0.3): per-coordinate step sizes; its first steps have the size of the
  learning rate whatever the gradient (a sign-like move at 45 degrees), and its diagonal
  scaling cannot straighten a valley that is rotated away from the axes.
* Newton's method (``gradtx.second_order.newton``): the step -P^{-1} g uses the curvature
  itself, so on a quadratic it lands on x* in one step, whatever the conditioning;
* L-BFGS (``gradtx.lbfgs``, optax's names) builds the curvature from the last gradient
  differences and picks each step by a strong-Wolfe line search: in two dimensions it
  has the whole Hessian after two steps and lands on x* soon after.

The script draws the paths on the contour plot of f, with the gap f(x_t) - f* per step, into
``examples/out/quadratic_paths.png`` and prints, per method, the steps it took to reach
f - f* < 1e-6 and the gap after the last step.

Run it from the repository root::

    python examples/quadratic_paths.py               # 300 steps
    python examples/quadratic_paths.py --quick       # 100 steps (CI smoke test)
    python examples/quadratic_paths.py --steps 1000 --out /tmp/paths
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

import gradtx

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"
DEFAULT_STEPS = 300
QUICK_STEPS = 100
TOLERANCE = 1e-6
EIGENVALUES = (1.0, 30.0)  # mu and L: condition number 30
ANGLE_DEG = 30.0
X_STAR = (1.0, 1.0)
X_START = (-2.8, -0.5)


@dataclasses.dataclass(frozen=True)
class Quadratic:
    """f(x) = 1/2 x^T P x + q^T x with P symmetric positive definite."""

    P: jax.Array
    q: jax.Array

    @property
    def minimizer(self) -> jax.Array:
        return -jnp.linalg.solve(self.P, self.q)

    def __call__(self, x: jax.Array) -> jax.Array:
        return 0.5 * x @ self.P @ x + self.q @ x

    def gap(self, x: jax.Array) -> jax.Array:
        """f(x) - f*, computed as 1/2 (x - x*)^T P (x - x*): no cancellation near x*."""
        d = x - self.minimizer
        return 0.5 * d @ self.P @ d


def make_problem() -> Quadratic:
    """The rotated valley: eigenvalues EIGENVALUES, minimum at X_STAR."""
    theta = np.deg2rad(ANGLE_DEG)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    P = rotation @ np.diag(EIGENVALUES) @ rotation.T
    q = -P @ np.asarray(X_STAR)
    return Quadratic(jnp.asarray(P, jnp.float32), jnp.asarray(q, jnp.float32))


def methods() -> dict[str, gradtx.GradientTransformation]:
    """The optimizers compared; the first three share the step 1/L; Newton uses the Hessian."""
    step = 1.0 / max(EIGENVALUES)
    return {
        "gradient descent": gradtx.sgd(step),
        "momentum 0.9": gradtx.sgd(step, momentum=0.9),
        "nesterov 0.9": gradtx.sgd(step, momentum=0.9, nesterov=True),
        "adam": gradtx.adam(0.3),
        "newton": gradtx.second_order.newton(),
        "l-bfgs": gradtx.lbfgs(),
    }


@dataclasses.dataclass
class Path:
    """One method's iterates x_0..x_N and gaps f(x_t) - f*."""

    name: str
    learning_rate: float | None  # None: the step comes from a line search
    xs: np.ndarray  # (N + 1, 2)
    gaps: np.ndarray  # (N + 1,)

    def steps_to(self, tolerance: float) -> int | None:
        """The first step t with f(x_t) - f* < tolerance, or None."""
        hits = np.flatnonzero(self.gaps < tolerance)
        return int(hits[0]) if hits.size else None


def run(
    name: str, tx: gradtx.GradientTransformation, f: Quadratic, x0: jax.Array, steps: int
) -> Path:
    """``steps`` exact-gradient updates from ``x0``, as one jitted ``lax.scan``.

    The objective goes along as ``value_fn=`` with its ``value`` and ``grad`` at ``x``
    (Newton and L-BFGS read them, as in optax's L-BFGS loop; the others ignore them).
    """

    def step(carry, _):
        x, state = carry
        value, grad = jax.value_and_grad(f)(x)
        updates, state = tx.update(grad, state, x, value=value, grad=grad, value_fn=f)
        x = gradtx.apply_updates(x, updates)
        return (x, state), x

    @jax.jit
    def trajectory(x0):
        _, xs = jax.lax.scan(step, (x0, tx.init(x0)), length=steps)
        xs = jnp.concatenate([x0[None], xs])
        return xs, jax.vmap(f.gap)(xs)

    xs, gaps = trajectory(x0)
    try:
        lr = float(gradtx.hyperparams(tx.init(x0))["learning_rate"])
    except ValueError:  # lbfgs keeps no learning rate: its line search picks each step
        lr = None
    return Path(name, lr, np.asarray(xs), np.asarray(gaps))


def markdown_table(paths: Sequence[Path], tolerance: float) -> str:
    steps = len(paths[0].gaps) - 1
    lines = [
        f"| method | learning rate | steps to f - f* < {tolerance:g} "
        f"| f - f* after {steps} steps |",
        "|---|---:|---:|---:|",
    ]
    for p in paths:
        hit = p.steps_to(tolerance)
        reached = str(hit) if hit is not None else f"not in {steps}"
        lr = "line search" if p.learning_rate is None else f"{p.learning_rate:.4g}"
        lines.append(f"| {p.name} | {lr} | {reached} | {p.gaps[-1]:.3g} |")
    return "\n".join(lines)


def plot(f: Quadratic, paths: Sequence[Path], path: pathlib.Path) -> None:
    """Left: the paths on log-spaced contours of f - f*. Right: f - f* per step."""
    fig = Figure(figsize=(12, 5), layout="constrained")  # no pyplot: renders with Agg
    ax_paths, ax_gap = fig.subplots(1, 2, width_ratios=(1.15, 1))

    points = np.concatenate([p.xs for p in paths])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.15 * (hi - lo).max()
    u = np.linspace(lo[0] - pad, hi[0] + pad, 300)
    v = np.linspace(lo[1] - pad, hi[1] + pad, 300)
    grid = jnp.asarray(np.stack(np.meshgrid(u, v), axis=-1), jnp.float32)
    gaps = np.asarray(jax.vmap(jax.vmap(f.gap))(grid))
    levels = np.logspace(-3, np.log10(gaps.max()), 18)
    ax_paths.contour(u, v, gaps, levels=levels, norm=LogNorm(), cmap="Greys", linewidths=0.7)

    for p in paths:
        (line,) = ax_paths.plot(p.xs[:, 0], p.xs[:, 1], ".-", ms=3, lw=1, label=p.name)
        ax_gap.semilogy(np.maximum(p.gaps, 1e-16), color=line.get_color(), label=p.name)
    x_star = np.asarray(f.minimizer)
    ax_paths.plot(*paths[0].xs[0], "ko", ms=6)
    ax_paths.annotate("start", paths[0].xs[0], textcoords="offset points", xytext=(6, 6))
    ax_paths.plot(*x_star, "k*", ms=14, label="minimum x*")
    ax_paths.set(
        xlabel="x1",
        ylabel="x2",
        aspect="equal",
        title=f"paths on f = 1/2 x'Px + q'x (condition number "
        f"{max(EIGENVALUES) / min(EIGENVALUES):.0f})",
    )
    ax_paths.legend(loc="lower right", fontsize=8)

    ax_gap.axhline(TOLERANCE, color="grey", ls="--", lw=0.8)
    ax_gap.set(xlabel="step", ylabel="f(x_t) - f*", title="optimality gap", ylim=(1e-14, None))
    ax_gap.grid(True, alpha=0.3)
    ax_gap.legend(fontsize=8)
    fig.savefig(path, dpi=120)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"updates per method (default {DEFAULT_STEPS}, {QUICK_STEPS} with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="a short run for smoke tests")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help="folder for quadratic_paths.png (default examples/out)",
    )
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.steps < 1:
        parser.error("--steps must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    f = make_problem()
    x0 = jnp.asarray(X_START, jnp.float32)
    print(
        f"f(x) = 1/2 x'Px + q'x, eigenvalues of P {EIGENVALUES}, x* = {X_STAR}, "
        f"start {X_START}, f(x0) - f* = {float(f.gap(x0)):.4g}\n"
    )
    paths = [run(name, tx, f, x0, args.steps) for name, tx in methods().items()]
    print(markdown_table(paths, TOLERANCE))

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "quadratic_paths.png"
    plot(f, paths, path)
    print(f"\nfigure saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
