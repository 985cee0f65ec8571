"""BookManager fed from blocking code: ``client.depth(...)`` goes into the book as it is, no conversion.

The exchange runs in its own thread (EmulatorThread, real time x20 with its synthetic market); diffs come
from a ``SyncStreamManager`` subscription and snapshots from the blocking ``Client``, as in docs/book.md.
"""

from __future__ import annotations

import random

from binfut.book import Applied, BookManager, BookSync, Resynced, SnapshotLoaded, SyncOutcome
from binfut.client import Client
from binfut.config import Urls
from binfut.emulator import EmulatorConfig, EmulatorThread
from binfut.protocol.models import OrderBook as DepthModel
from binfut.stream import StreamConfig, SyncStreamManager

CONFIG = StreamConfig(backoff_base_s=0.05, max_age_s=None)


def test_client_depth_feeds_the_book_manager_straight() -> None:
    with (
        EmulatorThread(EmulatorConfig(speed=20, seed=5, symbols=("BTCUSDT",))) as exchange,
        Client(env="local", base_url=exchange.rest_url, environ={}) as client,
        SyncStreamManager(Urls.local(exchange.rest_url), config=CONFIG, rng=random.Random(1), timeout=10) as streams,
    ):
        client.load_filters()
        books = BookManager()
        books.add("BTCUSDT", client.symbol_filters("BTCUSDT").tick_size)
        answers: list[DepthModel] = []
        outcomes: list[SyncOutcome] = []
        applied_after_live = 0
        with streams.subscribe("btcusdt@depth@100ms") as diffs:
            for message in diffs:
                outcome = books.feed_diff(message.data)
                if outcome.needs_snapshot:
                    answers.append(client.depth(symbol="BTCUSDT", limit=1000))
                    outcome = books.feed_snapshot("BTCUSDT", answers[-1])  # the client's model, as returned
                    outcomes.append(outcome)
                if books["BTCUSDT"].is_live and type(outcome) is Applied:
                    applied_after_live += 1
                if applied_after_live >= 5 or len(answers) > 5:
                    break

        assert answers and all(type(a) is DepthModel and a.bids and a.asks for a in answers)
        assert all(type(o) in (Resynced, SnapshotLoaded) for o in outcomes), outcomes
        assert books["BTCUSDT"].is_live and applied_after_live >= 5
        book = books.book("BTCUSDT")
        assert book.best_bid() is not None and book.best_ask() is not None and not book.is_crossed()

        # The same answer loaded on its own is the exchange's snapshot level for level, in exact Decimals.
        answer = answers[-1]
        alone = BookSync("BTCUSDT", client.symbol_filters("BTCUSDT").tick_size)
        assert alone.feed_snapshot(answer) == SnapshotLoaded("BTCUSDT", answer.last_update_id)
        assert [(lv.price, lv.qty) for lv in alone.book.top("bid", 1000)] == answer.bids
        assert [(lv.price, lv.qty) for lv in alone.book.top("ask", 1000)] == answer.asks
