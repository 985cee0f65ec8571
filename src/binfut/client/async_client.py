"""The asyncio client: drives the shared call flow with ``await`` on transport and clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from binfut.client._base import ClientBase
from binfut.client._methods_async import AsyncEndpointMethods
from binfut.errors import TransportError
from binfut.protocol.flow import (
    Flow,
    Send,
    call_flow,
    load_exchange_info,
    needs_prerequisites,
    prerequisites,
    sync_time,
)
from binfut.protocol.spec import Endpoint
from binfut.transport.base import AsyncHttpTransport

__all__ = ["AsyncClient"]


class AsyncClient(AsyncEndpointMethods, ClientBase):
    """Binance USD-M REST client (asyncio). The same methods as :class:`Client`, awaited.

    Parameters are those of :class:`~binfut.client._base.ClientBase`, plus ``transport`` (default:
    pooled aiohttp). Use ``async with`` to close the session cleanly.
    """

    def __init__(self, *args: Any, transport: AsyncHttpTransport | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if transport is None:
            from binfut.transport.aiohttp import AiohttpTransport

            transport = AiohttpTransport(timeout=self.config.timeout)
        self._transport = transport
        self._ready = asyncio.Lock()

    async def _run(self, flow: Flow) -> Any:
        transport, clock = self._transport, self.clock
        try:
            step = next(flow)
            while True:
                if isinstance(step, Send):
                    try:
                        reply = await transport.handle(step.request)
                    except TransportError as exc:
                        step = flow.throw(exc)
                        continue
                else:
                    await clock.asleep(step.seconds)
                    reply = None
                step = flow.send(reply)
        except StopIteration as done:
            return done.value

    async def _call(
        self, endpoint: Endpoint, params: Mapping[str, Any], decode: Callable[[bytes], Any] | None = None
    ) -> Any:
        if needs_prerequisites(self, endpoint):
            # One time sync / exchangeInfo load even when many first calls start together.
            async with self._ready:
                for flow in prerequisites(self, endpoint):
                    await self._run(flow)
        return await self._run(call_flow(self, endpoint, params, decode))

    async def sync_time(self) -> int:
        """Measure the server-time offset now; returns it in ms."""
        return int(await self._run(sync_time(self, reset=True)))

    async def load_filters(self) -> None:
        """Fetch exchangeInfo: symbol filters for local order checks and the real rate limits."""
        await self._run(load_exchange_info(self))

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        await self.aclose()
