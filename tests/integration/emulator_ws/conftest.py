"""Fixtures of the WebSocket-side tests: a real local exchange on a ManualClock, served on 127.0.0.1:0.

The exchange runs without the market simulator, so every book change comes from the test: ``mm``
and ``taker`` are unlimited engine accounts driven directly, ``HMAC_KEY`` / ``ED_KEY`` are API keys
for REST and WebSocket-API calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from binfut.clock import ManualClock
from binfut.emulator.config import EmulatorConfig
from binfut.emulator.exchange import LocalExchange, build_exchange
from binfut.emulator.server import start_emulator
from binfut.emulator.ws import WS_HUB_KEY, StreamHub
from integration.emulator_ws.ws_support import HMAC_KEY, HMAC_SECRET, ed25519_key

START_NS = 1_700_000_000_000_000_000


@dataclass
class Served:
    exchange: LocalExchange
    hub: StreamHub
    rest_url: str
    ws_url: str
    clock: Any
    http: aiohttp.ClientSession

    async def snapshot(self, symbol: str = "BTCUSDT", limit: int = 1000) -> dict[str, Any]:
        """``GET /fapi/v1/depth`` over HTTP (the REST snapshot of the local-book procedure)."""
        url = f"{self.rest_url}/fapi/v1/depth?symbol={symbol}&limit={limit}"
        async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            body = await resp.read()
            assert resp.status == 200, body
            return msgspec.json.decode(body)


def make_exchange(clock: Any) -> LocalExchange:
    ed = ed25519_key()
    config = EmulatorConfig(
        simulate=False,
        symbols=("BTCUSDT", "ETHUSDT"),
        api_keys={HMAC_KEY: HMAC_SECRET, ed.api_key: ed.server_material},
    )
    ex = build_exchange(config, clock=clock)
    ex.venue.open_account("mm", {"USDT": Decimal(10_000_000)}, unlimited=True)
    ex.venue.open_account("taker", {"USDT": Decimal(10_000_000)}, unlimited=True)
    return ex


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_NS)


@pytest.fixture
def exchange(clock: ManualClock) -> LocalExchange:
    return make_exchange(clock)


@pytest_asyncio.fixture
async def served(exchange: LocalExchange) -> AsyncIterator[Served]:
    async with start_emulator(exchange=exchange) as running, aiohttp.ClientSession() as http:
        hub = running.runner.app[WS_HUB_KEY]
        yield Served(exchange, hub, running.rest_url, running.ws_url, exchange.clock, http)
