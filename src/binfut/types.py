"""Type aliases only: the loose input unions accepted at the public edge, and unit-named ints."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

__all__ = ["Millis", "Nanos", "Num", "Symbol"]

Symbol: TypeAlias = str
Millis: TypeAlias = int
Nanos: TypeAlias = int
# A price or quantity as a user may give it; it always goes out as a plain decimal string.
Num: TypeAlias = Decimal | int | float | str
