"""examples/init_study.py runs, saves its figure and prints the table its docstring promises.

``main(argv)`` runs in-process (loaded from ``examples/`` as tests/test_examples.py does) in
quick mode (50 layers, width 128, a batch of 128 digits), and the printed markdown table is
parsed and checked.

The bars, measured on CPU for the quick run with seeds 0-7: with 2/n and Kaiming the hidden
layers' activation RMS stays within 0.17-1.8 and every layer's gradient norm within
0.2-12; with 3/n the last hidden layer's RMS is 3.5e3-3.2e4 and every gradient norm is
>= 1.2e4; with 1/n and Xavier the last hidden RMS is 7e-9-7e-8 and the first layer's
gradient norm 1.5e-8-5.4e-8 (and 0.01-0.03 at the output layer). The test runs seed 0.
"""

from __future__ import annotations

import jax
import pytest
from _examples import load_example, markdown_table

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")


def test_init_study_quick(tmp_path, capsys):
    init_study = load_example("init_study")
    with jax.numpy_rank_promotion("allow"):
        assert init_study.main(["--quick", "--out", str(tmp_path)]) == 0
    png = tmp_path / "init_study.png"
    assert png.is_file() and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.stat().st_size > 10_000

    out = capsys.readouterr().out
    assert "50-layer ReLU MLP, width 128, batch of 128 digits" in out
    table = markdown_table(out)
    assert list(table) == ["1/n", "2/n", "3/n", "xavier", "kaiming"]
    # columns: activation RMS at layers 1, 25, 49; gradient norm at layers 1, 25, 50; verdict
    num = {name: [float(v) for v in cells[:6]] for name, cells in table.items()}
    verdicts = {name: cells[6] for name, cells in table.items()}
    assert verdicts == {
        "1/n": "vanishing",
        "2/n": "flat",
        "3/n": "exploding",
        "xavier": "vanishing",
        "kaiming": "flat",
    }
    for name in ("2/n", "kaiming"):
        a1, a25, a49, g1, g25, g50 = num[name]
        assert all(0.1 < a < 10 for a in (a1, a25, a49)), (name, num[name])
        assert all(0.1 < g < 100 for g in (g1, g25, g50)), (name, num[name])
    for name in ("1/n", "xavier"):
        a1, a25, a49, g1, g25, g50 = num[name]
        assert 0.3 < a1 < 1 and a25 < 1e-2 and a49 < 1e-6, (name, num[name])
        # the gradient shrinks on its way back to the input layers
        assert g1 < 1e-6 and g1 < g25 < g50, (name, num[name])
    a1, a25, a49, g1, g25, g50 = num["3/n"]
    assert a1 < 3 and a25 > 30 and a49 > 1e3, num["3/n"]
    assert min(g1, g25, g50) > 1e3, num["3/n"]
