"""The blocking facade: ``for message in streams.subscribe(...)`` from plain synchronous code.

The exchange runs in its own thread (EmulatorThread, real time x20 with its synthetic market); the test
itself is a plain function: no event loop on this thread.
"""

from __future__ import annotations

import random
import threading

import pytest

from binfut.config import Urls
from binfut.emulator import EmulatorConfig, EmulatorThread
from binfut.protocol.events import AggTrade, BookTicker
from binfut.stream import StreamConfig, SyncStreamManager

CONFIG = StreamConfig(backoff_base_s=0.05, max_age_s=None)


@pytest.fixture(scope="module")
def exchange() -> EmulatorThread:  # type: ignore[misc]
    with EmulatorThread(EmulatorConfig(speed=20, seed=3, symbols=("BTCUSDT",))) as running:
        yield running


def test_for_message_in_subscribe_yields_typed_events(exchange: EmulatorThread) -> None:
    loops_before = threading.active_count()
    with SyncStreamManager(Urls.local(exchange.rest_url), config=CONFIG, rng=random.Random(1), timeout=10) as streams:
        got = []
        subscription = streams.subscribe("btcusdt@bookTicker", "btcusdt@aggTrade")
        for message in subscription:
            got.append(message)
            if {type(m.data) for m in got} >= {BookTicker, AggTrade}:
                break
        assert {m.stream for m in got} <= {"btcusdt@bookTicker", "btcusdt@aggTrade"}
        health = streams.health()
        assert [h.state for h in health] == ["open", "open"]  # /public and /market
        subscription.close()
        assert len(list(subscription)) <= subscription.maxsize  # after close, iteration drains and ends
        with pytest.raises(TimeoutError):
            streams.events("ethusdt@aggTrade").get(timeout=0.2)  # nothing subscribed there
    assert threading.active_count() <= loops_before  # the loop thread is gone


def test_drop_oldest_subscription_counts_what_a_slow_script_missed(exchange: EmulatorThread) -> None:
    with SyncStreamManager(Urls.local(exchange.rest_url), config=CONFIG, rng=random.Random(2), timeout=10) as streams:
        subscription = streams.subscribe("btcusdt@bookTicker", maxsize=5, policy="drop_oldest")
        first = subscription.get(timeout=10)
        assert isinstance(first.data, BookTicker)
        for _ in range(200):  # the script is busy; the exchange keeps quoting
            if subscription.dropped:
                break
            threading.Event().wait(0.02)
        assert subscription.dropped > 0 and subscription.qsize() == 5
    assert len(list(subscription)) == 5  # the manager closed: iteration drains what is queued, then ends
