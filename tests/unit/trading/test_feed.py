"""Backtest input: exact ticks, the float-to-Decimal boundary, funding and mark alignment."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
import pytest

from binfut.trading import prepare_feed, synthetic_funding
from binfut.trading.backtest import bar_of, path_points
from binfut.trading.feed import to_decimal
from unit.trading.support import BTC, make_bars, make_marks

D = Decimal


def test_prices_become_ticks_and_decimals_exactly() -> None:
    bars = make_bars(50)

    feed = prepare_feed(bars, BTC, interval="1m")

    assert feed.close.dtype == np.int64
    assert [feed.price(t) for t in feed.close[:3]] == [D(repr(c)).quantize(D("0.1"), ROUND_HALF_EVEN) for c in bars["close"][:3]]
    assert bar_of(feed, 2).close == D(repr(float(bars["close"].iloc[2]))).quantize(D("0.1"), ROUND_HALF_EVEN)
    assert to_decimal(65542.39802347) == D("65542.39802347")
    assert (feed.decision_ms - feed.open_ms == 60_000).all()


def test_funding_settles_in_the_bar_that_ends_at_or_after_it() -> None:
    bars = make_bars(24 * 60, start="2024-01-01 00:00")
    funding = synthetic_funding(bars, "1m", D("0.0001"))

    feed = prepare_feed(bars, BTC, interval="1m", funding=funding)

    # 08:00 and 16:00 are inside the day; 00:00 of the next day is the last bar's decision time
    assert [f.time_ms for f in feed.funding] == [int(t.value // 1_000_000) for t in funding.index]
    assert [f.bar for f in feed.funding] == [479, 959, 1439]
    assert all(f.rate == D("0.0001") and f.mark_price is None for f in feed.funding)


def test_a_funding_frame_with_marks_and_an_unaligned_mark_series() -> None:
    bars = make_bars(600)
    fund = pd.DataFrame({"funding_rate": [-0.00025], "mark_price": [65123.45678901]},
                        index=pd.DatetimeIndex([bars.index[0] + pd.Timedelta(minutes=480)], name="funding_time"))
    marks = make_marks(bars).iloc[10:]  # the first ten bars have no mark: they fall back to the trades

    feed = prepare_feed(bars, BTC, interval="1m", mark=marks, funding=fund)

    [ev] = feed.funding
    assert (ev.bar, ev.rate, ev.mark_price) == (479, D("-0.00025"), D("65123.45678901"))
    assert feed.mark_close is not None and feed.mark_close[0] == bars["close"].iloc[0]
    marks_f, exact = feed.decision_marks()
    assert exact == {479: D("65123.45678901")} and marks_f[479] == 65123.45678901


def test_the_intrabar_path_visits_the_low_first_on_a_rising_bar() -> None:
    bars = pd.DataFrame({"open": [100.0, 103.0], "high": [104.0, 104.0], "low": [99.0, 98.0], "close": [103.0, 99.0],
                         "volume": [1.0, 1.0]}, index=pd.date_range("2024-01-01", periods=2, freq="1min", tz="UTC"))

    feed = prepare_feed(bars, BTC, interval="1m")

    assert [p for _, p, _ in path_points(feed, 0)] == [1000, 990, 1040, 1030]
    assert [p for _, p, _ in path_points(feed, 1)] == [1030, 1040, 980, 990]
    assert [t - int(feed.open_ms[0]) for t, _, _ in path_points(feed, 0)] == [0, 20_000, 40_000, 59_999]


@pytest.mark.parametrize("bad", ["interval", "order", "columns"])
def test_bad_input_is_refused(bad: str) -> None:
    bars = make_bars(10)
    with pytest.raises(ValueError):
        if bad == "interval":
            prepare_feed(bars, BTC, interval="7m")
        elif bad == "order":
            prepare_feed(bars.iloc[::-1], BTC)
        else:
            prepare_feed(bars.drop(columns=["low"]), BTC)


def test_slices_keep_funding_aligned() -> None:
    bars = make_bars(24 * 60)
    feed = prepare_feed(bars, BTC, funding=synthetic_funding(bars, "1m", D("0.0001")))

    part = feed.slice(400, 1000)

    assert len(part) == 600 and [f.bar for f in part.funding] == [79, 559]
