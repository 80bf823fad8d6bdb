"""Jitted optimizer step time of gradtx against optax, interleaved, in one process.

Run ``python -m benchmarks.step_time`` (``--quick`` for a short run). It builds a
parameter tree (about 10M parameters in ~100 leaves, and one of 2,000 small leaves),
times ``update`` + ``apply_updates`` for sgd-momentum, adam and adamw from both
libraries with interleaved repetitions, and prints a markdown table of medians and the
gradtx/optax ratio (below 1 means gradtx is faster). optax is a reference only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp

import gradtx


def make_tree(n_leaves: int, total: int, seed: int = 0) -> dict[str, jax.Array]:
    size = max(1, total // n_leaves)
    keys = jax.random.split(jax.random.key(seed), n_leaves)
    return {f"p{i:04d}": jax.random.normal(k, (size,), jnp.float32) for i, k in enumerate(keys)}


def compiled_step(tx, params):
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return jax.tree.map(lambda p, u: p + u, params, updates), state

    state = tx.init(params)
    fn = jax.jit(step, donate_argnums=(0, 1))
    return fn, state


def time_pair(make, params, grads, reps: int, inner: int) -> tuple[float, float]:
    import optax

    runs = {}
    for name, lib in (("gradtx", gradtx), ("optax", optax)):
        tx = make(lib)
        p = jax.tree.map(jnp.copy, params)
        fn, state = compiled_step(tx, p)
        p, state = fn(p, state, grads)  # compile and warm up
        jax.block_until_ready(p)
        runs[name] = [fn, p, state, []]
    for _ in range(reps):  # interleave the two libraries
        for run in runs.values():
            fn, p, state, times = run
            t0 = time.perf_counter()
            for _ in range(inner):
                p, state = fn(p, state, grads)
            jax.block_until_ready(p)
            times.append((time.perf_counter() - t0) / inner)
            run[1], run[2] = p, state
    return statistics.median(runs["gradtx"][3]), statistics.median(runs["optax"][3])


OPTIMIZERS = {
    "sgd-momentum": lambda lib: lib.sgd(1e-3, momentum=0.9),
    "adam": lambda lib: lib.adam(1e-3),
    "adamw": lambda lib: lib.adamw(1e-3, weight_decay=1e-4),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small trees, few repetitions")
    parser.add_argument("--skip-small", action="store_true", help="skip the 2,000-leaf tree")
    args = parser.parse_args(argv)
    total = 1_000_000 if args.quick else 10_000_000
    reps, inner = (5, 3) if args.quick else (15, 5)
    trees = {f"{total // 1_000_000}M params / 100 leaves": make_tree(100, total)}
    if not args.skip_small:
        trees["2,000 small leaves"] = make_tree(2_000, 2_000 * 64)
    print(f"device: {jax.devices()[0].device_kind}, jax {jax.__version__}")
    print("| tree | optimizer | gradtx (ms) | optax (ms) | gradtx/optax |")
    print("|---|---|---|---|---|")
    for tree_name, params in trees.items():
        grads = jax.tree.map(lambda x: 0.01 * x, params)
        for opt_name, make in OPTIMIZERS.items():
            g, o = time_pair(make, params, grads, reps, inner)
            print(f"| {tree_name} | {opt_name} | {g * 1e3:.3f} | {o * 1e3:.3f} | {g / o:.3f} |")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
