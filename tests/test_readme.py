"""Every Python example in the README and in docs/ runs as written (against the local exchange it starts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    (f"{page.relative_to(ROOT)}#{i}", block)
    for page in PAGES
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


def test_the_readme_and_docs_have_examples() -> None:
    assert sum(1 for name, _ in BLOCKS if name.startswith("README")) >= 3
    assert len({name.split("#")[0] for name, _ in BLOCKS}) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[name for name, _ in BLOCKS])
def test_readme_example_runs(index: int, tmp_path: Path) -> None:
    script = tmp_path / f"example_{index}.py"
    script.write_text(BLOCKS[index][1])

    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert result.returncode == 0, f"example {BLOCKS[index][0]} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), "the example printed nothing"
