"""Warm-up against a local exchange with generated history (sped up 300x: a 1m bar every 0.2 s).

* Paper, the strategy's declared warm-up: the first order comes on the first live bar, not
  ``long_window`` live bars later; the bars seen are exactly the exchange's bars of that span (no gap,
  no repeat at the seam), and a backtest over them makes the same orders.
* Live, a warm-up longer than needed: the strategy asks for orders on historical bars and none
  reaches the exchange (its order list is the run's journal, every order placed after the last
  warm-up bar); the first live bar trades.
* Warm-up 0 keeps the cold start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest

from binfut.client import AsyncClient
from binfut.config import Urls
from binfut.emulator import EmulatorConfig, EmulatorThread
from binfut.matching import default_specs
from binfut.strategy import MACross, MACrossConfig, ma_cross_signals
from binfut.trading import BacktestConfig, BarFeed, run_backtest
from binfut.trading.live import LiveConfig, LiveRunner
from binfut.trading.paper import PaperConfig, PaperRunner
from binfut.trading.runner import RunSummary
from integration.trading.runner_support import exchange_feed, run_until_orders

D = Decimal
KEY, SECRET = "warmupKey00000001", "warmupSecret00000001"
BTC = default_specs()["BTCUSDT"]
MINUTE = 60_000
BOUND = 30.0


@pytest.fixture
def exchange() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(symbols=("BTCUSDT",), speed=300, seed=21, history_days=0.1, api_keys={KEY: SECRET})
    with EmulatorThread(config) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")


def ma_cross(long_window: int = 10) -> MACross:
    return MACross(MACrossConfig(short_window=3, long_window=long_window, quantity=D("0.01")))


async def exchange_bars(emu: EmulatorThread, summary: RunSummary) -> BarFeed:
    """The exchange's klines over the span of the bars the run saw."""
    return await exchange_feed(emu.rest_url, emu.running.exchange.clock, summary, with_mark=False, with_funding=False)


def assert_one_series(summary: RunSummary, feed: BarFeed) -> None:
    """Warm-up then live bars: every exchange bar of the span once, in order (no gap or repeat at the seam)."""
    bars = summary.bar_open_times
    assert summary.warmup is not None and summary.bars == len(bars)
    assert list(feed.open_ms) == bars and len(set(bars)) == len(bars)
    assert summary.warmup.last_open_ms == bars[summary.warmup.bars - 1]
    assert summary.warmup.cutoff_ms is not None and bars[summary.warmup.bars - 1] + MINUTE <= summary.warmup.cutoff_ms


@pytest.mark.asyncio
async def test_paper_with_the_declared_warmup_trades_on_the_first_live_bar(exchange: EmulatorThread) -> None:
    strategy = ma_cross()
    runner = PaperRunner(strategy, clock=exchange.running.exchange.clock, urls=Urls.local(exchange.rest_url),
                         config=PaperConfig(seed=3))

    result = await run_until_orders(runner, 2)

    feed = await exchange_bars(exchange, result)
    assert result.warmup is not None and result.warmup.bars == result.warmup.requested == 9 == strategy.warmup_bars
    assert result.warmup.refused == 0 and result.warmup.requests == 2  # server time + one klines page
    assert_one_series(result, feed)
    first_live = result.bar_open_times[9]
    signals = ma_cross_signals(feed.close, 3, 10)
    assert signals[9] != 0 and not signals[:9].any()
    assert result.orders[0].bar_time_ms == first_live + MINUTE  # the first live bar: no wait for long_window bars
    # the run is a backtest over every bar it saw, warm-up included
    backtest = run_backtest(ma_cross(), feed, BacktestConfig(engine="events"))
    assert [(o.bar_time_ms, o.side, o.quantity) for o in result.orders] == [(f.time_ms, f.side, f.qty) for f in backtest.fills]


@pytest.mark.asyncio
async def test_live_warmup_sends_nothing_for_historical_bars_and_trades_on_the_first_live_bar(exchange: EmulatorThread) -> None:
    async with AsyncClient(KEY, SECRET, env="local", base_url=exchange.rest_url, clock=exchange.running.exchange.clock) as client:
        runner = LiveRunner(ma_cross(), client, config=LiveConfig(seed=1, warmup_bars=60, cancel_on_stop=True,
                                                                  flatten_on_stop=True))

        result = await run_until_orders(runner, 1)

        async with asyncio.timeout(BOUND):
            placed = await client.all_orders(symbol="BTCUSDT")
        feed = await exchange_bars(exchange, result)

    assert result.warmup is not None and result.warmup.bars == 60 and result.warmup.refused > 0  # it asked, nothing went out
    assert_one_series(result, feed)
    first_decision = result.bar_open_times[60] + MINUTE
    assert result.orders[0].bar_time_ms == first_decision and result.orders[0].status == "FILLED"
    assert ma_cross_signals(feed.close, 3, 10)[9:60].any()  # the history had signals to act on
    # the exchange saw exactly the journal: the run's orders (and its flatten on stop), all after the warm-up
    assert sorted(o.client_order_id for o in placed) == sorted(o.client_order_id for o in result.orders)
    times = [o.time_ms for o in placed]
    assert None not in times and min(t or 0 for t in times) >= first_decision
    assert result.positions == {} and len(result.fills) == len(result.orders)


@pytest.mark.asyncio
async def test_warmup_zero_starts_cold(exchange: EmulatorThread) -> None:
    runner = PaperRunner(ma_cross(long_window=4), clock=exchange.running.exchange.clock, urls=Urls.local(exchange.rest_url),
                         config=PaperConfig(seed=3, warmup_bars=0))

    result = await run_until_orders(runner, 1)

    assert result.warmup is None and runner.status() is not None and runner.status().warmup_bars == 0  # type: ignore[union-attr]
    assert len(result.bar_open_times) >= 4 and (result.orders[0].bar_time_ms or 0) >= result.bar_open_times[3] + MINUTE
