"""LiveOrderBook against the local exchange: equal to the exchange's own book, and within the weight budget.

The exchange runs on a ManualClock without its synthetic market: the test makes every book change itself
(random limit / cancel / market orders), so after each diff window is flushed the local book must equal
``exchange.venue.depth(...)`` exactly -- through injected disconnects and depth gaps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from decimal import Decimal
from typing import Any

import pytest

from binfut.client import AsyncClient
from binfut.matching.instruments import default_specs
from binfut.protocol.request import PreparedRequest, RawResponse
from binfut.stream import LifecycleEvent, LifecycleKind, LiveOrderBook
from binfut.transport.aiohttp import AiohttpTransport
from integration.stream.stream_support import FAST, Driver, cancel, limit, make_exchange, manager, market, served, until

SYMBOLS = ("BTCUSDT", "ETHUSDT")
MIDS = {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0}
TICK = {"BTCUSDT": 0.1, "ETHUSDT": 0.01}


class Flow:
    """Seeded random order flow on one symbol, kept under the open-order limit."""

    def __init__(self, ex: Any, symbol: str, rng: random.Random) -> None:
        self.ex, self.symbol, self.rng = ex, symbol, rng
        self.open: list[int] = []

    def step(self) -> None:
        rng, mid, tick = self.rng, MIDS[self.symbol], TICK[self.symbol]
        for _ in range(3):
            roll = rng.random()
            if roll < 0.55 and len(self.open) < 150:
                side = rng.choice(("BUY", "SELL"))
                offset = rng.randint(1, 60) * tick
                price = mid - offset if side == "BUY" else mid + offset
                self.open.append(limit(self.ex, self.symbol, side, f"{price:.2f}", "0.100"))
            elif roll < 0.85 and self.open:
                cancel(self.ex, self.symbol, self.open.pop(rng.randrange(len(self.open))))
            else:
                market(self.ex, self.symbol, rng.choice(("BUY", "SELL")), "0.050")


def venue_levels(ex: Any, symbol: str) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    last, bids, asks = ex.venue.depth(symbol, 1000)
    return last, [(Decimal(p), Decimal(q)) for p, q in bids], [(Decimal(p), Decimal(q)) for p, q in asks]


@pytest.mark.asyncio
async def test_local_books_equal_the_exchange_after_every_resync_through_faults() -> None:
    ex = make_exchange(symbols=SYMBOLS)
    rng = random.Random(11)
    flows = [Flow(ex, s, rng) for s in SYMBOLS]
    for _ in range(20):
        for flow in flows:
            flow.step()
    # Deterministic trouble: every 37th depth event is skipped, the connection is dropped every 12 s.
    ex.faults.add(kind="depth_gap", every=37)
    ex.faults.add(kind="ws_disconnect", every=12, max_fires=3)
    driver = Driver(ex, step_ms=100)

    async with (
        served(ex) as running,
        manager(running, FAST) as streams,
        AsyncClient(env="local", base_url=running.rest_url, clock=ex.clock, environ={}) as client,
    ):
        life: list[LifecycleEvent] = []
        streams.on_lifecycle(life.append)
        book = LiveOrderBook(streams, client, SYMBOLS, speed="100ms")
        await book.start()

        compared = {s: 0 for s in SYMBOLS}
        unverified: dict[str, bool] = {s: False for s in SYMBOLS}  # a resync not yet checked against the venue
        verified = 0
        seen = 0

        def check() -> None:
            nonlocal verified, seen
            for event in life[seen:]:
                if event.kind is LifecycleKind.RESYNCED:
                    unverified[event.symbol] = True
            seen = len(life)
            for symbol in SYMBOLS:
                last, bids, asks = venue_levels(ex, symbol)
                if not book.is_live(symbol) or book.update_id(symbol) != last:
                    continue  # the book is resyncing, or the last window is still on the wire
                local = book.book(symbol)
                assert [tuple(lv) for lv in local.top("bid", 10_000)] == bids, symbol
                assert [tuple(lv) for lv in local.top("ask", 10_000)] == asks, symbol
                compared[symbol] += 1
                if unverified[symbol]:
                    unverified[symbol] = False
                    verified += 1

        def caught_up(symbol: str, last: int) -> bool:
            return book.update_id(symbol) == last or not book.is_live(symbol)

        async def run(steps: int, trade: bool = True) -> None:
            for _ in range(steps):
                if trade:
                    for flow in flows:
                        flow.step()
                fired = len(ex.faults.log)
                await driver.step(pause=0.0)
                if len(ex.faults.log) == fired:  # no event was skipped: the book must catch up
                    lasts = {s: ex.venue.depth(s, 1)[0] for s in SYMBOLS}
                    await until(lambda lasts=lasts: all(caught_up(s, lasts[s]) for s in SYMBOLS))
                check()

        await run(400)  # 40 simulated seconds of trouble
        ex.faults.clear()
        await run(30)  # a skipped last event shows as a gap only when the next one comes
        await run(3, trade=False)
        assert all(book.is_live(s) and book.update_id(s) == ex.venue.depth(s, 1)[0] for s in SYMBOLS)

    stats = book.stats()
    kinds = [e.kind for e in life]
    assert ex.faults.fired("depth_gap") and len(ex.faults.fired("ws_disconnect")) == 3
    assert kinds.count(LifecycleKind.RECONNECTED) == 3
    assert stats.gaps >= 10 and stats.resyncs == kinds.count(LifecycleKind.RESYNCED) >= stats.gaps
    assert kinds.count(LifecycleKind.GAP) == stats.gaps
    assert verified == stats.resyncs, "every resync was followed by an exact comparison with the exchange"
    assert min(compared.values()) > 100


class CountingTransport:
    """The client's transport, recording every answer's status and X-MBX-USED-WEIGHT-1M."""

    def __init__(self, clock: Any) -> None:
        self.inner = AiohttpTransport()
        self.clock = clock
        self.log: list[tuple[int, str, int, int]] = []  # (sent at ms, endpoint, status, used weight)

    async def handle(self, request: PreparedRequest) -> RawResponse:
        sent = self.clock.time_ms()
        response = await self.inner.handle(request)
        used = int(response.headers.get("x-mbx-used-weight-1m", "-1"))
        self.log.append((sent, request.endpoint.name, response.status, used))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.asyncio
async def test_two_hundred_symbols_resyncing_at_once_stay_within_the_request_weight() -> None:
    btc = default_specs()["BTCUSDT"]
    names = tuple(f"S{i:03d}USDT" for i in range(200))
    specs = {n: dataclasses.replace(btc, symbol=n, base_asset=n[:-4]) for n in names}
    ex = make_exchange(symbols=names, specs=specs)
    for name in names:
        limit(ex, name, "BUY", "49999.0", "0.010")
        limit(ex, name, "SELL", "50001.0", "0.010")
    driver = Driver(ex, step_ms=1_000)
    transport = CountingTransport(ex.clock)

    async with (
        served(ex) as running,
        manager(running, FAST) as streams,
        AsyncClient(env="local", base_url=running.rest_url, clock=ex.clock, environ={}, transport=transport) as client,
    ):
        book = LiveOrderBook(streams, client, names, speed="100ms")
        await book.start()
        await driver.drive(streams.wait_ready())

        for i, name in enumerate(names):  # every book changes at once: 200 symbols need a snapshot
            limit(ex, name, "BUY", f"{49_990 - i % 7}.0", "0.020")
        await driver.step(100)
        await until(lambda: book.stats().snapshots >= 100)
        await asyncio.sleep(0.2)  # nothing more may go out in this window
        first_window = book.stats().snapshots
        await driver.until(lambda: all(book.is_live(n) for n in names), timeout=30)

    depth = [entry for entry in transport.log if entry[1] == "depth"]
    assert len(depth) == book.stats().snapshots == 200
    assert all(status == 200 for _, _, status, _ in transport.log), "no 429 / 418"
    limit_1m = ex.config.weight_limit_1m
    # The snapshots used at most 90 % of the limit; the rest (here: the WebSocket handshakes) had room.
    assert max(used for *_, used in transport.log) <= limit_1m
    assert first_window == (limit_1m - limit_1m // 10) // 20  # 108: as many as the budget allows, no more
    windows: dict[int, int] = {}
    for sent, _, _, _ in depth:
        windows[sent // 60_000] = windows.get(sent // 60_000, 0) + 20
    assert len(windows) == 2 and max(windows.values()) <= limit_1m * 0.9
    assert book.stats().gaps == 0 and book.stats().snapshot_failures == 0
