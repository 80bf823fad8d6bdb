"""The snippets of docs/guide/fuse_leaves.md run, in order, and print what the page says."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "fuse_leaves.md"


def test_guide_snippets_run_and_print_what_the_page_shows():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 4
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(PAGE), "exec"), namespace)  # noqa: S102 - the page's code
    printed = out.getvalue().splitlines()
    assert printed[0] == "True"  # fused adam equals adam on 100 leaves
    # 100 leaves in buffers of at most 64: 64 leaves (32 layers of 16 + 4) and 36
    assert printed[1] == "['float32'] 2 (640,)"
    assert float(printed[2]) == 0.0010000000474974513
    assert printed[3:5] == ["(4, 4)", "(4, 4)"]
