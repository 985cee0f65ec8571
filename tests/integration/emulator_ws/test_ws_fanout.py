"""Fan-out: one encoding per event shared by every subscriber, and the frame rate of the server."""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec
import pytest

import binfut.emulator.ws.depth as depth_module
import binfut.emulator.ws.hub as hub_module
from integration.emulator_ws.ws_support import WsClient, limit


@pytest.mark.asyncio
async def test_each_event_is_encoded_once_and_framed_once_per_form(served, monkeypatch) -> None:
    encodes: list[bytes] = []
    frames: list[bytes] = []

    def counting_encode(obj):
        out = msgspec.json.encode(obj)
        encodes.append(out)
        return out

    def counting_frame(payload: bytes) -> bytes:
        frames.append(payload)
        return real_frame(payload)

    real_frame = hub_module.text_frame
    monkeypatch.setattr(depth_module, "encode", counting_encode)
    monkeypatch.setattr(hub_module, "text_frame", counting_frame)
    raw_url = served.ws_url + "/ws/btcusdt@depth@0ms"
    combined_url = served.ws_url + "/stream?streams=btcusdt@depth@0ms"
    async with (
        await WsClient.connect(raw_url) as a,
        await WsClient.connect(raw_url) as b,
        await WsClient.connect(combined_url) as c,
    ):
        limit(served.exchange, "mm", "BTCUSDT", "BUY", "49000", "0.010")
        got_a, got_b, got_c = await a.recv_msg(), await b.recv_msg(), await c.recv_msg()
        assert len(encodes) == 1 and len(frames) == 2  # one payload; one raw and one combined frame
        assert got_a.data == got_b.data == encodes[0].decode()
        assert msgspec.json.decode(got_c.data)["data"] == msgspec.json.decode(encodes[0])


@pytest.mark.asyncio
async def test_server_emits_tens_of_thousands_of_frames_per_second(served) -> None:
    hub = served.hub
    total, burst = 60_000, 1_000
    payload = b'{"e":"trade","E":1700000000000,"T":1700000000000,"s":"BTCUSDT","t":1,"p":"50000.00","q":"0.010","X":"MARKET","m":false}'
    decode = msgspec.json.Decoder().decode
    async with await WsClient.connect(served.ws_url + "/ws/btcusdt@trade", max_msg_size=1 << 20) as cl:
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        received = 0

        async def read() -> None:
            nonlocal received
            ws = cl.ws
            while received < total:
                msg = await ws.receive()
                assert msg.type is aiohttp.WSMsgType.TEXT
                decode(msg.data)
                received += 1

        started = loop.time()
        reader = asyncio.create_task(read())
        sent = 0
        while sent < total:
            for _ in range(burst):
                hub.publish("btcusdt@trade", payload)
            sent += burst
            await asyncio.sleep(0)
            while sent - received > 20 * burst:  # stay well inside the backlog limit
                await asyncio.sleep(0.001)
        await asyncio.wait_for(reader, 30)
        rate = total / (loop.time() - started)
        print(f"\nfan-out: {rate:,.0f} frames/s decoded by one aiohttp client in the same process")
        # Server and client share one core here; the server alone is several times faster.
        assert rate > 15_000
