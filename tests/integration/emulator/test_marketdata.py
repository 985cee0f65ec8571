"""MarketData on its own: Binance's kline grids, aggregate trades, gap bars, 24 h statistics, the bus."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from binfut.emulator.bus import EventBus
from binfut.emulator.marketdata import MarketData, MarkPriceUpdate, interval_close, interval_open

D = Decimal
T0 = 1_720_000_020_000  # Wednesday 2024-07-03 09:47:00 UTC (a minute boundary)


def ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_interval_grids() -> None:
    assert interval_open("1m", T0 + 59_999) == T0 - T0 % 60_000
    assert interval_open("1w", T0) == ms(2024, 7, 1)  # the Monday before
    assert interval_close("1w", ms(2024, 7, 1)) == ms(2024, 7, 8) - 1
    assert interval_open("1M", T0) == ms(2024, 7, 1)
    assert interval_close("1M", ms(2024, 12, 1)) == ms(2025, 1, 1) - 1
    assert interval_open("3d", T0) % (3 * 86_400_000) == 0
    assert interval_open("8h", T0) == ms(2024, 7, 3, 8)


def test_trades_aggregate_klines_and_ticker() -> None:
    bus = EventBus()
    seen: list[tuple[str, str, Any]] = []
    bus.add_market_listener(lambda kind, symbol, payload: seen.append((kind, symbol, payload)))
    md = MarketData(["BTCUSDT"], bus)
    md.on_trade("BTCUSDT", 1, D("100.0"), D("1"), T0, False)
    md.on_trade("BTCUSDT", 2, D("100.0"), D("2"), T0, False)  # same time, price, side: same aggTrade
    md.on_trade("BTCUSDT", 3, D("101.0"), D("1"), T0, False)
    md.on_trade("BTCUSDT", 4, D("99.0"), D("1"), T0 + 120_000, True)  # 2 minutes later
    aggs = md.agg_trades("BTCUSDT")
    assert [(a.agg_id, a.qty, a.first_trade_id, a.last_trade_id) for a in aggs] == [
        (1, D(3), 1, 2),
        (2, D(1), 3, 3),
        (3, D(1), 4, 4),
    ]
    bars = md.klines("BTCUSDT", "1m")
    assert [b.trades for b in bars] == [3, 0, 1]  # a quiet minute gets a flat bar
    assert bars[1].open == bars[1].close == D("101.0") and bars[1].volume == 0
    first = bars[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        D("100.0"),
        D("101.0"),
        D("100.0"),
        D("101.0"),
        D(4),
    )
    assert first.taker_buy_base == D(4) and bars[-1].taker_buy_base == 0
    row = first.row()
    assert len(row) == 12 and row[1] == "100.0" and row[8] == 3
    five = md.klines("BTCUSDT", "5m")
    assert len(five) == 1 and five[0].volume == D(5)
    ticker = md.ticker_24h("BTCUSDT", T0 + 200_000)
    assert ticker["openPrice"] == "100.0" and ticker["lastPrice"] == "99.0" and ticker["count"] == 4
    assert ticker["firstId"] == 1 and ticker["lastId"] == 4 and ticker["highPrice"] == "101.0"
    kinds = [k for k, _, _ in seen]
    assert kinds.count("ticker") == 4 and kinds.count("kline") == 4 * 15


def test_mark_series_and_funding_history() -> None:
    md = MarketData(["BTCUSDT"])
    for i, price in enumerate(("100", "102", "98", "101")):
        md.on_mark(MarkPriceUpdate(symbol="BTCUSDT", mark_price=D(price), index_price=D(price) - 1, estimated_settle_price=D(price),
                                   premium_index=D("0.00000001"), funding_rate=D("0.0001"), interest_rate=D("0.0001"),
                                   next_funding_time_ms=T0 + 3_600_000, time_ms=T0 + i * 1000))  # fmt: skip
    bar = md.klines("BTCUSDT", "1m", "mark")[-1]
    assert (bar.open, bar.high, bar.low, bar.close, bar.trades) == (D(100), D(102), D(98), D(101), 4)
    assert md.klines("BTCUSDT", "1m", "premium")[-1].row()[4] == "0.00000001"  # never "1E-8"
    md.on_funding("BTCUSDT", T0, D("0.00012"), D("100.5"))
    assert md.funding_history("BTCUSDT") == [
        {"symbol": "BTCUSDT", "fundingTime": T0, "fundingRate": "0.00012", "markPrice": "100.5"}
    ]
