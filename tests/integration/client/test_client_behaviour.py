"""Client behaviour over real loopback sockets, sync and async, against the scripted server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from binfut import errors as E
from binfut.client import AsyncClient, Client
from binfut.config import ClientConfig
from helpers.scenario import API_KEY, API_SECRET, T0, ScenarioServer, Seen

EXCHANGE_INFO = {
    "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400}],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "1000000", "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "1000", "stepSize": "0.00001"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00001", "maxQty": "120", "stepSize": "0.00001"},
                {"filterType": "MIN_NOTIONAL", "notional": "0.1"},
            ],
        }
    ],
}


def order_reply(seen: Seen) -> tuple[int, Any, dict[str, str]]:
    cid = seen.params.get("newClientOrderId") or seen.params.get("origClientOrderId")
    return 200, {
        "orderId": 7,
        "symbol": "BTCUSDT",
        "status": "NEW",
        "clientOrderId": cid,
        "price": seen.params.get("price", "30000"),
        "origQty": seen.params.get("quantity", "0.001"),
        "executedQty": "0",
        "cumQuote": "0",
        "avgPrice": "0",
        "timeInForce": "GTC",
        "type": "LIMIT",
        "side": "BUY",
        "positionSide": "BOTH",
        "updateTime": T0,
    }, {}


class Driver:
    """Runs the same test body with the sync Client or the AsyncClient."""

    def __init__(self, kind: str, url: str, **config: Any) -> None:
        self.kind = kind
        cfg = ClientConfig(**config)
        if kind == "sync":
            self.client: Any = Client(API_KEY, API_SECRET, env="local", base_url=url, config=cfg)
        else:
            self.loop = asyncio.new_event_loop()
            self.client = AsyncClient(API_KEY, API_SECRET, env="local", base_url=url, config=cfg)

    def __call__(self, name: str, **params: Any) -> Any:
        method = getattr(self.client, name)
        if self.kind == "sync":
            return method(**params)
        return self.loop.run_until_complete(method(**params))

    def close(self) -> None:
        if self.kind == "sync":
            self.client.close()
        else:
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest, server: ScenarioServer) -> Iterator[Driver]:
    server.on("GET /fapi/v1/exchangeInfo", (200, EXCHANGE_INFO, {}))
    driver = Driver(request.param, server.url)
    yield driver
    driver.close()


def test_tiny_quantity_leaves_as_plain_decimal_and_signature_verifies(call: Driver, server: ScenarioServer) -> None:
    server.on("POST /fapi/v1/order", order_reply)

    order = call("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.00001, price=30000.0)

    post = next(s for s in server.seen if s.method == "POST")
    assert post.params["quantity"] == "0.00001" and "e-" not in post.query.lower()
    assert order.client_order_id == post.params["newClientOrderId"]


def test_minus_1021_once_then_success(call: Driver, server: ScenarioServer) -> None:
    server.on(
        "GET /fapi/v2/balance",
        (400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}, {}),
        (200, [], {}),
    )

    assert call("balance_v2") == []
    assert server.count("GET /fapi/v2/balance") == 2
    assert server.count("GET /fapi/v1/time") == 2


def test_429_retry_after_is_waited_out(call: Driver, server: ScenarioServer) -> None:
    server.on("GET /fapi/v1/ticker/price", (429, {"code": -1003, "msg": "Too many requests"}, {"Retry-After": "1"}))
    server.on("GET /fapi/v1/ticker/price", (200, {"symbol": "BTCUSDT", "price": "30000.1", "time": T0}, {}))

    started = time.monotonic()
    price = call("ticker_price", symbol="BTCUSDT")

    assert time.monotonic() - started >= 0.95
    assert server.count("GET /fapi/v1/ticker/price") == 2
    assert str(price.price) == "30000.1"


def test_418_blocks_every_request_until_the_ban_ends(call: Driver, server: ScenarioServer) -> None:
    server.on("GET /fapi/v1/ticker/price", (418, {"code": -1003, "msg": "Way too many requests; IP banned"}, {"Retry-After": "600"}))

    with pytest.raises(E.IpBanned):
        call("ticker_price", symbol="BTCUSDT")
    before = len(server.seen)
    with pytest.raises(E.BanInForce) as info:
        call("ping")

    assert len(server.seen) == before
    assert 590 < info.value.retry_after <= 600


def test_503_where_the_order_executed_returns_it_and_sends_no_second_order(call: Driver, server: ScenarioServer) -> None:
    server.on("POST /fapi/v1/order", (503, {"code": -1000, "msg": "Unknown error, please check your request or try again later."}, {}))
    server.on("GET /fapi/v1/order", order_reply)

    order = call("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.001", price="30000")

    assert server.count("POST /fapi/v1/order") == 1
    posted = next(s for s in server.seen if s.method == "POST").params["newClientOrderId"]
    assert order.client_order_id == posted and order.order_id == 7


def test_filter_violation_is_refused_before_sending(call: Driver, server: ScenarioServer) -> None:
    with pytest.raises(E.FilterViolation) as info:
        call("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.001", price="30000.05")

    assert info.value.field == "price" and "tickSize=0.10" in str(info.value)
    assert server.count("POST /fapi/v1/order") == 0


def test_api_errors_carry_code_status_endpoint_and_never_the_secret(call: Driver, server: ScenarioServer) -> None:
    server.on("POST /fapi/v1/order", (400, {"code": -2019, "msg": "Margin is insufficient."}, {}))

    with pytest.raises(E.OrderRejected) as info:
        call("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.001", price="30000")

    err = info.value
    assert (err.code, err.status, err.endpoint) == (-2019, 400, "POST /fapi/v1/order")
    assert API_SECRET not in str(err) and API_SECRET not in repr(err) and API_SECRET not in repr(call.client)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_refused_connection_is_a_connect_error_that_names_the_url_and_the_reason(driver: str) -> None:
    url = "http://127.0.0.1:9"  # nothing listens on the discard port
    once = ClientConfig(retry=ClientConfig().retry.__class__(attempts=1))

    async def async_ping() -> None:
        async with AsyncClient(env="local", base_url=url, config=once) as client:
            await client.ping()

    with pytest.raises(E.ConnectError) as refused:
        if driver == "sync":
            with Client(env="local", base_url=url, config=once) as client:
                client.ping()
        else:
            asyncio.run(async_ping())

    assert not isinstance(refused.value, E.ConnectTimeout)  # refused at once is not a timeout
    assert f"cannot connect to {url} (Connection refused)" in str(refused.value)


def test_weight_and_order_count_headers_are_tracked(call: Driver, server: ScenarioServer) -> None:
    server.on("GET /fapi/v1/ping", (200, {}, {"X-MBX-USED-WEIGHT-1M": "1234"}))
    server.on("POST /fapi/v1/order", lambda seen: (*order_reply(seen)[:2], {"X-MBX-ORDER-COUNT-10S": "17", "X-MBX-ORDER-COUNT-1M": "40"}))

    call("ping")
    call("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.001", price="30000")

    usage = call.client.rate_limit_usage()
    assert usage["weight"]["60s"][0] >= 1234
    assert usage["orders"]["10s"][0] >= 17 and usage["orders"]["60s"][0] >= 40
