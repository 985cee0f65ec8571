"""``binfut.data``'s public surface (sorted, resolving ``__all__``) and its pure modules staying pure."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import binfut.data

SRC = Path(binfut.data.__file__).parent
PURE = ["schema.py", "backfill.py", "normalize.py"]  # planners and mappings: no sockets, no event loop, no wall time
FORBIDDEN = {"asyncio", "socket", "ssl", "threading", "aiohttp", "httpx", "websockets", "requests", "urllib3"}


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_resolves() -> None:
    exported = list(binfut.data.__all__)

    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert getattr(binfut.data, name) is not None


@pytest.mark.parametrize("module", sorted(p.stem for p in SRC.glob("*.py") if p.stem != "__init__"))
def test_every_module_has_a_docstring_and_declares_all(module: str) -> None:
    mod = importlib.import_module(f"binfut.data.{module}")
    lines = (mod.__doc__ or "").strip().splitlines()

    assert 3 <= len(lines) <= 15, f"{module}: module docstring of {len(lines)} lines"
    assert isinstance(getattr(mod, "__all__", None), list)
    assert len((SRC / f"{module}.py").read_text().splitlines()) <= 800


@pytest.mark.parametrize("name", PURE)
def test_planners_stay_sans_io(name: str) -> None:
    tree = ast.parse((SRC / name).read_text())
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN | {"time"}]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in FORBIDDEN | {"time"}:
            problems.append(node.module)
        elif isinstance(node, ast.Attribute) and node.attr in {"now", "time_ns", "monotonic"}:
            problems.append(node.attr)
    assert not problems, f"{name}: {problems}"
