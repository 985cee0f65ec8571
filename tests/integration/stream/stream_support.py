"""Helpers of the stream tests: a local exchange on a ManualClock, a driver that moves its time, bounded waits.

No conftest here on purpose (the user-stream tests share the folder): test modules import what they use.
Every wait is bounded by a real-time timeout; time on the exchange moves only through :class:`Driver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web

from binfut.clock import ManualClock
from binfut.config import Urls
from binfut.emulator import EmulatorConfig, LocalExchange, RunningEmulator, build_exchange, start_emulator
from binfut.matching import CancelOrder, NewOrder
from binfut.stream import LifecycleEvent, StreamConfig, StreamManager

T = TypeVar("T")

START_NS = 1_700_000_000_000_000_000
TIMEOUT = 10.0

#: Test settings: quick backoff, no rotation unless a test asks, the watchdog far away (ManualClock jumps).
FAST = StreamConfig(
    watchdog_s=3_600.0,
    backoff_base_s=0.05,
    backoff_cap_s=0.5,
    max_age_s=None,
    connect_timeout_s=5.0,
    reply_timeout_s=5.0,
    close_timeout_s=1.0,
)


def make_exchange(
    *, simulate: bool = False, symbols: tuple[str, ...] = ("BTCUSDT",), seed: int = 5, **config: Any
) -> LocalExchange:
    """A local exchange on a ManualClock; ``mm`` and ``taker`` are unlimited accounts the tests trade with."""
    clock = ManualClock(START_NS)
    specs = config.pop("specs", None)
    ex = build_exchange(
        EmulatorConfig(simulate=simulate, symbols=symbols, seed=seed, **config), clock=clock, specs=specs
    )
    ex.venue.open_account("mm", {"USDT": Decimal(10**9)}, unlimited=True, emit_events=False)
    ex.venue.open_account("taker", {"USDT": Decimal(10**9)}, unlimited=True, emit_events=False)
    ex.advance(clock.time_ms())
    return ex


@contextlib.asynccontextmanager
async def served(ex: LocalExchange) -> AsyncIterator[RunningEmulator]:
    async with start_emulator(exchange=ex) as running:
        yield running


def manager(running: RunningEmulator, config: StreamConfig = FAST, **kwargs: Any) -> StreamManager:
    return StreamManager(
        Urls.local(running.rest_url), config=config, clock=running.exchange.clock, rng=random.Random(3), **kwargs
    )


def limit(ex: LocalExchange, symbol: str, side: str, price: str, qty: str) -> int:
    """A resting LIMIT order of ``mm``; returns its order id."""
    snap = ex.execute(
        "mm",
        NewOrder(
            symbol=symbol, side=side, type="LIMIT", quantity=Decimal(qty), price=Decimal(price), time_in_force="GTC"
        ),
    )
    return int(snap.order_id)


def market(ex: LocalExchange, symbol: str, side: str, qty: str) -> None:
    ex.execute("taker", NewOrder(symbol=symbol, side=side, type="MARKET", quantity=Decimal(qty)))


def cancel(ex: LocalExchange, symbol: str, order_id: int) -> None:
    with contextlib.suppress(Exception):  # already filled
        ex.execute("mm", CancelOrder(symbol=symbol, order_id=order_id))


def seed_book(ex: LocalExchange, symbol: str = "BTCUSDT", mid: int = 50_000, levels: int = 40) -> None:
    for i in range(levels):
        limit(ex, symbol, "BUY", f"{mid - 1 - i * 0.5:.1f}", "5.000")
        limit(ex, symbol, "SELL", f"{mid + 1 + i * 0.5:.1f}", "5.000")


class Driver:
    """Moves the ManualClock of an exchange in small steps, running the exchange and yielding to the loop."""

    def __init__(self, ex: LocalExchange, step_ms: int = 50) -> None:
        self.ex = ex
        self.clock: ManualClock = ex.clock  # type: ignore[assignment]
        self.step_ms = step_ms

    def now_ms(self) -> int:
        return self.clock.time_ms()

    async def step(self, ms: int | None = None, pause: float = 0.002) -> None:
        self.clock.advance((ms if ms is not None else self.step_ms) * 1_000_000)
        self.ex.advance(self.clock.time_ms())
        await asyncio.sleep(pause)

    async def run(self, ms: int, *, each: Callable[[], None] | None = None, pause: float = 0.002) -> None:
        end = self.now_ms() + ms
        while self.now_ms() < end:
            if each is not None:
                each()
            await self.step(min(self.step_ms, end - self.now_ms()), pause)

    async def until(
        self, predicate: Callable[[], bool], *, timeout: float = TIMEOUT, each: Callable[[], None] | None = None
    ) -> None:
        """Step time until ``predicate()`` holds (real-time ``timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError("condition not reached in time")
            if each is not None:
                each()
            await self.step()

    async def drive(self, coro: Awaitable[T], *, timeout: float = TIMEOUT) -> T:
        """Await ``coro`` while stepping time (a paced control request waits on the clock)."""
        task = asyncio.ensure_future(coro)
        try:
            await self.until(task.done, timeout=timeout)
        finally:
            if not task.done():
                task.cancel()
        return task.result()


async def until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait in real time until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached in time")
        await asyncio.sleep(0.005)


def kinds(events: list[LifecycleEvent]) -> list[str]:
    return [e.kind.value for e in events]


@contextlib.asynccontextmanager
async def fake_server(
    handler: Callable[[web.Request], Any], paths: tuple[str, ...] = ("/market/stream", "/public/stream")
) -> AsyncIterator[str]:
    """A small aiohttp server answering ``paths`` with ``handler``; yields its ``http://`` base URL."""
    app = web.Application()
    for path in paths:
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await asyncio.wait_for(runner.cleanup(), TIMEOUT)


def drain(consumer: object) -> list[Any]:
    """Every message a consumer (``streams.events()``) holds right now, without waiting."""
    out = []
    while (message := consumer.get_nowait()) is not None:  # type: ignore[attr-defined]
        out.append(message)
    return out
