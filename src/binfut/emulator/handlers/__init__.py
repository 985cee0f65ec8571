"""Endpoint handlers of the local exchange, one module per section of the endpoint table.

A handler is ``handler(exchange, params, account) -> body``: ``params`` are already validated against
the table (typed values), ``account`` is the authenticated caller (None on anonymous public calls),
and the body is any msgspec-encodable value; errors are raised as ``binfut.errors.ApiError``.
:data:`HANDLERS` maps every endpoint-table name to its handler.
"""

from __future__ import annotations

from typing import Any

from binfut.emulator.handlers.account import HANDLERS as _ACCOUNT
from binfut.emulator.handlers.market import HANDLERS as _MARKET
from binfut.emulator.handlers.stats import HANDLERS as _STATS
from binfut.emulator.handlers.trade import HANDLERS as _TRADE

__all__ = ["HANDLERS"]

HANDLERS: dict[str, Any] = {**_MARKET, **_STATS, **_TRADE, **_ACCOUNT}
