"""The WebSocket API (/ws-fapi/v1): signed requests, session logon, responses, errors, rate limits."""

from __future__ import annotations

import itertools

import pytest

from integration.emulator_ws.ws_support import (
    HMAC_KEY,
    HMAC_SECRET,
    WsClient,
    ed25519_key,
    ed25519_sign,
    hmac_sign,
    limit,
)

_ids = itertools.count(1)


def now_ms(served) -> int:
    return served.clock.time_ns() // 1_000_000


def signed(served, method: str, params: dict, *, key: str = HMAC_KEY, secret: str = HMAC_SECRET) -> dict:
    p = {**params, "apiKey": key, "timestamp": now_ms(served)}
    p["signature"] = hmac_sign(secret, p)
    return {"id": f"req-{next(_ids)}", "method": method, "params": p}


def ed_signed(served, method: str, params: dict) -> dict:
    ed = ed25519_key()
    p = {**params, "apiKey": ed.api_key, "timestamp": now_ms(served)}
    p["signature"] = ed25519_sign(ed.client_secret, p)
    return {"id": next(_ids), "method": method, "params": p}


def plain(method: str, params: dict | None = None) -> dict:
    out: dict = {"id": next(_ids), "method": method}
    if params is not None:
        out["params"] = params
    return out


ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.010",
    "price": "49000",
}


@pytest.mark.asyncio
async def test_hmac_place_status_cancel(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1") as cl:
        req = signed(served, "order.place", {**ORDER, "newClientOrderId": "ws-api-1"})
        placed = await cl.request(req)
        assert list(placed) == ["id", "status", "result", "rateLimits"]
        assert placed["id"] == req["id"] and placed["status"] == 200
        order = placed["result"]
        assert order["status"] == "NEW" and order["clientOrderId"] == "ws-api-1" and order["price"] == "49000.00"
        kinds = {(r["rateLimitType"], r["interval"], r["intervalNum"]) for r in placed["rateLimits"]}
        assert kinds == {("REQUEST_WEIGHT", "MINUTE", 1), ("ORDERS", "SECOND", 10), ("ORDERS", "MINUTE", 1)}
        orders_10s = next(r for r in placed["rateLimits"] if r["interval"] == "SECOND")
        assert orders_10s["count"] == 1 and orders_10s["limit"] == 300

        status = await cl.request(signed(served, "order.status", {"symbol": "BTCUSDT", "orderId": order["orderId"]}))
        assert status["status"] == 200 and status["result"]["orderId"] == order["orderId"]
        assert status["result"]["status"] == "NEW"

        cancelled = await cl.request(signed(served, "order.cancel", {"symbol": "BTCUSDT", "orderId": order["orderId"]}))
        assert cancelled["status"] == 200 and cancelled["result"]["status"] == "CANCELED"

        gone = await cl.request(signed(served, "order.cancel", {"symbol": "BTCUSDT", "orderId": order["orderId"]}))
        assert gone["status"] == 400 and gone["error"]["code"] == -2011
        assert "rateLimits" in gone


@pytest.mark.asyncio
async def test_ed25519_session_logon(served) -> None:
    ed = ed25519_key()
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1") as cl:
        before = await cl.request(plain("session.status"))
        assert before["result"]["apiKey"] is None and before["result"]["authorizedSince"] is None
        logon = await cl.request(ed_signed(served, "session.logon", {}))
        assert logon["status"] == 200, logon
        assert logon["result"]["apiKey"] == ed.api_key and logon["result"]["authorizedSince"] == now_ms(served)
        assert set(logon["result"]) == {"apiKey", "authorizedSince", "connectedSince", "returnRateLimits", "serverTime"}
        # After logon no apiKey / signature is needed.
        placed = await cl.request(plain("order.place", {**ORDER, "timestamp": now_ms(served)}))
        assert placed["status"] == 200 and placed["result"]["status"] == "NEW"
        oid = placed["result"]["orderId"]
        status = await cl.request(
            plain("order.status", {"symbol": "BTCUSDT", "orderId": oid, "timestamp": now_ms(served)})
        )
        assert status["result"]["orderId"] == oid
        cancelled = await cl.request(
            plain("order.cancel", {"symbol": "BTCUSDT", "orderId": oid, "timestamp": now_ms(served)})
        )
        assert cancelled["result"]["status"] == "CANCELED"
        # An explicitly signed request with another key still works (ad hoc authorization).
        other = await cl.request(signed(served, "v2/account.balance", {}))
        assert other["status"] == 200 and any(b["asset"] == "USDT" for b in other["result"])
        out = await cl.request(plain("session.logout"))
        assert out["result"]["apiKey"] is None
        refused = await cl.request(plain("order.place", {**ORDER, "timestamp": now_ms(served)}))
        assert refused["status"] == 400 and refused["error"]["code"] == -1102


@pytest.mark.asyncio
async def test_logon_needs_ed25519(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1") as cl:
        reply = await cl.request(signed(served, "session.logon", {}))
        assert reply["status"] == 400 and reply["error"]["code"] == -4056


@pytest.mark.asyncio
async def test_errors_carry_binance_codes(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1") as cl:
        bad = signed(served, "order.place", ORDER)
        bad["params"]["signature"] = "0" * 64
        reply = await cl.request(bad)
        assert (reply["status"], reply["error"]["code"]) == (400, -1022)

        stale = {**ORDER, "apiKey": HMAC_KEY, "timestamp": now_ms(served) - 10_000}
        stale["signature"] = hmac_sign(HMAC_SECRET, stale)
        reply = await cl.request({"id": 5, "method": "order.place", "params": stale})
        assert reply["error"]["code"] == -1021

        reply = await cl.request(plain("order.place", {**ORDER, "timestamp": now_ms(served)}))
        assert reply["error"] == {
            "code": -1102,
            "msg": "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.",
        }

        reply = await cl.request(signed(served, "order.place", {k: v for k, v in ORDER.items() if k != "quantity"}))
        assert reply["error"]["code"] == -1102 and "quantity" in reply["error"]["msg"]

        unknown_key = signed(served, "order.place", ORDER, key="NoSuchKey123")
        reply = await cl.request(unknown_key)
        assert (reply["status"], reply["error"]["code"]) == (401, -2015)

        reply = await cl.request(signed(served, "order.status", {"symbol": "BTCUSDT", "orderId": 123}))
        assert reply["error"]["code"] == -2013

        reply = await cl.request(plain("order.teleport", {}))
        assert reply["status"] == 400 and reply["error"]["code"] == -1020

        await cl.ws.send_str("not json")
        reply = await cl.recv()
        assert reply["id"] is None and reply["status"] == 400 and reply["error"]["code"] == -1102


@pytest.mark.asyncio
async def test_market_data_account_and_user_stream_methods(served) -> None:
    ex = served.exchange
    limit(ex, "mm", "BTCUSDT", "BUY", "49990", "0.010")
    limit(ex, "mm", "BTCUSDT", "SELL", "50010", "0.020")
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1") as cl:
        depth = await cl.request(plain("depth", {"symbol": "BTCUSDT", "limit": 5}))
        assert depth["result"]["bids"] == [["49990.00", "0.010"]] and depth["result"]["asks"] == [["50010.00", "0.020"]]
        assert depth["result"]["lastUpdateId"] == ex.venue.depth("BTCUSDT", 5)[0]
        weight = depth["rateLimits"][0]
        assert weight["rateLimitType"] == "REQUEST_WEIGHT" and weight["limit"] == 2400 and weight["count"] >= 2

        book = await cl.request(plain("ticker.book", {"symbol": "BTCUSDT"}))
        assert book["result"]["bidPrice"] == "49990.00" and book["result"]["askQty"] == "0.020"
        price = await cl.request(plain("ticker.price"))
        assert isinstance(price["result"], list)

        for method in (
            "account.status",
            "v2/account.status",
            "account.position",
            "v2/account.position",
            "account.balance",
        ):
            reply = await cl.request(signed(served, method, {}))
            assert reply["status"] == 200, (method, reply)

        started = await cl.request({"id": 90, "method": "userDataStream.start", "params": {"apiKey": HMAC_KEY}})
        key = started["result"]["listenKey"]
        assert len(key) == 64
        ping = await cl.request(
            {"id": 91, "method": "userDataStream.ping", "params": {"apiKey": HMAC_KEY, "listenKey": key}}
        )
        assert ping["result"]["listenKey"] == key
        stop = await cl.request(
            {"id": 92, "method": "userDataStream.stop", "params": {"apiKey": HMAC_KEY, "listenKey": key}}
        )
        assert stop["status"] == 200 and stop["result"] == {}


@pytest.mark.asyncio
async def test_algo_orders_and_return_rate_limits(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1?returnRateLimits=false") as cl:
        algo = {
            "symbol": "BTCUSDT", "side": "SELL", "algoType": "CONDITIONAL", "type": "STOP_MARKET",
            "quantity": "0.010", "triggerPrice": "45000",
        }  # fmt: skip
        placed = await cl.request(signed(served, "algoOrder.place", algo))
        assert placed["status"] == 200, placed
        assert "rateLimits" not in placed
        algo_id = placed["result"]["algoId"]
        cancelled = await cl.request(signed(served, "algoOrder.cancel", {"algoId": algo_id}))
        assert cancelled["status"] == 200, cancelled
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1") as cl:
        reply = await cl.request(plain("depth", {"symbol": "BTCUSDT", "returnRateLimits": False}))
        assert "rateLimits" not in reply
        reply = await cl.request(plain("v1/ticker.price", {"symbol": "BTCUSDT"}))
        assert reply["status"] == 200 and "rateLimits" in reply


@pytest.mark.asyncio
async def test_rsa_per_request_signature(served) -> None:
    import base64
    import random

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from binfut.emulator.config import generate_api_key

    rsa_key = generate_api_key("RSA", rng=random.Random(5))
    served.exchange.add_api_key(rsa_key.api_key, rsa_key.server_material)
    private = serialization.load_pem_private_key(rsa_key.client_secret.encode(), password=None)
    params = {"apiKey": rsa_key.api_key, "timestamp": now_ms(served)}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items())).encode()
    params["signature"] = base64.b64encode(private.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()  # type: ignore[union-attr,call-arg]
    async with await WsClient.connect(served.ws_url + "/ws-fapi/v1") as cl:
        reply = await cl.request({"id": "rsa-1", "method": "v2/account.status", "params": params})
        assert reply["status"] == 200 and "assets" in reply["result"]
        logon = await cl.request({"id": "rsa-2", "method": "session.logon", "params": params})
        assert logon["error"]["code"] == -4056  # only Ed25519 keys may log a session on
