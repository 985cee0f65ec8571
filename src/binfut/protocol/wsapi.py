"""The WebSocket API (``/ws-fapi/v1``) without I/O: the method table, request frames, signing, replies.

Rules kept here ("WebSocket API General Info", "Log in with API key (SIGNED)"):
- each WS method is one row of :data:`WS_METHODS` naming the REST endpoint-table operation it
  performs (``order.place`` -> ``new_order`` -> :class:`~binfut.protocol.models.trade.Order`), so
  parameters, weights, security and the response type are the REST ones;
- a request is ``{"id","method","params"}``; SIGNED (TRADE / USER_DATA) params carry ``apiKey``,
  ``timestamp`` (+ ``recvWindow``) and ``signature``, computed over **every other param sorted by
  name** and joined as ``k=v`` with ``&``, values not URL-encoded (the docs' Python sample); HMAC
  gives hex, RSA and Ed25519 base64. USER_STREAM methods send ``apiKey`` only, public ones nothing;
- after ``session.logon`` (Ed25519 keys only) ``apiKey`` and ``signature`` are omitted, the
  ``timestamp`` still goes out on SIGNED methods;
- a reply is ``{"id","status","result"|"error","rateLimits"}``; errors become the same ApiError
  classes as REST (:func:`~binfut.errors.error_from_payload` with the reply's ``status``, so 429 /
  418 / 5xx classify as over HTTP); ``rateLimits`` are turned into the ``X-MBX-*`` header names the
  shared :class:`~binfut.protocol.ratelimit.RateLimiter` already understands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from binfut.credentials import Credentials
from binfut.errors import ApiError, ConfigError, RemoteProtocolError, error_from_payload
from binfut.protocol.endpoints import BY_NAME
from binfut.protocol.spec import Endpoint, snake

__all__ = [
    "SESSION_METHODS",
    "WS_METHODS",
    "RateLimitStatus",
    "SessionStatus",
    "WsMethod",
    "WsReply",
    "build_frame",
    "decode_reply",
    "logon_frame",
    "rate_limit_headers",
    "reply_error",
    "sign_params",
    "ws_py_name",
]


@dataclass(frozen=True, slots=True)
class WsMethod:
    """One WebSocket API method.

    Parameters
    ----------
    method : the wire name (``order.place``, ``v2/account.status``)
    endpoint : the REST endpoint-table operation it performs (its params, security and return type)
    """

    method: str
    endpoint: Endpoint

    @property
    def returns(self) -> Any:
        return self.endpoint.returns


def ws_py_name(method: str) -> str:
    """The Python name of a WS method: ``algoOrder.place`` -> ``algo_order_place``,
    ``v2/account.status`` -> ``account_status_v2``."""
    version, _, base = method.rpartition("/")
    name = snake(base.replace(".", "_"))
    return f"{name}_{version}" if version else name


def _m(method: str, name: str) -> tuple[str, WsMethod]:
    return method, WsMethod(method, BY_NAME[name])


# Binance's USD-M WebSocket API. The unprefixed account.* are the v2 REST endpoints (deprecated by
# Binance), "v2/account.*" the v3 ones: the WS API versions trail the REST paths by one.
WS_METHODS: dict[str, WsMethod] = dict(
    [
        _m("order.place", "new_order"),
        _m("order.modify", "modify_order"),
        _m("order.cancel", "cancel_order"),
        _m("order.status", "query_order"),
        _m("algoOrder.place", "new_algo_order"),
        _m("algoOrder.cancel", "cancel_algo_order"),
        _m("account.status", "account_v2"),
        _m("account.balance", "balance_v2"),
        _m("account.position", "position_risk_v2"),
        _m("v2/account.status", "account"),
        _m("v2/account.balance", "balance"),
        _m("v2/account.position", "position_risk"),
        _m("depth", "depth"),
        _m("ticker.price", "ticker_price"),
        _m("ticker.book", "book_ticker"),
        _m("userDataStream.start", "start_user_stream"),
        _m("userDataStream.ping", "keepalive_user_stream"),
        _m("userDataStream.stop", "close_user_stream"),
    ]
)
"""WS method -> :class:`WsMethod` (and through it the REST endpoint and response type)."""

SESSION_METHODS: dict[str, int] = {"session.logon": 2, "session.status": 2, "session.logout": 2}
"""Session methods (not REST operations) -> request weight."""


class RateLimitStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One ``rateLimits`` entry of a reply: usage of one window after this request."""

    rate_limit_type: str
    interval: str
    interval_num: int
    limit: int
    count: int = 0


class WsReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One reply frame; ``result`` stays raw until the caller decodes it with the method's type."""

    id: int | str | None = None
    status: int = 0
    result: msgspec.Raw = msgspec.Raw()  # empty when the frame has no result
    error: dict[str, Any] | None = None
    rate_limits: list[RateLimitStatus] | None = None


class SessionStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Result of ``session.logon`` / ``session.status`` / ``session.logout``.

    ``api_key`` and ``authorized_since_ms`` are None while the connection is not logged on.
    """

    api_key: str | None = None
    authorized_since_ms: int | None = msgspec.field(default=None, name="authorizedSince")
    connected_since_ms: int = msgspec.field(default=0, name="connectedSince")
    return_rate_limits: bool = True
    server_time_ms: int = msgspec.field(default=0, name="serverTime")


_reply_decoder = msgspec.json.Decoder(WsReply)
_encode = msgspec.json.Encoder().encode


def decode_reply(frame: bytes | str) -> WsReply:
    """Decode one reply frame.

    Raises
    ------
    RemoteProtocolError
        The frame is not a reply object.
    """
    try:
        return _reply_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise RemoteProtocolError(f"WebSocket API frame is not a reply: {exc}") from None


def reply_error(reply: WsReply, method: str, client_order_id: str | None = None) -> ApiError:
    """The REST error class for a failed reply (``status`` classifies 429 / 418 / 5xx as over HTTP)."""
    return error_from_payload(reply.status or 400, reply.error, endpoint=method, client_order_id=client_order_id)


def sign_params(params: dict[str, Any], credentials: Credentials) -> str:
    """The ``signature`` of WS-API ``params``: all params but ``signature``, sorted, ``k=v&k=v``.

    Values are written as the server reads them from JSON: strings as is, integers in decimal,
    booleans ``true``/``false``; nothing is URL-encoded.
    """
    payload = "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()) if k != "signature")
    return credentials.sign(payload.encode())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def build_frame(
    request_id: int | str,
    method: str,
    wire: Mapping[str, str],
    *,
    security: Any,
    credentials: Credentials | None,
    now_ms: int,
    recv_window: int | None,
    logged_on: bool,
) -> bytes:
    """One request frame: wire params plus the authentication ``security`` asks for.

    Parameters
    ----------
    wire : params already encoded by :func:`binfut.protocol.codec.encode_params` (strings)
    security : the endpoint's :class:`~binfut.enums.SecurityType` (None: public)
    now_ms : server-aligned time for ``timestamp``
    logged_on : ``session.logon`` succeeded on this connection: no ``apiKey`` / ``signature``

    Raises
    ------
    ConfigError
        The method needs an API key and no credentials were given.
    """
    params: dict[str, Any] = dict(wire)
    if security is not None and security.needs_key:
        if security.signed:
            params["timestamp"] = now_ms
            if recv_window is not None:
                params["recvWindow"] = recv_window
        if not logged_on:
            if credentials is None:
                raise ConfigError(f"{method} needs an API key ({security.value}); pass credentials")
            params["apiKey"] = credentials.api_key
            if security.signed:
                params["signature"] = sign_params(params, credentials)
    frame: dict[str, Any] = {"id": request_id, "method": method}
    if params:
        frame["params"] = params
    return _encode(frame)


def logon_frame(request_id: int | str, credentials: Credentials, now_ms: int, recv_window: int | None) -> bytes:
    """``session.logon``: ``apiKey`` + ``timestamp`` signed with the Ed25519 key.

    Raises
    ------
    ConfigError
        The credentials are not an Ed25519 key (Binance answers -4056 to any other kind).
    """
    if credentials.key_type != "ED25519":
        raise ConfigError(f"session.logon needs an Ed25519 key, not {credentials.key_type}")
    params: dict[str, Any] = {"apiKey": credentials.api_key, "timestamp": now_ms}
    if recv_window is not None:
        params["recvWindow"] = recv_window
    params["signature"] = sign_params(params, credentials)
    return _encode({"id": request_id, "method": "session.logon", "params": params})


_UNIT = {"SECOND": "s", "MINUTE": "m", "HOUR": "h", "DAY": "d"}
_PREFIX = {"REQUEST_WEIGHT": "x-mbx-used-weight-", "ORDERS": "x-mbx-order-count-"}


def rate_limit_headers(limits: list[RateLimitStatus]) -> dict[str, str]:
    """``rateLimits`` as the ``X-MBX-USED-WEIGHT-1M`` / ``X-MBX-ORDER-COUNT-10S`` headers REST sends
    (lower case), so one :class:`~binfut.protocol.ratelimit.RateLimiter` serves REST and WS alike."""
    out: dict[str, str] = {}
    for item in limits:
        prefix, unit = _PREFIX.get(item.rate_limit_type), _UNIT.get(item.interval)
        if prefix is not None and unit is not None:
            out[f"{prefix}{item.interval_num}{unit}"] = str(item.count)
    return out

