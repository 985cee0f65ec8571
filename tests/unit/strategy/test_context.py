"""Context and driver: timers in due order, order updates after the hook, nothing after a stop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from binfut.strategy import Bar, Context, Strategy
from binfut.trading import BacktestConfig, prepare_feed
from binfut.trading.backtest import bar_of, build_session
from unit.trading.support import BTC, make_bars

D = Decimal


class Recorder(Strategy):
    name = "recorder"

    def __init__(self) -> None:
        self.log: list[Any] = []

    def on_start(self, ctx: Context) -> None:
        self.log.append("start")
        ctx.state["t0"] = ctx.now_ms()
        ctx.set_timer("b", ctx.now_ms() + 3_000)
        ctx.set_timer("a", ctx.now_ms() + 1_000)
        ctx.every("tick", 2_000)

    def on_timer(self, ctx: Context, name: str, time_ms: int) -> None:
        self.log.append((name, time_ms - ctx.state["t0"]))

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        self.log.append("kline-in")
        ctx.buy("BTCUSDT", D("0.01"))
        self.log.append("kline-out")

    def on_order_update(self, ctx: Context, event: Any) -> None:
        self.log.append(("update", str(event.order.order_status)))

    def on_stop(self, ctx: Context) -> None:
        self.log.append("stop")


def session(strategy: Strategy):  # noqa: ANN201
    feed = prepare_feed(make_bars(5), BTC)
    s = build_session(strategy, [feed], BacktestConfig())
    s.liquidity.set_reference("BTCUSDT", feed.price(feed.close[0]))
    s.portfolio.on_mark("BTCUSDT", feed.price(feed.close[0]))
    return s, feed


def test_timers_fire_in_due_order_and_repeat() -> None:
    strategy = Recorder()
    s, _ = session(strategy)
    s.driver.start()

    s.driver.fire_timers(s.ctx.now_ms() + 4_000)

    assert strategy.log == ["start", ("a", 1_000), ("tick", 2_000), ("b", 3_000), ("tick", 4_000)]


def test_order_updates_are_delivered_after_the_hook_returns() -> None:
    strategy = Recorder()
    s, feed = session(strategy)
    s.driver.start()

    s.driver.kline(bar_of(feed, 0))

    assert strategy.log[-4:] == ["kline-in", "kline-out", ("update", "NEW"), ("update", "FILLED")]
    assert s.ctx.position("BTCUSDT") == D("0.010")


def test_nothing_runs_after_stop_but_on_stop_once() -> None:
    strategy = Recorder()
    s, feed = session(strategy)
    s.driver.start()
    s.ctx.stop("enough")

    s.driver.kline(bar_of(feed, 0))
    s.driver.fire_timers(s.ctx.now_ms() + 10_000)
    s.driver.stop()
    s.driver.stop()

    assert strategy.log == ["start", "stop"]
    assert s.ctx.stopped == "enough"
