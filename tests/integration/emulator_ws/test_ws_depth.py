"""Diff depth: U / u / pu continuity per stream, and a local book kept by Binance's procedure."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from integration.emulator_ws.ws_support import LocalBook, RandomFlow, WsClient, limit

CADENCE = {"btcusdt@depth": 250, "btcusdt@depth@100ms": 100, "btcusdt@depth@500ms": 500, "btcusdt@depth@0ms": 0}


async def snapshot(served: Any, symbol: str = "BTCUSDT") -> dict[str, Any]:
    """The REST depth snapshot (limit=1000) the procedure starts from."""
    return await served.snapshot(symbol)


def seed_book(ex: Any) -> None:
    for i in range(30):
        limit(ex, "mm", "BTCUSDT", "BUY", f"{49_999 - i * 0.5:.1f}", "0.005")
        limit(ex, "mm", "BTCUSDT", "SELL", f"{50_001 + i * 0.5:.1f}", "0.005")


def venue_book(ex: Any) -> tuple[int, dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    last, bids, asks = ex.venue.depth("BTCUSDT", 1000)
    return last, dict(bids), dict(asks)


class Tracker:
    """Checks one stream's pu chain and feeds a LocalBook (resyncing from a snapshot on gaps)."""

    def __init__(self, served: Any, name: str) -> None:
        self.served = served
        self.name = name
        self.book = LocalBook()
        self.buffer: list[dict[str, Any]] = []
        self.prev_u: int | None = None
        self.chain_breaks = 0
        self.events = 0
        self.last_u = 0

    def check_chain(self, ev: dict[str, Any]) -> None:
        assert ev["U"] <= ev["u"]
        if self.prev_u is not None:
            assert ev["U"] > self.prev_u or ev["pu"] != self.prev_u
            if ev["pu"] != self.prev_u:
                self.chain_breaks += 1
        cadence = CADENCE[self.name]
        if cadence:
            assert ev["E"] % cadence == 0, "a cadence stream pushes at the end of its window"
        assert ev["T"] <= ev["E"]
        self.prev_u = ev["u"]
        self.last_u = ev["u"]
        self.events += 1

    async def feed(self, ev: dict[str, Any]) -> None:
        self.check_chain(ev)
        if not self.book.synced and self.book.last_update_id == 0:
            self.buffer.append(ev)  # step 2: buffer until the snapshot arrives
            return
        if not self.book.apply(ev):
            # step 6: a gap; get a new snapshot and start over with the event that revealed it
            self.book.load_snapshot(await snapshot(self.served))
            assert self.book.apply(ev)

    async def start(self) -> None:
        self.book.load_snapshot(await snapshot(self.served))
        for ev in self.buffer:
            assert self.book.apply(ev)
        self.buffer.clear()


async def drain(cl: WsClient, trackers: dict[str, Tracker], target_u: int) -> None:
    """Read until every stream delivered the event holding ``target_u``."""
    while any(t.last_u < target_u for t in trackers.values()):
        frame = await cl.recv()
        await trackers[frame["stream"]].feed(frame["data"])


async def run_flow(
    served: Any, streams: list[str], *, seed: int, checkpoints: int = 4, steps: int = 50
) -> dict[str, Tracker]:
    ex, clock = served.exchange, served.clock
    seed_book(ex)
    rng = random.Random(seed)
    flow = RandomFlow(ex, rng)
    trackers = {name: Tracker(served, name) for name in streams}
    async with await WsClient.connect(f"{served.ws_url}/stream?streams={'/'.join(streams)}") as cl:
        for checkpoint in range(checkpoints):
            for _ in range(steps):
                flow.step()
                clock.advance(rng.randint(1, 150) * 1_000_000)
                if checkpoint == 0 and _ == steps // 2:
                    # Events are already buffered when the snapshot is taken (steps 1-3).
                    for t in trackers.values():
                        while True:
                            frames = await cl.quiet(0.02)
                            for frame in frames:
                                await trackers[frame["stream"]].feed(frame["data"])
                            if not frames:
                                break
                        await t.start()
            clock.advance(1_000_000_000)  # every window closes
            last, bids, asks = venue_book(ex)
            await drain(cl, trackers, last)
            for t in trackers.values():
                assert t.book.synced
                assert t.book.bids == bids, f"{t.name}: bids differ at checkpoint {checkpoint}"
                assert t.book.asks == asks, f"{t.name}: asks differ at checkpoint {checkpoint}"
    return trackers


@pytest.mark.asyncio
async def test_pu_chain_and_local_book_on_three_cadences(served) -> None:
    streams = ["btcusdt@depth", "btcusdt@depth@100ms", "btcusdt@depth@0ms", "btcusdt@depth@500ms"]
    trackers = await run_flow(served, streams, seed=11)
    for t in trackers.values():
        assert t.chain_breaks == 0, t.name
        assert t.book.gaps == 0
    # Faster cadences aggregate less: more events on @0ms than on @100ms than on @500ms.
    assert (
        trackers["btcusdt@depth@0ms"].events
        > trackers["btcusdt@depth@100ms"].events
        > trackers["btcusdt@depth@500ms"].events
    )


@pytest.mark.asyncio
async def test_pu_gap_fault_then_resync(served) -> None:
    faults = served.exchange.faults
    faults.add(kind="depth_gap", at_requests=[40, 80], endpoints=["btcusdt@depth@100ms"])
    trackers = await run_flow(served, ["btcusdt@depth@100ms", "btcusdt@depth"], seed=23, checkpoints=3)
    gapped = trackers["btcusdt@depth@100ms"]
    assert gapped.chain_breaks == 2 and gapped.book.gaps == 2  # detected by pu != previous u, then resynced
    assert trackers["btcusdt@depth"].chain_breaks == 0
    logged = faults.fired("depth_gap")
    assert [r.target for r in logged] == ["btcusdt@depth@100ms", "btcusdt@depth@100ms"]


@pytest.mark.asyncio
async def test_snapshot_last_update_id_is_inside_one_event(served) -> None:
    ex, clock = served.exchange, served.clock
    seed_book(ex)
    async with await WsClient.connect(f"{served.ws_url}/ws/btcusdt@depth@100ms") as cl:
        limit(ex, "mm", "BTCUSDT", "BUY", "49900.0", "0.010")
        snap = await snapshot(served)
        limit(ex, "mm", "BTCUSDT", "BUY", "49901.0", "0.010")
        clock.advance(200_000_000)
        ev = await cl.recv()
        assert ev["U"] <= snap["lastUpdateId"] <= ev["u"]
        assert ["49900.00", "0.010"] in ev["b"] and ["49901.00", "0.010"] in ev["b"]


@pytest.mark.asyncio
async def test_cadence_windows_on_an_accelerated_clock() -> None:
    """On a ScaledClock the windows run on loop timers: the chain and the book still hold."""
    import asyncio

    from binfut.clock import ScaledClock
    from binfut.emulator.server import start_emulator
    from integration.emulator_ws.conftest import make_exchange

    exchange = make_exchange(ScaledClock(speed=20.0))
    seed_book(exchange)
    flow = RandomFlow(exchange, random.Random(3))
    async with (
        start_emulator(exchange=exchange) as running,
        await WsClient.connect(running.ws_url + "/ws/btcusdt@depth@100ms") as cl,
    ):
        events = []
        for _ in range(40):
            flow.step()
            await asyncio.sleep(0.002)
        last = exchange.venue.depth("BTCUSDT", 1)[0]
        while not events or events[-1]["u"] < last:
            events.append(await cl.recv())
        for prev, ev in zip(events, events[1:], strict=False):
            assert ev["pu"] == prev["u"] and ev["U"] > prev["u"]
        assert len(events) < 40  # windows aggregate several commands
