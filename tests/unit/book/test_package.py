"""binfut.book as a package: sans-IO imports only, and an ``__all__`` that is sorted and complete."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import binfut.book

BOOK_DIR = Path(binfut.book.__file__).parent
FORBIDDEN_MODULES = {"asyncio", "socket", "ssl", "threading", "httpx", "aiohttp", "websockets", "requests", "random"}
FORBIDDEN_CALLS = {"time.time", "time.monotonic", "time.perf_counter", "datetime.now", "datetime.datetime.now"}


def test_book_modules_are_sans_io() -> None:
    checked = 0
    for path in sorted(BOOK_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                if isinstance(node, ast.Attribute):
                    assert ast.unparse(node) not in FORBIDDEN_CALLS, f"{path.name}: {ast.unparse(node)}"
                continue
            assert not set(names) & (FORBIDDEN_MODULES | {"time", "datetime"}), f"{path.name} imports {names}"
        checked += 1
    assert checked == 6


def test_all_is_sorted_and_complete() -> None:
    names = binfut.book.__all__
    # isort-style order (as ruff's RUF022): SCREAMING_CASE, then CamelCase, then the rest.
    key = [(0 if n.isupper() else 1 if n[0].isupper() else 2, n) for n in names]
    assert key == sorted(key)
    assert len(set(names)) == len(names)
    public = {
        name
        for module in (
            binfut.book.levels,
            binfut.book.sync,
            binfut.book.manager,
            binfut.book.budget,
            binfut.book.decode,
        )
        for name in module.__all__
    }
    assert set(names) == public
    for name in names:
        obj = getattr(binfut.book, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{name} lacks a docstring"
