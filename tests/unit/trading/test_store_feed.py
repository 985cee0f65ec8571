"""The backtest reads klines, mark-price klines and funding from the binfut.data store."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
import pyarrow as pa
import pytest

from binfut.trading import BacktestConfig, load_feed, run_backtest
from unit.trading.support import BTC, Scripted, make_bars, make_marks

D = Decimal


def klines_table(bars: pd.DataFrame) -> pa.Table:
    df = bars.reset_index()
    df["close_time"] = df["open_time"] + pd.Timedelta(milliseconds=59_999)
    for col in ("quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume"):
        df[col] = 0.0
    df["trades"] = 1
    return pa.Table.from_pandas(df, preserve_index=False)


def test_load_feed_from_the_store(tmp_path) -> None:  # noqa: ANN001
    data = pytest.importorskip("binfut.data")
    store = data.Store(tmp_path, fsync=False)
    bars = make_bars(24 * 60, start="2024-02-01")
    store.write("klines", klines_table(bars), symbol="BTCUSDT", series="1m")
    marks = make_marks(bars).assign(volume=0.0)
    marks.index.name = "open_time"
    store.write("mark_price_klines", klines_table(marks), symbol="BTCUSDT", series="1m")
    funding = pa.table({"funding_time": pd.to_datetime(["2024-02-01 08:00", "2024-02-01 16:00"], utc=True),
                        "funding_rate": [0.0001, -0.0002], "mark_price": [65001.5, 64999.25]})
    store.write("funding_rate", funding, symbol="BTCUSDT")
    start = int(pd.Timestamp("2024-02-01 01:00", tz="UTC").value // 1_000_000)

    feed = load_feed(tmp_path, "BTCUSDT", "1m", start, start + 12 * 3_600_000, BTC)

    assert len(feed) == 720 and int(feed.open_ms[0]) == start
    assert feed.mark_close is not None and feed.mark_close[0] == pytest.approx(marks["close"].iloc[60])
    assert [(f.bar, f.rate, f.mark_price) for f in feed.funding] == [(419, D("0.0001"), D("65001.5"))]
    result = run_backtest(Scripted([1] * 720), feed, BacktestConfig())
    assert result.funding == -(D("0.1") * D("65001.5") * D("0.0001")).quantize(D("0.00000001"), ROUND_HALF_EVEN)
