"""The client against the real local exchange over loopback, with the exchange's fault injection.

These are the issue's "done when" behaviours end to end: a lost 503 on an executed order is resolved
without a second order, clock skew (-1021) is resynced, 429 storms are waited out, a 418 ban stops
all traffic, and a filter violation never reaches the exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest

from binfut import errors as E
from binfut.client import AsyncClient, Client
from binfut.config import ClientConfig, RetryPolicy
from binfut.emulator import EmulatorConfig, EmulatorThread

KEY, SECRET = "client-test-key", "client-test-secret"


@pytest.fixture(scope="module")
def exchange() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(api_keys={KEY: SECRET}, seed=11, speed=1.0)) as emu:
        yield emu


@pytest.fixture
def client(exchange: EmulatorThread) -> Iterator[Client]:
    assert exchange.running is not None
    exchange.call(exchange.running.exchange.faults.clear)
    with Client(KEY, SECRET, env="local", base_url=exchange.running.rest_url) as c:
        yield c
    exchange.call(exchange.running.exchange.faults.clear)


def add_fault(exchange: EmulatorThread, **rule: object) -> None:
    assert exchange.running is not None
    faults = exchange.running.exchange.faults
    exchange.call(lambda: faults.add(**rule))


def fired(exchange: EmulatorThread, kind: str) -> int:
    assert exchange.running is not None
    return sum(1 for r in exchange.running.exchange.faults.log if r.kind == kind)


def orders_with_client_id(client: Client, client_id: str) -> int:
    return sum(1 for o in client.all_orders(symbol="BTCUSDT", limit=1000) if o.client_order_id == client_id)


def safe_price(client: Client) -> Decimal:
    client.load_filters()
    bid = client.book_ticker(symbol="BTCUSDT").bid_price
    return client.round_price("BTCUSDT", bid * Decimal("0.98"))


def test_place_query_cancel_round_trip(client: Client) -> None:
    price = safe_price(client)

    order = client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.010", price=price)
    seen = client.query_order(symbol="BTCUSDT", order_id=order.order_id)
    cancelled = client.cancel_order(symbol="BTCUSDT", orig_client_order_id=order.client_order_id)

    assert (order.status, seen.status, cancelled.status) == ("NEW", "NEW", "CANCELED")
    assert seen.price == price and seen.orig_qty == Decimal("0.010")


def test_503_after_execution_returns_the_order_and_places_only_one(client: Client, exchange: EmulatorThread) -> None:
    price = safe_price(client)
    add_fault(exchange, kind="unknown_status", endpoints=["new_order"], at_requests=[1], code=-1007)

    order = client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.010", price=price, new_client_order_id="lost-answer-1")

    assert fired(exchange, "unknown_status") == 1
    assert order.client_order_id == "lost-answer-1" and order.status == "NEW"
    assert orders_with_client_id(client, "lost-answer-1") == 1
    client.cancel_order(symbol="BTCUSDT", order_id=order.order_id)


def test_clock_skew_minus_1021_is_resynced(client: Client, exchange: EmulatorThread) -> None:
    client.sync_time()
    add_fault(exchange, kind="clock_skew", offset_ms=20_000)

    balances = client.balance()

    assert any(b.asset == "USDT" for b in balances)
    assert 15_000 <= client.server_time_offset_ms <= 25_000


def test_429_storm_is_waited_out(exchange: EmulatorThread) -> None:
    assert exchange.running is not None
    add_fault(exchange, kind="rate_limit", endpoints=["ticker_price"], at_requests=[1], retry_after=1)
    with Client(KEY, SECRET, env="local", base_url=exchange.running.rest_url) as c:
        price = c.ticker_price(symbol="BTCUSDT")

    assert price.price > 0
    assert fired(exchange, "rate_limit") == 1


def test_418_stops_every_request_until_the_ban_ends() -> None:
    # Its own exchange: the ban is real there and would block the other tests' IP.
    with EmulatorThread(EmulatorConfig(api_keys={KEY: SECRET}, seed=12)) as emu:
        assert emu.running is not None
        add_fault(emu, kind="ban", endpoints=["ticker_price"], at_requests=[1], retry_after=300)
        with Client(KEY, SECRET, env="local", base_url=emu.running.rest_url) as c:
            with pytest.raises(E.IpBanned) as banned:
                c.ticker_price(symbol="BTCUSDT")
            requests_before = fired(emu, "ban")
            with pytest.raises(E.BanInForce):
                c.server_time()

    assert banned.value.retry_after == 300 and requests_before == 1


def test_filter_violation_never_reaches_the_exchange(client: Client) -> None:
    price = safe_price(client)
    before = len(client.all_orders(symbol="BTCUSDT", limit=1000))

    with pytest.raises(E.FilterViolation, match="tickSize"):
        client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.010", price=price + Decimal("0.05"))

    assert len(client.all_orders(symbol="BTCUSDT", limit=1000)) == before


def test_exchange_rejections_map_to_error_classes(client: Client) -> None:
    config = ClientConfig(validate_filters=False, retry=RetryPolicy(attempts=1))
    with Client(KEY, SECRET, env="local", base_url=client.base_url, config=config) as raw:
        with pytest.raises(E.InvalidRequest) as bad_symbol:
            raw.book_ticker(symbol="NOPEUSDT")
        with pytest.raises(E.OrderRejected) as margin:
            raw.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="100")
        with pytest.raises(E.UnknownOrder):
            raw.query_order(symbol="BTCUSDT", order_id=987654321)

    assert bad_symbol.value.code == -1121
    assert margin.value.code in (-2019, -2027) and margin.value.status == 400


def test_async_client_50_in_flight(exchange: EmulatorThread) -> None:
    assert exchange.running is not None
    url = exchange.running.rest_url

    async def run() -> list[Decimal]:
        async with AsyncClient(KEY, SECRET, env="local", base_url=url) as c:
            results = await asyncio.gather(*(c.ticker_price(symbol="ETHUSDT") for _ in range(50)))
            await c.balance()
            return [r.price for r in results]

    prices = asyncio.run(run())

    assert len(prices) == 50 and all(p > 0 for p in prices)
