"""The README's self-contained Python examples run as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
RUNNABLE_SECTIONS = ["## A short tour", "## Minimax tables for the KL reward"]


def _python_blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


@pytest.mark.parametrize("section", RUNNABLE_SECTIONS)
def test_readme_examples_run(section):
    blocks = _python_blocks(section)
    assert blocks, f"no python example under {section!r}"
    for code in blocks:
        exec(compile(code, f"README:{section}", "exec"), {})
