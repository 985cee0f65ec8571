"""Fixtures of the data-store integration tests: one local exchange with history per module.

Generating history costs about 0.1 s per symbol-day, so the tests that only read it share one
exchange; a test that changes its endpoints does so through ``handlers``, undone after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from binfut.emulator import EmulatorThread
from integration.data.support import Handlers, history_config


@pytest.fixture(scope="module")
def served() -> Iterator[EmulatorThread]:
    """BTCUSDT and ETHUSDT with three days of history from ``START_MS``, served over HTTP."""
    with EmulatorThread(history_config(("BTCUSDT", "ETHUSDT"), 3)) as emulator:
        yield emulator


@pytest.fixture
def handlers(served: EmulatorThread) -> Iterator[Handlers]:
    """The served exchange's endpoint handlers, restored when the test ends."""
    table = Handlers(served)
    yield table
    table.restore()
