"""The downloader against the local exchange over HTTP: every REST kind, gaps, resume, budget, errors."""

from __future__ import annotations

import errno
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from binfut.clock import ScaledClock
from binfut.data import Downloader, DownloadSpec, Manifest, Store, StoreWriteError, download, open_client
from binfut.emulator import EmulatorThread, MarketData, build_exchange, start_emulator
from binfut.emulator.exchange import Handler
from binfut.errors import InvalidRequest
from integration.data.support import DAY, MINUTE, START_MS, Handlers, history_config, without_bars

pytestmark = pytest.mark.asyncio
SYMBOLS = ("BTCUSDT", "ETHUSDT")
REST_KINDS = (
    "klines", "continuous_klines", "index_price_klines", "mark_price_klines", "premium_index_klines", "funding_rate",
    "open_interest_hist", "top_long_short_position_ratio", "top_long_short_account_ratio",
    "global_long_short_account_ratio", "taker_long_short_ratio", "basis",
)  # fmt: skip


async def test_every_rest_kind_lands_with_exact_counts_and_a_rerun_adds_nothing(
    served: EmulatorThread, tmp_path: Path
) -> None:
    # Arrange
    url = served.rest_url
    spec = DownloadSpec(kinds=REST_KINDS, symbols=SYMBOLS, start_ms=START_MS, end_ms=START_MS + 2 * DAY)
    store = Store(tmp_path)

    # Act
    report = await download(spec, store, env="local", base_url=url)
    again = await download(spec, store, env="local", base_url=url)

    # Assert: 2 days = 2880 one-minute bars, 576 five-minute periods, 6 funding settlements per symbol.
    rows = {(s.kind, s.symbol): s.rows for s in report.series}
    expected = {"funding_rate": 6, **{k: 2880 for k in REST_KINDS if "klines" in k}}
    for (kind_name, symbol), n in rows.items():
        assert n == expected.get(kind_name, 576), (kind_name, symbol)
        assert store.read(kind_name, symbols=symbol).num_rows == n
    assert ("continuous_klines", "BTCUSDT_PERPETUAL") in rows
    assert not report.failed and report.gaps == [] and report.rate_limited == 0
    assert (
        again.requests == 2 and again.rows == 0 and all(s.already_covered for s in again.series)
    )  # exchangeInfo + time
    klines = store.read("klines", symbols="BTCUSDT", series="1m")
    assert klines.schema.field("open_time").type == pa.timestamp("ms", tz="UTC")


async def test_gaps_in_what_binance_returned_are_reported_not_filled(
    served: EmulatorThread, handlers: Handlers, tmp_path: Path
) -> None:
    # Arrange: an outage of 7 minutes and a lone missing bar.
    handlers.wrap("klines", without_bars({START_MS + m * MINUTE for m in [*range(600, 607), 1000]}))
    store = Store(tmp_path)
    spec = DownloadSpec(kinds=("klines",), symbols=("BTCUSDT",), start_ms=START_MS, end_ms=START_MS + DAY)

    # Act
    report = await download(spec, store, env="local", base_url=served.rest_url)

    # Assert
    assert [(g.start_ms, g.end_ms, g.missing) for g in report.gaps] == [
        (START_MS + 600 * MINUTE, START_MS + 607 * MINUTE, 7),
        (START_MS + 1000 * MINUTE, START_MS + 1001 * MINUTE, 1),
    ]
    assert store.read("klines").num_rows == 1440 - 8
    assert Manifest(tmp_path).load("klines", "BTCUSDT", "1m").gaps == [
        (g.start_ms, g.end_ms, g.missing) for g in report.gaps
    ]


async def test_a_symbol_the_exchange_does_not_list_fails_alone(served: EmulatorThread, tmp_path: Path) -> None:
    url = served.rest_url
    spec = DownloadSpec(kinds=("klines",), symbols=("BTCUSDT", "DOGEUSDT"), start_ms=START_MS, end_ms=START_MS + DAY)

    report = await download(spec, Store(tmp_path), env="local", base_url=url)

    by_symbol = {s.symbol: s for s in report.series}
    assert by_symbol["BTCUSDT"].rows == 1440 and by_symbol["BTCUSDT"].error is None
    assert by_symbol["DOGEUSDT"].requests == 0 and "not listed" in (by_symbol["DOGEUSDT"].error or "")


async def test_a_rerun_over_a_longer_range_fetches_only_what_is_missing(served: EmulatorThread, tmp_path: Path) -> None:
    url = served.rest_url
    store = Store(tmp_path)
    first = DownloadSpec(
        kinds=("klines",), symbols=("BTCUSDT",), start_ms=START_MS + 6 * 3_600_000, end_ms=START_MS + DAY
    )
    await download(first, store, env="local", base_url=url)

    report = await download(
        DownloadSpec(kinds=("klines",), symbols=("BTCUSDT",), start_ms=START_MS, end_ms=START_MS + 2 * DAY),
        store,
        env="local",
        base_url=url,
    )

    (series,) = report.series
    assert series.rows == 360 + 1440  # the 6 hours before and the day after, nothing twice
    assert series.requests == 1 + 3  # 360 bars, then 1440 bars in pages of 499
    assert store.read("klines").num_rows == 2880
    assert Manifest(tmp_path).load("klines", "BTCUSDT", "1m").covered == [(START_MS, START_MS + 2 * DAY)]


async def test_the_weight_budget_is_kept_so_no_request_is_refused(tmp_path: Path) -> None:
    # Arrange: a local exchange whose minute lasts 2 s (speed 30) and allows 60 weight per minute;
    # pages of 99 bars weigh 1, so 10 days of 1-minute bars cost 146 weight: three minutes' worth.
    # At 30x, 1 ms of scheduling jitter is 30 ms of budget time: 3 % of room instead of the default 1 %.
    config = history_config(["BTCUSDT"], 10, weight_limit_1m=60, speed=30)
    spec = DownloadSpec(
        kinds=("klines",), symbols=("BTCUSDT",), start_ms=START_MS, end_ms=START_MS + 10 * DAY, limit=99
    )
    async with start_emulator(config) as running:
        client = open_client("local", running.rest_url, clock=ScaledClock(30))
        try:
            # Act
            report = await Downloader(
                client, Store(tmp_path), spec, concurrency=2, prefetch=4, budget_fraction=0.97
            ).run()
        finally:
            await client.aclose()

    # Assert: every answer 200, and the pace is the budget's, not faster.
    assert report.statuses == {200: report.requests}
    assert report.weight_limit == 60 and report.weight == 148
    minutes = report.elapsed_s / 60  # simulated minutes
    assert minutes >= (report.weight - 60) / 60
    assert report.rows == 14_400 and not report.failed


def feed_trades(market: MarketData, symbol: str, start_ms: int, end_ms: int, per_minute: int) -> None:
    """Seeded public trades at distinct times (one aggregate trade each), ``per_minute`` a minute.

    Generated history (``history_days``) has klines but no trade tape: trades and aggTrades start with
    the exchange, whose trade ids must keep increasing. The aggTrades test needs a day of them."""
    rng = random.Random(7)
    step = MINUTE // per_minute
    price = Decimal("42000")
    for trade_id, t in enumerate(range(start_ms, end_ms, step), start=1):
        price += Decimal("0.1") * rng.randint(-5, 5)
        qty = Decimal(rng.randint(1, 500)) / 1000
        market.on_trade(symbol, trade_id, price, qty, t + rng.randint(0, step // 2), rng.random() < 0.5)


async def test_agg_trades_find_the_first_trade_then_follow_ids(tmp_path: Path) -> None:
    ex = build_exchange(history_config(["BTCUSDT"], 1, history_days=0))  # a day after START_MS, no bars yet
    feed_trades(ex.market, "BTCUSDT", START_MS, START_MS + DAY, per_minute=4)
    async with start_emulator(exchange=ex) as running:
        spec = DownloadSpec(
            kinds=("agg_trades",), symbols=("BTCUSDT",), start_ms=START_MS - 3 * 3_600_000, end_ms=START_MS + DAY
        )
        report = await download(spec, Store(tmp_path), env="local", base_url=running.rest_url)

    ids = Store(tmp_path).read("agg_trades")["agg_trade_id"].to_pylist()
    assert ids == list(range(1, 5761))
    (series,) = report.series
    assert series.requests == 3 + 1 + 6  # three quiet hours, the first trade's hour, then fromId pages of 1000
    assert series.gaps == []


async def test_statistics_keep_to_the_last_30_days(tmp_path: Path) -> None:
    async with start_emulator(history_config(["BTCUSDT"], 32)) as running:
        spec = DownloadSpec(kinds=("oi",), symbols=("BTCUSDT",), start_ms=START_MS, end_ms=START_MS + 32 * DAY)
        report = await download(spec, Store(tmp_path), env="local", base_url=running.rest_url)

    (series,) = report.series
    now = START_MS + 32 * DAY + 30_000
    assert series.unavailable is not None and series.unavailable[0] == START_MS
    oldest = series.unavailable[1]
    assert now - 30 * DAY <= oldest < now - 30 * DAY + 300_000
    assert series.rows == (START_MS + 32 * DAY - oldest) // 300_000 and not series.gaps


def refusing_from(start_ms: int) -> Callable[[Handler], Handler]:
    """A klines endpoint that refuses every request starting at or after ``start_ms``."""

    def wrapper(handler: Handler) -> Handler:
        def refuse_later(exchange: Any, params: Any, account: Any) -> Any:
            if params.get("startTime", 0) >= start_ms:
                raise InvalidRequest(-1121, "Invalid symbol.")
            return handler(exchange, params, account)

        return refuse_later

    return wrapper


async def test_an_error_mid_series_keeps_what_was_fetched_and_the_rerun_finishes(
    served: EmulatorThread, handlers: Handlers, tmp_path: Path
) -> None:
    # Arrange: the exchange refuses every klines request from the second day on.
    spec = DownloadSpec(kinds=("klines",), symbols=("BTCUSDT",), start_ms=START_MS, end_ms=START_MS + 3 * DAY)
    store = Store(tmp_path)

    # Act
    handlers.wrap("klines", refusing_from(START_MS + DAY))
    failed = await download(spec, store, env="local", base_url=served.rest_url)
    handlers.restore()
    finished = await download(spec, store, env="local", base_url=served.rest_url)

    # Assert: the first day's pages are stored and recorded; the rerun does the rest.
    (series,) = failed.series
    assert series.error is not None and "-1121" in series.error
    covered_first = series.rows
    assert covered_first >= 1440 - 499 and store.read("klines").num_rows >= covered_first - 499
    assert finished.series[0].error is None
    assert store.read("klines").num_rows == 3 * 1440


class FillingDisk(Store):
    """A store whose disk fills up after ``room`` partition writes."""

    def __init__(self, root: Path, room: int) -> None:
        super().__init__(root)
        self.room = room

    def write(self, *args: Any, **kwargs: Any) -> Any:
        if self.room <= 0:
            raise StoreWriteError(self.root / "data.parquet", OSError(errno.ENOSPC, "No space left on device"))
        self.room -= 1
        return super().write(*args, **kwargs)


async def test_a_full_disk_stops_the_download_and_keeps_what_was_written(
    served: EmulatorThread, tmp_path: Path
) -> None:
    # Arrange: room for the first day of one symbol only.
    url = served.rest_url
    spec = DownloadSpec(kinds=("klines",), symbols=SYMBOLS, start_ms=START_MS, end_ms=START_MS + 2 * DAY)

    # Act
    client = open_client("local", url)
    try:
        full = await Downloader(client, FillingDisk(tmp_path, 1), spec, concurrency=1).run()
    finally:
        await client.aclose()
    again = await download(spec, Store(tmp_path), env="local", base_url=url)

    # Assert: a clear error per series; the day written is intact and recorded; the rerun completes.
    assert len(full.failed) == 2 and all("the disk is full" in (s.error or "") for s in full.failed)
    assert full.series[1].requests == 0  # not started once the disk was known to be full
    assert again.series[0].rows == 1440 and again.series[1].rows == 2880
    assert Store(tmp_path).read("klines").num_rows == 2 * 2880
