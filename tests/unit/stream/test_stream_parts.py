"""Pieces of binfut.stream without sockets: queue policies, callbacks, clock waits, backoff, the state table."""

from __future__ import annotations

import asyncio
import importlib
import random
import threading

import pytest

from binfut.clock import ManualClock
from binfut.stream import (
    STATE_TRANSITIONS,
    CallbackConsumer,
    ConnectionState,
    Consumer,
    ConsumerOverflow,
    QueuePolicy,
    StreamConfig,
    clock_sleep,
    sleep_until,
)


def test_drop_oldest_keeps_the_newest_and_counts() -> None:
    consumer: Consumer[int] = Consumer(3, "drop_oldest")
    for i in range(10):
        assert consumer.put(i) is None
    assert consumer.dropped == 7 and consumer.received == 10
    assert [consumer.get_nowait() for _ in range(4)] == [7, 8, 9, None]


def test_raise_fails_the_consumer_and_detaches_it() -> None:
    detached: list[object] = []
    consumer: Consumer[int] = Consumer(2, QueuePolicy.RAISE, on_close=detached.append)
    consumer.put(1)
    consumer.put(2)
    consumer.put(3)
    assert detached == [consumer]
    with pytest.raises(ConsumerOverflow):
        consumer.get_nowait()
    assert consumer.put(4) is None  # ignored from now on


@pytest.mark.asyncio
async def test_block_returns_a_wait_that_ends_when_half_the_queue_is_read() -> None:
    consumer: Consumer[int] = Consumer(4, "block")
    assert all(consumer.put(i) is None for i in range(4))
    wait = consumer.put(4)
    assert wait is not None and consumer.qsize() == 5  # kept, and the feeder is asked to wait
    assert consumer.put(5) is wait  # the same wait for every feeder
    assert [await consumer.get() for _ in range(3)] == [0, 1, 2]
    assert not asyncio.ensure_future(wait).done()  # 3 queued of a bound of 4: still full enough
    assert await consumer.get() == 3  # half empty: the feeders may go on
    await asyncio.wait_for(wait, 1)
    assert [await consumer.get() for _ in range(2)] == [4, 5] and consumer.dropped == 0


@pytest.mark.asyncio
async def test_async_iteration_ends_after_finish_once_drained() -> None:
    consumer: Consumer[str] = Consumer(10)

    async def feed() -> None:
        for item in "abc":
            await asyncio.sleep(0)
            consumer.put(item)
        consumer.finish()

    task = asyncio.create_task(feed())
    assert [x async for x in consumer] == ["a", "b", "c"]
    await task
    with pytest.raises(ValueError):
        Consumer(0)


@pytest.mark.asyncio
async def test_callbacks_may_be_async_and_their_errors_are_contained() -> None:
    seen: list[int] = []

    async def slow(item: int) -> None:
        await asyncio.sleep(0)
        seen.append(item)

    consumer: CallbackConsumer[int] = CallbackConsumer(slow)
    wait = consumer.put(1)
    assert wait is not None
    await wait
    broken: CallbackConsumer[int] = CallbackConsumer(lambda item: 1 / 0)
    assert broken.put(1) is None and broken.errors == 1
    consumer.close()
    assert consumer.put(2) is None and seen == [1]


@pytest.mark.asyncio
async def test_waits_on_a_manual_clock_end_when_it_is_advanced() -> None:
    clock = ManualClock(0)
    task = asyncio.create_task(clock_sleep(clock, 5))
    await asyncio.sleep(0.01)
    assert not task.done()  # nobody moved time
    clock.advance(4_000_000_000)
    await asyncio.sleep(0.01)
    assert not task.done()
    threading.Thread(target=clock.advance, args=(1_000_000_000,)).start()  # from another thread too
    await asyncio.wait_for(task, 1)
    await asyncio.wait_for(sleep_until(clock, 0), 1)  # already due: returns at once


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    config = StreamConfig(backoff_base_s=0.5, backoff_cap_s=8, backoff_jitter=0.5)
    rng = random.Random(4)
    delays = [config.backoff_s(n, rng.random()) for n in range(8)]
    assert all(0.25 * 2**n <= d <= 0.5 * 2**n for n, d in enumerate(delays[:4]))
    assert all(4 <= d <= 8 for d in delays[4:])
    assert config.backoff_s(0, 0.0) == 0.5 and config.backoff_s(100, 0.0) == 8


def test_the_connection_state_table_is_connected_and_closed_is_final() -> None:
    moves = {(a, b) for a, b, _ in STATE_TRANSITIONS}
    reachable = {ConnectionState.IDLE}
    while True:
        grown = reachable | {b for a, b in moves if a in reachable}
        if grown == reachable:
            break
        reachable = grown
    assert reachable == set(ConnectionState)
    assert not [b for a, b in moves if a is ConnectionState.CLOSED]
    assert all(
        (state, ConnectionState.CLOSED) in moves for state in ConnectionState if state is not ConnectionState.CLOSED
    )


@pytest.mark.parametrize(
    "name",
    ["binfut.stream", "binfut.stream.connection", "binfut.stream.manager", "binfut.stream.sync",
     "binfut.stream.live_book", "binfut.protocol.events", "binfut.protocol.streams"],
)  # fmt: skip
def test_public_names_are_sorted_and_resolve(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    assert all(getattr(module, item) is not None for item in exported)


def test_the_connection_module_re_exports_the_connection_facts_it_is_known_by() -> None:
    from binfut.protocol import streams
    from binfut.stream import connection

    for item in ("StreamConfig", "LifecycleEvent", "LifecycleKind", "ConnectionState", "ConnectionHealth"):
        assert getattr(connection, item) is getattr(streams, item)
