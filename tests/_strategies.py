"""Hypothesis profiles and strategies for the property tests (tests/test_properties.py).

Profiles, loaded when this module is imported (``tests/conftest.py`` stays free of them):

- ``default``: fast and reproducible, for CI. ``derandomize=True`` makes every run draw the
  same examples (a failure in CI fails again on a laptop); each property sets its own
  small ``max_examples`` through :func:`examples`.
- ``long``: ``HYPOTHESIS_PROFILE=long pytest tests/test_properties.py``; a fresh random
  seed on every run and many more examples per property.

Both have no deadline (the first call of a jitted function compiles, which a deadline
would take for slowness), keep no example database (no ``.hypothesis`` folder in the
checkout) and print the blob that replays a failure (``@reproduce_failure``).

The trees are built from :class:`jax.ShapeDtypeStruct` leaves (:func:`spec_trees`), so a
property that only traces (``jax.eval_shape``) allocates nothing; :func:`values_like`
fills such a tree with finite numbers when a property runs the arithmetic.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

_COMMON = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    # Trees of a few leaves are quick to draw; the tests themselves are slow (compiles).
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("default", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def examples(default: int, long: int) -> settings:
    """``@settings`` running ``default`` examples, or ``long`` under the long profile."""
    return settings(max_examples=long if PROFILE == "long" else default)


# --------------------------------------------------------------------------------------
# Trees

FLOAT_DTYPES = (jnp.float32, jnp.bfloat16)
KEYS = st.text(alphabet="abwxyz", min_size=1, max_size=2)


def shapes(max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Small array shapes, scalars (``()``) included.

    Sides start at 1: zero-size leaves are left out, as ``sm3`` (a max over an empty
    axis) and ``muon`` (a division by a zero fan-in) fail on them at trace time, as
    optax's do (reported in issue 8's notes).
    """
    return hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=min_side, max_side=max_side)


def leaf_specs(
    dtypes: Iterable[Any] = FLOAT_DTYPES, leaf_shapes: st.SearchStrategy | None = None
) -> st.SearchStrategy:
    """``jax.ShapeDtypeStruct`` leaves of the given dtypes and shapes."""
    return st.builds(
        jax.ShapeDtypeStruct,
        leaf_shapes if leaf_shapes is not None else shapes(),
        st.sampled_from(tuple(jnp.dtype(d) for d in dtypes)),
    )


def spec_trees(
    leaves: st.SearchStrategy | None = None, max_leaves: int = 6, max_children: int = 3
) -> st.SearchStrategy:
    """Pytrees of nested dicts, lists and tuples over ``leaves`` and ``None``.

    Empty containers, ``None`` leaves, a bare leaf as the whole tree and trees with no
    array at all are all drawn; ``None`` itself is not, as ``update(updates, state,
    None)`` means that no params are given.
    """
    base = st.none() | (leaves if leaves is not None else leaf_specs())

    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        return (
            st.dictionaries(KEYS, children, max_size=max_children)
            | st.lists(children, max_size=max_children)
            | st.lists(children, max_size=max_children).map(tuple)
        )

    return st.recursive(base, extend, max_leaves=max_leaves).filter(lambda t: t is not None)


def _is_spec(x: Any) -> bool:
    return isinstance(x, jax.ShapeDtypeStruct)


@st.composite
def finite_arrays(draw: st.DrawFn, spec: jax.ShapeDtypeStruct, max_exponent: int = 2) -> Any:
    """An array of ``spec``'s shape and dtype: ``m * 10**k`` with ``|m| <= 1``, zeros likely.

    One exponent ``k`` in ``[-3, max_exponent]`` per leaf, so leaves differ in scale as the
    layers of a network do.
    """
    k = draw(st.integers(-3, max_exponent))
    mantissa = draw(
        hnp.arrays(np.float32, spec.shape, elements=st.floats(-1, 1, width=32)),
    )
    # Cast with NumPy (ml_dtypes knows bfloat16): jnp's cast would compile per shape.
    return jnp.asarray((mantissa * np.float32(10.0**k)).astype(spec.dtype))


def values_like(tree: Any, max_exponent: int = 2) -> st.SearchStrategy:
    """A tree like ``tree`` (of ``ShapeDtypeStruct`` leaves) filled with finite numbers."""
    leaves, treedef = jax.tree.flatten(tree)
    arrays = [finite_arrays(spec, max_exponent) for spec in leaves]
    return st.tuples(*arrays).map(lambda xs: jax.tree.unflatten(treedef, list(xs)))


# --------------------------------------------------------------------------------------
# Hyperparameters

# Valid values of the hyperparameters that mean the same thing in every optimizer that
# records them. A name absent here (``alpha``, ``gamma``, ``threshold``... whose meaning
# and range differ between optimizers) keeps the value the optimizer was built with.
_UNIT = st.floats(0.0, 0.99)


def _log_uniform(low: float, high: float) -> st.SearchStrategy:
    return st.floats(np.log10(low), np.log10(high)).map(lambda e: float(10.0**e))


HYPERPARAMS: Mapping[str, st.SearchStrategy] = {
    "learning_rate": _log_uniform(1e-4, 1.0),
    "b1": _UNIT,
    "adam_b1": _UNIT,
    "beta": _UNIT,
    "momentum": _UNIT,
    "decay": _UNIT,
    "rho": _UNIT,
    "shampoo_beta": _UNIT,
    "dampening": st.floats(0.0, 1.0),
    "b2": st.floats(0.0, 0.999),
    "adam_b2": st.floats(0.0, 0.999),
    "b3": st.floats(0.0, 0.9999),
    "eps": _log_uniform(1e-8, 1e-3),
    "eps_root": st.floats(0.0, 1e-8),
    "weight_decay": st.floats(0.0, 0.1),
    "adam_weight_decay": st.floats(0.0, 0.1),
    "momentum_decay": st.floats(0.0, 1e-2),
    "initial_accumulator_value": st.floats(0.0, 1.0),
    "initial_scale": st.floats(0.0, 1.0),
}


def hyperparams_for(names: Iterable[str], dtype: Any = jnp.float32) -> st.SearchStrategy:
    """A dict of valid values (scalar arrays of ``dtype``) for the known ``names``.

    Each name is drawn or left out (to keep the built value), so one draw may change only
    the learning rate and another every hyperparameter.
    """
    names = set(names)
    # sgd's dampening only exists with a momentum (without one, setting it is an error)
    known = sorted(
        n for n in names if n in HYPERPARAMS and (n != "dampening" or "momentum" in names)
    )

    def as_arrays(values: dict[str, float]) -> dict[str, jax.Array]:
        return {k: jnp.asarray(v, dtype) for k, v in values.items()}

    return st.fixed_dictionaries({}, optional={n: HYPERPARAMS[n] for n in known}).map(as_arrays)
