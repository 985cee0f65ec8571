"""Market streams: every URL form, control messages and their errors, payload shapes."""

from __future__ import annotations

import asyncio

import pytest

from integration.emulator_ws.ws_support import WsClient, limit, liquidation, mark, market

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
