"""LiveOrderBook: exact local order books of many symbols, from the diff stream plus REST snapshots.

Owns the glue between a :class:`~binfut.stream.manager.StreamManager` (``<symbol>@depth@<speed>``), a REST
client (``GET /fapi/v1/depth?limit=1000``) and the sans-IO :class:`~binfut.book.BookManager`, which
keeps Binance's procedure ("How to manage a local order book correctly"). Rules kept here:

- a gap (``pu`` not chaining) resyncs only its own symbol; a reconnect needs no special case because the
  first diff after it either chains (nothing was missed) or is a gap;
- snapshot requests are planned by :meth:`BookManager.plan_snapshots` against the request-weight budget:
  the client's used weight (``rate_limit_usage()``, its limiter's window rolled to now), never less than
  what this book itself sent in the window, plus its sends of the previous window's last ``guard_ms``
  (the server's minute may start later than ours); ``reserve`` is kept for everything else, so hundreds of
  symbols resyncing at once wait for the next window instead of meeting a 429;
- every ``gap`` and ``resynced`` is published as a lifecycle event through the manager;
- a book counts as live only while its sync is live *and* its connection is open;
- whatever a reader reads (levels, sync state, the symbol set) changes only inside ``lock`` when one is
  given: :class:`~binfut.stream.book_thread.LiveOrderBookThread` reads from other threads under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import msgspec

from binfut.book import (
    DEFAULT_BUFFER_LIMIT,
    Applied,
    BookManager,
    BookSide,
    Buffered,
    DepthUpdate,
    Dropped,
    GapDetected,
    Ignored,
    Level,
    OrderBook,
    Resynced,
    SyncOutcome,
    depth_snapshot,
)
from binfut.book.budget import WINDOW_MS, depth_weight
from binfut.clock import Clock
from binfut.protocol.events import StreamMessage
from binfut.protocol.streams import diff_depth
from binfut.stream.connection import LifecycleKind, clock_sleep
from binfut.stream.manager import CallbackConsumer, StreamManager

__all__ = ["BookStats", "LiveOrderBook"]

_log = logging.getLogger("binfut.stream")

# After a failed snapshot request, wait this long (doubling per failure in a row, capped) before the next.
_RETRY_MS = 500
_RETRY_CAP_MS = 30_000

# Outcomes that leave the levels and the sync state a reader sees as they were (no ``on_change``).
_UNCHANGED = frozenset({Buffered, Dropped, Ignored})


class BookStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters of a :class:`LiveOrderBook`.

    Attributes
    ----------
    symbols, live : int
        Symbols managed, and how many of them are live now.
    snapshots, snapshot_weight : int
        Snapshot requests sent, and their request weight.
    snapshot_failures : int
        Requests that failed (retried).
    gaps, resyncs : int
        ``pu`` gaps detected, and syncs completed (the first sync of a symbol included).
    """

    symbols: int
    live: int
    snapshots: int
    snapshot_weight: int
    snapshot_failures: int
    gaps: int
    resyncs: int


class LiveOrderBook:
    """Local order books of many symbols, kept exact and live.

    Parameters
    ----------
    manager : StreamManager
        Carries the diff-depth streams; lifecycle events are published through it.
    client : AsyncClient
        Anything with ``await depth(symbol=..., limit=...)`` answering in a form
        :func:`binfut.book.depth_snapshot` takes, and ``rate_limit_usage()`` (its ``limiter`` and ``clock``
        are used when present).
    symbols : iterable of str
        Symbols to keep, upper-case (more with :meth:`add`).
    speed : str | None
        Diff-depth speed: ``"0ms"``, ``"100ms"`` (default), ``"250ms"`` or ``"500ms"``.
    depth_limit : int
        ``limit`` of the snapshot requests (Binance's procedure uses 1000, weight 20).
    tick_sizes : mapping of str to Decimal or str, optional
        Tick size per symbol (``None``: inferred from prices).
    reserve : float
        Fraction of the weight limit never used for snapshots.
    guard_ms : int
        Snapshot weight sent this close before a window boundary still counts after it.
    buffer_limit : int
        Diffs held per symbol while its snapshot is pending.
    name : str
        Name in lifecycle events.
    lock : context manager, optional
        Held while the books change (diffs, snapshots, :meth:`add`, :meth:`remove`), so another thread
        holding it reads a consistent book; never held across an ``await``.
    on_change : callable, optional
        ``on_change(symbol)``, called inside ``lock`` after ``symbol``'s levels or sync state changed.

    Attributes
    ----------
    last_error : BaseException | None
        Why the latest snapshot request failed (``None`` once one succeeds).

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly
    """

    def __init__(
        self,
        manager: StreamManager,
        client: Any,
        symbols: Iterable[str] = (),
        *,
        speed: str | None = "100ms",
        depth_limit: int = 1000,
        tick_sizes: Mapping[str, Decimal | str] | None = None,
        reserve: float = 0.1,
        guard_ms: int = 2000,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
        name: str = "book",
        logger: logging.Logger | None = None,
        lock: AbstractContextManager[Any] | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.manager = manager
        self.client = client
        self.name = name
        self.speed = speed
        self.depth_limit = depth_limit
        self.weight = depth_weight(depth_limit)
        self.reserve = reserve
        self.guard_ms = guard_ms
        self._tick_sizes = dict(tick_sizes or {})
        self._clock: Clock = getattr(client, "clock", None) or manager.clock
        self._log = logger or _log
        self._books = BookManager(buffer_limit=buffer_limit)
        self._streams: dict[str, str] = {}  # stream -> symbol
        self._symbols: dict[str, str] = {}  # symbol -> stream
        self._live: dict[str, asyncio.Event] = {}
        self._consumer: CallbackConsumer[StreamMessage] | None = None
        self._ledger: deque[tuple[int, int]] = deque()  # (sent at ms, weight) of snapshot requests
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._fetches: set[asyncio.Task[None]] = set()
        self._failures = 0
        self._cooldown_ms = 0
        self._closed = False
        self._pending = list(dict.fromkeys(s.upper() for s in symbols))
        self.snapshots = 0
        self.snapshot_failures = 0
        self.gaps = 0
        self.resyncs = 0
        self.last_error: BaseException | None = None
        self._lock: AbstractContextManager[Any] = lock if lock is not None else contextlib.nullcontext()
        self._on_change = on_change

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Subscribe the diff streams of the initial symbols and start the snapshot scheduler."""
        if self._task is None:
            self._task = asyncio.create_task(self._schedule(), name=f"binfut-{self.name}-snapshots")
        symbols, self._pending = self._pending, []
        await self.add(*symbols)

    async def close(self) -> None:
        """Stop the scheduler and any snapshot request; unsubscribe nothing (the manager may be closing)."""
        self._closed = True
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        tasks = [t for t in (self._task, *self._fetches) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def __aenter__(self) -> LiveOrderBook:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def add(self, *symbols: str) -> None:
        """Start keeping ``symbols`` (their diff streams are subscribed; snapshots follow the first diff)."""
        fresh = [s.upper() for s in symbols if s.upper() not in self._symbols]
        with self._lock:
            for symbol in fresh:
                stream = diff_depth(symbol, self.speed)
                self._books.add(symbol, self._tick_sizes.get(symbol))
                self._symbols[symbol] = stream
                self._streams[stream] = symbol
                self._live[symbol] = asyncio.Event()
        if fresh:
            self._route()  # the callback sees the streams before their first frame can arrive
            await self.manager.subscribe(*(self._symbols[s] for s in fresh))

    async def remove(self, *symbols: str) -> None:
        """Stop keeping ``symbols`` and unsubscribe their diff streams."""
        gone = [s.upper() for s in symbols if s.upper() in self._symbols]
        with self._lock:
            for symbol in gone:
                stream = self._symbols.pop(symbol)
                del self._streams[stream]
                self._books.remove(symbol)
                self._live.pop(symbol, None)
                if self._on_change is not None:
                    self._on_change(symbol)
        if gone:
            self._route()
            await self.manager.unsubscribe(*(diff_depth(s, self.speed) for s in gone))

    def _route(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
        self._consumer = self.manager.on_event(self._on_depth, *self._streams) if self._streams else None

    # ------------------------------------------------------------------ reading

    @property
    def symbols(self) -> list[str]:
        """The symbols kept."""
        return list(self._symbols)

    def is_live(self, symbol: str) -> bool:
        """True when ``symbol``'s book is synced and its connection is open."""
        stream = self._symbols.get(symbol)
        return stream is not None and self._books[symbol].is_live and self.manager.is_open(stream)

    async def wait_live(self, *symbols: str, timeout: float | None = 30.0) -> None:
        """Wait (real-time ``timeout``) until ``symbols`` (default: all) are synced.

        Raises
        ------
        TimeoutError
            If one is still not synced.
        """
        events = [self._live[s] for s in (symbols or tuple(self._symbols))]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout)

    def book(self, symbol: str) -> OrderBook:
        """The :class:`~binfut.book.OrderBook` of ``symbol`` (check :meth:`is_live` before trusting it)."""
        return self._books.book(symbol)

    def update_id(self, symbol: str) -> int | None:
        """The last update id applied to ``symbol``'s book (``None`` while not synced)."""
        return self._books[symbol].update_id

    def best_bid(self, symbol: str) -> Level | None:
        """Best bid (price, qty) of ``symbol``."""
        return self._books.book(symbol).best_bid()

    def best_ask(self, symbol: str) -> Level | None:
        """Best ask (price, qty) of ``symbol``."""
        return self._books.book(symbol).best_ask()

    def top(self, symbol: str, side: BookSide, n: int) -> list[Level]:
        """The best ``n`` levels of one side, best first."""
        return self._books.book(symbol).top(side, n)

    def mid(self, symbol: str) -> Decimal | None:
        """Mid price of ``symbol``."""
        return self._books.book(symbol).mid()

    def spread(self, symbol: str) -> Decimal | None:
        """Best ask minus best bid of ``symbol``."""
        return self._books.book(symbol).spread()

    def stats(self) -> BookStats:
        """Counters for dashboards."""
        return BookStats(
            symbols=len(self._symbols),
            live=sum(1 for s in self._symbols if self.is_live(s)),
            snapshots=self.snapshots,
            snapshot_weight=self.snapshots * self.weight,
            snapshot_failures=self.snapshot_failures,
            gaps=self.gaps,
            resyncs=self.resyncs,
        )

    # ------------------------------------------------------------------ diffs

    def _on_depth(self, message: StreamMessage) -> None:
        event = message.data
        if type(event) is not DepthUpdate:
            return  # a RawEvent: nothing the book can use
        with self._lock:
            outcome = self._books.feed_diff(event)
            if type(outcome) is not Applied:
                self._count(outcome)
            if self._on_change is not None and type(outcome) not in _UNCHANGED:
                self._on_change(outcome.symbol)
        if not outcome.needs_snapshot and type(outcome) is not Resynced:
            return  # Applied, Buffered, Dropped, Ignored: nothing to tell anyone
        self._outcome(outcome)

    def _count(self, outcome: SyncOutcome) -> None:
        # Inside the lock with the change itself, so stats() read under it agree with the books.
        if type(outcome) is Resynced:
            self.resyncs += 1
        elif type(outcome) is GapDetected:
            self.gaps += 1

    def _outcome(self, outcome: SyncOutcome) -> None:
        symbol = outcome.symbol
        if type(outcome) is Resynced:
            live = self._live.get(symbol)
            if live is not None:
                live.set()
            self.manager.emit(
                LifecycleKind.RESYNCED,
                self.name,
                symbol=symbol,
                reason=f"snapshot {outcome.last_update_id} + {outcome.replayed} diffs, at {outcome.update_id}",
            )
            return
        if type(outcome) is GapDetected:
            live = self._live.get(symbol)
            if live is not None:
                live.clear()
            self.manager.emit(
                LifecycleKind.GAP,
                self.name,
                symbol=symbol,
                reason=f"pu {outcome.got_pu} does not chain to u {outcome.expected_pu}",
            )
        self._wake.set()  # NeedSnapshot, GapDetected, Stale: the scheduler plans

    # ------------------------------------------------------------------ snapshots

    def _weight_used(self, now_ms: int) -> tuple[int, int]:
        """(weight used in the current window, limit) as far as this process knows."""
        client = self.client
        limiter = getattr(client, "limiter", None)
        for window in getattr(limiter, "weight", {}).values():
            window.roll(now_ms)  # a reading from an earlier window counts as zero
        reported, limit = 0, 2400
        usage = client.rate_limit_usage() if hasattr(client, "rate_limit_usage") else {}
        minute = usage.get("weight", {}).get(f"{WINDOW_MS // 1000}s")
        if minute:
            reported, limit = int(minute[0]), int(minute[1])
        start = now_ms - now_ms % WINDOW_MS
        ledger = self._ledger
        while ledger and ledger[0][0] < start - self.guard_ms:
            ledger.popleft()
        mine = sum(w for t, w in ledger if t >= start)
        # The exchange's minute may begin a little after ours: what we sent just before our boundary
        # could still count in its window.
        straddle = sum(w for t, w in ledger if t < start) if now_ms - start < self.guard_ms else 0
        return max(reported, mine) + straddle, limit

    async def _schedule(self) -> None:
        clock = self._clock
        while not self._closed:
            self._wake.clear()
            now = clock.time_ms()
            if now < self._cooldown_ms:
                await self._wait((self._cooldown_ms - now) / 1000)
                continue
            used, limit = self._weight_used(now)
            plan = self._books.plan_snapshots(
                now, used, limit, depth_limit=self.depth_limit, used_at_ms=now, reserve=int(limit * self.reserve)
            )
            for symbol in plan.symbols:
                self._ledger.append((now, self.weight))
                self.snapshots += 1
                task = asyncio.create_task(self._fetch(symbol), name=f"binfut-{self.name}-snapshot-{symbol}")
                self._fetches.add(task)
                task.add_done_callback(self._fetches.discard)
            if plan.next_at_ms is not None:
                # Symbols still wait for weight: plan again when the window turns (or earlier if woken).
                await self._wait((plan.next_at_ms - now) / 1000 + 0.05)
            else:
                await self._wake.wait()

    async def _wait(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(clock_sleep(self._clock, seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _fetch(self, symbol: str) -> None:
        try:
            answer = await self.client.depth(symbol=symbol, limit=self.depth_limit)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # network, 5xx, a 429 after all: retried from the front of the queue
            self.last_error = exc
            self.snapshot_failures += 1
            self._failures += 1
            delay = min(_RETRY_CAP_MS, _RETRY_MS * 2 ** min(self._failures - 1, 10))
            self._cooldown_ms = self._clock.time_ms() + delay
            self._log.warning("%s: snapshot of %s failed (%s); retry in %d ms", self.name, symbol, exc, delay)
            if symbol in self._books:
                self._books.snapshot_failed(symbol)
            self._wake.set()
            return
        self._failures = 0
        self.last_error = None
        if symbol not in self._books or self._closed:
            return
        snapshot = depth_snapshot(answer)  # converted before taking the lock: readers wait only for the load
        with self._lock:
            outcome = self._books.feed_snapshot(symbol, snapshot)
            self._count(outcome)
            if self._on_change is not None and type(outcome) not in _UNCHANGED:
                self._on_change(symbol)
        if type(outcome) is Resynced or outcome.needs_snapshot:
            self._outcome(outcome)

    def __repr__(self) -> str:
        return f"LiveOrderBook(symbols={len(self._symbols)}, live={self.stats().live})"
