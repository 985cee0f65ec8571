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

    __slots__ = ("_pool", "_timeout")

    def __init__(self, *, timeout: float = 10.0, maxsize: int = 10) -> None:
        self._timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
        self._pool = urllib3.PoolManager(maxsize=maxsize, block=False, retries=False, timeout=self._timeout)

    def handle(self, request: PreparedRequest) -> RawResponse:
        try:
            resp = self._pool.request(
                request.method,
                request.url,
                headers=request.headers,
                body=request.body,
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except ConnectTimeoutError as exc:
            raise ConnectTimeout(f"connect timeout: {request!r}") from exc
        except NewConnectionError as exc:
            raise ConnectError(f"cannot connect: {request!r}") from exc
        except ReadTimeoutError as exc:
            raise ReadTimeout(f"read timeout: {request!r}") from exc
        except MaxRetryError as exc:
            reason = exc.reason
            if isinstance(reason, ConnectTimeoutError):
                raise ConnectTimeout(f"connect timeout: {request!r}") from exc
            if isinstance(reason, NewConnectionError):
                raise ConnectError(f"cannot connect: {request!r}") from exc
            raise TransportError(f"{type(reason).__name__}: {request!r}") from exc
        except (HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {request!r}") from exc
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.data)

    def close(self) -> None:
        self._pool.clear()

    def __repr__(self) -> str:
        return "Urllib3Transport()"
