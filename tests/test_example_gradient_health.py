"""examples/gradient_health.py shows vanishing and exploding gradients and their fixes, in numbers.

``main(argv)`` runs in-process (loaded from ``examples/`` as tests/test_examples.py does) in
quick mode (training on 512 digits for 100 steps), seed 0; its four printed markdown
tables are parsed and checked.

Measured on CPU (jax 0.10, float32; seed 0, the value each bar is set against is in the
comment next to it; seeds 1 and 2 were run too and are quoted where they differ):

* part 1, first/last layer gradient-norm ratio: sigmoid N(0, 1) 0.0617, 0.00849, 0.00102,
  4.2e-7 at depths 5, 10, 20, 40; sigmoid Xavier 8.7e-4, 5.2e-7, 6.3e-13, 0; sigmoid
  N(0, 0.01^2) 1.2e-8, 6.6e-18, 0, 0; ReLU Xavier 0.338, 0.0672, 0.00262, 6.7e-7; ReLU
  Kaiming 0.491, 0.267, 0.351, 0.395 (seeds 1-2: 0.317-0.649). At depth 20 Kaiming's
  layers 1-20 have norms 7.2-28 (seeds 1-2: 5.8-36.5).
* part 2, ||W_100...W_1|| / sqrt(n): N(0, 1) 1.1e90, 2/n 6.3e14, Xavier 0.69, 1/(2n) 5e-16;
  Xavier over depths 10-100 0.68-1.19 (seeds 1-2: 0.79-1.08).
* part 3: 6/n without clipping is non-finite from step 2 (seeds 0-4: step 2-3); with
  clipping the loss goes 811 -> 1.6 (seeds 0-4: final 0.62-1.95, 0.2-0.5% of the initial
  loss); Kaiming without clipping 3.97 -> 0.416.
"""

from __future__ import annotations

import math
import re

import pytest
from _examples import load_example

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

STACKS = [
    "sigmoid, N(0, 1)",
    "sigmoid, N(0, 0.01^2)",
    "sigmoid, xavier",
    "relu, xavier",
    "relu, kaiming",
]


def _tables(text: str) -> list[dict[str, list[str]]]:
    """Every printed markdown table, in order: first cell -> the other cells."""
    tables: list[list[str]] = []
    previous = False
    for line in text.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous:
            tables.append([])
        if is_row:
            tables[-1].append(line)
        previous = is_row
    out = []
    for rows in tables:  # rows[0] is the header, rows[1] the |---| line
        cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]
        out.append({c[0]: c[1:] for c in cells})
    return out


def test_gradient_health_quick(tmp_path, capsys):
    gradient_health = load_example("gradient_health")
    assert gradient_health.main(["--quick", "--out", str(tmp_path)]) == 0
    png = tmp_path / "gradient_health.png"
    assert png.is_file() and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.stat().st_size > 10_000

    out = capsys.readouterr().out
    layers, ratios, products, runs = _tables(out)
    assert list(layers) == STACKS and list(ratios) == STACKS
    layer = {name: [float(v) for v in cells] for name, cells in layers.items()}  # 1,5,..,20
    ratio = {name: [float(v) for v in cells] for name, cells in ratios.items()}  # 5,..,40

    # Vanishing: sigmoid with Xavier's 1/n loses ~1000x every 5 layers (slope <= 1/4):
    # layer 1 / layer 5 / ... / layer 20 = 2.5e-12, 2.9e-9, 2.6e-6, 3.1e-3, 4.05.
    g = layer["sigmoid, xavier"]
    assert all(a < 1e-2 * b for a, b in zip(g, g[1:], strict=False)), g
    assert g[0] < 1e-9 and g[-1] > 1.0, g
    # first/last at depth 20: N(0, 1) 0.00102, Xavier 6.3e-13, N(0, 0.01^2) 0 (underflow)
    assert ratio["sigmoid, N(0, 1)"][2] < 1e-2
    assert ratio["sigmoid, N(0, 1)"][3] < 1e-4  # depth 40: 4.2e-7
    assert ratio["sigmoid, xavier"][1] < 1e-4 and ratio["sigmoid, xavier"][2] < 1e-10
    assert ratio["sigmoid, N(0, 0.01^2)"][1] < 1e-12  # depth 10: 6.6e-18
    for name in ("sigmoid, N(0, 1)", "sigmoid, xavier", "relu, xavier"):
        r = ratio[name]  # geometric in depth: every deeper stack is worse
        assert r[0] > r[1] > r[2] >= r[3], (name, r)
    assert ratio["relu, xavier"][3] < 1e-4  # 1/n halves the ReLU signal's energy: 6.7e-7

    # The fix: Kaiming keeps first/last of order one at every depth (0.267-0.491) and the
    # 20 layers' norms within a factor 10 of each other (7.2-28).
    assert all(0.1 < r < 10 for r in ratio["relu, kaiming"]), ratio["relu, kaiming"]
    k = layer["relu, kaiming"]
    assert max(k) < 10 * min(k), k

    # Exploding products: the norm scales like (v n)^(L/2). Depths 10, 25, 50, 100.
    prod = {name: [float(v) for v in cells] for name, cells in products.items()}
    assert list(prod) == ["N(0, 1)", "N(0, 2/n)", "N(0, 1/n) = xavier", "N(0, 1/(2n))"]
    assert prod["N(0, 1)"][0] > 1e6 and prod["N(0, 1)"][3] > 1e80  # 9.9e8, 1.1e90
    # 2/n doubles the energy per layer: 50 more layers = 2^25 (measured 2^24.6); 1/(2n)
    # halves it (2^-25.4).
    assert 22 < math.log2(prod["N(0, 2/n)"][3] / prod["N(0, 2/n)"][2]) < 28
    assert -28 < math.log2(prod["N(0, 1/(2n))"][3] / prod["N(0, 1/(2n))"][2]) < -22
    assert prod["N(0, 2/n)"][2] > 1e5 and prod["N(0, 1/(2n))"][2] < 1e-5  # 2.5e7, 2.2e-8
    assert all(0.2 < v < 5 for v in prod["N(0, 1/n) = xavier"]), prod  # 0.68-1.19
    course = re.search(r"4x4 N\(0, 1\) matrices\|\| = (\S+)", out)
    assert course and float(course.group(1)) > 1e15  # 7.2e23

    # Clipping: columns loss at 0, grad norm at 0, max grad norm, first non-finite step,
    # final loss.
    assert list(runs) == [
        "kaiming 2/n, no clipping",
        "6/n, no clipping",
        "6/n, clip_by_global_norm(1)",
    ]
    loss0, grad0, max_grad, bad, final = runs["6/n, no clipping"]
    assert float(grad0) > 300 and float(loss0) > 100  # 2.1e3, 811
    assert bad.isdigit() and int(bad) <= 5 and final == "nan"  # step 2
    loss0, grad0, max_grad, bad, final = runs["6/n, clip_by_global_norm(1)"]
    assert bad == "none"
    assert float(max_grad) == float(grad0)  # the gradients never grew past the first one
    assert float(final) < 0.01 * float(loss0) and float(final) < 3.0  # 811 -> 1.6
    loss0, _, _, bad, final = runs["kaiming 2/n, no clipping"]
    assert bad == "none" and float(final) < 0.25 * float(loss0)  # 3.97 -> 0.416
