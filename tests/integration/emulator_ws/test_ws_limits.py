"""Connection rules: server pings and pong timeout, the 24 h limit, 10 messages/s, slow consumers, faults."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from binfut.clock import ScaledClock
from binfut.emulator.ws import session as ws_session
from integration.emulator_ws.conftest import make_exchange
from integration.emulator_ws.ws_support import WsClient

MINUTE_NS = 60 * 1_000_000_000


@pytest.mark.asyncio
async def test_server_pings_every_3_minutes_and_client_pongs(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws/btcusdt@trade", autoping=False) as cl:
        for _ in range(5):  # 15 simulated minutes, answering each ping
            served.clock.advance(3 * MINUTE_NS)
            msg = await cl.recv_msg()
            assert msg.type is aiohttp.WSMsgType.PING
            await cl.ws.pong(msg.data)
            await asyncio.sleep(0.02)
        assert await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {"result": ["btcusdt@trade"], "id": 1}


@pytest.mark.asyncio
async def test_no_pong_for_10_minutes_disconnects(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws/btcusdt@trade", autoping=False) as cl:
        served.clock.advance(3 * MINUTE_NS)
        assert (await cl.recv_msg()).type is aiohttp.WSMsgType.PING  # never answered
        await asyncio.sleep(0.6)  # the real-time grace a client always gets
        served.clock.advance(9 * MINUTE_NS)
        while (msg := await cl.recv_msg()).type is aiohttp.WSMsgType.PING:
            pass
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.POLICY_VIOLATION


@pytest.mark.asyncio
async def test_pings_sent_during_one_clock_jump_do_not_count_against_the_client(served, monkeypatch) -> None:
    # A loaded machine: the 240 pings of a 12-hour step take longer to go out than the real-time grace.
    monkeypatch.setattr(ws_session, "PONG_GRACE_REAL_S", 0.0)
    async with await WsClient.connect(served.ws_url + "/ws/btcusdt@trade") as cl:  # answers pings when it reads
        served.clock.advance(12 * 60 * MINUTE_NS)  # none of those pings could be answered before it returns
        assert await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {"result": ["btcusdt@trade"], "id": 1}


@pytest.mark.asyncio
async def test_client_ping_gets_pong(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws", autoping=False) as cl:
        await cl.ws.ping(b"hello")
        msg = await cl.recv_msg()
        assert msg.type is aiohttp.WSMsgType.PONG and msg.data == b"hello"


@pytest.mark.asyncio
async def test_24_hour_limit_manual_clock(served) -> None:
    async with await WsClient.connect(served.ws_url + "/stream?streams=btcusdt@trade") as cl:
        served.clock.advance(24 * 60 * MINUTE_NS - 1_000_000)
        assert await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {"result": ["btcusdt@trade"], "id": 1}
        served.clock.advance(2_000_000)
        msg = await cl.recv_msg()
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.OK


@pytest.mark.asyncio
async def test_24_hour_limit_accelerated_clock() -> None:
    from binfut.emulator.server import start_emulator

    clock = ScaledClock(speed=150_000.0)  # a simulated day in about 0.6 s
    exchange = make_exchange(clock)
    async with start_emulator(exchange=exchange) as running:
        loop = asyncio.get_running_loop()
        async with (
            await WsClient.connect(running.ws_url + "/ws-fapi/v1") as api,
            await WsClient.connect(running.ws_url + "/ws/btcusdt@depth") as cl,
        ):
            started_real, started_sim = loop.time(), clock.time_ms()
            msg = await cl.recv_msg(timeout=10)  # pings are answered by aiohttp (autoping) meanwhile
            while msg.type is aiohttp.WSMsgType.PING:
                msg = await cl.recv_msg(timeout=10)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.OK
            assert clock.time_ms() - started_sim >= 24 * 3_600_000
            assert loop.time() - started_real < 5
            # The WebSocket API connection has the same limit.
            msg = await api.recv_msg(timeout=10)
            while msg.type is aiohttp.WSMsgType.PING:
                msg = await api.recv_msg(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


@pytest.mark.asyncio
async def test_more_than_10_messages_per_second_disconnects(served) -> None:
    async with await WsClient.connect(served.ws_url + "/ws") as cl:
        for i in range(11):
            await cl.send({"method": "LIST_SUBSCRIPTIONS", "id": i})
        replies = []
        while (msg := await cl.recv_msg()).type is aiohttp.WSMsgType.TEXT:
            replies.append(msg.data)
        assert len(replies) == 10
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.POLICY_VIOLATION
    async with await WsClient.connect(served.ws_url + "/ws") as cl:
        for i in range(25):  # spread over simulated time, the same rate is fine
            served.clock.advance(150_000_000)
            assert (await cl.request({"method": "LIST_SUBSCRIPTIONS", "id": i}))["id"] == i


@pytest.mark.asyncio
async def test_slow_consumer_is_cut_off_without_stalling_others(served) -> None:
    hub = served.hub
    hub.max_queue_bytes = 256 * 1024
    async with (
        await WsClient.connect(served.ws_url + "/ws/btcusdt@trade") as slow,
        await WsClient.connect(served.ws_url + "/ws/btcusdt@trade") as fast,
    ):
        await asyncio.sleep(0.05)
        payload = b'{"e":"trade","pad":"' + b"x" * 20_000 + b'"}'
        received = 0

        async def read_fast() -> None:
            nonlocal received
            while received < 1500:
                msg = await fast.recv_msg()
                assert msg.type is aiohttp.WSMsgType.TEXT
                received += 1

        reader = asyncio.create_task(read_fast())
        sent = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while sent < 1500:  # 30 MB in bursts of 100 KB; the slow client never reads
            for _ in range(5):
                hub.publish("btcusdt@trade", payload)
            sent += 5
            await asyncio.sleep(0)  # one burst per loop iteration, as the engine produces them
            while received < sent - 10 and loop.time() < deadline:  # the fast client keeps up
                await asyncio.sleep(0.001)
        await asyncio.wait_for(reader, 20)
        assert received == 1500
        slow_sessions = [s for s in hub.sessions if s.streams and s.close_reason == "slow consumer"]
        assert not slow_sessions  # already removed from the hub ...
        msg = await slow.recv_msg(timeout=5)
        while msg.type is aiohttp.WSMsgType.TEXT:  # ... and its connection dropped after what was written
            msg = await slow.recv_msg(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        assert len(hub.sessions) == 1


@pytest.mark.asyncio
async def test_ws_disconnect_fault(served) -> None:
    faults = served.exchange.faults
    async with await WsClient.connect(served.ws_url + "/ws/btcusdt@depth") as cl:
        faults.add(kind="ws_disconnect", at_requests=[2])
        served.clock.advance(3_000_000_000)
        msg = await cl.recv_msg()
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    fired = faults.fired("ws_disconnect")
    assert len(fired) == 1 and fired[0].target == "ws:btcusdt@depth"


def test_manual_clock_advanced_from_another_thread() -> None:
    """A test thread drives the ManualClock of an EmulatorThread: due flushes run on the server loop."""
    import json

    from websockets.sync.client import connect

    from binfut.clock import ManualClock
    from binfut.emulator.server import EmulatorThread
    from integration.emulator_ws.ws_support import limit

    clock = ManualClock(1_700_000_000_000_000_000)
    with EmulatorThread(exchange=make_exchange(clock)) as emu, connect(emu.ws_url + "/ws/btcusdt@depth@100ms") as ws:
        emu.call(lambda: limit(emu.exchange, "mm", "BTCUSDT", "BUY", "49000", "0.010"))
        clock.advance(200_000_000)  # the window's flush comes due in this thread
        event = json.loads(ws.recv(timeout=5))
        assert event["e"] == "depthUpdate" and event["b"] == [["49000.00", "0.010"]] and event["E"] % 100 == 0
