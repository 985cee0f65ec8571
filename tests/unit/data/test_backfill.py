"""Pagination planners: page sizes from the weight table, windows, ranges, the token bucket, gaps, aggTrades paging."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binfut.data.backfill import (
    PAGE_RULES,
    AggTradesPager,
    TokenBucket,
    Window,
    best_limit,
    find_grid_gaps,
    find_id_gaps,
    grid_ceil,
    grid_opens,
    merge_ranges,
    plan_windows,
    request_params,
    subtract_ranges,
)
from binfut.data.schema import kind, series_ms
from binfut.protocol.endpoints import BY_NAME

MIN = 60_000
DAY = 86_400_000
JAN1 = 1_704_067_200_000  # 2024-01-01, a Monday


# -- page sizes ----------------------------------------------------------------------------------------------


def test_best_kline_limit_is_499_not_1000() -> None:
    # Arrange: Binance's kline weights, read from the endpoint table.
    klines = BY_NAME["klines"]
    rate = {n: n / klines.weight_for({"limit": n}) for n in (99, 100, 499, 500, 1000, 1500)}

    # Act
    chosen = best_limit("klines")

    # Assert: 499 rows for weight 2 beat 1000 rows for weight 5 (249.5 vs 200 rows per weight).
    assert chosen == 499
    assert rate[499] == 249.5 and rate[1000] == 200 and rate[1500] == 150
    assert max(rate.values()) == rate[chosen]
    assert all(
        best_limit(k) == 499
        for k in ("continuous_klines", "index_price_klines", "mark_price_klines", "premium_index_klines")
    )


def test_constant_weight_and_request_budgets_take_the_maximum() -> None:
    assert best_limit("agg_trades") == 1000  # weight 20 at any limit
    assert best_limit("funding_rate_history") == 1000  # own budget, billed per request
    assert best_limit("open_interest_hist") == 500
    assert best_limit("klines", 300) == 300  # capped below 499: the largest limit of weight 2


# -- windows -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["1m", "3m", "15m", "1h", "8h", "1d", "3d", "1w", "1M"])
def test_kline_windows_tile_the_range_on_the_bar_grid(interval: str) -> None:
    start, end = JAN1 + 12_345, JAN1 + 400 * DAY + 7

    windows = plan_windows("klines", interval, start, end, 499)

    assert windows[0].start_ms == grid_ceil(interval, start)
    assert windows[-1].end_ms == end
    assert all(a.end_ms == b.start_ms for a, b in zip(windows, windows[1:]))
    for w in windows:  # no window may hold more than one page of bars
        assert len(grid_opens(interval, w.start_ms, w.end_ms)) <= 499


def test_weekly_bars_open_on_monday_and_monthly_on_the_first() -> None:
    assert grid_ceil("1w", JAN1 + 1) == JAN1 + 7 * DAY
    assert grid_ceil("1M", JAN1 + 1) == JAN1 + 31 * DAY
    assert list(grid_opens("1M", JAN1, JAN1 + 60 * DAY)) == [JAN1, JAN1 + 31 * DAY]


def test_agg_trade_windows_stay_under_one_hour_and_funding_windows_hold_a_page() -> None:
    agg = plan_windows("agg_trades", None, JAN1, JAN1 + DAY, 1000)
    funding = plan_windows("funding_rate_history", None, JAN1, JAN1 + 365 * DAY, 1000)

    assert len(agg) == 24 and all(w.end_ms - 1 - w.start_ms < 3_600_000 for w in agg)
    assert all(w.end_ms - w.start_ms <= 1000 * 3_600_000 for w in funding)  # 1000 settlements at the 1 h minimum


def test_request_params_follow_each_endpoints_parameters() -> None:
    w = Window(JAN1, JAN1 + 499 * MIN)

    assert request_params(kind("klines"), "BTCUSDT", "1m", w, 499) == {
        "symbol": "BTCUSDT", "interval": "1m", "start_time": JAN1, "end_time": JAN1 + 499 * MIN - 1, "limit": 499,
    }  # fmt: skip
    assert request_params(kind("continuous"), "BTCUSDT_PERPETUAL", "1m", w, 499)["pair"] == "BTCUSDT"
    assert request_params(kind("index"), "BTCUSDT", "1m", w, 499)["pair"] == "BTCUSDT"
    assert request_params(kind("basis"), "BTCUSDT", "5m", w, 500)["contract_type"] == "PERPETUAL"
    assert request_params(kind("oi"), "BTCUSDT", "5m", w, 500)["period"] == "5m"
    assert "interval" not in request_params(kind("funding"), "BTCUSDT", None, w, 1000)
    for spec in ("klines", "agg_trades", "funding", "oi", "basis"):  # every REST kind has a page rule
        assert kind(spec).endpoint in PAGE_RULES


# -- ranges --------------------------------------------------------------------------------------------------

ranges = st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), max_size=8)


@given(covered=ranges, start=st.integers(0, 1000), end=st.integers(0, 1000))
def test_subtracting_covered_ranges_leaves_exactly_the_uncovered_points(
    covered: list[tuple[int, int]], start: int, end: int
) -> None:
    todo = subtract_ranges(start, end, covered)

    points = {p for s, e in todo for p in range(s, e)}
    expected = {p for p in range(start, end) if not any(s <= p < e for s, e in covered)}
    assert points == expected
    assert todo == merge_ranges(todo)  # sorted, disjoint, not touching


def test_merge_joins_touching_ranges() -> None:
    assert merge_ranges([(5, 7), (0, 5), (9, 9), (8, 10)]) == [(0, 7), (8, 10)]


# -- budget --------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    arrivals=st.lists(st.tuples(st.integers(0, 5_000), st.sampled_from([1, 2, 5, 10, 20])), min_size=1, max_size=300),
    fraction=st.sampled_from([0.9, 0.99]),
)
def test_token_bucket_keeps_every_rolling_window_under_the_limit(
    arrivals: list[tuple[int, int]], fraction: float
) -> None:
    # Arrange: requests that arrive at random gaps and take the bucket's advice on when to send.
    bucket = TokenBucket(2400, 60_000, fraction=fraction, now_ms=0)
    now, sent = 0.0, []

    # Act
    for gap, cost in arrivals:
        now += gap
        delay = bucket.delay_ms(now, cost)
        now += delay
        assert bucket.delay_ms(now, cost) == pytest.approx(0, abs=1e-6)
        bucket.take(now, cost)
        sent.append((now, cost))

    # Assert: whatever the alignment, no 60 s window holds more than fraction x limit.
    times = np.array([t for t, _ in sent])
    costs = np.array([c for _, c in sent])
    for i, t in enumerate(times):
        in_window = costs[(times >= t) & (times < t + 60_000)].sum()
        assert in_window <= 2400 * fraction + 1e-6, (i, in_window)


def test_token_bucket_sustains_its_rate_and_counts_others_usage() -> None:
    bucket = TokenBucket(2400, 60_000, fraction=0.99, burst_fraction=0.03)
    assert bucket.per_window == pytest.approx(2376)
    assert bucket.rate * 60_000 == pytest.approx(2376 - 72)  # 96 % of the limit, sustained

    bucket.charge(0, 500)  # weight another process used this minute
    assert bucket.delay_ms(0, 2) == pytest.approx((500 - 72 + 2) / bucket.rate)


# -- gaps ----------------------------------------------------------------------------------------------------


def test_grid_gaps_report_each_missing_stretch() -> None:
    opens = grid_opens("1m", JAN1, JAN1 + 20 * MIN)
    present = np.delete(opens, [0, 5, 6, 7, 19])

    gaps = find_grid_gaps("klines", "BTCUSDT", "1m", present, JAN1, JAN1 + 20 * MIN)

    assert [(g.start_ms - JAN1) // MIN for g in gaps] == [0, 5, 19]
    assert [g.missing for g in gaps] == [1, 3, 1]
    assert gaps[1].end_ms == JAN1 + 8 * MIN and gaps[2].end_ms == JAN1 + 20 * MIN
    assert find_grid_gaps("klines", "BTCUSDT", "1m", opens, JAN1, JAN1 + 20 * MIN) == []


def test_id_gaps_span_the_trades_around_the_hole() -> None:
    gaps = find_id_gaps(
        "agg_trades", "BTCUSDT", np.array([11, 12, 15]), np.array([100, 200, 300]), previous_id=9, previous_time_ms=50
    )

    assert [(g.start_ms, g.end_ms, g.missing) for g in gaps] == [(50, 100, 1), (200, 300, 2)]


def test_series_lengths_come_from_the_interval_enum() -> None:
    assert series_ms("1m") == MIN and series_ms("1d") == DAY


# -- aggTrades paging ----------------------------------------------------------------------------------------

HOUR = 3_600_000


def test_agg_pager_searches_quiet_hours_then_follows_ids_across_them() -> None:
    # Arrange: three hours; the first is quiet.
    pager = AggTradesPager("BTCUSDT", plan_windows("agg_trades", None, JAN1, JAN1 + 3 * HOUR, 2), 2)

    # Act / Assert: a time window per quiet hour ...
    assert pager.request() == {"symbol": "BTCUSDT", "start_time": JAN1, "end_time": JAN1 + HOUR - 1, "limit": 2}
    assert pager.feed(0, None, None) == (JAN1 + HOUR, 1)
    assert pager.request()["start_time"] == JAN1 + HOUR
    # ... a full page: continue by id, whatever time the next trades have
    assert pager.feed(2, 41, JAN1 + HOUR + 10) == (JAN1 + HOUR + 10, 0)
    assert pager.request() == {"symbol": "BTCUSDT", "from_id": 42, "limit": 2}
    assert pager.feed(2, 43, JAN1 + 2 * HOUR + 5) == (JAN1 + 2 * HOUR + 5, 1)
    # ... a short page: nothing newer exists, the range is complete
    assert pager.feed(1, 44, JAN1 + 2 * HOUR + 9) == (JAN1 + 3 * HOUR, 1)
    assert pager.request() is None and pager.done


def test_agg_pager_stops_at_the_first_trade_past_the_range() -> None:
    pager = AggTradesPager("ETHUSDT", [Window(0, HOUR)], 1000)

    assert pager.feed(1000, 999, HOUR + 1) == (HOUR, 1)
    assert pager.request() is None
