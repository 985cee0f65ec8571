"""The sans-IO core imports no I/O library and reads no wall clock (STYLE §1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "binfut"
CORE = ["protocol", "book", "matching", "errors.py", "enums.py", "types.py", "config.py", "credentials.py", "_money.py"]
FORBIDDEN_MODULES = {"asyncio", "socket", "ssl", "threading", "httpx", "aiohttp", "websockets", "requests", "urllib3"}
FORBIDDEN_CALLS = {("time", "time"), ("time", "monotonic"), ("time", "time_ns"), ("time", "monotonic_ns"), ("datetime", "now")}
FORBIDDEN_RANDOM = {"random", "randint", "uniform", "choice", "shuffle", "gauss", "randrange", "seed"}


def core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        path = SRC / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f for f in files if f.exists()]


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_stays_sans_io(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                problems.append(node.module)
            if node.module == "time" or (node.module == "random" and any(a.name in FORBIDDEN_RANDOM for a in node.names)):
                problems.append(f"from {node.module} import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            pair = (node.func.value.id, node.func.attr)
            if pair in FORBIDDEN_CALLS or (pair[0] == "random" and pair[1] in FORBIDDEN_RANDOM):
                problems.append(f"{pair[0]}.{pair[1]}()")
    assert not problems, f"{path.relative_to(SRC)} breaks the sans-IO rule: {problems}"


def test_the_core_list_is_not_empty() -> None:
    assert len(core_files()) >= 10
