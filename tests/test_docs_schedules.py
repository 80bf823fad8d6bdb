"""The schedules gallery (docs/schedules.md): every public schedule is drawn, and its code runs.

The gallery is generated at each docs build by ``docs/_ext/gradtx_schedules.py``; here
its generator writes into a temporary directory, without Sphinx.
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from _guides import run_page

import gradtx

ROOT = pathlib.Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load_extension():
    path = ROOT / "docs" / "_ext" / "gradtx_schedules.py"
    spec = importlib.util.spec_from_file_location("_gradtx_schedules_for_tests", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


ext = _load_extension()


@pytest.fixture(scope="module")
def gallery_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    paths = ext.write_gallery(out)
    return out, paths


def test_every_public_schedule_has_a_png(gallery_dir):
    out, paths = gallery_dir
    public = set(gradtx.schedules.__all__)
    assert len(public) >= 20
    assert set(paths) == public
    for name, path in paths.items():
        assert path == out / "schedules" / f"{name}.png"
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 5_000, f"{name}: {len(data)} bytes, an empty plot?"


def test_every_public_schedule_is_in_the_gallery_page(gallery_dir):
    out, _ = gallery_dir
    text = (out / "schedules_gallery.md").read_text()
    sections = re.findall(r"^## `(\w+)`$", text, flags=re.M)
    assert sections == sorted(gradtx.schedules.__all__)
    for name in gradtx.schedules.__all__:
        assert f"![{name}](schedules/{name}.png)" in text
        # The first line of the docstring, and its formula.
        assert ext.summary(name) in text
    assert text.count("```{math}") >= len(gradtx.schedules.__all__)
    # reST markup was translated (no ``literal`` or :math: role left in the Markdown).
    assert "``" not in text.replace("```", "")
    assert ":math:" not in text and ":func:" not in text


def test_gallery_code_blocks_build_the_plotted_schedules(gallery_dir):
    """Each section's python block runs on its own and builds the schedule that is drawn."""
    out, _ = gallery_dir
    text = (out / "schedules_gallery.md").read_text()
    sections = re.split(r"^## `(\w+)`$", text, flags=re.M)[1:]
    for name, body in zip(sections[::2], sections[1::2], strict=True):
        (block,) = re.findall(r"```python\n(.*?)```", body, flags=re.S)
        namespace: dict = {}
        exec(compile(block, f"gallery:{name}", "exec"), namespace)  # noqa: S102
        steps, drawn = ext.values(name)
        np.testing.assert_allclose(
            np.asarray(namespace["schedule"](jnp.asarray(steps))), drawn, rtol=1e-6
        )
        assert np.ptp(drawn) > 0 or name == "constant_schedule", f"{name} is drawn flat"


def test_a_schedule_without_an_example_fails_the_build(monkeypatch):
    monkeypatch.delitem(ext.EXAMPLES, "step_schedule")
    with pytest.raises(ValueError, match=r"missing \['step_schedule'\]"):
        ext.check_examples()
    monkeypatch.setitem(ext.EXAMPLES, "step_schedule", ext.Example("step_schedule(1.0, 10)"))
    monkeypatch.setitem(ext.EXAMPLES, "not_a_schedule", ext.Example("constant_schedule(1.0)"))
    with pytest.raises(ValueError, match=r"not public \['not_a_schedule'\]"):
        ext.check_examples()


def test_description_translates_rest_to_myst():
    text = ext.description("cosine_decay_schedule")
    assert "```{math}" in text and "\\eta_t" in text
    assert "{math}`s = \\min(t, \\text{decay\\_steps})`" in text
    # Stops before the arguments.
    assert "Args" not in text and "Example" not in text


def test_page_code_runs_and_prints_what_the_page_shows():
    printed, namespace = run_page("schedules.md", expected_blocks=1)
    assert printed == ["[0.      0.005   0.01    0.00505 0.0001  0.0001 ]", "0.0050"]
    page = (ROOT / "docs" / "schedules.md").read_text()
    assert "[0.      0.005   0.01    0.00505 0.0001  0.0001 ]\n0.0050\n" in page
    assert "{include} _generated/schedules_gallery.md" in page
