"""The synthetic market: seeded determinism, plausible prices, mark / premium / funding, klines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from binfut.clock import ManualClock
from binfut.emulator import EmulatorConfig, LocalExchange, build_exchange
from binfut.emulator.marketdata import INTERVALS
from binfut.emulator.simulator import FUNDING_INTERVAL_MS
from binfut.matching import commands as c
from integration.emulator.support import START_NS

KEY = "SimKey0000000000000000000000000000000000000000000000000000000000001"


def build(seed: int, start_ns: int = START_NS, **kw: object) -> LocalExchange:
    ex = build_exchange(EmulatorConfig(seed=seed, api_keys={KEY: "secret"}, **kw), clock=ManualClock(start_ns))  # type: ignore[arg-type]
    ex.advance(ex.clock.time_ms())
    return ex


def tape(ex: LocalExchange, symbol: str) -> list[tuple[int, Decimal, Decimal, bool, int]]:
    return [(t.trade_id, t.price, t.qty, t.buyer_is_maker, t.time_ms) for t in ex.market.recent_trades(symbol, 100_000)]


def test_same_seed_same_trades_other_seed_other_trades() -> None:
    a, b, other = build(42), build(42), build(43)
    for ex in (a, b, other):
        ex.run_for(45_000)
    for symbol in ("BTCUSDT", "XRPUSDT"):
        assert tape(a, symbol) and tape(a, symbol) == tape(b, symbol)
        assert tape(a, symbol) != tape(other, symbol)
    assert a.venue.depth("ETHUSDT", 20) == b.venue.depth("ETHUSDT", 20)
    assert a.market.mark("SOLUSDT") == b.market.mark("SOLUSDT")


def test_prices_mark_and_book_are_plausible() -> None:
    ex = build(7)
    ex.run_for(120_000)
    for symbol in ex.symbols:
        bid, _, ask, _ = ex.venue.best_bid_ask(symbol)
        assert bid is not None and ask is not None and bid < ask
        mark = ex.market.mark(symbol)
        assert mark is not None
        mid = (bid + ask) / 2
        assert abs(mark.mark_price - mark.index_price) / mark.index_price < Decimal("0.003")
        assert abs(mid - mark.index_price) / mark.index_price < Decimal("0.003")
        assert abs(mark.premium_index) < Decimal("0.003")
        assert mark.next_funding_time_ms % FUNDING_INTERVAL_MS == 0 and mark.next_funding_time_ms > mark.time_ms
        _, bids, asks = ex.venue.depth(symbol, 100)
        assert len(bids) >= 10 and len(asks) >= 10
        trades = ex.market.recent_trades(symbol, 10_000)
        assert len(trades) > 50, symbol
        assert {t.buyer_is_maker for t in trades} == {True, False}


def test_funding_settles_at_eight_hours_utc_through_the_engine() -> None:
    boundary = 1_720_022_400_000  # 2024-07-03 16:00:00 UTC
    assert boundary % FUNDING_INTERVAL_MS == 0
    ex = build(3, start_ns=(boundary - 90_000) * 1_000_000)
    account = ex.accounts.by_api_key(KEY)
    assert account is not None
    ex.execute(account.account_id, c.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.5")))
    ex.run_for(120_000)
    rows = ex.market.funding_history("BTCUSDT")
    assert [r["fundingTime"] for r in rows] == [boundary]
    rate = Decimal(rows[0]["fundingRate"])
    assert Decimal("-0.02") <= rate <= Decimal("0.02")
    # F = P + clamp(I - P, +-0.05 %): within 0.05 % of the interest rate unless the premium is large
    income = ex.venue.income(account.account_id, income_type="FUNDING_FEE")
    assert len(income) == 1 and income[0].symbol == "BTCUSDT"
    assert (income[0].income < 0) == (rate > 0)  # a long pays a positive rate
    after = ex.market.mark("BTCUSDT")
    assert after is not None and after.next_funding_time_ms == boundary + FUNDING_INTERVAL_MS


def test_klines_of_every_interval_on_binance_grids() -> None:
    ex = build(5)
    ex.run_for(200_000)
    for interval in INTERVALS:
        bars = ex.market.klines("BTCUSDT", interval)
        assert bars, interval
        opened = dt.datetime.fromtimestamp(bars[-1].open_time_ms / 1000, tz=dt.UTC)
        if interval == "1w":
            assert opened.weekday() == 0 and opened.hour == 0
        elif interval == "1M":
            assert opened.day == 1 and opened.hour == 0
        else:
            assert bars[-1].open_time_ms % INTERVALS[interval] == 0
    one_minute = ex.market.klines("BTCUSDT", "1m")
    five = ex.market.klines("BTCUSDT", "5m")[-1]
    inside = [b for b in one_minute if five.open_time_ms <= b.open_time_ms <= five.close_time_ms]
    assert sum(b.volume for b in inside) == five.volume
    assert max(b.high for b in inside) == five.high and min(b.low for b in inside) == five.low
    assert ex.market.klines("BTCUSDT", "1m", "mark") and ex.market.klines("BTCUSDT", "1m", "premium")
