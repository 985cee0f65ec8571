"""Typed events from the local exchange's streams, and unknown payloads passed through raw over a socket."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import pytest
from aiohttp import web

from binfut.clock import SystemClock
from binfut.config import Urls
from binfut.protocol import events as ev
from binfut.stream import StreamManager
from integration.stream.stream_support import TIMEOUT, Driver, fake_server, make_exchange, manager, served, until

# stream -> the type its payload (or each element of it) must decode to
EXPECTED: dict[str, type] = {
    "btcusdt@aggTrade": ev.AggTrade,
    "btcusdt@trade": ev.Trade,
    "btcusdt@markPrice@1s": ev.MarkPriceUpdate,
    "btcusdt@kline_1m": ev.Kline,
    "btcusdt_perpetual@continuousKline_1m": ev.ContinuousKline,
    "btcusdt@miniTicker": ev.MiniTicker,
    "btcusdt@ticker": ev.Ticker,
    "btcusdt@bookTicker": ev.BookTicker,
    "btcusdt@depth@100ms": ev.DepthUpdate,
    "ethusdt@depth5@100ms": ev.DepthUpdate,
    "!markPrice@arr@1s": ev.MarkPriceUpdate,
    "!ticker@arr": ev.Ticker,
    "!miniTicker@arr": ev.MiniTicker,
    "!bookTicker": ev.BookTicker,
}


@pytest.mark.asyncio
async def test_every_market_stream_of_the_exchange_decodes_to_its_type() -> None:
    ex = make_exchange(simulate=True, symbols=("BTCUSDT", "ETHUSDT"))
    driver = Driver(ex, step_ms=250)
    async with served(ex) as running, manager(running) as streams:
        seen: dict[str, object] = {}
        streams.on_event(lambda m: seen.setdefault(m.stream, m.data))
        await streams.subscribe(*EXPECTED)
        await driver.drive(streams.wait_ready())
        await driver.until(lambda: set(seen) >= set(EXPECTED), timeout=20)

    for stream, kind in EXPECTED.items():
        data = seen[stream]
        items = data if isinstance(data, list) else [data]
        assert items and all(isinstance(item, kind) for item in items), (stream, data)
    assert streams.undecoded == 0
    mark = seen["btcusdt@markPrice@1s"]
    assert isinstance(mark, ev.MarkPriceUpdate) and mark.symbol == "BTCUSDT" and mark.mark_price > Decimal(0)
    book = seen["btcusdt@bookTicker"]
    assert isinstance(book, ev.BookTicker) and Decimal(book.bid_price) < Decimal(book.ask_price)


FRAMES = [
    '{"stream":"btcusdt@compositeIndex","data":{"e":"compositeIndex","E":1,"s":"BTCUSDT","p":"1.0"}}',
    '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":2}}',  # a known event missing its fields
    '{"stream":"!contractInfo","data":[{"e":"contractInfo","E":3}]}',
    "this is not JSON",
    '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":4,"a":7,"s":"BTCUSDT","p":"50000.0","q":"0.010",'
    '"f":1,"l":1,"T":4,"m":true,"new":"key"}}',
]


@pytest.mark.asyncio
async def test_unknown_and_malformed_payloads_pass_through_raw_and_the_stream_goes_on() -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in FRAMES:
            await ws.send_str(frame)
        async for _ in ws:
            pass
        return ws

    async with (
        fake_server(handler) as base,
        StreamManager(Urls.local(base), clock=SystemClock(), rng=random.Random(1)) as streams,
    ):
        events = streams.events()
        await streams.subscribe("btcusdt@aggTrade")
        got = [await asyncio.wait_for(events.get(), TIMEOUT) for _ in FRAMES]
        await until(lambda: streams.stats().undecoded == 4)

    raw = [m for m in got if isinstance(m.data, ev.RawEvent)]
    assert [m.stream for m in raw] == ["btcusdt@compositeIndex", "btcusdt@aggTrade", "!contractInfo", ""]
    assert raw[0].data.event_type == "compositeIndex" and raw[0].data.json["p"] == "1.0"
    assert raw[2].data.json == [{"e": "contractInfo", "E": 3}]
    assert raw[3].data.raw == b"this is not JSON"
    last = got[-1].data
    assert isinstance(last, ev.AggTrade) and last.agg_trade_id == 7 and last.price == "50000.0"
