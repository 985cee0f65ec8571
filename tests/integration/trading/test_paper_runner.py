"""Paper trading against the local exchange: the same strategy makes the backtest's orders.

* Replay (deterministic): klines served by a local exchange with generated history are backtested, and
  the same bars are fed as closed-kline stream messages through :class:`PaperRunner` on a ManualClock;
  the orders and fills are identical (MARKET orders at the close; LIMIT orders filled by the intrabar
  prints with ``bar_prints``), and the wallets differ by exactly the backtest's funding.
* Live streams: a PaperRunner subscribed to a sped-up local exchange's streams trades the MA crossover;
  a backtest over the REST klines of the very bars it saw sends the same orders.
* Funding derived from the mark-price stream, the kill switch, and the dashboard.
* Bars the kline stream skipped are read back over REST and replayed in order (a replay, with no
  REST to read from, records the gap and goes on).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from rich.console import Console

from binfut.client import Client
from binfut.clock import ManualClock
from binfut.config import Urls
from binfut.emulator import EmulatorConfig, EmulatorThread, start_emulator
from binfut.matching import default_specs
from binfut.protocol import events as ev
from binfut.protocol.events import StreamMessage
from binfut.strategy import Bar, Context, MACross, MACrossConfig, Strategy
from binfut.trading import BacktestConfig, BarFeed, BarGap, run_backtest
from binfut.trading.dashboard import run_live_with_dashboard, status_line
from binfut.trading.feed import fetch_feed
from binfut.trading.paper import PaperConfig, PaperRunner, bar_messages
from binfut.trading.risk import RiskConfig
from integration.trading.runner_support import SkipClosedBars, exchange_feed, run_until, run_until_orders

D = Decimal
BTC = default_specs()["BTCUSDT"]
START_MS = 1_700_006_400_000 + 60 * 60_000  # the history ends at 01:00 UTC: a funding settlement at 00:00 inside
BARS = 300
BOUND = 30.0


@pytest.fixture(scope="module")
def feeds() -> Iterator[tuple[BarFeed, BarFeed]]:
    """(klines + marks + funding, klines only) of the same bars, fetched over REST from a local exchange."""
    config = EmulatorConfig(symbols=("BTCUSDT",), simulate=False, history_days=0.25, seed=11, start_time_ms=START_MS)
    start = START_MS - BARS * 60_000
    with EmulatorThread(config) as emu, Client(env="local", base_url=emu.rest_url) as client:
        full = fetch_feed(client, "BTCUSDT", "1m", start, START_MS, BTC)
        bare = fetch_feed(client, "BTCUSDT", "1m", start, START_MS, BTC, with_mark=False, with_funding=False)
    yield full, bare


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")


def ma_cross() -> MACross:
    return MACross(MACrossConfig(short_window=5, long_window=15, quantity=D("0.05")))


class LimitScalper(Strategy):
    """Resting orders only: a bid 0.1 % under the close when flat, a reduce-only ask 0.15 % over entry when long."""

    name = "limit_scalper"
    symbols = ("BTCUSDT",)

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        if ctx.portfolio.open_orders("BTCUSDT"):
            return
        pos = ctx.portfolio.positions.get(("BTCUSDT", "BOTH"))
        if pos is None or not pos.amount:
            ctx.buy("BTCUSDT", D("0.02"), bar.close * D("0.999"))
        else:
            ctx.orders.limit("BTCUSDT", "SELL", pos.amount, pos.entry_price * D("1.0015"), reduce_only=True)


def paper(strategy: Strategy, feed: BarFeed, **config: Any) -> PaperRunner:
    clock = ManualClock(int(feed.open_ms[0]) * 1_000_000)
    return PaperRunner(strategy, clock=clock, config=PaperConfig(streams=("kline",), **config))


def fill_key(f: Any) -> tuple[Any, ...]:
    return (f.time_ms, f.side, f.qty, f.price, f.order_type, f.commission, f.realized_pnl, f.is_maker)


@pytest.mark.parametrize("engine", ["events", "vectorized"])
def test_paper_replay_of_the_local_exchanges_klines_makes_the_backtests_orders(feeds: tuple[BarFeed, BarFeed], engine: str) -> None:
    feed, _ = feeds
    backtest = run_backtest(ma_cross(), feed, BacktestConfig(engine=engine))

    result = paper(ma_cross(), feed).run_replay(bar_messages(feed))

    assert len(backtest.fills) >= 6 and backtest.funding != 0
    # one MARKET order per signal change, filled at once: orders map one to one onto the backtest's fills
    assert [(o.bar_time_ms, o.side, o.quantity, o.type) for o in result.orders] == [
        (f.time_ms, f.side, f.qty, f.order_type) for f in backtest.fills]
    assert all(o.status == "FILLED" for o in result.orders)
    assert [fill_key(f) for f in result.fills] == [fill_key(f) for f in backtest.fills]
    assert (result.fees, result.realized_pnl) == (backtest.fees, backtest.realized_pnl)
    # the replay carries no mark-price stream, hence no funding: the wallets differ by exactly that
    assert result.funding == 0 and result.final_wallet == backtest.final_wallet - backtest.funding
    assert result.bars == BARS and result.stop_reason == "end of data"


def test_resting_orders_fill_on_the_same_intrabar_prints_as_in_the_backtest(feeds: tuple[BarFeed, BarFeed]) -> None:
    _, feed = feeds  # no mark klines: the backtest's marks are its prints, as in a kline-only paper run
    backtest = run_backtest(LimitScalper(), feed, BacktestConfig(engine="events"))

    result = paper(LimitScalper(), feed, bar_prints=True).run_replay(bar_messages(feed))

    assert len(backtest.fills) >= 6 and {f.order_type for f in backtest.fills} == {"LIMIT"}
    assert [fill_key(f) for f in result.fills] == [fill_key(f) for f in backtest.fills]
    assert result.final_wallet == backtest.final_wallet


def mark_message(symbol: str, mark: str, time_ms: int, rate: str, next_funding_ms: int) -> StreamMessage:
    event = ev.MarkPriceUpdate(event_time_ms=time_ms, symbol=symbol, mark_price=D(mark), index_price=D(mark),
                               estimated_settle_price=D(mark), funding_rate=D(rate), next_funding_time_ms=next_funding_ms)
    return StreamMessage(stream=f"{symbol.lower()}@markPrice@1s", data=event)


class BuyOnce(Strategy):
    name = "buy_once"
    symbols = ("BTCUSDT",)

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        if ctx.position("BTCUSDT") == 0 and not ctx.orders.tracked:
            ctx.buy("BTCUSDT", D("0.1"))
            ctx.buy("BTCUSDT", D("0.1"), bar.close * D("0.97"))  # a resting bid well below


def test_funding_from_the_mark_stream_then_the_kill_switch_closes_everything(feeds: tuple[BarFeed, BarFeed]) -> None:
    feed = feeds[0].slice(0, 3)
    runner = PaperRunner(BuyOnce(), clock=ManualClock(int(feed.open_ms[0]) * 1_000_000), config=PaperConfig())
    t0 = int(feed.open_ms[0])
    settle = t0 + 5 * 60_000
    runner.start()
    runner.process(mark_message("BTCUSDT", "65000", t0 + 1000, "0.0001", settle))
    for message in bar_messages(feed):
        runner.process(message)
    assert runner.portfolio.position("BTCUSDT") == D("0.1") and len(runner.portfolio.orders) == 1

    runner.process(mark_message("BTCUSDT", "65100.5", settle - 1000, "0.0002", settle))  # the last announced rate
    runner.process(mark_message("BTCUSDT", "65200", settle + 1000, "0.0003", settle + 8 * 3_600_000))
    runner.kill("test kill")
    summary = runner.finish()

    assert [p.amount for p in runner.portfolio.funding_payments] == [-(D("0.1") * D("65200") * D("0.0002"))]
    assert summary.kill_reason == "test kill" and "kill switch" in (summary.stop_reason or "")
    assert summary.orders[-1].tag == "flatten" and summary.positions == {} and summary.open_orders == 0
    assert runner.venue.open_orders("paper") == [] and runner.venue.position_risk("paper") == []


def test_a_risk_limit_refuses_orders_in_paper_mode_as_in_the_backtest(feeds: tuple[BarFeed, BarFeed]) -> None:
    feed, _ = feeds
    risk = RiskConfig(max_position_notional=D("1000"))  # 0.05 BTC is ~3250 USDT

    result = PaperRunner(ma_cross(), clock=ManualClock(int(feed.open_ms[0]) * 1_000_000), risk=risk,
                         config=PaperConfig(streams=("kline",))).run_replay(bar_messages(feed))

    assert result.fills == [] and result.refusals and all(o.status == "REJECTED" for o in result.orders)
    assert "position notional" in result.refusals[0].reason


def test_a_replay_with_a_hole_records_the_gap_and_goes_on(feeds: tuple[BarFeed, BarFeed]) -> None:
    feed, _ = feeds
    messages = bar_messages(feed)
    hole = [m.data.kline.start_time_ms for m in messages[10:13]]  # type: ignore[union-attr]

    result = paper(ma_cross(), feed).run_replay(messages[:10] + messages[13:])

    assert result.gaps == [BarGap(symbol="BTCUSDT", first_open_ms=hole[0], next_open_ms=hole[-1] + 60_000, filled=0,
                                  error="RuntimeError: bars are read back only while the runner's processing loop runs")]
    assert result.bars == BARS - 3 and not set(hole) & set(result.bar_open_times)


class SkippingPaperRunner(SkipClosedBars, PaperRunner):
    """A paper runner whose kline stream loses two bars."""


@pytest.mark.asyncio
async def test_bars_the_stream_skipped_are_read_back_over_rest_and_replayed_in_order() -> None:
    config = EmulatorConfig(symbols=("BTCUSDT",), speed=300, seed=9)
    strategy = MACross(MACrossConfig(short_window=2, long_window=3, quantity=D("0.01")))
    async with start_emulator(config) as emu:
        clock = emu.exchange.clock
        runner = SkippingPaperRunner(strategy, clock=clock, urls=Urls.local(emu.rest_url),
                                     config=PaperConfig(seed=3, warmup_bars=0))
        result = await run_until(runner, lambda status: status.bars >= 8)
        feed = await exchange_feed(emu.rest_url, clock, result)
    bars = result.bar_open_times
    backtest = run_backtest(MACross(msgspec.structs.replace(strategy.config)), feed, BacktestConfig(engine="events"))

    assert len(runner.dropped) == 2 and runner.dropped[1] == runner.dropped[0] + 60_000
    assert result.gaps == [BarGap(symbol="BTCUSDT", first_open_ms=runner.dropped[0], next_open_ms=runner.dropped[1] + 60_000,
                                  filled=2)]
    assert runner.status().bar_gaps == 1  # type: ignore[union-attr]  # what the dashboard shows
    # every bar of the span, once and in order, the two read back included; the strategy acted on them as a backtest does
    assert len(bars) >= 8 and list(feed.open_ms) == bars and set(runner.dropped) <= set(bars)
    assert [(o.bar_time_ms, o.side, o.quantity, o.type) for o in result.orders] == [
        (f.time_ms, f.side, f.qty, f.order_type) for f in backtest.fills]


@pytest.mark.asyncio
async def test_paper_on_the_live_streams_of_a_local_exchange_makes_the_backtests_orders() -> None:
    config = EmulatorConfig(symbols=("BTCUSDT",), speed=300, seed=7)
    strategy = MACross(MACrossConfig(short_window=2, long_window=4, quantity=D("0.01")))
    async with start_emulator(config) as emu:
        clock = emu.exchange.clock
        runner = PaperRunner(strategy, clock=clock, urls=Urls.local(emu.rest_url), config=PaperConfig(seed=3))
        result = await run_until_orders(runner, 3)
        feed = await exchange_feed(emu.rest_url, clock, result)
    bars = result.bar_open_times
    backtest = run_backtest(MACross(msgspec.structs.replace(strategy.config)), feed, BacktestConfig(engine="events"))

    # exactly the exchange's bars of that span
    assert len(bars) >= 5 and list(feed.open_ms) == bars
    assert len(result.orders) >= 3
    assert [(o.bar_time_ms, o.side, o.quantity, o.type) for o in result.orders] == [
        (f.time_ms, f.side, f.qty, f.order_type) for f in backtest.fills]
    assert len(result.fills) == len(result.orders)  # filled by the local venue at the live prices
    assert result.stream_stats is not None and result.stream_stats.messages > 0


@pytest.mark.asyncio
async def test_the_dashboard_draws_a_paper_run_and_returns_its_summary() -> None:
    config = EmulatorConfig(symbols=("BTCUSDT",), speed=300, seed=8)
    async with start_emulator(config) as emu:
        runner = PaperRunner(MACross(MACrossConfig(short_window=2, long_window=3, quantity=D("0.01"))),
                             clock=emu.exchange.clock, urls=Urls.local(emu.rest_url))
        out = io.StringIO()

        summary = await asyncio.wait_for(
            run_live_with_dashboard(runner, duration_s=1.5, refresh_per_second=8, console=Console(file=out, width=120)), BOUND)

    text = out.getvalue()
    assert summary.mode == "paper" and summary.bars >= 3
    assert "binfut paper" in text and "BTCUSDT" in text and "connections" in text
    assert "equity" in status_line(runner.status())
