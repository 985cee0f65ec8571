"""WsApiClient: the Binance USD-M WebSocket API (``/ws-fapi/v1``) as typed asyncio calls.

Each method of :data:`~binfut.protocol.wsapi.WS_METHODS` is a method here with the *same* keyword
parameters and return type as the REST client's generated method for its endpoint (they are bound
from ``AsyncEndpointMethods`` by :func:`_ws`, so the table and the REST signatures drive both).
Rules kept here:
- many requests share one connection; replies are matched by ``id``; each request has its own
  timeout (loop time: a network deadline, like the REST transport's) and never waits forever;
- errors are the REST classes (``OrderRejected`` -2019, ``InvalidRequest`` -1121, ``UnknownOrder``
  -2013, ...); a lost connection fails in-flight requests with ``WebSocketClosed`` and is re-opened
  in the background (and logged on again after ``session.logon``); a -1021 re-syncs the time and
  re-signs once; ``rateLimits`` feed the shared ``RateLimiter``, which delays or refuses requests;
- orders always carry a client id (generated when absent) so a timed-out order can be queried.
The socket is a :class:`~binfut.stream.connection.StreamConnection` (reconnect with backoff, ping
watchdog, lifecycle events); its ``on_open`` hook logs on again before a new socket goes live.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import msgspec

from binfut.client._methods_async import AsyncEndpointMethods
from binfut.clock import Clock, SystemClock
from binfut.credentials import Credentials
from binfut.errors import (
    ApiError,
    BanInForce,
    ConfigError,
    ConnectTimeout,
    IpBanned,
    RateLimited,
    ReadTimeout,
    TimestampOutOfWindow,
    WebSocketClosed,
)
from binfut.protocol.codec import encode_params
from binfut.protocol.ratelimit import RateLimiter
from binfut.protocol.response import DecoderCache
from binfut.protocol.spec import Endpoint
from binfut.protocol.timesync import TimeSync
from binfut.protocol.wsapi import (
    SESSION_METHODS,
    WS_METHODS,
    SessionStatus,
    WsMethod,
    WsReply,
    build_frame,
    decode_reply,
    logon_frame,
    rate_limit_headers,
    reply_error,
    ws_py_name,
)
from binfut.stream.connection import LifecycleEvent, LifecycleKind, StreamConfig, StreamConnection

__all__ = ["WsApiClient", "WsApiConfig"]

P = ParamSpec("P")
R = TypeVar("R")


def _safe(url: str) -> str:
    """``url`` without its query (a listenKey is a credential of sorts)."""
    return url.split("?", 1)[0]


# --- configuration --------------------------------------------------------------------------------


class WsApiConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of a :class:`WsApiClient`.

    Parameters
    ----------
    timeout_s : per-request deadline, waiting for the connection included (real time)
    connect_timeout_s : how long :meth:`WsApiClient.connect` waits for the first connection
    recv_window : ``recvWindow`` of signed requests (None: server default 5000 ms)
    sync_time : measure the server-time offset (``session.status``) before the first signed request
    client_order_prefix : prefix of generated ``newClientOrderId`` / ``clientAlgoId``
    connection : the socket's settings (backoff, watchdog, rotation); the WebSocket API limits
        requests by weight, not by message count, so message pacing is effectively off by default
    """

    timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    recv_window: int | None = 5000
    sync_time: bool = True
    client_order_prefix: str = "binfut-"
    connection: StreamConfig = StreamConfig(messages_per_s=1_000_000)


# --- typed methods bound from the REST signatures ----------------------------------------------------


class _Via:
    """Stands in for ``self`` of a generated REST method: its ``_call`` goes over the WebSocket API."""

    __slots__ = ("_client", "_method")

    def __init__(self, client: WsApiClient, method: WsMethod) -> None:
        self._client = client
        self._method = method

    async def _call(self, endpoint: Endpoint, params: Mapping[str, Any], decode: Any = None) -> Any:
        return await self._client._call_method(self._method, params)


def _ws(method: str, rest: Callable[Concatenate[Any, P], Awaitable[R]]) -> Callable[Concatenate[WsApiClient, P], Awaitable[R]]:
    """A WsApiClient method for ``method`` with the parameters and result of REST method ``rest``."""
    spec = WS_METHODS[method]
    if rest.__name__ != spec.endpoint.name:  # the table and the binding below must agree
        raise RuntimeError(f"{method} maps to {spec.endpoint.name}, not {rest.__name__}")

    async def call(self: WsApiClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await rest(_Via(self, spec), *args, **kwargs)

    call.__name__ = ws_py_name(method)
    call.__qualname__ = f"WsApiClient.{call.__name__}"
    call.__doc__ = (
        f"``{method}`` over the WebSocket API: the parameters and result of "
        f":meth:`AsyncClient.{rest.__name__}` (endpoint ``{spec.endpoint.label}``).\n\n"
        f"Raises the REST error classes; :class:`~binfut.errors.ReadTimeout` when no reply arrives in time."
    )
    return call


class _Pending:
    __slots__ = ("future", "method")

    def __init__(self, future: asyncio.Future[WsReply], method: str) -> None:
        self.future = future
        self.method = method


class WsApiClient:
    """Binance USD-M WebSocket API client (asyncio).

    Parameters
    ----------
    url : the WebSocket API URL (``Urls.ws_api``: ``wss://ws-fapi.binance.com/ws-fapi/v1``)
    credentials : API key and signer (HMAC, RSA or Ed25519); required for signed methods
    clock : time for ``timestamp`` and backoff waits (default real time)
    limiter : request-weight / order budgets (share the REST client's ``limiter`` to count both)
    timesync : server-time offset (share the REST client's ``timesync``)
    config : timeouts, recvWindow, reconnect policy
    rng : backoff jitter and client-order-id salt
    on_lifecycle : gets the connection's :class:`~binfut.stream.connection.LifecycleEvent` s

    Use ``async with WsApiClient(...) as api:``; it connects on entry and closes cleanly on exit.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-api-general-info
    """

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials | None = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        timesync: TimeSync | None = None,
        config: WsApiConfig | None = None,
        rng: random.Random | None = None,
        on_lifecycle: Callable[[LifecycleEvent], object] | None = None,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.config = config or WsApiConfig()
        self.clock: Clock = clock or SystemClock()
        self.limiter = limiter or RateLimiter()
        self.timesync = timesync or TimeSync()
        self._rng = rng or random.Random()
        self._on_lifecycle_cb = on_lifecycle
        self._decoders = DecoderCache()
        self._ids = itertools.count(1)
        self._order_ids = itertools.count(self._rng.randrange(36**3))
        self._salt = format(self._rng.randrange(36**4), "x")
        self._pending: dict[int, _Pending] = {}
        self._conn: StreamConnection | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._want_logon = False  # session.logon succeeded: log on again after a reconnect
        self.logged_on = False
        self.connects = 0  # sockets opened (1 + reconnects + rotations)
        self._limits_configured: set[str] = set()  # rateLimitTypes adopted from replies

    # -- lifecycle ---------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection (idempotent); later drops are reconnected in the background.

        Raises
        ------
        ConnectTimeout
            No connection within ``config.connect_timeout_s``.
        """
        if self._conn is not None:
            return
        self._closing = False
        conn = self._conn = StreamConnection(
            self.url,
            on_message=self._on_message,
            combined=False,
            on_lifecycle=self._on_lifecycle,
            on_open=self._on_open,
            config=self.config.connection,
            clock=self.clock,
            rng=self._rng,
            label="ws-api",
        )
        await conn.start()
        try:
            await conn.wait_open(self.config.connect_timeout_s)
        except TimeoutError:
            self._conn = None
            await conn.close()
            raise ConnectTimeout(f"WebSocket API {_safe(self.url)}: not connected within {self.config.connect_timeout_s:g} s") from None

    async def aclose(self) -> None:
        """Close the connection; in-flight requests fail with ``WebSocketClosed`` (idempotent)."""
        self._closing = True
        self._ready.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        self._fail_pending(WebSocketClosed("WsApiClient closed"))

    async def __aenter__(self) -> WsApiClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def connection(self) -> StreamConnection | None:
        """The underlying socket (health, lifecycle); None before :meth:`connect`."""
        return self._conn

    async def _on_open(self, send: Callable[[str | bytes], Awaitable[None]]) -> None:
        """Runs on every new socket before it goes live: log on again after a ``session.logon``."""
        self.logged_on = False
        if not (self._want_logon and self.credentials is not None):
            return
        request_id = next(self._ids)
        future: asyncio.Future[WsReply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(future, "session.logon")
        try:
            frame = logon_frame(request_id, self.credentials, self._server_ms(), self.config.recv_window)
            await send(frame.decode())
            async with asyncio.timeout(self.config.timeout_s):
                reply = await future
        finally:
            self._pending.pop(request_id, None)
        if 200 <= reply.status < 300:
            self.logged_on = True
        else:
            # The key no longer logs on (revoked, -4056): carry on, signing each request instead.
            self._want_logon = False

    def _on_lifecycle(self, event: LifecycleEvent) -> None:
        kind = event.kind
        if kind in (LifecycleKind.CONNECTED, LifecycleKind.RECONNECTED, LifecycleKind.ROTATED):
            self.connects += 1
            self._ready.set()
        elif kind in (LifecycleKind.DISCONNECTED, LifecycleKind.CLOSED):
            self._ready.clear()
            self.logged_on = False
            self._fail_pending(WebSocketClosed(f"WebSocket API connection lost: {event.reason}"))
        if self._on_lifecycle_cb is not None:
            self._on_lifecycle_cb(event)

    def _on_message(self, data: bytes) -> None:
        try:
            reply = decode_reply(data)
        except Exception:
            return  # not a reply (nothing else is sent on this endpoint): skip it
        pending = self._pending.pop(reply.id, None) if isinstance(reply.id, int) else None
        if pending is not None and not pending.future.done():
            pending.future.set_result(reply)
        elif reply.id is None and reply.status == 401:
            # "API key revocation": the session lost its key; later requests must sign again.
            self.logged_on = self._want_logon = False

    def _fail_pending(self, exc: BaseException) -> None:
        pending, self._pending = self._pending, {}
        for item in pending.values():
            if not item.future.done():
                item.future.set_exception(exc)
                item.future.exception()  # mark retrieved: a caller that timed out will not read it

    # -- requests ----------------------------------------------------------------------------------

    def _server_ms(self) -> int:
        return self.timesync.server_now(self.clock.time_ns() // 1_000_000)

    def new_client_order_id(self) -> str:
        """A unique id within Binance's rule ``^[.A-Z:/a-z0-9_-]{1,36}$``."""
        now = self.clock.time_ns() // 1_000_000
        return f"{self.config.client_order_prefix}w{self._salt}{now:x}{next(self._order_ids):x}"

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call any method of :data:`~binfut.protocol.wsapi.WS_METHODS` with wire-named ``params``."""
        spec = WS_METHODS.get(method)
        if spec is None:
            raise KeyError(f"no WebSocket API method {method!r}; known: {sorted(WS_METHODS)}")
        return await self._call_method(spec, params or {})

    async def _call_method(self, spec: WsMethod, params: Mapping[str, Any]) -> Any:
        endpoint = spec.endpoint
        client_id: str | None = None
        if endpoint.name == "new_order":
            client_id = params.get("newClientOrderId") or self.new_client_order_id()
            params = {**params, "newClientOrderId": client_id}
        elif endpoint.name == "new_algo_order":
            client_id = params.get("clientAlgoId") or self.new_client_order_id()
            params = {**params, "clientAlgoId": client_id}
        wire = encode_params(endpoint, params)
        security = endpoint.security
        if security.signed and self.config.sync_time and not self.timesync.synced:
            await self.sync_time()
        decode = self._decoders.for_type(endpoint.returns_for(wire))
        resynced = False
        while True:
            reply = await self._roundtrip(
                spec.method,
                lambda rid: build_frame(
                    rid,
                    spec.method,
                    wire,
                    security=security,
                    credentials=self.credentials,
                    now_ms=self._server_ms(),
                    recv_window=self.config.recv_window,
                    logged_on=self.logged_on,
                ),
                weight=endpoint.weight_for(wire),
                orders=endpoint.orders,
                client_order_id=client_id,
            )
            if 200 <= reply.status < 300:
                return decode(reply.result)
            error = self._classify(reply, spec.method, client_id)
            if isinstance(error, TimestampOutOfWindow) and not resynced:
                # Rejected unprocessed: re-measure the offset and sign again, once.
                resynced = True
                await self.sync_time(reset=True)
                continue
            raise error

    def _classify(self, reply: WsReply, method: str, client_id: str | None) -> ApiError:
        error = reply_error(reply, method, client_id)
        now = self.clock.time_ns() // 1_000_000
        if isinstance(error, IpBanned):
            self.limiter.on_ban(now, error.retry_after)
        elif isinstance(error, RateLimited) and reply.status == 429:
            self.limiter.on_rate_limited(now, error.retry_after)
        return error

    async def _roundtrip(
        self,
        method: str,
        build: Callable[[int], bytes],
        *,
        weight: int,
        orders: int,
        client_order_id: str | None = None,
    ) -> WsReply:
        """Send one request and wait for its reply, all within ``timeout_s``."""
        timeout = self.config.timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = self._conn
        if self._closing or conn is None:
            raise WebSocketClosed(f"{method}: WsApiClient is not connected (use connect() or async with)")
        await self._admit(method, weight, orders)
        try:
            async with asyncio.timeout_at(deadline):
                await self._ready.wait()
        except TimeoutError:
            raise ConnectTimeout(f"{method}: not connected within {timeout:g} s; the request was not sent") from None
        request_id = next(self._ids)
        future: asyncio.Future[WsReply] = loop.create_future()
        self._pending[request_id] = _Pending(future, method)
        try:
            await conn.send(build(request_id).decode())  # a text frame, as Binance requires
            self.limiter.on_send(self.clock.time_ns() // 1_000_000, weight, orders)
            async with asyncio.timeout_at(deadline):
                reply = await future
        except TimeoutError:
            hint = f"; the order may exist: query newClientOrderId={client_order_id}" if client_order_id else ""
            raise ReadTimeout(f"{method} (id {request_id}): no reply within {timeout:g} s{hint}") from None
        finally:
            self._pending.pop(request_id, None)
        if reply.rate_limits:
            self._on_rate_limits(reply)
        return reply

    async def _admit(self, method: str, weight: int, orders: int) -> None:
        """Wait until the request fits the weight / order budgets; refuse while an IP ban lasts."""
        while True:
            now = self.clock.time_ns() // 1_000_000
            banned = self.limiter.ban_remaining(now)
            if banned > 0:
                raise BanInForce(banned, endpoint=method)
            delay = self.limiter.delay_for(now, weight, orders)
            if delay <= 0:
                return
            await self.clock.asleep(delay)

    def _on_rate_limits(self, reply: WsReply) -> None:
        limits = reply.rate_limits or []
        kinds = {item.rate_limit_type for item in limits}
        if not kinds <= self._limits_configured:
            # The reply states the real limits of this account / IP: adopt each kind once (order
            # windows only appear on order methods).
            self.limiter.configure(limits)
            self._limits_configured |= kinds
        self.limiter.on_headers(self.clock.time_ns() // 1_000_000, rate_limit_headers(limits))

    # -- session -----------------------------------------------------------------------------------

    async def _session_call(self, method: str, build: Callable[[int], bytes]) -> SessionStatus:
        reply = await self._roundtrip(method, build, weight=SESSION_METHODS[method], orders=0)
        if not 200 <= reply.status < 300:
            raise self._classify(reply, method, None)
        return msgspec.json.decode(reply.result, type=SessionStatus)

    async def session_logon(self) -> SessionStatus:
        """``session.logon``: authenticate the connection with the Ed25519 key.

        Later requests go without ``apiKey`` / ``signature``; after a reconnect the client logs on
        again before sending anything.

        Raises
        ------
        ConfigError
            No credentials, or not an Ed25519 key (Binance answers -4056).
        """
        if self.credentials is None:
            raise ConfigError("session.logon needs credentials")
        creds = self.credentials
        if self.config.sync_time and not self.timesync.synced:
            await self.sync_time()
        status = await self._session_call(
            "session.logon", lambda rid: logon_frame(rid, creds, self._server_ms(), self.config.recv_window)
        )
        self.logged_on = self._want_logon = True
        return status

    async def session_status(self) -> SessionStatus:
        """``session.status``: the key the connection is logged on with (if any) and server time."""
        return await self._session_call("session.status", lambda rid: _plain(rid, "session.status"))

    async def session_logout(self) -> SessionStatus:
        """``session.logout``: forget the logged-on key (requests must be signed again)."""
        status = await self._session_call("session.logout", lambda rid: _plain(rid, "session.logout"))
        self.logged_on = self._want_logon = False
        return status

    async def sync_time(self, *, reset: bool = False) -> int:
        """Measure the server-time offset with ``session.status``; returns it in ms."""
        sent = self.clock.time_ns() // 1_000_000
        status = await self.session_status()
        received = self.clock.time_ns() // 1_000_000
        return self.timesync.add_sample(sent, status.server_time_ms, received, reset=reset)

    # -- the typed methods (WS method -> the REST method of the same endpoint) ---------------------

    order_place = _ws("order.place", AsyncEndpointMethods.new_order)
    order_modify = _ws("order.modify", AsyncEndpointMethods.modify_order)
    order_cancel = _ws("order.cancel", AsyncEndpointMethods.cancel_order)
    order_status = _ws("order.status", AsyncEndpointMethods.query_order)
    algo_order_place = _ws("algoOrder.place", AsyncEndpointMethods.new_algo_order)
    algo_order_cancel = _ws("algoOrder.cancel", AsyncEndpointMethods.cancel_algo_order)
    account_status = _ws("account.status", AsyncEndpointMethods.account_v2)
    account_balance = _ws("account.balance", AsyncEndpointMethods.balance_v2)
    account_position = _ws("account.position", AsyncEndpointMethods.position_risk_v2)
    account_status_v2 = _ws("v2/account.status", AsyncEndpointMethods.account)
    account_balance_v2 = _ws("v2/account.balance", AsyncEndpointMethods.balance)
    account_position_v2 = _ws("v2/account.position", AsyncEndpointMethods.position_risk)
    depth = _ws("depth", AsyncEndpointMethods.depth)
    ticker_price = _ws("ticker.price", AsyncEndpointMethods.ticker_price)
    ticker_book = _ws("ticker.book", AsyncEndpointMethods.book_ticker)
    user_data_stream_start = _ws("userDataStream.start", AsyncEndpointMethods.start_user_stream)
    user_data_stream_ping = _ws("userDataStream.ping", AsyncEndpointMethods.keepalive_user_stream)
    user_data_stream_stop = _ws("userDataStream.stop", AsyncEndpointMethods.close_user_stream)

    def __repr__(self) -> str:
        return f"WsApiClient({_safe(self.url)!r}, connected={self.connected}, logged_on={self.logged_on})"


def _plain(request_id: int, method: str) -> bytes:
    return msgspec.json.encode({"id": request_id, "method": method})
