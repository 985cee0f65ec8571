"""BookSync: every row of the transition table, the live fast path, and a model-based property test."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binfut.book import (
    TRANSITIONS,
    Applied,
    BookSync,
    Buffered,
    DepthDecoder,
    DepthSnapshot,
    DepthUpdate,
    Dropped,
    GapDetected,
    Ignored,
    Level,
    NeedSnapshot,
    Resynced,
    SnapshotLoaded,
    Stale,
    SyncAction,
    SyncInput,
    SyncOutcome,
    SyncState,
    render_transitions,
)
from binfut.protocol.endpoints import endpoint
from binfut.protocol.response import DecoderCache

S, In = SyncState, SyncInput


def diff(first: int, final: int, prev: int, bids: list[tuple[str, str]] | None = None) -> DepthUpdate:
    return DepthUpdate(
        event_time_ms=0,
        transaction_time_ms=0,
        symbol="BTCUSDT",
        first_update_id=first,
        final_update_id=final,
        prev_final_update_id=prev,
        bids=bids if bids is not None else [(f"{final}.0", "1")],
        asks=[],
    )


def snapshot(last_id: int) -> DepthSnapshot:
    return DepthSnapshot(last_update_id=last_id, bids=[("1.0", "5")], asks=[("9999.0", "5")])


# Machines in each state. Diffs in the buffer span ids 10..12; the snapshot of the await state is at 20.
def unsynced() -> BookSync:
    return BookSync("BTCUSDT", "0.1")


def buffering() -> BookSync:
    sync = unsynced()
    assert sync.feed_diff(diff(10, 12, 9)) == NeedSnapshot("BTCUSDT")
    return sync


def awaiting() -> BookSync:
    sync = unsynced()
    assert sync.feed_snapshot(snapshot(20)) == SnapshotLoaded("BTCUSDT", 20)
    return sync


def live() -> BookSync:
    sync = buffering()
    assert sync.feed_snapshot(snapshot(11)) == Resynced("BTCUSDT", 11, 12, 1)
    return sync


MAKE: dict[SyncState, Callable[[], BookSync]] = {
    S.UNSYNCED: unsynced,
    S.BUFFERING: buffering,
    S.AWAIT_OVERLAP: awaiting,
    S.LIVE: live,
}

# For each row: the input that the classifier must label as the row's input, and what the outcome must be.
Feed = DepthUpdate | DepthSnapshot | None  # None stands for reset()
CASES: dict[tuple[SyncState, SyncInput], tuple[Feed, SyncOutcome | None]] = {
    (S.UNSYNCED, In.DIFF_UNCHAINED): (diff(10, 12, 9), NeedSnapshot("BTCUSDT")),
    (S.UNSYNCED, In.SNAPSHOT_AHEAD): (snapshot(20), SnapshotLoaded("BTCUSDT", 20)),
    (S.BUFFERING, In.DIFF_CHAINED): (diff(13, 15, 12), Buffered("BTCUSDT", 2, False)),
    (S.BUFFERING, In.DIFF_UNCHAINED): (diff(14, 15, 13), Buffered("BTCUSDT", 1, False)),
    (S.BUFFERING, In.SNAPSHOT_OVERLAPS): (snapshot(10), Resynced("BTCUSDT", 10, 12, 1)),
    (S.BUFFERING, In.SNAPSHOT_AHEAD): (snapshot(13), SnapshotLoaded("BTCUSDT", 13)),
    (S.BUFFERING, In.SNAPSHOT_STALE): (snapshot(9), Stale("BTCUSDT", 9, 10)),
    (S.AWAIT_OVERLAP, In.DIFF_OLD): (diff(15, 19, 14), Dropped("BTCUSDT", 19)),
    (S.AWAIT_OVERLAP, In.DIFF_OVERLAPS): (diff(18, 20, 17), Resynced("BTCUSDT", 20, 20, 1)),
    (S.AWAIT_OVERLAP, In.DIFF_AHEAD): (diff(21, 22, 19), Stale("BTCUSDT", 20, 21)),
    (S.AWAIT_OVERLAP, In.SNAPSHOT_AHEAD): (snapshot(30), SnapshotLoaded("BTCUSDT", 30)),
    (S.LIVE, In.DIFF_CHAINED): (diff(13, 14, 12), Applied("BTCUSDT", 14)),
    (S.LIVE, In.DIFF_UNCHAINED): (diff(15, 16, 14), GapDetected("BTCUSDT", 12, 14)),
    (S.LIVE, In.SNAPSHOT_UNREQUESTED): (
        snapshot(50),
        Ignored("BTCUSDT", "snapshot while live; call reset() first to force a resync"),
    ),
    (S.UNSYNCED, In.RESET): (None, None),
    (S.BUFFERING, In.RESET): (None, None),
    (S.AWAIT_OVERLAP, In.RESET): (None, None),
    (S.LIVE, In.RESET): (None, None),
}


def feed(sync: BookSync, item: Feed) -> SyncOutcome | None:
    if item is None:
        sync.reset()
        return None
    return sync.feed_diff(item) if isinstance(item, DepthUpdate) else sync.feed_snapshot(item)


def test_every_table_row_has_a_case_and_no_pair_repeats() -> None:
    pairs = [(t.state, t.input) for t in TRANSITIONS]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == set(CASES)


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: f"{t.state.name}-{t.input.name}")
def test_walk_the_table(row: object) -> None:
    # Arrange
    assert isinstance(row, type(TRANSITIONS[0]))
    sync = MAKE[row.state]()
    assert sync.state is row.state
    item, expected = CASES[(row.state, row.input)]
    if isinstance(item, DepthUpdate):
        assert sync._classify_diff(item) is row.input
    elif isinstance(item, DepthSnapshot):
        assert sync._classify_snapshot(item) is row.input
    book_before = (sync.book.top_ticks("bid"), sync.book.top_ticks("ask"))

    # Act
    outcome = feed(sync, item)

    # Assert: next state and outcome are the row's; the action left its mark on book and buffer.
    assert sync.state is row.next_state
    assert outcome == expected
    assert (type(outcome) if outcome is not None else None) is row.outcome
    book_after = (sync.book.top_ticks("bid"), sync.book.top_ticks("ask"))
    action = row.action
    if action in (SyncAction.RESTART, SyncAction.CLEAR):
        assert sync.book.level_count("bid") == sync.book.level_count("ask") == 0
        assert sync.buffered == (1 if action is SyncAction.RESTART else 0)
    elif action in (SyncAction.LOAD, SyncAction.LOAD_REPLAY):
        assert sync.buffered == 0
        assert book_after[1] == [(99990, "5")]
    elif action in (SyncAction.DROP, SyncAction.DISCARD, SyncAction.IGNORE, SyncAction.BUFFER):
        assert book_after == book_before
    elif action is SyncAction.APPLY:
        assert isinstance(item, DepthUpdate)
        assert sync.book.best_bid_ticks() == item.final_update_id * 10
    assert sync.is_live is (row.next_state is S.LIVE)
    assert sync.needs_snapshot is (row.next_state is S.BUFFERING)


def test_live_fast_path_agrees_with_the_table_row() -> None:
    # Arrange
    row = next(t for t in TRANSITIONS if (t.state, t.input) == (S.LIVE, In.DIFF_CHAINED))
    fast, slow = live(), live()
    event = diff(13, 14, 12)

    # Act
    via_fast = fast.feed_diff(event)
    via_table = slow._step(In.DIFF_CHAINED, event, None)

    # Assert
    assert (row.action, row.next_state, row.outcome) == (SyncAction.APPLY, S.LIVE, Applied)
    assert via_fast == via_table == Applied("BTCUSDT", 14)
    assert fast.state is slow.state is S.LIVE
    assert fast.book.top_ticks("bid") == slow.book.top_ticks("bid")
    assert fast.update_id == slow.update_id == 14


def test_unreachable_pair_is_a_bug_not_a_desync() -> None:
    sync = live()
    with pytest.raises(RuntimeError, match="no transition"):
        sync._step(In.DIFF_OLD, diff(1, 2, 0), None)


def test_render_transitions_lists_every_row() -> None:
    text = render_transitions()
    assert text.count("\n") == len(TRANSITIONS) + 1
    assert "| live | diff, pu != previous u (or no previous diff) |" in text


# ---------------------------------------------------------------------------------------------- scenarios


def test_snapshot_overlap_replays_the_buffer_in_order() -> None:
    # Arrange: three chained diffs buffered; the snapshot sits inside the second.
    sync = unsynced()
    sync.feed_diff(diff(10, 12, 9, [("1.0", "1")]))
    sync.feed_diff(diff(13, 15, 12, [("2.0", "2")]))
    sync.feed_diff(diff(16, 18, 15, [("2.0", "0"), ("3.0", "3")]))

    # Act
    outcome = sync.feed_snapshot(DepthSnapshot(last_update_id=14, bids=[("0.5", "9")], asks=[]))

    # Assert: the first diff (u=12 < 14) is dropped; the other two apply on top of the snapshot.
    assert outcome == Resynced("BTCUSDT", 14, 18, 2)
    assert sync.book.top_ticks("bid") == [(30, "3"), (5, "9")]
    assert sync.update_id == 18


def test_first_diff_may_start_exactly_at_or_end_exactly_at_last_update_id() -> None:
    # U == lastUpdateId (SUSHIUSDT in the capture) and u == lastUpdateId (the other three) both sync.
    for first, final in ((20, 25), (15, 20)):
        sync = awaiting()
        assert sync.feed_diff(diff(first, final, first - 1)) == Resynced("BTCUSDT", 20, final, 1)
        assert sync.is_live


def test_gap_after_resync_goes_back_to_buffering_and_resyncs_again() -> None:
    # Arrange
    sync = live()

    # Act
    gap = sync.feed_diff(diff(20, 21, 19))
    buffered = sync.feed_diff(diff(22, 23, 21))
    resynced = sync.feed_snapshot(snapshot(22))

    # Assert
    assert gap == GapDetected("BTCUSDT", 12, 19)
    assert gap.needs_snapshot and not buffered.needs_snapshot
    assert buffered == Buffered("BTCUSDT", 2, False)
    assert resynced == Resynced("BTCUSDT", 22, 23, 1)


def test_stale_snapshot_then_a_fresh_one() -> None:
    # Arrange: a snapshot older than every buffered diff is refused; the buffer survives it.
    sync = buffering()
    stale = sync.feed_snapshot(snapshot(5))

    # Act
    fresh = sync.feed_snapshot(snapshot(11))

    # Assert
    assert stale == Stale("BTCUSDT", 5, 10)
    assert stale.needs_snapshot
    assert fresh == Resynced("BTCUSDT", 11, 12, 1)


def test_buffer_is_bounded_and_evicts_the_oldest() -> None:
    # Arrange
    sync = BookSync("BTCUSDT", "0.1", buffer_limit=3)
    sync.feed_diff(diff(1, 1, 0))

    # Act
    outcomes = [sync.feed_diff(diff(n, n, n - 1)) for n in range(2, 6)]

    # Assert
    assert outcomes == [
        Buffered("BTCUSDT", 2, False),
        Buffered("BTCUSDT", 3, False),
        Buffered("BTCUSDT", 3, True),
        Buffered("BTCUSDT", 3, True),
    ]
    assert [e.final_update_id for e in sync._buffer] == [3, 4, 5]
    # Diffs 1-2 are gone, so a snapshot at 1 is now older than everything held.
    assert sync.feed_snapshot(snapshot(1)) == Stale("BTCUSDT", 1, 3)
    with pytest.raises(ValueError, match="buffer_limit"):
        BookSync("X", buffer_limit=0)


def test_reset_forgets_everything() -> None:
    sync = live()
    sync.reset()
    assert (sync.state, sync.update_id, sync.buffered, sync.book.best_bid_ticks()) == (S.UNSYNCED, None, 0, None)
    assert sync.feed_diff(diff(40, 41, 39)) == NeedSnapshot("BTCUSDT")


def test_update_id_per_state_and_repr() -> None:
    assert unsynced().update_id is None
    assert buffering().update_id is None
    assert awaiting().update_id == 20
    assert live().update_id == 12
    assert repr(live()) == "BookSync('BTCUSDT', state=live, update_id=12, buffered=0)"


def test_given_book_is_used() -> None:
    from binfut.book import OrderBook

    book = OrderBook("BTCUSDT", "0.01")
    assert BookSync("BTCUSDT", book=book).book is book


# ---------------------------------------------------------------------------------------------- property


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[DepthUpdate], list[tuple[int, int]], set[int]]:
    """A true diff chain (ids global across symbols, so U may jump), snapshots taken after some diff and
    delivered some diffs later, and a set of diffs lost in transit."""
    n = draw(st.integers(min_value=1, max_value=40))
    events: list[DepthUpdate] = []
    prev = draw(st.integers(min_value=0, max_value=5))
    for _ in range(n):
        first = prev + draw(st.integers(min_value=1, max_value=3))
        final = first + draw(st.integers(min_value=0, max_value=3))
        levels = draw(
            st.lists(st.tuples(st.integers(1, 8).map(lambda t: f"{t}.0"), st.sampled_from(["0", "1", "2"])), max_size=4)
        )
        events.append(diff(first, final, prev, levels))
        prev = final
    # (taken after diff i, delivered before diff j); i == -1 means before any diff. The REST answer may
    # overtake the stream (j <= i), which is how a snapshot ends up ahead of every buffered diff.
    snaps = draw(st.lists(st.tuples(st.integers(-1, n - 1), st.integers(-4, 6)), max_size=4))
    lost = draw(st.sets(st.integers(0, n - 1), max_size=3))
    return events, [(i, max(0, min(n, i + 1 + d))) for i, d in snaps], lost


@settings(max_examples=400, deadline=None)
@given(stream=streams())
def test_model_book_is_exact_whenever_live(stream: tuple[list[DepthUpdate], list[tuple[int, int]], set[int]]) -> None:
    events, snaps, lost = stream
    # The exchange's true book after each diff, and its snapshots.
    truth: list[dict[int, str]] = []
    book: dict[int, str] = {}
    for e in events:
        for p, q in e.bids:
            if q == "0":
                book.pop(int(Decimal(p) * 10), None)
            else:
                book[int(Decimal(p) * 10)] = q
        truth.append(dict(book))
    start_id = events[0].prev_final_update_id
    taken = {
        i: DepthSnapshot(
            last_update_id=events[i].final_update_id if i >= 0 else start_id,
            bids=[(f"{t / 10:.1f}", q) for t, q in (truth[i] if i >= 0 else {}).items()],
            asks=[],
        )
        for i, _ in snaps
    }
    by_id = {e.final_update_id: truth[k] for k, e in enumerate(events)}
    by_id[start_id] = {}

    sync = BookSync("BTCUSDT", "0.1")
    for j, event in enumerate([*events, None]):
        for i, deliver in snaps:
            if deliver == j:
                out = sync.feed_snapshot(taken[i])
                assert not isinstance(out, (Applied,))
        if event is None or j in lost:
            continue
        out = sync.feed_diff(event)
        if sync.is_live:
            assert isinstance(out, Applied | Resynced)
            assert sync.update_id is not None
            assert dict(sync.book.top_ticks("bid")) == by_id[sync.update_id]
        if sync.is_live or sync.state is S.AWAIT_OVERLAP:
            assert sync.update_id in by_id
        if j - 1 in lost and j > 0 and isinstance(out, Applied):
            raise AssertionError("applied a diff right after a lost one")


# ---------------------------------------------------------------------------------------------- snapshot forms

# Verbatim SUSHIUSDT GET /fapi/v1/depth?limit=1000 body (shared/realdata, see tests/fixtures/SOURCE.txt).
REAL_BODY = (Path(__file__).resolve().parents[2] / "fixtures" / "http_market_depth__sushiusdt.json").read_bytes()
REAL_ID = 600859605926
SNAPSHOT_FORMS: dict[str, Callable[[], Any]] = {
    "client model": lambda: DecoderCache().for_type(endpoint("depth").returns)(REAL_BODY),  # what Client.depth returns
    "DepthSnapshot": lambda: DepthDecoder().decode_snapshot(REAL_BODY),
    "mapping": lambda: json.loads(REAL_BODY),
    "bytes": lambda: REAL_BODY,
    "str": lambda: REAL_BODY.decode(),
}


@pytest.mark.parametrize("form", SNAPSHOT_FORMS)
def test_feed_snapshot_takes_every_form_of_the_answer(form: str) -> None:
    # Arrange: a buffered diff spanning the real snapshot's lastUpdateId removes the best bid.
    sync = BookSync("SUSHIUSDT", "0.001")
    spanning = DepthUpdate(
        event_time_ms=0,
        transaction_time_ms=0,
        symbol="SUSHIUSDT",
        first_update_id=REAL_ID - 3,
        final_update_id=REAL_ID + 2,
        prev_final_update_id=REAL_ID - 4,
        bids=[("7.6110", "0")],
        asks=[],
    )
    assert sync.feed_diff(spanning) == NeedSnapshot("SUSHIUSDT")

    # Act
    outcome = sync.feed_snapshot(SNAPSHOT_FORMS[form]())

    # Assert
    assert outcome == Resynced("SUSHIUSDT", REAL_ID, REAL_ID + 2, 1)
    assert sync.book.best_bid() == Level(Decimal("7.6080"), Decimal("161"))
    assert sync.book.best_ask() == Level(Decimal("7.6120"), Decimal("297"))
    assert (sync.book.level_count("bid"), sync.book.level_count("ask")) == (999, 1000)


def test_feed_snapshot_refuses_other_types_and_keeps_its_state() -> None:
    sync = buffering()

    with pytest.raises(TypeError, match="not a depth snapshot: builtins.list"):
        sync.feed_snapshot([20, [], []])  # type: ignore[arg-type]

    assert (sync.state, sync.buffered) == (S.BUFFERING, 1)
