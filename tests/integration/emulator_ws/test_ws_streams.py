"""Market streams: every URL form, control messages and their errors, payload shapes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from binfut.emulator.config import EmulatorConfig
from binfut.emulator.server import RunningEmulator, start_emulator
from integration.emulator_ws.ws_support import WsClient, limit, liquidation, mark, market, rest

PREFIXES = ["", "/public", "/market", "/private"]
# Key order of real fstream frames (shared/realdata/BINANCE_FUTURES.ws.1.0 and btcusdt_20240718.gz).
REAL_KEYS = {
    "depthUpdate": ["e", "E", "T", "s", "U", "u", "pu", "b", "a"],
    "bookTicker": ["e", "u", "s", "b", "B", "a", "A", "T", "E"],
    "aggTrade": ["e", "E", "a", "s", "p", "q", "f", "l", "T", "m"],
    "trade": ["e", "E", "T", "s", "t", "p", "q", "X", "m"],
    "kline": ["e", "E", "s", "k"],
}
KLINE_KEYS = ["t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"]


def trade_once(served, price: str = "50000.0", qty: str = "0.010") -> None:
    ex = served.exchange
    limit(ex, "mm", "BTCUSDT", "SELL", price, qty)
    market(ex, "taker", "BTCUSDT", "BUY", qty)


@pytest.mark.asyncio
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_raw_single_stream(served, prefix: str) -> None:
    async with await WsClient.connect(f"{served.ws_url}{prefix}/ws/btcusdt@trade") as cl:
        trade_once(served)
        frame = await cl.recv()
        assert list(frame) == REAL_KEYS["trade"]
        assert frame["s"] == "BTCUSDT" and frame["p"] == "50000.00" and frame["q"] == "0.010" and frame["m"] is False


@pytest.mark.asyncio
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_raw_two_streams_in_path(served, prefix: str) -> None:
    async with await WsClient.connect(f"{served.ws_url}{prefix}/ws/btcusdt@trade/btcusdt@depth@0ms") as cl:
        reply = await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 7})
        assert reply == {"result": ["btcusdt@trade", "btcusdt@depth@0ms"], "id": 7}
        trade_once(served)
        frames = [await cl.recv() for _ in range(3)]  # depth (ask added), trade, depth (ask taken)
        assert [f["e"] for f in frames] == ["depthUpdate", "trade", "depthUpdate"]
        assert all("stream" not in f for f in frames)


@pytest.mark.asyncio
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_combined_url(served, prefix: str) -> None:
    url = f"{served.ws_url}{prefix}/stream?streams=btcusdt@trade/ethusdt@trade/btcusdt@bookTicker"
    async with await WsClient.connect(url) as cl:
        trade_once(served)
        seen = {}
        while len(seen) < 2:
            frame = await cl.recv()
            assert set(frame) == {"stream", "data"}
            seen[frame["stream"]] = frame["data"]
        assert seen["btcusdt@trade"]["e"] == "trade"
        assert seen["btcusdt@bookTicker"]["e"] == "bookTicker"
        assert list(seen["btcusdt@bookTicker"]) == REAL_KEYS["bookTicker"]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/ws", "/stream", "/market/ws", "/public/stream"])
async def test_bare_connection_then_subscribe(served, path: str) -> None:
    async with await WsClient.connect(served.ws_url + path) as cl:
        assert await cl.request({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}) == {
            "result": None,
            "id": 1,
        }
        trade_once(served)
        frame = await cl.recv()
        combined = path.endswith("/stream")
        data = frame["data"] if combined else frame
        assert data["e"] == "trade"
        if combined:
            assert frame["stream"] == "btcusdt@trade"
        assert await cl.request({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 2}) == {
            "result": None,
            "id": 2,
        }
        trade_once(served)
        assert await cl.quiet(0.15) == []
        assert await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 3}) == {"result": [], "id": 3}


@pytest.mark.asyncio
async def test_control_ids_and_properties(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws") as cl:
        assert await cl.request({"method": "SUBSCRIBE", "params": ["BTCUSDT@aggTrade", "btcusdt@depth"], "id": 11}) == {
            "result": None,
            "id": 11,
        }
        assert await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 12}) == {
            "result": ["btcusdt@aggTrade", "btcusdt@depth"],
            "id": 12,
        }
        assert await cl.request({"method": "GET_PROPERTY", "params": ["combined"], "id": 13}) == {
            "result": False,
            "id": 13,
        }
        assert await cl.request({"method": "SET_PROPERTY", "params": ["combined", True], "id": 14}) == {
            "result": None,
            "id": 14,
        }
        assert await cl.request({"method": "GET_PROPERTY", "params": ["combined"], "id": 15}) == {
            "result": True,
            "id": 15,
        }
        # String ids (the official SDK sends UUIDs) are echoed as well.
        uid = "8d3f2c1e-0000-4000-8000-000000000001"
        assert await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": uid}) == {
            "result": ["btcusdt@aggTrade", "btcusdt@depth"],
            "id": uid,
        }
        # combined=true now: data frames are wrapped even on /ws
        await cl.request({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 16})
        trade_once(served)
        frame = await cl.recv_until(lambda f: f.get("stream") == "btcusdt@trade")
        assert frame["data"]["e"] == "trade"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("request_obj", "error", "reply_id"),
    [
        (
            {"method": "SUBSCRIBE", "params": ["btcusdt@trade"]},
            (2, "Invalid request: request ID must be an unsigned integer"),
            None,
        ),
        (
            {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": -1},
            (2, "Invalid request: request ID must be an unsigned integer"),
            None,
        ),
        (
            {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": True},
            (2, "Invalid request: request ID must be an unsigned integer"),
            None,
        ),
        ({"params": ["btcusdt@trade"], "id": 4}, (2, "Invalid request: missing field `method`"), None),
        ({"method": "SUBSCRIB", "params": [], "id": 5}, (2, "Invalid request: unknown variant `SUBSCRIB`"), None),
        (
            {"method": "SUBSCRIBE", "params": ["btcusdt@nonsense"], "id": 6},
            (2, "Invalid request: invalid stream name"),
            6,
        ),
        (
            {"method": "SUBSCRIBE", "params": "btcusdt@trade", "id": 7},
            (2, "Invalid request: params must be an array"),
            7,
        ),
        ({"method": "SET_PROPERTY", "params": ["foo", True], "id": 8}, (0, "Unknown property"), 8),
        (
            {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9},
            (1, "Invalid value type: expected Boolean"),
            9,
        ),
        (
            {"method": "SET_PROPERTY", "params": [1, True], "id": 10},
            (2, "Invalid request: property name must be a string"),
            10,
        ),
        (
            {"method": "SET_PROPERTY", "params": ["combined", True, 1], "id": 11},
            (2, "Invalid request: too many parameters"),
            11,
        ),
        (
            {"method": "GET_PROPERTY", "params": ["combined", 1], "id": 12},
            (2, "Invalid request: too many parameters"),
            12,
        ),
    ],
)
async def test_control_errors(served, request_obj, error, reply_id) -> None:
    async with await WsClient.connect(served.ws_url + "/ws") as cl:
        await cl.send(request_obj)
        reply = await cl.recv()
        assert reply["id"] == reply_id
        assert reply["error"]["code"] == error[0]
        assert reply["error"]["msg"].startswith(error[1])


@pytest.mark.asyncio
async def test_invalid_json_is_code_3(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws") as cl:
        await asyncio.wait_for(cl.ws.send_str("{not json"), 5)
        reply = await cl.recv()
        assert reply["error"]["code"] == 3 and reply["error"]["msg"].startswith("Invalid JSON") and reply["id"] is None


@pytest.mark.asyncio
async def test_stream_limit_1024(served) -> None:
    names = [f"sym{i:04d}usdt@trade" for i in range(1024)]
    async with await WsClient.connect(served.ws_url + "/ws") as cl:
        assert await cl.request({"method": "SUBSCRIBE", "params": names, "id": 1}) == {"result": None, "id": 1}
        # Re-subscribing known names is fine; a 1025th stream is not.
        assert await cl.request({"method": "SUBSCRIBE", "params": names[:3], "id": 2}) == {"result": None, "id": 2}
        reply = await cl.request({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 3})
        assert reply["error"]["code"] == 2 and "1024" in reply["error"]["msg"]
        listed = await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 4})
        assert len(listed["result"]) == 1024


@pytest.mark.asyncio
async def test_agg_trade_kline_and_tickers(served) -> None:
    ex, clock = served.exchange, served.clock
    streams = "btcusdt@aggTrade/btcusdt@kline_1m/btcusdt_perpetual@continuousKline_1m/btcusdt@miniTicker/btcusdt@ticker/!ticker@arr/!miniTicker@arr"
    async with await WsClient.connect(f"{served.ws_url}/stream?streams={streams}") as cl:
        # Two fills of one taker at one price form one aggregate trade.
        limit(ex, "mm", "BTCUSDT", "SELL", "50000.0", "0.010")
        limit(ex, "mm", "BTCUSDT", "SELL", "50000.0", "0.020")
        market(ex, "taker", "BTCUSDT", "BUY", "0.030")
        clock.advance(2_000_000_000)  # every cadence (100 ms ... 2 s) comes due
        got = await cl.first_per_stream(7)
        agg = got["btcusdt@aggTrade"]
        assert list(agg) == REAL_KEYS["aggTrade"]
        assert agg["q"] == "0.030" and agg["l"] - agg["f"] == 1 and agg["m"] is False
        assert agg["a"] == ex.market.last_agg_trade("BTCUSDT").agg_id  # the REST aggTrades id
        k = got["btcusdt@kline_1m"]
        assert list(k) == REAL_KEYS["kline"] and list(k["k"]) == KLINE_KEYS
        assert k["k"]["v"] == "0.030" and k["k"]["n"] == 2 and k["k"]["x"] is False and k["k"]["i"] == "1m"
        ck = got["btcusdt_perpetual@continuousKline_1m"]
        assert (
            ck["e"] == "continuous_kline" and ck["ps"] == "BTCUSDT" and ck["ct"] == "PERPETUAL" and "s" not in ck["k"]
        )
        assert got["btcusdt@miniTicker"]["e"] == "24hrMiniTicker" and got["btcusdt@miniTicker"]["c"] == "50000.00"
        assert got["btcusdt@ticker"]["e"] == "24hrTicker" and got["btcusdt@ticker"]["n"] == 2
        assert isinstance(got["!ticker@arr"], list) and got["!ticker@arr"][0]["s"] == "BTCUSDT"
        assert isinstance(got["!miniTicker@arr"], list)
        # The bar closes at the minute: a final frame with x = true.
        clock.advance(60_000_000_000)
        closed = await cl.recv_until(lambda f: f["stream"] == "btcusdt@kline_1m" and f["data"]["k"]["x"])
        assert closed["data"]["k"]["v"] == "0.030"


@pytest.mark.asyncio
async def test_mark_price_and_force_order(served) -> None:
    ex, clock = served.exchange, served.clock
    names = "btcusdt@markPrice@1s/btcusdt@markPrice/!markPrice@arr/btcusdt@forceOrder/!forceOrder@arr"
    async with await WsClient.connect(f"{served.ws_url}/stream?streams={names}") as cl:
        now = mark(ex)
        liquidation(ex)
        clock.advance(3_000_000_000)
        got = await cl.first_per_stream(5)
        mp = got["btcusdt@markPrice@1s"]
        assert list(mp) == ["e", "E", "s", "p", "i", "P", "r", "T"]
        assert mp["p"] == "50001.10000000" and mp["r"] == "0.00010000" and mp["T"] == now + 3_600_000
        assert got["btcusdt@markPrice"]["e"] == "markPriceUpdate"
        assert got["!markPrice@arr"][0]["s"] == "BTCUSDT"
        fo = got["btcusdt@forceOrder"]
        assert fo["e"] == "forceOrder" and list(fo["o"]) == ["s", "S", "o", "f", "q", "p", "ap", "X", "l", "z", "T"]
        assert got["!forceOrder@arr"]["o"]["s"] == "BTCUSDT"


@pytest.mark.asyncio
async def test_partial_depth_and_book_ticker(served) -> None:
    ex, clock = served.exchange, served.clock
    async with await WsClient.connect(
        f"{served.ws_url}/stream?streams=btcusdt@depth5@100ms/btcusdt@depth10/!bookTicker"
    ) as cl:
        for i in range(12):
            limit(ex, "mm", "BTCUSDT", "BUY", f"{49990 - i}.0", "0.003")
            limit(ex, "mm", "BTCUSDT", "SELL", f"{50010 + i}.0", "0.004")
        clock.advance(5_000_000_000)
        got = await cl.first_per_stream(3)
        d5 = got["btcusdt@depth5@100ms"]
        assert list(d5) == REAL_KEYS["depthUpdate"]
        assert [b[0] for b in d5["b"]] == ["49990.00", "49989.00", "49988.00", "49987.00", "49986.00"]
        assert [a[0] for a in d5["a"]] == ["50010.00", "50011.00", "50012.00", "50013.00", "50014.00"]
        assert len(got["btcusdt@depth10"]["b"]) == 10
        _, bids, asks = ex.venue.depth("BTCUSDT", 1)
        bt = got["!bookTicker"]
        assert (bt["b"], bt["a"]) == (str(bids[0][0]), str(asks[0][0]))


# --- klines: one closed bar per interval, equal to REST --------------------------------------------

MINUTE_MS = 60_000
FAST = 600.0  # simulated seconds per real second: a 1m bar lasts 0.1 s


def cross(ex: Any, price: str, qty: str = "0.010") -> None:
    """One public trade at ``price`` (a resting sell lifted by a market buy)."""
    limit(ex, "mm", "BTCUSDT", "SELL", price, qty)
    market(ex, "taker", "BTCUSDT", "BUY", qty)


@asynccontextmanager
async def fast_exchange() -> AsyncIterator[tuple[RunningEmulator, aiohttp.ClientSession, WsClient]]:
    """A local exchange on an accelerated clock with no simulated market (only ``cross`` trades), an
    HTTP session and a ``btcusdt@kline_1m`` stream."""
    async with (
        start_emulator(EmulatorConfig(simulate=False, speed=FAST, symbols=("BTCUSDT",))) as running,
        aiohttp.ClientSession() as http,
        await WsClient.connect(running.ws_url + "/ws/btcusdt@kline_1m") as cl,
    ):
        for account in ("mm", "taker"):
            running.exchange.venue.open_account(account, {"USDT": Decimal(10_000_000)}, unlimited=True)
        yield running, http, cl


async def kline_frames(cl: WsClient, done: Callable[[list[Any]], bool], seconds: float = 3.0) -> list[Any]:
    """Kline bars (``k``) received until ``done(the closed ones so far)`` (at most ``seconds``)."""
    bars: list[Any] = []
    closed: list[Any] = []
    async with asyncio.timeout(seconds):
        while not closed or not done(closed):
            bars.append((await cl.recv())["k"])
            if bars[-1]["x"]:
                closed.append(bars[-1])
    return bars


async def rest_klines(http: aiohttp.ClientSession, rest_url: str) -> dict[int, list[Any]]:
    status, rows = await rest(
        http, rest_url, "GET", "/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 1500}
    )
    assert status == 200, rows
    return {row[0]: row for row in rows}


def check_closed(bars: list[Any], rows: dict[int, list[Any]]) -> list[Any]:
    """The closed bars: consecutive, quiet ones flat at the previous close, each equal to its REST row."""
    closed = [k for k in bars if k["x"]]
    for prev, k in zip(closed, closed[1:]):
        assert k["t"] == prev["T"] + 1, (prev, k)  # no gap, no duplicate
        if k["n"] == 0:
            assert k["o"] == k["h"] == k["l"] == k["c"] == prev["c"], k
            assert (k["v"], k["q"], k["V"], k["Q"], k["f"], k["L"]) == ("0", "0", "0", "0", -1, -1), k
    for k in closed:
        rest_row = [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"]]
        assert rest_row == rows[k["t"]][:11], (k, rows.get(k["t"]))
    # an open update never follows its bar's close
    seen_closed = -1
    for k in bars:
        assert k["t"] > seen_closed, k
        if k["x"]:
            seen_closed = k["t"]
    return closed


@pytest.mark.asyncio
async def test_kline_closes_every_quiet_interval_with_a_flat_bar() -> None:
    async with fast_exchange() as (running, http, cl):
        ex = running.exchange
        cross(ex, "50000.0")
        cross(ex, "50010.0", "0.020")
        # The market stays quiet: each minute still closes, with a flat bar.
        bars = await kline_frames(cl, lambda closed: len(closed) >= 5)
        cross(ex, "49990.0", "0.030")  # the next trade: REST fills the quiet minutes in, the stream goes on
        bars += await kline_frames(cl, lambda closed: closed[-1]["n"] > 0)
        closed = check_closed(bars, await rest_klines(http, running.rest_url))
        flat = [k for k in closed if k["n"] == 0]
        assert len(flat) >= 4 and flat[0]["c"] == "50010.00"
        assert sum(k["n"] for k in closed) == 3 and closed[-1]["v"] == "0.030"
        assert {k["t"] for k in bars if not k["x"]} & {k["t"] for k in flat}  # flat bars get open updates too


@pytest.mark.asyncio
async def test_kline_after_a_stalled_loop_sends_the_skipped_intervals() -> None:
    async with fast_exchange() as (running, http, cl):
        ex = running.exchange
        cross(ex, "50000.0")
        # The loop stalls for ~5.5 simulated minutes: the bar's close timer cannot run before the next trade.
        time.sleep(5.5 * 60 / FAST)
        cross(ex, "50100.0")
        bars = await kline_frames(cl, lambda closed: closed[-1]["c"] == "50100.00")
        closed = check_closed(bars, await rest_klines(http, running.rest_url))
        first, last = closed[0], closed[-1]
        assert first["n"] == 1 and first["c"] == "50000.00"
        assert len(closed) == (last["t"] - first["t"]) // MINUTE_MS + 1 >= 6  # traded, >= 4 flat, traded
        assert all(k["n"] == 0 and k["c"] == "50000.00" for k in closed[1:-1])


@pytest.mark.asyncio
async def test_kline_subscribed_on_a_quiet_market_and_unsubscribed(served) -> None:
    clock = served.clock
    trade_once(served)
    clock.advance(3 * MINUTE_MS * 1_000_000)  # three quiet minutes before anyone subscribes
    async with await WsClient.connect(f"{served.ws_url}/ws") as cl:
        reply = await cl.request({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        assert reply["result"] is None
        now_ms = clock.time_ns() // 1_000_000
        clock.advance(2 * MINUTE_MS * 1_000_000)
        bars = [f["k"] for f in await cl.quiet(0.3)]
        closed = [k for k in bars if k["x"]]
        # The bar open at subscription (flat: no trade since) and the next one, both closed flat.
        assert [k["t"] for k in closed] == [now_ms - now_ms % MINUTE_MS, now_ms - now_ms % MINUTE_MS + MINUTE_MS]
        trade_once(served, "50100.0")  # rolls the REST series over the quiet minutes
        check_closed(bars, await rest_klines(served.http, served.rest_url))
        assert all(k["n"] == 0 and k["c"] == "50000.00" for k in closed)
        (stream,) = served.hub.feeds._klines[("BTCUSDT", "1m")]
        reply = await cl.request({"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 2})
        assert reply["result"] is None
        clock.advance(3 * MINUTE_MS * 1_000_000)
        assert await cl.quiet(0.2) == []
        # No close-timer chain left behind: the last timer stayed cancelled, nothing re-armed it.
        assert stream.close_timer.cancelled and not served.hub.feeds._klines
