"""Connections against the local exchange: live (un)subscribe, sharding, reconnects, watchdog, 24 h rotation.

Every test runs real sockets on 127.0.0.1 and a ManualClock (time moves only through the Driver), except
the watchdog test, which needs a silent server and real time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec
import pytest
from aiohttp import web

from binfut.clock import SystemClock
from binfut.config import Urls
from binfut.protocol.events import AggTrade, BookTicker, StreamMessage
from binfut.stream import LifecycleEvent, LifecycleKind, StreamConfig, StreamConnection, StreamManager
from integration.stream.stream_support import (
    FAST,
    TIMEOUT,
    Driver,
    fake_server,
    kinds,
    make_exchange,
    manager,
    market,
    seed_book,
    served,
    until,
)


@pytest.mark.asyncio
async def test_subscribe_and_unsubscribe_live_on_the_same_socket() -> None:
    ex = make_exchange()
    seed_book(ex)
    driver = Driver(ex)
    async with served(ex) as running, manager(running) as streams:
        events = streams.events()
        await streams.agg_trade("BTCUSDT")
        await driver.drive(streams.wait_ready())
        conn = streams.connections()[0]
        assert await driver.drive(conn.list_subscriptions()) == ["btcusdt@aggTrade"]

        await driver.drive(streams.trade("BTCUSDT"))  # same route: a live SUBSCRIBE on the same connection
        assert streams.connections() == [conn]
        assert await driver.drive(conn.list_subscriptions()) == ["btcusdt@aggTrade", "btcusdt@trade"]
        seen: set[str] = set()
        await driver.until(
            lambda: _drain(events, seen) >= {"btcusdt@aggTrade", "btcusdt@trade"},
            each=lambda: market(ex, "BTCUSDT", "BUY", "0.010"),
        )

        await driver.drive(streams.unsubscribe("btcusdt@trade"))
        assert await driver.drive(conn.list_subscriptions()) == ["btcusdt@aggTrade"]
        _drain(events, set())
        after: set[str] = set()
        await driver.run(600, each=lambda: market(ex, "BTCUSDT", "SELL", "0.010"))
        await until(lambda: "btcusdt@aggTrade" in _drain(events, after))
        assert "btcusdt@trade" not in after  # gone without a reconnect
        assert conn.reconnects == 0 and conn.health().state == "open"


def _drain(consumer: object, into: set[str]) -> set[str]:
    while (message := consumer.get_nowait()) is not None:  # type: ignore[attr-defined]
        into.add(message.stream)
    return into


@pytest.mark.asyncio
async def test_more_than_1024_streams_are_sharded_over_two_connections() -> None:
    ex = make_exchange()
    driver = Driver(ex, step_ms=250)
    async with served(ex) as running, manager(running) as streams:
        names = [f"s{i:04d}usdt@aggTrade" for i in range(1100)] + ["btcusdt@bookTicker"]
        await streams.subscribe(*names)
        await driver.drive(streams.wait_ready())  # 924 streams follow the URL in paced SUBSCRIBE frames

        by_label = {c.label: c for c in streams.connections()}
        assert sorted(by_label) == ["market-0", "market-1", "public-0"]
        listed = {label: await driver.drive(c.list_subscriptions()) for label, c in by_label.items()}
        assert len(listed["market-0"]) == 1024 and len(listed["market-1"]) == 76
        assert listed["public-0"] == ["btcusdt@bookTicker"]  # book streams ride /public
        assert set(listed["market-0"]) | set(listed["market-1"]) == set(names[:-1])

        await driver.drive(streams.unsubscribe(*names[1024:1100]))  # market-1 empties and closes
        assert sorted(c.label for c in streams.connections()) == ["market-0", "public-0"]


@pytest.mark.asyncio
async def test_a_forced_disconnect_reconnects_and_resubscribes() -> None:
    ex = make_exchange()
    seed_book(ex)
    driver = Driver(ex)
    async with served(ex) as running, manager(running) as streams:
        life = streams.lifecycle()
        events = streams.events()
        await streams.agg_trade("BTCUSDT")
        await streams.trade("BTCUSDT")
        await driver.drive(streams.wait_ready())
        conn = streams.connections()[0]
        before = await driver.drive(conn.list_subscriptions())

        ex.faults.add(kind="ws_disconnect", max_fires=1)  # the exchange drops the connection at its next sweep
        await driver.until(lambda: conn.reconnects == 1, each=lambda: market(ex, "BTCUSDT", "BUY", "0.010"))
        await asyncio.wait_for(conn.wait_open(), TIMEOUT)

        assert ex.faults.fired("ws_disconnect")
        seen = []
        while (event := life.get_nowait()) is not None:
            seen.append(event)
        assert kinds(seen) == ["connected", "disconnected", "reconnected"]
        assert "closed" in seen[1].reason or "failed" in seen[1].reason
        assert await driver.drive(conn.list_subscriptions()) == before
        _drain(events, set())
        fresh: set[str] = set()
        await driver.until(
            lambda: _drain(events, fresh) >= {"btcusdt@aggTrade", "btcusdt@trade"},
            each=lambda: market(ex, "BTCUSDT", "SELL", "0.010"),
        )


@pytest.mark.asyncio
async def test_the_watchdog_reconnects_a_silent_connection() -> None:
    connects = 0

    async def silent(request: web.Request) -> web.WebSocketResponse:
        nonlocal connects
        connects += 1
        ws = web.WebSocketResponse(autoping=False)  # never answers a ping, never sends
        await ws.prepare(request)
        if connects > 1:
            await ws.send_str(
                '{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT",'
                '"b":"1.0","B":"1","a":"1.1","A":"1","T":1,"E":1}}'
            )
        async for _ in ws:  # pings are read and never answered (autoping is off); ends when the client leaves
            pass
        return ws

    config = StreamConfig(watchdog_s=0.2, probe_s=0.2, backoff_base_s=0.01, max_age_s=None, close_timeout_s=0.2)
    async with (
        fake_server(silent) as base,
        StreamManager(Urls.local(base), config=config, clock=SystemClock(), rng=random.Random(1)) as streams,
    ):
        life: list[LifecycleEvent] = []
        streams.on_lifecycle(life.append)
        events = streams.events()
        await streams.book_ticker("BTCUSDT")
        message = await asyncio.wait_for(events.get(), TIMEOUT)  # arrives on the second socket only

    assert isinstance(message, StreamMessage) and isinstance(message.data, BookTicker)
    assert kinds(life)[:3] == ["connected", "disconnected", "reconnected"]
    assert life[1].reason.startswith("watchdog: silent for")
    assert connects >= 2


@pytest.mark.asyncio
async def test_rotation_before_24h_loses_and_repeats_no_aggregate_trade() -> None:
    ex = make_exchange()
    seed_book(ex, levels=90)
    driver = Driver(ex, step_ms=40)
    config = StreamConfig(
        watchdog_s=None,
        backoff_base_s=0.05,
        max_age_s=86_400,
        rotate_before_s=1_800,
        overlap_s=30,
        close_timeout_s=1.0,
    )
    side = iter(["BUY", "SELL"] * 100_000)

    def trade() -> None:
        market(ex, "BTCUSDT", next(side), "0.003")

    async with served(ex) as running, manager(running, config) as streams:
        life: list[LifecycleEvent] = []
        streams.on_lifecycle(life.append)
        ids: list[int] = []
        streams.on_event(lambda m: ids.append(m.data.agg_trade_id) if isinstance(m.data, AggTrade) else None)
        await streams.agg_trade("BTCUSDT")
        await driver.drive(streams.wait_ready())
        conn = streams.connections()[0]

        await driver.run(1_000, each=trade)
        # Jump to one second before the rotation (23.5 h after connecting), then keep trading through it.
        opened_ms = driver.now_ms() - 1_000
        await driver.step(opened_ms + (86_400 - 1_800) * 1_000 - 1_000 - driver.now_ms())
        await driver.until(lambda: conn.rotations == 1, each=trade, timeout=20)
        await driver.run(2_000, each=trade)
        await driver.run(500)  # the last 100 ms windows flush
        last = ex.market.last_agg_trade("BTCUSDT")
        assert last is not None
        await driver.until(lambda: bool(ids) and ids[-1] == last.agg_id)

    record = [a.agg_id for a in ex.market.agg_trades("BTCUSDT", from_id=ids[0], limit=100_000)]
    assert ids == record, "every aggregate trade exactly once, in order"
    assert len(ids) > 50
    assert kinds(life).count("rotated") == 1 and "disconnected" not in kinds(life)
    rotated = next(e for e in life if e.kind is LifecycleKind.ROTATED)
    assert rotated.reason == "hand-over proven"
    assert conn.reconnects == 0


@pytest.mark.asyncio
async def test_connect_failures_back_off_and_are_reported() -> None:
    # Nothing listens on this port: every attempt fails, the connection keeps trying with a growing delay.
    async with aiohttp.ClientSession() as session:
        config = StreamConfig(backoff_base_s=0.01, backoff_cap_s=0.05, connect_timeout_s=1.0, max_age_s=None)
        streams = StreamManager(Urls.local("http://127.0.0.1:9"), config=config, session=session, rng=random.Random(2))
        await streams.start()
        await streams.agg_trade("BTCUSDT")
        conn = streams.connections()[0]
        await until(lambda: conn.state in ("backoff", "connecting") and conn.reconnects == 0)
        await asyncio.sleep(0.2)
        assert conn.health().state != "open"
        await asyncio.wait_for(streams.close(), TIMEOUT)
        assert conn.state == "closed"
    assert FAST.max_age_s is None


@pytest.mark.asyncio
async def test_a_raw_connection_runs_its_open_hook_on_every_connect_and_passes_api_answers_on() -> None:
    """The seam the WebSocket API and user-data clients use: raw URL, on_open hook, send(), reconnect()."""
    received: list[bytes] = []

    async def api(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:  # answer every request like ws-fapi: {"id","status","result"}
            request_id = msgspec.json.decode(msg.data)["id"]
            await ws.send_str(msgspec.json.encode({"id": request_id, "status": 200, "result": {}}).decode())
        return ws

    logons = 0

    async def logon(send: Callable[[str | bytes], Awaitable[None]]) -> None:
        nonlocal logons
        logons += 1
        await send(msgspec.json.encode({"id": f"logon-{logons}", "method": "session.logon"}))

    life: list[LifecycleEvent] = []
    async with fake_server(api, ("/ws-fapi/v1",)) as base:
        url = "ws" + base[len("http") :] + "/ws-fapi/v1"
        conn = StreamConnection(
            url, on_message=received.append, combined=False, on_open=logon, on_lifecycle=life.append,
            config=FAST, clock=SystemClock(), rng=random.Random(5), label="api",
        )  # fmt: skip
        async with conn:
            await asyncio.wait_for(conn.wait_open(), TIMEOUT)
            await conn.send('{"id":"q-1","method":"time"}')
            await until(lambda: len(received) == 2)
            await conn.reconnect("new listenKey")
            await until(lambda: conn.reconnects == 1 and len(received) == 3)
    answers = [msgspec.json.decode(r)["id"] for r in received]
    assert answers == ["logon-1", "q-1", "logon-2"] and logons == 2
    assert kinds(life) == ["connected", "disconnected", "reconnected", "closed"]
    assert life[1].reason == "new listenKey"
