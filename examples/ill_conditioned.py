"""Training stuck is not a small gradient: a plateau in a narrow valley, and its fixes.

What it shows: the course notes' plateau lesson, measured. The valley is the quadratic

    f(x) = 1/2 (L x_1^2 + mu x_2^2),    L = 100, mu = 1e-3  (condition number 1e5),

started at x_0 = (0.01, 30): the loss f(x_0) = 0.455 sits almost all in the flat direction
x_2, while the gradient |g_0| = 1.0 comes almost all from the steep wall x_1. Exact
gradients, no noise, the same start and the same step budget for everyone:

* gradient descent (``gradtx.sgd``) at 1.99 / L, just under 2 / L, above which the steep
  coordinate diverges (a learning-rate search pushes the rate up to there). The steep coordinate is
  multiplied by 1 - 1.99 = -0.99 per step: it bounces from wall to wall and its gradient
  decays by only 1% per step, while the flat coordinate shrinks by a factor 1 - 1.99 mu / L
  = 1 - 2e-5 per step, so the loss falls by ~0.4% per 100 steps. That is the plateau:
  during steps 100-200 the loss falls by about half a percent while |g| stays above
  0.13 (14% of |g_0|, and 10^4 times what Adam's gradient is when it has converged).
  Stuck is not small gradient: the step is capped by the steepest direction, and the flat
  one starves (reaching the threshold below would take GD ~2e5 steps).
* RMS scaling (``gradtx.rmsprop``): dividing by the root mean square of each coordinate's
  gradient gives both coordinates steps of about the learning rate, whatever their
  curvature: the flat coordinate is crossed in ~100 steps. With a
  constant rate it then bounces between the walls at an amplitude ~ the rate (|g| stays
  at ~L x rate = 5 while the loss stalls at 0.125): the same lesson again.
* RMS scaling with a warmup + cosine-decay schedule
  (``gradtx.warmup_cosine_decay_schedule``): the rate ramps up from 0 over 30 steps, so
  the first steps (where RMSProp without bias correction moves each coordinate by ~3x the
  rate, and Adam by exactly the rate, whatever the gradient) do not kick the steep
  coordinate up the wall, and the decay lets the bouncing die out: it reaches the
  threshold.
* Adam (``gradtx.adam``, RMS scaling plus momentum): momentum damps the bouncing, so a
  constant rate of 1 converges fast, but its first step moves x_1 by the full rate 1, 100
  times the wall's width: the loss jumps 100-fold (to ~49) before it comes down. With the
  warmup + cosine schedule the peak stays at ~f(x_0), and it reaches the threshold a few
  dozen steps later than constant Adam (the ramp costs some steps).

The script prints, per method, the loss change and the smallest |g| during the plateau
window (steps 100-200), the steps it took to reach f < 1e-4 f(x_0), the largest loss in
the first 30 steps (the warmup's window) and the loss and |g| after the last step; it
plots loss and gradient norm per step into ``examples/out/ill_conditioned.png``.

Measured (CPU, float32, --quick = 300 steps): gradient descent lowers the loss by 0.53%
over steps 100-200 with |g| >= 0.137, and ends at 0.445 (|g| = 0.057) without reaching
the threshold; RMSProp at 0.1 ends at loss 0.126 with |g| = 5; RMSProp + warmup-cosine
reaches the threshold at step 269, Adam at step 93 (after a peak loss of 49.4), Adam +
warmup-cosine at step 106 (peak 0.476). With the default 1000 steps the cosine decays
more slowly: RMSProp + warmup-cosine reaches it at 939, Adam + warmup-cosine at 131.

Run it from the repository root::

    python examples/ill_conditioned.py              # 1000 steps
    python examples/ill_conditioned.py --quick      # 300 steps (CI smoke test)
    python examples/ill_conditioned.py --steps 2000 --out /tmp/valley
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
from matplotlib.figure import Figure

import gradtx

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"
DEFAULT_STEPS = 1000
QUICK_STEPS = 300
CURVATURES = (100.0, 1e-3)  # L (the steep wall) and mu (the valley floor)
X_START = (0.01, 30.0)
THRESHOLD = 1e-4  # "reached": f(x_t) < THRESHOLD * f(x_0)
PLATEAU = (100, 200)  # the window where the plateau is measured
WARMUP = 30  # warmup steps of the schedules, and the window of the "peak loss" column


def loss(x: jax.Array) -> jax.Array:
    """f(x) = 1/2 sum_i lambda_i x_i^2 with lambda = CURVATURES."""
    return 0.5 * jnp.sum(jnp.asarray(CURVATURES, x.dtype) * x * x)


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    learning_rate: str  # as the table prints it
    tx: gradtx.GradientTransformation


def methods(steps: int) -> list[Method]:
    """The optimizers compared; the schedules decay to 0 over the whole budget."""
    big = max(CURVATURES)
    gd_lr = 1.99 / big  # just under the stability limit 2 / L

    def warmup_cosine(peak: float) -> gradtx.Schedule:
        return gradtx.warmup_cosine_decay_schedule(0.0, peak, WARMUP, steps)

    return [
        Method("gradient descent", f"{gd_lr:.4g} (1.99/L)", gradtx.sgd(gd_lr)),
        Method("rmsprop", "0.1", gradtx.rmsprop(0.1)),
        Method(
            "rmsprop + warmup-cosine",
            f"0 -> 0.3 -> 0 (warmup {WARMUP})",
            gradtx.rmsprop(warmup_cosine(0.3)),
        ),
        Method("adam", "1", gradtx.adam(1.0)),
        Method(
            "adam + warmup-cosine",
            f"0 -> 1 -> 0 (warmup {WARMUP})",
            gradtx.adam(warmup_cosine(1.0)),
        ),
    ]


@dataclasses.dataclass
class Curve:
    """One method's loss f(x_t) and gradient norm |g_t| for t = 0..steps."""

    method: Method
    losses: np.ndarray  # (steps + 1,)
    grad_norms: np.ndarray  # (steps + 1,)

    def steps_to(self, level: float) -> int | None:
        """The first step t with f(x_t) < level, or None."""
        hits = np.flatnonzero(self.losses < level)
        return int(hits[0]) if hits.size else None

    def plateau_change(self) -> float:
        """The relative loss decrease over the PLATEAU window, (f_a - f_b) / f_a."""
        a, b = PLATEAU
        return float((self.losses[a] - self.losses[b]) / self.losses[a])

    def plateau_min_grad(self) -> float:
        """The smallest |g_t| in the PLATEAU window."""
        a, b = PLATEAU
        return float(self.grad_norms[a : b + 1].min())

    def peak_loss(self) -> float:
        """The largest loss in the first WARMUP steps."""
        return float(self.losses[: WARMUP + 1].max())


def run(method: Method, x0: jax.Array, steps: int) -> Curve:
    """``steps`` exact-gradient updates from ``x0``, as one jitted ``lax.scan``."""
    tx = method.tx

    def step(carry, _):
        x, state = carry
        value, grad = jax.value_and_grad(loss)(x)
        updates, state = tx.update(grad, state, x)
        return (gradtx.apply_updates(x, updates), state), (value, jnp.linalg.norm(grad))

    @jax.jit
    def trajectory(x0):
        (x, _), (values, norms) = jax.lax.scan(step, (x0, tx.init(x0)), length=steps)
        value, grad = jax.value_and_grad(loss)(x)
        values = jnp.concatenate([values, value[None]])
        return values, jnp.concatenate([norms, jnp.linalg.norm(grad)[None]])

    values, norms = trajectory(x0)
    return Curve(method, np.asarray(values), np.asarray(norms))


def markdown_table(curves: Sequence[Curve]) -> str:
    steps = len(curves[0].losses) - 1
    f0 = curves[0].losses[0]
    a, b = PLATEAU
    lines = [
        f"| method | learning rate | loss change, steps {a}-{b} | min grad norm, steps {a}-{b} "
        f"| steps to f < {THRESHOLD:g} f0 | peak f, steps 0-{WARMUP} | f after {steps} "
        f"| grad norm after {steps} |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in curves:
        hit = c.steps_to(THRESHOLD * f0)
        reached = str(hit) if hit is not None else f"not in {steps}"
        lines.append(
            f"| {c.method.name} | {c.method.learning_rate} | {-100 * c.plateau_change():.3g}% "
            f"| {c.plateau_min_grad():.3g} | {reached} | {c.peak_loss():.3g} "
            f"| {c.losses[-1]:.3g} | {c.grad_norms[-1]:.3g} |"
        )
    return "\n".join(lines)


def lesson(gd: Curve) -> str:
    """The plateau in one sentence, with gradient descent's numbers."""
    a, b = PLATEAU
    g0 = gd.grad_norms[0]
    g = gd.plateau_min_grad()
    return (
        f"{gd.method.name}, steps {a}-{b}: the gradient norm stays >= {g:.3g} "
        f"({100 * g / g0:.0f}% of its initial {g0:.3g}: not small) while the loss falls by "
        f"{100 * gd.plateau_change():.2g}% per {b - a} steps (f = {gd.losses[a]:.4g} -> "
        f"{gd.losses[b]:.4g})"
    )


def plot(curves: Sequence[Curve], path: pathlib.Path) -> None:
    """Left: the loss per step. Right: the gradient norm per step."""
    fig = Figure(figsize=(12, 4.5), layout="constrained")  # no pyplot: renders with Agg
    ax_f, ax_g = fig.subplots(1, 2)
    f0 = curves[0].losses[0]
    for c in curves:
        (line,) = ax_f.semilogy(c.losses, lw=1.2, label=c.method.name)
        ax_g.semilogy(c.grad_norms, lw=1.2, color=line.get_color(), label=c.method.name)
    for ax in (ax_f, ax_g):
        ax.axvspan(*PLATEAU, color="grey", alpha=0.15, lw=0, label="plateau window")
        ax.set(xlabel="step", ylim=(1e-12, None))
        ax.grid(True, alpha=0.3)
    ax_f.axhline(THRESHOLD * f0, color="grey", ls="--", lw=0.8)
    ax_f.set(ylabel="f(x_t)", title="loss")
    ax_g.set(ylabel="||grad f(x_t)||", title="gradient norm")
    ax_f.legend(fontsize=8)
    lo, hi = CURVATURES
    fig.suptitle(
        f"f(x) = 1/2 ({lo:g} x1^2 + {hi:g} x2^2), condition number {lo / hi:.0e}: "
        "the plateau keeps a large gradient"
    )
    fig.savefig(path, dpi=110)


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
        help="folder for ill_conditioned.png (default examples/out)",
    )
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.steps < PLATEAU[1]:
        parser.error(f"--steps must be at least {PLATEAU[1]} (the end of the plateau window)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    x0 = jnp.asarray(X_START, jnp.float32)
    g0 = float(jnp.linalg.norm(jax.grad(loss)(x0)))
    print(
        f"f(x) = 1/2 (L x1^2 + mu x2^2), (L, mu) = {CURVATURES}, start {X_START}, "
        f"f(x0) = {float(loss(x0)):.4g}, gradient norm {g0:.4g}, {args.steps} steps\n"
    )
    curves = [run(m, x0, args.steps) for m in methods(args.steps)]
    print(markdown_table(curves))
    print("\n" + lesson(curves[0]))

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "ill_conditioned.png"
    plot(curves, path)
    print(f"\nfigure saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
