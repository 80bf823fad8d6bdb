"""examples/ill_conditioned.py shows the plateau lesson with the numbers its docstring promises.

``main(argv)`` runs in-process (loaded from ``examples/`` as tests/test_examples.py does) in
quick mode (300 steps on f = 1/2 (100 x1^2 + 1e-3 x2^2) from (0.01, 30), f0 = 0.455,
gradient norm 1.0), and the printed markdown table is parsed and checked.

Measured on CPU (float32, deterministic: exact gradients, no randomness), quick run:

| method | loss chg 100-200 | min grad 100-200 | steps to 1e-4 f0 | peak f 0-30 | f end | grad end |
|---|---:|---:|---:|---:|---:|---:|
| gradient descent | -0.526% | 0.137 | not in 300 | 0.455 | 0.445 | 0.0574 |
| rmsprop | -41.8% | 4.74 | not in 300 | 5.13 | 0.126 | 5 |
| rmsprop + warmup-cosine | -90.8% | 3.77 | 269 | 2.1 | 2.5e-29 | 7e-14 |
| adam | -100% | 1.5e-4 | 93 | 49.4 | 3.4e-13 | 8.2e-6 |
| adam + warmup-cosine | -100% | 1.7e-4 | 106 | 0.476 | 6.4e-11 | 5.4e-7 |
"""

from __future__ import annotations

from types import ModuleType

import pytest
from _examples import load_example, markdown_table

pytest.importorskip("matplotlib")

NAMES = [
    "gradient descent",
    "rmsprop",
    "rmsprop + warmup-cosine",
    "adam",
    "adam + warmup-cosine",
]


@pytest.fixture(scope="module")
def ill_conditioned() -> ModuleType:
    return load_example("ill_conditioned")


def test_ill_conditioned_quick(ill_conditioned, tmp_path, capsys):
    assert ill_conditioned.main(["--quick", "--out", str(tmp_path)]) == 0
    png = tmp_path / "ill_conditioned.png"
    assert png.is_file() and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.stat().st_size > 10_000

    out = capsys.readouterr().out
    assert "f(x0) = 0.455, gradient norm 1, 300 steps" in out
    table = markdown_table(out)
    assert list(table) == NAMES
    # columns: learning rate, loss change over steps 100-200 (%), min grad norm over steps
    # 100-200, steps to f < 1e-4 f0, peak f over steps 0-30, f after 300, grad norm after 300
    change = {n: float(c[1].rstrip("%")) for n, c in table.items()}
    plateau_grad = {n: float(c[2]) for n, c in table.items()}
    reached = {n: c[3] for n, c in table.items()}
    peak = {n: float(c[4]) for n, c in table.items()}
    final = {n: float(c[5]) for n, c in table.items()}
    final_grad = {n: float(c[6]) for n, c in table.items()}
    f0, g0 = 0.455, 1.0

    # The plateau: gradient descent's loss falls by less than 1% over 100 steps (0.526%)
    # while its gradient norm stays above 0.1 x the initial one (0.137), and it is still
    # at 0.445 (98% of f0) after 300 steps.
    assert -1.0 < change["gradient descent"] < 0.0
    assert plateau_grad["gradient descent"] > 0.1 * g0
    assert reached["gradient descent"] == "not in 300"
    assert final["gradient descent"] > 0.9 * f0
    assert "the gradient norm stays >= 0.137 (14% of its initial 1: not small)" in out

    # RMS scaling with a constant rate crosses the valley floor but then bounces between
    # the walls: loss stuck at 0.126 with a gradient norm of 5.
    assert reached["rmsprop"] == "not in 300"
    assert final["rmsprop"] > 0.1 and final_grad["rmsprop"] > 1.0

    # RMS scaling with warmup + cosine decay, and Adam with or without it, reach the
    # threshold in the budget (269, 93, 106 steps), where gradient descent does not, and
    # their final gradients (7e-14, 8.2e-6, 5.4e-7) are 1e4 times below GD's plateau one.
    for name in ("rmsprop + warmup-cosine", "adam", "adam + warmup-cosine"):
        assert reached[name].isdigit() and int(reached[name]) < 300, (name, reached[name])
        assert final[name] < 1e-4 * f0, (name, final[name])
        assert final_grad[name] < 1e-4 * plateau_grad["gradient descent"], name
    assert int(reached["adam"]) < 150 and int(reached["adam + warmup-cosine"]) < 150

    # Warmup: Adam's first step moves every coordinate by the full rate, kicking the steep
    # one up the wall (peak loss 49.4 = 108 f0); with the warmup the peak is 0.476 (1.05 f0).
    assert peak["adam"] > 10 * f0
    assert peak["adam + warmup-cosine"] < 1.2 * f0


def test_ill_conditioned_rejects_a_budget_shorter_than_the_plateau(ill_conditioned):
    with pytest.raises(SystemExit):
        ill_conditioned.parse_args(["--steps", "150"])
