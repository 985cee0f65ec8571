"""Decimal contexts a caller's thread may have when it calls binfut (see ``binfut._money``)."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import ROUND_HALF_UP
from typing import Any


def ccxt_context(**changes: Any) -> decimal.Context:
    """What ``ccxt.base.decimal_to_precision`` leaves on the calling thread: HALF_UP, Underflow trapped.

    ``changes`` are further ``decimal.Context`` arguments (``prec=10``).
    """
    ctx = decimal.Context(rounding=ROUND_HALF_UP, **changes)
    ctx.traps[decimal.Underflow] = True
    return ctx


FOREIGN_CONTEXTS: dict[str, Callable[[], decimal.Context]] = {
    "ccxt: HALF_UP + Underflow trap": ccxt_context,
    "prec=10": lambda: decimal.Context(prec=10),
    "prec=10 + HALF_UP": lambda: ccxt_context(prec=10),
    "prec=40": lambda: decimal.Context(prec=40),
}
"""Contexts binfut must give the same answers under as under the default one, by test id."""
