"""Transport protocols: the only seam between the sans-IO core and sockets.

A transport performs one :class:`~binfut.protocol.request.PreparedRequest` and returns a
:class:`~binfut.protocol.request.RawResponse` whose header names are lower-case. It never retries
and never interprets the body: failures become :mod:`binfut.errors` transport errors at this
boundary (``ConnectError`` when nothing was sent, ``ReadTimeout`` / ``TransportError`` otherwise).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from binfut.protocol.request import PreparedRequest, RawResponse

__all__ = ["AsyncHttpTransport", "HttpTransport"]


@runtime_checkable
class HttpTransport(Protocol):
    def handle(self, request: PreparedRequest) -> RawResponse: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncHttpTransport(Protocol):
    async def handle(self, request: PreparedRequest) -> RawResponse: ...

    async def aclose(self) -> None: ...
