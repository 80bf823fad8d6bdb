"""The optimizer catalogue: one row per optimizer, written into the docs at each build.

What is typed here by hand is only what the code cannot say: the family, the names of
the same method in optax and torch, and the parity status (which tests/parity checks).
The rest is read from the package at build time, so it cannot go stale: the paper and
year come from the ``Reference:`` line of each optimizer's docstring, and the state
size is measured with ``jax.eval_shape(tx.init, ...)`` on a 1024 x 1024 float32
matrix (no memory is allocated).

``tests/test_catalogue_page.py`` checks the hand-typed columns: every optimizer in
``gradtx.optimizers.__all__`` has a row, every optax and torch name exists in those
libraries, and every claimed parity has a test. The functions here import no Sphinx.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections.abc import Callable
from typing import Any

OUT_FILE = "_generated/catalogue_table.md"  # relative to the Sphinx source directory
SHAPE = (1024, 1024)


@dataclasses.dataclass(frozen=True)
class Row:
    """One optimizer of the catalogue.

    Attributes:
      name: how the row is labelled; a gradtx name, or a call such as
        ``"cautious(adamw)"`` for wrappers.
      family: the family heading.
      build: returns the transformation to measure (default: ``gradtx.<name>(1e-3)``).
      doc: the gradtx name whose docstring holds the reference (default: ``name``).
      optax: where optax has the same method (``"optax.adam"``,
        ``"optax.contrib.muon"``), or ``None``.
      torch: where torch.optim has it (``"torch.optim.Adam"``), or ``None``.
      parity: the parity status, as tested in tests/parity.
    """

    name: str
    family: str
    optax: str | None = None
    torch: str | None = None
    parity: str = ""
    build: Callable[[], Any] | None = None
    doc: str | None = None


def _g():
    import gradtx

    return gradtx


def _lr(name: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: getattr(_g(), name)(*args, **kwargs)


_SAME = "optax 1e-10"
_SAME_TORCH = "optax 1e-10, torch 1e-10"

ROWS: tuple[Row, ...] = (
    # -- SGD and momentum
    Row("sgd", "SGD and momentum", "optax.sgd", "torch.optim.SGD", _SAME_TORCH),
    Row(
        "noisy_sgd",
        "SGD and momentum",
        "optax.noisy_sgd",
        None,
        _SAME,
        build=_lr("noisy_sgd", 1e-3, key=0),
    ),
    Row("polyak_sgd", "SGD and momentum", "optax.polyak_sgd", None, _SAME),
    Row(
        "optimistic_gradient_descent",
        "SGD and momentum",
        "optax.optimistic_gradient_descent",
        None,
        _SAME,
    ),
    # -- Adam and its variants
    Row("adam", "Adam family", "optax.adam", "torch.optim.Adam", _SAME_TORCH),
    Row("adamw", "Adam family", "optax.adamw", "torch.optim.AdamW", _SAME_TORCH),
    Row("amsgrad", "Adam family", "optax.amsgrad", "torch.optim.Adam", _SAME_TORCH),
    Row("adamax", "Adam family", "optax.adamax", "torch.optim.Adamax", _SAME_TORCH),
    Row("adamaxw", "Adam family", "optax.adamaxw", None, _SAME),
    Row("nadam", "Adam family", "optax.nadam", "torch.optim.NAdam", "optax 1e-10, torch 1e-6"),
    Row("nadamw", "Adam family", "optax.nadamw", "torch.optim.NAdam", "optax 1e-10, torch 1e-6"),
    Row("radam", "Adam family", "optax.radam", "torch.optim.RAdam", "optax 1e-10, torch 1e-6"),
    Row("adabelief", "Adam family", "optax.adabelief", None, _SAME),
    Row("yogi", "Adam family", "optax.yogi", None, _SAME),
    Row(
        "adan",
        "Adam family",
        "optax.adan",
        None,
        "optax 1e-10 at b2=0; differs on purpose (the paper's b2 weight)",
    ),
    Row("adopt", "Adam family", "optax.contrib.adopt", None, _SAME),
    Row("optimistic_adam", "Adam family", "optax.optimistic_adam", None, _SAME),
    Row("optimistic_adam_v2", "Adam family", "optax.optimistic_adam_v2", None, _SAME),
    Row("mars", "Adam family", None, None, "NumPy reference of the paper"),
    Row("adam_mini", "Adam family", None, None, "NumPy reference of the paper"),
    # -- RMS scaling
    Row("rmsprop", "RMS scaling", "optax.rmsprop", "torch.optim.RMSprop", _SAME_TORCH),
    Row("adagrad", "RMS scaling", "optax.adagrad", "torch.optim.Adagrad", _SAME_TORCH),
    Row("adadelta", "RMS scaling", "optax.adadelta", "torch.optim.Adadelta", _SAME_TORCH),
    # -- sign
    Row("sign_sgd", "Sign descent", "optax.sign_sgd", None, _SAME),
    Row("signum", "Sign descent", "optax.signum", None, _SAME),
    Row("lion", "Sign descent", "optax.lion", None, _SAME),
    Row(
        "rprop",
        "Sign descent",
        "optax.rprop",
        "torch.optim.Rprop",
        "torch 1e-10; optax is one step late (differs on purpose)",
    ),
    # -- layer-wise trust ratios
    Row("lars", "Layer-wise trust ratio", "optax.lars", None, _SAME),
    Row("lamb", "Layer-wise trust ratio", "optax.lamb", None, _SAME),
    Row("fromage", "Layer-wise trust ratio", "optax.fromage", None, _SAME),
    Row("novograd", "Layer-wise trust ratio", "optax.novograd", None, _SAME),
    # -- low memory
    Row(
        "adafactor",
        "Low memory",
        "optax.adafactor",
        "torch.optim.Adafactor",
        "optax 1e-10, torch 1e-10",
    ),
    Row("sm3", "Low memory", "optax.sm3", None, _SAME),
    Row("galore", "Low memory", "optax.contrib.galore", None, _SAME),
    # -- preconditioned / second order
    Row("muon", "Matrix preconditioning", "optax.contrib.muon", "torch.optim.Muon", "optax, torch"),
    Row("shampoo", "Matrix preconditioning", None, None, "NumPy reference of the papers"),
    Row("soap", "Matrix preconditioning", None, None, "NumPy reference of the paper"),
    Row(
        "sophia",
        "Matrix preconditioning",
        "optax.contrib.sophia",
        None,
        _SAME,
    ),
    # -- averaging and mixtures of momenta
    Row(
        "schedule_free_sgd",
        "Schedule-free and mixtures",
        "optax.contrib.schedule_free_sgd",
        None,
        "optax 1e-10 without warmup; warmup differs on purpose",
    ),
    Row(
        "schedule_free_adamw",
        "Schedule-free and mixtures",
        "optax.contrib.schedule_free_adamw",
        None,
        "optax 1e-10 without warmup; warmup differs on purpose",
    ),
    Row("ademamix", "Schedule-free and mixtures", "optax.contrib.ademamix", None, _SAME),
    Row(
        "simplified_ademamix",
        "Schedule-free and mixtures",
        "optax.contrib.simplified_ademamix",
        None,
        _SAME,
    ),
    Row("madgrad", "Schedule-free and mixtures", "optax.contrib.madgrad", None, "optax 1e-6"),
    Row("acprop", "Schedule-free and mixtures", "optax.contrib.acprop", None, _SAME),
    # -- learning-rate free
    Row("prodigy", "Learning-rate free", "optax.contrib.prodigy", None, _SAME),
    Row("dadapt_adamw", "Learning-rate free", "optax.contrib.dadapt_adamw", None, _SAME),
    Row("dog", "Learning-rate free", "optax.contrib.dog", None, _SAME),
    Row("dowg", "Learning-rate free", "optax.contrib.dowg", None, _SAME),
    Row(
        "cocob",
        "Learning-rate free",
        "optax.contrib.cocob",
        None,
        "optax 1e-10 at learning_rate=1 (optax ignores it)",
    ),
    Row(
        "mechanize",
        "Learning-rate free",
        "optax.contrib.mechanize",
        None,
        _SAME,
        build=lambda: _g().mechanize(_g().adam(1e-3)),
    ),
    # -- model-based step sizes
    Row("momo", "Model-based step sizes", "optax.contrib.momo", None, "optax 1e-10 without decay"),
    Row(
        "momo_adam",
        "Model-based step sizes",
        "optax.contrib.momo_adam",
        None,
        "optax 1e-10 without decay",
    ),
    # -- privacy
    Row(
        "dpsgd",
        "Differential privacy",
        "optax.contrib.dpsgd",
        None,
        _SAME,
        build=_lr("dpsgd", 1e-3, l2_norm_clip=1.0, noise_multiplier=1.0, seed=0),
    ),
    # -- wrappers that make an optimizer of another
    Row(
        "sam(sgd, sgd)",
        "Wrappers",
        "optax.contrib.sam",
        None,
        _SAME,
        build=lambda: _g().sam(_g().sgd(1e-3), _g().sgd(5e-2)),
        doc="sam",
    ),
    Row(
        "cautious(adamw)",
        "Wrappers",
        None,
        None,
        "NumPy reference of the paper",
        build=lambda: _g().cautious(_g().adamw(1e-3)),
        doc="cautious",
    ),
)


def row_name(row: Row) -> str:
    """The gradtx name a row documents (``cautious`` for ``"cautious(adamw)"``)."""
    return row.doc or row.name


def reference(row: Row) -> tuple[str, str]:
    """``(short reference, year)`` from the ``Reference:`` line of the docstring."""
    doc = getattr(_g(), row_name(row)).__doc__ or ""
    match = re.search(r"References?:\s*(.*?)(?:\n\s*\n|\Z)", doc, re.S)
    if match is None:
        raise ValueError(f"gradtx.{row_name(row)}'s docstring has no 'Reference:' line")
    text = " ".join(match.group(1).split())
    parts, year = [], ""
    for segment in text.split(";"):
        authors = re.match(r"\s*(.*?\b(1[89]\d\d|20\d\d))\b", segment)
        if authors is None:
            continue
        year = year or authors[2]
        names = authors[1][: -len(authors[2])].strip()
        if "," in names:  # three or more authors
            names = names.split(",")[0] + " et al."
        arxiv = re.search(r"arXiv[: ]\s*(\d{4}\.\d{4,5})", segment)
        link = f" ([arXiv {arxiv[1]}](https://arxiv.org/abs/{arxiv[1]}))" if arxiv else ""
        parts.append(f"{names} {authors[2]}{link}")
    return "; ".join(parts), year


def state_bytes_per_param(row: Row) -> float:
    """Bytes of state per parameter, for one 1024 x 1024 float32 matrix."""
    import jax
    import jax.numpy as jnp

    build = row.build or _lr(row.name, 1e-3)
    params = {"w": jax.ShapeDtypeStruct(SHAPE, jnp.float32)}
    state = jax.eval_shape(build().init, params)
    total = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(state))
    return total / (SHAPE[0] * SHAPE[1])


def _bytes_cell(value: float) -> str:
    if value >= 0.995:
        return f"{value:.0f}" if abs(value - round(value)) < 0.005 else f"{value:.2f}"
    return f"{value:.3f}"


def _have(value: str | None) -> str:
    return f"`{value}`" if value else "—"


def table() -> str:
    """The catalogue as Markdown tables, one per family, in the order of ``ROWS``."""
    out: list[str] = []
    family = None
    for row in ROWS:
        if row.family != family:
            family = row.family
            out += [
                "",
                f"## {family}",
                "",
                "| optimizer | state bytes / param | paper | year | optax | torch.optim | parity |",
                "|---|---|---|---|---|---|---|",
            ]
        short, year = reference(row)
        cells = [
            f"{{func}}`{row.name} <gradtx.{row_name(row)}>`",
            _bytes_cell(state_bytes_per_param(row)),
            short,
            year,
            _have(row.optax),
            _have(row.torch),
            row.parity,
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out).lstrip("\n") + "\n"


def write_table(srcdir: pathlib.Path) -> None:
    path = srcdir / OUT_FILE
    path.parent.mkdir(exist_ok=True)
    text = table()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------ sphinx


def _on_config_inited(app, config) -> None:
    write_table(pathlib.Path(app.srcdir))


def setup(app):
    app.connect("config-inited", _on_config_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
