"""The call flow driven directly with canned responses: no transport, no sockets, a ManualClock."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest

from binfut.client._base import ClientBase
from binfut.clock import ManualClock
from binfut.config import ClientConfig
from binfut.errors import (
    BanInForce,
    ExecutionStatusUnknown,
    FilterViolation,
    IpBanned,
    ReadTimeout,
    TransportError,
)
from binfut.protocol.endpoints import BY_NAME
from binfut.protocol.flow import Send, Wait, call_flow
from binfut.protocol.request import PreparedRequest, RawResponse

T0 = 1_700_000_000_000
EXCHANGE_INFO = {
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "1000000", "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
                {"filterType": "MIN_NOTIONAL", "notional": "100"},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
            ],
        }
    ],
}
ORDER = {
    "orderId": 42,
    "symbol": "BTCUSDT",
    "status": "NEW",
    "clientOrderId": "cid",
    "price": "30000",
    "avgPrice": "0",
    "origQty": "0.010",
    "executedQty": "0",
    "cumQuote": "0",
    "timeInForce": "GTC",
    "type": "LIMIT",
    "side": "BUY",
    "positionSide": "BOTH",
    "updateTime": T0,
}


def ok(body: Any, headers: dict[str, str] | None = None) -> RawResponse:
    return RawResponse(200, headers or {}, msgspec.json.encode(body))


def err(status: int, code: int, msg: str = "x", headers: dict[str, str] | None = None) -> RawResponse:
    return RawResponse(status, headers or {}, msgspec.json.encode({"code": code, "msg": msg}))


class Harness:
    """A client context plus a scripted server: ``route -> list of responses or exceptions``."""

    def __init__(self, **config: Any) -> None:
        self.clock = ManualClock(T0 * 1_000_000)
        self.ctx = ClientBase(
            "key", "secret", env="local", base_url="http://h", clock=self.clock, rng=random.Random(7), config=ClientConfig(**config)
        )
        self.script: dict[str, list[RawResponse | Exception | Callable[[PreparedRequest], RawResponse]]] = {}
        self.sent: list[PreparedRequest] = []
        self.waits: list[Wait] = []

    def on(self, route: str, *replies: RawResponse | Exception | Callable[[PreparedRequest], RawResponse]) -> None:
        self.script.setdefault(route, []).extend(replies)

    def sent_to(self, route: str) -> list[PreparedRequest]:
        return [r for r in self.sent if f"{r.method} {urlsplit(r.url).path}" == route]

    def run(self, name: str, **params: Any) -> Any:
        flow = call_flow(self.ctx, BY_NAME[name], params)
        try:
            step = next(flow)
            while True:
                if isinstance(step, Send):
                    self.sent.append(step.request)
                    route = f"{step.request.method} {urlsplit(step.request.url).path}"
                    queue = self.script.get(route)
                    reply = queue.pop(0) if queue and len(queue) > 1 else (queue[0] if queue else None)
                    if reply is None:
                        raise AssertionError(f"unexpected request {route}")
                    if isinstance(reply, Exception):
                        step = flow.throw(reply)
                        continue
                    step = flow.send(reply(step.request) if callable(reply) else reply)
                else:
                    self.waits.append(step)
                    self.clock.advance(int(step.seconds * 1e9))
                    step = flow.send(None)
        except StopIteration as done:
            return done.value


def query(request: PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.on("GET /fapi/v1/time", ok({"serverTime": T0 + 250}))
    harness.on("GET /fapi/v1/exchangeInfo", ok(EXCHANGE_INFO))
    return harness


def test_time_is_synced_before_the_first_signed_call_and_used_to_sign(h: Harness) -> None:
    h.on("GET /fapi/v2/balance", ok([]))

    h.run("balance_v2")

    assert [f"{r.method} {urlsplit(r.url).path}" for r in h.sent] == ["GET /fapi/v1/time", "GET /fapi/v2/balance"]
    assert query(h.sent[-1])["timestamp"] == [str(T0 + 250)]
    assert "signature" in query(h.sent[-1])


def test_minus_1021_resyncs_resigns_and_succeeds_once(h: Harness) -> None:
    h.on("GET /fapi/v2/balance", err(400, -1021, "Timestamp for this request is outside of the recvWindow."), ok([]))
    h.script["GET /fapi/v1/time"] = [ok({"serverTime": T0 + 250}), ok({"serverTime": T0 + 9_000})]

    assert h.run("balance_v2") == []

    balance_calls = h.sent_to("GET /fapi/v2/balance")
    assert len(balance_calls) == 2
    assert len(h.sent_to("GET /fapi/v1/time")) == 2
    assert query(balance_calls[1])["timestamp"] == [str(T0 + 9_000)]
    assert query(balance_calls[0])["signature"] != query(balance_calls[1])["signature"]


def test_a_second_minus_1021_is_raised(h: Harness) -> None:
    h.on("GET /fapi/v2/balance", err(400, -1021))

    with pytest.raises(Exception, match="-1021"):
        h.run("balance_v2")
    assert len(h.sent_to("GET /fapi/v2/balance")) == 2


def test_429_waits_retry_after_then_resends(h: Harness) -> None:
    h.on("GET /fapi/v1/depth", err(429, -1003, headers={"retry-after": "3"}), ok({"lastUpdateId": 1, "E": 1, "T": 1, "bids": [], "asks": []}))

    h.run("depth", symbol="BTCUSDT")

    assert [w.seconds for w in h.waits] == [3.0]
    assert len(h.sent_to("GET /fapi/v1/depth")) == 2


def test_418_bans_and_nothing_is_sent_until_the_ban_ends(h: Harness) -> None:
    h.on("GET /fapi/v1/depth", err(418, -1003, headers={"retry-after": "120"}))

    with pytest.raises(IpBanned) as info:
        h.run("depth", symbol="BTCUSDT")
    assert info.value.retry_after == 120
    sent_before = len(h.sent)

    with pytest.raises(BanInForce):
        h.run("ping")
    assert len(h.sent) == sent_before

    h.clock.advance(121 * 1_000_000_000)
    h.on("GET /fapi/v1/ping", ok({}))
    h.run("ping")
    assert len(h.sent) == sent_before + 1


def test_503_on_placement_returns_the_executed_order_without_resending(h: Harness) -> None:
    h.on("POST /fapi/v1/order", err(503, -1000, "Unknown error"))
    h.on("GET /fapi/v1/order", lambda req: ok({**ORDER, "clientOrderId": query(req)["origClientOrderId"][0]}))

    order = h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="30000")

    posts = h.sent_to("POST /fapi/v1/order")
    assert len(posts) == 1
    cid = query(posts[0])["newClientOrderId"][0]
    assert order.client_order_id == cid
    assert query(h.sent_to("GET /fapi/v1/order")[0])["origClientOrderId"] == [cid]


def test_read_timeout_on_placement_then_order_not_found_raises_with_the_id(h: Harness) -> None:
    h.on("POST /fapi/v1/order", ReadTimeout("timeout"))
    h.on("GET /fapi/v1/order", err(400, -2013, "Order does not exist."))

    with pytest.raises(ExecutionStatusUnknown) as info:
        h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="30000", newClientOrderId="mine-1")

    assert info.value.client_order_id == "mine-1"
    assert len(h.sent_to("POST /fapi/v1/order")) == 1
    assert len(h.sent_to("GET /fapi/v1/order")) == 3


def test_gets_are_retried_with_bounded_jittered_backoff_orders_are_not(h: Harness) -> None:
    h.on("GET /fapi/v1/ticker/price", TransportError("reset"), TransportError("reset"), TransportError("reset"))
    with pytest.raises(TransportError):
        h.run("ticker_price", symbol="BTCUSDT")
    assert len(h.sent_to("GET /fapi/v1/ticker/price")) == 3
    assert len(h.waits) == 2 and all(0 < w.seconds <= 5 for w in h.waits)

    h.on("POST /fapi/v1/leverage", TransportError("reset"))
    with pytest.raises(TransportError):
        h.run("change_leverage", symbol="BTCUSDT", leverage=5)
    assert len(h.sent_to("POST /fapi/v1/leverage")) == 1


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"price": "30000.05", "quantity": "0.010"}, "price", "tickSize=0.10"),
        ({"price": "30000", "quantity": "0.0105"}, "quantity", "stepSize=0.001"),
        ({"price": "30000", "quantity": "0.0001"}, "quantity", "minQty=0.001"),
        ({"price": "30000", "quantity": "0.002"}, "notional", "MIN_NOTIONAL"),
    ],
)
def test_filter_violations_are_refused_locally(h: Harness, params: dict[str, str], field: str, rule: str) -> None:
    with pytest.raises(FilterViolation) as info:
        h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", **params)

    assert info.value.field == field and rule in info.value.rule
    assert h.sent_to("POST /fapi/v1/order") == []


def test_small_quantities_go_out_in_plain_notation(h: Harness) -> None:
    harness = Harness(validate_filters=False)
    harness.on("GET /fapi/v1/time", ok({"serverTime": T0}))
    harness.on("POST /fapi/v1/order", ok(ORDER))

    harness.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=0.00001, price=30000.0)

    url = harness.sent_to("POST /fapi/v1/order")[0].url
    assert "quantity=0.00001&" in url and "price=30000&" in url


def test_requests_wait_for_the_weight_budget(h: Harness) -> None:
    h.on("GET /fapi/v1/ping", ok({}, headers={"x-mbx-used-weight-1m": "2390"}))
    h.run("ping")
    h.on("GET /fapi/v1/klines", ok([]))

    h.run("klines", symbol="BTCUSDT", interval="1m", limit=1500)

    assert h.waits and h.waits[0].reason == "request-weight budget"
    assert 0 < h.waits[0].seconds <= 60


def test_percent_price_uses_a_fresh_mark_price(h: Harness) -> None:
    mark = {"symbol": "BTCUSDT", "markPrice": "30000", "indexPrice": "30000", "lastFundingRate": "0.0001", "time": T0}
    h.on("GET /fapi/v1/premiumIndex", ok(mark))
    h.on("POST /fapi/v1/order", ok(ORDER))
    h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="31600")  # no mark yet
    h.run("mark_price", symbol="BTCUSDT")

    with pytest.raises(FilterViolation) as too_high:
        h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="31600")
    with pytest.raises(FilterViolation) as too_low:
        h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="28400")
    h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="31400")

    assert "multiplierUp=1.0500" in too_high.value.rule and "multiplierDown=0.9500" in too_low.value.rule
    assert len(h.sent_to("POST /fapi/v1/order")) == 2
    h.clock.advance(61 * 1_000_000_000)  # the remembered mark goes stale: no longer trusted
    h.run("new_order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="31600")
    assert len(h.sent_to("POST /fapi/v1/order")) == 3
