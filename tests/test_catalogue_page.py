"""The optimizer catalogue page (docs/catalogue.md) tells the truth.

Its table is written at each docs build by ``docs/_ext/gradtx_catalogue.py``: the paper
and the state size come from the package; the family, the optax and torch names and the
parity status are typed by hand there, and checked here.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import pytest

import gradtx

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load_catalogue():
    path = ROOT / "docs" / "_ext" / "gradtx_catalogue.py"
    spec = importlib.util.spec_from_file_location("_gradtx_catalogue_for_tests", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


cat = _load_catalogue()


def _test_sources(library: str) -> str:
    """The text of every test module that calls ``library`` (the parity tests)."""
    paths = sorted((ROOT / "tests").rglob("test_*.py"))
    texts = [p.read_text() for p in paths if p.name != pathlib.Path(__file__).name]
    calls = rf"^\s*import {library}\b|importorskip\(\"{library}\b"
    return "\n".join(t for t in texts if re.search(calls, t, re.M))


OPTAX_TESTS = _test_sources("optax")
TORCH_TESTS = _test_sources("torch")


def _resolve(dotted: str):
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr, None)


def test_every_optimizer_has_one_row():
    names = [cat.row_name(row) for row in cat.ROWS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    missing = sorted(set(gradtx.optimizers.__all__) - set(names))
    assert not missing, f"optimizers without a catalogue row: {missing}"
    unknown = sorted(n for n in names if not hasattr(gradtx, n))
    assert not unknown, f"catalogue rows naming nothing in gradtx: {unknown}"


def test_every_row_has_a_family_reference_and_year():
    for row in cat.ROWS:
        short, year = cat.reference(row)
        assert row.family and short, row.name
        assert re.fullmatch(r"(19|20)\d\d", year), (row.name, year)
    short, year = cat.reference(next(r for r in cat.ROWS if r.name == "adam"))
    assert short == "Kingma & Ba 2015 ([arXiv 1412.6980](https://arxiv.org/abs/1412.6980))"
    assert year == "2015"


def test_optax_column_is_true_and_complete():
    pytest.importorskip("optax")
    import optax.contrib  # the rows name optax.contrib.<name> too

    for row in cat.ROWS:
        if row.optax is not None:
            assert _resolve(row.optax) is not None, f"{row.name}: {row.optax} does not exist"
            assert "optax" in row.parity, f"{row.name}: no optax parity status"
            name = cat.row_name(row)
            assert re.search(rf"\b{name}\b", OPTAX_TESTS), f"no parity test names {name}"
        else:
            # A row without an optax name: optax has no function of that name either.
            name = cat.row_name(row)
            assert not hasattr(optax, name) and not hasattr(optax.contrib, name), name


def test_torch_column_is_true_and_tested():
    pytest.importorskip("torch")
    for row in cat.ROWS:
        if row.torch is not None:
            assert _resolve(row.torch) is not None, f"{row.name}: {row.torch} does not exist"
            cls = row.torch.rpartition(".")[2]
            assert re.search(rf"\b{cls}\b", TORCH_TESTS), f"no torch parity test of {cls}"
        assert ("torch" in row.parity) == (row.torch is not None), row.name


def test_state_sizes_are_measured():
    sizes = {row.name: cat.state_bytes_per_param(row) for row in cat.ROWS}
    assert sizes["sgd"] == pytest.approx(0.0, abs=1e-4)
    assert sizes["adam"] == pytest.approx(8.0, abs=1e-4)
    assert sizes["amsgrad"] == pytest.approx(12.0, abs=1e-4)
    assert sizes["lion"] == pytest.approx(4.0, abs=1e-4)
    assert sizes["adafactor"] < 0.01


def test_adafactor_state_is_rows_plus_columns():
    # The memory requirement: for a 1024 x 1024 matrix, Adafactor's state is
    # O(rows + cols): one row and one column accumulator, nothing parameter-sized.
    params = {"w": jax.ShapeDtypeStruct((1024, 1024), jnp.float32)}
    moments = jax.eval_shape(gradtx.adafactor(1e-3).init, params).inner_state[0]
    assert (moments.v_row["w"].shape, moments.v_col["w"].shape) == ((1024,), (1024,))
    assert moments.v["w"].size == 1  # a placeholder: the full moment is not kept
    # Below min_dim_size_to_factor the full second moment is kept.
    small = {"w": jax.ShapeDtypeStruct((64, 64), jnp.float32)}
    assert jax.eval_shape(gradtx.adafactor(1e-3).init, small).inner_state[0].v["w"].size == 4096


def test_table_renders_every_row(tmp_path):
    cat.write_table(tmp_path)
    text = (tmp_path / cat.OUT_FILE).read_text()
    for row in cat.ROWS:
        assert f"{{func}}`{row.name} <gradtx.{cat.row_name(row)}>`" in text
    adam_line = next(line for line in text.splitlines() if "<gradtx.adam>" in line)
    assert "| 8 |" in adam_line and "`torch.optim.Adam`" in adam_line
