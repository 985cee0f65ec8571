"""Every public namespace declares a sorted, complete ``__all__`` whose names resolve (STYLE §9)."""

from __future__ import annotations

import importlib

import pytest

import binfut

PACKAGES = ["binfut", "binfut.book", "binfut.client", "binfut.matching", "binfut.protocol.models", "binfut.transport", "binfut.emulator", "binfut.stream", "binfut.data", "binfut.strategy", "binfut.trading"]


def _isort_key(name: str) -> tuple[int, str]:
    """isort / ruff RUF022 order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)

    assert exported == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted (CONSTANTS, Classes, functions)"
    assert len(set(exported)) == len(exported)
    for item in exported:
        assert getattr(module, item) is not None, f"{name}.{item}"


def test_top_level_offers_the_everyday_names() -> None:
    for item in ("Client", "AsyncClient", "Credentials", "Environment", "OrderBook", "BinfutError", "EmulatorThread"):
        assert item in binfut.__all__
    assert binfut.EmulatorThread.__name__ == "EmulatorThread"
    with pytest.raises(AttributeError):
        binfut.NoSuchThing  # noqa: B018


@pytest.mark.parametrize("name", ["binfut.data", "binfut.strategy", "binfut.trading"])
def test_lazy_export_tables_match_all_and_name_the_defining_modules(name: str) -> None:
    module = importlib.import_module(name)
    where: dict[str, str] = module._WHERE  # the table binfut._lazy.lazy_exports imports from

    assert sorted(where) == sorted(module.__all__), f"{name}: _WHERE and __all__ differ"
    for item, source in where.items():
        assert item in importlib.import_module(source).__all__, f"{source} does not export {item}"


@pytest.mark.parametrize(
    ("package", "item", "source"),
    [
        ("binfut.trading", "fetch_feed", "binfut.trading.feed"),
        ("binfut.data", "Recorder", "binfut.data.recorder"),
        ("binfut.data", "Progress", "binfut.data.downloader"),
    ],
)
def test_the_names_the_guides_use_come_from_the_package(package: str, item: str, source: str) -> None:
    exported = importlib.import_module(package)

    assert item in exported.__all__
    assert getattr(exported, item) is getattr(importlib.import_module(source), item)


@pytest.mark.parametrize("item", ["LiveOrderBook", "LiveOrderBookThread"])
def test_the_live_books_are_exported_together(item: str) -> None:
    stream = importlib.import_module("binfut.stream")

    assert item in binfut.__all__ and item in stream.__all__
    assert getattr(binfut, item) is getattr(stream, item)
