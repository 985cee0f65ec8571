"""LiveOrderBookThread against the local exchange over loopback, from plain blocking code.

The exchange runs in its own thread (EmulatorThread, its synthetic market at x20-x60); the book runs on its
own loop thread; the tests read it from this thread and from several more at once. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from binfut.book import Level
from binfut.client import AsyncClient, Client
from binfut.emulator import EmulatorConfig, EmulatorThread
from binfut.emulator.ws import WS_HUB_KEY
from binfut.errors import ApiError, ConnectError
from binfut.stream import BookLevels, LiveOrderBookThread, StreamConfig

SYMBOLS = ("BTCUSDT", "ETHUSDT")
CONFIG = StreamConfig(backoff_base_s=0.05, max_age_s=None, close_timeout_s=1.0)


def client_factory(url: str) -> Callable[[], AsyncClient]:
    return lambda: AsyncClient(env="local", base_url=url, environ={})


def book_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "binfut-book"]


@pytest.fixture
def exchange() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(speed=60, seed=7, symbols=(*SYMBOLS, "SOLUSDT"))) as running:
        yield running


@pytest.fixture
def books(exchange: EmulatorThread) -> Iterator[LiveOrderBookThread]:
    with LiveOrderBookThread(
        client_factory(exchange.rest_url), SYMBOLS, stream_config=CONFIG, rng=random.Random(1), timeout=5
    ) as running:
        running.wait_live(timeout=4)
        yield running


def until(check: Callable[[], bool], books: LiveOrderBookThread, symbol: str = "BTCUSDT", timeout: float = 3.0) -> None:
    """Wait for ``check()``, waking on every change of ``symbol``'s book."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        books.wait_update(symbol, timeout=deadline - time.monotonic())


def levels(rows: list[Any]) -> tuple[Level, ...]:
    return tuple(Level(Decimal(price), Decimal(qty)) for price, qty in rows)


def test_both_books_go_live_and_equal_the_exchange_once_the_market_is_quiet(
    exchange: EmulatorThread, books: LiveOrderBookThread
) -> None:
    ex = exchange.exchange

    def pause() -> Any:  # the synthetic market stops moving; nothing else changes these books
        simulator, ex.simulator = ex.simulator, None
        return simulator

    def quiet(symbol: str) -> tuple[int, list[Any], list[Any]]:
        """The exchange's book once the local one has caught up with it (the last diff window is in)."""
        deadline = time.monotonic() + 3
        while True:
            last, bids, asks = exchange.call(lambda: ex.venue.depth(symbol, 5))
            if books.update_id(symbol) == last:
                return last, bids, asks
            assert time.monotonic() < deadline, "the local book did not catch up"
            with contextlib.suppress(TimeoutError):
                books.wait_update(symbol, timeout=0.2)

    assert books.symbols == list(SYMBOLS) and all(books.is_live(s) for s in SYMBOLS)
    simulator = exchange.call(pause)
    try:
        with Client(env="local", base_url=exchange.rest_url, environ={}) as client:
            for symbol in SYMBOLS:
                last, bids, asks = quiet(symbol)

                top, depth = books.top_of_book(symbol), books.depth(symbol, 5)
                rest = client.depth(symbol=symbol, limit=5)

                assert top.live and top.update_id == depth.update_id == rest.last_update_id == last
                assert (top.best_bid, top.best_ask) == (levels(bids)[0], levels(asks)[0])
                assert (depth.bids, depth.asks) == (levels(bids), levels(asks))
                assert [tuple(lv) for lv in depth.bids] == rest.bids and [tuple(lv) for lv in depth.asks] == rest.asks
                assert books.spread(symbol) == top.spread == top.best_ask.price - top.best_bid.price > 0
    finally:
        exchange.call(lambda: setattr(ex, "simulator", simulator))


def test_reads_from_many_threads_while_updates_flow_are_consistent_copies(books: LiveOrderBookThread) -> None:
    errors: list[BaseException] = []
    seen: dict[int, dict[str, list[int]]] = {}
    stop_at = time.monotonic() + 1.0

    def reader(index: int) -> None:
        ids: dict[str, list[int]] = {s: [] for s in SYMBOLS}
        seen[index] = ids
        try:
            while time.monotonic() < stop_at:
                for symbol in SYMBOLS:
                    top = books.top_of_book(symbol) if index % 2 else books.wait_update(symbol, timeout=2)
                    depth = books.depth(symbol, 20)
                    stats = books.stats()
                    for copy in (top, depth):
                        assert isinstance(copy, BookLevels) and copy.live, copy
                        assert copy.best_bid is not None and copy.best_ask is not None
                        assert copy.best_bid.price < copy.best_ask.price, copy
                    assert [lv.price for lv in depth.bids] == sorted((lv.price for lv in depth.bids), reverse=True)
                    assert [lv.price for lv in depth.asks] == sorted(lv.price for lv in depth.asks)
                    assert len(depth.bids) == len(set(depth.bids))
                    assert stats.symbols == 2 and stats.live == 2 and stats.gaps == 0
                    assert top.update_id is not None and depth.update_id is not None
                    ids[symbol] += [top.update_id, depth.update_id]
        except BaseException as exc:  # reported on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert not errors, errors[0]
    assert not any(t.is_alive() for t in threads)
    for ids in seen.values():
        for symbol in SYMBOLS:
            assert ids[symbol] == sorted(ids[symbol]), "each reader sees the book move forward only"
            assert ids[symbol][-1] > ids[symbol][0], "the books kept changing while they were read"


def test_a_depth_gap_resyncs_that_symbol_and_is_counted(exchange: EmulatorThread, books: LiveOrderBookThread) -> None:
    faults = exchange.exchange.faults
    before = books.stats()
    assert before.gaps == 0 and before.resyncs == 2  # the first sync of each symbol

    exchange.call(lambda: faults.add(kind="depth_gap", endpoints=["btcusdt@depth@100ms"], at_requests=[3]))
    until(lambda: books.stats().gaps == 1 and books.is_live("BTCUSDT") and books.stats().resyncs == 3, books)

    stats = books.stats()
    assert (stats.gaps, stats.resyncs, stats.live) == (1, 3, 2)  # ETHUSDT did not resync
    assert stats.snapshots >= 3 and stats.snapshot_failures == 0
    assert [(f.kind, f.target) for f in exchange.call(lambda: list(faults.log))] == [
        ("depth_gap", "btcusdt@depth@100ms")
    ]
    top = books.top_of_book("BTCUSDT")
    assert (
        top.live and top.best_bid is not None and top.best_ask is not None and top.best_bid.price < top.best_ask.price
    )


def test_stop_is_prompt_closes_the_sockets_and_leaves_no_thread(exchange: EmulatorThread) -> None:
    hub = exchange.running.runner.app[WS_HUB_KEY]
    books = LiveOrderBookThread(client_factory(exchange.rest_url), SYMBOLS, stream_config=CONFIG, timeout=5).start()
    books.wait_live(timeout=4)
    books.add("SOLUSDT")
    books.wait_live("SOLUSDT", timeout=4)
    assert books.symbols == [*SYMBOLS, "SOLUSDT"] and len(book_threads()) == 1
    assert exchange.call(lambda: len(hub.sessions)) == 1  # every depth stream on one /public socket
    woken: list[BaseException] = []

    def waiter() -> None:
        try:
            books.wait_live("BTCUSDT", timeout=None)  # already live: returns at once
            while True:
                books.wait_update("SOLUSDT", timeout=None)
        except BaseException as exc:
            woken.append(exc)

    blocked = threading.Thread(target=waiter)
    blocked.start()
    time.sleep(0.05)

    started = time.monotonic()
    books.stop()
    elapsed = time.monotonic() - started
    blocked.join(1)

    assert elapsed < 1.0, f"stop took {elapsed:.2f} s"
    assert not book_threads() and not blocked.is_alive()
    assert len(woken) == 1 and isinstance(woken[0], RuntimeError)  # the waiter was released, not left hanging
    deadline = time.monotonic() + 2
    while exchange.call(lambda: len(hub.sessions)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert exchange.call(lambda: len(hub.sessions)) == 0  # the server saw the socket close
    assert books.stats().live == 0  # reads still answer, from the last state
    books.stop()  # idempotent


def test_an_unreachable_exchange_raises_connect_error_in_the_caller() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    books = LiveOrderBookThread(client_factory(f"http://127.0.0.1:{port}"), SYMBOLS, stream_config=CONFIG, timeout=5)

    started = time.monotonic()
    with pytest.raises(ConnectError, match=f"127.0.0.1:{port}"):
        books.start()

    assert time.monotonic() - started < 2.0
    assert not book_threads()
    with pytest.raises(RuntimeError):
        books.wait_live(timeout=0.1)  # stopped: nothing to wait for


def test_failing_snapshots_surface_as_the_client_error_at_the_wait_deadline(exchange: EmulatorThread) -> None:
    faults = exchange.exchange.faults
    exchange.call(lambda: faults.add(kind="http_5xx", endpoints=["depth"], every=1, status=503))

    with LiveOrderBookThread(client_factory(exchange.rest_url), ["BTCUSDT"], stream_config=CONFIG, timeout=5) as books:
        with pytest.raises(ApiError) as caught:
            books.wait_live(timeout=1.0)

        assert caught.value.status == 503
        stats = books.stats()
        assert stats.live == 0 and stats.snapshot_failures >= 1 and stats.resyncs == 0
        with pytest.raises(KeyError):
            books.wait_update("DOGEUSDT", timeout=0.1)  # not kept: no wait that cannot end
