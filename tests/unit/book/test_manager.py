"""BookManager: per-symbol isolation, the snapshot queue, and weight-safe snapshot planning."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from binfut.book import (
    Applied,
    BookManager,
    Buffered,
    DepthDecoder,
    DepthSnapshot,
    DepthUpdate,
    GapDetected,
    Ignored,
    Level,
    NeedSnapshot,
    Resynced,
    SnapshotLoaded,
    Stale,
    SyncState,
)
from binfut.errors import RemoteProtocolError
from binfut.protocol.endpoints import endpoint
from binfut.protocol.response import DecoderCache

# Verbatim SUSHIUSDT GET /fapi/v1/depth?limit=1000 body (shared/realdata, see tests/fixtures/SOURCE.txt).
REAL_BODY = (Path(__file__).resolve().parents[2] / "fixtures" / "http_market_depth__sushiusdt.json").read_bytes()


def diff(symbol: str, first: int, final: int, prev: int) -> DepthUpdate:
    return DepthUpdate(
        event_time_ms=0,
        transaction_time_ms=0,
        symbol=symbol,
        first_update_id=first,
        final_update_id=final,
        prev_final_update_id=prev,
        bids=[(f"{final}.0", "1")],
        asks=[("99999.0", "1")],
    )


def sushi_diff(first: int, final: int, prev: int) -> DepthUpdate:
    """A SUSHIUSDT diff that changes no level: the book must equal the snapshot."""
    return DepthUpdate(
        event_time_ms=0,
        transaction_time_ms=0,
        symbol="SUSHIUSDT",
        first_update_id=first,
        final_update_id=final,
        prev_final_update_id=prev,
        bids=[],
        asks=[],
    )


def snap(last_id: int) -> DepthSnapshot:
    return DepthSnapshot(last_update_id=last_id, bids=[("1.0", "1")], asks=[("99999.0", "1")])


def live_manager(symbols: list[str]) -> BookManager:
    manager = BookManager()
    for s in symbols:
        manager.add(s, "0.1")
        assert manager.feed_diff(diff(s, 10, 12, 9)) == NeedSnapshot(s)
    manager.mark_requested(symbols)
    for s in symbols:
        assert manager.feed_snapshot(s, snap(11)) == Resynced(s, 11, 12, 1)
    return manager


def test_gap_in_one_symbol_resyncs_only_that_symbol() -> None:
    # Arrange
    manager = live_manager(["BTCUSDT", "ETHUSDT", "SOLUSDT"])

    # Act
    gap = manager.feed_diff(diff("ETHUSDT", 20, 21, 19))  # expected pu=12
    others = [manager.feed_diff(diff(s, 13, 14, 12)) for s in ("BTCUSDT", "SOLUSDT")]

    # Assert
    assert gap == GapDetected("ETHUSDT", 12, 19)
    assert others == [Applied("BTCUSDT", 14), Applied("SOLUSDT", 14)]
    assert manager.waiting() == ["ETHUSDT"]
    assert [manager[s].state for s in manager] == [SyncState.LIVE, SyncState.BUFFERING, SyncState.LIVE]
    assert manager.book("ETHUSDT").best_bid_ticks() is None  # cleared, never served stale
    assert manager.book("BTCUSDT").best_bid_ticks() == 140


def test_waiting_queue_follows_the_machines() -> None:
    # Arrange
    manager = BookManager()
    for s in ("A", "B", "C"):
        manager.add(s)

    # Act / Assert: FIFO by first need.
    manager.feed_diff(diff("B", 1, 1, 0))
    manager.feed_diff(diff("A", 1, 1, 0))
    assert manager.feed_diff(diff("A", 2, 2, 1)) == Buffered("A", 2, False)
    assert manager.waiting() == ["B", "A"]

    manager.mark_requested(["B", "unknown"])
    assert (manager.waiting(), manager.in_flight()) == (["A"], ["B"])

    # A stale answer puts the symbol back in the queue, a good one takes it out for good.
    assert manager.feed_snapshot("B", snap(0)) == Stale("B", 0, 1)
    assert (manager.waiting(), manager.in_flight()) == (["A", "B"], [])
    manager.mark_requested(["A", "B"])
    assert manager.feed_snapshot("A", snap(1)) == Resynced("A", 1, 2, 2)
    assert manager.feed_snapshot("B", snap(5)) == SnapshotLoaded("B", 5)
    assert (manager.waiting(), manager.in_flight()) == ([], [])


def test_failed_request_goes_back_to_the_front() -> None:
    manager = BookManager()
    for s in ("A", "B"):
        manager.add(s)
        manager.feed_diff(diff(s, 1, 1, 0))
    manager.mark_requested(["A"])
    manager.snapshot_failed("A")
    assert manager.waiting() == ["A", "B"]
    manager.snapshot_failed("B")  # not in flight: stays where it is
    assert manager.waiting() == ["A", "B"]


def test_need_while_request_in_flight_does_not_queue_twice() -> None:
    # Arrange: a reconnect resets a symbol whose snapshot request is still on its way.
    manager = BookManager()
    manager.add("A")
    manager.feed_diff(diff("A", 1, 1, 0))
    manager.mark_requested(["A"])

    # Act
    manager.reset("A")
    manager.feed_diff(diff("A", 5, 5, 4))

    # Assert: the answer in flight will serve the new need.
    assert manager.waiting() == []
    assert manager.feed_snapshot("A", snap(5)) == Resynced("A", 5, 5, 1)


def test_reset_all_and_remove() -> None:
    manager = live_manager(["A", "B"])
    manager.reset()
    assert [manager[s].state for s in manager] == [SyncState.UNSYNCED] * 2
    manager.remove("A")
    manager.remove("A")
    assert list(manager) == ["B"] and len(manager) == 1 and "A" not in manager


def test_add_is_idempotent() -> None:
    manager = BookManager(buffer_limit=7)
    first = manager.add("A", "0.1")
    assert manager.add("A") is first
    assert first._buffer.maxlen == 7


def test_unknown_symbols_are_ignored() -> None:
    manager = BookManager()
    assert manager.feed_diff(diff("X", 1, 1, 0)) == Ignored("X", "symbol not managed")
    assert manager.feed_snapshot("X", snap(1)) == Ignored("X", "symbol not managed")


def test_frames_and_raw_snapshot_bodies() -> None:
    # Arrange
    manager = BookManager()
    manager.add("BTCUSDT", "0.10")
    frame = msgspec.json.encode({"stream": "btcusdt@depth", "data": diff("BTCUSDT", 10, 12, 9)})
    body = b'{"lastUpdateId":11,"E":1,"T":1,"bids":[["100.00","2.000"]],"asks":[["100.10","1.000"]]}'

    # Act
    first = manager.feed_frame(frame)
    synced = manager.feed_snapshot("BTCUSDT", body)

    # Assert
    assert (first, synced) == (NeedSnapshot("BTCUSDT"), Resynced("BTCUSDT", 11, 12, 1))
    assert manager.book("BTCUSDT").best_ask_ticks() == 1001
    with pytest.raises(RemoteProtocolError):
        manager.feed_snapshot("BTCUSDT", b"{}")


@pytest.mark.parametrize("form", ["client model", "mapping", "bytes", "str", "DepthSnapshot"])
def test_feed_snapshot_takes_what_client_depth_returns_and_every_other_form(form: str) -> None:
    # Arrange: the real SUSHIUSDT snapshot, decoded as Client.depth decodes it (the endpoint's return type).
    body = REAL_BODY
    model = DecoderCache().for_type(endpoint("depth").returns)(body)
    answer = {
        "client model": model,
        "mapping": json.loads(body),
        "bytes": body,
        "str": body.decode(),
        "DepthSnapshot": DepthDecoder().decode_snapshot(body),
    }[form]
    manager = BookManager()
    manager.add("SUSHIUSDT", "0.001")
    last = model.last_update_id
    assert manager.feed_diff(sushi_diff(last - 1, last + 1, last - 2)) == NeedSnapshot("SUSHIUSDT")
    manager.mark_requested(["SUSHIUSDT"])

    # Act
    outcome = manager.feed_snapshot("SUSHIUSDT", answer)

    # Assert: live, nothing in flight, and the levels are Binance's exactly.
    assert outcome == Resynced("SUSHIUSDT", last, last + 1, 1)
    assert (manager.in_flight(), manager.waiting()) == ([], [])
    book = manager.book("SUSHIUSDT")
    assert book.top("bid", 2) == [Level(p, q) for p, q in model.bids[:2]]
    assert book.top("ask", 1000) == [Level(p, q) for p, q in model.asks]
    assert [qty for _, qty in book.top_ticks("ask")] == [qty for _, qty in json.loads(body)["asks"]]  # wire strings


def test_feed_snapshot_of_another_type_is_a_type_error() -> None:
    manager = BookManager()
    manager.add("BTCUSDT", "0.10")
    manager.feed_diff(diff("BTCUSDT", 10, 12, 9))
    manager.mark_requested(["BTCUSDT"])

    with pytest.raises(TypeError, match="not a depth snapshot: builtins.NoneType"):
        manager.feed_snapshot("BTCUSDT", None)  # type: ignore[arg-type]

    assert manager["BTCUSDT"].needs_snapshot


# ---------------------------------------------------------------------------------------------- budget


def test_two_hundred_symbols_resync_without_exceeding_the_weight_limit() -> None:
    # Arrange: 200 symbols all gap at once; each snapshot (limit=1000) weighs 20, the limit is 2400/min.
    symbols = [f"S{i:03d}USDT" for i in range(200)]
    manager = live_manager(symbols)
    for s in symbols:
        manager.feed_diff(diff(s, 30, 31, 29))
    assert len(manager.waiting()) == 200

    # Act: a driver loop as the I/O layer would run it, once a second, with 100 weight of other traffic
    # already used in the first window. Snapshots are answered at once.
    used: dict[int, int] = {0: 100}  # window index -> weight used
    now = 5_000  # start 5 s into a window
    requested: list[str] = []
    wake_ups: list[int | None] = []
    while manager.waiting() and now < 10 * 60_000:
        window = now // 60_000
        plan = manager.plan_snapshots(now, used.get(window, 0), 2400)
        used[window] = used.get(window, 0) + plan.weight
        wake_ups.append(plan.next_at_ms)
        for s in plan.symbols:
            requested.append(s)
            assert manager.feed_snapshot(s, snap(30)) == Resynced(s, 30, 31, 1)
        now += 1_000

    # Assert: no window over the limit; 115 in the first (2300 of weight left), the other 85 in the next.
    assert max(used.values()) <= 2400
    assert used == {0: 100 + 115 * 20, 1: 85 * 20}
    assert sorted(requested) == symbols and len(requested) == 200
    assert all(manager[s].is_live for s in symbols)
    assert wake_ups[0] == 60_000 and wake_ups[-1] is None


def test_plan_respects_reserve_and_stale_readings() -> None:
    manager = BookManager()
    for i in range(10):
        manager.add(f"S{i}")
        manager.feed_diff(diff(f"S{i}", 1, 1, 0))

    # 2400 - 2300 used - 40 reserved leaves room for 3 snapshots of weight 20.
    plan = manager.plan_snapshots(1_000, 2_300, reserve=40)
    assert (plan.symbols, plan.weight, plan.next_at_ms) == (("S0", "S1", "S2"), 60, 60_000)

    # A reading from the previous window does not count; depth_limit=100 weighs 5.
    plan = manager.plan_snapshots(61_000, 2_400, used_at_ms=59_000, depth_limit=100)
    assert (len(plan.symbols), plan.weight, plan.next_at_ms) == (7, 35, None)


def test_failed_request_for_a_symbol_that_no_longer_needs_one() -> None:
    manager = BookManager()
    manager.add("A")
    manager.feed_diff(diff("A", 1, 1, 0))
    manager.mark_requested(["A"])
    manager.reset("A")  # e.g. the stream reconnected; no diff since
    manager.snapshot_failed("A")
    assert (manager.waiting(), manager.in_flight()) == ([], [])
