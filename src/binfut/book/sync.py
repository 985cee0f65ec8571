"""Keeping one symbol's local book in step with the diff stream: Binance's USD-M procedure as a table.

Owns every book-sync state transition; they all live in :data:`TRANSITIONS`, and the code only classifies
each input and then follows the table (one fast path for the live case is checked against it by a test).

The procedure (USD-M "How to manage a local order book correctly"): buffer diffs; fetch
``GET /fapi/v1/depth?limit=1000``; drop buffered diffs with ``u < lastUpdateId``; the first diff applied must
have ``U <= lastUpdateId <= u``; every later diff must have ``pu`` equal to the previous diff's ``u``, or the
book is rebuilt from a new snapshot. Rules kept here:

- A desync is an outcome (``GapDetected``, ``Stale``), never an exception; only this symbol resyncs.
- A snapshot older than the oldest diff still held (``lastUpdateId < U``) is rejected as ``Stale``.
- The buffer is bounded; when full the oldest diff goes (a later snapshot then may come back ``Stale``).
- Sans-IO: this module asks for snapshots through outcomes and never fetches, sleeps or reads a clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import ClassVar, NamedTuple

import msgspec

from binfut.book.decode import DepthSnapshot, DepthUpdate, SnapshotLike, depth_snapshot
from binfut.book.levels import OrderBook

__all__ = [
    "DEFAULT_BUFFER_LIMIT",
    "TRANSITIONS",
    "Applied",
    "BookSync",
    "Buffered",
    "Dropped",
    "GapDetected",
    "Ignored",
    "NeedSnapshot",
    "Resynced",
    "SnapshotLoaded",
    "Stale",
    "SyncAction",
    "SyncInput",
    "SyncOutcome",
    "SyncState",
    "Transition",
    "render_transitions",
]

# A 0 ms BTCUSDT stream peaks near 50 diffs/s and a snapshot may wait up to a minute for request weight
# (see binfut.book.budget), so the default holds about a minute of the busiest symbol.
DEFAULT_BUFFER_LIMIT = 4096


# ---------------------------------------------------------------------------------------------- outcomes


class SyncOutcome(msgspec.Struct, frozen=True, gc=False):
    """What one ``feed_*`` call did. ``needs_snapshot`` is true when the I/O layer must fetch a snapshot."""

    symbol: str
    needs_snapshot: ClassVar[bool] = False


class Applied(SyncOutcome, frozen=True, gc=False):
    """The diff was applied; the book is live at ``update_id`` (the diff's ``u``)."""

    update_id: int


class Buffered(SyncOutcome, frozen=True, gc=False):
    """The diff waits for a snapshot; ``overflowed`` when the oldest buffered diff was evicted for it."""

    buffered: int
    overflowed: bool


class NeedSnapshot(SyncOutcome, frozen=True, gc=False):
    """The first diff since (re)start was buffered: fetch ``GET /fapi/v1/depth?limit=1000``."""

    needs_snapshot: ClassVar[bool] = True


class GapDetected(SyncOutcome, frozen=True, gc=False):
    """A live diff's ``pu`` did not chain to the previous ``u``: the book was cleared; fetch a snapshot."""

    expected_pu: int
    got_pu: int
    needs_snapshot: ClassVar[bool] = True


class Dropped(SyncOutcome, frozen=True, gc=False):
    """The diff is older than the loaded snapshot (``u < lastUpdateId``) and was dropped."""

    update_id: int


class Resynced(SyncOutcome, frozen=True, gc=False):
    """The book is live again: snapshot ``last_update_id`` plus ``replayed`` diffs, now at ``update_id``."""

    last_update_id: int
    update_id: int
    replayed: int


class Stale(SyncOutcome, frozen=True, gc=False):
    """The snapshot (``last_update_id``) predates the oldest diff held (``first_update_id``): fetch again."""

    last_update_id: int
    first_update_id: int
    needs_snapshot: ClassVar[bool] = True


class SnapshotLoaded(SyncOutcome, frozen=True, gc=False):
    """The snapshot is loaded; the book goes live with the first diff spanning ``last_update_id``."""

    last_update_id: int


class Ignored(SyncOutcome, frozen=True, gc=False):
    """The input changed nothing (``reason`` says why)."""

    reason: str


# ---------------------------------------------------------------------------------------------- the table


class SyncState(Enum):
    """Where one symbol's sync stands."""

    UNSYNCED = "unsynced"  # nothing held; the first diff starts the procedure
    BUFFERING = "buffering"  # diffs held, a snapshot is needed
    AWAIT_OVERLAP = "await_overlap"  # snapshot loaded, waiting for the diff spanning its lastUpdateId
    LIVE = "live"  # the book is correct as of the last applied diff


class SyncInput(Enum):
    """An input classified against the current state (``L`` is the snapshot's ``lastUpdateId``)."""

    DIFF_CHAINED = "diff, pu == previous u"
    DIFF_UNCHAINED = "diff, pu != previous u (or no previous diff)"
    DIFF_OLD = "diff, u < L"
    DIFF_OVERLAPS = "diff, U <= L <= u"
    DIFF_AHEAD = "diff, U > L"
    SNAPSHOT_OVERLAPS = "snapshot, first buffered diff with u >= L has U <= L"
    SNAPSHOT_AHEAD = "snapshot, every buffered diff has u < L (or none buffered)"
    SNAPSHOT_STALE = "snapshot, first buffered diff with u >= L has U > L"
    SNAPSHOT_UNREQUESTED = "snapshot while live"
    RESET = "reset()"


class SyncAction(Enum):
    """What a transition does to the book and the buffer."""

    APPLY = "apply the diff to the book"
    BUFFER = "append the diff to the buffer"
    RESTART = "clear book and buffer, then buffer the diff"
    DROP = "drop the diff"
    LOAD = "load the snapshot, drop every buffered diff"
    LOAD_REPLAY = "load the snapshot, drop buffered diffs with u < L, apply the rest"
    DISCARD = "discard the snapshot, keep the buffer"
    IGNORE = "ignore the snapshot"
    CLEAR = "clear book and buffer"


class Transition(NamedTuple):
    """One row: in ``state`` on ``input``, do ``action``, move to ``next_state``, report ``outcome``."""

    state: SyncState
    input: SyncInput
    action: SyncAction
    next_state: SyncState
    outcome: type[SyncOutcome] | None


_S, _I, _A = SyncState, SyncInput, SyncAction

#: Every legal (state, input) pair. A pair missing here cannot be produced by the classifiers.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(_S.UNSYNCED, _I.DIFF_UNCHAINED, _A.RESTART, _S.BUFFERING, NeedSnapshot),
    Transition(_S.UNSYNCED, _I.SNAPSHOT_AHEAD, _A.LOAD, _S.AWAIT_OVERLAP, SnapshotLoaded),
    Transition(_S.BUFFERING, _I.DIFF_CHAINED, _A.BUFFER, _S.BUFFERING, Buffered),
    # Older buffered diffs can never chain to anything after this one, so they go.
    Transition(_S.BUFFERING, _I.DIFF_UNCHAINED, _A.RESTART, _S.BUFFERING, Buffered),
    Transition(_S.BUFFERING, _I.SNAPSHOT_OVERLAPS, _A.LOAD_REPLAY, _S.LIVE, Resynced),
    Transition(_S.BUFFERING, _I.SNAPSHOT_AHEAD, _A.LOAD, _S.AWAIT_OVERLAP, SnapshotLoaded),
    # Strict to the documented rule even when lastUpdateId falls between two chained diffs (update ids
    # are global across symbols, so U may jump past it): a fresh snapshot is cheap, a wrong book is not.
    Transition(_S.BUFFERING, _I.SNAPSHOT_STALE, _A.DISCARD, _S.BUFFERING, Stale),
    Transition(_S.AWAIT_OVERLAP, _I.DIFF_OLD, _A.DROP, _S.AWAIT_OVERLAP, Dropped),
    Transition(_S.AWAIT_OVERLAP, _I.DIFF_OVERLAPS, _A.APPLY, _S.LIVE, Resynced),
    Transition(_S.AWAIT_OVERLAP, _I.DIFF_AHEAD, _A.RESTART, _S.BUFFERING, Stale),
    Transition(_S.AWAIT_OVERLAP, _I.SNAPSHOT_AHEAD, _A.LOAD, _S.AWAIT_OVERLAP, SnapshotLoaded),
    Transition(_S.LIVE, _I.DIFF_CHAINED, _A.APPLY, _S.LIVE, Applied),
    Transition(_S.LIVE, _I.DIFF_UNCHAINED, _A.RESTART, _S.BUFFERING, GapDetected),
    Transition(_S.LIVE, _I.SNAPSHOT_UNREQUESTED, _A.IGNORE, _S.LIVE, Ignored),
    Transition(_S.UNSYNCED, _I.RESET, _A.CLEAR, _S.UNSYNCED, None),
    Transition(_S.BUFFERING, _I.RESET, _A.CLEAR, _S.UNSYNCED, None),
    Transition(_S.AWAIT_OVERLAP, _I.RESET, _A.CLEAR, _S.UNSYNCED, None),
    Transition(_S.LIVE, _I.RESET, _A.CLEAR, _S.UNSYNCED, None),
)

_TABLE: dict[tuple[SyncState, SyncInput], Transition] = {(t.state, t.input): t for t in TRANSITIONS}


def render_transitions() -> str:
    """The table as Markdown, for the docs."""
    lines = ["| state | input | action | next state | outcome |", "|---|---|---|---|---|"]
    for t in TRANSITIONS:
        outcome = t.outcome.__name__ if t.outcome else "-"
        lines.append(f"| {t.state.value} | {t.input.value} | {t.action.value} | {t.next_state.value} | {outcome} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- machine

_LIVE = SyncState.LIVE


class BookSync:
    """One symbol's sync state machine wrapped around its :class:`OrderBook`.

    Parameters
    ----------
    symbol : str
        The symbol, e.g. ``"BTCUSDT"``.
    tick_size : Decimal | str | None
        Passed to :class:`OrderBook` (``None`` infers the grid). Ignored when ``book`` is given.
    buffer_limit : int
        Most diffs held while waiting for a snapshot; the oldest is evicted beyond it.
    book : OrderBook | None
        The book to maintain; a new one when ``None``.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly
    """

    __slots__ = ("_buffer", "_last_u", "_snapshot_id", "_state", "book", "symbol")

    def __init__(
        self,
        symbol: str,
        tick_size: Decimal | str | None = None,
        *,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
        book: OrderBook | None = None,
    ) -> None:
        if buffer_limit < 1:
            raise ValueError(f"buffer_limit must be >= 1, got {buffer_limit}")
        self.symbol = symbol
        self.book = book if book is not None else OrderBook(symbol, tick_size)
        self._state = SyncState.UNSYNCED
        self._buffer: deque[DepthUpdate] = deque(maxlen=buffer_limit)
        self._last_u: int | None = None  # u of the last applied diff (LIVE only)
        self._snapshot_id: int | None = None  # lastUpdateId of the loaded snapshot

    # ------------------------------------------------------------------ reading

    @property
    def state(self) -> SyncState:
        """The current :class:`SyncState`."""
        return self._state

    @property
    def is_live(self) -> bool:
        """``True`` when the book is correct as of :attr:`update_id`."""
        return self._state is _LIVE

    @property
    def needs_snapshot(self) -> bool:
        """``True`` while diffs are buffered and only a snapshot can move the sync on."""
        return self._state is SyncState.BUFFERING

    @property
    def update_id(self) -> int | None:
        """The update id the book is at: the last applied ``u``, or the loaded snapshot's id, else ``None``."""
        if self._state is _LIVE:
            return self._last_u
        return self._snapshot_id if self._state is SyncState.AWAIT_OVERLAP else None

    @property
    def buffered(self) -> int:
        """How many diffs wait for a snapshot."""
        return len(self._buffer)

    # ------------------------------------------------------------------ feeding

    def feed_diff(self, event: DepthUpdate) -> SyncOutcome:
        """Take one ``depthUpdate`` of this symbol.

        Returns
        -------
        SyncOutcome
            ``Applied`` in the steady state; ``NeedSnapshot``, ``GapDetected`` or ``Stale`` when a snapshot
            must be fetched; otherwise ``Buffered``, ``Dropped`` or ``Resynced``.
        """
        # Fast path for the row (LIVE, DIFF_CHAINED) -> APPLY, LIVE, Applied: the steady state, taken
        # without a table lookup; tests/unit/book/test_sync.py checks it agrees with TRANSITIONS.
        if self._state is _LIVE and event.prev_final_update_id == self._last_u:
            self.book.apply_diff(event.bids, event.asks)
            self._last_u = event.final_update_id
            return Applied(self.symbol, event.final_update_id)
        outcome = self._step(self._classify_diff(event), event, None)
        assert outcome is not None  # only RESET rows report nothing
        return outcome

    def feed_snapshot(self, snapshot: SnapshotLike) -> SyncOutcome:
        """Take a ``GET /fapi/v1/depth`` response for this symbol.

        Parameters
        ----------
        snapshot : SnapshotLike
            The answer in any form :func:`~binfut.book.depth_snapshot` takes: what ``client.depth(...)``
            returns, a :class:`DepthSnapshot`, a mapping with Binance's keys or the raw response body.

        Returns
        -------
        SyncOutcome
            ``Resynced`` when buffered diffs complete the sync, ``SnapshotLoaded`` when the spanning diff
            has not arrived yet, ``Stale`` when a newer snapshot is needed, ``Ignored`` while live.

        Raises
        ------
        RemoteProtocolError
            If a raw body or mapping is not a depth snapshot.
        TypeError
            If ``snapshot`` is none of those types.
        """
        snapshot = depth_snapshot(snapshot)
        outcome = self._step(self._classify_snapshot(snapshot), None, snapshot)
        assert outcome is not None
        return outcome

    def reset(self) -> None:
        """Forget book and buffer (e.g. after a reconnect); the next diff asks for a snapshot."""
        self._step(SyncInput.RESET, None, None)

    # ------------------------------------------------------------------ classification

    def _classify_diff(self, event: DepthUpdate) -> SyncInput:
        state = self._state
        if state is SyncState.AWAIT_OVERLAP:
            assert self._snapshot_id is not None
            last_id = self._snapshot_id
            if event.final_update_id < last_id:
                return SyncInput.DIFF_OLD
            return SyncInput.DIFF_OVERLAPS if event.first_update_id <= last_id else SyncInput.DIFF_AHEAD
        if state is _LIVE:
            previous = self._last_u
        elif state is SyncState.BUFFERING and self._buffer:
            previous = self._buffer[-1].final_update_id
        else:
            return SyncInput.DIFF_UNCHAINED
        return SyncInput.DIFF_CHAINED if event.prev_final_update_id == previous else SyncInput.DIFF_UNCHAINED

    def _classify_snapshot(self, snapshot: DepthSnapshot) -> SyncInput:
        if self._state is _LIVE:
            return SyncInput.SNAPSHOT_UNREQUESTED
        last_id = snapshot.last_update_id
        for event in self._buffer:
            if event.final_update_id >= last_id:  # first diff not dropped by "u < lastUpdateId"
                return SyncInput.SNAPSHOT_OVERLAPS if event.first_update_id <= last_id else SyncInput.SNAPSHOT_STALE
        return SyncInput.SNAPSHOT_AHEAD

    # ------------------------------------------------------------------ table driver

    def _step(self, kind: SyncInput, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> SyncOutcome | None:
        row = _TABLE.get((self._state, kind))
        if row is None:  # a classifier bug, not a desync: desyncs are rows of the table
            raise RuntimeError(f"{self.symbol}: no transition for {self._state} on {kind}")
        previous_u, previous_snapshot = self._last_u, self._snapshot_id
        detail = _ACTIONS[row.action](self, event, snapshot)
        self._state = row.next_state
        if row.outcome is None:
            return None
        return self._report(row.outcome, event, snapshot, previous_u, previous_snapshot, detail)

    def _report(
        self,
        outcome: type[SyncOutcome],
        event: DepthUpdate | None,
        snapshot: DepthSnapshot | None,
        previous_u: int | None,
        previous_snapshot: int | None,
        detail: int,
    ) -> SyncOutcome:
        symbol = self.symbol
        if outcome is Buffered:
            return Buffered(symbol, len(self._buffer), bool(detail))
        if outcome is NeedSnapshot:
            return NeedSnapshot(symbol)
        if outcome is Resynced:
            assert self._snapshot_id is not None and self._last_u is not None
            return Resynced(symbol, self._snapshot_id, self._last_u, detail)
        if outcome is SnapshotLoaded:
            assert snapshot is not None
            return SnapshotLoaded(symbol, snapshot.last_update_id)
        if outcome is Ignored:
            return Ignored(symbol, "snapshot while live; call reset() first to force a resync")
        assert event is not None or snapshot is not None
        if outcome is Stale:
            last_id = snapshot.last_update_id if snapshot is not None else previous_snapshot
            assert last_id is not None
            return Stale(symbol, last_id, self._buffer[0].first_update_id)
        assert event is not None
        if outcome is GapDetected:
            assert previous_u is not None
            return GapDetected(symbol, previous_u, event.prev_final_update_id)
        if outcome is Dropped:
            return Dropped(symbol, event.final_update_id)
        return Applied(symbol, event.final_update_id)

    # ------------------------------------------------------------------ actions (return a detail count)

    def _apply(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        assert event is not None
        self.book.apply_diff(event.bids, event.asks)
        self._last_u = event.final_update_id
        return 1  # diffs applied (Resynced.replayed when this completes a sync)

    def _buffer_diff(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        assert event is not None
        full = len(self._buffer) == self._buffer.maxlen
        self._buffer.append(event)  # a full deque evicts its oldest entry
        return int(full)

    def _restart(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        assert event is not None
        self._clear(None, None)
        self._buffer.append(event)
        return 0

    def _drop(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        return 0

    def _load(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        assert snapshot is not None
        self.book.apply_snapshot(snapshot.bids, snapshot.asks)
        self._snapshot_id = snapshot.last_update_id
        self._last_u = None
        self._buffer.clear()  # SNAPSHOT_AHEAD: every buffered diff had u < lastUpdateId
        return 0

    def _load_replay(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        assert snapshot is not None
        self.book.apply_snapshot(snapshot.bids, snapshot.asks)
        last_id = self._snapshot_id = snapshot.last_update_id
        buffer = self._buffer
        while buffer[0].final_update_id < last_id:  # "drop any event where u < lastUpdateId"
            buffer.popleft()
        # The buffer is one pu-chain (BUFFER only appends chained diffs, RESTART starts a new chain), so the
        # rest applies without re-checking; the first one spans lastUpdateId by classification.
        replayed = len(buffer)
        apply = self.book.apply_diff
        for diff in buffer:
            apply(diff.bids, diff.asks)
        self._last_u = buffer[-1].final_update_id
        buffer.clear()
        return replayed

    def _ignore(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        return 0

    def _clear(self, event: DepthUpdate | None, snapshot: DepthSnapshot | None) -> int:
        self.book.clear()
        self._buffer.clear()
        self._last_u = None
        self._snapshot_id = None
        return 0

    def __repr__(self) -> str:
        return f"BookSync({self.symbol!r}, state={self._state.value}, update_id={self.update_id}, buffered={len(self._buffer)})"


_Action = Callable[[BookSync, DepthUpdate | None, DepthSnapshot | None], int]

_ACTIONS: dict[SyncAction, _Action] = {
    SyncAction.APPLY: BookSync._apply,
    SyncAction.BUFFER: BookSync._buffer_diff,
    SyncAction.RESTART: BookSync._restart,
    SyncAction.DROP: BookSync._drop,
    SyncAction.LOAD: BookSync._load,
    SyncAction.LOAD_REPLAY: BookSync._load_replay,
    SyncAction.DISCARD: BookSync._ignore,
    SyncAction.IGNORE: BookSync._ignore,
    SyncAction.CLEAR: BookSync._clear,
}
