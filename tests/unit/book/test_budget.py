"""snapshot_budget and depth_weight: exact answers at the window edges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binfut.book import DEPTH_WEIGHTS, SnapshotBudget, depth_weight, snapshot_budget


def test_depth_weights_follow_the_order_book_page() -> None:
    assert [depth_weight(n) for n in (5, 10, 20, 50, 100, 500, 1000)] == [2, 2, 2, 2, 5, 10, 20]
    assert set(DEPTH_WEIGHTS) == {5, 10, 20, 50, 100, 500, 1000}
    with pytest.raises(ValueError, match="depth limit"):
        depth_weight(200)


def test_fresh_window_allows_limit_over_weight() -> None:
    assert snapshot_budget(0, 0) == SnapshotBudget(allowed=120, next_at_ms=0, window_end_ms=60_000)


def test_partly_used_window() -> None:
    assert snapshot_budget(30_500, 2_390, 2400) == SnapshotBudget(allowed=0, next_at_ms=60_000, window_end_ms=60_000)
    assert snapshot_budget(30_500, 2_380, 2400).allowed == 1
    assert snapshot_budget(30_500, 2_000, 2400, reserve=300).allowed == 5


def test_over_limit_reading_allows_nothing() -> None:
    assert snapshot_budget(59_999, 3_000).allowed == 0


def test_reading_from_an_earlier_window_counts_as_zero() -> None:
    assert snapshot_budget(60_000, 2_400, used_at_ms=59_999).allowed == 120
    assert snapshot_budget(60_000, 2_400, used_at_ms=60_000).allowed == 0
    assert snapshot_budget(119_999, 2_400, used_at_ms=60_000).window_end_ms == 120_000


def test_bad_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="weight"):
        snapshot_budget(0, 0, weight=0)


@given(
    now=st.integers(0, 10**13),
    used=st.integers(0, 5000),
    limit=st.integers(0, 6000),
    weight=st.sampled_from(sorted(set(DEPTH_WEIGHTS.values()))),
)
def test_taking_what_is_allowed_never_exceeds_the_limit(now: int, used: int, limit: int, weight: int) -> None:
    budget = snapshot_budget(now, used, limit, weight=weight)
    assert budget.allowed >= 0
    assert used + budget.allowed * weight <= max(limit, used)
    assert used + (budget.allowed + 1) * weight > limit  # and it is the most that fits
    assert now < budget.window_end_ms <= now + 60_000
