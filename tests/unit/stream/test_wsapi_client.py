"""WsApiClient against a scripted WebSocket server on 127.0.0.1: id correlation out of order,
timeouts, drops and reconnects, -1021 re-sync, bans."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from aiohttp import WSMsgType, web

from binfut.clock import ManualClock
from binfut.credentials import Credentials
from binfut.errors import BanInForce, IpBanned, ReadTimeout, WebSocketClosed
from binfut.stream.connection import StreamConfig
from binfut.stream.wsapi import WsApiClient, WsApiConfig

NOW_NS = 1_700_000_000_000_000_000
BOUND = 5.0  # every wait of these tests


class FakeConn:
    """One accepted connection: the test plays the exchange."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.sent: list[dict[str, Any]] = []  # what the client sent
        self.arrived = asyncio.Event()

    def reply(self, request: dict[str, Any], result: Any = None, *, status: int = 200, error: Any = None) -> None:
        body: dict[str, Any] = {"id": request["id"], "status": status}
        body["result" if error is None else "error"] = result if error is None else error
        asyncio.ensure_future(self.ws.send_str(msgspec.json.encode(body).decode()))

    async def wait_sent(self, n: int) -> None:
        async with asyncio.timeout(BOUND):
            while len(self.sent) < n:
                self.arrived.clear()
                await self.arrived.wait()


class FakeServer:
    def __init__(self) -> None:
        self.conns: list[FakeConn] = []
        self.url = ""

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = FakeConn(ws)
        self.conns.append(conn)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                conn.sent.append(msgspec.json.decode(msg.data))
                conn.arrived.set()
        return ws

    async def wait_conns(self, n: int) -> None:
        async with asyncio.timeout(BOUND):
            while len(self.conns) < n:
                await asyncio.sleep(0.005)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    app = web.Application()
    app.router.add_get("/ws-fapi/v1", fake.handler)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"ws://127.0.0.1:{port}/ws-fapi/v1"
    try:
        yield fake
    finally:
        await runner.cleanup()


def order_result(order_id: int) -> dict[str, Any]:
    return {"orderId": order_id, "symbol": "BTCUSDT", "status": "NEW", "clientOrderId": f"c{order_id}",
            "side": "BUY", "type": "LIMIT"}  # fmt: skip


def client(server: FakeServer, **cfg: Any) -> WsApiClient:
    # Reconnect at once (the ManualClock does not move by itself); no watchdog.
    connection = StreamConfig(messages_per_s=1_000_000, backoff_base_s=0.0, watchdog_s=None)
    config = WsApiConfig(**{"sync_time": False, "timeout_s": BOUND, "connect_timeout_s": BOUND, "connection": connection, **cfg})
    return WsApiClient(server.url, credentials=Credentials("key", "secret"), clock=ManualClock(NOW_NS), config=config)


@pytest.mark.asyncio
async def test_replies_in_reverse_order_reach_their_own_callers(server: FakeServer) -> None:
    async with client(server) as api, asyncio.timeout(BOUND):
        calls = [asyncio.ensure_future(api.order_status(symbol="BTCUSDT", order_id=i)) for i in range(40)]
        conn = server.conns[0]
        await conn.wait_sent(40)
        for request in reversed(conn.sent):
            conn.reply(request, order_result(int(request["params"]["orderId"])))
        orders = await asyncio.gather(*calls)
    assert [o.order_id for o in orders] == list(range(40))
    assert len({r["id"] for r in conn.sent}) == 40


@pytest.mark.asyncio
async def test_a_request_without_reply_times_out_with_a_clear_error(server: FakeServer) -> None:
    async with client(server, timeout_s=0.2) as api, asyncio.timeout(BOUND):
        with pytest.raises(ReadTimeout, match=r"order.place \(id \d+\): no reply within 0.2 s; .*newClientOrderId=") as info:
            await api.order_place(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="1", price="1", time_in_force="GTC")
        assert isinstance(info.value, TimeoutError)
        assert api._pending == {}


@pytest.mark.asyncio
async def test_a_drop_fails_in_flight_requests_then_the_client_reconnects(server: FakeServer) -> None:
    async with client(server) as api, asyncio.timeout(BOUND):
        call = asyncio.ensure_future(api.order_status(symbol="BTCUSDT", order_id=1))
        await server.conns[0].wait_sent(1)
        await server.conns[0].ws.close()  # the server goes away
        with pytest.raises(WebSocketClosed):
            await call
        again = asyncio.ensure_future(api.order_status(symbol="BTCUSDT", order_id=2))
        await server.wait_conns(2)
        await server.conns[1].wait_sent(1)
        server.conns[1].reply(server.conns[1].sent[0], order_result(2))
        assert (await again).order_id == 2
        assert api.connects == 2


@pytest.mark.asyncio
async def test_minus_1021_resyncs_with_session_status_and_resigns_once(server: FakeServer) -> None:
    async with client(server) as api, asyncio.timeout(BOUND):
        call = asyncio.ensure_future(api.order_status(symbol="BTCUSDT", order_id=3))
        conn = server.conns[0]
        await conn.wait_sent(1)
        conn.reply(conn.sent[0], status=400, error={"code": -1021, "msg": "Timestamp outside recvWindow"})
        await conn.wait_sent(2)
        assert conn.sent[1]["method"] == "session.status"
        conn.reply(conn.sent[1], {"apiKey": None, "connectedSince": 0, "serverTime": NOW_NS // 1_000_000 + 4000})
        await conn.wait_sent(3)
        assert conn.sent[2]["params"]["timestamp"] == NOW_NS // 1_000_000 + 4000
        conn.reply(conn.sent[2], order_result(3))
        assert (await call).order_id == 3 and api.timesync.offset_ms == 4000


@pytest.mark.asyncio
async def test_an_ip_ban_is_recorded_and_later_requests_are_refused_locally(server: FakeServer) -> None:
    async with client(server) as api, asyncio.timeout(BOUND):
        call = asyncio.ensure_future(api.order_status(symbol="BTCUSDT", order_id=4))
        conn = server.conns[0]
        await conn.wait_sent(1)
        conn.reply(conn.sent[0], status=418, error={"code": -1003, "msg": "banned"})
        with pytest.raises(IpBanned):
            await call
        with pytest.raises(BanInForce):
            await api.order_status(symbol="BTCUSDT", order_id=5)
        assert len(conn.sent) == 1


@pytest.mark.asyncio
async def test_requests_after_close_fail_fast(server: FakeServer) -> None:
    api = client(server)
    await api.connect()
    await api.aclose()
    with pytest.raises(WebSocketClosed):
        await asyncio.wait_for(api.order_status(symbol="BTCUSDT", order_id=1), BOUND)
