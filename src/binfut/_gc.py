"""The garbage-collector settings for a run of the matching engine in a process binfut drives.

The engine's state (books, orders, accounts, histories) lives for the whole run and makes almost no
reference cycles, yet CPython's default collector keeps traversing it: a young collection every 700
container allocations, each promoting survivors, and a full collection whenever the long-lived objects
grew by a quarter -- a pause of about 60 ms over the bench's book.  Measured by ``bench/bench_engine.py``
(compiled engine, lean load, 100,000 commands): the collector took 14 % of the time, 4 % under
:func:`engine_gc`, and its longest pause went from 62 ms to 20 ms.

:func:`engine_gc` is a context manager, used around the event-driven backtest loop.  It changes
process-wide settings only for its span and restores the caller's afterwards.  It is not applied on
import, nor by the engine itself (the engine is sans-IO and does not own the process).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_THRESHOLD", "engine_gc"]

YOUNG_THRESHOLD = 50_000
"""Container allocations between two young collections under :func:`engine_gc` (CPython: 700)."""


@contextmanager
def engine_gc() -> Iterator[None]:
    """Run the block with the start-up heap frozen and rarer young collections; restore on exit.

    * ``gc.freeze()`` moves everything alive at entry (modules, loaded data, the venue as set up) out
      of the collector's reach, so no collection traverses it again; ``gc.unfreeze()`` at exit.
      Skipped when the caller froze objects already (a pre-fork server, say): theirs stay frozen.
    * The young generation is collected every :data:`YOUNG_THRESHOLD` allocations; the older
      generations' thresholds are the caller's.

    Nothing changes when the caller disabled the collector.
    """
    if not gc.isenabled():
        yield
        return
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()
