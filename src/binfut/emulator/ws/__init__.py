"""The local exchange's WebSocket side: market streams, user-data streams and the WebSocket API.

:func:`setup_ws` adds to the REST application:

- streams at ``/ws``, ``/ws/<stream>[/<stream>...]`` (raw payloads) and ``/stream?streams=a/b``
  (combined ``{"stream","data"}`` frames), each also under the ``/public``, ``/market`` and
  ``/private`` prefixes of Binance's 2025 URL split; a listenKey is a stream name too, and
  ``?listenKey=KEY[&events=A/B]`` opens one on any of these URLs;
- the WebSocket API at ``/ws-fapi/v1``.

Module map: ``names`` (stream grammar), ``payloads`` (number spelling and the encoder; the payload
Structs live in :mod:`binfut.protocol.events`), ``session`` (one connection), ``hub`` (subscriptions,
fan-out), ``depth`` / ``feeds`` / ``user`` (what each stream carries), ``market`` (stream connections
and control messages), ``api`` (WebSocket API), ``timers``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from binfut.emulator._http import release_on_cleanup
from binfut.emulator.ws.api import api_handler
from binfut.emulator.ws.hub import WS_HUB_KEY, StreamHub
from binfut.emulator.ws.market import stream_handler
from binfut.emulator.ws.timers import Timers

__all__ = ["PREFIXES", "WS_HUB_KEY", "StreamHub", "setup_ws"]

PREFIXES = ("", "/public", "/market", "/private")
"""URL prefixes the stream endpoints are served under (the legacy root and the 2025 split)."""


def setup_ws(app: web.Application, exchange: Any, *, max_queue_bytes: int = 16 * 1024 * 1024) -> None:
    """Add the WebSocket routes of ``exchange`` to ``app``.

    Parameters
    ----------
    app : the local exchange's aiohttp application (before it starts)
    exchange : the LocalExchange (``bus``, ``clock``, ``market``, ``venue``, ``accounts``,
        ``listen_keys``, ``faults``, ``dispatch``)
    max_queue_bytes : per-connection backlog after which a slow client is disconnected

    References
    ----------
    Binance USD-M futures "Websocket Market Streams", "User Data Streams", "WebSocket API General Info".
    """
    hub = StreamHub(exchange, Timers(exchange.clock))
    hub.max_queue_bytes = max_queue_bytes
    app[WS_HUB_KEY] = hub
    release_on_cleanup(app, WS_HUB_KEY)
    raw = stream_handler(combined=False)
    combined = stream_handler(combined=True)
    for prefix in PREFIXES:
        app.router.add_get(prefix + "/ws", raw)
        app.router.add_get(prefix + "/ws/{streams:.+}", raw)
        app.router.add_get(prefix + "/stream", combined)
    app.router.add_get("/ws-fapi/v1", api_handler())
    app.on_startup.append(_start_hub)
    app.on_shutdown.append(_stop_hub)


# Module-level (not closures over the hub): aiohttp's process-wide middleware cache keeps the
# application, so nothing the application holds may reach the hub once cleanup removed WS_HUB_KEY.
async def _start_hub(app: web.Application) -> None:
    app[WS_HUB_KEY].start()


async def _stop_hub(app: web.Application) -> None:
    # Close WebSockets before the runner waits for handlers (aiohttp's graceful-shutdown rule).
    app[WS_HUB_KEY].stop()
