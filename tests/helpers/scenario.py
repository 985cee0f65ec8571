"""A scripted Binance-like HTTP server on 127.0.0.1 for client behaviour tests over real sockets.

Each test scripts replies per ``"METHOD /path"``; the server verifies HMAC signatures like Binance
and records every raw request so tests can count what actually reached the wire.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import msgspec
from aiohttp import web

from binfut.protocol.signing import verify_signature

API_KEY = "test-key"
API_SECRET = "test-secret-0123456789"
T0 = 1_700_000_000_000

Reply = tuple[int, Any, dict[str, str]] | Callable[["Seen"], tuple[int, Any, dict[str, str]]]


@dataclass
class Seen:
    method: str
    path: str
    query: str
    params: dict[str, str]


@dataclass
class ScenarioServer:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    script: dict[str, list[Reply]] = field(default_factory=dict)
    server_time: int = T0

    def on(self, route: str, *replies: Reply) -> None:
        self.script.setdefault(route, []).extend(replies)

    def count(self, route: str) -> int:
        return sum(1 for s in self.seen if f"{s.method} {s.path}" == route)

    async def handle(self, request: web.Request) -> web.Response:
        query = request.rel_url.raw_query_string
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        seen = Seen(request.method, request.path, query, params)
        self.seen.append(seen)
        if "signature" in params:
            payload, _, _ = query.rpartition("&signature=")
            if not verify_signature("HMAC", API_SECRET, payload.encode(), params["signature"]):
                return _json(400, {"code": -1022, "msg": "Signature for this request is not valid."}, {})
        route = f"{request.method} {request.path}"
        queue = self.script.get(route)
        if queue:
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            status, body, headers = reply(seen) if callable(reply) else reply
            return _json(status, body, headers)
        if route == "GET /fapi/v1/time":
            return _json(200, {"serverTime": self.server_time}, {})
        return _json(404, {"code": -1099, "msg": f"not scripted: {route}"}, {})


def _json(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=msgspec.json.encode(body), headers=headers, content_type="application/json")


def running_server() -> Iterator[ScenarioServer]:
    """The scenario server running in its own thread and event loop."""
    scenario = ScenarioServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", scenario.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        scenario.url = f"http://127.0.0.1:{port}"
        state["runner"] = runner
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10), "scenario server did not start"
    yield scenario
    asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
