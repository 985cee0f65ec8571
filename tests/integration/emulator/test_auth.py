"""API keys, signatures (HMAC, RSA, Ed25519) and the timestamp / recvWindow rule, over real HTTP."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from integration.emulator.conftest import Served, make_exchange, serve
from integration.emulator.support import assert_error

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "price": "63000",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["HMAC", "RSA", "ED25519"])
async def test_each_key_type_signs_and_a_tampered_request_is_refused(served: Served, kind: str) -> None:
    api = served.with_key(kind)
    ok = await api.call("account")
    assert ok.status == 200, ok.body
    assert ok.json["assets"][0]["asset"] == "USDT"
    placed = await api.call("new_order", ORDER)
    assert placed.status == 200, placed.body
    bad = await api.call("account", tamper=True)
    assert_error(bad, -1022, 400)


@pytest.mark.asyncio
async def test_a_signature_made_with_another_key_is_refused(served: Served) -> None:
    rsa, hmac_api = served.with_key("RSA"), served.api
    text = hmac_api.query({}, signed=True)  # HMAC-signed...
    reply = await rsa.raw("GET", "/fapi/v3/account", text)  # ...sent with the RSA key
    assert_error(reply, -1022, 400)


@pytest.mark.asyncio
async def test_parameters_in_the_body_and_mixed_query_and_body(served: Served) -> None:
    api = served.api
    in_body = await api.call("new_order", ORDER, in_body=True)
    assert in_body.status == 200, in_body.body
    # Binance's "Example 3": totalParams = query string + body, concatenated without "&".
    query = urlencode({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"})
    body = urlencode({"quantity": "0.01", "price": "63000.5", "timestamp": served.exchange.server_time_ms()})
    sig = api.key.sign(query + body)
    mixed = await api.raw("POST", "/fapi/v1/order", query, f"{body}&signature={quote(sig, safe='')}")
    assert mixed.status == 200, mixed.body
    assert mixed.json["price"] == "63000.50"
    wrong = await api.raw(
        "POST", "/fapi/v1/order", query, f"{body}&signature={quote(api.key.sign(query + '&' + body), safe='')}"
    )
    assert_error(wrong, -1022)


@pytest.mark.asyncio
async def test_timestamp_window_both_sides(served: Served) -> None:
    api = served.api
    now = served.exchange.server_time_ms()  # ManualClock: the server sees exactly this time
    # ahead: timestamp < serverTime + 1000
    assert (await api.call("balance", timestamp=now + 999)).status == 200
    assert_error(await api.call("balance", timestamp=now + 1000), -1021, 400)
    # behind: serverTime - timestamp <= recvWindow (default 5000)
    assert (await api.call("balance", timestamp=now - 5000)).status == 200
    assert_error(await api.call("balance", timestamp=now - 5001), -1021, 400)
    assert (await api.call("balance", timestamp=now - 20_000, recv_window=20_000)).status == 200
    assert_error(await api.call("balance", timestamp=now - 20_001, recv_window=20_000), -1021)
    # recvWindow is capped at 60000
    assert (await api.call("balance", timestamp=now, recv_window=60_000)).status == 200
    assert_error(await api.call("balance", timestamp=now, recv_window=60_001), -1130, 400)


@pytest.mark.asyncio
async def test_the_timestamp_windows_are_real_time_on_a_sped_up_clock() -> None:
    # at speed 300, 20 real ms in transit are 6 simulated s: the windows widen by the clock's speed
    async for served in serve(make_exchange(speed=300)):
        api = served.api
        now = served.exchange.server_time_ms()
        assert (await api.call("balance", timestamp=now - 6_000)).status == 200
        assert (await api.call("balance", timestamp=now - 1_500_000)).status == 200  # 5000 ms * 300
        assert_error(await api.call("balance", timestamp=now - 1_500_001), -1021, 400)
        assert (await api.call("balance", timestamp=now + 299_999)).status == 200  # 1000 ms * 300 ahead
        assert_error(await api.call("balance", timestamp=now + 300_000), -1021, 400)


@pytest.mark.asyncio
async def test_key_and_parameter_errors(served: Served) -> None:
    api = served.api
    text = api.query({}, signed=True)
    assert_error(await api.raw("GET", "/fapi/v3/account", text, key=None), -2014, 401)
    assert_error(await api.raw("GET", "/fapi/v3/account", text, key="bad key!"), -2014, 401)
    assert_error(await api.raw("GET", "/fapi/v3/account", text, key="A" * 64), -2015, 401)
    no_sig = urlencode({"timestamp": served.exchange.server_time_ms()})
    body = assert_error(await api.raw("GET", "/fapi/v3/account", no_sig), -1102, 400)
    assert body["msg"] == "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
    assert_error(await api.raw("GET", "/fapi/v3/account", "signature=abc"), -1102)
    assert_error(await api.raw("GET", "/fapi/v3/account", "timestamp=12ab&signature=abc"), -1100)


@pytest.mark.asyncio
async def test_market_data_security_needs_the_key_but_no_signature(served: Served) -> None:
    api = served.api
    assert_error(await api.raw("GET", "/fapi/v1/historicalTrades", "symbol=BTCUSDT", key=None), -2014, 401)
    reply = await api.raw("GET", "/fapi/v1/historicalTrades", "symbol=BTCUSDT&limit=5")
    assert reply.status == 200 and len(reply.json) == 5
    # user stream: key only
    started = await api.call("start_user_stream")
    assert started.status == 200 and len(started.json["listenKey"]) == 64
