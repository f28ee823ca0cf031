"""The README's Python quick-start runs and prints what the README says it prints."""

import contextlib
import io
import re

from conftest import ROOT


def test_readme_quick_start_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {})
    claimed = re.search(r"print\(.*\)\s+# (\S+)", blocks[0]).group(1)
    assert out.getvalue().strip() == claimed
