"""Third-party clients against the local exchange: python-binance, ccxt binanceusdm, the official SDK.

Each client, pointed at the local server by its documented URL settings, reads server time, exchange
info, klines and the order book, places / queries / cancels a LIMIT order, fills a MARKET order and
sees it in positions and balance, receives the order's user-data update, and reads a depth stream.
The exchange runs on real time (ScaledClock x1) because these clients sign with the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from binfut.clock import ScaledClock
from binfut.emulator.server import RunningEmulator, start_emulator
from integration.emulator_ws.conftest import make_exchange
from integration.emulator_ws.ws_support import HMAC_KEY, HMAC_SECRET, limit, market

pytestmark = pytest.mark.anchors

SYMBOL = "BTCUSDT"
CALL_TIMEOUT = 15


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking client call in a thread (the server shares this test's event loop)."""
    return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), CALL_TIMEOUT)


@pytest_asyncio.fixture
async def live() -> AsyncIterator[RunningEmulator]:
    exchange = make_exchange(ScaledClock(1.0))
    for i in range(10):
        limit(exchange, "mm", SYMBOL, "BUY", f"{49_990 - i}", "0.050")
        limit(exchange, "mm", SYMBOL, "SELL", f"{50_010 + i}", "0.050")
    market(exchange, "taker", SYMBOL, "BUY", "0.010")  # one trade: a kline to read
    async with start_emulator(exchange=exchange) as running:
        yield running


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning")
async def test_python_binance(live: RunningEmulator) -> None:
    from binance import AsyncClient, BinanceSocketManager, Client

    client = Client(HMAC_KEY, HMAC_SECRET, ping=False)
    client.FUTURES_URL = live.rest_url + "/fapi"
    client.FUTURES_DATA_URL = live.rest_url + "/futures/data"
    try:
        assert abs((await call(client.futures_time))["serverTime"] - live.exchange.server_time_ms()) < 5_000
        info = await call(client.futures_exchange_info)
        assert SYMBOL in {s["symbol"] for s in info["symbols"]}
        klines = await call(client.futures_klines, symbol=SYMBOL, interval="1m")
        assert klines and klines[-1][5] == "0.010"
        book = await call(client.futures_order_book, symbol=SYMBOL, limit=5)
        assert book["bids"][0] == ["49990.00", "0.050"] and len(book["asks"]) == 5

        order = await call(
            client.futures_create_order,
            symbol=SYMBOL,
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.010",
            price="49000",
        )
        assert order["status"] == "NEW"
        assert (await call(client.futures_get_order, symbol=SYMBOL, orderId=order["orderId"]))["status"] == "NEW"
        assert (await call(client.futures_cancel_order, symbol=SYMBOL, orderId=order["orderId"]))[
            "status"
        ] == "CANCELED"

        await call(client.futures_create_order, symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.010")
        position = (await call(client.futures_position_information, symbol=SYMBOL))[0]
        assert position["positionAmt"] == "0.010"
        usdt = next(b for b in await call(client.futures_account_balance) if b["asset"] == "USDT")
        assert float(usdt["balance"]) < 100_000  # the taker fee was paid

        aclient = AsyncClient(HMAC_KEY, HMAC_SECRET)
        aclient.FUTURES_URL = live.rest_url + "/fapi"
        sockets = BinanceSocketManager(aclient)
        sockets.FSTREAM_URL = live.ws_url + "/"  # python-binance adds public/ and private/ itself
        user_socket, depth_socket = sockets.futures_user_socket(), sockets.futures_depth_socket(SYMBOL, depth="5")
        for sock in (user_socket, depth_socket):
            sock.TIMEOUT = 0.2  # its read loop only notices an exit between receives (default 10 s)
        try:
            async with user_socket as user, depth_socket as depth:
                await asyncio.sleep(0.3)
                placed = await call(
                    client.futures_create_order,
                    symbol=SYMBOL,
                    side="BUY",
                    type="LIMIT",
                    timeInForce="GTC",
                    quantity="0.010",
                    price="49500",
                )
                update = await asyncio.wait_for(user.recv(), 5)
                assert update["e"] == "ORDER_TRADE_UPDATE" and update["o"]["i"] == placed["orderId"]
                frame = await asyncio.wait_for(depth.recv(), 5)
                assert frame["stream"] == "btcusdt@depth5" and frame["data"]["b"][0][0] == "49990.00"
        finally:
            await aclient.close_connection()
    finally:
        client.close_connection()


def _point_ccxt(exchange: Any, rest_url: str, ws_url: str) -> None:
    api = exchange.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str) and url.startswith("https://fapi.binance.com"):
            api[name] = url.replace("https://fapi.binance.com", rest_url)
    api["ws"]["linear"] = ws_url + "/ws"
    api["ws"]["ws-api"]["linear"] = ws_url + "/ws-fapi/v1"


@pytest.mark.asyncio
async def test_ccxt_binanceusdm(live: RunningEmulator) -> None:
    import ccxt.pro as ccxtpro

    exchange = ccxtpro.binanceusdm(
        {
            "apiKey": HMAC_KEY,
            "secret": HMAC_SECRET,
            "options": {
                "fetchCurrencies": False,  # no spot / margin endpoints
                "adjustForTimeDifference": False,
                "fetchMarkets": {"types": ["linear"]},
                "watchPositions": {"fetchPositionsSnapshot": False},
            },
        }
    )
    _point_ccxt(exchange, live.rest_url, live.ws_url)
    pair = "BTC/USDT:USDT"
    try:
        assert abs(await asyncio.wait_for(exchange.fetch_time(), CALL_TIMEOUT) - live.exchange.server_time_ms()) < 5_000
        markets = await asyncio.wait_for(exchange.load_markets(), CALL_TIMEOUT)
        assert pair in markets and markets[pair]["precision"]["price"] == 0.1  # tickSize
        ohlcv = await asyncio.wait_for(exchange.fetch_ohlcv(pair, "1m"), CALL_TIMEOUT)
        assert ohlcv and ohlcv[-1][5] == 0.01
        book = await asyncio.wait_for(exchange.fetch_order_book(pair, 5), CALL_TIMEOUT)
        assert book["bids"][0] == [49990.0, 0.05]

        order = await asyncio.wait_for(exchange.create_order(pair, "limit", "buy", 0.01, 49000), CALL_TIMEOUT)
        assert order["status"] == "open"
        assert (await asyncio.wait_for(exchange.fetch_order(order["id"], pair), CALL_TIMEOUT))["status"] == "open"
        assert (await asyncio.wait_for(exchange.cancel_order(order["id"], pair), CALL_TIMEOUT))["status"] == "canceled"

        filled = await asyncio.wait_for(exchange.create_order(pair, "market", "buy", 0.01), CALL_TIMEOUT)
        assert filled["status"] == "closed"
        positions = await asyncio.wait_for(exchange.fetch_positions([pair]), CALL_TIMEOUT)
        assert positions[0]["contracts"] == 0.01 and positions[0]["side"] == "long"
        balance = await asyncio.wait_for(exchange.fetch_balance(), CALL_TIMEOUT)
        assert balance["USDT"]["used"] > 0 and balance["USDT"]["total"] < 100_000

        watched = await asyncio.wait_for(exchange.watch_order_book(pair), 10)  # diff stream + REST snapshot
        assert watched["bids"][0][0] == 49990.0
        orders_task = asyncio.create_task(exchange.watch_orders(pair))
        await asyncio.sleep(0.5)
        placed = await asyncio.wait_for(exchange.create_order(pair, "limit", "buy", 0.01, 49500), CALL_TIMEOUT)
        orders = await asyncio.wait_for(orders_task, 10)
        assert any(o["id"] == placed["id"] and o["status"] == "open" for o in orders)
    finally:
        await exchange.close()


@pytest.mark.asyncio
async def test_official_sdk(live: RunningEmulator) -> None:
    from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketStreams
    from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
        DerivativesTradingUsdsFutures,
    )

    client = DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(api_key=HMAC_KEY, api_secret=HMAC_SECRET, base_path=live.rest_url),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=live.ws_url),
    )
    rest = client.rest_api
    server_time = (await call(rest.check_server_time)).data().server_time
    assert abs(server_time - live.exchange.server_time_ms()) < 5_000
    info = (await call(rest.exchange_information)).data()
    assert SYMBOL in {s.symbol for s in info.symbols}
    klines = (await call(rest.kline_candlestick_data, symbol=SYMBOL, interval="1m")).data()
    assert klines and klines[-1][5] == "0.010"
    book = (await call(rest.order_book, symbol=SYMBOL, limit=5)).data()
    assert book.bids[0] == ["49990.00", "0.050"]

    order = (
        await call(
            rest.new_order, symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=49000
        )
    ).data()
    assert order.status == "NEW"
    assert (await call(rest.query_order, symbol=SYMBOL, order_id=order.order_id)).data().status == "NEW"
    assert (await call(rest.cancel_order, symbol=SYMBOL, order_id=order.order_id)).data().status == "CANCELED"

    await call(rest.new_order, symbol=SYMBOL, side="BUY", type="MARKET", quantity=0.01)
    position = (await call(rest.position_information_v3, symbol=SYMBOL)).data()[0]
    assert position.position_amt == "0.010"
    usdt = next(b for b in (await call(rest.futures_account_balance_v3)).data() if b.asset == "USDT")
    assert float(usdt.balance) < 100_000

    listen_key = (await call(rest.start_user_data_stream)).data().listen_key
    connection = await asyncio.wait_for(client.websocket_streams.create_connection(), 10)
    try:
        got: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        depth = await connection.diff_book_depth_streams(symbol="btcusdt", update_speed="100ms")
        depth.on("message", lambda data: got.put_nowait(("depth", data)))
        user = await connection.user_data(listen_key)
        user.on("message", lambda data: got.put_nowait(("user", data)))
        await asyncio.sleep(1.0)  # the SDK waits 0.5 s before it sends SUBSCRIBE
        placed = (
            await call(
                rest.new_order, symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=49500
            )
        ).data()
        seen: dict[str, Any] = {}
        while len(seen) < 2:
            kind, data = await asyncio.wait_for(got.get(), 5)
            seen.setdefault(kind, data)
        update = seen["user"].actual_instance
        assert update.o.x == "NEW" and update.o.i == placed.order_id
        assert seen["depth"].e == "depthUpdate" and ["49500.00", "0.010"] in seen["depth"].b
    finally:
        await asyncio.wait_for(connection.close_connection(), 10)


@pytest.mark.asyncio
@pytest.mark.parametrize("key_type", ["HMAC", "ED25519"])
async def test_official_sdk_websocket_api(live: RunningEmulator, key_type: str) -> None:
    from binance_common.configuration import ConfigurationWebSocketAPI
    from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
        DerivativesTradingUsdsFutures,
    )

    from integration.emulator_ws.ws_support import ed25519_key

    url = live.ws_url + "/ws-fapi/v1"
    if key_type == "HMAC":
        config = ConfigurationWebSocketAPI(api_key=HMAC_KEY, api_secret=HMAC_SECRET, stream_url=url)
    else:
        ed = ed25519_key()
        config = ConfigurationWebSocketAPI(api_key=ed.api_key, private_key=ed.client_secret, stream_url=url)
    client = DerivativesTradingUsdsFutures(config_ws_api=config)
    connection = await asyncio.wait_for(client.websocket_api.create_connection(), 10)
    try:
        placed = await asyncio.wait_for(
            connection.new_order(
                symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=49000
            ),
            CALL_TIMEOUT,
        )
        order = placed.data().result
        assert order.status == "NEW"
        assert {r.rateLimitType for r in placed.rate_limits} == {"REQUEST_WEIGHT", "ORDERS"}
        queried = await asyncio.wait_for(connection.query_order(symbol=SYMBOL, order_id=order.order_id), CALL_TIMEOUT)
        assert queried.data().result.status == "NEW"
        cancelled = await asyncio.wait_for(
            connection.cancel_order(symbol=SYMBOL, order_id=order.order_id), CALL_TIMEOUT
        )
        assert cancelled.data().result.status == "CANCELED"
        book = await asyncio.wait_for(connection.order_book(symbol=SYMBOL), CALL_TIMEOUT)
        result = book.data().result  # the SDK model keeps bids / asks as extra properties
        assert result.last_update_id == live.exchange.venue.depth(SYMBOL, 5)[0]
        assert result.additional_properties["bids"][0] == ["49990.00", "0.050"]
    finally:
        await asyncio.wait_for(connection.close_connection(), 10)
