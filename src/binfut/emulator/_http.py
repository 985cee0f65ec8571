"""JSON responses of the local exchange: one place that turns bodies and ``ApiError`` into aiohttp answers.

Rule kept here: an error body is exactly Binance's ``{"code", "msg"}``, its HTTP status comes from
:func:`binfut.errors.http_status_for` (the client's own table, so both sides agree on every code), and
429 / 418 answers carry ``Retry-After``.

Also here: :data:`EXCHANGE_KEY` and :func:`release_on_cleanup`. aiohttp memoises each route's middleware
chain in a process-wide cache keyed on the handler and the application, so an application that served
a request stays reachable after it stops. Handlers and middlewares therefore read the exchange from
``request.app[EXCHANGE_KEY]`` (never from a closure), and the keys holding emulator state are dropped
when the application is cleaned up: a stopped emulator keeps nothing alive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from binfut.errors import ApiError, IpBanned, RateLimited, http_status_for

if TYPE_CHECKING:
    from binfut.emulator.exchange import LocalExchange

__all__ = ["EXCHANGE_KEY", "error_body", "error_response", "json_response", "release_on_cleanup", "status_for"]

EXCHANGE_KEY: web.AppKey[LocalExchange] = web.AppKey("binfut.exchange")
"""The :class:`LocalExchange` an application serves (removed when the application is cleaned up)."""

_encode = msgspec.json.Encoder().encode
JSON = "application/json"


def status_for(err: ApiError) -> int:
    """HTTP status of ``err``: 429 / 418 by class, 5xx when the error says so, else by its code."""
    if isinstance(err, IpBanned):
        return 418
    if isinstance(err, RateLimited):
        return 429
    if err.status >= 500:
        return err.status
    return http_status_for(err.code)


def error_body(err: ApiError) -> bytes:
    return _encode(err.to_payload())


def error_headers(err: ApiError) -> dict[str, str]:
    retry = getattr(err, "retry_after", None)
    return {"Retry-After": str(int(retry))} if retry is not None else {}


def error_response(err: ApiError, extra: Mapping[str, str] | None = None) -> web.Response:
    """``err`` as a Binance error answer (plus ``extra`` headers)."""
    headers = {"Content-Type": JSON, **error_headers(err)}
    if extra:
        headers.update(extra)
    return web.Response(status=status_for(err), body=error_body(err), headers=headers)


def json_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> web.Response:
    out = {"Content-Type": JSON}
    if headers:
        out.update(headers)
    return web.Response(status=status, body=body, headers=out)


def release_on_cleanup(app: web.Application, *keys: web.AppKey[Any]) -> None:
    """Remove ``keys`` from ``app``'s state when it is cleaned up.

    The removal is a cleanup context, so it runs even when another cleanup step fails, and after the
    cleanup contexts registered later (which may still read the state on their way out).
    """

    async def release(app: web.Application) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # ``del app[key]`` on a started application warns (DeprecationWarning); the state is dropped
            # directly, and only after the server stopped, when nothing reads it any more.
            state = app._state
            for key in keys:
                state.pop(key, None)

    app.cleanup_ctx.append(release)
