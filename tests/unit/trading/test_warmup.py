"""Warm-up, sans-IO: which bars are fetched, that nothing reaches the venue while they are replayed, and that
live bars continue the series without a gap or a repeat.

* :func:`warmup_flow` is driven with canned klines pages (paging, the bar still open at the cutoff,
  short history, a venue that ignores ``endTime``); :func:`fetch_warmup` with fake clients.
* :class:`WarmupGate` refuses every command while closed and passes everything when open.
* A :class:`PaperRunner` on a ManualClock is warmed with bars and fed closed-kline messages: the
  declared warm-up makes the orders a backtest over every bar makes, a longer one sends nothing for a
  historical bar, an overlapping stream bar is dropped once.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Generator, Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from binfut.clock import ManualClock
from binfut.errors import ConfigError
from binfut.matching import ModifyOrder, NewAlgoOrder, NewOrder
from binfut.protocol.models.market import Kline
from binfut.strategy import Bar, Context, MACross, MACrossConfig, MLConfig, MLStrategy, Strategy
from binfut.trading import BacktestConfig, BarFeed, run_backtest
from binfut.trading.backtest import bar_of
from binfut.trading.gateway import REJECTED, AlgoAck, OrderAck
from binfut.trading.live import LiveConfig
from binfut.trading.paper import PaperConfig, PaperRunner, bar_messages
from binfut.trading.risk import RiskConfig
from binfut.trading.warmup import (
    MAX_PAGE,
    WARMUP_REFUSAL,
    KlinesPage,
    WarmupGate,
    fetch_warmup,
    resolve_warmup,
    warmup_flow,
)
from unit.trading.support import make_feed

D = Decimal
MINUTE = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")


def kline(open_ms: int, price: int = 100) -> Kline:
    p = D(price)
    return Kline(open_time_ms=open_ms, open=p, high=p, low=p, close=p, volume=D(1), close_time_ms=open_ms + MINUTE - 1,
                 quote_volume=p, trades=1, taker_buy_base_volume=D(0), taker_buy_quote_volume=D(0))


class Venue:
    """1m klines from ``first_ms`` on; at ``now_ms`` the newest bar is still open (Binance serves it too)."""

    def __init__(self, first_ms: int, now_ms: int, *, ignore_end: bool = False) -> None:
        self.first_ms, self.now_ms, self.ignore_end = first_ms, now_ms, ignore_end
        self.pages: list[KlinesPage] = []

    def answer(self, page: KlinesPage) -> list[Kline]:
        self.pages.append(page)
        end = self.now_ms if self.ignore_end else page.end_time_ms
        opens = range(self.first_ms, min(end, self.now_ms) + 1, MINUTE)
        return [kline(t, 100 + (t - self.first_ms) // MINUTE) for t in list(opens)[-page.limit:]]


def drive(flow: Generator[KlinesPage, Sequence[Any], list[Bar]], venue: Venue) -> list[Bar]:
    try:
        page = next(flow)
        while True:
            page = flow.send(venue.answer(page))
    except StopIteration as done:
        result: list[Bar] = done.value
        return result


# --- which bars ----------------------------------------------------------------------------------------


def test_one_request_returns_the_newest_closed_bars_and_never_the_open_one() -> None:
    now = T0 + 30_000  # the bar that opened at T0 is still open
    venue = Venue(T0 - 500 * MINUTE, now)

    bars = drive(warmup_flow("BTCUSDT", "1m", 49, now), venue)

    assert venue.pages == [KlinesPage(symbol="BTCUSDT", interval="1m", end_time_ms=now - 1, limit=50)]
    assert [b.open_time_ms for b in bars] == [T0 - k * MINUTE for k in range(49, 0, -1)]
    assert all(b.close_time_ms < now for b in bars) and bars[-1].close == D(100 + 499)
    assert {(b.symbol, b.interval) for b in bars} == {("BTCUSDT", "1m")}


def test_when_no_bar_is_open_at_the_cutoff_the_extra_row_is_dropped_from_the_front() -> None:
    now = T0  # the bar that opened at T0 has no trade yet: the venue does not list it
    venue = Venue(T0 - 500 * MINUTE, now - 1)

    bars = drive(warmup_flow("BTCUSDT", "1m", 10, now), venue)

    assert [b.open_time_ms for b in bars] == [T0 - k * MINUTE for k in range(10, 0, -1)]


def test_more_than_a_page_is_paged_backwards_without_a_gap_or_a_repeat() -> None:
    now = T0 + 1
    venue = Venue(T0 - 5000 * MINUTE, now)

    bars = drive(warmup_flow("BTCUSDT", "1m", 3200, now), venue)

    opens = [b.open_time_ms for b in bars]
    assert opens == [T0 - k * MINUTE for k in range(3200, 0, -1)]
    assert [p.limit for p in venue.pages] == [MAX_PAGE, MAX_PAGE, 202]  # 1499 + 1500 closed, then 201 + 1 spare
    assert venue.pages[1].end_time_ms == T0 - 1499 * MINUTE - 1


def test_a_short_history_gives_what_there_is_and_a_venue_ignoring_end_time_cannot_loop() -> None:
    now = T0 + 1
    short = Venue(T0 - 20 * MINUTE, now)
    stubborn = Venue(T0 - 3000 * MINUTE, now, ignore_end=True)

    assert len(drive(warmup_flow("BTCUSDT", "1m", 100, now), short)) == 20 and len(short.pages) == 1
    assert len(drive(warmup_flow("BTCUSDT", "1m", 2000, now), stubborn)) == 1499 and len(stubborn.pages) == 2
    assert drive(warmup_flow("BTCUSDT", "1m", 0, now), short) == [] and len(short.pages) == 1  # nothing asked


class AsyncClientLike:
    def __init__(self, venues: dict[str, Venue]) -> None:
        self.venues = venues

    async def server_time(self) -> Any:
        return SimpleNamespace(server_time_ms=next(iter(self.venues.values())).now_ms)

    async def klines(self, *, symbol: str, interval: str, end_time: int, limit: int) -> list[Kline]:
        return self.venues[symbol].answer(KlinesPage(symbol=symbol, interval=interval, end_time_ms=end_time, limit=limit))


class BlockingClientLike(AsyncClientLike):
    def server_time(self) -> Any:  # type: ignore[override]
        return asyncio.run(super().server_time())

    def klines(self, **params: Any) -> list[Kline]:  # type: ignore[override]
        return asyncio.run(super().klines(**params))


@pytest.mark.parametrize("client_type", [AsyncClientLike, BlockingClientLike])
def test_fetch_reads_the_cutoff_then_merges_the_symbols_in_time_order(client_type: type[AsyncClientLike]) -> None:
    now = T0 + 5
    client = client_type({"BTCUSDT": Venue(T0 - 100 * MINUTE, now), "ETHUSDT": Venue(T0 - 2 * MINUTE, now)})

    history = asyncio.run(fetch_warmup(client, ("BTCUSDT", "ETHUSDT"), "1m", 3))

    assert history.cutoff_ms == now and history.requests == 3  # server time + one klines page per symbol
    assert [(b.open_time_ms - T0, b.symbol) for b in history.bars] == [
        (-3 * MINUTE, "BTCUSDT"), (-2 * MINUTE, "BTCUSDT"), (-2 * MINUTE, "ETHUSDT"), (-MINUTE, "BTCUSDT"), (-MINUTE, "ETHUSDT")]


def test_the_count_is_the_configs_else_the_strategys() -> None:
    ma = MACross(MACrossConfig(short_window=3, long_window=8))

    assert [resolve_warmup(None, ma), resolve_warmup(0, ma), resolve_warmup(40, ma), resolve_warmup(None, Strategy())] == [7, 0, 40, 0]
    with pytest.raises(ValueError, match="warm-up bars"):
        resolve_warmup(-1, ma)
    for config in (PaperConfig, LiveConfig):
        with pytest.raises(ValueError, match="warmup_bars"):
            config(warmup_bars=-5)


# --- the gate ------------------------------------------------------------------------------------------


class Recorder:
    """A gateway that records every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return OrderAck(symbol="BTCUSDT", client_order_id="x", status="NEW")
        return call


def every_command(gate: WarmupGate) -> list[Any]:
    order = NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.01"), new_client_order_id="c1")
    algo = NewAlgoOrder(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=D("0.01"), trigger_price=D(1),
                        client_algo_id="a1")
    acks = [
        gate.submit(order), gate.cancel("BTCUSDT", client_order_id="c1"),
        gate.modify(ModifyOrder(symbol="BTCUSDT", side="BUY", quantity=D(1), price=D(1), order_id=7)),
        gate.submit_algo(algo), gate.cancel_algo(client_algo_id="a1"),
    ]
    gate.cancel_all("BTCUSDT")
    gate.change_leverage("BTCUSDT", 5)
    gate.change_margin_type("BTCUSDT", "ISOLATED")
    gate.change_position_mode(True)
    return acks


def test_a_closed_gate_refuses_every_command_and_an_open_one_passes_them_all() -> None:
    inner = Recorder()
    gate = WarmupGate(inner)  # type: ignore[arg-type]
    gate.closed = True

    answers = every_command(gate)
    gate.open_orders("BTCUSDT")  # queries pass even while closed

    assert inner.calls == ["open_orders"]
    assert len(gate.refused) == 9
    assert len(answers) == 5 and all(isinstance(a, OrderAck | AlgoAck) and a.status == REJECTED
                                     and a.reason == WARMUP_REFUSAL for a in answers)

    gate.closed = False
    every_command(gate)
    assert copy.copy(gate).inner is inner  # the proxy copies without recursing into itself
    assert inner.calls[1:] == ["submit", "cancel", "modify", "submit_algo", "cancel_algo", "cancel_all", "change_leverage",
                               "change_margin_type", "change_position_mode"]


# --- the runner ----------------------------------------------------------------------------------------


def paper(strategy: Strategy, feed: BarFeed, **config: Any) -> PaperRunner:
    risk = config.pop("risk", None)
    return PaperRunner(strategy, clock=ManualClock(int(feed.open_ms[0]) * 1_000_000), risk=risk,
                       config=PaperConfig(streams=("kline",), **config))


def history(feed: BarFeed, n: int) -> list[Bar]:
    return [bar_of(feed, i) for i in range(n)]


def orders_of(result: Any) -> list[tuple[Any, ...]]:
    return [(o.bar_time_ms, o.side, o.quantity, o.type) for o in result.orders]


def fills_of(result: Any) -> list[tuple[Any, ...]]:
    return [(f.time_ms, f.side, f.qty, f.order_type) for f in result.fills]


@pytest.mark.parametrize("strategy", [
    lambda: MACross(MACrossConfig(short_window=5, long_window=30, quantity=D("0.05"))),
    lambda: MLStrategy(MLConfig(train_window=80, retrain_every=20, min_train=60, n_estimators=4, max_depth=2, windows=(3, 8),
                                rsi_window=6)),
], ids=["ma_cross", "ml"])
def test_with_the_declared_warmup_the_run_makes_the_orders_of_a_backtest_over_every_bar(strategy: Any) -> None:
    feed = make_feed(300, seed=4, marks=False, funding_rate=None)
    runner = paper(strategy(), feed)
    w = runner.strategy.warmup_bars
    backtest = run_backtest(strategy(), feed, BacktestConfig(engine="events"))
    runner.start()

    report = runner.warmup(history(feed, w))
    result = runner.run_replay(bar_messages(feed)[w:])

    assert report.bars == w and report.refused == 0  # the declared history never asks for an order
    assert orders_of(result) == fills_of(backtest) and len(backtest.fills) >= 3
    assert (result.orders[0].bar_time_ms or 0) > int(feed.decision_ms[w - 1])  # all decided on live bars
    assert result.bar_open_times == list(feed.open_ms) and result.bars == len(feed)
    assert result.warmup == report


def test_a_longer_warmup_sends_nothing_for_a_historical_bar_and_trades_on_the_first_live_one() -> None:
    feed = make_feed(120, seed=4, marks=False, funding_rate=None)
    runner = paper(MACross(MACrossConfig(short_window=3, long_window=6, quantity=D("0.05"))), feed, warmup_bars=100,
                   risk=RiskConfig(max_position_notional=D("1000000")))
    runner.start()

    report = runner.warmup(history(feed, 100))

    assert report.bars == 100 and report.refused > 0  # the strategy asked; nothing went out
    assert runner.orders.journal == [] and runner.orders.rejections == [] and runner.risk.refusals == []
    assert runner.venue.open_orders("paper") == [] and runner.portfolio.fills == [] and runner.orders.ids._n == 0
    assert not runner.ctx.warming_up and not runner.gate.closed

    result = runner.run_replay(bar_messages(feed)[98:105])  # the stream repeats the last two replayed bars

    first_live = int(feed.decision_ms[100])
    assert result.orders[0].bar_time_ms == first_live and result.orders[0].status == "FILLED"
    assert result.bar_open_times == list(feed.open_ms[:105]) and result.bars == 105
    assert result.warmup is not None and result.warmup.overlap == 2 and result.warmup.bars == 100


class EverythingOnEveryBar(Strategy):
    """Tries every kind of command on every bar, and records whether it was warming up."""

    name = "everything"
    symbols = ("BTCUSDT",)

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []
        self.leverage: list[bool] = []

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        self.seen.append((bar.open_time_ms, ctx.warming_up))
        ctx.cancel_all("BTCUSDT")
        self.leverage.append(ctx.orders.set_leverage("BTCUSDT", 7))
        ctx.buy("BTCUSDT", D("0.01"))
        ctx.sell("BTCUSDT", D("0.01"), bar.close * D("1.05"))
        ctx.bracket("BTCUSDT", "BUY", D("0.01"), stop_loss=bar.close * D("0.9"))
        ctx.orders.modify("BTCUSDT", "SELL", D("0.02"), bar.close * D("1.06"), client_order_id="nope")
        ctx.close("BTCUSDT")


def test_no_command_of_any_kind_reaches_the_venue_during_the_warmup() -> None:
    feed = make_feed(12, seed=1, marks=False, funding_rate=None)
    strategy = EverythingOnEveryBar()
    runner = paper(strategy, feed, warmup_bars=10)
    runner.start()

    report = runner.warmup(history(feed, 10))

    assert report.refused >= 10 * 6 and strategy.leverage == [False] * 10
    assert runner.venue.open_orders("paper") == [] and runner.venue.position_risk("paper") == []
    assert runner.orders.journal == [] and runner.orders.tracked == {}
    assert runner.status() is not None and runner.status().warmup_bars == 10  # type: ignore[union-attr]

    runner.run_replay(bar_messages(feed)[10:11])  # live: the same calls go out

    assert [w for _, w in strategy.seen] == [True] * 10 + [False]
    assert strategy.leverage[-1] is True and len(runner.orders.journal) >= 3


def test_the_warmup_comes_after_on_start_and_without_any_rest_source_is_a_config_error() -> None:
    feed = make_feed(12, seed=1, marks=False, funding_rate=None)
    runner = paper(MACross(), feed)

    with pytest.raises(RuntimeError, match="on_start"):
        runner.warmup(history(feed, 3))
    with pytest.raises(ConfigError, match="warm-up needs REST"):
        asyncio.run(runner._warm_up())


def test_warmup_zero_fetches_nothing_and_starts_cold() -> None:
    feed = make_feed(60, seed=4, marks=False, funding_rate=None)
    runner = paper(MACross(MACrossConfig(short_window=3, long_window=8, quantity=D("0.05"))), feed, warmup_bars=0)
    runner.client = object()  # any use of it would fail

    assert asyncio.run(runner._warm_up()) is None
    result = runner.run_replay(bar_messages(feed))

    assert result.warmup is None and runner.status() is not None and runner.status().warmup_bars == 0  # type: ignore[union-attr]
    assert (result.orders[0].bar_time_ms or 0) >= int(feed.decision_ms[7])  # the 8th live bar at the earliest
