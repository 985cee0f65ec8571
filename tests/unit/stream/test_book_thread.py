"""The blocking book's parts without an exchange: the copies, the lock and change hooks (the loop thread: test_loop.py)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from binfut.book import DepthDecoder, Level
from binfut.config import Urls
from binfut.protocol.events import StreamMessage
from binfut.stream import BookLevels, LiveOrderBook, LiveOrderBookThread, StreamManager


def test_book_levels_derive_best_spread_and_mid() -> None:
    full = BookLevels(
        symbol="BTCUSDT",
        update_id=7,
        live=True,
        bids=(Level(Decimal("100.0"), Decimal("1")), Level(Decimal("99.9"), Decimal("2"))),
        asks=(Level(Decimal("100.5"), Decimal("3")),),
    )
    empty = BookLevels(symbol="BTCUSDT", update_id=None, live=False, bids=(), asks=())

    assert full.best_bid == Level(Decimal("100.0"), Decimal("1")) and full.best_ask == Level(
        Decimal("100.5"), Decimal("3")
    )
    assert full.spread == Decimal("0.5") and full.mid == Decimal("100.25")
    assert (empty.best_bid, empty.best_ask, empty.spread, empty.mid) == (None, None, None, None)


def test_the_blocking_book_refuses_reads_before_start() -> None:
    books = LiveOrderBookThread(lambda: None, ["btcusdt"])  # type: ignore[arg-type,return-value]

    with pytest.raises(RuntimeError, match="not started"):
        books.top_of_book("BTCUSDT")
    with pytest.raises(RuntimeError, match="not started"):
        books.wait_update("BTCUSDT", timeout=0.01)
    books.stop()  # nothing to stop
    assert repr(books) == "LiveOrderBookThread(stopped)"


class RecordingLock:
    """A lock that records whether it is held."""

    def __init__(self) -> None:
        self.held = False
        self.entries = 0

    def __enter__(self) -> None:
        assert not self.held
        self.held, self.entries = True, self.entries + 1

    def __exit__(self, *exc: object) -> None:
        self.held = False


class QuietManager(StreamManager):
    """A stream manager that subscribes nothing (no socket is opened)."""

    async def subscribe(self, *streams: str) -> list[str]:
        return list(streams)


class SnapshotClient:
    """Answers every depth request with one fixed snapshot."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    async def depth(self, *, symbol: str, limit: int) -> dict[str, Any]:
        return self.body


def diff(first: int, last: int, prev: int, bids: list[list[str]]) -> StreamMessage:
    frame = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": first, "u": last, "pu": prev, "b": bids, "a": []}
    return StreamMessage("btcusdt@depth@100ms", DepthDecoder().decode(json.dumps(frame).encode()))


def test_live_book_changes_the_books_inside_the_lock_and_reports_each_change() -> None:
    lock = RecordingLock()
    changes: list[tuple[str, bool]] = []
    snapshot = {"lastUpdateId": 100, "bids": [["100.0", "3"]], "asks": [["100.5", "1"]]}

    async def run() -> None:
        manager = QuietManager(Urls.local("http://127.0.0.1:1"))
        book = LiveOrderBook(
            manager, SnapshotClient(snapshot), lock=lock, on_change=lambda s: changes.append((s, lock.held))
        )
        await book.add("BTCUSDT")
        book._on_depth(diff(95, 101, 94, [["100.0", "1"]]))  # the first diff: a snapshot is needed
        await book._fetch("BTCUSDT")  # resynced: snapshot 100 + the diff spanning it
        book._on_depth(diff(102, 103, 101, [["100.1", "4"]]))  # applied
        book._on_depth(diff(104, 105, 101, []))  # pu does not chain to 103: a gap
        await manager.close()
        assert (book.resyncs, book.gaps) == (1, 1)

    asyncio.run(run())

    assert changes == [("BTCUSDT", True)] * 4  # NeedSnapshot, Resynced, Applied, GapDetected: all under the lock
    assert lock.entries == 5 and not lock.held  # add + three diffs + one snapshot
