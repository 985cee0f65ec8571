"""Blocking HTTP transport on urllib3: pooled keep-alive connections, timeouts, errors mapped.

urllib3 was measured against httpx for the sync client (see ``bench/bench_rest.py``): it spends
less CPU per call, so it is the default; any object with ``handle``/``close`` can replace it.
"""

from __future__ import annotations

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)

from binfut.errors import ConnectError, ConnectTimeout, ReadTimeout, TransportError
from binfut.protocol.request import PreparedRequest, RawResponse

__all__ = ["Urllib3Transport"]


class Urllib3Transport:
    """Sync transport.

    Parameters
    ----------
    timeout : total seconds per request (connect + read)
    maxsize : connections kept per host
    """

    __slots__ = ("_maxsize", "_pools", "_timeout")

    def __init__(self, *, timeout: float = 10.0, maxsize: int = 10) -> None:
        self._timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
        self._maxsize = maxsize
        # One pool per origin, looked up by the request's base: no URL parsing per call.
        self._pools: dict[str, urllib3.HTTPConnectionPool] = {}

    def _pool(self, base: str) -> urllib3.HTTPConnectionPool:
        pool = self._pools.get(base)
        if pool is None:
            pool = self._pools[base] = urllib3.connection_from_url(
                base, maxsize=self._maxsize, block=False, retries=False, timeout=self._timeout
            )
        return pool

    def handle(self, request: PreparedRequest) -> RawResponse:
        try:
            resp = self._pool(request.base).urlopen(
                request.method,
                request.target,
                headers=request.headers,
                body=request.body,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
            )
        except ReadTimeoutError as exc:
            raise ReadTimeout(f"read timeout from {request.base}: {request!r}") from exc
        except (ConnectTimeoutError, MaxRetryError) as exc:  # urllib3's NewConnectionError is a ConnectTimeoutError
            reason = exc.reason if isinstance(exc, MaxRetryError) else exc
            if isinstance(reason, NewConnectionError):
                raise ConnectError(f"cannot connect to {request.base} ({_cause(reason)}): {request!r}") from exc
            if isinstance(reason, ConnectTimeoutError):
                raise ConnectTimeout(f"connect timeout to {request.base}: {request!r}") from exc
            raise TransportError(f"{type(reason).__name__} from {request.base}: {request!r}") from exc
        except (HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__} from {request.base}: {request!r}") from exc
        return RawResponse(resp.status, resp.headers, resp.data)  # HTTPHeaderDict: case-insensitive

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def __repr__(self) -> str:
        return "Urllib3Transport()"


def _cause(exc: BaseException) -> str:
    """``Connection refused``: the OS's words for why a connection failed (urllib3 wraps them)."""
    inner = exc.__cause__ or exc.__context__
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    return str(exc).rsplit(": ", 1)[-1]
