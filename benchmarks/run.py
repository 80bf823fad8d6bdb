"""gradtx against optax (and torch.optim on CPU), measured in one process.

Run ``python -m benchmarks.run`` (or ``nox -s bench``); ``--quick`` for a shorter run,
``--write-docs`` to write ``docs/benchmarks.md``. It measures, with interleaved
repetitions and medians:

* the jitted step time (``update`` + ``apply_updates``, params and state donated) of
  sgd-momentum, adam, adamw, lion and adafactor on a tree of ~10M parameters in 100
  leaves and on a tree of 2,000 small leaves, next to ``torch.optim`` with
  ``foreach=True`` and ``fused=True`` where torch has the optimizer and the option;
* the memory roofline: the bytes per parameter the step must move (read the gradient,
  the parameter and every state array once, write the parameter and the state once),
  divided by the copy bandwidth of this machine measured in the same run (a jitted
  ``x -> x + 1`` on a large array moves ``2 * x.nbytes``), and the fraction of that
  bound each library reaches;
* compile time (``lower`` + ``compile``) of those steps and of a 6-transform chain;
* state bytes per parameter.

optax and torch are references only: they are timed, never read.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import pathlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import gradtx

DOCS_PATH = pathlib.Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and repetitions of one run."""

    big: tuple[int, tuple[int, int]]  # (leaves, leaf shape)
    small: tuple[int, tuple[int, int]]
    reps: int  # interleaved repetitions; the median is reported
    inner: int  # steps per repetition
    compile_reps: int
    copy_size: int  # float32 elements of the bandwidth probe
    # also time compiles on the many-leaf tree (slow: ~40 s per adam compile on 2 cores)
    compile_small: bool = True


CONFIGS = {
    # (250, 400) leaves: both dims >= 128, so adafactor factors them.
    "full": Config((100, (250, 400)), (2_000, (32, 32)), 15, 5, 3, 64 * 2**20, False),
    "quick": Config((100, (128, 128)), (500, (32, 32)), 5, 3, 1, 16 * 2**20, False),
    "smoke": Config((4, (16, 16)), (20, (4, 4)), 2, 1, 1, 2**16, compile_small=False),
}


def _optimizers(lib: Any) -> dict[str, Any]:
    """The five optimizers, built the same way from gradtx or optax."""
    return {
        "sgd-momentum": lib.sgd(1e-3, momentum=0.9),
        "adam": lib.adam(1e-3),
        "adamw": lib.adamw(1e-3, weight_decay=1e-4),
        "lion": lib.lion(1e-4),
        "adafactor": lib.adafactor(1e-3),
    }


def _chain6(lib: Any) -> Any:
    """A 6-transform chain, for compile time."""
    return lib.chain(
        lib.clip(1.0),
        lib.clip_by_global_norm(1.0),
        lib.scale_by_adam(),
        lib.add_decayed_weights(1e-4),
        lib.scale_by_trust_ratio(),
        lib.scale_by_learning_rate(1e-3),
    )


OPTIMIZERS = ("sgd-momentum", "adam", "adamw", "lion", "adafactor")

# gradtx-only rows: gradtx.fuse_leaves around an optimizer, timed against optax's (and
# torch's) plain version of that optimizer.
FUSED = {"fuse_leaves(adam)": "adam"}


def _gradtx_tx(name: str, opts: dict[str, Any]) -> Any:
    """The gradtx transformation of a step-time row (fused rows wrap the optimizer)."""
    return gradtx.fuse_leaves(opts[FUSED[name]]) if name in FUSED else opts[name]


# torch.optim counterparts (CPU); lion has none.
TORCH = {
    "sgd-momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}),
    "adam": ("Adam", {"lr": 1e-3}),
    "adamw": ("AdamW", {"lr": 1e-3, "weight_decay": 1e-4}),
    "adafactor": ("Adafactor", {"lr": 1e-3}),
}


def make_tree(n_leaves: int, shape: tuple[int, int], seed: int = 0) -> dict[str, jax.Array]:
    """``n_leaves`` float32 arrays of ``shape`` with standard-normal entries."""
    keys = jax.random.split(jax.random.key(seed), n_leaves)
    return {f"p{i:04d}": jax.random.normal(k, shape, jnp.float32) for i, k in enumerate(keys)}


def _size(tree: Any) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def _nbytes(tree: Any) -> int:
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


def _step_fn(lib: Any, tx: Any) -> Callable:
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return lib.apply_updates(params, updates), state

    return step


# --------------------------------------------------------------------------- measuring


def copy_bandwidth(size: int, reps: int) -> float:
    """Best bytes/s of a jitted ``x -> x + 1`` on ``size`` float32 (2 * nbytes moved).

    The best, not the median, of the repetitions: the roofline is a bound, and on a
    loaded machine a median would let a step beat its own roofline.
    """
    fn = jax.jit(lambda x: x + 1, donate_argnums=0)
    x = fn(jnp.zeros((size,), jnp.float32))
    x.block_until_ready()
    times = []
    for _ in range(max(reps, 3)):
        t0 = time.perf_counter()
        x = fn(x)
        x.block_until_ready()
        times.append(time.perf_counter() - t0)
    return 2 * size * 4 / min(times)


def _jax_runner(lib: Any, tx: Any, params: Any, grads: Any) -> Callable[[int], None]:
    fn = jax.jit(_step_fn(lib, tx), donate_argnums=(0, 1))
    box = [jax.tree.map(jnp.copy, params), None]
    box[1] = jax.tree.map(jnp.copy, tx.init(box[0]))  # init may share zero buffers
    box[0], box[1] = fn(box[0], box[1], grads)  # compile and warm up
    jax.block_until_ready(box[0])

    def run(n: int) -> None:
        p, s = box
        for _ in range(n):
            p, s = fn(p, s, grads)
        jax.block_until_ready(p)
        box[0], box[1] = p, s

    return run


def _torch_runner(name: str, params: Any, option: str) -> Callable[[int], None] | None:
    """A torch.optim step on CPU copies of ``params``, or None if unavailable."""
    try:
        import torch
    except ImportError:
        return None
    if name not in TORCH or not hasattr(torch.optim, TORCH[name][0]):
        return None
    cls, kwargs = getattr(torch.optim, TORCH[name][0]), TORCH[name][1]
    tensors = [torch.tensor(np.asarray(x)).requires_grad_() for x in jax.tree.leaves(params)]
    for t in tensors:
        t.grad = 0.01 * t.detach().clone()
    try:
        opt = cls(tensors, **kwargs, **{option: True})
        with torch.no_grad():
            opt.step()  # warm up; raises if the option is unsupported here
    except (TypeError, RuntimeError, ValueError):
        return None

    def run(n: int) -> None:
        with torch.no_grad():
            for _ in range(n):
                opt.step()

    return run


def time_interleaved(runners: dict[str, Callable[[int], None]], reps: int, inner: int):
    """Median seconds per step of each runner, repetitions interleaved across runners.

    The order alternates between repetitions, so no runner always goes first.
    """
    times: dict[str, list[float]] = {k: [] for k in runners}
    for rep in range(reps):
        order = list(runners.items())
        for name, run in order if rep % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            run(inner)
            times[name].append((time.perf_counter() - t0) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def compile_times(
    txs: dict[str, tuple[Any, Any]], params: Any, grads: Any, reps: int
) -> dict[str, float]:
    """Median seconds of ``jax.jit(step).lower(...).compile()``, interleaved."""
    states = {k: tx.init(params) for k, (_, tx) in txs.items()}
    times: dict[str, list[float]] = {k: [] for k in txs}
    for _ in range(reps):
        for name, (lib, tx) in txs.items():
            step = _step_fn(lib, tx)  # a new function each time: no tracing cache
            t0 = time.perf_counter()
            jax.jit(step, donate_argnums=(0, 1)).lower(params, states[name], grads).compile()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


# --------------------------------------------------------------------------- reporting


def machine_info() -> dict[str, str]:
    """CPU model, core count, accelerator, versions and date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "jax": jax.__version__}
    for mod in ("optax", "torch"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = "not installed"
    versions["gradtx"] = getattr(gradtx, "__version__", "dev")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def _label(tree: Any) -> str:
    n, shape = _size(tree), jax.tree.leaves(tree)[0].shape
    count = f"{n / 1e6:.1f}M" if n >= 100_000 else f"{n:,}"
    return f"{count} params, {len(tree):,} leaves of {shape[0]}x{shape[1]}"


def _ms(t: float | None) -> str:
    return "n/a" if t is None else f"{t * 1e3:.3f}"


def _pct(roof: float, t: float | None) -> str:
    return "n/a" if t is None else f"{100 * roof / t:.0f}%"


def run(
    cfg: Config,
    *,
    torch_on: bool = True,
    skip_small: bool = False,
    log: Callable[[str], None] = print,
    command: str = "python -m benchmarks.run",
) -> str:
    """Run every measurement and return the markdown report."""
    import optax

    info = machine_info()
    bandwidth = copy_bandwidth(cfg.copy_size, cfg.reps)
    log(f"copy bandwidth: {bandwidth / 1e9:.2f} GB/s (measured again at the end)")
    trees = {"big": make_tree(*cfg.big)}
    if not skip_small:
        trees["small"] = make_tree(*cfg.small, seed=1)
    label = {k: _label(t) for k, t in trees.items()}

    step_rows, state_rows, compile_rows = [], [], []
    for key, params in trees.items():
        n = _size(params)
        grads = jax.tree.map(lambda x: 0.01 * x, params)
        g_opts, o_opts = _optimizers(gradtx), _optimizers(optax)
        for name in (*OPTIMIZERS, *FUSED):
            g_tx, o_tx = _gradtx_tx(name, g_opts), o_opts[FUSED.get(name, name)]
            g_state = _nbytes(g_tx.init(params)) / n
            o_state = _nbytes(o_tx.init(params)) / n
            # compulsory traffic: read g and p, write p, read and write the state once
            per_param = 3 * 4 + 2 * min(g_state, o_state)
            roof = per_param * n / bandwidth
            runners = {
                "gradtx": _jax_runner(gradtx, g_tx, params, grads),
                "optax": _jax_runner(optax, o_tx, params, grads),
            }
            for option in ("foreach", "fused") if torch_on else ():
                r = _torch_runner(FUSED.get(name, name), params, option)
                if r is not None:
                    runners[f"torch-{option}"] = r
            t = time_interleaved(runners, cfg.reps, cfg.inner)
            tf, tu = t.get("torch-foreach"), t.get("torch-fused")
            step_rows.append(
                f"| {label[key]} | {name} | {per_param:.1f} | {_ms(roof)} | {_ms(t['gradtx'])} "
                f"| {_ms(t['optax'])} | {t['gradtx'] / t['optax']:.3f} | {_ms(tf)} | {_ms(tu)} "
                f"| {_pct(roof, t['gradtx'])} | {_pct(roof, t['optax'])} "
                f"| {_pct(roof, min((x for x in (tf, tu) if x is not None), default=None))} |"
            )
            state_rows.append(f"| {label[key]} | {name} | {g_state:.3f} | {o_state:.3f} |")
            log(step_rows[-1])
            del runners
        if key == "small" and not cfg.compile_small:
            continue
        txs = {}
        for name in (*OPTIMIZERS, "6-transform chain"):
            for lib_name, lib in (("gradtx", gradtx), ("optax", optax)):
                tx = _chain6(lib) if name == "6-transform chain" else _optimizers(lib)[name]
                txs[(name, lib_name)] = (lib, tx)
        c = compile_times(txs, params, grads, cfg.compile_reps)
        for name in (*OPTIMIZERS, "6-transform chain"):
            g, o = c[(name, "gradtx")], c[(name, "optax")]
            compile_rows.append(f"| {label[key]} | {name} | {_ms(g)} | {_ms(o)} | {g / o:.3f} |")
            log(compile_rows[-1])

    # the roofline uses the best copy seen, before or after the steps
    later = copy_bandwidth(cfg.copy_size, cfg.reps)
    if later > bandwidth:
        scale = later / bandwidth
        step_rows = [_rescale(row, scale) for row in step_rows]
        bandwidth = later
    return _markdown(info, bandwidth, cfg, step_rows, compile_rows, state_rows, command)


def _rescale(row: str, scale: float) -> str:
    """A step row with its roofline divided by ``scale`` (a faster copy was measured)."""
    cells = row.strip("|").split("|")
    roof = float(cells[3]) / scale
    cells[3] = f" {roof:.3f} "
    for col, src in ((9, 4), (10, 5)):
        cells[col] = f" {_pct(roof * 1e-3, float(cells[src]) * 1e-3)} "
    torch_ms = [float(cells[i]) for i in (7, 8) if cells[i].strip() != "n/a"]
    best = min(torch_ms) * 1e-3 if torch_ms else None
    cells[11] = f" {_pct(roof * 1e-3, best)} "
    return "|" + "|".join(cells) + "|"


BYTES_NOTE = """\
**Bytes per parameter** is the traffic the timed step cannot avoid, in float32: read the
gradient and the parameter, write the parameter (12 B), and read and write every state
array once (2 x state bytes). That is 20 B for sgd-momentum and lion (one moment), 28 B for
adam and adamw (two moments; adamw's decay reuses the parameter already read), and ~12 B
for adafactor on factored leaves (its row and column statistics are tiny; on leaves too
small to factor it keeps a full second moment, 20 B). The `updates` tree is not counted:
update and `apply_updates` run in one jitted function, so XLA fuses it away. Adafactor
needs more than one pass over the gradient (the factored statistics and the update
clipping are reductions), so it cannot reach 100% of this bound. On XLA:CPU the adam
step as compiled today writes the new moments and reads them back for the parameter
update (40 B/parameter), for both libraries.

**Roofline** = bytes per parameter x parameters / copy bandwidth; **% of roofline** is
roofline / measured time (100% = as fast as a copy of the same bytes).

**Where gradtx is slower, and why.** The primitives compile to the same fused loops as
optax's (same fusions, same element arithmetic: `chain(scale_by_adam(),
scale_by_learning_rate(lr))` runs at optax's speed). The aliases' step (`gradtx.adam`,
`adamw`) is ~5-10% slower on the 10M tree because of one feature: their hyperparameters
live in the state, and a value set by hand (`set_hyperparams`) wins over the built one
while a rebuilt optimizer's new value wins over an old state's. That choice is a scalar
`select` per hyperparameter at the start of the step. XLA:CPU then schedules the
per-leaf loops differently (every leaf's first moment, then every second moment, instead
of the two moments of one leaf back to back while its gradient is in cache): the same
kernels, more memory traffic. `inject_hyperparams(...)` without that choice measures
within 2% of optax. The same scalars cost compile time: ~+20-40 ms per step function,
whatever the number of leaves (XLA:CPU compiles each distinct small kernel separately).
On many small leaves use `fuse_leaves` (about 2x optax's adam here, with the same numbers).
"""


def _markdown(info, bandwidth, cfg, step_rows, compile_rows, state_rows, command) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` (`nox -s bench`). gradtx and optax run in the same process with",
        f"interleaved repetitions; each time is the median of {cfg.reps} repetitions of "
        f"{cfg.inner} steps.",
        "torch.optim runs on CPU with `foreach=True` and `fused=True` where it has the "
        "optimizer and the option (n/a otherwise).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| date | {info['date']} |",
        f"| CPU | {info['cpu']} |",
        f"| JAX device | {info['device']} |",
        f"| versions | {info['versions']} |",
        f"| copy bandwidth | {bandwidth / 1e9:.2f} GB/s (jitted `x -> x + 1`, "
        f"{cfg.copy_size * 4 / 2**20:g} MiB) |",
        "",
        "## Step time",
        "",
        "| tree | optimizer | bytes/param | roofline (ms) | gradtx (ms) | optax (ms) "
        "| gradtx/optax | torch foreach (ms) | torch fused (ms) | gradtx % of roofline "
        "| optax % of roofline | torch best % of roofline |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *step_rows,
        "",
        BYTES_NOTE,
        "## Compile time",
        "",
        f"`jax.jit(step).lower(...).compile()` of the same step, median of {cfg.compile_reps}.",
        "",
        "| tree | optimizer | gradtx (ms) | optax (ms) | gradtx/optax |",
        "|---|---|---|---|---|",
        *compile_rows,
        "",
        "## State bytes per parameter",
        "",
        "| tree | optimizer | gradtx | optax |",
        "|---|---|---|---|",
        *state_rows,
        "",
        "gradtx's aliases also keep their hyperparameters in the state (a few float32 "
        "scalars), which is why its numbers are a hair above optax's on small trees.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller trees, fewer repetitions")
    mode.add_argument("--smoke", action="store_true", help="tiny trees, 2 repetitions (tests)")
    parser.add_argument("--skip-small", action="store_true", help="skip the many-leaf tree")
    parser.add_argument(
        "--compile-small", action="store_true", help="compile times on the many-leaf tree too"
    )
    parser.add_argument("--reps", type=int, help="interleaved repetitions (median)")
    parser.add_argument("--inner", type=int, help="steps per repetition")
    parser.add_argument("--no-torch", action="store_true", help="do not time torch.optim")
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOCS_PATH.name}")
    parser.add_argument("--output", type=pathlib.Path, help="write the markdown here")
    parser.add_argument("--note", default="", help="a line on the conditions, for the page")
    args = parser.parse_args(argv)
    cfg = CONFIGS["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.compile_small:
        cfg = dataclasses.replace(cfg, compile_small=True)
    if args.reps:
        cfg = dataclasses.replace(cfg, reps=args.reps)
    if args.inner:
        cfg = dataclasses.replace(cfg, inner=args.inner)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    flags = [
        f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
        for k, v in vars(args).items()
        if v and k not in ("note", "output", "write_docs")
    ]
    command = " ".join(["python -m benchmarks.run", *flags])
    report = run(
        cfg, torch_on=not args.no_torch, skip_small=args.skip_small, log=log, command=command
    )
    if args.note:
        report = report.replace("\n## Machine\n", f"\n> {args.note}\n\n## Machine\n", 1)
    print(report)
    for path in (args.output, DOCS_PATH if args.write_docs else None):
        if path is not None:
            path.write_text(report)
            log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
