"""JSON responses of the local exchange: one place that turns bodies and ``ApiError`` into aiohttp answers.

Rule kept here: an error body is exactly Binance's ``{"code", "msg"}``, its HTTP status comes from
:func:`binfut.errors.http_status_for` (the client's own table, so both sides agree on every code), and
429 / 418 answers carry ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from aiohttp import web

from binfut.errors import ApiError, IpBanned, RateLimited, http_status_for

__all__ = ["error_body", "error_response", "json_response", "status_for"]

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
