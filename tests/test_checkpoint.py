"""gradtx.checkpoint: states come back bit for bit, keyed by path, or the restore fails.

- Every optimizer alias (``gradtx.optimizers.__all__``, built as the conformance registry
  builds it) round-trips: its state, filled with random bits (NaN payloads included),
  restored from a concrete and from an abstract (``jax.eval_shape``) template, has the
  same tree (NamedTuple types, HyperparamsDict metadata) and the same bits.
- A jitted training run saved midway and resumed from the file continues bit-identically.
- Every dtype the states use (bfloat16 and the other ml_dtypes, int32 counts, uint32 and
  typed PRNG keys, bool, complex) and Python numbers come back exactly.
- A restore into another optimizer, other shapes or other dtypes lists every mismatch
  by path; restoring onto shardings runs in a subprocess with 4 host devices.

Crash safety and broken files: tests/test_checkpoint_faults.py; Orbax interoperability:
tests/test_checkpoint_orbax.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import re
import subprocess
import sys
import textwrap
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from test_conformance import REGISTRY

import gradtx
from gradtx.checkpoint import restore, save

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bits(x: Any) -> np.ndarray:
    """The raw bits of an array (so NaN payloads and -0.0 count), for exact comparison."""
    if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    a = np.asarray(x)
    if a.dtype.kind == "b":
        return a
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind != "c" else a.view(np.uint8)


def assert_identical(a: Any, b: Any) -> None:
    """Same tree (node types and static data included), same dtypes, shapes and bits."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(a)[0]]
    for path, x, y in zip(paths, jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert type(x) is type(y), path
        assert x.dtype == y.dtype and x.shape == y.shape, path
        np.testing.assert_array_equal(_bits(x), _bits(y), err_msg=path)


def _random_like(abstract: Any, rng: np.random.Generator) -> Any:
    """A concrete tree with ``abstract``'s structure, each leaf random bits of its dtype."""

    def fill(s: jax.ShapeDtypeStruct) -> jax.Array:
        dtype = np.dtype(s.dtype)
        if dtype.kind == "b":
            return jnp.asarray(rng.random(s.shape) < 0.5)
        raw = rng.integers(0, 256, size=(*s.shape, dtype.itemsize), dtype=np.uint8)
        return jnp.asarray(np.ascontiguousarray(raw).view(dtype).reshape(s.shape))

    return jax.tree.map(fill, abstract)


# The registry ids of aliases that the registry builds through a wrapper of another name.
_IDS = {"mechanize": "mechanize-adam", "optimistic_gradient_descent": "optimistic_gd"}


def _entry(name: str) -> Any:
    """The registry entry of an alias: the alias itself, else the wrapper that passes
    its extra arguments (momo's value, sophia's obj_fn...)."""
    alias = getattr(gradtx.optimizers, name)
    for entry in REGISTRY:
        if entry.values[0] is alias:
            return entry
    for entry in REGISTRY:
        if entry.id == _IDS.get(name, name):
            return entry
    raise AssertionError(f"{name} is not in the conformance registry")


PARAMS = {
    "w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float32).reshape(2, 3),
    "b": [jnp.asarray([0.5, -0.25, 2.0], jnp.bfloat16), None],
}


@pytest.mark.parametrize("name", gradtx.optimizers.__all__)
def test_every_optimizer_round_trips_bit_identically(name, tmp_path, rng):
    factory, kwargs, _ = _entry(name).values
    tx = factory(learning_rate=1e-3, **kwargs)
    abstract = jax.eval_shape(tx.init, PARAMS)
    state = _random_like(abstract, rng)  # every bit pattern, NaN payloads included
    path = tmp_path / f"{name}.npz"
    save(path, state)
    assert_identical(restore(path, like=abstract), state)
    assert_identical(restore(path, like=state), state)


def test_real_states_round_trip_and_continue(tmp_path):
    # A state after real steps (not random bits), with a schedule in it: the restored
    # state gives the same next update as the original.
    sched = gradtx.schedules.warmup_cosine_decay_schedule(0.0, 1e-2, 3, 10)
    tx = gradtx.chain(gradtx.clip_by_global_norm(1.0), gradtx.adamw(sched, weight_decay=0.1))
    update = jax.jit(tx.update)
    params = PARAMS
    state = tx.init(params)
    for t in range(3):
        grads = jax.tree.map(lambda p, t=t: (p * (t + 1) - 0.5).astype(p.dtype), params)
        updates, state = update(grads, state, params)
        params = gradtx.apply_updates(params, updates)
    save(tmp_path / "s.npz", state)
    back = restore(tmp_path / "s.npz", like=jax.eval_shape(tx.init, PARAMS))
    assert_identical(back, state)
    assert gradtx.hyperparams(back)["learning_rate"] == gradtx.hyperparams(state)["learning_rate"]
    assert_identical(update(params, back, params), update(params, state, params))


def _loss(params, x, y):
    return jnp.mean((x @ params["w"] + params["b"][0][None, :] - y) ** 2)


def _train(tx, params, batches, state=None):
    @jax.jit
    def step(params, state, x, y):
        updates, state = tx.update(jax.grad(_loss)(params, x, y), state, params)
        return gradtx.apply_updates(params, updates), state

    state = tx.init(params) if state is None else state
    for x, y in batches:
        params, state = step(params, state, x, y)
    return params, state


@pytest.mark.parametrize(
    "make",
    [
        lambda: gradtx.adam(gradtx.schedules.exponential_decay(1e-2, 2, 0.5)),
        lambda: gradtx.chain(gradtx.clip_by_global_norm(0.5), gradtx.lion(1e-3)),
    ],
    ids=["adam-schedule", "clip-lion"],
)
def test_resumed_training_continues_bit_identically(make, tmp_path, rng):
    params = {"w": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32), "b": [jnp.zeros(2), None]}
    batches = [
        (jnp.asarray(rng.normal(size=(4, 3)), jnp.float32), jnp.asarray(rng.normal(size=(4, 2))))
        for _ in range(6)
    ]
    tx = make()
    want_params, want_state = _train(tx, params, batches)

    p, s = _train(tx, params, batches[:3])
    save(tmp_path / "ckpt.npz", {"params": p, "opt_state": s, "step": 3})
    # A fresh process would rebuild the optimizer and restore from an abstract template.
    tx = make()
    template = {
        "params": jax.eval_shape(lambda: params),
        "opt_state": jax.eval_shape(tx.init, params),
        "step": 0,
    }
    ckpt = restore(tmp_path / "ckpt.npz", like=template)
    assert ckpt["step"] == 3 and type(ckpt["step"]) is int
    got_params, got_state = _train(tx, ckpt["params"], batches[3:], ckpt["opt_state"])
    assert_identical(got_params, want_params)
    assert_identical(got_state, want_state)
    assert not np.array_equal(got_params["w"], params["w"])  # it did train


def test_dtypes_and_python_numbers_round_trip(tmp_path, rng):
    tree = {
        "bf16": jnp.asarray([1.0, -0.0, np.nan, np.inf, 3.14159], jnp.bfloat16),
        "f16": np.asarray(rng.normal(size=3), np.float16),
        "f8": jnp.asarray([0.5, -2.0], ml_dtypes.float8_e4m3fn),
        "i4": jnp.asarray([-3, 7], ml_dtypes.int4),
        "count": jnp.asarray(2**31 - 1, jnp.int32),
        "key": jax.random.PRNGKey(7),  # uint32[2]
        "typed_key": jax.random.key(3),
        "flags": jnp.asarray([True, False]),
        "z": jnp.asarray(rng.normal(size=2) + 1j * rng.normal(size=2), jnp.complex64),
        "u8": np.arange(4, dtype=np.uint8),
        "empty": jnp.zeros((0, 3)),
        "epoch": 5,
        "loss": 0.25,
        "done": True,
        "np_scalar": np.float32(1.5),
        "nothing": None,
    }
    save(tmp_path / "d.npz", tree)
    back = restore(tmp_path / "d.npz", like=tree)
    assert back["nothing"] is None and back["epoch"] == 5 and back["done"] is True
    assert back["loss"] == 0.25 and type(back["np_scalar"]) is np.float32
    assert isinstance(back["f16"], np.ndarray) and isinstance(back["bf16"], jax.Array)
    arrays = {k: v for k, v in tree.items() if hasattr(v, "shape") and k != "np_scalar"}
    assert_identical({k: back[k] for k in arrays}, arrays)
    # a tree that is a single array, and the file's arrays without a template
    save(tmp_path / "leaf.npz", tree["bf16"])
    assert_identical(restore(tmp_path / "leaf.npz", like=tree["bf16"]), tree["bf16"])
    flat = restore(tmp_path / "d.npz")
    assert flat["['bf16']"].dtype == jnp.bfloat16 and flat["['count']"].dtype == np.int32


def test_file_is_an_npz_with_version_and_paths(tmp_path):
    state = gradtx.sgd(0.1, momentum=0.9).init({"w": jnp.ones(2)})
    save(tmp_path / "s.npz", state)
    with np.load(tmp_path / "s.npz") as f:
        header = __import__("json").loads(f["__gradtx__"].tobytes())
        assert header["format"] == "gradtx.checkpoint" and header["version"] == 1
        assert header["paths"] == [
            ".step",
            ".hyperparams['learning_rate']",
            ".hyperparams['momentum']",
            ".inner_state[1].trace['w']",
            ".inner_state[1].count",
            ".overrides",
        ]
        np.testing.assert_array_equal(f[".inner_state[1].trace['w']"], np.zeros(2))
    # no temporary file is left next to it
    assert sorted(os.listdir(tmp_path)) == ["s.npz"]


def test_restore_into_another_optimizer_lists_every_mismatch(tmp_path):
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
    save(tmp_path / "adam.npz", gradtx.adam(1e-3).init(params))
    with pytest.raises(ValueError, match="does not match `like`") as info:
        restore(tmp_path / "adam.npz", like=gradtx.sgd(0.1, momentum=0.9).init(params))
    msg = str(info.value)
    assert "adam.npz" in msg and "(14 mismatches, by path)" in msg
    # sgd's momentum trace is missing; adam's b1, b2, eps, eps_root, count, mu, nu are
    # extra; the record of overridden hyperparameters has another length.
    for path in (".hyperparams['momentum']", ".inner_state[1].trace['w']"):
        assert f"missing from the file: {path}" in msg
    for path in (".hyperparams['b1']", ".inner_state[0].mu['b']", ".inner_state[0].nu['w']"):
        assert f"not in `like`: {path}" in msg
    assert "shape: .overrides is (5,) in the file, (2,) in `like`" in msg
    assert msg.count("\n  ") == 14


def test_shape_dtype_and_state_type_mismatches_are_all_reported(tmp_path):
    class A(NamedTuple):
        mu: Any

    class B(NamedTuple):
        mu: Any

    save(tmp_path / "s.npz", {"s": A({"w": jnp.ones(3), "b": jnp.ones(2, jnp.bfloat16)})})
    like = {"s": B({"w": jnp.ones(4), "b": jnp.ones(2, jnp.float32)})}
    with pytest.raises(ValueError) as info:
        restore(tmp_path / "s.npz", like=like)
    msg = str(info.value)
    assert "(4 mismatches, by path)" in msg
    assert "shape: ['s'].mu['w'] is (3,) in the file, (4,) in `like`" in msg
    assert "dtype: ['s'].mu['b'] is bfloat16 in the file, float32 in `like`" in msg
    assert "state type: ['s'].mu['b'] lies in A in the file, in B in `like`" in msg


def test_bad_leaves_and_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match=r"save`: the leaf at \['name'\] is a str"):
        save(tmp_path / "x.npz", {"name": "adam", "w": jnp.ones(2)})
    assert not (tmp_path / "x.npz").exists()

    class Same:  # two distinct dict keys with the same printed name
        def __init__(self, i):
            self.i = i

        def __repr__(self):
            return "'k'"

        def __lt__(self, other):
            return self.i < other.i

        def __hash__(self):
            return self.i

    with pytest.raises(ValueError, match=r"several leaves share the path names \[\"\['k'\]\"\]"):
        save(tmp_path / "x.npz", {Same(0): jnp.ones(1), Same(1): jnp.ones(1)})

    save(tmp_path / "x.npz", {"w": jnp.ones(2)})
    with pytest.raises(ValueError, match=r"template leaf at \['w'\] is a str"):
        restore(tmp_path / "x.npz", like={"w": "float32"})
    with pytest.raises(ValueError, match=r"restore\(shardings=...\)` must be a Sharding"):
        restore(tmp_path / "x.npz", like={"w": jnp.ones(2)}, shardings=[None, None])


_SHARDED = """
import jax, jax.numpy as jnp, numpy as np, gradtx
from jax.sharding import NamedSharding, PartitionSpec as P
assert jax.device_count() == 4, jax.devices()
mesh = jax.make_mesh((4,), ("x",))
row, rep = NamedSharding(mesh, P("x")), NamedSharding(mesh, P())
params = {"w": jnp.arange(8.0).reshape(4, 2), "b": jnp.arange(4.0)}
tx = gradtx.adam(1e-3)
state = tx.update(params, tx.init(params), params)[1]
gradtx.checkpoint.save(PATH, state)

def spec(x):  # moments sharded by rows, scalars replicated
    return row if x.ndim and x.shape[0] % 4 == 0 else rep

# (1) onto an explicit tree of shardings
abstract = jax.eval_shape(tx.init, params)
shardings = jax.tree.map(spec, abstract)
a = gradtx.checkpoint.restore(PATH, like=abstract, shardings=shardings)
# (2) onto the shardings carried by the abstract template
sharded = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=spec(s)), abstract)
b = gradtx.checkpoint.restore(PATH, like=sharded)
for got in (a, b):
    for x, s, y in zip(jax.tree.leaves(got), jax.tree.leaves(shardings), jax.tree.leaves(state)):
        assert x.sharding == s, (x.sharding, s)
        np.testing.assert_array_equal(x, y)
mu = a.inner_state[0].mu["w"]
assert len(mu.addressable_shards) == 4 and mu.addressable_shards[1].data.shape == (1, 2)
# (3) one sharding for every leaf
c = gradtx.checkpoint.restore(PATH, like=abstract, shardings=rep)
assert all(x.sharding == rep for x in jax.tree.leaves(c))
print("sharded restore ok")
"""


def test_restore_onto_shardings_with_four_host_devices(tmp_path):
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    script = f"PATH = {str(tmp_path / 's.npz')!r}\n" + textwrap.dedent(_SHARDED)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sharded restore ok" in done.stdout


def test_guide_snippets_run_and_print_what_the_page_shows(tmp_path, monkeypatch):
    page = ROOT / "docs" / "guide" / "checkpointing.md"
    text = page.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    shown = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 6 and len(shown) == 5
    monkeypatch.chdir(tmp_path)  # the page writes run.npz and orbax-run/ where it runs
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - the page's code
    assert out.getvalue() == "".join(shown)


def test_optax_states_round_trip(tmp_path):
    # gradtx.checkpoint takes any pytree of arrays: optax's own states too (black box).
    optax = pytest.importorskip("optax")
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(1e-3))
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3, jnp.bfloat16)}
    state = tx.update(params, tx.init(params), params)[1]
    save(tmp_path / "optax.npz", state)
    assert_identical(restore(tmp_path / "optax.npz", like=jax.eval_shape(tx.init, params)), state)
