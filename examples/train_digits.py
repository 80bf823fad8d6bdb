"""Train a small MLP on scikit-learn's digits with five gradtx optimizers and compare them.

What it shows: the course notes' optimizer experiment, on a data set that ships with
scikit-learn (1,797 8x8 images of handwritten digits, no download). One network,
64-128-64-10 with ReLU and He initialization, is trained from the same starting weights and
on the same shuffled mini-batches by

* plain SGD (learning rate 0.1),
* SGD with momentum 0.9 (0.01: gradtx's momentum, like torch's and optax's, sums the
  gradients, m = 0.9 m + g, so its step along a steady gradient is 1/(1 - 0.9) = 10 times
  the learning rate; 0.01 matches plain SGD's 0.1),
* RMSProp (1e-3, about 100x smaller than SGD's, as the notes advise),
* Adam (1e-3, the usual default),
* Adam whose learning rate decays per epoch, ``alpha_0 / (1 + 0.1 * epoch)``: the decay lets
  it start 3x higher (3e-3), learn faster early and settle later,

and the script prints a markdown table (final learning rate read back from the optimizer
state with ``gradtx.hyperparams``, train loss, train/test accuracy, the last step's gradient
norm and update/parameter ratio read from the state, seconds) and saves the
loss curves to ``examples/out/digits_loss.png``.

How it is built: one training step is a pure function (loss, gradient, ``tx.update``,
``gradtx.apply_updates``); one epoch is a ``jax.lax.scan`` of that step over the shuffled
batches, compiled once with ``jax.jit``. The whole run takes a few seconds on a laptop CPU.

With ``--resume FOLDER`` each optimizer's run is checkpointed after every epoch with
``gradtx.checkpoint.save`` (parameters, optimizer state, epoch and loss curves, in
``FOLDER/<optimizer>.npz``, written atomically), and a run that finds its checkpoint
there continues from it with ``gradtx.checkpoint.restore``, logging the learning rate it
reads back from the restored state. An interrupted run, resumed, ends with the same
parameters, bit for bit, as one that was never interrupted.

The course experiments, ``--compare MODE`` (code in ``examples/digits_compare.py``): the
same network, data and shuffling, one thing varied; each prints markdown tables and saves a
figure into ``--out``. The loss is the whole training set's cross-entropy after each epoch.

* ``--compare batch-size``: Adam 1e-3 with batches of 8, 64, 128 and the full batch (1,347).
  Adam, because its steps are about the learning rate per weight whatever the gradient's
  scale and noise, so one rate suits every batch size and the runs differ only in the number
  and noise of their updates; SGD's best rate grows with the batch size and would need one
  per row. Each epoch is compiled ahead of time (the "compile s" column, timed on its own)
  and warmed up once, so "ms/epoch" (the fastest epoch) excludes compilation. The lesson:
  per epoch, small batches make more updates and reach a lower loss (after 30 epochs, seed
  0: 2e-4 with batches of 8, 5e-3 with 64, 0.015 with 128, 0.43 with the full batch's 30
  updates), but batch 8's 168 tiny steps do not vectorize and cost ~3x more per epoch (7 ms
  on a 2-core CPU) than 64, 128 or the full batch, which cost about the same (2.1-2.4 ms, as
  in the notes). Against seconds, batch 64 reaches a loss of 0.1 as soon as batch 8 (28 ms
  against 34 ms): the figure plots loss against epochs and against seconds
  (``digits_batch_size.png``).
* ``--compare optimizers``: SGD, momentum 0.9, Nesterov 0.9, RMSProp, Adam and schedule-free
  AdamW (Defazio et al. 2024, arXiv:2405.15682; it needs no schedule and is evaluated at its
  averaged point, ``gradtx.schedule_free_eval_params``), each with the learning rate that
  gives the lowest final training loss on a log grid from 1e-4 to 3.16 (half decades with
  ``--quick``, quarter decades otherwise). Each optimizer is built once; its sweep is ONE
  jitted program: ``jax.vmap`` over a function that sets the rate in the state
  (``gradtx.set_hyperparams(tx.init(params), learning_rate=lr)``) and trains, so the K
  copies start from the same weights and see the same batches. It prints the sweep table
  (best rate in bold) and the comparison of the tuned runs (the sweep's run at the best rate:
  a separate run with that rate reproduces it), and plots both (``digits_optimizers.png``).
  Tuned, they all fit the training set (test accuracy 0.95-0.98) and the best rates span
  almost two decades: after 30 epochs, 1.8e-2 for RMSProp and Adam, 5.6e-2 for schedule-free
  AdamW, 0.1 with momentum (which sums the gradients: 10x the step) and 1 for plain SGD.
* ``--compare lr-decay``: Adam from a0 = 3e-2, too high a rate to settle at, with a constant
  rate, inverse-time decay a0 / (1 + k epoch) for k = 1 and 0.1, exponential decay a0 0.9^epoch
  (these three change per epoch, via ``gradtx.schedules.per_epoch``), cosine decay to 0 and
  warmup-stable-decay (10% linear warmup, 20% linear cooldown to 0), both per step. The table
  shows the last learning rate read back from each optimizer's state with
  ``gradtx.hyperparams``; the figure the loss curves and the learning rates
  (``digits_lr_decay.png``). After 30 epochs (seeds 0-4) the constant rate keeps bouncing
  and ends at a loss of 1.3e-3-7e-2; inverse-time 0.1, exponential and cosine, which end at
  small rates, reach 5e-5-1.9e-3 (9.5-650x lower). The aggressive k = 1 is smooth but slow:
  its rate is a0/30 by the end and it ends 12-14x above the mild k = 0.1 (the notes saw the
  same with k = 0.2 against 0.005). Warmup-stable-decay spends 70% of the run at a0 and
  cools down too briefly here (4e-3-7e-3). With ``--quick``'s 8 epochs the ordering is
  noisier. The six runs differ only in their schedule, so they run as one program (vmapped
  over which schedule, ``lax.switch``).

Run it from the repository root::

    pip install -e ".[examples]"
    python examples/train_digits.py                 # the full comparison
    python examples/train_digits.py --quick         # a few epochs (CI smoke test)
    python examples/train_digits.py --epochs 60 --batch-size 128 --seed 1 --out /tmp/digits
    python examples/train_digits.py --resume /tmp/digits-ckpt  # checkpoint; rerun to resume
    python examples/train_digits.py --compare batch-size      # 30 epochs; --quick: 8
    python examples/train_digits.py --compare optimizers      # --quick: 8 epochs, 10 rates
    python examples/train_digits.py --compare lr-decay --epochs 60 --seed 1 --out /tmp/digits
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import re
import sys
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import gradtx

Params = list[dict[str, jax.Array]]
DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"
LAYER_SIZES = (64, 128, 64, 10)
DEFAULT_EPOCHS = 30
QUICK_EPOCHS = 8
COMPARISONS = ("batch-size", "optimizers", "lr-decay")  # --compare: see digits_compare.py


# --- data -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Data:
    """Standardized features (float32) and integer labels of a fixed train/test split."""

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array


def load_data(test_size: float = 0.25, split_seed: int = 0) -> Data:
    """The digits, split once (stratified, fixed seed), standardized with train statistics."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_size, random_state=split_seed, stratify=y
    )
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0)
    std[std == 0] = 1.0  # border pixels that are always 0 would divide by zero
    return Data(
        jnp.asarray((x_tr - mean) / std, jnp.float32),
        jnp.asarray(y_tr, jnp.int32),
        jnp.asarray((x_te - mean) / std, jnp.float32),
        jnp.asarray(y_te, jnp.int32),
    )


# --- model ----------------------------------------------------------------------------------


def he_init(key: jax.Array, sizes: Sequence[int] = LAYER_SIZES) -> Params:
    """He (Kaiming) normal weights, std = sqrt(2 / fan_in), and zero biases."""
    params = []
    for key_l, fan_in, fan_out in zip(
        jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:], strict=True
    ):
        # Var(w) = 1/fan_in keeps a linear layer's output variance equal to its input's;
        # ReLU zeroes half of the units, so Var(w) = 2/fan_in keeps it constant across layers.
        std = jnp.sqrt(2.0 / fan_in)
        w = std * jax.random.normal(key_l, (fan_in, fan_out), jnp.float32)
        params.append({"w": w, "b": jnp.zeros(fan_out, jnp.float32)})
    return params


def mlp(params: Params, x: jax.Array) -> jax.Array:
    """Logits of the ReLU network: affine layers with ReLU between them, none at the end."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy: -log softmax(logits)[label], averaged over the batch."""
    log_probs = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))


def loss_fn(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """The training objective: the cross-entropy of the network's logits."""
    return cross_entropy(mlp(params, x), y)


@jax.jit
def evaluate(params: Params, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mean cross-entropy, accuracy) on a whole data set."""
    logits = mlp(params, x)
    return cross_entropy(logits, y), jnp.mean(jnp.argmax(logits, axis=1) == y)


# --- training -------------------------------------------------------------------------------

EpochFn = Callable[[Params, gradtx.OptState, jax.Array], tuple[Params, gradtx.OptState, jax.Array]]


def make_epoch(
    tx: gradtx.GradientTransformation, x: jax.Array, y: jax.Array, batch_size: int
) -> EpochFn:
    """A jitted ``epoch(params, opt_state, key) -> (params, opt_state, batch_losses)``.

    The epoch shuffles the training set with ``key``, cuts it into ``len(x) // batch_size``
    full batches (the few examples left over change every epoch) and scans the step over them.
    """
    n_batches = x.shape[0] // batch_size

    def step(carry, batch):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (gradtx.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def epoch(params, opt_state, key):
        order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
        batches = (
            x[order].reshape(n_batches, batch_size, -1),
            y[order].reshape(n_batches, batch_size),
        )
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batches)
        return params, opt_state, losses

    return epoch


@dataclasses.dataclass
class Result:
    """What one optimizer's run produced."""

    name: str
    initial_lr: float
    final_lr: float
    epoch_loss: list[float]  # mean mini-batch loss of each epoch
    test_acc_curve: list[float]  # test accuracy after each epoch
    train_loss: float
    train_acc: float
    test_acc: float
    seconds: float
    grad_norm: float  # global gradient norm of the last step, read from the state
    update_ratio: float  # ||update|| / ||params|| of the last step, read from the state


def checkpoint_path(folder: pathlib.Path, name: str) -> pathlib.Path:
    """Where ``--resume FOLDER`` keeps one optimizer's checkpoint (``adam + decay`` ->
    ``adam_decay.npz``)."""
    return folder / (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") + ".npz")


def train(
    name: str,
    tx: gradtx.GradientTransformation,
    data: Data,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    progress: bool,
    checkpoint: pathlib.Path | None = None,
    stop_after: int | None = None,
) -> Result:
    """Train from He-initialized weights (the same for every optimizer with the same seed).

    With ``checkpoint``, the run is saved there after every epoch and, if the file exists,
    continues from it; ``stop_after`` ends the run after that many epochs in all (to try
    resuming). The shuffling keys are derived from the seed for all ``epochs`` up front,
    so a resumed run sees the same batches as an uninterrupted one.
    """
    init_key, shuffle_key = jax.random.split(jax.random.key(seed))
    params = he_init(init_key)
    # norms() records the last step's gradient and update norms in the state (no host
    # callback); the loop reads them by name with gradtx.tree.get.
    tx = gradtx.monitoring.norms(tx)
    opt_state = tx.init(params)
    initial_lr = float(gradtx.hyperparams(opt_state)["learning_rate"])
    run_epoch = make_epoch(tx, data.x_train, data.y_train, batch_size)

    # What a checkpoint holds: everything the loop needs to go on where it stopped.
    # The curves have a fixed length (NaN for epochs not run yet), so the file's shapes
    # are known in advance and checked on restore.
    ckpt = {
        "params": params,
        "opt_state": opt_state,
        "epoch": 0,
        "run": np.asarray([seed, batch_size, epochs], np.int64),
        "epoch_loss": np.full(epochs, np.nan, np.float64),
        "test_acc": np.full(epochs, np.nan, np.float64),
    }
    if checkpoint is not None and checkpoint.exists():
        ckpt = gradtx.checkpoint.restore(checkpoint, like=ckpt)
        if list(ckpt["run"]) != [seed, batch_size, epochs]:
            raise ValueError(
                f"{checkpoint} was saved by a run with (seed, batch size, epochs) = "
                f"{tuple(int(v) for v in ckpt['run'])}, not {(seed, batch_size, epochs)}; "
                "pass the same flags, or another --resume folder."
            )
        # The learning rate the last update used, read back from the restored state.
        lr = float(gradtx.hyperparams(ckpt["opt_state"])["learning_rate"])
        print(f"{name}: resumed from {checkpoint} after epoch {ckpt['epoch']}, lr {lr:.3g}")
    params, opt_state = ckpt["params"], ckpt["opt_state"]
    last = epochs if stop_after is None else min(stop_after, epochs)

    start = time.perf_counter()
    keys = jax.random.split(shuffle_key, epochs)
    # disable=None: tqdm hides the bar by itself when its stream (stderr) is not a terminal.
    with tqdm(
        total=epochs,
        initial=ckpt["epoch"],
        desc=f"{name:>12}",
        leave=False,
        disable=None if progress else True,
    ) as bar:
        for epoch in range(ckpt["epoch"], last):
            params, opt_state, losses = run_epoch(params, opt_state, keys[epoch])
            ckpt["epoch_loss"][epoch] = float(losses.mean())
            ckpt["test_acc"][epoch] = float(evaluate(params, data.x_test, data.y_test)[1])
            ckpt.update(params=params, opt_state=opt_state, epoch=epoch + 1)
            if checkpoint is not None:
                gradtx.checkpoint.save(checkpoint, ckpt)
            bar.set_postfix(
                loss=f"{ckpt['epoch_loss'][epoch]:.4f}",
                test_acc=f"{ckpt['test_acc'][epoch]:.3f}",
                lr=f"{float(gradtx.hyperparams(opt_state)['learning_rate']):.3g}",
                grad_norm=f"{float(gradtx.tree.get(opt_state, 'grad_norm')):.3g}",
            )
            bar.update()
    train_loss, train_acc = evaluate(params, data.x_train, data.y_train)
    seconds = time.perf_counter() - start
    # The last step's norms, as the optimizer recorded them in its state.
    grad_norm = float(gradtx.tree.get(opt_state, "grad_norm"))
    update_ratio = float(gradtx.tree.get(opt_state, "update_param_ratio"))
    epoch_loss = [float(v) for v in ckpt["epoch_loss"][: ckpt["epoch"]]]
    test_acc_curve = [float(v) for v in ckpt["test_acc"][: ckpt["epoch"]]]

    return Result(
        name=name,
        initial_lr=initial_lr,
        # The learning rate the last update used, as the optimizer recorded it in its state.
        final_lr=float(gradtx.hyperparams(opt_state)["learning_rate"]),
        epoch_loss=epoch_loss,
        test_acc_curve=test_acc_curve,
        train_loss=float(train_loss),
        train_acc=float(train_acc),
        test_acc=test_acc_curve[-1] if test_acc_curve else float("nan"),
        seconds=seconds,
        grad_norm=grad_norm,
        update_ratio=update_ratio,
    )


# --- the comparison -------------------------------------------------------------------------


def optimizers(steps_per_epoch: int) -> dict[str, gradtx.GradientTransformation]:
    """The optimizers compared, with learning rates that suit each (see the docstring)."""
    # alpha_0 / (1 + decay_rate * epoch): per_epoch feeds the schedule the epoch, not the step.
    decayed = gradtx.schedules.per_epoch(
        gradtx.schedules.inverse_time_decay(3e-3, decay_rate=0.1), steps_per_epoch
    )
    return {
        "sgd": gradtx.sgd(0.1),
        "momentum 0.9": gradtx.sgd(0.01, momentum=0.9),
        "rmsprop": gradtx.rmsprop(1e-3),
        "adam": gradtx.adam(1e-3),
        "adam + decay": gradtx.adam(decayed),
    }


def markdown_table(results: Sequence[Result]) -> str:
    """One row per optimizer."""
    lines = [
        "| optimizer | learning rate (start -> end) | train loss | train acc | test acc "
        "| last grad norm | last update/param | seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lr = f"{r.initial_lr:.3g}"
        if not np.isclose(r.final_lr, r.initial_lr):
            lr += f" -> {r.final_lr:.3g}"
        lines.append(
            f"| {r.name} | {lr} | {r.train_loss:.4f} | {r.train_acc:.3f} | {r.test_acc:.3f} "
            f"| {r.grad_norm:.3g} | {r.update_ratio:.2e} | {r.seconds:.1f} |"
        )
    return "\n".join(lines)


def plot(results: Sequence[Result], path: pathlib.Path) -> None:
    """Training loss (log scale) and test accuracy per epoch, one line per optimizer."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")  # no pyplot: renders with Agg
    ax_loss, ax_acc = fig.subplots(1, 2)
    for r in results:
        epochs = np.arange(1, len(r.epoch_loss) + 1)
        ax_loss.plot(epochs, r.epoch_loss, label=r.name)
        ax_acc.plot(epochs, r.test_acc_curve, label=r.name)
    ax_loss.set(
        yscale="log",
        xlabel="epoch",
        ylabel="mean mini-batch loss",
        title="training loss (cross-entropy)",
    )
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="test accuracy", ylim=(0.8, 1.0))
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.suptitle("MLP 64-128-64-10 on scikit-learn digits")
    fig.savefig(path, dpi=120)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"epochs per optimizer (default {DEFAULT_EPOCHS}, {QUICK_EPOCHS} with --quick)",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="mini-batch size")
    parser.add_argument("--seed", type=int, default=0, help="initialization and shuffling seed")
    parser.add_argument("--quick", action="store_true", help="a short run for smoke tests")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help="folder for the figure: digits_loss.png, or digits_batch_size.png, "
        "digits_optimizers.png, digits_lr_decay.png with --compare (default examples/out)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument(
        "--compare",
        choices=COMPARISONS,
        default=None,
        help="run one of the course experiments instead: batch sizes, optimizers with "
        "learning rates tuned by a vmapped sweep, or learning-rate schedules (see the "
        "docstring); --batch-size applies to the last two",
    )
    parser.add_argument(
        "--resume",
        type=pathlib.Path,
        default=None,
        metavar="FOLDER",
        help="checkpoint each optimizer's run in FOLDER after every epoch, and continue "
        "from the checkpoints found there",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="N",
        help="stop each run after N epochs in all (e.g. to resume it later with --resume)",
    )
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = QUICK_EPOCHS if args.quick else DEFAULT_EPOCHS
    if args.epochs < 1 or args.batch_size < 1:
        parser.error("--epochs and --batch-size must be positive")
    if args.stop_after is not None and args.stop_after < 1:
        parser.error("--stop-after must be positive")
    if args.compare is not None and (args.resume is not None or args.stop_after is not None):
        parser.error("--resume and --stop-after apply to the default comparison only")
    return args


def compare(args: argparse.Namespace, data: Data) -> int:
    """``--compare MODE``: one of the experiments in ``examples/digits_compare.py``."""
    # digits_compare imports this file's building blocks as the module ``train_digits``;
    # make it importable however this file was started (script, test, ``python -m``).
    here = str(pathlib.Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import digits_compare

    print(
        f"digits: {data.x_train.shape[0]} train / {data.x_test.shape[0]} test examples; "
        f"--compare {args.compare}\n"
    )
    digits_compare.run_comparison(
        args.compare,
        data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        quick=args.quick,
        out=args.out,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data = load_data()
    if args.batch_size > data.x_train.shape[0]:
        print(
            f"--batch-size {args.batch_size} exceeds the {data.x_train.shape[0]} training examples",
            file=sys.stderr,
        )
        return 2
    if args.compare is not None:
        return compare(args, data)
    steps_per_epoch = data.x_train.shape[0] // args.batch_size
    print(
        f"digits: {data.x_train.shape[0]} train / {data.x_test.shape[0]} test examples, "
        f"{args.epochs} epochs of {steps_per_epoch} batches of {args.batch_size}, "
        f"seed {args.seed}\n"
    )

    if args.resume is not None:
        args.resume.mkdir(parents=True, exist_ok=True)
    results = []
    for name, tx in optimizers(steps_per_epoch).items():
        path = None if args.resume is None else checkpoint_path(args.resume, name)
        try:
            result = train(
                name,
                tx,
                data,
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                progress=not args.no_progress,
                checkpoint=path,
                stop_after=args.stop_after,
            )
        except ValueError as e:  # a checkpoint from another run: say so, do not overwrite
            print(f"cannot resume {name}: {e}", file=sys.stderr)
            return 2
        results.append(result)
    if args.resume is not None:
        print(f"checkpoints in {args.resume}\n")
    print(markdown_table(results))

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "digits_loss.png"
    plot(results, path)
    print(f"\nloss curves saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
