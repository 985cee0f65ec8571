"""The vectorised engine gives the event-driven engine's fills, fees, funding and equity, exactly."""

from __future__ import annotations

import logging
from decimal import Decimal

import numpy as np
import pytest

from binfut.matching import SimulatedVenue
from binfut.matching.account import liquidation_price
from binfut.strategy import MACross, MACrossConfig
from binfut.trading import BacktestConfig, LiquidityConfig, RiskConfig, run_backtest
from binfut.trading.vectorized import liquidation_root
from unit.trading.support import BTC, Scripted, assert_same, make_feed

D = Decimal


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")  # restored after the test


def both(strategy_factory, feed, config: BacktestConfig, risk: RiskConfig | None = None):
    events = run_backtest(strategy_factory(), feed, msgspec_replace(config, engine="events"), risk)
    fast = run_backtest(strategy_factory(), feed, msgspec_replace(config, engine="vectorized"), risk)
    assert events.engine == "events" and fast.engine.startswith("vectorized")
    return events, fast


def msgspec_replace(config: BacktestConfig, **kw: object) -> BacktestConfig:
    import msgspec

    return msgspec.structs.replace(config, **kw)


SCENARIOS = {
    "cross, fixed size": (dict(short_window=10, long_window=40, quantity=D("0.2")), dict(leverage=20), None),
    "notional sizing, slippage ladder": (
        dict(short_window=8, long_window=30, quantity=None, notional_fraction=D("2")),
        dict(leverage=10, liquidity=LiquidityConfig(slippage_bps=D("1"), levels=3, level_bps=D("2"), level_qty=D("0.1"))), None),
    "leverage set on start, short only": (dict(short_window=12, long_window=50, quantity=D("0.4"), mode="short_only", leverage=4),
                                          dict(), None),
    "isolated margin, long only": (dict(short_window=5, long_window=25, quantity=D("0.3"), mode="long_only"),
                                   dict(leverage=25, margin_type="ISOLATED"), None),
    "liquidations at 100x": (dict(short_window=5, long_window=30, quantity=D("0.5")),
                             dict(leverage=100, initial_balance=D("700")), None),
    "drawdown kill switch": (dict(short_window=5, long_window=30, quantity=D("0.3")), dict(leverage=20),
                             RiskConfig(max_drawdown=D("0.015"))),
    "daily loss kill switch": (dict(short_window=5, long_window=30, quantity=D("0.3")), dict(leverage=20),
                               RiskConfig(max_daily_loss=D("60"))),
    "pre-trade notional refusals": (dict(short_window=5, long_window=30, quantity=D("0.3")), dict(leverage=20),
                                    RiskConfig(max_position_notional=D("19500"))),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_vectorized_equals_event_driven(name: str) -> None:
    params, cfg, risk = SCENARIOS[name]
    feed = make_feed(2500, seed=3, vol=0.002)

    events, fast = both(lambda: MACross(MACrossConfig(**params)), feed, BacktestConfig(**cfg), risk)

    assert_same(events, fast)
    assert events.fills, "the scenario must trade"


def test_scenarios_exercise_what_they_claim() -> None:
    feed = make_feed(2500, seed=3, vol=0.002)
    liq = run_backtest(MACross(MACrossConfig(short_window=5, long_window=30, quantity=D("0.5"))), feed,
                       BacktestConfig(leverage=100, initial_balance=D("700"), engine="vectorized"))
    kill = run_backtest(MACross(MACrossConfig(short_window=5, long_window=30, quantity=D("0.3"))), feed,
                        BacktestConfig(engine="vectorized"), RiskConfig(max_drawdown=D("0.015")))
    refused = run_backtest(MACross(MACrossConfig(short_window=5, long_window=30, quantity=D("0.3"))), feed,
                           BacktestConfig(engine="vectorized"), RiskConfig(max_position_notional=D("19500")))

    assert liq.liquidations >= 1
    assert kill.kill_reason is not None and "drawdown" in kill.kill_reason
    assert refused.refusals and "notional" in refused.refusals[0].reason
    plain = run_backtest(MACross(MACrossConfig(short_window=10, long_window=40, quantity=D("0.2"))), feed,
                         BacktestConfig(engine="vectorized"))
    assert plain.funding != 0 and len(plain.funding_payments) >= 3


def test_ma_cross_on_a_long_run_is_fast_and_equal() -> None:
    feed = make_feed(6000, seed=11, vol=0.0012)

    events, fast = both(lambda: MACross(MACrossConfig(short_window=20, long_window=60, quantity=D("0.05"))), feed,
                        BacktestConfig())

    assert_same(events, fast)
    assert fast.elapsed_s < events.elapsed_s


def test_strategy_with_timers_is_rerun_event_by_event() -> None:
    feed = make_feed(800, seed=5)
    signals = np.zeros(800, dtype=np.int8)
    signals[100:300] = 1
    signals[500:700] = -1

    def start_timer(ctx, bar, signal):  # noqa: ANN001 - test hook, runs only when the strategy trades
        if not ctx.has_timers:
            ctx.every("tick", 60_000)

    strategy = Scripted(signals, on_act=start_timer)
    auto = run_backtest(strategy, feed, BacktestConfig(engine="auto"))
    events = run_backtest(Scripted(signals, on_act=start_timer), feed, BacktestConfig(engine="events"))

    assert auto.engine == "events"
    assert_same(events, auto)
    assert auto.strategy_object is not strategy and len(auto.strategy_object.timers) > 600
    with pytest.raises(ValueError, match="timers"):
        run_backtest(Scripted(signals, on_act=start_timer), feed, BacktestConfig(engine="vectorized"))


def test_liquidation_root_matches_the_engine_formula() -> None:
    from binfut.clock import ManualClock
    from binfut.matching import MarkPrice, NewOrder

    for side, leverage, qty in (("BUY", 50, D("0.5")), ("SELL", 50, D("0.5")), ("BUY", 20, D("3"))):
        venue = SimulatedVenue(ManualClock(1_700_000_000_000_000_000), __import__("random").Random(1), publish=False)
        venue.open_account("lp", unlimited=True, emit_events=False)
        venue.open_account("u", {"USDT": D("20000")}, default_leverage=leverage)
        venue.on_market(MarkPrice(symbol="BTCUSDT", mark_price=D("60000"), time_ms=1_700_000_000_000))
        venue.execute("lp", NewOrder(symbol="BTCUSDT", side="SELL" if side == "BUY" else "BUY", type="LIMIT",
                                     time_in_force="GTC", quantity=qty, price=D("60000")))
        venue.execute("u", NewOrder(symbol="BTCUSDT", side=side, type="MARKET", quantity=qty))
        acct = venue.account("u")
        exact = liquidation_price(acct, BTC, "BOTH", venue.marks())
        amount = float(qty) if side == "BUY" else -float(qty)

        root = liquidation_root(amount, 60000.0, float(acct.balances["USDT"]), BTC.brackets)

        assert root is not None and abs(root - float(exact)) < 1e-6 * float(exact)
