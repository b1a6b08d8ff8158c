"""The code examples of the README and of the documentation run as written.

Every ``python`` block of a page runs, in page order, in one namespace and in a fresh folder, so
a later block may use what an earlier one defined. A block preceded by the line
``<!-- not run: REASON -->`` is left out (large data, several processes).
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.S)
SKIP = re.compile(r"<!--\s*not run:\s*\S.*-->")


def examples(page: Path) -> list[str]:
    """The code of the page's ``python`` blocks that run, in order."""
    text = "\n" + page.read_text()
    return [match["code"] for match in BLOCK.finditer(text) if not SKIP.search(match["before"])]


def pages_with_examples() -> list[Path]:
    return [page for page in PAGES if "_build" not in page.parts and examples(page)]


def test_the_pages_have_examples():
    names = {page.relative_to(ROOT).as_posix() for page in pages_with_examples()}
    assert {"README.md", "docs/getting-started.md", "docs/guide/methods.md"} <= names


def test_a_block_can_be_left_out(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nx = 1\n```\n<!-- not run: needs MNIST -->\n```python\nx = 2\n```\n")
    assert examples(page) == ["x = 1"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("page", pages_with_examples(), ids=lambda page: page.relative_to(ROOT).as_posix())
def test_examples_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for index, code in enumerate(examples(page)):
        exec(compile(code, f"{page.name} [block {index + 1}]", "exec"), namespace)
    assert os.getcwd() == str(tmp_path)
