"""Slow consumers against a fast feed: each queue policy does what it says, and never grows without bound.

The feed is a small aiohttp server pushing ``FRAMES`` aggTrade frames (ids 1..N) as fast as the socket
takes them; the consumer does not read until the test says so.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from binfut.clock import SystemClock
from binfut.config import Urls
from binfut.protocol.events import AggTrade, StreamMessage
from binfut.stream import ConsumerOverflow, QueuePolicy, StreamConfig, StreamManager
from integration.stream.stream_support import TIMEOUT, fake_server, until

FRAMES = 5_000
# Each frame carries 4 KB of padding (an unknown key, ignored by the decoder): 20 MB in all, more than the
# socket buffers on both sides can hold, so a consumer that stops reading must stall the server.
PAD = "x" * 4096
CONFIG = StreamConfig(watchdog_s=None, max_age_s=None, backoff_base_s=0.01, close_timeout_s=0.5)


def agg(i: int) -> str:
    return (
        f'{{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","E":{i},"a":{i},"s":"BTCUSDT","p":"50000.0",'
        f'"q":"0.010","f":{i},"l":{i},"T":{i},"m":false,"pad":"{PAD}"}}}}'
    )


class Feed:
    def __init__(self) -> None:
        self.sent = 0
        self.done = asyncio.Event()

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for i in range(1, FRAMES + 1):
            await ws.send_str(agg(i))  # waits while the client's socket buffer is full
            self.sent = i
        self.done.set()
        async for _ in ws:
            pass
        return ws


@pytest_asyncio.fixture
async def feed() -> AsyncIterator[tuple[Feed, StreamManager]]:
    source = Feed()
    async with fake_server(source.handler) as base:
        streams = StreamManager(Urls.local(base), config=CONFIG, clock=SystemClock(), rng=random.Random(1))
        async with streams:
            yield source, streams


def ids(messages: list[StreamMessage]) -> list[int]:
    return [m.data.agg_trade_id for m in messages if isinstance(m.data, AggTrade)]


@pytest.mark.asyncio
async def test_drop_oldest_keeps_the_newest_and_counts_the_rest(feed: tuple[Feed, StreamManager]) -> None:
    source, streams = feed
    slow = streams.events(maxsize=100, policy="drop_oldest")
    await streams.agg_trade("BTCUSDT")

    await asyncio.wait_for(source.done.wait(), TIMEOUT)
    await until(lambda: slow.received == FRAMES)

    kept = []
    while (message := slow.get_nowait()) is not None:
        kept.append(message)
    assert ids(kept) == list(range(FRAMES - 99, FRAMES + 1))
    assert slow.dropped == FRAMES - 100
    assert streams.stats().dropped == FRAMES - 100


@pytest.mark.asyncio
async def test_raise_fails_only_the_slow_consumer(feed: tuple[Feed, StreamManager]) -> None:
    source, streams = feed
    slow = streams.events(maxsize=100, policy=QueuePolicy.RAISE)
    steady = streams.events(maxsize=FRAMES, policy="drop_oldest")
    await streams.agg_trade("BTCUSDT")

    await asyncio.wait_for(source.done.wait(), TIMEOUT)
    await until(lambda: steady.qsize() == FRAMES)
    with pytest.raises(ConsumerOverflow):
        await asyncio.wait_for(slow.get(), TIMEOUT)
    assert steady.dropped == 0  # the others never noticed
    assert slow not in streams._sinks  # detached on overflow


@pytest.mark.asyncio
async def test_block_backpressures_the_connection_and_loses_nothing(feed: tuple[Feed, StreamManager]) -> None:
    source, streams = feed
    slow = streams.events(maxsize=100, policy="block")
    await streams.agg_trade("BTCUSDT")

    await until(lambda: slow.qsize() > 100)
    await asyncio.sleep(0.3)  # the consumer sleeps: the connection must stop reading, the server must stall
    assert slow.qsize() == 101  # one frame past the bound (the one that found it full), no more
    assert not source.done.is_set() and source.sent < FRAMES
    conn = streams.connections()[0]
    assert conn.messages == 101

    received = []

    async def read_all() -> None:
        async for message in slow:
            received.append(message)
            if len(received) == FRAMES:
                return

    await asyncio.wait_for(read_all(), TIMEOUT)
    assert ids(received) == list(range(1, FRAMES + 1))
    assert slow.dropped == 0 and conn.reconnects == 0


@pytest.mark.asyncio
async def test_stats_keep_the_run_totals_after_the_connections_close(feed: tuple[Feed, StreamManager]) -> None:
    # Arrange: a full feed read by a drop-oldest consumer
    source, streams = feed
    slow = streams.events(maxsize=100, policy="drop_oldest")
    await streams.agg_trade("BTCUSDT")
    await asyncio.wait_for(source.done.wait(), TIMEOUT)
    await until(lambda: slow.received == FRAMES)
    during = streams.stats()

    # Act: the only stream goes (its connection closes), then the manager closes
    await streams.unsubscribe("btcusdt@aggTrade")
    unsubscribed = streams.stats()
    await streams.close()
    closed = streams.stats()

    # Assert: a dashboard's last frame still shows what the run received and dropped
    assert during.messages == unsubscribed.messages == closed.messages == FRAMES
    assert during.dropped == closed.dropped == FRAMES - 100
    assert unsubscribed.connections == closed.connections == 0 and closed.consumers == 0
