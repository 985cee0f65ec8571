"""Fault run: forced WebSocket drops and listenKey expiries during a long stretch of trading, and not
one order update or fill is lost (or doubled) compared with the exchange's own record of the account."""

from __future__ import annotations

import asyncio
import contextlib
import random
from decimal import Decimal
from typing import Any

import pytest

from binfut.client import AsyncClient
from binfut.clock import ManualClock
from binfut.emulator.config import EmulatorConfig
from binfut.emulator.exchange import build_exchange
from binfut.emulator.server import start_emulator
from binfut.errors import ApiError
from binfut.matching import CancelOrder, NewOrder
from binfut.protocol.userevents import AccountUpdate, OrderTradeUpdate
from binfut.protocol.userstream import MissedTrade, ReconciledOrder, ReconciledPosition
from binfut.stream.user import UserDataStream

KEY, SECRET = "faultRunKey01", "faultRunSecret01"
SECOND_NS = 1_000_000_000
STEPS = 240  # simulated seconds of trading


def ledger(items: list[Any]) -> tuple[dict[int, tuple[str, Decimal]], list[tuple[int, int]], Decimal | None]:
    """Final (status, filled) per order, every fill (order id, trade id), and the last position amount,
    from a sequence of live events and reconciliation items."""
    final: dict[int, tuple[str, Decimal]] = {}
    fills: list[tuple[int, int]] = []
    position: Decimal | None = None
    for item in items:
        if isinstance(item, OrderTradeUpdate):
            o = item.order
            final[o.order_id] = (o.order_status, o.filled_accumulated_quantity)
            if o.execution_type == "TRADE":
                fills.append((o.order_id, o.trade_id))
        elif isinstance(item, ReconciledOrder):
            final[item.order.order_id] = (str(item.order.status), item.order.executed_qty)
        elif isinstance(item, MissedTrade):
            fills.append((item.trade.order_id, item.trade.id))
        elif isinstance(item, AccountUpdate):
            for p in item.data.positions:
                if p.symbol == "BTCUSDT":
                    position = p.position_amount
        elif isinstance(item, ReconciledPosition) and item.symbol == "BTCUSDT":
            position = item.position_amt
    return final, fills, position


class Trader:
    """Seeded activity: our limit orders inside the spread, our market orders, cancels, and the
    market maker's market orders that fill our resting ones. Runs straight on the exchange, so an
    event published while our socket is down is lost on the wire."""

    def __init__(self, exchange: Any, account: str, rng: random.Random) -> None:
        self.exchange, self.account, self.rng = exchange, account, rng
        self.open: list[int] = []

    def _run(self, who: str, command: Any) -> Any:
        with contextlib.suppress(ApiError):  # e.g. cancelling an order that just filled
            return self.exchange.execute(who, command)
        return None

    def step(self) -> None:
        rng = self.rng
        qty = Decimal(rng.randint(3, 9)) / 1000
        side = rng.choice(("BUY", "SELL"))
        roll = rng.random()
        if roll < 0.4:
            price = Decimal(rng.randint(49_991, 50_009))
            snap = self._run(self.account, NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=qty,
                                                    price=price, time_in_force="GTC"))  # fmt: skip
            if snap is not None:
                self.open.append(snap.order_id)
        elif roll < 0.6:
            self._run(self.account, NewOrder(symbol="BTCUSDT", side=side, type="MARKET", quantity=qty))
        elif roll < 0.8 and self.open:
            order_id = self.open.pop(rng.randrange(len(self.open)))
            self._run(self.account, CancelOrder(symbol="BTCUSDT", order_id=order_id))
        else:
            self._run("mm", NewOrder(symbol="BTCUSDT", side=side, type="MARKET", quantity=qty))


@pytest.mark.asyncio
async def test_no_update_or_fill_is_lost_across_drops_and_expiries() -> None:
    # Arrange: a local exchange on a manual clock; the market maker quotes a wide, deep book
    clock = ManualClock(1_700_000_000_000_000_000)
    exchange = build_exchange(
        EmulatorConfig(simulate=False, symbols=("BTCUSDT",), api_keys={KEY: SECRET}, seed=3), clock=clock
    )
    exchange.venue.open_account("mm", {"USDT": Decimal(10_000_000)}, unlimited=True)
    for side, price in (("SELL", 50_010), ("BUY", 49_990)):
        exchange.execute("mm", NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=Decimal(50),
                                        price=Decimal(price), time_in_force="GTC"))  # fmt: skip
    account = exchange.accounts.by_api_key(KEY)
    assert account is not None
    record: list[Any] = []  # the exchange's own record: every user event it published for us
    exchange.bus.add_user_listener(account.account_id, record.append)
    trader = Trader(exchange, account.account_id, random.Random(42))
    seen: list[Any] = []

    async with (
        asyncio.timeout(45),
        start_emulator(exchange=exchange) as running,
        AsyncClient(KEY, SECRET, env="local", base_url=running.rest_url, clock=clock) as client,
        UserDataStream(client, rng=random.Random(1), symbols=["BTCUSDT"]) as stream,
    ):
        stream.on_event(seen.append)
        # Act: faults on the exchange's schedule (checked once per simulated second)
        exchange.faults.add(kind="ws_disconnect", every=9)
        exchange.faults.add(kind="listen_key_expiry", every=41)
        for _ in range(STEPS):
            clock.advance(SECOND_NS)  # may drop our socket or expire our key...
            for _ in range(2):
                trader.step()  # ...and these events are then published to nobody
            await asyncio.sleep(0.002)
        exchange.faults.clear()

        # Let the stream recover (its backoff runs on the clock) and converge.
        expected = ledger(record)
        for _ in range(500):
            if ledger(seen) == expected and stream.connection is not None and stream.state == "ACTIVE":
                break
            clock.advance(SECOND_NS // 5)
            await asyncio.sleep(0.01)

    # Assert: the faults really happened, and gaps really had to be filled
    drops, expiries = exchange.faults.fired("ws_disconnect"), exchange.faults.fired("listen_key_expiry")
    assert len(drops) >= 10 and len(expiries) >= 3, (len(drops), len(expiries))
    assert stream.reconciliations >= 10
    assert any(isinstance(i, MissedTrade) for i in seen) and any(isinstance(i, ReconciledOrder) for i in seen)

    # ...and the stream's view equals the exchange's record, order by order and fill by fill
    final, fills, position = ledger(seen)
    want_final, want_fills, want_position = expected
    assert len(want_final) > 200 and len(want_fills) > 100
    missing_orders = {k: v for k, v in want_final.items() if final.get(k) != v}
    assert not missing_orders, f"{len(missing_orders)} orders differ, e.g. {list(missing_orders.items())[:3]}"
    assert set(final) == set(want_final)
    assert sorted(fills) == sorted(want_fills), f"missing {set(want_fills) - set(fills)}, extra {set(fills) - set(want_fills)}"
    assert len(fills) == len(set(fills))  # no fill reported twice
    assert position == want_position == exchange.venue.position_risk(account.account_id, "BTCUSDT")[0].position_amt

