"""The WebSocket API at ``/ws-fapi/v1``: REST endpoints as ``{"id","method","params"}`` requests.

Rules kept here ("WebSocket API General Info", "Log in with API key"):
- each method maps to an endpoint-table name and runs through ``exchange.dispatch``, so REST and
  WS-API share one implementation; request weight is charged on the same per-IP budget as REST;
- responses are ``{"id","status","result","rateLimits"}`` or ``{"id","status","error":{"code","msg"},
  "rateLimits"}``; ``returnRateLimits=false`` (connect URL or request) leaves ``rateLimits`` out;
- TRADE / USER_DATA requests carry ``apiKey``, ``timestamp`` and ``signature``: the signed payload
  is every other parameter sorted by name and joined as ``k=v`` with ``&`` (the docs' sample); the
  form with URL-encoded values (what the official SDK signs) is accepted too. USER_STREAM requests
  need ``apiKey`` only;
- ``session.logon`` (Ed25519 keys only, -4056 otherwise) binds a key to the connection: later
  requests may omit ``apiKey`` and ``signature`` (``timestamp`` is still checked when sent);
  ``session.logout`` forgets it; an explicit ``apiKey`` + ``signature`` always overrides the session;
- a method may carry an explicit version prefix (``v1/order.place``); ``v2/account.*`` are the v3
  REST account endpoints, the unprefixed ``account.*`` the deprecated v2 ones.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from aiohttp import WSMsgType, web

from binfut.emulator._http import status_for
from binfut.emulator.auth import check_timestamp
from binfut.emulator.ws.hub import WS_HUB_KEY, StreamHub
from binfut.emulator.ws.session import Session
from binfut.errors import ApiError, AuthenticationError, BadSignature, InvalidRequest, IpBanned, RateLimited

__all__ = ["METHODS", "WsApiConnection", "api_handler"]

# WS-API method -> endpoint-table name.
METHODS: dict[str, str] = {
    "order.place": "new_order",
    "order.modify": "modify_order",
    "order.cancel": "cancel_order",
    "order.status": "query_order",
    "algoOrder.place": "new_algo_order",
    "algoOrder.cancel": "cancel_algo_order",
    "account.status": "account_v2",
    "account.balance": "balance_v2",
    "account.position": "position_risk_v2",
    "v2/account.status": "account",
    "v2/account.balance": "balance",
    "v2/account.position": "position_risk",
    "depth": "depth",
    "ticker.price": "ticker_price",
    "ticker.book": "book_ticker",
    "userDataStream.start": "start_user_stream",
    "userDataStream.ping": "keepalive_user_stream",
    "userDataStream.stop": "close_user_stream",
}
_SESSION_METHODS = ("session.logon", "session.status", "session.logout")
# Parameters that steer the WebSocket API itself and never reach the endpoint.
_CONTROL_PARAMS = frozenset({"apiKey", "signature", "returnRateLimits"})
SESSION_WEIGHT = 2  # session.logon / status / logout

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def _wire(value: Any) -> str:
    """A JSON parameter value as the string the REST side would have received."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return _encode(value).decode()


def signature_payloads(params: dict[str, str]) -> tuple[bytes, bytes]:
    """The two accepted signed payloads: raw ``k=v`` pairs and URL-encoded values, sorted by name."""
    items = sorted((k, v) for k, v in params.items() if k != "signature")
    raw = "&".join(f"{k}={v}" for k, v in items).encode()
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in items).encode()
    return raw, encoded


class WsApiConnection:
    """State of one ``/ws-fapi/v1`` connection (the session's logged-on key)."""

    def __init__(self, hub: StreamHub, session: Session, ip: str, *, return_rate_limits: bool = True) -> None:
        self.hub = hub
        self.exchange = hub.exchange
        self.session = session
        self.ip = ip
        self.return_rate_limits = return_rate_limits
        self.account: Any = None  # the ApiAccount bound by session.logon
        self.authorized_since: int | None = None

    # --- one request ------------------------------------------------------------------------------

    async def handle(self, text: str | bytes) -> bytes:
        """Answer one request frame."""
        request_id: Any = None
        weight_used = 0
        orders: dict[str, str] = {}
        return_limits = self.return_rate_limits
        try:
            try:
                message = _decode(text)
            except msgspec.DecodeError:
                raise InvalidRequest(-1102, "Malformed request: the frame is not valid JSON.") from None
            if not isinstance(message, dict):
                raise InvalidRequest(-1102, "Malformed request: expected a JSON object.")
            request_id = message.get("id")
            method = message.get("method")
            raw_params = message.get("params") or {}
            if not isinstance(method, str) or not method:
                raise InvalidRequest(-1102, "Mandatory parameter 'method' was not sent, was empty/null, or malformed.")
            if not isinstance(raw_params, dict):
                raise InvalidRequest(-1102, "Mandatory parameter 'params' was not sent, was empty/null, or malformed.")
            params = {k: _wire(v) for k, v in raw_params.items() if v is not None}
            if params.get("returnRateLimits", "").lower() == "false":
                return_limits = False
            if method.startswith("v1/"):  # an explicit version of an unversioned method
                method = method[3:]
            now = self.hub.now_ms()
            if method in _SESSION_METHODS:
                weight_used = self._charge(SESSION_WEIGHT, now)
                result = self._session(method, params, now)
                return self._reply(request_id, 200, _encode(result), weight_used, orders, return_limits)
            name = METHODS.get(method)
            if name is None:
                raise ApiError(-1020, f"Unknown method '{method}'.", status=400)
            endpoint = self.exchange.endpoints[name]
            weight_used = self._charge(endpoint.weight_for(params), now)
            account = self._authenticate(endpoint, params, now)
            wire = {k: v for k, v in params.items() if k not in _CONTROL_PARAMS}
            status, body, headers = await self.exchange.dispatch(name, wire, account)
            orders = {k: v for k, v in headers.items() if k.upper().startswith("X-MBX-ORDER-COUNT-")}
            return self._reply(request_id, status, body, weight_used, orders, return_limits)
        except ApiError as err:
            return self._reply(
                request_id, status_for(err), _encode(err.to_payload()), weight_used, orders, return_limits
            )

    def _charge(self, weight: int, now: int) -> int:
        """Count request weight on the REST budget of this IP (-1003 when over the limit)."""
        limits = getattr(self.exchange, "weights", None)
        if limits is None:
            return 0
        verdict = limits.charge(self.ip, weight, now)
        if verdict.status == 418:
            raise IpBanned(-1003, f"Way too many requests; IP({self.ip}) banned.", retry_after=verdict.retry_after_s)
        if verdict.status == 429:
            msg = f"Too many requests; current limit of IP({self.ip}) is {limits.limit} requests per minute."
            raise RateLimited(-1003, msg, retry_after=verdict.retry_after_s)
        return int(verdict.used)

    # --- authentication ---------------------------------------------------------------------------

    def _key_account(self, api_key: str) -> Any:
        account = self.exchange.accounts.by_api_key(api_key)
        if account is None:
            raise AuthenticationError(-2015, "Invalid API-key, IP, or permissions for action.")
        return account

    def _verify(self, account: Any, params: dict[str, str], now: int) -> None:
        signature = params.get("signature")
        if not signature:
            raise InvalidRequest(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        check_timestamp(params, now, self.exchange.config.max_recv_window_ms, speed=self.exchange.config.speed)
        raw, encoded = signature_payloads(params)
        if not (account.verify(raw, signature) or account.verify(encoded, signature)):
            raise BadSignature(-1022, "Signature for this request is not valid.")

    def _authenticate(self, endpoint: Any, params: dict[str, str], now: int) -> Any:
        security = endpoint.security
        api_key = params.get("apiKey")
        if not security.needs_key:
            return self._key_account(api_key) if api_key else self.account
        if api_key and (not security.signed or params.get("signature")):
            account = self._key_account(api_key)
            if security.signed:
                self._verify(account, params, now)
            return account
        if self.account is not None:
            # A logged-on session authorizes the request; a timestamp, when sent, is still checked.
            if security.signed and "timestamp" in params:
                check_timestamp(params, now, self.exchange.config.max_recv_window_ms, speed=self.exchange.config.speed)
            return self.account
        if not api_key:
            raise InvalidRequest(-1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.")
        raise InvalidRequest(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")

    def _session(self, method: str, params: dict[str, str], now: int) -> dict[str, Any]:
        if method == "session.logon":
            api_key = params.get("apiKey")
            if not api_key:
                raise InvalidRequest(-1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.")
            account = self._key_account(api_key)
            if account.key_type != "ED25519":
                # Only Ed25519 keys may authenticate a session.
                raise ApiError(-4056, f"{account.key_type} API key is not supported.", status=400)
            self._verify(account, params, now)
            self.account = account
            self.authorized_since = now
        elif method == "session.logout":
            self.account = None
            self.authorized_since = None
        return {
            "apiKey": self.account.api_key if self.account is not None else None,
            "authorizedSince": self.authorized_since,
            "connectedSince": self.session.connected_ms,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": now,
        }

    # --- responses --------------------------------------------------------------------------------

    def _reply(
        self, request_id: Any, status: int, body: bytes, weight: int, orders: dict[str, str], return_limits: bool
    ) -> bytes:
        head = b'{"id":' + _encode(request_id) + b',"status":' + str(status).encode()
        head += (b',"result":' if status < 400 else b',"error":') + body
        if return_limits:
            head += b',"rateLimits":' + _encode(self._rate_limits(weight, orders))
        return head + b"}"

    def _rate_limits(self, weight: int, orders: dict[str, str]) -> list[dict[str, Any]]:
        cfg = self.exchange.config
        limits: list[dict[str, Any]] = [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": cfg.weight_limit_1m, "count": weight},
        ]  # fmt: skip
        upper = {k.upper(): v for k, v in orders.items()}
        if "X-MBX-ORDER-COUNT-10S" in upper:
            limits.append({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                           "limit": cfg.order_limit_10s, "count": int(upper["X-MBX-ORDER-COUNT-10S"])})  # fmt: skip
        if "X-MBX-ORDER-COUNT-1M" in upper:
            limits.append({"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                           "limit": cfg.order_limit_1m, "count": int(upper["X-MBX-ORDER-COUNT-1M"])})  # fmt: skip
        return limits


def api_handler() -> Any:
    """aiohttp handler of ``/ws-fapi/v1`` (the hub is ``request.app[WS_HUB_KEY]``)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        hub = request.app[WS_HUB_KEY]
        ws = web.WebSocketResponse(autoping=False, compress=False, timeout=5.0, max_msg_size=1 << 20)
        await ws.prepare(request)
        session = Session(
            ws, request, hub.timers, combined=False, max_queue_bytes=hub.max_queue_bytes, on_closed=hub.remove_session
        )
        hub.add_session(session)
        session.start_limits()
        return_limits = request.query.get("returnRateLimits", "true").lower() != "false"
        conn = WsApiConnection(hub, session, request.remote or "?", return_rate_limits=return_limits)
        try:
            async for msg in ws:
                if session.closed:
                    break
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    # Requests are answered in order, one response per frame.
                    session.send_json_bytes(await conn.handle(msg.data))
                elif msg.type is WSMsgType.PING:
                    session.on_ping(msg.data)
                elif msg.type is WSMsgType.PONG:
                    session.on_pong()
        finally:
            session.finish("connection closed")
            await session.wait_closed()
        return ws

    return handler
