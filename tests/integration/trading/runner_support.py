"""Shared by the paper and live runner tests: run a runner until its status says enough happened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from binfut.client import Client
from binfut.matching import default_specs
from binfut.protocol import events as ev
from binfut.trading.feed import BarFeed, fetch_feed
from binfut.trading.runner import RunnerStatus, RunSummary

BOUND = 30.0  # real seconds any run may take before the test fails


async def run_until(runner: Any, done: Callable[[RunnerStatus], bool], duration_s: float = 20.0) -> RunSummary:
    """Run ``runner`` (paper or live) until ``done(status)`` (then stop at the next message) or ``duration_s``."""
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            status = runner.status()
            if status is not None and done(status):
                stop.set()
            await asyncio.sleep(0.02)

    watcher = asyncio.ensure_future(watch())
    try:
        summary: RunSummary = await asyncio.wait_for(runner.run(duration_s=duration_s, stop=stop), BOUND)
        return summary
    finally:
        stop.set()
        await watcher


async def run_until_orders(runner: Any, n: int, duration_s: float = 20.0) -> RunSummary:
    """Run ``runner`` until ``n`` orders were sent (a loaded machine makes fewer bars per second: count, don't time)."""
    return await run_until(runner, lambda status: status.orders_sent >= n, duration_s)


async def exchange_feed(rest_url: str, clock: Any, summary: RunSummary, **kwargs: Any) -> BarFeed:
    """The exchange's BTCUSDT 1m klines (REST) over the span of the bars a run saw (``kwargs``: ``fetch_feed``'s)."""
    bars = summary.bar_open_times
    with Client(env="local", base_url=rest_url, clock=clock) as client:
        return await asyncio.wait_for(
            asyncio.to_thread(fetch_feed, client, "BTCUSDT", "1m", bars[0], bars[-1] + 60_000, default_specs()["BTCUSDT"],
                              **kwargs),
            BOUND,
        )


class SkipClosedBars:
    """Runner mixin: loses the closed klines of the 3rd and 4th bars, as a reconnect across two bar closes would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed_seen = 0
        self.dropped: list[int] = []

    def _post_market(self, message: Any) -> None:
        data = message.data
        if isinstance(data, ev.Kline) and data.kline.is_closed:
            self.closed_seen += 1
            if self.closed_seen in (3, 4):
                self.dropped.append(data.kline.start_time_ms)
                return
        super()._post_market(message)  # type: ignore[misc]
