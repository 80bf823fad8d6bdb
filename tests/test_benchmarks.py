"""``python -m benchmarks.run --smoke`` runs and writes the page's structure.

The smoke mode uses tiny trees and 2 repetitions, so this checks what the command
measures and how it reports it, never how fast anything is. ``main(argv)`` runs
in-process (imported from ``benchmarks/run.py``), writing into ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
OPTIMIZERS = ("sgd-momentum", "adam", "adamw", "lion", "adafactor")
STEP_ROWS = (*OPTIMIZERS, "fuse_leaves(adam)")  # fused: gradtx only, against optax's adam


def _load():
    spec = importlib.util.spec_from_file_location("_bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("bench") / "benchmarks.md"
    assert _load().main(["--smoke", "--output", str(out), "--note", "smoke run"]) == 0
    return out.read_text()


def _table(page: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first table under ``## heading``."""
    section = page.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert re.fullmatch(r"\|(---\|)+", rows[1]), rows[1]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]


def test_machine_section(page):
    assert page.startswith("# Benchmarks\n")
    assert "> smoke run" in page
    assert "`python -m benchmarks.run --smoke`" in page
    info = {r[0]: r[1] for r in _table(page, "Machine")}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", info["date"])
    assert re.search(r", \d+ cores$", info["CPU"])
    for name in ("python", "jax", "optax", "torch", "gradtx"):
        assert f"{name} " in info["versions"]
    assert float(info["copy bandwidth"].split(" GB/s")[0]) > 0


def test_step_time_table(page):
    rows = _table(page, "Step time")
    assert len(rows) == 2 * len(STEP_ROWS)  # two trees
    assert [r[1] for r in rows] == list(STEP_ROWS) * 2
    trees = sorted({r[0] for r in rows})
    assert trees == ["1,024 params, 4 leaves of 16x16", "320 params, 20 leaves of 4x4"]
    by_name = {(r[0], r[1]): r for r in rows}
    for r in rows:
        assert len(r) == 12
        roofline, gradtx_ms, optax_ms, ratio = map(float, (r[3], r[4], r[5], r[6]))
        assert 0 < roofline and 0 < gradtx_ms and 0 < optax_ms
        assert ratio == pytest.approx(gradtx_ms / optax_ms, rel=0.02, abs=2e-3)
        assert r[9].endswith("%") and r[10].endswith("%")
    big = "1,024 params, 4 leaves of 16x16"
    # compulsory bytes: 12 B (g, p in; p out) + 2 x state; one moment vs two
    assert float(by_name[(big, "sgd-momentum")][2]) == pytest.approx(20.0, abs=0.1)
    assert float(by_name[(big, "adam")][2]) == pytest.approx(28.0, abs=0.1)
    assert by_name[(big, "lion")][7] == "n/a"  # torch has no lion
    assert float(by_name[(big, "adam")][7]) > 0  # torch foreach adam
    fused = by_name[(big, "fuse_leaves(adam)")]
    assert float(fused[2]) == pytest.approx(28.0, abs=0.1)  # same traffic as adam
    assert float(fused[7]) > 0  # next to torch's adam


def test_compile_and_state_tables(page):
    compile_rows = _table(page, "Compile time")
    assert [r[1] for r in compile_rows] == [*OPTIMIZERS, "6-transform chain"]
    for r in compile_rows:
        assert float(r[2]) > 0 and float(r[3]) > 0
    state = {r[1]: (float(r[2]), float(r[3])) for r in _table(page, "State bytes per parameter")}
    assert len(state) == len(STEP_ROWS)
    assert state["fuse_leaves(adam)"][1] == state["adam"][1]
    assert state["adam"][1] == pytest.approx(8.0, abs=0.1)  # optax: mu, nu
    assert 8.0 < state["adam"][0] < 8.2  # gradtx: mu, nu and a few scalars
    assert state["sgd-momentum"][1] == pytest.approx(4.0, abs=0.01)
