"""A leveraged losing position is liquidated at the price Binance's liquidation formula gives.

The expected price is computed here, in Decimal, from Binance's single-position formula (FAQ "How to
Calculate Liquidation Price of USDⓈ-M Contracts"), independently of the engine:

    LP = (WB + cum - Side x Pos x EP) / (Pos x MMR - Side x Pos)

with WB the cross wallet (or the isolated wallet), EP the entry, Side +1 long / -1 short, and MMR / cum
of the leverage bracket of the position's notional.  Both backtest engines must liquidate at exactly
that price, at the first intrabar mark print that reaches it, and charge the clearance fee.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
import pytest

from binfut.trading import BacktestConfig, prepare_feed, run_backtest
from unit.trading.support import BTC, Scripted, falling_bars

D = Decimal
E8 = D("0.00000001")
TAKER = D("0.0005")


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")  # restored after the test


def expected_price(side: int, qty: Decimal, entry: Decimal, wallet: Decimal) -> Decimal:
    bracket = BTC.bracket_for(qty * entry * D("0.9"))  # the notional near the liquidation price
    assert bracket.bracket == 1
    mmr, cum = bracket.maint_margin_ratio, bracket.maint_amount
    return ((wallet + cum - side * qty * entry) / (qty * mmr - side * qty)).quantize(E8, ROUND_HALF_EVEN)


def first_print_reaching(bars: pd.DataFrame, price: Decimal, side: int) -> tuple[int, int]:
    """(bar index, print time ms) of the first intrabar print at or beyond ``price`` (O, H, L, C order)."""
    for i, (t, row) in enumerate(bars.iterrows()):
        o = int(t.value // 1_000_000)
        times = (o, o + 20_000, o + 40_000, o + 59_999)
        rising = row.close >= row.open
        path = [row.open, row.low, row.high, row.close] if rising else [row.open, row.high, row.low, row.close]
        for k, p in enumerate(path):
            if (side > 0 and D(repr(float(p))) <= price) or (side < 0 and D(repr(float(p))) >= price):
                return i, times[k]
    raise AssertionError("the bars never reach the liquidation price")


@pytest.mark.parametrize("engine", ["events", "vectorized"])
@pytest.mark.parametrize(("side", "margin_type"), [(1, "CROSSED"), (-1, "CROSSED"), (1, "ISOLATED")])
def test_leveraged_losing_position_is_liquidated_at_the_formula_price(engine: str, side: int, margin_type: str) -> None:
    bars = falling_bars(140, start_price=60000.0, step=-60.0 * side)
    feed = prepare_feed(bars, BTC, interval="1m")  # no mark series: the mark is the trade price
    # isolated: just enough for one entry, so the liquidation is the only one (no re-entry afterwards)
    qty, leverage, initial = D("0.5"), 50, D("2000") if margin_type == "CROSSED" else D("620")
    entry = D("60000.0")  # bought at the close of bar 2 (flat bars at 60000)
    signals = [0, 0] + [side] * 138

    result = run_backtest(Scripted(signals, quantity=qty), feed,
                          BacktestConfig(initial_balance=initial, leverage=leverage, margin_type=margin_type,
                                         taker_rate=TAKER, engine=engine))

    open_fee = (entry * qty * TAKER).quantize(E8, ROUND_HALF_EVEN)
    if margin_type == "ISOLATED":
        wallet = (entry * qty / leverage).quantize(E8, ROUND_HALF_EVEN)  # the isolated wallet: the initial margin moved in
    else:
        wallet = initial - open_fee
    price = expected_price(side, qty, entry, wallet)
    liquidations = [f for f in result.fills if f.liquidation]
    assert result.liquidations == 1 and len(liquidations) == 1
    liq = liquidations[0]
    assert liq.price == price
    assert liq.qty == qty and liq.side == ("SELL" if side > 0 else "BUY")
    bar, time_ms = first_print_reaching(bars, price, side)
    assert liq.time_ms == time_ms
    # the realized loss, then the clearance fee (notional x 1.25 %, capped at what is left) leaves the wallet
    realized = ((price - entry) * qty * side).quantize(E8, ROUND_HALF_EVEN)
    assert liq.realized_pnl == realized
    fee_cap = (price * qty * BTC.liquidation_fee).quantize(E8, ROUND_HALF_EVEN)
    after = initial - open_fee + realized
    clearance = min(max(after if margin_type == "CROSSED" else wallet + realized, D(0)), fee_cap)
    assert result.other_charges == clearance
    assert bar > 2


def test_liquidation_uses_the_mark_price_not_the_last_trade() -> None:
    bars = falling_bars(120, start_price=60000.0, step=-60.0)
    # the mark falls twice as fast as the trades: the liquidation comes earlier than on trade prices
    marks = bars[["open", "high", "low", "close"]].copy()
    marks = 60000.0 - (60000.0 - marks) * 2
    feed = prepare_feed(bars, BTC, interval="1m", mark=marks)
    signals = [0, 0] + [1] * 118
    qty, initial = D("0.5"), D("2000")

    events = run_backtest(Scripted(signals, quantity=qty), feed, BacktestConfig(initial_balance=initial, leverage=50, engine="events"))
    fast = run_backtest(Scripted(signals, quantity=qty), feed, BacktestConfig(initial_balance=initial, leverage=50, engine="vectorized"))

    price = expected_price(1, qty, D("60000.0"), initial - (D("60000.0") * qty * TAKER).quantize(E8, ROUND_HALF_EVEN))
    liq_events = [f for f in events.fills if f.liquidation]
    liq_fast = [f for f in fast.fills if f.liquidation]
    assert liq_events == liq_fast and liq_events[0].price == price
    bar, _ = first_print_reaching(marks, price, 1)
    trade_bar, _ = first_print_reaching(bars, price, 1)
    assert int(feed.open_ms[bar]) <= liq_events[0].time_ms < int(feed.decision_ms[bar])
    assert bar < trade_bar
