"""The schedules gallery: a plot of every public schedule, drawn at each docs build.

For every name in ``gradtx.schedules.__all__`` this evaluates one example call (typed
below, the only hand-written part) on the step counts ``0 .. steps - 1``, draws it with
matplotlib's Agg canvas (no display, no pyplot state) into
``docs/_generated/schedules/<name>.png``, and writes ``docs/_generated/schedules_gallery.md``
with, per schedule, its docstring up to ``Args:`` (the formula; reST turned into MyST),
the example call and the figure. ``docs/schedules.md`` includes that file.

A public schedule without an example is an error, so the build fails (and
``tests/test_docs_schedules.py`` with it) until the new schedule is drawn too. The
functions here import no Sphinx.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
import re
from typing import Any

OUT_DIR = "_generated"  # relative to the Sphinx source directory
IMAGE_DIR = "schedules"  # relative to OUT_DIR
GALLERY_FILE = "schedules_gallery.md"  # relative to OUT_DIR


@dataclasses.dataclass(frozen=True)
class Example:
    """How to draw one schedule.

    Attributes:
      call: a Python expression building the schedule, evaluated with the names of
        ``gradtx.schedules`` in scope (shown on the page as it is).
      steps: how many step counts to draw, from 0.
      log: draw the values on a logarithmic axis.
    """

    call: str
    steps: int = 100
    log: bool = False


EXAMPLES: dict[str, Example] = {
    "constant_schedule": Example("constant_schedule(0.5)"),
    "cosine_decay_schedule": Example("cosine_decay_schedule(1.0, decay_steps=80, alpha=0.1)"),
    "cosine_onecycle_schedule": Example("cosine_onecycle_schedule(90, peak_value=1.0)", log=True),
    "cosine_restarts_schedule": Example(
        "cosine_restarts_schedule(1.0, first_period=10, period_mult=2, min_value=0.1)"
    ),
    "cyclic_schedule": Example(
        'cyclic_schedule(0.1, 1.0, step_size_up=10, step_size_down=15, mode="triangular2")'
    ),
    "exponential_decay": Example(
        "exponential_decay(1.0, transition_steps=10, decay_rate=0.5, transition_begin=20)"
    ),
    "inverse_sqrt_schedule": Example("inverse_sqrt_schedule(1.0, warmup_steps=10)"),
    "inverse_time_decay": Example("inverse_time_decay(1.0, decay_rate=0.1)"),
    "join_schedules": Example(
        "join_schedules([linear_schedule(0.0, 1.0, 20), cosine_decay_schedule(1.0, 60)], [20])"
    ),
    "linear_onecycle_schedule": Example("linear_onecycle_schedule(90, peak_value=1.0)"),
    "linear_schedule": Example(
        "linear_schedule(1.0, 0.2, transition_steps=50, transition_begin=20)"
    ),
    "multistep_schedule": Example("multistep_schedule(1.0, milestones=[30, 60, 80], gamma=0.5)"),
    "per_epoch": Example("per_epoch(lambda epoch: 0.8**epoch, steps_per_epoch=10)"),
    "piecewise_constant_schedule": Example(
        "piecewise_constant_schedule(1.0, {25: 0.5, 50: 0.5, 75: 0.1})"
    ),
    "piecewise_interpolate_schedule": Example(
        'piecewise_interpolate_schedule("cosine", 0.1, {20: 10.0, 70: 0.05})'
    ),
    "polynomial_schedule": Example(
        "polynomial_schedule(1.0, 0.0, power=2.0, transition_steps=80, transition_begin=10)"
    ),
    "sgdr_schedule": Example(
        "sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=5, decay_steps=40),"
        " dict(init_value=0.0, peak_value=0.5, warmup_steps=5, decay_steps=60)])"
    ),
    "step_schedule": Example("step_schedule(1.0, step_size=20, gamma=0.5)"),
    "warmup_constant_schedule": Example("warmup_constant_schedule(0.0, 1.0, warmup_steps=20)"),
    "warmup_cosine_decay_schedule": Example(
        "warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=90, end_value=0.05)"
    ),
    "warmup_exponential_decay_schedule": Example(
        "warmup_exponential_decay_schedule(0.0, 1.0, warmup_steps=10, transition_steps=15,"
        " decay_rate=0.5)"
    ),
    "warmup_stable_decay_schedule": Example(
        "warmup_stable_decay_schedule(1.0, warmup_steps=10, stable_steps=50, decay_steps=30)"
    ),
}


def public_schedules() -> list[str]:
    """The names the gallery must show: ``gradtx.schedules.__all__``."""
    import gradtx.schedules

    return list(gradtx.schedules.__all__)


def check_examples() -> None:
    """Raise ``ValueError`` unless every public schedule, and nothing else, has an example."""
    public = set(public_schedules())
    missing = sorted(public - set(EXAMPLES))
    extra = sorted(set(EXAMPLES) - public)
    if missing or extra:
        raise ValueError(
            "docs/_ext/gradtx_schedules.py: EXAMPLES must name every schedule of "
            f"gradtx.schedules.__all__; missing {missing}, not public {extra}."
        )


def values(name: str) -> tuple[Any, Any]:
    """``(steps, values)`` of the example of ``name``, as NumPy arrays."""
    import jax.numpy as jnp
    import numpy as np

    import gradtx.schedules

    example = EXAMPLES[name]
    scope = {n: getattr(gradtx.schedules, n) for n in gradtx.schedules.__all__}
    schedule = eval(example.call, scope)  # noqa: S307 - a literal of this file
    steps = np.arange(example.steps)
    return steps, np.asarray(schedule(jnp.asarray(steps)))


def summary(name: str) -> str:
    """The docstring's first line, in Markdown."""
    import gradtx.schedules

    line = (getattr(gradtx.schedules, name).__doc__ or "").strip().splitlines()[0]
    return _inline(line)


def _inline(text: str) -> str:
    """reST inline markup to MyST: math, cross-references and literals."""
    text = re.sub(r":math:`([^`]+)`", r"{math}`\1`", text)
    text = re.sub(r":(?:func|class):`~?([^`]+)`", r"{func}`\1`", text)
    return text.replace("``", "`")


def description(name: str) -> str:
    """The docstring from its second line up to ``Args:``, in MyST Markdown.

    reST ``.. math::`` blocks become ``{math}`` fences; inline math, references and
    literals become their MyST forms; the first line is :func:`summary`.
    """
    import gradtx.schedules

    doc = getattr(gradtx.schedules, name).__doc__ or ""
    lines = doc.expandtabs().splitlines()[1:]
    out: list[str] = []
    paragraph: list[str] = []  # prose lines, joined so that inline markup may span them

    def flush() -> None:
        if paragraph:
            out.append(_inline(" ".join(paragraph)))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped in ("Args:", "Returns:", "Raises:", "Example:", "Examples:"):
            break
        if stripped.startswith(".. math::"):
            flush()
            indent = len(line) - len(line.lstrip())
            body = [stripped[len(".. math::") :].strip()]
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                body.append(lines[i].strip())
                i += 1
            out += ["", "```{math}", *[b for b in body if b], "```", ""]
            continue
        if stripped:
            paragraph.append(stripped)
        else:
            flush()
            out.append("")
        i += 1
    flush()
    text = "\n".join(out).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def draw(name: str, path: pathlib.Path) -> bytes:
    """Draw the example of ``name`` into ``path`` (PNG); return the bytes written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps, vals = values(name)
    fig = Figure(figsize=(5.0, 2.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(steps, vals, color="#1f5fa8", linewidth=1.6, drawstyle="steps-post")
    if EXAMPLES[name].log:
        ax.set_yscale("log")
    ax.set_xlabel("step count")
    ax.set_ylabel("value")
    ax.set_title(name, fontsize=10, family="monospace")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    data = buffer.getvalue()
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return data


def names_in(call: str) -> list[str]:
    """The public schedules an example call uses, sorted (for its import line)."""
    return sorted(n for n in public_schedules() if re.search(rf"\b{n}\(", call))


def gallery(image_prefix: str = f"{IMAGE_DIR}/") -> str:
    """The gallery as Markdown, one section per schedule, alphabetically."""
    out: list[str] = []
    for name in sorted(public_schedules()):
        out += [f"## `{name}`", "", summary(name), ""]
        body = description(name)
        if body:
            out += [body, ""]
        out += [
            "```python",
            f"from gradtx.schedules import {', '.join(names_in(EXAMPLES[name].call))}",
            "",
            f"schedule = {EXAMPLES[name].call}",
            "```",
            "",
            f"![{name}]({image_prefix}{name}.png)",
            "",
            f"API: {{func}}`gradtx.schedules.{name}`.",
            "",
        ]
    return "\n".join(out)


def write_gallery(out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Draw every schedule and write the gallery page into ``out_dir``.

    Returns the PNG path of each schedule. Files whose content did not change are left
    untouched (so Sphinx does not rebuild the page for nothing).
    """
    check_examples()
    out_dir = pathlib.Path(out_dir)
    image_dir = out_dir / IMAGE_DIR
    image_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in public_schedules():
        paths[name] = image_dir / f"{name}.png"
        draw(name, paths[name])
    page = out_dir / GALLERY_FILE
    text = gallery()
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")
    return paths


# ------------------------------------------------------------------------ sphinx


def _on_config_inited(app, config) -> None:
    write_gallery(pathlib.Path(app.srcdir) / OUT_DIR)


def setup(app):
    app.connect("config-inited", _on_config_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
