"""Risk: pre-trade limits with logged reasons, and a kill switch that leaves no order and no position."""

from __future__ import annotations

import logging
import random
from decimal import Decimal

import numpy as np
import pytest

from binfut.strategy import Bar, Context
from binfut.trading import BacktestConfig, RiskConfig, RiskManager, prepare_feed
from binfut.trading.backtest import ACCOUNT, build_session, run_events
from unit.trading.support import BTC, Scripted, falling_bars, new_session

D = Decimal


def test_position_notional_limits_refuse_growth_but_never_a_reduction(caplog: pytest.LogCaptureFixture) -> None:
    s, _ = new_session(risk=RiskConfig(max_position_notional=D("10000")))

    with caplog.at_level(logging.WARNING):
        big = s.orders.market("BTCUSDT", "BUY", D("0.2"))  # 13,000 USDT
        ok = s.orders.market("BTCUSDT", "BUY", D("0.15"))  # 9,750
        more = s.orders.market("BTCUSDT", "BUY", D("0.01"))  # 10,400
        flip = s.orders.market("BTCUSDT", "SELL", D("0.3"))  # to -0.15: 9,750 on the other side
        close = s.orders.market("BTCUSDT", "BUY", D("0.15"), reduce_only=True)

    assert (big.status, more.status) == ("REJECTED", "REJECTED")
    assert ok.accepted and flip.accepted and close.accepted
    assert "position notional 13000.00 above 10000 for BTCUSDT" in big.reason
    assert "position notional 13000.00 above 10000" in caplog.text
    assert [r.reason for r in s.risk.refusals] == [big.reason.removeprefix("risk: "), more.reason.removeprefix("risk: ")]


def test_total_notional_leverage_and_order_rate() -> None:
    s, _ = new_session(risk=RiskConfig(max_total_notional=D("20000"), max_leverage=D("1.5"), max_orders=2, order_window_ms=1000))

    first = s.orders.market("BTCUSDT", "BUY", D("0.2"))  # 13,000 = 1.3x equity
    lever = s.orders.market("BTCUSDT", "BUY", D("0.05"))  # 16,250 = 1.6x
    small = s.orders.market("BTCUSDT", "BUY", D("0.01"))
    rate = s.orders.market("BTCUSDT", "BUY", D("0.01"))  # a third accepted order inside one second
    s.clock.advance(1_000_000_000)
    later = s.orders.market("BTCUSDT", "BUY", D("0.01"))

    assert first.accepted and small.accepted and later.accepted
    assert "gross leverage" in lever.reason and "order rate above 2" in rate.reason
    assert s.orders.set_leverage("BTCUSDT", 5) is False and "leverage 5x above the 1.5x limit" in s.risk.refusals[-1].reason
    assert s.orders.set_leverage("BTCUSDT", 1) is True and s.venue.leverage("backtest", "BTCUSDT") == 1


class KillMe(Scripted):
    """Buys, then leaves a resting bid and a bracket's stop: everything the kill switch must clear."""

    def __init__(self) -> None:
        super().__init__([0, 0] + [1] * 100, quantity=D("0.5"))
        self.after_kill = None

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        super().on_kline(ctx, bar)
        if self.i == 3:
            ctx.buy("BTCUSDT", D("0.01"), price=bar.close * D("0.97"))
            ctx.bracket("BTCUSDT", "BUY", D("0.05"), stop_loss=bar.close * D("0.9"), take_profit=bar.close * D("1.04"))

    def on_stop(self, ctx: Context) -> None:
        super().on_stop(ctx)
        self.after_kill = ctx.buy("BTCUSDT", D("0.01"))


def test_the_kill_switch_cancels_everything_flattens_and_stops_the_strategy(caplog: pytest.LogCaptureFixture) -> None:
    bars = falling_bars(60, start_price=60000.0, step=-30.0)
    feed = prepare_feed(bars, BTC)
    strategy = KillMe()
    s = build_session(strategy, [feed], BacktestConfig(), RiskConfig(max_drawdown=D("0.01")))

    with caplog.at_level(logging.ERROR):
        result = run_events(s)

    assert result.kill_reason is not None and "drawdown" in result.kill_reason
    assert "kill switch tripped" in caplog.text
    assert s.venue.open_orders(ACCOUNT) == []
    assert s.venue.open_algo_orders(ACCOUNT) == []
    assert s.venue.position_risk(ACCOUNT) == []
    assert not s.portfolio.orders and not s.portfolio.algos and not s.portfolio.open_positions()
    assert strategy.stopped and s.ctx.stopped is not None and s.ctx.stopped.startswith("kill switch")
    assert strategy.after_kill.status == "REJECTED" and "kill switch" in strategy.after_kill.reason
    # the strategy was called no more after the trip
    trip_bar = int(np.searchsorted(feed.decision_ms, s.risk.tripped_ms))
    assert strategy.i == trip_bar - 1
    assert result.fills[-1].order_type == "MARKET" and result.fills[-1].time_ms == s.risk.tripped_ms


def test_scan_trips_where_bar_by_bar_marking_trips() -> None:
    rng = random.Random(5)
    trips = 0
    for trial in range(40):
        cfg = RiskConfig(max_daily_loss=D(rng.choice(["80", "150", "400"])), max_drawdown=D(rng.choice(["0.01", "0.02", "0.05"])))
        n = 3000
        times = 1_704_067_200_000 + 60_000 * np.arange(n, dtype=np.int64) + rng.randrange(0, 86_400_000)
        steps = [D(rng.randint(-400, 400)) / 100 for _ in range(n)]
        exact = [D("10000")]
        for st in steps[1:]:
            exact.append(exact[-1] + st)
        one, many = RiskManager(cfg, log=logging.getLogger("quiet")), RiskManager(cfg, log=logging.getLogger("quiet"))
        logging.getLogger("quiet").disabled = True
        tripped = None
        for i in range(n):
            if one.on_equity(int(times[i]), exact[i]) is not None:
                tripped = i
                break
        floats = np.array([float(e) for e in exact]) + np.array([rng.uniform(-1e-9, 1e-9) for _ in range(n)])
        cut = rng.randrange(1, n)  # scanned in two pieces, like the vectorised engine does between events
        hit = many.scan(times[:cut], floats[:cut], lambda j, e=exact: e[j])
        if hit is None:
            hit2 = many.scan(times[cut:], floats[cut:], lambda j, c=cut, e=exact: e[c + j])
            hit = None if hit2 is None else (cut + hit2[0], hit2[1])
        assert (hit[0] if hit else None) == tripped, trial
        if tripped is None:
            assert (many.peak, many.day, many.day_start) == (one.peak, one.day, one.day_start)
        trips += tripped is not None
    assert 5 < trips < 40  # both outcomes are exercised
