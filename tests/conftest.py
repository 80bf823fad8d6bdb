"""Strict settings shared by every test, and the fixtures they draw on.

- Implicit rank promotion raises (``x + y`` with ranks 1 and 2 is an error, not a silent
  broadcast); scalars still broadcast.
- Warnings are errors (``filterwarnings`` in pyproject.toml).
- Randomness comes from ``rng``, a NumPy generator seeded by the test's own name, so a
  test draws the same numbers alone, in any order and under ``pytest -n``.
- ``x64`` turns on float64 for one test and restores the previous setting after it;
  ``float_dtype`` runs a test in float32 and float64.
- One XLA compilation cache per run, shared by the ``pytest -n`` workers and the
  subprocesses they start (see ``_COMPILATION_CACHE``).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile
import zlib

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

# The suite compiles thousands of small programs, and many of them twice or more: each
# xdist worker compiles the same eager operations and helper programs, and tests rebuild
# the same optimizers (new closures, so JAX's in-memory caches miss, but the same XLA
# program). JAX's persistent cache, keyed by the program itself, serves those repeats
# from disk. The folder lives for one run only (named by xdist's run id, removed at the
# end), so a run never reuses programs compiled by an earlier version of the code. A
# cache the caller configured (JAX_COMPILATION_CACHE_DIR) is left alone.
_RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
_COMPILATION_CACHE = pathlib.Path(tempfile.gettempdir()) / f"gradtx-tests-xla-{_RUN_ID}"
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWN_CACHE:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(_COMPILATION_CACHE)  # subprocesses too
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    jax.config.update("jax_compilation_cache_dir", str(_COMPILATION_CACHE))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (not an xdist worker) removes the run's compilation cache."""
    if _OWN_CACHE and not hasattr(session.config, "workerinput"):
        shutil.rmtree(_COMPILATION_CACHE, ignore_errors=True)


# The helpers (``_problems``, ``_reference``) live next to this file.
_TESTS = str(pathlib.Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A NumPy generator seeded by the test's name (with its parameters)."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


@pytest.fixture
def x64():
    """Enable float64 for this test; restore the previous setting afterwards."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture(params=["float32", "float64"])
def float_dtype(request: pytest.FixtureRequest):
    """Run the test in float32 and in float64 (with x64 enabled for the latter)."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", request.param == "float64")
    try:
        yield np.dtype(request.param)
    finally:
        jax.config.update("jax_enable_x64", previous)


_BACKEND_COMPILES: list[str] = []
_COMPILE_LISTENER_REGISTERED = False


@pytest.fixture
def count_compiles():
    """``count_compiles()`` is the number of XLA programs built so far in this process.

    Used to show that eager (un-jitted) steps after the first compile nothing: a
    transformation that builds new closures for ``lax.scan``/``lax.cond`` every call
    misses JAX's caches and recompiles at every step. A program loaded from the run's
    persistent compilation cache counts too: it is a program JAX had to build (its
    in-memory caches missed), served from disk instead of compiled.
    """
    global _COMPILE_LISTENER_REGISTERED
    if not _COMPILE_LISTENER_REGISTERED:
        jax.monitoring.register_event_duration_secs_listener(
            lambda name, secs, **kw: (
                _BACKEND_COMPILES.append(name)
                if name.endswith(("backend_compile_duration", "cache_retrieval_time_sec"))
                else None
            )
        )
        _COMPILE_LISTENER_REGISTERED = True
    return lambda: len(_BACKEND_COMPILES)


# Tests that take several seconds each (examples, subprocesses with simulated devices,
# whole guide pages, training runs). They run first, so that `pytest -n 2` does not end
# with one worker busy on a long test while the other idles.
_SLOW_FIRST = (
    "tests/second_order/test_newton.py::test_guide_snippets",
    "tests/test_examples.py::test_train_digits",
    "tests/test_example_data_parallel.py",
    "tests/wrappers/test_quantize.py::test_digits",
    "tests/wrappers/test_quantize.py::test_small_integer",
    "tests/test_benchmarks.py",
    "tests/test_sharding.py",
    "tests/test_example_init_study.py",
    "tests/test_checkpoint.py::test_restore_onto_shardings",
    "tests/second_order/test_linesearch.py",
    "tests/test_checkpoint_faults.py",
    "tests/test_example_gradient_health.py",
    "tests/test_example_custom_optimizer.py",
    "tests/test_example_compare.py",
    "tests/test_docs_getting_started.py",
    "tests/test_docs_migration.py",
    "tests/test_example_ill_conditioned.py",
    "tests/test_integration_flax_nnx.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the known-slow tests to the front (a stable sort keeps the rest in order)."""

    def rank(item: pytest.Item) -> int:
        for i, prefix in enumerate(_SLOW_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(_SLOW_FIRST)

    items.sort(key=rank)
