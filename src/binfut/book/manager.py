"""Many symbols' local books in one place, and which of them need a snapshot next.

Owns the per-symbol :class:`BookSync` machines, the queue of symbols waiting for a snapshot and the set with
a snapshot request in flight. Rules kept here:

- A desync in one symbol never touches another: each symbol has its own machine, buffer and book.
- A symbol waits for a snapshot in FIFO order from the moment its machine asks for one; it leaves the queue
  when the I/O layer takes it (:meth:`BookManager.plan_snapshots` or :meth:`BookManager.mark_requested`) and
  comes back if the request fails or the snapshot is ``Stale``.
- Request weight is never exceeded when the I/O layer requests exactly what ``plan_snapshots`` returns.
- Sans-IO: the I/O layer fetches, and passes ``now_ms`` in; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

import msgspec

from binfut.book.budget import depth_weight, snapshot_budget
from binfut.book.decode import DepthDecoder, DepthUpdate, SnapshotLike, depth_snapshot
from binfut.book.levels import OrderBook
from binfut.book.sync import DEFAULT_BUFFER_LIMIT, Applied, BookSync, Ignored, SyncOutcome

__all__ = ["BookManager", "SnapshotPlan"]


class SnapshotPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Snapshots to request now, from :meth:`BookManager.plan_snapshots`.

    Attributes
    ----------
    symbols : tuple[str, ...]
        Request ``GET /fapi/v1/depth`` for these now; they are already marked in flight.
    weight : int
        Request weight those requests cost together.
    next_at_ms : int | None
        When to plan again because symbols still wait, or ``None`` when none wait.
    """

    symbols: tuple[str, ...]
    weight: int
    next_at_ms: int | None


class BookManager:
    """Local books of many symbols, each synced on its own.

    Parameters
    ----------
    buffer_limit : int
        Per-symbol bound on diffs held while waiting for a snapshot.
    decoder : DepthDecoder | None
        Decoder for :meth:`feed_frame` and raw snapshot bodies; a new one when ``None``.
    """

    def __init__(self, *, buffer_limit: int = DEFAULT_BUFFER_LIMIT, decoder: DepthDecoder | None = None) -> None:
        self._buffer_limit = buffer_limit
        self._decoder = decoder if decoder is not None else DepthDecoder()
        self._syncs: dict[str, BookSync] = {}
        self._waiting: dict[str, None] = {}  # insertion-ordered set: FIFO of symbols needing a snapshot
        self._in_flight: set[str] = set()

    # ------------------------------------------------------------------ symbols

    def add(self, symbol: str, tick_size: Decimal | str | None = None) -> BookSync:
        """Start managing ``symbol`` (returns the existing machine if already managed).

        Parameters
        ----------
        symbol : str
            Upper-case, as in ``depthUpdate.s`` (``"BTCUSDT"``).
        tick_size : Decimal | str | None
            The symbol's tick size; ``None`` infers it from the prices.
        """
        sync = self._syncs.get(symbol)
        if sync is None:
            sync = self._syncs[symbol] = BookSync(symbol, tick_size, buffer_limit=self._buffer_limit)
        return sync

    def remove(self, symbol: str) -> None:
        """Stop managing ``symbol`` (no error if it was not managed)."""
        self._syncs.pop(symbol, None)
        self._waiting.pop(symbol, None)
        self._in_flight.discard(symbol)

    def __getitem__(self, symbol: str) -> BookSync:
        return self._syncs[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._syncs

    def __iter__(self) -> Iterator[str]:
        return iter(self._syncs)

    def __len__(self) -> int:
        return len(self._syncs)

    def book(self, symbol: str) -> OrderBook:
        """The :class:`OrderBook` of ``symbol``; check ``manager[symbol].is_live`` before trusting it."""
        return self._syncs[symbol].book

    # ------------------------------------------------------------------ feeding

    def feed_diff(self, event: DepthUpdate) -> SyncOutcome:
        """Route one ``depthUpdate`` to its symbol's machine.

        Returns
        -------
        SyncOutcome
            The machine's outcome, or ``Ignored`` for a symbol not managed.
        """
        sync = self._syncs.get(event.symbol)
        if sync is None:
            return Ignored(event.symbol, "symbol not managed")
        outcome = sync.feed_diff(event)
        if type(outcome) is not Applied:  # the steady state changes no queue
            self._track(sync)
        return outcome

    def feed_frame(self, frame: bytes | str) -> SyncOutcome:
        """Decode a raw or combined-stream ``depthUpdate`` frame and route it.

        Raises
        ------
        RemoteProtocolError
            If the frame is not a ``depthUpdate``.
        """
        return self.feed_diff(self._decoder.decode(frame))

    def feed_snapshot(self, symbol: str, snapshot: SnapshotLike) -> SyncOutcome:
        """Hand ``symbol`` the answer to its snapshot request.

        Parameters
        ----------
        symbol : str
            The symbol the snapshot was requested for.
        snapshot : SnapshotLike
            The answer in any form :func:`~binfut.book.depth_snapshot` takes: what ``client.depth(...)``
            returns, a :class:`DepthSnapshot`, a mapping with Binance's keys or the raw response body.

        Returns
        -------
        SyncOutcome
            The machine's outcome, or ``Ignored`` for a symbol not managed.

        Raises
        ------
        RemoteProtocolError
            If a raw body or mapping is not a depth snapshot.
        TypeError
            If ``snapshot`` is none of those types.
        """
        sync = self._syncs.get(symbol)
        if sync is None:
            return Ignored(symbol, "symbol not managed")
        snapshot = depth_snapshot(snapshot, decoder=self._decoder)
        self._in_flight.discard(symbol)
        outcome = sync.feed_snapshot(snapshot)
        self._track(sync)
        return outcome

    def reset(self, symbol: str | None = None) -> None:
        """Reset one symbol, or every symbol when ``None`` (e.g. after the stream reconnects)."""
        for sync in self._syncs.values() if symbol is None else (self._syncs[symbol],):
            sync.reset()
            self._track(sync)

    def _track(self, sync: BookSync) -> None:
        """Keep the waiting queue equal to "needs a snapshot and none is in flight"."""
        symbol = sync.symbol
        if sync.needs_snapshot and symbol not in self._in_flight:
            self._waiting.setdefault(symbol, None)
        else:
            self._waiting.pop(symbol, None)

    # ------------------------------------------------------------------ snapshot requests

    def waiting(self) -> list[str]:
        """Symbols that need a snapshot and have no request in flight, oldest need first."""
        return list(self._waiting)

    def in_flight(self) -> list[str]:
        """Symbols whose snapshot request was sent and not yet answered, sorted."""
        return sorted(self._in_flight)

    def mark_requested(self, symbols: Iterable[str]) -> None:
        """Record that snapshot requests for ``symbols`` were sent (``plan_snapshots`` does this itself)."""
        for symbol in symbols:
            if symbol in self._syncs:
                self._waiting.pop(symbol, None)
                self._in_flight.add(symbol)

    def snapshot_failed(self, symbol: str) -> None:
        """The request for ``symbol`` failed or timed out: it waits again, at the front of the queue."""
        if symbol not in self._in_flight:
            return  # nothing was pending for it
        self._in_flight.discard(symbol)
        sync = self._syncs.get(symbol)
        if sync is not None and sync.needs_snapshot:
            self._waiting = {symbol: None, **self._waiting}

    def plan_snapshots(
        self,
        now_ms: int,
        used_weight: int,
        limit: int = 2400,
        *,
        depth_limit: int = 1000,
        used_at_ms: int | None = None,
        reserve: int = 0,
    ) -> SnapshotPlan:
        """Pick the waiting symbols whose snapshots fit the request-weight budget now, and mark them in flight.

        Parameters
        ----------
        now_ms : int
            Current time in ms.
        used_weight : int
            Weight used in the current one-minute window, including requests sent but not yet answered.
        limit : int
            ``REQUEST_WEIGHT`` per minute (2400 on USD-M).
        depth_limit : int
            The ``limit`` the snapshots will be requested with (weight from :func:`depth_weight`).
        used_at_ms : int | None
            When ``used_weight`` was measured (a reading from an earlier window counts as zero).
        reserve : int
            Weight kept back for other requests.

        Returns
        -------
        SnapshotPlan
        """
        weight = depth_weight(depth_limit)
        budget = snapshot_budget(now_ms, used_weight, limit, weight=weight, used_at_ms=used_at_ms, reserve=reserve)
        chosen = tuple(list(self._waiting)[: budget.allowed])
        self.mark_requested(chosen)
        next_at = budget.window_end_ms if self._waiting else None
        return SnapshotPlan(symbols=chosen, weight=weight * len(chosen), next_at_ms=next_at)
