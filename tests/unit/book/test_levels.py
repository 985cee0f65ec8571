"""OrderBook: tick parsing, level updates, best bid/ask and the derived reads, against exact values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binfut.book import BookSide, Depth, FillEstimate, Level, OrderBook
from binfut.book.levels import _HEAP_SLACK

D = Decimal


def make_book() -> OrderBook:
    book = OrderBook("BTCUSDT", "0.10")
    book.apply_snapshot(
        bids=[("100.00", "1.000"), ("99.90", "2.000"), ("99.50", "3.500")],
        asks=[("100.20", "0.500"), ("100.30", "1.500"), ("101.00", "4.000")],
    )
    return book


# ---------------------------------------------------------------------------------------------- ticks


def test_prices_become_exchange_ticks_without_float() -> None:
    # Arrange
    book = OrderBook("BTCUSDT", "0.10")

    # Act / Assert
    assert book.to_ticks("63943.90") == 639439
    assert book.to_ticks("63943.9") == 639439
    assert book.to_ticks(D("63943.900")) == 639439
    assert book.to_ticks("0") == 0
    assert book.to_price(639439) == D("63943.90")
    assert str(book.to_price(639439)) == "63943.90"  # the tick's exponent is kept
    # A price beyond float's 53-bit mantissa stays exact.
    assert book.to_ticks("123456789012345678.10") == 1234567890123456781


def test_tick_with_non_power_of_ten_units() -> None:
    # Arrange: some contracts use ticks such as 0.05 or 5.
    book = OrderBook("X", "0.05")

    # Act / Assert
    assert book.to_ticks("1.15") == 23
    with pytest.raises(ValueError, match="not a multiple of tick size"):
        book.to_ticks("1.12")
    assert OrderBook("Y", "5").to_ticks("25") == 5


@pytest.mark.parametrize("bad", ["1.2.3", "-1.0", "1e5", "", ".5", "1,0", "nan", "١٠٠"])
def test_malformed_prices_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a plain decimal price"):
        OrderBook("X", "0.1").to_ticks(bad)


def test_price_finer_than_tick_is_refused() -> None:
    with pytest.raises(ValueError, match="finer than tick size"):
        OrderBook("X", "0.10").to_ticks("100.01")


@pytest.mark.parametrize("tick", ["0", "-0.1", "NaN", "Infinity"])
def test_bad_tick_size_is_refused(tick: str) -> None:
    with pytest.raises(ValueError, match="tick size"):
        OrderBook("X", tick)


def test_inferred_grid_refines_and_rescales_existing_levels() -> None:
    # Arrange: no tick given; the first prices have one significant decimal.
    book = OrderBook("X")
    book.apply_snapshot(bids=[("10.50", "1")], asks=[("10.60", "2")])
    assert book.tick_size == D("0.1")
    assert book.best_bid_ticks() == 105

    # Act: a finer price arrives in a diff.
    book.apply_diff(bids=[("10.55", "3")], asks=[])

    # Assert: everything moved to the 0.01 grid, order intact.
    assert book.tick_size == D("0.01")
    assert book.top_ticks("bid") == [(1055, "3"), (1050, "1")]
    assert book.best_ask_ticks() == 1060
    assert book.best_bid() == Level(D("10.55"), D("3"))
    assert book.spread_ticks() == 5


def test_inferred_grid_refines_inside_a_snapshot() -> None:
    book = OrderBook("X")
    book.apply_snapshot(bids=[("7", "1"), ("6.5", "1"), ("6.25", "1")], asks=[("8", "1")])
    assert book.top_ticks("bid") == [(700, "1"), (650, "1"), (625, "1")]
    assert book.best_ask_ticks() == 800


# ---------------------------------------------------------------------------------------------- updates


def test_snapshot_skips_zero_quantities_and_replaces_everything() -> None:
    # Arrange
    book = make_book()

    # Act
    book.apply_snapshot(bids=[("90.00", "0.000"), ("89.00", "1.000")], asks=[("91.00", "2.000")])

    # Assert
    assert book.top_ticks("bid") == [(890, "1.000")]
    assert book.top_ticks("ask") == [(910, "2.000")]


def test_diff_sets_absolute_quantities_and_zero_removes() -> None:
    # Arrange
    book = make_book()

    # Act
    book.apply_diff(
        bids=[("100.00", "0.000"), ("99.90", "7.000"), ("99.80", "1.000"), ("50.00", "0")],  # 50.00 is absent
        asks=[("100.20", "0"), ("100.10", "0.250")],
    )

    # Assert
    assert book.top_ticks("bid") == [(999, "7.000"), (998, "1.000"), (995, "3.500")]
    assert book.top_ticks("ask") == [(1001, "0.250"), (1003, "1.500"), (1010, "4.000")]
    assert book.best_bid() == Level(D("99.90"), D("7.000"))
    assert book.best_ask() == Level(D("100.10"), D("0.250"))


def test_best_is_none_on_empty_sides() -> None:
    book = OrderBook("X", "0.1")
    assert (book.best_bid_ticks(), book.best_ask_ticks(), book.best_bid(), book.best_ask()) == (None,) * 4
    assert (book.mid(), book.spread(), book.spread_ticks(), book.is_crossed()) == (None, None, None, False)
    book.apply_diff(bids=[("1.0", "1")], asks=[])
    assert book.mid() is None and not book.is_crossed()


def test_removing_every_level_empties_the_side() -> None:
    book = make_book()
    book.apply_diff(bids=[("100.00", "0"), ("99.90", "0"), ("99.50", "0")], asks=[])
    assert book.best_bid_ticks() is None
    assert book.level_count("bid") == 0
    assert book.level_count("ask") == 3


def test_readding_a_removed_level_keeps_best_correct() -> None:
    # Arrange: the heap still holds a stale entry for 100.00 when it comes back.
    book = make_book()
    book.apply_diff(bids=[("100.00", "0")], asks=[])
    assert book.best_bid_ticks() == 999

    # Act
    book.apply_diff(bids=[("100.00", "9.000")], asks=[])
    book.apply_diff(bids=[("100.00", "0")], asks=[])

    # Assert
    assert book.best_bid() == Level(D("99.90"), D("2.000"))


def test_lazy_heaps_stay_bounded_under_churn() -> None:
    # Arrange: deep levels appear and vanish without ever reaching the top, so nothing pops them.
    book = make_book()

    # Act
    for i in range(20_000):
        price = f"{50 + (i % 400) / 10:.2f}"
        book.apply_diff(bids=[(price, "1.000")], asks=[])
        book.apply_diff(bids=[(price, "0")], asks=[])

    # Assert
    assert len(book._bid_heap) <= 2 * book.level_count("bid") + _HEAP_SLACK + 1
    assert book.top_ticks("bid") == [(1000, "1.000"), (999, "2.000"), (995, "3.500")]


def test_clear_keeps_the_grid() -> None:
    book = make_book()
    book.clear()
    assert (book.level_count("bid"), book.level_count("ask"), book.best_bid_ticks()) == (0, 0, None)
    assert book.tick_size == D("0.10")


# ---------------------------------------------------------------------------------------------- reads


def test_top_n_best_first() -> None:
    book = make_book()
    assert book.top("bid", 2) == [Level(D("100.00"), D("1.000")), Level(D("99.90"), D("2.000"))]
    assert book.top("ask", 5) == [
        Level(D("100.20"), D("0.500")),
        Level(D("100.30"), D("1.500")),
        Level(D("101.00"), D("4.000")),
    ]
    assert book.top("ask", 0) == []
    assert book.top_ticks("bid", 1) == [(1000, "1.000")]


def test_mid_spread_and_spread_in_ticks() -> None:
    book = make_book()
    assert book.spread_ticks() == 2
    assert book.spread() == D("0.20")
    assert book.mid() == D("100.10")
    book.apply_diff(bids=[], asks=[("100.10", "1.000")])
    assert book.spread_ticks() == 1
    assert book.mid() == D("100.05")


def test_is_crossed() -> None:
    book = make_book()
    assert not book.is_crossed()
    book.apply_diff(bids=[("100.20", "1.000")], asks=[])  # bid == ask counts as crossed
    assert book.is_crossed()


def test_qty_at() -> None:
    book = make_book()
    assert book.qty_at("bid", "99.90") == D("2.000")
    assert book.qty_at("ask", D("100.3")) == D("1.500")
    assert book.qty_at("ask", "99.90") == 0


def test_level_count_and_side_validation() -> None:
    book = make_book()
    assert book.level_count("bid") == 3
    with pytest.raises(ValueError, match="side must be"):
        book.level_count("buy")  # type: ignore[arg-type]


def test_depth_to_price_asks_inclusive() -> None:
    book = make_book()
    assert book.depth_to_price("ask", "100.30") == Depth(
        qty=D("2.000"), notional=D("100.20") * D("0.5") + D("100.30") * D("1.5"), levels=2
    )
    assert book.depth_to_price("ask", "100.30").notional == D("200.55000")
    # An off-grid limit rounds inward: 100.35 still stops at 100.30.
    assert book.depth_to_price("ask", "100.35").levels == 2
    assert book.depth_to_price("ask", "100.19") == Depth(qty=D(0), notional=D(0), levels=0)
    assert book.depth_to_price("ask", "1000").qty == D("6.000")


def test_depth_to_price_bids_inclusive() -> None:
    book = make_book()
    assert book.depth_to_price("bid", "99.90") == Depth(qty=D("3.000"), notional=D("299.80000"), levels=2)
    # 99.85 rounds inward to 99.90 for bids.
    assert book.depth_to_price("bid", "99.85").levels == 2
    assert book.depth_to_price("bid", "99.50").levels == 3
    assert book.depth_to_price("bid", "100.01").levels == 0


def test_average_fill_price_walks_the_book() -> None:
    book = make_book()

    est = book.average_fill_price("ask", "1.0")

    # 0.5 @ 100.20 + 0.5 @ 100.30 = 100.25
    assert est == FillEstimate(
        requested=D("1.0"),
        filled=D("1.0"),
        notional=D("100.2500"),
        avg_price=D("100.25"),
        worst_price=D("100.30"),
        levels=2,
        complete=True,
    )


def test_average_fill_price_sell_side_exact_level() -> None:
    est = make_book().average_fill_price("bid", D("3"))
    assert (est.avg_price, est.worst_price, est.levels, est.complete) == (
        (D("100.00") * 1 + D("99.90") * 2) / 3,
        D("99.90"),
        2,
        True,
    )


def test_average_fill_price_reports_missing_liquidity() -> None:
    est = make_book().average_fill_price("ask", "10")
    assert not est.complete
    assert est.filled == D("6.000")
    assert est.notional == D("100.20") * D("0.5") + D("100.30") * D("1.5") + D("101.00") * 4
    assert est.worst_price == D("101.00")
    assert est.levels == 3


def test_average_fill_price_on_empty_side_and_bad_qty() -> None:
    est = OrderBook("X", "0.1").average_fill_price("bid", "1")
    assert (est.filled, est.avg_price, est.worst_price, est.complete) == (D(0), None, None, False)
    with pytest.raises(ValueError, match="qty must be positive"):
        make_book().average_fill_price("ask", "0")


def test_repr_names_the_best_levels() -> None:
    assert "best_bid=1000, best_ask=1002" in repr(make_book())


# ---------------------------------------------------------------------------------------------- property


class NaiveBook:
    """Reference: Decimal price -> Decimal qty dicts, sorted on every read."""

    def __init__(self) -> None:
        self.sides: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "ask": {}}

    def apply(self, side: str, levels: list[tuple[str, str]]) -> None:
        for p, q in levels:
            if D(q) == 0:
                self.sides[side].pop(D(p), None)
            else:
                self.sides[side][D(p)] = D(q)

    def sorted(self, side: str) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.sides[side].items(), reverse=side == "bid")


# Prices on a small grid so levels collide, vanish and come back; quantities with fixed decimals as Binance
# sends them, zero one time in four.
price_st = st.integers(min_value=1, max_value=60).map(lambda t: f"{t // 10}.{t % 10}0")
qty_st = st.one_of(st.just("0.000"), st.just("0"), st.integers(1, 5000).map(lambda n: f"{n // 1000}.{n % 1000:03d}"))
levels_st = st.lists(st.tuples(price_st, qty_st), max_size=12)
ops_st = st.lists(st.tuples(st.sampled_from(["diff", "diff", "diff", "snapshot"]), levels_st, levels_st), max_size=40)


@settings(max_examples=300, deadline=None)
@given(ops=ops_st, inferred=st.booleans())
def test_random_diffs_match_naive_reference(
    ops: list[tuple[str, list[tuple[str, str]], list[tuple[str, str]]]], inferred: bool
) -> None:
    book = OrderBook("X", None if inferred else "0.10")
    naive = NaiveBook()
    for kind, bids, asks in ops:
        if kind == "snapshot":
            book.apply_snapshot(bids, asks)
            naive = NaiveBook()
        else:
            book.apply_diff(bids, asks)
        naive.apply("bid", bids)
        naive.apply("ask", asks)
        sides: tuple[BookSide, ...] = ("bid", "ask")
        for side in sides:
            expected = naive.sorted(side)
            best = book.best_bid() if side == "bid" else book.best_ask()
            assert best == (Level(*expected[0]) if expected else None)
            assert book.top(side, 3) == [Level(p, q) for p, q in expected[:3]]
            assert [(book.to_price(t), D(q)) for t, q in book.top_ticks(side)] == expected
        bids_sorted, asks_sorted = naive.sorted("bid"), naive.sorted("ask")
        if bids_sorted and asks_sorted:
            assert book.spread() == asks_sorted[0][0] - bids_sorted[0][0]
            assert book.is_crossed() == (bids_sorted[0][0] >= asks_sorted[0][0])


def test_price_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange
    monkeypatch.setattr("binfut.book.levels._CACHE_LIMIT", 8)
    book = OrderBook("X", "0.1")

    # Act
    for t in range(1, 30):
        book.apply_diff(bids=[(f"{t}.0", "1")], asks=[])

    # Assert: the cache was emptied on the way, and the levels are all there.
    assert len(book._cache) <= 8
    assert book.level_count("bid") == 29
    assert book.best_bid_ticks() == 290
