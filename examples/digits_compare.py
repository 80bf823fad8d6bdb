"""The three ``--compare`` experiments of ``examples/train_digits.py``.

``python examples/train_digits.py --compare batch-size | optimizers | lr-decay`` runs one of
them; ``train_digits.py``'s docstring describes what each shows. This module holds the
experiments themselves; the data, the network, the loss and the per-epoch training step come
from ``train_digits.py``.

Every run starts from the same He-initialized weights and sees the same shuffled batches
for a given ``--seed``, so the runs of one experiment differ only in what is compared.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from train_digits import Data, Params, evaluate, he_init, loss_fn, make_epoch

import gradtx

# A training run is judged by the full training set's loss; "reached" means at or below this.
LOSS_THRESHOLD = 0.1


class History(NamedTuple):
    """Per-epoch records of one training run (arrays with a leading epoch axis).

    Attributes:
      train_loss: the whole training set's cross-entropy after each epoch.
      train_acc: the training accuracy after each epoch.
      test_acc: the test accuracy after each epoch.
      learning_rate: the rate the epoch's last update used, read from the optimizer state
        with ``gradtx.hyperparams``.
    """

    train_loss: jax.Array
    train_acc: jax.Array
    test_acc: jax.Array
    learning_rate: jax.Array


EvalParams = Callable[[gradtx.OptState, Params], Params]
Run = Callable[[gradtx.OptState, Params, jax.Array, tuple[jax.Array, ...]], tuple[Params, History]]


def starting_point(seed: int, epochs: int) -> tuple[Params, jax.Array]:
    """The initial weights and the per-epoch shuffling keys, as in ``train_digits.train``."""
    init_key, shuffle_key = jax.random.split(jax.random.key(seed))
    return he_init(init_key), jax.random.split(shuffle_key, epochs)


@functools.partial(jax.jit, static_argnums=1)
def shuffled_orders(keys: jax.Array, n: int) -> jax.Array:
    """Each epoch's order of the ``n`` training examples (shape ``(epochs, n)``): the
    permutations ``make_epoch`` draws from the same keys, drawn once outside the training
    programs (a sort in every program would only add to its compile time)."""
    return jax.vmap(lambda key: jax.random.permutation(key, n))(keys)


def arrays(data: Data) -> tuple[jax.Array, ...]:
    """The data as arguments of a jitted run (not constants baked into the program)."""
    return data.x_train, data.y_train, data.x_test, data.y_test


def epochs_to(losses: Sequence[float], threshold: float = LOSS_THRESHOLD) -> int | None:
    """The first epoch (counted from 1) whose loss is at or below ``threshold``, or None."""
    for epoch, loss in enumerate(losses, start=1):
        if loss <= threshold:
            return epoch
    return None


def make_run(
    tx: gradtx.GradientTransformation, batch_size: int, eval_params: EvalParams | None = None
) -> Run:
    """A pure ``run(opt_state, params, orders, arrays) -> (params, History)``: a whole training.

    One ``lax.scan`` over the epochs (one row of ``orders`` each, see
    :func:`shuffled_orders`) of a ``lax.scan`` over that order's mini-batches (the
    ``len(x) // batch_size`` full ones); after each epoch the network is evaluated on the
    whole training and test sets, at ``eval_params(opt_state, params)`` if given
    (schedule-free optimizers evaluate at their averaged point).
    """

    def run(opt_state, params, orders, arrays):
        x, y, x_test, y_test = arrays
        n_batches = x.shape[0] // batch_size

        def step(carry, batch):
            params, opt_state = carry
            grads = jax.grad(loss_fn)(params, *batch)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (gradtx.apply_updates(params, updates), opt_state), None

        def epoch(carry, order):
            order = order[: n_batches * batch_size]
            batches = (
                x[order].reshape(n_batches, batch_size, -1),
                y[order].reshape(n_batches, batch_size),
            )
            (params, opt_state), _ = jax.lax.scan(step, carry, batches)
            at = params if eval_params is None else eval_params(opt_state, params)
            train_loss, train_acc = evaluate(at, x, y)
            _, test_acc = evaluate(at, x_test, y_test)
            lr = gradtx.hyperparams(opt_state)["learning_rate"]
            return (params, opt_state), History(train_loss, train_acc, test_acc, lr)

        (params, _), history = jax.lax.scan(epoch, (params, opt_state), orders)
        return params, history

    return run


def _log_axes(ax, xlabel: str, title: str) -> None:
    ax.set(yscale="log", xlabel=xlabel, ylabel="training loss (cross-entropy)", title=title)
    ax.grid(True, alpha=0.3)


# --- batch size ------------------------------------------------------------------------------


@dataclasses.dataclass
class BatchSizeRun:
    """One batch size's run: losses per epoch and the time each epoch took."""

    batch_size: int
    steps_per_epoch: int
    full_batch: bool
    loss: list[float]  # training loss at initialization, then after each epoch
    test_acc: float
    compile_seconds: float  # compiling the epoch, timed on its own
    epoch_seconds: list[float]  # each epoch's run time, compilation excluded

    @property
    def seconds_per_epoch(self) -> float:
        """The fastest epoch's time: the epochs do the same work, so the slower ones measure
        other processes taking the CPU (timeit's rule: report the minimum)."""
        return float(np.min(self.epoch_seconds))

    @property
    def seconds_to_threshold(self) -> float | None:
        """Run time (compilation excluded) until the loss first reaches LOSS_THRESHOLD."""
        epoch = epochs_to(self.loss[1:])
        return None if epoch is None else float(np.sum(self.epoch_seconds[:epoch]))


def batch_size_optimizer() -> gradtx.GradientTransformation:
    """Adam at 1e-3 for every batch size (see train_digits.py's docstring for why)."""
    return gradtx.adam(1e-3)


def compare_batch_sizes(
    data: Data, *, epochs: int, seed: int, batch_sizes: Sequence[int | None] = (8, 64, 128, None)
) -> list[BatchSizeRun]:
    """Train with each batch size (None: the full batch) and time every epoch.

    Each epoch is ``train_digits.make_epoch``'s jitted scan over the batches. It is compiled
    ahead of time (``.lower(...).compile()``, timed as ``compile_seconds``) and called once
    untimed to warm up, so the epoch times are pure run time. The losses are evaluated
    between epochs, outside the timing.
    """
    n_train = data.x_train.shape[0]
    runs = []
    for size in batch_sizes:
        batch_size = n_train if size is None else size
        params, keys = starting_point(seed, epochs)
        tx = batch_size_optimizer()
        opt_state = tx.init(params)
        start = time.perf_counter()
        epoch_fn = make_epoch(tx, data.x_train, data.y_train, batch_size)
        epoch_fn = epoch_fn.lower(params, opt_state, keys[0]).compile()
        compile_seconds = time.perf_counter() - start
        jax.block_until_ready(epoch_fn(params, opt_state, keys[0]))  # warm-up, discarded
        loss = [float(evaluate(params, data.x_train, data.y_train)[0])]
        seconds = []
        for key in keys:
            start = time.perf_counter()
            params, opt_state, _ = jax.block_until_ready(epoch_fn(params, opt_state, key))
            seconds.append(time.perf_counter() - start)
            loss.append(float(evaluate(params, data.x_train, data.y_train)[0]))
        runs.append(
            BatchSizeRun(
                batch_size=batch_size,
                steps_per_epoch=n_train // batch_size,
                full_batch=size is None,
                loss=loss,
                test_acc=float(evaluate(params, data.x_test, data.y_test)[1]),
                compile_seconds=compile_seconds,
                epoch_seconds=seconds,
            )
        )
    return runs


def _batch_label(run: BatchSizeRun) -> str:
    return f"{run.batch_size} (full)" if run.full_batch else str(run.batch_size)


def batch_size_table(runs: Sequence[BatchSizeRun]) -> str:
    """One row per batch size."""
    lines = [
        f"| batch size | steps/epoch | final loss | test acc | ms/epoch | compile s "
        f"| epochs to loss {LOSS_THRESHOLD:g} | ms to loss {LOSS_THRESHOLD:g} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        n_epochs = epochs_to(r.loss[1:])
        reached = r.seconds_to_threshold
        lines.append(
            f"| {_batch_label(r)} | {r.steps_per_epoch} | {r.loss[-1]:.4f} | {r.test_acc:.3f} "
            f"| {1e3 * r.seconds_per_epoch:.2f} | {r.compile_seconds:.2f} "
            f"| {'not reached' if n_epochs is None else n_epochs} "
            f"| {'not reached' if reached is None else f'{1e3 * reached:.1f}'} |"
        )
    return "\n".join(lines)


def plot_batch_sizes(runs: Sequence[BatchSizeRun], path: pathlib.Path) -> None:
    """Loss against epochs and against run time (compilation excluded)."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_epoch, ax_time = fig.subplots(1, 2)
    for r in runs:
        label = f"batch {_batch_label(r)}"
        ax_epoch.plot(np.arange(len(r.loss)), r.loss, marker=".", label=label)
        ax_time.plot(
            np.concatenate([[0.0], np.cumsum(r.epoch_seconds)]), r.loss, marker=".", label=label
        )
    _log_axes(ax_epoch, "epoch", "loss per epoch")
    _log_axes(ax_time, "seconds (compilation excluded)", "loss per second of training")
    for ax in (ax_epoch, ax_time):
        ax.axhline(LOSS_THRESHOLD, color="gray", lw=0.8, ls=":")
    ax_time.legend(loc="upper right")
    fig.suptitle("Adam 1e-3 on digits: batch size trades updates per epoch for vectorization")
    fig.savefig(path, dpi=120)


# --- optimizers ------------------------------------------------------------------------------


class Candidate(NamedTuple):
    """An optimizer of the comparison: built once, its learning rate set in the state."""

    tx: gradtx.GradientTransformation
    eval_params: EvalParams | None = None


def candidates() -> dict[str, Candidate]:
    """The optimizers compared. The 1e-3 they are built with is a placeholder: every run
    sets its own rate in the state with ``gradtx.set_hyperparams``."""
    return {
        "sgd": Candidate(gradtx.sgd(1e-3)),
        "momentum 0.9": Candidate(gradtx.sgd(1e-3, momentum=0.9)),
        "nesterov 0.9": Candidate(gradtx.sgd(1e-3, momentum=0.9, nesterov=True)),
        "rmsprop": Candidate(gradtx.rmsprop(1e-3)),
        "adam": Candidate(gradtx.adam(1e-3)),
        # Defazio et al. 2024 (arXiv:2405.15682): no schedule; evaluate at the average.
        "schedule-free adamw": Candidate(
            gradtx.schedule_free_adamw(1e-3), gradtx.schedule_free_eval_params
        ),
    }


def learning_rate_grid(quick: bool) -> np.ndarray:
    """Log grid 1e-4 ... 10^0.5: half decades (10 rates) quick, quarter decades (19) else."""
    per_decade = 2 if quick else 4
    return 10.0 ** (np.arange(-4 * per_decade, per_decade // 2 + 1) / per_decade)


@dataclasses.dataclass
class Sweep:
    """One optimizer's learning-rate sweep: K runs, one compiled program."""

    name: str
    learning_rates: np.ndarray  # (K,)
    initial_loss: float
    history: History  # NumPy arrays of shape (K, epochs)
    traces: int  # how many times the training function was traced: 1 = one program
    program: Callable  # the jitted, vmapped sweep (its cache holds one compiled program)

    @property
    def final_loss(self) -> np.ndarray:
        """Each rate's final training loss; a diverged (NaN) run counts as +inf."""
        final = self.history.train_loss[:, -1]
        return np.where(np.isfinite(final), final, np.inf)

    @property
    def best(self) -> int:
        """The index of the rate with the lowest final training loss."""
        return int(np.argmin(self.final_loss))

    @property
    def best_lr(self) -> float:
        return float(self.learning_rates[self.best])

    def best_run(self) -> History:
        """The run with the best rate: the sweep's column (the same init and batches as
        a separate run with that rate, which reproduces it; the tests check)."""
        return History(*(np.asarray(field[self.best]) for field in self.history))


def sweep(
    name: str,
    candidate: Candidate,
    learning_rates: np.ndarray,
    data: Data,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
) -> Sweep:
    """Train K copies of the network, one per learning rate, in one jitted program.

    The optimizer is built once; ``train_with(lr)`` initializes its state and sets the
    learning rate in it (``gradtx.set_hyperparams``), then trains. ``jax.vmap`` over ``lr``
    turns the K trainings into one program, compiled once by ``jax.jit``: every copy starts
    from the same weights and sees the same batches.
    """
    params, keys = starting_point(seed, epochs)
    orders = shuffled_orders(keys, data.x_train.shape[0])
    run = make_run(candidate.tx, batch_size, candidate.eval_params)
    traces = 0

    def train_with(lr, params, orders, arrays):
        nonlocal traces
        traces += 1  # runs while tracing only: counts the programs built
        opt_state = gradtx.set_hyperparams(candidate.tx.init(params), learning_rate=lr)
        return run(opt_state, params, orders, arrays)[1]

    program = jax.jit(jax.vmap(train_with, in_axes=(0, None, None, None)))
    lrs = jnp.asarray(np.asarray(learning_rates, np.float32))  # converted on the host
    history = program(lrs, params, orders, arrays(data))
    return Sweep(
        name=name,
        learning_rates=np.asarray(learning_rates, np.float64),
        initial_loss=float(evaluate(params, data.x_train, data.y_train)[0]),
        history=History(*(np.asarray(field) for field in history)),
        traces=traces,
        program=program,
    )


def compare_optimizers(
    data: Data, *, epochs: int, batch_size: int, seed: int, quick: bool
) -> list[Sweep]:
    """Sweep every candidate over the learning-rate grid."""
    grid = learning_rate_grid(quick)
    return [
        sweep(name, candidate, grid, data, epochs=epochs, batch_size=batch_size, seed=seed)
        for name, candidate in candidates().items()
    ]


def sweep_table(sweeps: Sequence[Sweep]) -> str:
    """Final training loss for each learning rate (rows) and optimizer (columns); the best
    rate of each optimizer in bold."""
    lines = [
        "| learning rate | " + " | ".join(s.name for s in sweeps) + " |",
        "|---:|" + "---:|" * len(sweeps),
    ]
    for i, lr in enumerate(sweeps[0].learning_rates):
        cells = []
        for s in sweeps:
            loss = s.history.train_loss[i, -1]
            # max(.., 0.0): a float32 cross-entropy of ~1e-8 can round to -0.0
            text = "diverged" if not np.isfinite(loss) else f"{max(loss, 0.0):.3g}"
            cells.append(f"**{text}**" if i == s.best else text)
        lines.append(f"| {lr:.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def optimizer_table(sweeps: Sequence[Sweep]) -> str:
    """One row per optimizer, trained with its best rate."""
    lines = [
        f"| optimizer | best learning rate | train loss | train acc | test acc "
        f"| epochs to loss {LOSS_THRESHOLD:g} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in sweeps:
        h = s.best_run()
        n_epochs = epochs_to(h.train_loss)
        lines.append(
            f"| {s.name} | {s.best_lr:.3g} | {max(h.train_loss[-1], 0.0):.3g} "
            f"| {h.train_acc[-1]:.3f} "
            f"| {h.test_acc[-1]:.3f} | {'not reached' if n_epochs is None else n_epochs} |"
        )
    return "\n".join(lines)


def plot_optimizers(sweeps: Sequence[Sweep], path: pathlib.Path) -> None:
    """The sweeps (final loss against learning rate) and the best runs' loss curves."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_sweep, ax_curves = fig.subplots(1, 2)
    for s in sweeps:
        (line,) = ax_sweep.plot(
            s.learning_rates, np.minimum(s.final_loss, 10.0), marker=".", label=s.name
        )
        ax_sweep.plot(s.best_lr, s.final_loss[s.best], marker="*", ms=12, color=line.get_color())
        curve = np.concatenate([[s.initial_loss], s.best_run().train_loss])
        ax_curves.plot(np.arange(len(curve)), curve, label=f"{s.name} (lr {s.best_lr:.2g})")
    _log_axes(ax_sweep, "learning rate", "sweep: final loss (star: best)")
    ax_sweep.set_xscale("log")
    _log_axes(ax_curves, "epoch", "each optimizer at its best rate")
    ax_curves.legend(loc="lower left", fontsize="small")
    fig.suptitle("Optimizers on digits, learning rates tuned by one vmapped sweep each")
    fig.savefig(path, dpi=120)


# --- learning-rate decay ---------------------------------------------------------------------

# Adam's initial rate for the decay comparison: above the best constant rate for a short run,
# so that decay has something to fix at the end (see train_digits.py's docstring).
DECAY_LR = 3e-2
INVERSE_TIME_RATES = (1.0, 0.1)
EXPONENTIAL_RATE = 0.9
WSD_WARMUP, WSD_DECAY = (
    0.1,
    0.2,
)  # fractions of the run: warmup, then (after the stable phase) decay


class Decay(NamedTuple):
    """A schedule of the comparison and the formula its table row prints."""

    schedule: gradtx.Schedule
    formula: str


def decay_schedules(lr: float, steps_per_epoch: int, epochs: int) -> dict[str, Decay]:
    """The schedules compared. The first three are functions of the epoch (as in the notes),
    made step schedules with ``per_epoch``; cosine and warmup-stable-decay follow the step."""
    s = gradtx.schedules
    total = steps_per_epoch * epochs
    warmup, decay = round(WSD_WARMUP * total), round(WSD_DECAY * total)
    k1, k2 = INVERSE_TIME_RATES
    r = EXPONENTIAL_RATE
    return {
        "constant": Decay(s.constant_schedule(lr), "a0"),
        f"inverse-time {k1:g}": Decay(
            s.per_epoch(s.inverse_time_decay(lr, k1), steps_per_epoch), f"a0 / (1 + {k1:g} epoch)"
        ),
        f"inverse-time {k2:g}": Decay(
            s.per_epoch(s.inverse_time_decay(lr, k2), steps_per_epoch), f"a0 / (1 + {k2:g} epoch)"
        ),
        f"exponential {r:g}": Decay(
            s.per_epoch(s.exponential_decay(lr, 1, r), steps_per_epoch), f"a0 {r:g}^epoch"
        ),
        "cosine": Decay(s.cosine_decay_schedule(lr, total), "a0 (1 + cos(pi t / T)) / 2"),
        "warmup-stable-decay": Decay(
            s.warmup_stable_decay_schedule(lr, warmup, total - warmup - decay, decay),
            f"0 -> a0 in {warmup} steps, a0, -> 0 in the last {decay}",
        ),
    }


@dataclasses.dataclass
class DecayRun:
    """One schedule's run."""

    name: str
    formula: str
    initial_loss: float
    history: History  # NumPy arrays of shape (epochs,)
    schedule_values: np.ndarray  # the schedule at every step of the run (for the plot)


def compare_lr_decay(data: Data, *, epochs: int, batch_size: int, seed: int) -> list[DecayRun]:
    """Train Adam with each schedule from the same weights on the same batches.

    The runs differ only in their schedule, so they share one program: ``train_with(i)``
    builds ``gradtx.adam`` with a schedule that is the i-th one (``lax.switch`` on ``i``),
    and ``jax.vmap`` over ``i`` runs all of them at once (one compilation instead of one
    per schedule). Each run's optimizer evaluates its schedule at its own step count and
    records the rate it used in its state.
    """
    steps_per_epoch = data.x_train.shape[0] // batch_size
    decays = decay_schedules(DECAY_LR, steps_per_epoch, epochs)
    branches = [
        lambda count, f=d.schedule: jnp.asarray(f(count), jnp.float32) for d in decays.values()
    ]
    params, keys = starting_point(seed, epochs)
    orders = shuffled_orders(keys, data.x_train.shape[0])

    def train_with(index, params, orders, arrays):
        tx = gradtx.adam(lambda count: jax.lax.switch(index, branches, count))
        return make_run(tx, batch_size)(tx.init(params), params, orders, arrays)[1]

    program = jax.jit(jax.vmap(train_with, in_axes=(0, None, None, None)))
    history = program(jnp.arange(len(decays)), params, orders, arrays(data))
    initial_loss = float(evaluate(params, data.x_train, data.y_train)[0])
    steps = jnp.arange(steps_per_epoch * epochs)
    return [
        DecayRun(
            name=name,
            formula=decay.formula,
            initial_loss=initial_loss,
            history=History(*(np.asarray(field[i]) for field in history)),
            schedule_values=np.asarray(decay.schedule(steps)),
        )
        for i, (name, decay) in enumerate(decays.items())
    ]


def decay_table(runs: Sequence[DecayRun]) -> str:
    """One row per schedule; the final rate is read back from the optimizer state."""
    lines = [
        "| schedule | learning rate | final lr (from state) | train loss | train acc | test acc "
        f"| epochs to loss {LOSS_THRESHOLD:g} |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        h = r.history
        n_epochs = epochs_to(h.train_loss)
        lines.append(
            f"| {r.name} | {r.formula} | {h.learning_rate[-1]:.4g} | {h.train_loss[-1]:.3g} "
            f"| {h.train_acc[-1]:.3f} | {h.test_acc[-1]:.3f} "
            f"| {'not reached' if n_epochs is None else n_epochs} |"
        )
    return "\n".join(lines)


def plot_lr_decay(runs: Sequence[DecayRun], path: pathlib.Path) -> None:
    """Loss curves, and the learning rates: the schedules (lines) and the rates read back
    from the state after each epoch (dots)."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_loss, ax_lr = fig.subplots(1, 2)
    for r in runs:
        curve = np.concatenate([[r.initial_loss], r.history.train_loss])
        (line,) = ax_loss.plot(np.arange(len(curve)), curve, label=r.name)
        steps = len(r.schedule_values)
        epochs = len(r.history.learning_rate)
        ax_lr.plot(np.arange(steps) * epochs / steps, r.schedule_values, color=line.get_color())
        ax_lr.plot(np.arange(1, epochs + 1), r.history.learning_rate, ".", color=line.get_color())
    _log_axes(ax_loss, "epoch", "training loss")
    ax_loss.legend(loc="lower left", fontsize="small")
    ax_lr.set(
        xlabel="epoch", ylabel="learning rate", title="learning rate (dots: read from the state)"
    )
    ax_lr.grid(True, alpha=0.3)
    fig.suptitle(f"Adam {DECAY_LR:g} on digits with learning-rate schedules")
    fig.savefig(path, dpi=120)


# --- entry point -----------------------------------------------------------------------------

MODES = ("batch-size", "optimizers", "lr-decay")


def run_comparison(
    mode: str,
    data: Data,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    quick: bool,
    out: pathlib.Path,
) -> pathlib.Path:
    """Run one experiment, print its tables and save its figure; returns the figure's path."""
    out.mkdir(parents=True, exist_ok=True)
    if mode == "batch-size":
        runs = compare_batch_sizes(data, epochs=epochs, seed=seed)
        print(
            f"Adam 1e-3, {epochs} epochs, seed {seed}; ms/epoch is the fastest epoch's run "
            "time, compilation excluded (each epoch program is compiled ahead of time and "
            "timed separately: compile s)\n"
        )
        print(batch_size_table(runs))
        path = out / "digits_batch_size.png"
        plot_batch_sizes(runs, path)
    elif mode == "optimizers":
        sweeps = compare_optimizers(
            data, epochs=epochs, batch_size=batch_size, seed=seed, quick=quick
        )
        programs = ", ".join(f"{s.name} {s.traces}" for s in sweeps)
        print(
            f"{epochs} epochs of batches of {batch_size}, seed {seed}; final training loss of "
            f"each learning rate (best in bold); programs compiled per sweep: {programs}\n"
        )
        print(sweep_table(sweeps))
        print("\neach optimizer with its best rate (the sweep's run with that rate):\n")
        print(optimizer_table(sweeps))
        path = out / "digits_optimizers.png"
        plot_optimizers(sweeps, path)
    elif mode == "lr-decay":
        runs = compare_lr_decay(data, epochs=epochs, batch_size=batch_size, seed=seed)
        steps = data.x_train.shape[0] // batch_size
        print(
            f"Adam, a0 = {DECAY_LR:g}, {epochs} epochs of {steps} steps (T = {steps * epochs}), "
            f"batches of {batch_size}, seed {seed}\n"
        )
        print(decay_table(runs))
        path = out / "digits_lr_decay.png"
        plot_lr_decay(runs, path)
    else:
        raise ValueError(f"run_comparison: mode must be one of {MODES}, not {mode!r}")
    print(f"\nfigure saved to {path}")
    return path
