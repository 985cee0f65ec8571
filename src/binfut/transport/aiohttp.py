"""Async HTTP transport on aiohttp: one pooled session, created lazily inside the running loop.

URLs are passed pre-encoded (``yarl.URL(..., encoded=True)``) so the query that was signed is exactly
the query that is sent.
"""

from __future__ import annotations

import os

import aiohttp
from yarl import URL

from binfut.errors import ConnectError, ConnectTimeout, ReadTimeout, TransportError
from binfut.protocol.request import PreparedRequest, RawResponse

__all__ = ["AiohttpTransport"]


class AiohttpTransport:
    """Async transport.

    Parameters
    ----------
    timeout : total seconds per request
    limit : simultaneous connections
    session : an existing ``aiohttp.ClientSession`` to use (not closed by :meth:`aclose`)
    """

    def __init__(self, *, timeout: float = 10.0, limit: int = 100, session: aiohttp.ClientSession | None = None) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
        self._limit = limit
        self._session = session
        self._owns = session is None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300, enable_cleanup_closed=False)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, auto_decompress=True)
        return self._session

    async def handle(self, request: PreparedRequest) -> RawResponse:
        session = self._session or self._open()
        try:
            async with session.request(
                request.method,
                URL(request.base + request.target, encoded=True),
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                return RawResponse(resp.status, resp.headers, body)  # CIMultiDictProxy: case-insensitive
        except aiohttp.ServerTimeoutError as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise ConnectTimeout(f"connect timeout to {request.base}: {request!r}") from exc
            raise ReadTimeout(f"read timeout from {request.base}: {request!r}") from exc
        except TimeoutError as exc:
            raise ReadTimeout(f"timeout from {request.base}: {request!r}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(f"cannot connect to {request.base} ({_why(exc.os_error)}): {request!r}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__} from {request.base}: {request!r}") from exc

    async def aclose(self) -> None:
        if self._session is not None and self._owns:
            await self._session.close()
        self._session = None if self._owns else self._session

    def __repr__(self) -> str:
        return "AiohttpTransport()"


def _why(error: OSError) -> str:
    """``Connection refused``: the OS's words for the errno (asyncio's own text repeats the address)."""
    return os.strerror(error.errno) if error.errno else str(error)
