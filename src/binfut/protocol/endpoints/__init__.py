"""THE endpoint table: every USD-M REST operation as one :class:`~binfut.protocol.spec.Endpoint` record.

Split by Binance's own sections (market data, trade, account / user stream / convert) only to keep
modules readable; :data:`ENDPOINTS` is the single table the client generator, the request builder and
the local exchange's routes are derived from.
"""

from __future__ import annotations

from binfut.protocol.endpoints.account import ACCOUNT
from binfut.protocol.endpoints.market import MARKET
from binfut.protocol.endpoints.trade import TRADE
from binfut.protocol.spec import Endpoint

__all__ = ["BY_NAME", "BY_ROUTE", "ENDPOINTS", "Endpoint", "endpoint"]

ENDPOINTS: tuple[Endpoint, ...] = MARKET + TRADE + ACCOUNT

BY_NAME: dict[str, Endpoint] = {ep.name: ep for ep in ENDPOINTS}
BY_ROUTE: dict[tuple[str, str], Endpoint] = {ep.key: ep for ep in ENDPOINTS}

if len(BY_NAME) != len(ENDPOINTS) or len(BY_ROUTE) != len(ENDPOINTS):  # pragma: no cover - table bug
    raise RuntimeError("endpoint table has duplicate names or routes")


def endpoint(name: str) -> Endpoint:
    """Look an endpoint up by its Python method name (``KeyError`` names the unknown one)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no endpoint named {name!r}") from None
