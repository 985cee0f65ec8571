"""User-data streams: events of REST orders, every URL form, event filters, listenKey expiry."""

from __future__ import annotations

import pytest

from integration.emulator_ws.ws_support import HMAC_KEY, HMAC_SECRET, WsClient, market, rest


def now_ms(served) -> int:
    return served.clock.time_ns() // 1_000_000


async def listen_key(served) -> str:
    status, body = await rest(served.http, served.rest_url, "POST", "/fapi/v1/listenKey", api_key=HMAC_KEY)
    assert status == 200, body
    return body["listenKey"]


async def place(served, **params) -> dict:
    status, body = await rest(
        served.http, served.rest_url, "POST", "/fapi/v1/order", params,
        api_key=HMAC_KEY, secret=HMAC_SECRET, now_ms=now_ms(served),
    )  # fmt: skip
    assert status == 200, body
    return body


def events_of(frames: list[dict]) -> list[str]:
    return [f.get("data", f)["e"] for f in frames]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "form", ["/ws/{key}", "/private/ws/{key}", "/stream?streams={key}", "/private/ws?listenKey={key}"]
)
async def test_rest_order_events(served, form: str) -> None:
    key = await listen_key(served)
    async with await WsClient.connect(served.ws_url + form.format(key=key)) as cl:
        order = await place(
            served, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="49000.0"
        )
        new = await cl.recv()
        if "stream" in new:
            assert new["stream"] == key
            new = new["data"]
        assert new["e"] == "ORDER_TRADE_UPDATE"
        assert new["o"]["x"] == "NEW" and new["o"]["X"] == "NEW" and new["o"]["i"] == order["orderId"]
        # A market maker sells into the resting bid: the order trades.
        market(served.exchange, "mm", "BTCUSDT", "SELL", "0.010")
        frames = [await cl.recv() for _ in range(3)]
        data = [f.get("data", f) for f in frames]
        kinds = [d["e"] for d in data]
        assert sorted(kinds) == ["ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE", "TRADE_LITE"]
        trade = next(d for d in data if d["e"] == "ORDER_TRADE_UPDATE")
        assert trade["o"]["x"] == "TRADE" and trade["o"]["X"] == "FILLED" and trade["o"]["z"] == "0.010"
        account = next(d for d in data if d["e"] == "ACCOUNT_UPDATE")
        position = next(p for p in account["a"]["P"] if p["s"] == "BTCUSDT")
        assert position["pa"] == "0.010"


@pytest.mark.asyncio
async def test_subscribe_listen_key_and_event_filter(served) -> None:
    key = await listen_key(served)
    async with (
        await WsClient.connect(served.ws_url + "/private/stream") as sub,
        await WsClient.connect(f"{served.ws_url}/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE") as filtered,
    ):
        assert await sub.request({"method": "SUBSCRIBE", "params": [key], "id": 1}) == {"result": None, "id": 1}
        await place(
            served, symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="49000.0"
        )
        market(served.exchange, "mm", "BTCUSDT", "SELL", "0.010")
        got = [await sub.recv() for _ in range(4)]
        assert all(f["stream"] == key for f in got)
        assert events_of(got).count("ORDER_TRADE_UPDATE") == 2
        only = [await filtered.recv() for _ in range(2)] + await filtered.quiet(0.15)
        assert events_of(only) == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE"]


@pytest.mark.asyncio
async def test_listen_key_expires_after_60_minutes(served) -> None:
    key = await listen_key(served)
    async with await WsClient.connect(f"{served.ws_url}/ws/{key}") as cl:
        # A keepalive at minute 50 carries the key past minute 60 ...
        served.clock.advance(50 * 60 * 1_000_000_000)
        status, _ = await rest(served.http, served.rest_url, "PUT", "/fapi/v1/listenKey", api_key=HMAC_KEY)
        assert status == 200
        served.clock.advance(20 * 60 * 1_000_000_000)
        assert await cl.quiet(0.1) == []
        # ... and 60 minutes without one end it.
        served.clock.advance(41 * 60 * 1_000_000_000)
        frame = await cl.recv()
        assert frame == {"e": "listenKeyExpired", "E": frame["E"], "listenKey": key}
        closing = await cl.recv_msg()
        assert closing.type.name in ("CLOSE", "CLOSED", "CLOSING")


@pytest.mark.asyncio
async def test_listen_key_expiry_fault(served) -> None:
    faults = served.exchange.faults
    key = await listen_key(served)
    async with await WsClient.connect(f"{served.ws_url}/stream?streams={key}/btcusdt@trade") as cl:
        faults.add(kind="listen_key_expiry", at_requests=[3])
        served.clock.advance(5 * 1_000_000_000)  # one housekeeping check per simulated second
        frame = await cl.recv()
        assert frame["stream"] == key and frame["data"]["e"] == "listenKeyExpired"
        # The connection carried a market stream too: it stays open without the user stream.
        assert await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {"result": ["btcusdt@trade"], "id": 1}
    fired = faults.fired("listen_key_expiry")
    assert len(fired) == 1 and fired[0].target == key
    status, body = await rest(served.http, served.rest_url, "PUT", "/fapi/v1/listenKey", api_key=HMAC_KEY)
    assert status == 400 and body["code"] == -1125


@pytest.mark.asyncio
async def test_unknown_listen_key_is_reported_expired(served) -> None:
    fake = "A" * 64
    async with await WsClient.connect(f"{served.ws_url}/ws/{fake}") as cl:
        frame = await cl.recv()
        assert frame["e"] == "listenKeyExpired" and frame["listenKey"] == fake
        closing = await cl.recv_msg()
        assert closing.type.name in ("CLOSE", "CLOSED", "CLOSING")


@pytest.mark.asyncio
async def test_config_and_algo_events(served) -> None:
    key = await listen_key(served)
    async with await WsClient.connect(f"{served.ws_url}/private/ws/{key}") as cl:
        status, body = await rest(
            served.http, served.rest_url, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 7},
            api_key=HMAC_KEY, secret=HMAC_SECRET, now_ms=now_ms(served),
        )  # fmt: skip
        assert status == 200, body
        config = await cl.recv()
        assert config["e"] == "ACCOUNT_CONFIG_UPDATE" and config["ac"] == {"s": "BTCUSDT", "l": 7}
        algo = {
            "symbol": "BTCUSDT", "side": "SELL", "algoType": "CONDITIONAL", "type": "STOP_MARKET",
            "quantity": "0.010", "triggerPrice": "45000",
        }  # fmt: skip
        status, body = await rest(
            served.http, served.rest_url, "POST", "/fapi/v1/algoOrder", algo,
            api_key=HMAC_KEY, secret=HMAC_SECRET, now_ms=now_ms(served),
        )  # fmt: skip
        assert status == 200, body
        update = await cl.recv()
        assert update["e"] == "ALGO_UPDATE" and update["o"]["aid"] == body["algoId"] and update["o"]["X"] == "NEW"
