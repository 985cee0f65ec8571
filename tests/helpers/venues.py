"""A small simulated venue for unit tests: an unlimited market maker ``mm`` and a trader ``alice``."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from binfut.clock import ManualClock
from binfut.matching import NewOrder, Output, SimulatedVenue


def mm_and_alice(seed: int = 1, **venue: Any) -> SimulatedVenue:
    """A venue (``venue`` are its keyword arguments) with ``mm`` (1 000 000 USDT, unlimited) and ``alice`` (10 000 USDT)."""
    v = SimulatedVenue(ManualClock(), random.Random(seed), **venue)
    v.open_account("mm", {"USDT": Decimal(10**6)}, unlimited=True)
    v.open_account("alice", {"USDT": Decimal(10_000)})
    return v


def alice_buys(v: SimulatedVenue, qty: str, price: str, symbol: str = "BTCUSDT") -> list[Output]:
    """``mm`` rests a sell of ``qty`` at ``price``; ``alice`` buys it with a MARKET order (her outputs)."""
    v.execute("mm", NewOrder(symbol=symbol, side="SELL", type="LIMIT", quantity=Decimal(qty), price=Decimal(price), time_in_force="GTC"))
    return v.execute("alice", NewOrder(symbol=symbol, side="BUY", type="MARKET", quantity=Decimal(qty))).outputs
