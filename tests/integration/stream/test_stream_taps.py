"""Raw-frame taps over real sockets: exactly the consumers' frames, as sent, across reconnects; failures contained.

The local exchange runs on a ManualClock (time moves through the Driver); the byte-exact test uses a small
server that sends frames spelled as no encoder would (spaces, unknown keys, an unknown event).
"""

from __future__ import annotations

import logging
import random

import pytest
from aiohttp import web

from binfut.clock import SystemClock
from binfut.config import Urls
from binfut.protocol.events import RawEvent, decode_message
from binfut.stream import StreamConfig, StreamManager
from integration.stream.stream_support import (
    START_NS,
    Driver,
    drain,
    fake_server,
    make_exchange,
    manager,
    market,
    seed_book,
    served,
    until,
)


@pytest.mark.asyncio
async def test_a_tap_sees_exactly_the_frames_the_consumers_get_across_a_reconnect() -> None:
    # Arrange: a tap and a consumer on the same manager; trades before and after a forced disconnect.
    ex = make_exchange()
    seed_book(ex)
    driver = Driver(ex)
    tapped: list[tuple[str, int, bytes]] = []
    async with served(ex) as running, manager(running) as streams:
        tap = streams.on_frame(lambda label, recv, frame: tapped.append((label, recv, frame)))
        events = streams.events()
        await streams.agg_trade("BTCUSDT")
        await driver.drive(streams.wait_ready())
        await driver.drive(streams.trade("BTCUSDT"))  # a live SUBSCRIBE: its answer is no data frame
        conn = streams.connections()[0]
        await driver.until(lambda: len(tapped) >= 10, each=lambda: market(ex, "BTCUSDT", "BUY", "0.010"))

        # Act
        ex.faults.add(kind="ws_disconnect", max_fires=1)
        await driver.until(lambda: conn.reconnects == 1, each=lambda: market(ex, "BTCUSDT", "BUY", "0.010"))
        before = len(tapped)
        await driver.until(lambda: len(tapped) >= before + 10, each=lambda: market(ex, "BTCUSDT", "SELL", "0.010"))
        received = drain(events)
        now = driver.clock.time_ns()

    # Assert: the same frames, in the same order, before and after the reconnect.
    frames = [frame for _, _, frame in tapped]
    assert all(type(frame) is bytes for frame in frames)
    assert [decode_message(frame) for frame in frames] == received
    assert all(frame.startswith(b'{"stream":') for frame in frames)  # no SUBSCRIBE answer among them
    assert {m.stream for m in received[before:]} == {"btcusdt@aggTrade", "btcusdt@trade"}
    assert {label for label, _, _ in tapped} == {"market-0"}
    recv = [t for _, t, _ in tapped]
    assert recv == sorted(recv) and recv[0] >= START_NS and recv[-1] <= now  # the manager's ManualClock
    assert tap.errors == 0 and streams.stats().tap_errors == 0


@pytest.mark.asyncio
async def test_the_tap_gets_the_bytes_exactly_as_the_server_sent_them() -> None:
    # Arrange: frames spelled oddly; a stray control answer; the socket closes after the first batch.
    batches = [
        [
            b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"a":1,"s":"BTCUSDT","p":"1.0","q":"2",'
            b'"f":1,"l":1,"T":1,"m":true,"extra":[1, 2]}}',
            b'{"stream": "btcusdt@aggTrade" ,  "data": {"e":"aggTrade","E":2,"a":2,"s":"BTCUSDT","p":"1.5",'
            b'"q":"3","f":2,"l":2,"T":2,"m":false}}',
            b'{"result":null,"id":4242}',  # consumed by the connection: neither tapped nor decoded
            b'{"stream":"btcusdt@aggTrade","data":{"e":"somethingNew","E":3}}',
        ],
        [
            b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":4,"a":4,"s":"BTCUSDT","p":"2.0","q":"1",'
            b'"f":4,"l":4,"T":4,"m":true}}',
        ],
    ]
    connects = 0

    async def handler(request: web.Request) -> web.WebSocketResponse:
        nonlocal connects
        batch = batches[min(connects, len(batches) - 1)]
        connects += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for i, frame in enumerate(batch):
            if i == 0:
                await ws.send_bytes(frame)  # a binary message is a frame too
            else:
                await ws.send_str(frame.decode())
        if connects == 1:
            await ws.close()  # a server-side disconnect after the first batch
            return ws
        async for _ in ws:
            pass
        return ws

    config = StreamConfig(watchdog_s=None, max_age_s=None, backoff_base_s=0.01, close_timeout_s=0.5)
    tapped: list[bytes] = []
    async with (
        fake_server(handler) as base,
        StreamManager(Urls.local(base), config=config, clock=SystemClock(), rng=random.Random(1)) as streams,
    ):
        streams.on_frame(lambda label, recv, frame: tapped.append(frame))
        events = streams.events()

        # Act
        await streams.agg_trade("BTCUSDT")
        await until(lambda: len(tapped) == 4)
        received = drain(events)
        reconnects = streams.stats().reconnects

    # Assert
    sent = [frame for batch in batches for frame in batch if not frame.startswith(b'{"result"')]
    assert tapped == sent and reconnects == 1
    assert [decode_message(frame) for frame in tapped] == received
    assert type(received[2].data) is RawEvent  # an unknown event is tapped like any other frame


@pytest.mark.asyncio
async def test_a_raising_tap_does_not_break_the_stream(caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    ex = make_exchange()
    seed_book(ex)
    driver = Driver(ex)

    def broken(label: str, recv: int, frame: bytes) -> None:
        raise RuntimeError("a tap with a bug")

    async with served(ex) as running, manager(running) as streams:
        bad = streams.on_frame(broken)
        events = streams.events()
        await streams.agg_trade("BTCUSDT")
        await driver.drive(streams.wait_ready())
        conn = streams.connections()[0]

        # Act
        with caplog.at_level(logging.ERROR, logger="binfut.stream"):
            await driver.until(lambda: bad.errors >= 20, each=lambda: market(ex, "BTCUSDT", "BUY", "0.010"))
        received = drain(events)
        stats = streams.stats()

        # Assert: every frame still reached the consumer; the connection never dropped.
        assert len(received) == bad.errors == stats.tap_errors and stats.messages == len(received)
        assert conn.reconnects == 0 and streams.is_open("btcusdt@aggTrade")
        failures = [r for r in caplog.records if "frame tap" in r.getMessage()]
        assert len(failures) == 1 and failures[0].getMessage().startswith("market-0: frame tap")
        bad.close()
        await driver.until(lambda: bool(drain(events)), each=lambda: market(ex, "BTCUSDT", "SELL", "0.010"))
        assert bad.errors == stats.tap_errors


@pytest.mark.asyncio
async def test_a_tap_registered_on_a_running_manager_starts_with_the_next_frame() -> None:
    ex = make_exchange()
    seed_book(ex)
    driver = Driver(ex)
    async with served(ex) as running, manager(running) as streams:
        events = streams.events()
        await streams.agg_trade("BTCUSDT")
        await driver.drive(streams.wait_ready())
        await driver.until(lambda: bool(drain(events)), each=lambda: market(ex, "BTCUSDT", "BUY", "0.010"))

        tapped: list[bytes] = []
        with streams.on_frame(lambda label, recv, frame: tapped.append(frame)):
            await driver.until(lambda: len(tapped) >= 5, each=lambda: market(ex, "BTCUSDT", "BUY", "0.010"))
            received = drain(events)
        count = len(tapped)
        await driver.until(lambda: bool(drain(events)), each=lambda: market(ex, "BTCUSDT", "SELL", "0.010"))

    assert [decode_message(f) for f in tapped] == received
    assert len(tapped) == count  # closed by leaving `with`
