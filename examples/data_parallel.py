"""Data-parallel training of the digits MLP on 8 devices, with a sharded optimizer state.

What it shows: gradtx on JAX's own SPMD engine (``jax.sharding``), nothing home-made. The
network and data of ``examples/train_digits.py`` (a 64-128-64-10 ReLU MLP on
scikit-learn's digits) are trained with Adam on a mesh of 8 devices named ``"data"``:

* every mini-batch is split along ``"data"`` (8 examples per device for a batch of 64),
  the parameters are replicated, and XLA sums the gradients across devices;
* the optimizer state is created directly in its shardings,
  ``jax.jit(tx.init, out_shardings=gradtx.sharding.state_shardings(...))``, and the jitted
  epoch takes and returns the same shardings, so the state never moves;
* with ``--zero1`` (ZeRO stage 1) Adam's moments are split along ``"data"`` too, on each
  moment's first dimension divisible by 8: each device keeps 1/8 of them, and the script
  prints the state bytes on the fullest device next to the state's total.

One epoch is one jitted call: the host shuffles the training set, puts the epoch's batches
on the devices at once, split along ``"data"``, and a ``jax.lax.scan`` runs the steps. The
loop then reads the epoch's losses back, which also waits for the epoch to finish. Keep
that wait (or a ``block_until_ready``) in any loop of multi-device steps on the CPU: XLA's
CPU runtime lets each device queue up to 32 computations, and a host that runs more than
32 collective programs ahead of the devices can deadlock it (the launch of the 33rd
blocks one of the only 8 threads that run the devices' programs, so one device never joins
the all-reduce and the process aborts with "Expected 8 threads to join the rendezvous").

The mesh spans all of JAX's devices. On the CPU the script asks for 8 simulated devices
(``jax_num_cpu_devices``, unless ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` is
set), so it must be the first to use JAX in its process; on accelerators it uses them all.
Run it from the repository root::

    python examples/data_parallel.py            # 30 epochs, state replicated
    python examples/data_parallel.py --zero1    # moments split over the 8 devices
    python examples/data_parallel.py --quick    # a few epochs (CI smoke test)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import gradtx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import train_digits  # noqa: E402 - the digits data and model, shared with that example

DEVICES = 8
DEFAULT_EPOCHS = 30
QUICK_EPOCHS = 8


def use_simulated_cpu_devices(n: int) -> None:
    """Ask JAX for ``n`` CPU devices, unless ``XLA_FLAGS`` already sets a device count.

    Must run before JAX first uses a device (it raises ``RuntimeError`` afterwards).
    """
    if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        jax.config.update("jax_num_cpu_devices", n)


@dataclasses.dataclass
class Result:
    """What a run produced, and how its optimizer state is laid out."""

    epoch_loss: list[float]  # mean mini-batch loss of each epoch
    test_acc: float
    state_leaves: int  # arrays in the optimizer state
    split_leaves: int  # of them, those split over the devices
    promised: bool  # every state leaf has the sharding state_shardings promised
    state_bytes: int  # bytes of the whole state
    device_bytes: int  # bytes of it held by the fullest device


def state_layout(state: gradtx.OptState, promised: gradtx.OptState) -> tuple[int, int, bool]:
    """(state leaves, leaves split over devices, whether every sharding is the promised one)."""
    leaves, wanted = jax.tree.leaves(state), jax.tree.leaves(promised)
    split = sum(not leaf.sharding.is_fully_replicated for leaf in leaves)
    same = all(
        leaf.sharding.is_equivalent_to(want, leaf.ndim)
        for leaf, want in zip(leaves, wanted, strict=True)
    )
    return len(leaves), split, same


def state_bytes(state: gradtx.OptState) -> tuple[int, int]:
    """(bytes of the whole state, bytes of it held by the fullest device)."""
    per_device: dict[jax.Device, int] = {}
    for leaf in jax.tree.leaves(state):
        for shard in leaf.addressable_shards:
            per_device[shard.device] = per_device.get(shard.device, 0) + shard.data.nbytes
    total = sum(leaf.nbytes for leaf in jax.tree.leaves(state))
    return total, max(per_device.values())


def train(epochs: int, batch_size: int, seed: int, zero1: bool) -> Result:
    """Train with Adam on all devices, one jitted scan per epoch."""
    data = train_digits.load_data()
    mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    replicated = NamedSharding(mesh, P())
    # an epoch's batches, (n_batches, batch_size, ...): split the batch dimension
    batches_sharding = NamedSharding(mesh, P(None, "data"))

    params = train_digits.he_init(jax.random.key(seed))
    param_shardings = jax.tree.map(lambda _: replicated, params)
    params = jax.device_put(params, param_shardings)
    tx = gradtx.adam(1e-3)
    shardings = gradtx.sharding.state_shardings(
        tx, params, param_shardings, zero1_axis="data" if zero1 else None
    )
    opt_state = jax.jit(tx.init, out_shardings=shardings)(params)

    def step(carry, batch):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(train_digits.loss_fn)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (gradtx.apply_updates(params, updates), opt_state), loss

    def epoch(params, opt_state, x, y):
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (x, y))
        return params, opt_state, losses

    epoch = jax.jit(
        epoch,
        in_shardings=(param_shardings, shardings, batches_sharding, batches_sharding),
        out_shardings=(param_shardings, shardings, replicated),
        donate_argnums=(0, 1),
    )

    x_train, y_train = np.asarray(data.x_train), np.asarray(data.y_train)
    n_batches = x_train.shape[0] // batch_size
    rng = np.random.default_rng(seed)
    epoch_loss = []
    for _ in range(epochs):
        order = rng.permutation(x_train.shape[0])[: n_batches * batch_size]
        order = order.reshape(n_batches, batch_size)
        x = jax.device_put(x_train[order], batches_sharding)
        y = jax.device_put(y_train[order], batches_sharding)
        params, opt_state, losses = epoch(params, opt_state, x, y)
        # Reading the losses waits for the epoch: the host never runs ahead (see above).
        epoch_loss.append(float(np.mean(losses)))

    _, accuracy = train_digits.evaluate(params, data.x_test, data.y_test)
    return Result(
        epoch_loss, float(accuracy), *state_layout(opt_state, shardings), *state_bytes(opt_state)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 30, 8 quick)")
    parser.add_argument("--batch-size", type=int, default=64, help="global mini-batch size")
    parser.add_argument("--seed", type=int, default=0, help="initialization and shuffling seed")
    parser.add_argument("--zero1", action="store_true", help="split Adam's moments (ZeRO-1)")
    parser.add_argument("--quick", action="store_true", help="a short run for smoke tests")
    args = parser.parse_args(argv)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else DEFAULT_EPOCHS)
    use_simulated_cpu_devices(DEVICES)
    n = jax.device_count()
    if args.batch_size % n:
        parser.error(f"--batch-size {args.batch_size} must be a multiple of the {n} devices")

    print(
        f"{n} devices, batch {args.batch_size} split {args.batch_size // n} per device,"
        f" {epochs} epochs, ZeRO-1 {'on' if args.zero1 else 'off'}"
    )
    with jax.numpy_rank_promotion("allow"):  # the MLP broadcasts its biases
        r = train(epochs, args.batch_size, args.seed, args.zero1)
    print("epoch loss: " + " ".join(f"{loss:.4f}" for loss in r.epoch_loss))
    print(f"test accuracy: {r.test_acc:.4f}")
    print(
        f"optimizer state: {r.state_leaves} arrays, {r.split_leaves} split over the devices,"
        f" shardings as promised: {r.promised}"
    )
    print(
        f"optimizer state: {r.state_bytes} bytes in all,"
        f" {r.device_bytes} bytes on the fullest device"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
