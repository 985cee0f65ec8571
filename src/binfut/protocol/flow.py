"""The call flow: one generator drives every REST call, for the sync and the async client alike.

It yields :class:`Send` (perform this request, send me the :class:`RawResponse`) and :class:`Wait`
(sleep this long, send me ``None``); transport failures are thrown *into* it, so every decision —
retry, wait, re-sign, resolve an unknown order outcome — is made here, without I/O:

* the server-time offset is measured before the first signed call and again after a -1021, after
  which the request is re-signed and sent once more;
* requests wait until they fit the weight / order budgets; a 429 is waited out (``Retry-After``) and
  resent, since Binance rejected it unprocessed; a 418 records the ban and every call is refused
  locally until it ends;
* only requests that are safe to repeat (GET, cancel by id, or a connection that never opened) are
  retried, with bounded exponential backoff and jitter;
* an order is never resent blindly: when its outcome is unknown (5xx, -1006/-1007, a read timeout)
  the flow queries it by its client order id and returns the real order, or raises
  :class:`~binfut.errors.ExecutionStatusUnknown` carrying that id.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from binfut.config import ClientConfig
from binfut.credentials import Credentials
from binfut.errors import (
    BanInForce,
    ConnectError,
    ExecutionStatusUnknown,
    IpBanned,
    RateLimited,
    TimestampOutOfWindow,
    TransportError,
    UnknownOrder,
)
from binfut.protocol.codec import encode_params
from binfut.protocol.endpoints import BY_NAME
from binfut.protocol.filters import ORDER_ENDPOINTS, FilterBook
from binfut.protocol.ratelimit import RateLimiter
from binfut.protocol.request import PreparedRequest, build_request
from binfut.protocol.response import DecoderCache, api_error
from binfut.protocol.spec import Endpoint
from binfut.protocol.timesync import TimeSync

__all__ = ["Flow", "FlowContext", "Send", "Step", "Wait", "call_flow", "load_exchange_info", "needs_prerequisites", "prerequisites", "sync_time"]


@dataclass(frozen=True, slots=True)
class Send:
    """Perform ``request`` and send back the RawResponse (or throw a TransportError in)."""

    request: PreparedRequest


@dataclass(frozen=True, slots=True)
class Wait:
    """Sleep ``seconds`` (of the injected clock), then send back ``None``."""

    seconds: float
    reason: str


Step = Send | Wait
Flow = Generator[Step, Any, Any]

# How an order of unknown outcome is looked up by its client id: endpoint -> (query endpoint, its id param).
_RESOLVE: dict[str, tuple[str, str]] = {
    "new_order": ("query_order", "origClientOrderId"),
    "new_algo_order": ("query_algo_order", "clientAlgoId"),
}
_RESOLVE_TRIES = 3
_RESOLVE_WAIT_S = 0.5


class FlowContext(Protocol):
    """The non-I/O state a flow reads and updates (implemented by the clients' shared base)."""

    base_url: str
    credentials: Credentials | None
    config: ClientConfig
    limiter: RateLimiter
    timesync: TimeSync
    rng: random.Random
    decoders: DecoderCache
    filters: FilterBook | None

    def local_ms(self) -> int: ...

    def new_client_order_id(self) -> str: ...


def call_flow(
    ctx: FlowContext,
    endpoint: Endpoint,
    params: Mapping[str, Any],
    decode: Callable[[bytes], Any] | None = None,
) -> Flow:
    """Drive one call of ``endpoint`` with wire-named ``params``; returns the decoded result."""
    params = _with_client_ids(ctx, endpoint, params)
    wire = encode_params(endpoint, params)
    if needs_prerequisites(ctx, endpoint):
        for prerequisite in prerequisites(ctx, endpoint):
            yield from prerequisite
    if ctx.filters is not None and endpoint.name in ORDER_ENDPOINTS and ctx.config.validate_filters:
        ctx.filters.check(endpoint.name, params, ctx.timesync.server_now(ctx.local_ms()))
    if decode is None:
        decode = ctx.decoders.for_type(endpoint.returns_for(wire))
    result = yield from _send_with_policy(ctx, endpoint, wire, decode)
    if endpoint.name == "mark_price" and ctx.filters is not None:
        _note_marks(ctx.filters, result)
    return result


def _note_marks(filters: FilterBook, result: Any) -> None:
    """Remember mark prices from a premiumIndex answer for the PERCENT_PRICE check."""
    for item in result if isinstance(result, list) else (result,):
        mark, symbol, time_ms = getattr(item, "mark_price", None), getattr(item, "symbol", None), getattr(item, "time_ms", 0)
        if mark is not None and symbol:
            filters.note_mark(symbol, mark, time_ms)


def _needs_time(ctx: FlowContext, endpoint: Endpoint) -> bool:
    return endpoint.security.signed and ctx.config.sync_time and not ctx.timesync.synced


def _needs_filters(ctx: FlowContext, endpoint: Endpoint) -> bool:
    return ctx.filters is None and ctx.config.validate_filters and endpoint.name in ORDER_ENDPOINTS


def needs_prerequisites(ctx: FlowContext, endpoint: Endpoint) -> bool:
    """Cheap check (no generator built) that :func:`prerequisites` has work to do."""
    return _needs_time(ctx, endpoint) or _needs_filters(ctx, endpoint)


def prerequisites(ctx: FlowContext, endpoint: Endpoint) -> list[Flow]:
    """Flows that must run before ``endpoint`` can be called: time sync, exchangeInfo for filters.

    The async client runs these under a lock so 50 concurrent first calls make one time request.
    """
    flows: list[Flow] = []
    if _needs_time(ctx, endpoint):
        flows.append(sync_time(ctx))
    if _needs_filters(ctx, endpoint):
        flows.append(load_exchange_info(ctx))
    return flows


def _with_client_ids(ctx: FlowContext, endpoint: Endpoint, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Every order carries a client id (generated when absent) so its fate can always be queried."""
    if endpoint.name == "new_order" and not params.get("newClientOrderId"):
        return {**params, "newClientOrderId": ctx.new_client_order_id()}
    if endpoint.name == "new_algo_order" and not params.get("clientAlgoId"):
        return {**params, "clientAlgoId": ctx.new_client_order_id()}
    if endpoint.name == "place_batch_orders" and isinstance(params.get("batchOrders"), list | tuple):
        orders = [
            o if not isinstance(o, Mapping) or o.get("newClientOrderId") else {**o, "newClientOrderId": ctx.new_client_order_id()}
            for o in params["batchOrders"]
        ]
        return {**params, "batchOrders": orders}
    return params


def _send_with_policy(ctx: FlowContext, endpoint: Endpoint, wire: Mapping[str, str], decode: Callable[[bytes], Any]) -> Flow:
    retry = ctx.config.retry
    attempt = 0
    resynced = False
    while True:
        request = yield from _admit(ctx, endpoint, wire)
        try:
            raw = yield Send(request)
        except TransportError as exc:
            # A connection that never opened sent nothing; anything else may have been executed.
            safe = endpoint.idempotent or isinstance(exc, ConnectError)
            if safe and attempt + 1 < retry.attempts:
                yield Wait(retry.backoff(attempt, ctx.rng.random()), f"retry after {type(exc).__name__}")
                attempt += 1
                continue
            if request.client_order_id and endpoint.name in _RESOLVE and not isinstance(exc, ConnectError):
                return (yield from _resolve(ctx, endpoint, wire, request.client_order_id, decode))
            raise
        ctx.limiter.on_headers(ctx.local_ms(), raw.headers)
        if 200 <= raw.status < 300:
            return decode(raw.body)
        error = api_error(raw, endpoint.label, request.client_order_id)
        if isinstance(error, TimestampOutOfWindow) and not resynced:
            resynced = True
            yield from sync_time(ctx, reset=True)
            continue
        if isinstance(error, IpBanned):
            ctx.limiter.on_ban(ctx.local_ms(), error.retry_after)
            raise error
        if isinstance(error, RateLimited) and raw.status == 429:
            # Binance refused the request unprocessed, so resending it after the wait is safe.
            # The limiter holds every request (this one included) until Retry-After has passed.
            ctx.limiter.on_rate_limited(ctx.local_ms(), error.retry_after)
            wait = error.retry_after if error.retry_after is not None else 60.0
            if attempt + 1 < retry.attempts and wait <= retry.max_wait:
                attempt += 1
                continue
            raise error
        if isinstance(error, ExecutionStatusUnknown):
            if request.client_order_id and endpoint.name in _RESOLVE:
                return (yield from _resolve(ctx, endpoint, wire, request.client_order_id, decode))
            if endpoint.idempotent and attempt + 1 < retry.attempts:
                yield Wait(retry.backoff(attempt, ctx.rng.random()), f"retry after {error.code}")
                attempt += 1
                continue
        raise error


def _admit(ctx: FlowContext, endpoint: Endpoint, wire: Mapping[str, str]) -> Generator[Step, Any, PreparedRequest]:
    """Wait until the request fits the budgets, then build, sign and count it."""
    weight = endpoint.weight_for(wire)
    while True:
        now = ctx.local_ms()
        banned = ctx.limiter.ban_remaining(now)
        if banned > 0:
            raise BanInForce(banned, endpoint=endpoint.label)
        delay = ctx.limiter.delay_for(now, weight, endpoint.orders)
        if delay <= 0:
            break
        yield Wait(delay, "request-weight budget")
    request = build_request(
        endpoint,
        wire,
        base_url=ctx.base_url,
        credentials=ctx.credentials,
        now_ms=ctx.timesync.server_now(now),
        recv_window=ctx.config.recv_window,
    )
    ctx.limiter.on_send(now, request.weight, endpoint.orders)
    return request


_server_time_decoder = msgspec.json.Decoder(dict[str, int])


def sync_time(ctx: FlowContext, *, reset: bool = False) -> Generator[Step, Any, int]:
    """Measure the server-time offset with ``GET /fapi/v1/time``; returns the offset in ms."""
    endpoint = BY_NAME["server_time"]
    request = yield from _admit(ctx, endpoint, {})
    sent = ctx.local_ms()
    raw = yield Send(request)
    received = ctx.local_ms()
    ctx.limiter.on_headers(received, raw.headers)
    if raw.status != 200:
        raise api_error(raw, endpoint.label)
    server = _server_time_decoder.decode(raw.body)["serverTime"]
    return ctx.timesync.add_sample(sent, server, received, reset=reset)


def load_exchange_info(ctx: FlowContext) -> Flow:
    """Fetch exchangeInfo once: symbol filters for local validation and the real rate limits."""
    endpoint = BY_NAME["exchange_info"]
    info = yield from _send_with_policy(ctx, endpoint, {}, msgspec.json.Decoder(dict[str, Any]).decode)
    ctx.filters = FilterBook.from_exchange_info(info)
    ctx.limiter.configure(info.get("rateLimits", ()))
    return info


def _resolve(
    ctx: FlowContext,
    endpoint: Endpoint,
    wire: Mapping[str, str],
    client_id: str,
    decode: Callable[[bytes], Any],
) -> Flow:
    """Find out what happened to an order whose placement answer was lost; never resend it."""
    query_name, id_param = _RESOLVE[endpoint.name]
    query = BY_NAME[query_name]
    query_wire = {id_param: client_id}
    if query.param("symbol") is not None and "symbol" in wire:
        query_wire = {"symbol": wire["symbol"], **query_wire}
    for attempt in range(_RESOLVE_TRIES):
        request = yield from _admit(ctx, query, query_wire)
        try:
            raw = yield Send(request)
        except TransportError:
            raw = None
        if raw is not None:
            ctx.limiter.on_headers(ctx.local_ms(), raw.headers)
            if 200 <= raw.status < 300:
                return decode(raw.body)
            error = api_error(raw, query.label)
            if isinstance(error, IpBanned):
                ctx.limiter.on_ban(ctx.local_ms(), error.retry_after)
                break
            if not isinstance(error, UnknownOrder | ExecutionStatusUnknown | RateLimited):
                break
        # Not found yet: the order may still be in flight inside the matching engine.
        yield Wait(_RESOLVE_WAIT_S * (2**attempt), "resolving an order of unknown outcome")
    raise ExecutionStatusUnknown(
        -1007,
        "order outcome unknown after the placement answer was lost; query it by its client id",
        client_order_id=client_id,
        endpoint=endpoint.label,
    )
