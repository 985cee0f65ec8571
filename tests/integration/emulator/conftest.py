"""Fixtures of the REST-side local-exchange tests: a real server on 127.0.0.1 driven by a ManualClock.

``served`` runs the synthetic market for one simulated minute before serving, so books, trades,
klines and marks exist; time then moves only when a test calls ``served.run(ms)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from binfut.clock import ManualClock
from binfut.emulator import EmulatorConfig, LocalExchange, build_exchange, start_emulator
from integration.emulator.support import START_NS, Api, TestKey, make_key

_KEYS: dict[str, TestKey] = {}


def key(kind: str) -> TestKey:
    """One key per type for the whole run (RSA generation is slow)."""
    if kind not in _KEYS:
        _KEYS[kind] = make_key(kind, {"HMAC": 1, "RSA": 2, "ED25519": 3}[kind])
    return _KEYS[kind]


def make_exchange(*, warmup_ms: int = 60_000, **overrides: Any) -> LocalExchange:
    keys = {k.api_key: k.material for k in (key("HMAC"), key("RSA"), key("ED25519"))}
    config = EmulatorConfig(api_keys=keys, seed=overrides.pop("seed", 11), **overrides)
    ex = build_exchange(config, clock=ManualClock(START_NS))
    ex.advance(ex.clock.time_ms())
    if warmup_ms and ex.simulator is not None:
        ex.run_for(warmup_ms)
    return ex


@dataclass
class Served:
    exchange: LocalExchange
    rest_url: str
    http: aiohttp.ClientSession
    api: Api

    def run(self, ms: int) -> None:
        """Advance simulated time (the market moves, timers fire)."""
        self.exchange.run_for(ms)

    def with_key(self, kind: str) -> Api:
        return Api(self.rest_url, self.http, key(kind), self.exchange.server_time_ms)


async def serve(ex: LocalExchange) -> AsyncIterator[Served]:
    async with start_emulator(exchange=ex) as running, aiohttp.ClientSession() as http:
        yield Served(ex, running.rest_url, http, Api(running.rest_url, http, key("HMAC"), ex.server_time_ms))


@pytest.fixture
def exchange() -> LocalExchange:
    return make_exchange()


@pytest_asyncio.fixture
async def served(exchange: LocalExchange) -> AsyncIterator[Served]:
    async for s in serve(exchange):
        yield s
