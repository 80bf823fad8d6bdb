"""Run by tests/test_sharding.py in a subprocess with 8 simulated CPU devices.

Prints one JSON object: per optimizer and configuration, the state leaves whose sharding
differs from ``gradtx.sharding.state_shardings``'s promise (after init and after the
jitted updates), the per-device state bytes, and the largest difference from the
single-device run.
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()

import json  # noqa: E402 - XLA_FLAGS must be set before jax is imported

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import gradtx  # noqa: E402

STEPS = 3
AXIS = jax.sharding.AxisType.Auto
OPTIMIZERS = {
    "adam": lambda: gradtx.adam(1e-2),
    "adamw": lambda: gradtx.adamw(1e-2, weight_decay=0.1),
    "sgd-momentum": lambda: gradtx.sgd(1e-2, momentum=0.9),
    "lion": lambda: gradtx.lion(1e-3),
    "adafactor": lambda: gradtx.adafactor(1e-2, min_dim_size_to_factor=8),
    "schedule_free_adamw": lambda: gradtx.schedule_free_adamw(1e-2),
}


def make_params():
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    return {
        "dense": {
            "w": jax.random.normal(k1, (64, 32), jnp.float32),
            "b": jax.random.normal(k2, (32,), jnp.float32),
        },
        "head": jax.random.normal(k3, (8, 5), jnp.float32),  # 5 columns: not splittable by 2
        "odd": jnp.full((3, 5), 0.5, jnp.float32),  # no dimension divisible by 8 or 4
        "scale": jnp.ones((), jnp.float32),
    }


def grads_at(params, t):
    # A deterministic, parameter-dependent "gradient" (that of 0.5 |p - t|^2 + sin p).
    return jax.tree.map(lambda p: p - 0.1 * t + jnp.sin(p), params)


def run(tx, params, p_sh=None, s_sh=None, explicit=False):
    """Init and STEPS updates, with the given shardings or on one device (None)."""
    if p_sh is None:
        init, kw = jax.jit(tx.init), {}
    else:
        init = jax.jit(tx.init, out_shardings=s_sh)
        kw = {"in_shardings": (p_sh, s_sh), "out_shardings": (p_sh, s_sh)}

    def step(p, s):
        def body(t, carry):
            p, s = carry
            u, s = tx.update(grads_at(p, t.astype(jnp.float32)), s, p)
            if explicit:  # explicit axes: the updates follow the (split) moments
                u = jax.sharding.reshard(u, p_sh)
            return gradtx.apply_updates(p, u), s

        return jax.lax.fori_loop(0, STEPS, body, (p, s))

    state0 = init(params)
    return state0, jax.jit(step, **kw)(params, state0)


def mismatches(state, promised):
    bad = []
    for (path, leaf), want in zip(
        jax.tree.leaves_with_path(state), jax.tree.leaves(promised), strict=True
    ):
        if not leaf.sharding.is_equivalent_to(want, leaf.ndim):
            bad.append(f"{jax.tree_util.keystr(path)}: {leaf.sharding} != {want}")
    return bad


def device_bytes(state):
    """The largest number of state bytes any one device holds."""
    per = {}
    for leaf in jax.tree.leaves(state):
        for shard in leaf.addressable_shards:
            per[shard.device] = per.get(shard.device, 0) + shard.data.nbytes
    return max(per.values())


def max_rel_err(a, b):
    errs = [
        float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
        / max(1.0, float(np.max(np.abs(np.asarray(y, np.float64)))))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
    ]
    return max(errs)


def main():
    assert jax.device_count() == 8, jax.devices()
    params = make_params()
    mesh1 = jax.make_mesh((8,), ("data",), axis_types=(AXIS,))
    mesh2 = jax.make_mesh((4, 2), ("data", "model"), axis_types=(AXIS, AXIS))
    mesh3 = jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Explicit,))
    configs = {
        # replicated parameters (data parallel), state following them
        "replicated": (mesh1, jax.tree.map(lambda _: NamedSharding(mesh1, P()), params), None),
        # the same with ZeRO-1: moments split over the 8 devices
        "zero1": (mesh1, jax.tree.map(lambda _: NamedSharding(mesh1, P()), params), "data"),
        # model-parallel parameters on a 4 x 2 mesh, ZeRO-1 for the replicated ones
        "2d": (
            mesh2,
            {
                "dense": {
                    "w": NamedSharding(mesh2, P(None, "model")),
                    "b": NamedSharding(mesh2, P("model")),
                },
                "head": NamedSharding(mesh2, P()),
                "odd": NamedSharding(mesh2, P()),
                "scale": NamedSharding(mesh2, P()),
            },
            "data",
        ),
        # ZeRO-1 on an Explicit mesh (make_mesh's default): the step reshards the updates
        "explicit-zero1": (
            mesh3,
            jax.tree.map(lambda _: NamedSharding(mesh3, P()), params),
            "data",
        ),
    }
    out = {}
    for name, make in OPTIMIZERS.items():
        tx = make()
        single_state0, (single_p, single_s) = run(tx, params)
        rec = {}
        for cname, (_, p_sh, axis) in configs.items():
            if cname in ("replicated", "explicit-zero1") and name != "adam":
                continue  # one optimizer shows these
            if cname == "2d" and name in ("adamw", "sgd-momentum", "lion"):
                continue  # elementwise like adam: the same leaves, the same path matching
            abstract = jax.tree.map(lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype), params)
            s_sh = gradtx.sharding.state_shardings(tx, abstract, p_sh, zero1_axis=axis)
            placed = jax.device_put(params, p_sh)
            state0, (p, s) = run(tx, placed, p_sh, s_sh, explicit=cname.startswith("explicit"))
            rec[cname] = {
                "init_mismatch": mismatches(state0, s_sh),
                "update_mismatch": mismatches(s, s_sh),
                "param_mismatch": mismatches(p, p_sh),
                "bytes": device_bytes(state0),
                "init_err": max_rel_err(state0, single_state0),
                "param_err": max_rel_err(p, single_p),
                "state_err": max_rel_err(s, single_s),
                # the promised spec of every leaf, by path
                "specs": {
                    jax.tree_util.keystr(k): str(v.spec) for k, v in jax.tree.leaves_with_path(s_sh)
                },
            }
        rec["single_bytes"] = device_bytes(single_state0)
        out[name] = rec
    print(json.dumps(out))


if __name__ == "__main__":
    main()
