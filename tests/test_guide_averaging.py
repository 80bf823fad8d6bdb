"""The snippets of docs/guide/averaging.md run, in order, and print what the page says."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "averaging.md"


def test_guide_snippets_run_and_print_what_the_page_shows():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 4
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(PAGE), "exec"), namespace)  # noqa: S102 - the page's code
    printed = out.getvalue().splitlines()
    assert printed[0] == "True"  # the EMA weights fit the data
    assert printed[1] == "0.125 0.5 1.0"
    assert printed[2].startswith(
        "gradtx.tree.get: 2 values are named 'count': '0/inner_state/0/count', "
        "'1/count'; pass one of these paths"
    )
    assert printed[3:5] == ["0", "0.001"]
    assert printed[5] == (
        "`chain.update (member 0)`: the state does not fit these updates (was it built by "
        "init with other parameters, or are the updates from another model?); first "
        "difference at .mu: the state has a dict with keys ['b', 'w'], a state for these "
        "updates has a dict with keys ['w']; only in the state: .mu['b'], .nu['b']."
    )
