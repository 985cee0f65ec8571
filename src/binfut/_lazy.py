"""Lazy package exports (PEP 562): a name is imported from its module on first use, then cached.

Packages whose modules pull in heavy dependencies (pandas, pyarrow, duckdb, scikit-learn, the local
exchange) export their public names through :func:`lazy_exports`, so ``import binfut`` and the
``binfut`` command start fast and never pay for what they do not use.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, where: Mapping[str, str], *, requires: tuple[str, str] | None = None
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``where[name]`` on first access and caches the value.

    Parameters
    ----------
    package : the package's ``__name__``
    where : exported name -> module that defines it
    requires : ``(distribution module, message)``: raise ImportError with the message when that
        module cannot be found (an optional extra that is not installed)
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if requires is not None and importlib.util.find_spec(requires[0]) is None:  # pragma: no cover - environment
            raise ImportError(requires[1])
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
