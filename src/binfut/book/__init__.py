"""The local order book: integer-tick levels, Binance's sync procedure as a table, many symbols at once.

Sans-IO throughout: the I/O layer feeds ``depthUpdate`` frames and ``GET /fapi/v1/depth`` answers in, and
reads outcomes (``Applied``, ``GapDetected``, ``NeedSnapshot``, ...) and snapshot plans out. Nothing here
opens a socket, sleeps or reads a clock.

- :mod:`binfut.book.levels`: :class:`OrderBook`, the levels and every read (best, top-N, depth, fills).
- :mod:`binfut.book.sync`: :class:`BookSync`, one symbol's state machine (:data:`TRANSITIONS`).
- :mod:`binfut.book.manager`: :class:`BookManager`, many symbols and their snapshot queue.
- :mod:`binfut.book.budget`: how many snapshots the request-weight limit allows now.
- :mod:`binfut.book.decode`: the ``depthUpdate`` / snapshot Structs, their decoder, and
  :func:`depth_snapshot` (any form of the ``GET /fapi/v1/depth`` answer, the client's model included).
"""

from binfut.book.budget import DEPTH_WEIGHTS, SnapshotBudget, depth_weight, snapshot_budget
from binfut.book.decode import DepthDecoder, DepthSnapshot, DepthUpdate, SnapshotLike, depth_snapshot
from binfut.book.levels import BookSide, Depth, FillEstimate, Level, OrderBook, PriceLike
from binfut.book.manager import BookManager, SnapshotPlan
from binfut.book.sync import (
    DEFAULT_BUFFER_LIMIT,
    TRANSITIONS,
    Applied,
    BookSync,
    Buffered,
    Dropped,
    GapDetected,
    Ignored,
    NeedSnapshot,
    Resynced,
    SnapshotLoaded,
    Stale,
    SyncAction,
    SyncInput,
    SyncOutcome,
    SyncState,
    Transition,
    render_transitions,
)

__all__ = [
    "DEFAULT_BUFFER_LIMIT",
    "DEPTH_WEIGHTS",
    "TRANSITIONS",
    "Applied",
    "BookManager",
    "BookSide",
    "BookSync",
    "Buffered",
    "Depth",
    "DepthDecoder",
    "DepthSnapshot",
    "DepthUpdate",
    "Dropped",
    "FillEstimate",
    "GapDetected",
    "Ignored",
    "Level",
    "NeedSnapshot",
    "OrderBook",
    "PriceLike",
    "Resynced",
    "SnapshotBudget",
    "SnapshotLike",
    "SnapshotLoaded",
    "SnapshotPlan",
    "Stale",
    "SyncAction",
    "SyncInput",
    "SyncOutcome",
    "SyncState",
    "Transition",
    "depth_snapshot",
    "depth_weight",
    "render_transitions",
    "snapshot_budget",
]
