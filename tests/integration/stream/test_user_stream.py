"""UserDataStream against the local exchange over real sockets: live events for REST orders,
keepalive on schedule (ManualClock), listenKey expiry -> renewal, and reconciliation of a gap."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from binfut.client import AsyncClient, Client
from binfut.clock import ManualClock
from binfut.emulator.config import EmulatorConfig
from binfut.emulator.exchange import LocalExchange, build_exchange
from binfut.emulator.server import EmulatorThread, start_emulator
from binfut.emulator.ws import WS_HUB_KEY
from binfut.matching import NewOrder
from binfut.protocol.userevents import AccountUpdate, ListenKeyExpired, OrderTradeUpdate, TradeLite
from binfut.protocol.userstream import (
    KeyState,
    MissedTrade,
    ReconciledOrder,
    ReconciledPosition,
    ReconcileSummary,
    UserStreamConfig,
)
from binfut.stream.user import UserDataStream, UserDataStreamThread

BOUND = 15.0
KEY, SECRET = "userStreamKey01", "userStreamSecret01"
MINUTE_NS = 60_000_000_000


@dataclass
class Env:
    exchange: LocalExchange
    clock: ManualClock
    client: AsyncClient
    hub: Any
    account: str
    items: list[Any] = field(default_factory=list)

    def stream(self, **kwargs: Any) -> UserDataStream:
        stream = UserDataStream(self.client, rng=random.Random(5), symbols=["BTCUSDT"], **kwargs)
        stream.on_event(self.items.append)
        return stream

    def mm(self, side: str, price: int, qty: str = "1", kind: str = "LIMIT") -> Any:
        """The market maker's order, straight on the exchange (no HTTP)."""
        extra = {"price": Decimal(price), "time_in_force": "GTC"} if kind == "LIMIT" else {}
        return self.exchange.execute("mm", NewOrder(symbol="BTCUSDT", side=side, type=kind, quantity=Decimal(qty), **extra))

    def ours(self, side: str, qty: str, price: int | None = None) -> Any:
        """Our account's order straight on the exchange (used while the stream is disconnected)."""
        extra = {"type": "LIMIT", "price": Decimal(price), "time_in_force": "GTC"} if price else {"type": "MARKET"}
        return self.exchange.execute(self.account, NewOrder(symbol="BTCUSDT", side=side, quantity=Decimal(qty), **extra))

    def of(self, cls: type) -> list[Any]:
        return [i for i in self.items if isinstance(i, cls)]


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock(1_700_000_000_000_000_000)
    exchange = build_exchange(EmulatorConfig(simulate=False, symbols=("BTCUSDT",), api_keys={KEY: SECRET}), clock=clock)
    exchange.venue.open_account("mm", {"USDT": Decimal(10_000_000)}, unlimited=True)
    account = exchange.accounts.by_api_key(KEY)
    assert account is not None
    async with (
        start_emulator(exchange=exchange) as running,
        AsyncClient(KEY, SECRET, env="local", base_url=running.rest_url, clock=clock) as client,
    ):
        yield Env(exchange, clock, client, running.runner.app[WS_HUB_KEY], account.account_id)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
    assert predicate(), what


def settled(stream: UserDataStream, now_ms: int) -> Callable[[], bool]:
    return lambda: stream.state is KeyState.ACTIVE and (stream.machine.timer_at_ms or 0) > now_ms


async def until_advancing(clock: ManualClock, predicate: Callable[[], bool], what: str) -> None:
    """Wait for ``predicate`` while moving the clock (reconnect backoff runs on the injected clock)."""
    async with asyncio.timeout(5.0):
        while not predicate():
            clock.advance(100_000_000)
            await asyncio.sleep(0.005)
    assert predicate(), what


def order_events(env: Env, order_id: int) -> list[tuple[str, str]]:
    return [(e.order.execution_type, e.order.order_status) for e in env.of(OrderTradeUpdate) if e.order.order_id == order_id]


@pytest.mark.asyncio
async def test_orders_placed_through_rest_arrive_as_order_and_account_updates(env: Env) -> None:
    env.mm("SELL", 50_000)
    iterated: list[Any] = []
    async with env.stream() as stream, asyncio.timeout(BOUND):
        reader = asyncio.ensure_future(_drain(stream, iterated))
        # Act
        resting = await env.client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01",
                                             price="49000", time_in_force="GTC")  # fmt: skip
        taker = await env.client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01",
                                           price="50000", time_in_force="GTC")  # fmt: skip
        await env.client.cancel_order(symbol="BTCUSDT", order_id=resting.order_id)
        await until(lambda: len(order_events(env, resting.order_id)) == 2 and env.of(AccountUpdate), "events")

        # Assert
        assert order_events(env, resting.order_id) == [("NEW", "NEW"), ("CANCELED", "CANCELED")]
        assert order_events(env, taker.order_id) == [("NEW", "NEW"), ("TRADE", "FILLED")]
        fill = [e for e in env.of(OrderTradeUpdate) if e.order.execution_type == "TRADE"][0].order
        assert (fill.last_filled_quantity, fill.last_filled_price) == (Decimal("0.01"), Decimal(50_000))
        assert [t.trade_id for t in env.of(TradeLite)] == [fill.trade_id]
        (position,) = env.of(AccountUpdate)[0].data.positions
        assert (position.symbol, position.position_amount) == ("BTCUSDT", Decimal("0.01"))
        # The initial snapshot found nothing to report; async iteration sees the same items.
        assert [type(i) for i in env.items[:1]] == [ReconcileSummary]
        await until(lambda: len(iterated) == len(env.items), "iterator caught up")
        reader.cancel()
    assert iterated == env.items


async def _drain(stream: UserDataStream, out: list[Any]) -> None:
    async for item in stream:
        out.append(item)


@pytest.mark.asyncio
async def test_keepalive_runs_on_schedule_and_the_key_never_expires(env: Env) -> None:
    async with env.stream() as stream, asyncio.timeout(BOUND):
        key = stream.listen_key
        for _ in range(160):  # 160 simulated minutes, one minute at a time
            env.clock.advance(MINUTE_NS)
            await until(settled(stream, env.clock.time_ms()), "keepalive answered and the next one armed")
        keepalives = [s.time_ms for s in stream.statuses if s.kind == "keepalive"]

        # Assert: a keepalive every 27-31 min (30 min less up to 10 % jitter, plus the 1-min step)
        assert stream.keepalives == len(keepalives) == 5
        gaps = [b - a for a, b in zip([env.clock.time_ms() - 160 * 60_000, *keepalives], keepalives)]
        assert all(27 * 60_000 <= g <= 31 * 60_000 for g in gaps), gaps
        assert stream.listen_key == key and not [s for s in stream.statuses if s.kind == "key_expired"]
        assert env.exchange.listen_keys.account_for(key, env.clock.time_ms() + 29 * 60_000) == env.account


@pytest.mark.asyncio
async def test_listen_key_expiry_renews_the_key_and_the_gap_is_reconciled(env: Env) -> None:
    env.mm("SELL", 50_000)
    async with env.stream() as stream, asyncio.timeout(BOUND):
        old = stream.listen_key
        resting = env.ours("BUY", "0.01", 49_000)
        await until(lambda: order_events(env, resting.order_id) == [("NEW", "NEW")], "resting order seen")

        # Act: the exchange expires the key on its next sweep; fills happen before we can reconnect
        env.exchange.faults.add(kind="listen_key_expiry", at_requests=[1])
        env.clock.advance(1_000_000_000)
        assert env.exchange.faults.fired("listen_key_expiry")
        env.mm("SELL", 49_000, "0.01", kind="LIMIT")  # crosses our resting bid: a fill we miss
        gap_market = env.ours("BUY", "0.02")  # created and filled during the gap
        await until(lambda: stream.listen_key != old and stream.state is KeyState.ACTIVE, "key renewed")
        await stream.wait_ready(BOUND)
        after = await env.client.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
        await until(lambda: order_events(env, after.order_id) == [("NEW", "NEW"), ("TRADE", "FILLED")], "live again")

        # Assert
        assert [e.listen_key for e in env.of(ListenKeyExpired)] == [old]
        kinds = [s.kind for s in stream.statuses]
        assert kinds.index("key_expired") < kinds.index("key_renewed") < len(kinds) - 1
        reconciled = {r.order.order_id: r for r in env.of(ReconciledOrder)}
        assert (reconciled[resting.order_id].previous_status, reconciled[resting.order_id].order.status) == ("NEW", "FILLED")
        assert reconciled[gap_market.order_id].previous_status is None
        missed = {m.trade.order_id for m in env.of(MissedTrade)}
        assert missed == {resting.order_id, gap_market.order_id}
        assert env.of(ReconciledPosition)[-1].position_amt == Decimal("0.03")


@pytest.mark.asyncio
async def test_a_dropped_connection_is_reconnected_and_the_gap_reconciled(env: Env) -> None:
    env.mm("SELL", 50_000)
    async with env.stream() as stream, asyncio.timeout(BOUND):
        resting = env.ours("BUY", "0.01", 49_000)
        await until(lambda: bool(order_events(env, resting.order_id)), "resting order seen")

        # Act: the exchange drops the connection; our order fills and another is placed meanwhile
        for session in list(env.hub.sessions):
            session.abort("test: drop")
        env.mm("SELL", 49_000, "0.01")
        gap_order = env.ours("BUY", "0.05")
        await until_advancing(env.clock, lambda: stream.reconciliations == 2, "reconciled after the reconnect")

        # Assert: exactly the missing fills, the two orders and the position, then a summary
        tail = env.items[env.items.index(env.of(MissedTrade)[0]):]
        assert [type(i) for i in tail] == [MissedTrade, ReconciledOrder, MissedTrade, ReconciledOrder,
                                           ReconciledPosition, ReconcileSummary]  # fmt: skip
        assert {tail[1].order.order_id, tail[3].order.order_id} == {resting.order_id, gap_order.order_id}
        summary = tail[-1]
        assert (summary.reason, summary.orders, summary.trades, summary.positions) == ("reconnect", 2, 2, 1)
        assert [s.kind for s in stream.statuses].count("connected") == 2


def test_the_sync_facade_delivers_events_from_its_own_thread() -> None:
    config = EmulatorConfig(simulate=False, symbols=("BTCUSDT",), api_keys={KEY: SECRET})
    with EmulatorThread(config) as emu:
        made = lambda: AsyncClient(KEY, SECRET, env="local", base_url=emu.rest_url)  # noqa: E731
        with UserDataStreamThread(made, config=UserStreamConfig(close_key_on_exit=True)) as stream:
            with Client(KEY, SECRET, env="local", base_url=emu.rest_url) as rest:
                placed = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01",
                                        price="49000", time_in_force="GTC")  # fmt: skip
            seen = []
            while (item := stream.get(timeout=5.0)) is not None:
                seen.append(item)
                if isinstance(item, OrderTradeUpdate):
                    break
        assert isinstance(seen[0], ReconcileSummary)
        assert seen[-1].order.order_id == placed.order_id and stream.get(timeout=0.1) is None


def test_the_sync_facade_restarts_after_a_stop() -> None:
    config = EmulatorConfig(simulate=False, symbols=("BTCUSDT",), api_keys={KEY: SECRET})
    with EmulatorThread(config) as emu:
        made = lambda: AsyncClient(KEY, SECRET, env="local", base_url=emu.rest_url)  # noqa: E731
        stream = UserDataStreamThread(made, config=UserStreamConfig(close_key_on_exit=True))
        with stream:
            first = stream.get(timeout=5.0)
        assert isinstance(first, ReconcileSummary) and stream.get(timeout=5.0) is None  # stopped: at once
        with stream, Client(KEY, SECRET, env="local", base_url=emu.rest_url) as rest:
            placed = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="49000",
                                    time_in_force="GTC")  # fmt: skip
            again = [stream.get(timeout=5.0) for _ in range(2)]
        assert isinstance(again[0], ReconcileSummary) and again[0].reason == "initial"
        assert isinstance(again[1], OrderTradeUpdate) and again[1].order.order_id == placed.order_id
