"""The examples run, save their figures and reach the numbers their docstrings promise.

Each example's ``main(argv)`` runs in-process (imported from ``examples/``), writing into
``tmp_path``; the printed markdown table is parsed and checked, so these tests read what a
user reads.

The bars, measured on CPU (jax 0.10, seeds 0-4 of the digits run):

* quick digits run (8 epochs): every optimizer's test accuracy is 0.949-0.976, Adam's
  0.951-0.962. Broken optimizers measured on the same run stay far below 0.90: no update
  0.08, Adam with a 10x too small rate 0.64, a diverging Adam (b2=0) 0.10.
* full digits run (30 epochs, the README's command): Adam's test accuracy is 0.969-0.978;
  the promise is >= 0.95. It takes ~20 s on 2 CPU cores, mostly XLA compilation (~2 s per
  optimizer), so it runs with the rest of the suite.
* quadratic, quick (100 steps from f - f* = 13.6): momentum ends at ~1e-4, Adam at ~1e-4,
  Nesterov reaches 1e-6 in 63 steps; we ask for 3 orders of magnitude.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys
from types import ModuleType

import jax
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_digits() -> ModuleType:
    return _load("train_digits")


@pytest.fixture(scope="module")
def quadratic_paths() -> ModuleType:
    return _load("quadratic_paths")


def _run(module: ModuleType, argv: list[str]) -> None:
    # The examples broadcast biases the usual way ((batch, n) + (n,)); conftest.py makes
    # implicit rank promotion an error for the library's tests, so allow it here.
    with jax.numpy_rank_promotion("allow"):
        assert module.main(argv) == 0


def _table(text: str) -> dict[str, list[str]]:
    """The rows of the printed markdown table: first cell -> the other cells."""
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]  # no header
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return {c[0]: c[1:] for c in cells}


def _png(path: pathlib.Path) -> None:
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, path


def test_train_digits_quick(train_digits, tmp_path, capsys):
    _run(train_digits, ["--quick", "--out", str(tmp_path), "--no-progress"])
    _png(tmp_path / "digits_loss.png")
    table = _table(capsys.readouterr().out)
    assert list(table) == ["sgd", "momentum 0.9", "rmsprop", "adam", "adam + decay"]
    # columns: learning rate, train loss, train acc, test acc, seconds
    for name, (_, loss, train_acc, test_acc, _) in table.items():
        assert float(test_acc) >= 0.90, (name, test_acc)
        assert float(train_acc) >= 0.95, (name, train_acc)
        assert float(loss) < 0.2, (name, loss)
    # The decayed rate the state reports is alpha_0 / (1 + 0.1 * epoch) at the last epoch.
    start, end = (float(v) for v in table["adam + decay"][0].split("->"))
    epochs = train_digits.QUICK_EPOCHS
    assert start == pytest.approx(3e-3)
    assert end == pytest.approx(3e-3 / (1 + 0.1 * (epochs - 1)), rel=5e-3)
    assert float(table["adam"][0]) == pytest.approx(1e-3)


def test_train_digits_full_run_reaches_95_percent(train_digits, tmp_path, capsys):
    _run(train_digits, ["--out", str(tmp_path), "--no-progress"])
    _png(tmp_path / "digits_loss.png")
    table = _table(capsys.readouterr().out)
    assert float(table["adam"][3]) >= 0.95, table["adam"]


def test_train_digits_rejects_a_batch_larger_than_the_data(train_digits, tmp_path, capsys):
    assert train_digits.main(["--quick", "--batch-size", "5000", "--out", str(tmp_path)]) == 2
    assert "--batch-size 5000" in capsys.readouterr().err


def test_quadratic_paths_quick(quadratic_paths, tmp_path, capsys):
    _run(quadratic_paths, ["--quick", "--out", str(tmp_path)])
    _png(tmp_path / "quadratic_paths.png")
    out = capsys.readouterr().out
    gap0 = float(re.search(r"f\(x0\) - f\* = ([0-9.eE+-]+)", out).group(1))
    table = _table(out)
    assert list(table) == ["gradient descent", "momentum 0.9", "nesterov 0.9", "adam"]
    final = {name: float(cells[2]) for name, cells in table.items()}
    for name in ("momentum 0.9", "nesterov 0.9", "adam"):
        assert final[name] < 1e-3 * gap0, (name, final[name], gap0)
    # Nesterov reaches the tolerance within the quick run; the others are reported as such.
    assert int(table["nesterov 0.9"][1]) <= quadratic_paths.QUICK_STEPS
    assert table["gradient descent"][1] == f"not in {quadratic_paths.QUICK_STEPS}"
