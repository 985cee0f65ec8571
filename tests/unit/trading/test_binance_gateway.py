"""BinanceGateway over a real client and the local exchange's request entry point, without sockets.

The transport hands each signed request to ``LocalExchange.dispatch_now`` (the handlers of the REST
server), so every command really runs in the matching engine and every answer is Binance-shaped JSON.
"""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from binfut.client import AsyncClient, Client
from binfut.clock import ManualClock
from binfut.emulator import EmulatorConfig, LocalExchange, build_exchange
from binfut.errors import ReadTimeout
from binfut.matching import MarkPrice, ModifyOrder, NewAlgoOrder, NewOrder
from binfut.protocol.request import PreparedRequest, RawResponse
from binfut.trading.binance_gateway import BinanceGateway
from binfut.trading.gateway import OrderGateway

D = Decimal
KEY, SECRET = "gatewayKey000001", "gatewaySecret000001"


class InProcess:
    """A transport into ``exchange.dispatch_now``; ``lose`` endpoints fail with ReadTimeout before reaching it."""

    def __init__(self, exchange: LocalExchange, lose: frozenset[str] = frozenset()) -> None:
        self.exchange = exchange
        self.account = exchange.accounts.by_api_key(KEY)
        self.lose = lose
        self.calls: list[str] = []

    def handle(self, request: PreparedRequest) -> RawResponse:
        name = request.endpoint.name
        self.calls.append(name)
        if name in self.lose:
            raise ReadTimeout("the answer was lost")
        query = request.target.partition("?")[2]
        body = (request.body or b"").decode()
        params = dict(parse_qsl("&".join(p for p in (query, body) if p), keep_blank_values=True))
        status, payload, headers = self.exchange.dispatch_now(name, params, self.account)
        return RawResponse(status, {k.lower(): v for k, v in headers.items()}, payload)

    def close(self) -> None:
        return None


class AsyncInProcess(InProcess):
    async def handle(self, request: PreparedRequest) -> RawResponse:  # type: ignore[override]
        return super().handle(request)

    async def aclose(self) -> None:
        return None


def make_exchange() -> LocalExchange:
    clock = ManualClock(1_700_000_000_000_000_000)
    ex = build_exchange(EmulatorConfig(simulate=False, symbols=("BTCUSDT",), api_keys={KEY: SECRET}, balance=D("10000")),
                        clock=clock)
    ex.venue.open_account("mm", {"USDT": D(10**9)}, unlimited=True, emit_events=False)
    ex.on_market(MarkPrice(symbol="BTCUSDT", mark_price=D("65000"), time_ms=clock.time_ms()))
    for side, price in (("BUY", "64990"), ("SELL", "65010")):
        ex.execute("mm", NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=D("5"), price=D(price), time_in_force="GTC"))
    return ex


def gateway(lose: frozenset[str] = frozenset()) -> tuple[BinanceGateway, InProcess]:
    ex = make_exchange()
    transport = InProcess(ex, lose)
    client = Client(KEY, SECRET, env="local", base_url="http://local", clock=ex.clock, transport=transport)
    return BinanceGateway(client), transport


def test_orders_queries_and_settings_map_onto_the_rest_endpoints() -> None:
    gw, transport = gateway()
    assert isinstance(gw, OrderGateway)

    filled = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.1"), new_client_order_id="t-1"))
    resting = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.1"), price=D("64000"),
                                 time_in_force="GTC", new_client_order_id="t-2"))
    moved = gw.modify(ModifyOrder(symbol="BTCUSDT", side="BUY", quantity=D("0.1"), price=D("64100"), orig_client_order_id="t-2"))
    opened = gw.open_orders("BTCUSDT")
    positions = gw.positions()
    gw.change_leverage("BTCUSDT", 7)
    gw.change_margin_type("BTCUSDT", "CROSSED")  # already so: Binance's -4046 is swallowed
    gw.change_position_mode(False)  # already so: not even sent
    cancelled = gw.cancel("BTCUSDT", client_order_id="t-2")

    assert (filled.status, filled.executed_qty, filled.avg_price, filled.client_order_id) == ("FILLED", D("0.1"), D("65010"), "t-1")
    assert resting.status == "NEW" and resting.accepted and moved.status == "NEW"
    assert [(o.client_order_id, o.price, o.type, o.time_in_force) for o in opened] == [("t-2", D("64100"), "LIMIT", "GTC")]
    assert [(p.symbol, p.position_side, p.amount, p.entry_price, p.margin_type) for p in positions] == [
        ("BTCUSDT", "BOTH", D("0.1"), D("65010"), "cross")]
    assert gw.positions()[0].leverage == 7 and gw.hedge_mode() is False
    assert cancelled.status == "CANCELED" and gw.open_orders() == []
    assert gw.order_status("BTCUSDT", client_order_id="t-1").status == "FILLED"  # type: ignore[union-attr]
    assert gw.order_status("BTCUSDT", client_order_id="nope") is None
    assert gw.balances()["USDT"] < D("10000")  # the taker fee
    assert gw.mark_price("BTCUSDT") == D("65000")
    assert "change_position_mode" not in transport.calls and transport.calls.count("new_order") == 2


def test_algo_orders_and_cancel_all() -> None:
    gw, _ = gateway()
    gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.1"), price=D("64000"), time_in_force="GTC"))

    stop = gw.submit_algo(NewAlgoOrder(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=D("0.1"),
                                       trigger_price=D("60000"), working_type="MARK_PRICE", client_algo_id="t-sl"))
    listed = gw.open_algo_orders("BTCUSDT")
    gw.cancel_all("BTCUSDT")

    assert stop.status == "NEW" and stop.algo_id is not None
    assert [(a.client_algo_id, a.order_type, a.trigger_price, a.working_type) for a in listed] == [
        ("t-sl", "STOP_MARKET", D("60000"), "MARK_PRICE")]
    assert gw.open_orders() == [] and gw.open_algo_orders() == []
    assert gw.cancel_algo(client_algo_id="t-sl").status == "REJECTED"  # gone already


def test_refusals_are_rejected_acks_and_lost_answers_unknown_acks_never_exceptions() -> None:
    gw, _ = gateway()
    lost_gw, _ = gateway(lose=frozenset({"new_order"}))

    too_big = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("50"), price=D("64000"), time_in_force="GTC"))
    off_grid = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.1"), price=D("64000.05"), time_in_force="GTC"))
    unknown_cancel = gw.cancel("BTCUSDT", client_order_id="never-sent")
    lost = lost_gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.1"), new_client_order_id="t-lost"))

    assert (too_big.status, too_big.code) == ("REJECTED", -2019)  # margin is insufficient
    assert off_grid.status == "REJECTED" and off_grid.code is None and "tick" in off_grid.reason.lower()  # local filter check
    assert (unknown_cancel.status, unknown_cancel.code) == ("REJECTED", -2011)
    assert (lost.status, lost.code, lost.client_order_id) == ("UNKNOWN", -1007, "t-lost") and not lost.accepted


def test_events_are_handed_to_the_listener() -> None:
    gw, _ = gateway()
    seen: list[Any] = []
    gw.set_listener(seen.append)

    gw.deliver("event")

    assert seen == ["event"]


@pytest.mark.asyncio
async def test_over_an_async_client_calls_are_bridged_from_a_worker_thread_and_refused_on_the_loop() -> None:
    ex = make_exchange()
    async with AsyncClient(KEY, SECRET, env="local", base_url="http://local", clock=ex.clock,
                           transport=AsyncInProcess(ex)) as client:
        gw = BinanceGateway(client)
        threads: list[str] = []

        def in_worker() -> Any:
            threads.append(threading.current_thread().name)
            return gw.submit(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.2")))

        ack = await asyncio.wait_for(asyncio.to_thread(in_worker), 10)
        with pytest.raises(RuntimeError, match="worker thread"):
            gw.balances()

    assert ack.status == "FILLED" and ack.avg_price == D("64990")
    assert threads and threads[0] != threading.current_thread().name
