"""The local exchange's aiohttp application: routes from the endpoint table, middlewares, timers.

Rules kept here:
- every route of the endpoint table is registered for its method + path (plus the spot ``/api/v3/ping``
  and ``/api/v3/time`` that some clients probe); one handler serves them all through
  :meth:`LocalExchange.dispatch`, the same entry point the WebSocket API uses;
- middlewares, outermost first: rate limits (weight header on every answer, 429 / 418), errors
  (any ``ApiError`` -> ``{"code","msg"}`` with Binance's status; anything else -> -1000 / 500, logged),
  faults (latency, dropped connections, 5xx, executed-but-503, 429 / 418 storms), authentication;
- the WebSocket side plugs in through ``binfut.emulator.ws.setup_ws(app, exchange)`` when present;
- simulated time is driven by one ``cleanup_ctx`` task that calls :meth:`LocalExchange.advance` with
  the clock's time (simulator steps, GTD expiry, countdown cancel-all, funding, listenKey expiry);
- handlers and middlewares are module-level (or close over plain values) and find the exchange at
  ``request.app[EXCHANGE_KEY]``, which cleanup removes: aiohttp's process-wide middleware cache keeps
  every application that served a request, and a stopped one must not keep its exchange alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from binfut.emulator._http import EXCHANGE_KEY, error_response, json_response, release_on_cleanup
from binfut.emulator.auth import ACCOUNT_KEY, PARSED_KEY, auth_middleware, parse_request
from binfut.emulator.exchange import LocalExchange
from binfut.emulator.faults import FaultKind
from binfut.emulator.ratelimit import ratelimit_middleware
from binfut.errors import ApiError, ExecutionStatusUnknown, IpBanned, RateLimited

__all__ = ["EXCHANGE_KEY", "create_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(exchange: LocalExchange) -> web.Application:
    """Build the aiohttp application serving ``exchange``.

    Parameters
    ----------
    exchange : the local exchange (see :func:`binfut.emulator.exchange.build_exchange`)

    Returns
    -------
    aiohttp.web.Application
        REST routes of every endpoint-table entry, the WebSocket routes when the WS side is
        installed, and the clock-driven timer task.
    """
    app = web.Application(
        middlewares=[ratelimit_middleware, errors_middleware, faults_middleware, auth_middleware],
        client_max_size=1 << 20,
    )
    app[EXCHANGE_KEY] = exchange
    release_on_cleanup(app, EXCHANGE_KEY)
    for endpoint in exchange.routes.values():
        app.router.add_route(endpoint.method, endpoint.path, _handler(endpoint.name))
    try:
        from binfut.emulator.ws import setup_ws  # the WebSocket half, written separately
    except ImportError:
        exchange.log.info("binfut.emulator.ws not installed: REST only")
    else:
        setup_ws(app, exchange)
    app.cleanup_ctx.append(_timers)
    return app


def _handler(name: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        exchange = request.app[EXCHANGE_KEY]
        parsed = request.get(PARSED_KEY) or await parse_request(request, exchange.routes)
        status, body, headers = await exchange.dispatch(name, parsed.params, request.get(ACCOUNT_KEY))
        return json_response(status, body, headers)

    handle.__name__ = f"handle_{name}"
    return handle


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``ApiError`` -> Binance JSON; unexpected exceptions -> -1000 with HTTP 500 (and a log line)."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status == 404:
            return error_response(ApiError(-1099, "Not found, unauthenticated, or unauthorized.", status=404))
        if exc.status == 405:
            return error_response(ApiError(-1099, "Method not allowed.", status=405))
        raise
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        request.app[EXCHANGE_KEY].log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(ApiError(-1000, "An unknown error occurred while processing the request.", status=500))


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the HTTP fault kinds of :class:`~binfut.emulator.faults.FaultInjector` to each request."""
    exchange = request.app[EXCHANGE_KEY]
    faults = exchange.faults
    parsed = await parse_request(request, exchange.routes)
    if not faults.rules or parsed.endpoint is None:
        return await handler(request)
    now = exchange.server_time_ms()
    name = parsed.endpoint.name
    ip = request.remote or "?"
    if (rule := faults.check(FaultKind.BAN, now, name, f"ip={ip}")) is not None:
        exchange.weights.ban(ip, rule.retry_after, now)
        raise IpBanned(-1003, f"Way too many requests; IP({ip}) banned.", retry_after=rule.retry_after)
    if (rule := faults.check(FaultKind.RATE_LIMIT, now, name)) is not None:
        raise RateLimited(
            -1003,
            f"Too many requests; current limit of IP({ip}) is {exchange.weights.limit} requests per minute.",
            retry_after=rule.retry_after,
        )
    if (rule := faults.check(FaultKind.LATENCY, now, name)) is not None:
        # Network latency is real time, whatever the simulated clock's speed.
        await asyncio.sleep(faults.latency_ms(rule) / 1000)
    if (rule := faults.check(FaultKind.HTTP_5XX, now, name)) is not None:
        raise ExecutionStatusUnknown(
            rule.code or -1001,
            "Internal error; unable to process your request. Please try again.",
            status=rule.status or 503,
        )
    if (rule := faults.check(FaultKind.DROP, now, name)) is not None:
        if rule.execute:
            await _run_and_forget(handler, request)
        return _drop(request)
    if (rule := faults.check(FaultKind.UNKNOWN_STATUS, now, name)) is not None:
        await _run_and_forget(handler, request)  # the order IS executed; only the answer is lost
        code = rule.code or -1006
        raise ExecutionStatusUnknown(code, "", status=503)
    return await handler(request)


async def _run_and_forget(handler: Handler, request: web.Request) -> None:
    """Run the request; whatever it answered (an order, or a Binance error) is lost on the way back."""
    with contextlib.suppress(ApiError):
        await handler(request)


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering (aiohttp then ignores the unsent response)."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=200)


async def _timers(app: web.Application) -> AsyncIterator[None]:
    exchange = app[EXCHANGE_KEY]
    task = asyncio.create_task(drive_clock(exchange), name="binfut-emulator-clock")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def drive_clock(exchange: LocalExchange, *, period_s: float | None = None) -> None:
    """Advance the exchange to its clock's time, forever (a ManualClock only moves when told to).

    ``period_s`` defaults to one simulator step of real time, bounded to [5 ms, 100 ms].
    """
    step_s = exchange.config.sim_step_ms / 1000 / max(exchange.speed, 1e-9)
    period = period_s if period_s is not None else min(0.1, max(0.005, step_s))
    log = exchange.log
    while True:
        try:
            exchange.advance(exchange.clock.time_ms())
        except Exception:  # a timer bug must not stop time; it is logged and the loop goes on
            log.exception("emulator clock step failed")
        await asyncio.sleep(period)
