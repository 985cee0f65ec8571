"""A stopped local exchange is garbage once its owner lets go: nothing global keeps it alive.

aiohttp memoises each route's middleware chain in a process-wide ``lru_cache`` keyed on the handler
and the application (``aiohttp.web_app._cached_build_middleware``), so the application of every
server that answered a request outlives the server. The emulator's application must therefore
reach its :class:`LocalExchange` (engine, accounts, market data, history) only through state it
drops on cleanup.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import urllib.error
import urllib.request
import weakref

import aiohttp
import pytest

from binfut.emulator import EmulatorConfig, EmulatorThread, LocalExchange, start_emulator
from binfut.emulator.app import EXCHANGE_KEY
from binfut.emulator.ws import WS_HUB_KEY
from integration.emulator.support import make_key

KEY = make_key("HMAC", 21)
TIMEOUT = aiohttp.ClientTimeout(total=10)


def config() -> EmulatorConfig:
    return EmulatorConfig(api_keys={KEY.api_key: KEY.material}, seed=3, speed=20.0, port=0)


async def exercise(rest_url: str, ws_url: str) -> None:
    """REST (public, signed, unknown path), a market stream and the WebSocket API: every route kind."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        for path in ("/fapi/v1/ping", "/fapi/v1/depth?symbol=BTCUSDT&limit=5", "/fapi/v1/nothing-here"):
            async with http.get(rest_url + path) as resp:
                await resp.read()
        async with http.get(rest_url + "/fapi/v1/time") as resp:
            now = (await resp.json())["serverTime"]
        query = f"timestamp={now}"
        signature = hmac.new(KEY.material.encode(), query.encode(), hashlib.sha256).hexdigest()
        headers = {"X-MBX-APIKEY": KEY.api_key}
        async with http.get(f"{rest_url}/fapi/v3/balance?{query}&signature={signature}", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
        async with http.ws_connect(ws_url + "/ws/btcusdt@aggTrade") as ws:
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
            reply = await ws.receive_json(timeout=10)
            while "id" not in reply:  # an aggregate trade of the simulated market may come first
                reply = await ws.receive_json(timeout=10)
            assert reply == {"result": ["btcusdt@aggTrade"], "id": 1}
        async with http.ws_connect(ws_url + "/ws-fapi/v1") as ws:
            await ws.send_json({"id": "d", "method": "depth", "params": {"symbol": "BTCUSDT", "limit": 5}})
            assert (await ws.receive_json(timeout=10))["status"] == 200


def collected(ref: weakref.ref[LocalExchange]) -> bool:
    for _ in range(3):
        gc.collect()
    return ref() is None


@pytest.mark.asyncio
async def test_a_stopped_start_emulator_releases_its_exchange() -> None:
    async with start_emulator(config()) as emu:
        await exercise(emu.rest_url, emu.ws_url)
        ref = weakref.ref(emu.exchange)
    url = emu.rest_url
    del emu
    await asyncio.sleep(0)  # let the closed connections' callbacks run
    assert collected(ref), "a stopped emulator's LocalExchange is still reachable"
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.get(url + "/fapi/v1/ping") as resp:
            await resp.read()


def test_a_stopped_emulator_thread_releases_its_exchange() -> None:
    with EmulatorThread(config()) as emu:
        asyncio.run(exercise(emu.rest_url, emu.ws_url))
        ref = weakref.ref(emu.exchange)
    url = emu.rest_url
    del emu
    assert collected(ref), "a stopped EmulatorThread's LocalExchange is still reachable"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/fapi/v1/ping", timeout=5)


@pytest.mark.asyncio
async def test_a_stopped_emulator_keeps_its_exchange_for_its_owner_only() -> None:
    """The caller's object still reads the final state; the stopped application holds none of it."""
    async with start_emulator(config()) as emu:
        await exercise(emu.rest_url, emu.ws_url)
        assert emu.runner.app[EXCHANGE_KEY] is emu.exchange and WS_HUB_KEY in emu.runner.app
    assert EXCHANGE_KEY not in emu.runner.app and WS_HUB_KEY not in emu.runner.app
    account = emu.exchange.accounts.by_api_key(KEY.api_key)
    assert account is not None and emu.exchange.server_time_ms() > 0
