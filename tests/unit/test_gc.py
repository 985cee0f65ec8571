"""engine_gc: rarer young collections and a frozen start-up heap for a run, the caller's settings after."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

from binfut._gc import YOUNG_THRESHOLD, engine_gc
from binfut.trading import BacktestConfig, run_backtest
from unit.trading.support import Scripted, make_feed


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_inside_young_collections_are_rarer_and_the_heap_is_frozen() -> None:
    gc.set_threshold(900, 11, 12)
    with engine_gc():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 11, 12)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (900, 11, 12)
    assert gc.get_freeze_count() == 0


def test_settings_are_restored_when_the_block_raises() -> None:
    gc.set_threshold(900, 11, 12)
    with pytest.raises(RuntimeError, match="boom"), engine_gc():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (900, 11, 12)
    assert gc.get_freeze_count() == 0


def test_a_freeze_made_by_the_caller_is_left_in_place() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with engine_gc():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() == frozen


def test_a_disabled_collector_is_left_alone() -> None:
    gc.disable()
    gc.set_threshold(900, 11, 12)
    with engine_gc():
        assert gc.get_threshold() == (900, 11, 12)
        assert gc.get_freeze_count() == 0
        assert not gc.isenabled()


class _Node:
    __slots__ = ("__weakref__", "other")

    def __init__(self) -> None:
        self.other: _Node | None = None


def test_cycles_made_inside_are_still_collected() -> None:
    with engine_gc():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        assert alive() is not None  # a cycle: only the collector frees it
        keep = [[] for _ in range(2 * YOUNG_THRESHOLD)]  # enough container allocations for a young collection
        assert alive() is None
        del keep


def test_the_event_driven_backtest_runs_under_it() -> None:
    seen: list[tuple[int, int]] = []
    feed = make_feed(50, seed=3)
    strategy = Scripted(np.zeros(50, dtype=np.int8), on_bar=lambda ctx, bar, i: seen.append(gc.get_threshold()[:1] + (gc.get_freeze_count(),)))
    gc.set_threshold(900, 11, 12)
    run_backtest(strategy, feed, BacktestConfig(engine="events"))
    assert seen and all(t == YOUNG_THRESHOLD and frozen > 0 for t, frozen in seen)
    assert gc.get_threshold() == (900, 11, 12)
    assert gc.get_freeze_count() == 0
