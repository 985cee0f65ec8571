"""The blocking client: drives the shared call flow with a blocking transport and ``clock.sleep``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from binfut.client._base import ClientBase
from binfut.client._methods_sync import SyncEndpointMethods
from binfut.errors import TransportError
from binfut.protocol.flow import Flow, Send, call_flow, load_exchange_info, sync_time
from binfut.protocol.spec import Endpoint
from binfut.transport.base import HttpTransport

__all__ = ["Client"]


class Client(SyncEndpointMethods, ClientBase):
    """Binance USD-M REST client (blocking). One typed method per endpoint, see the endpoint table.

    Parameters are those of :class:`~binfut.client._base.ClientBase`, plus ``transport`` (default:
    pooled urllib3). Use as a context manager to close connections cleanly.

    Examples
    --------
    >>> with Client(env="local", base_url="http://127.0.0.1:8765") as client:  # doctest: +SKIP
    ...     client.server_time()
    """

    def __init__(self, *args: Any, transport: HttpTransport | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if transport is None:
            from binfut.transport.urllib3 import Urllib3Transport

            transport = Urllib3Transport(timeout=self.config.timeout)
        self._transport = transport

    def _run(self, flow: Flow) -> Any:
        transport, clock = self._transport, self.clock
        try:
            step = next(flow)
            while True:
                if isinstance(step, Send):
                    try:
                        reply = transport.handle(step.request)
                    except TransportError as exc:
                        step = flow.throw(exc)
                        continue
                else:
                    clock.sleep(step.seconds)
                    reply = None
                step = flow.send(reply)
        except StopIteration as done:
            return done.value

    def _call(self, endpoint: Endpoint, params: Mapping[str, Any], decode: Callable[[bytes], Any] | None = None) -> Any:
        return self._run(call_flow(self, endpoint, params, decode))

    def sync_time(self) -> int:
        """Measure the server-time offset now; returns it in ms."""
        return int(self._run(sync_time(self, reset=True)))

    def load_filters(self) -> None:
        """Fetch exchangeInfo: symbol filters for local order checks and the real rate limits."""
        self._run(load_exchange_info(self))

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()
