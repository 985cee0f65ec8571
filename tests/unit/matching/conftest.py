"""Shared fixtures of the matching tests: a venue on a ManualClock with a few accounts."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from binfut.clock import ManualClock
from binfut.matching import Envelope, NewOrder, SimulatedVenue
from binfut.matching.commands import MarkPrice

D = Decimal
START_NS = 1_700_000_000_000_000_000
START_MS = START_NS // 1_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_NS)


@pytest.fixture
def venue(clock: ManualClock) -> SimulatedVenue:
    v = SimulatedVenue(clock, random.Random(7))
    v.open_account("mm", {"USDT": D(1_000_000)}, unlimited=True)
    v.open_account("alice", {"USDT": D(10_000)})
    v.open_account("bob", {"USDT": D(10_000)})
    return v


class Helpers:
    """Helpers handed to tests through the ``h`` fixture (test modules cannot import conftest)."""

    D = D
    START_MS = START_MS

    @staticmethod
    def place(*a: Any, **k: Any) -> Any:
        return place(*a, **k)

    @staticmethod
    def mark(*a: Any, **k: Any) -> Any:
        return mark(*a, **k)

    @staticmethod
    def events(*a: Any, **k: Any) -> Any:
        return events(*a, **k)

    @staticmethod
    def order_events(*a: Any, **k: Any) -> Any:
        return order_events(*a, **k)


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers


def place(v: SimulatedVenue, acct: str, side: str, qty: str, price: str | None = None, *,
          symbol: str = "BTCUSDT", type: str | None = None, tif: str | None = "GTC", **kw: Any) -> Any:
    """Place an order; LIMIT when a price is given, else MARKET. Returns the Result."""
    otype = type or ("LIMIT" if price is not None or kw.get("price_match") else "MARKET")
    cmd = NewOrder(symbol=symbol, side=side, type=otype, quantity=D(qty),
                   price=D(price) if price is not None else None,
                   time_in_force=tif if otype == "LIMIT" else None, new_order_resp_type="RESULT", **kw)
    return v.execute(acct, cmd)


def mark(v: SimulatedVenue, price: str, symbol: str = "BTCUSDT", time_ms: int | None = None) -> list[Any]:
    return v.on_market(MarkPrice(symbol=symbol, mark_price=D(price), time_ms=time_ms or v.now))


def events(outputs: list[Any], account: str, tag: type | None = None) -> list[Any]:
    """User events routed to ``account`` (optionally of one type)."""
    return [o.event for o in outputs if isinstance(o, Envelope) and o.account_id == account
            and (tag is None or isinstance(o.event, tag))]


def order_events(outputs: list[Any], account: str) -> list[tuple[str, str]]:
    """(execution type, status) of the ORDER_TRADE_UPDATEs routed to ``account``."""
    from binfut.protocol.userevents import OrderTradeUpdate

    return [(e.order.execution_type, e.order.order_status) for e in events(outputs, account, OrderTradeUpdate)]
