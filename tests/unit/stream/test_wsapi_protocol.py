"""WebSocket API sans-IO core: method table, signing payload, frames, replies -> REST error classes."""

from __future__ import annotations

import random

import msgspec
import pytest

from binfut.credentials import Credentials
from binfut.emulator.accounts import AccountRegistry
from binfut.emulator.config import generate_api_key
from binfut.emulator.ws.api import METHODS as EMULATOR_METHODS
from binfut.emulator.ws.api import signature_payloads
from binfut.enums import SecurityType
from binfut.errors import (
    ConfigError,
    ExecutionStatusUnknown,
    InvalidRequest,
    IpBanned,
    OrderRejected,
    RateLimited,
    RemoteProtocolError,
    UnknownOrder,
    error_from_payload,
)
from binfut.protocol.endpoints import BY_NAME
from binfut.protocol.ratelimit import RateLimiter
from binfut.protocol.wsapi import (
    WS_METHODS,
    RateLimitStatus,
    build_frame,
    decode_reply,
    logon_frame,
    rate_limit_headers,
    reply_error,
    sign_params,
    ws_py_name,
)
from binfut.stream.wsapi import WsApiClient

NOW = 1_700_000_000_000
WIRE = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": "42088.0", "timeInForce": "GTC"}


def test_the_table_agrees_with_the_local_exchange_and_every_row_is_a_client_method() -> None:
    assert {m: w.endpoint.name for m, w in WS_METHODS.items()} == EMULATOR_METHODS
    assert WS_METHODS["order.place"].returns is BY_NAME["new_order"].returns
    for method, spec in WS_METHODS.items():
        bound = getattr(WsApiClient, ws_py_name(method))
        assert f"``{method}``" in (bound.__doc__ or "") and spec.endpoint.name in bound.__doc__


@pytest.mark.parametrize("kind", ["HMAC", "RSA", "ED25519"])
def test_signed_frames_verify_on_the_exchange_side(kind: str) -> None:
    # Arrange: the exchange verifies with its own code (sorted k=v payload, see emulator.ws.api)
    key = generate_api_key(kind, rng=random.Random(3))
    account = AccountRegistry().add(key.api_key, key.server_material)
    creds = Credentials(key.api_key, key.client_secret)

    # Act
    frame = msgspec.json.decode(
        build_frame(7, "order.place", WIRE, security=SecurityType.TRADE, credentials=creds, now_ms=NOW,
                    recv_window=5000, logged_on=False)  # fmt: skip
    )

    # Assert
    params = frame["params"]
    assert (frame["id"], frame["method"]) == (7, "order.place")
    assert (params["apiKey"], params["timestamp"], params["recvWindow"]) == (key.api_key, NOW, 5000)
    raw, _ = signature_payloads({k: str(v) for k, v in params.items()})
    assert raw.decode().startswith("apiKey=") and "&price=42088.0&quantity=0.1&recvWindow=5000&" in raw.decode()
    assert account.verify(raw, params["signature"])


def test_the_hmac_signature_is_over_the_sorted_unencoded_params() -> None:
    creds = Credentials("key", "secret")
    params = {"timestamp": NOW, "symbol": "BTCUSDT", "apiKey": "key", "newClientOrderId": "a/b:c"}
    expected = Credentials("key", "secret").sign(f"apiKey=key&newClientOrderId=a/b:c&symbol=BTCUSDT&timestamp={NOW}".encode())
    assert sign_params(params, creds) == expected


def test_authentication_follows_the_method_security_and_the_session() -> None:
    creds = Credentials("key", "secret")

    def params(security: SecurityType | None, logged_on: bool = False) -> dict:
        frame = build_frame(1, "m", {"symbol": "BTCUSDT"}, security=security, credentials=creds, now_ms=NOW,
                            recv_window=None, logged_on=logged_on)  # fmt: skip
        return msgspec.json.decode(frame)["params"]

    assert params(SecurityType.NONE) == {"symbol": "BTCUSDT"}
    assert params(SecurityType.USER_STREAM) == {"symbol": "BTCUSDT", "apiKey": "key"}
    assert set(params(SecurityType.USER_DATA)) == {"symbol", "apiKey", "timestamp", "signature"}
    # After session.logon: no apiKey / signature, the timestamp still goes out.
    assert params(SecurityType.TRADE, logged_on=True) == {"symbol": "BTCUSDT", "timestamp": NOW}
    with pytest.raises(ConfigError):
        build_frame(1, "m", {}, security=SecurityType.TRADE, credentials=None, now_ms=NOW, recv_window=None, logged_on=False)


def test_logon_needs_an_ed25519_key_and_signs_key_and_timestamp() -> None:
    with pytest.raises(ConfigError, match="Ed25519"):
        logon_frame(1, Credentials("key", "secret"), NOW, None)
    key = generate_api_key("ED25519", rng=random.Random(4))
    account = AccountRegistry().add(key.api_key, key.server_material)
    params = msgspec.json.decode(logon_frame(1, Credentials(key.api_key, key.client_secret), NOW, None))["params"]
    assert account.verify(f"apiKey={key.api_key}&timestamp={NOW}".encode(), params["signature"])


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [(400, -2019, OrderRejected), (400, -1121, InvalidRequest), (400, -2013, UnknownOrder),
     (429, -1003, RateLimited), (418, -1003, IpBanned), (503, -1001, ExecutionStatusUnknown)],
)  # fmt: skip
def test_failed_replies_raise_the_rest_classes(status: int, code: int, cls: type) -> None:
    reply = decode_reply(msgspec.json.encode({"id": 1, "status": status, "error": {"code": code, "msg": "m"}}))
    error = reply_error(reply, "order.place")
    rest = error_from_payload(status, {"code": code, "msg": "m"})
    assert type(error) is type(rest) is cls
    assert (error.code, error.status, error.endpoint) == (code, status, "order.place")


def test_rate_limits_feed_the_shared_limiter() -> None:
    limits = [
        RateLimitStatus(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=2400, count=37),
        RateLimitStatus(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=300, count=4),
        RateLimitStatus(rate_limit_type="ORDERS", interval="MINUTE", interval_num=1, limit=1200, count=9),
    ]
    headers = rate_limit_headers(limits)
    assert headers == {"x-mbx-used-weight-1m": "37", "x-mbx-order-count-10s": "4", "x-mbx-order-count-1m": "9"}
    limiter = RateLimiter()
    limiter.on_headers(NOW, headers)
    assert limiter.last.weight == {"1m": 37} and limiter.last.orders == {"10s": 4, "1m": 9}


def test_a_reply_without_result_and_a_garbage_frame() -> None:
    reply = decode_reply(b'{"id":"x","status":200,"result":{"a":1},"rateLimits":[]}')
    assert reply.id == "x" and msgspec.json.decode(reply.result) == {"a": 1}
    with pytest.raises(RemoteProtocolError):
        decode_reply(b"[1,2]")
