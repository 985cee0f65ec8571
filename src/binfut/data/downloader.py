"""Bulk REST history into the store: concurrent, weight-budgeted, resumable, gaps reported (I/O adapter).

:class:`Downloader` turns a :class:`DownloadSpec` (kinds × symbols × time range) into one job per
series, plans each job's windows with :mod:`binfut.data.backfill`, and runs ``concurrency`` jobs at
once on an :class:`~binfut.client.AsyncClient`. Rules kept here:
- every request first takes its cost from a token bucket per Binance budget (request weight from
  exchangeInfo's limit; fundingRate's and ``/futures/data``'s own request budgets), so no rolling
  minute exceeds the limit and Binance never answers 429;
- only closed bars are stored: the range ends at the open of the bar in progress (server time);
- rows reach disk a partition at a time (or every ``max_buffer_rows``), then the manifest records
  the range as covered: a rerun plans only uncovered ranges, and merging on the primary key makes a
  stretch fetched twice harmless (``kill -9`` at any point loses at most one partition of work);
- where Binance returned no row for a bar, a period or an aggTrade id, a :class:`Gap` is reported
  and kept in the manifest, never filled in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from binfut.client import AsyncClient
from binfut.clock import Clock
from binfut.config import ClientConfig
from binfut.data.backfill import (
    BUDGETS,
    PAGE_RULES,
    AggTradesPager,
    Gap,
    TokenBucket,
    Window,
    best_limit,
    find_grid_gaps,
    find_id_gaps,
    grid_ceil,
    plan_windows,
    request_params,
    subtract_ranges,
)
from binfut.data.errors import DataError, StoreWriteError
from binfut.data.manifest import Manifest, SeriesState
from binfut.data.schema import DatasetKind, kind, partition_start_ms, series_ms, table_from_frame
from binfut.data.store import Store, _ms
from binfut.errors import BinfutError, ConfigError
from binfut.protocol.endpoints import BY_NAME
from binfut.protocol.request import PreparedRequest, RawResponse
from binfut.transport.base import AsyncHttpTransport

__all__ = [
    "CountingTransport",
    "DownloadReport",
    "DownloadSpec",
    "Downloader",
    "Progress",
    "SeriesReport",
    "download",
    "open_client",
]

_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class DownloadSpec:
    """What to download.

    Parameters
    ----------
    kinds : dataset kinds or aliases (``klines``, ``funding``, ``agg_trades``, ``oi`` ...)
    symbols : symbols (pairs for index klines and basis)
    start_ms, end_ms : the range ``[start_ms, end_ms)``, epoch ms UTC (``end_ms`` None: up to the
        last closed bar, by server time)
    interval : kline interval for the five kline kinds
    period : statistics period for the ``/futures/data`` kinds
    contract_type : for continuous klines and basis
    limit : page size (default: the most rows per budget unit, :func:`~binfut.data.backfill.best_limit`)
    """

    kinds: tuple[str, ...]
    symbols: tuple[str, ...]
    start_ms: int
    end_ms: int | None = None
    interval: str = "1m"
    period: str = "5m"
    contract_type: str = "PERPETUAL"
    limit: int | None = None


@dataclass(slots=True)
class SeriesReport:
    """The outcome of one series (kind, symbol, interval)."""

    kind: str
    symbol: str
    series: str | None
    start_ms: int
    end_ms: int | None
    windows: int = 0
    requests: int = 0
    rows: int = 0
    rows_added: int = 0
    already_covered: bool = False
    gaps: list[Gap] = field(default_factory=list)
    unavailable: tuple[int, int] | None = None  # part of the range Binance does not serve (30-day stats)
    error: str | None = None


@dataclass(slots=True)
class DownloadReport:
    """The outcome of a download.

    Attributes
    ----------
    series : one report per series
    requests, weight : requests sent and request weight spent (by this download)
    statuses : HTTP status -> count, when the downloader made its own client (None otherwise)
    elapsed_s : wall time of the run
    weight_limit : REQUEST_WEIGHT per minute used for budgeting
    """

    series: list[SeriesReport]
    requests: int = 0
    weight: int = 0
    statuses: dict[int, int] | None = None
    elapsed_s: float = 0.0
    weight_limit: int = 0

    @property
    def gaps(self) -> list[Gap]:
        return [g for s in self.series for g in s.gaps]

    @property
    def failed(self) -> list[SeriesReport]:
        return [s for s in self.series if s.error]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.series)

    @property
    def rate_limited(self) -> int:
        """429 and 418 answers seen (0 when statuses were not counted)."""
        return sum(n for code, n in (self.statuses or {}).items() if code in (418, 429))


class Progress(Protocol):
    """Receives progress (the CLI draws it with rich); ``planned`` comes first, with every series' windows."""

    def planned(self, reports: Sequence[SeriesReport]) -> None: ...

    def series_started(self, report: SeriesReport, windows: int) -> None: ...

    def advanced(self, report: SeriesReport, windows: int, rows: int) -> None: ...

    def series_done(self, report: SeriesReport) -> None: ...


class _NoProgress:
    def planned(self, reports: Sequence[SeriesReport]) -> None:
        pass

    def series_started(self, report: SeriesReport, windows: int) -> None:
        pass

    def advanced(self, report: SeriesReport, windows: int, rows: int) -> None:
        pass

    def series_done(self, report: SeriesReport) -> None:
        pass


class CountingTransport:
    """An async transport wrapper that counts HTTP statuses (to prove that no 429 was received)."""

    def __init__(self, inner: AsyncHttpTransport) -> None:
        self.inner = inner
        self.statuses: Counter[int] = Counter()

    async def handle(self, request: PreparedRequest) -> RawResponse:
        response = await self.inner.handle(request)
        self.statuses[response.status] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def open_client(
    env: str = "mainnet", base_url: str | None = None, *, timeout: float = 30.0, clock: Clock | None = None
) -> AsyncClient:
    """An :class:`AsyncClient` for downloads: no credentials, status counting, budget left to the downloader.

    The client's own limiter is given the whole limit (headroom 1.0): the downloader's token bucket,
    which stays under 99 % of it over any rolling minute, is the governor. ``clock`` paces both (a
    ScaledClock matching an accelerated local exchange).
    """
    from binfut.transport.aiohttp import AiohttpTransport

    config = ClientConfig(weight_headroom=1.0, timeout=timeout, validate_filters=False, sync_time=False)
    transport = CountingTransport(AiohttpTransport(timeout=timeout))
    return AsyncClient(env=env, base_url=base_url, config=config, transport=transport, clock=clock, environ={})


@dataclass(slots=True)
class _Job:
    spec: DatasetKind
    symbol: str  # the partition symbol (PAIR_CONTRACT for continuous klines)
    series: str | None
    plans: list[tuple[int, int, list[Window]]]  # uncovered [lo, hi) ranges and their windows
    limit: int
    state: SeriesState
    report: SeriesReport


class Downloader:
    """Runs one :class:`DownloadSpec` against a client into a :class:`Store`.

    Parameters
    ----------
    client : an AsyncClient (see :func:`open_client`); not closed here
    store : the dataset
    spec : what to fetch
    concurrency : series downloaded at once (N symbols in flight)
    prefetch : windows in flight within one series
    progress : progress sink (the CLI's rich bars)
    max_buffer_rows : rows held in memory per series before a flush mid-partition
    budget_fraction : share of each Binance budget to stay under over any rolling window
    """

    def __init__(
        self,
        client: AsyncClient,
        store: Store,
        spec: DownloadSpec,
        *,
        concurrency: int = 4,
        prefetch: int = 2,
        progress: Progress | None = None,
        max_buffer_rows: int = 2_000_000,
        budget_fraction: float = 0.99,
    ) -> None:
        if spec.end_ms is not None and spec.end_ms <= spec.start_ms:
            raise ConfigError("the download range is empty: end must be after start")
        self.client = client
        self.store = store
        self.spec = spec
        self.concurrency = max(1, concurrency)
        self.prefetch = max(1, prefetch)
        self.progress: Progress = progress or _NoProgress()
        self.max_buffer_rows = max_buffer_rows
        self.budget_fraction = budget_fraction
        self.manifest = Manifest(store.root, fsync=store.fsync)
        self.kinds = [kind(k) for k in spec.kinds]
        for k in self.kinds:
            if k.endpoint is None or k.endpoint not in PAGE_RULES:
                raise ConfigError(f"{k.name} cannot be downloaded from the REST API (import it from the bulk archives)")
        self._buckets: dict[str, TokenBucket] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._requests = 0
        self._weight = 0
        self._listed: set[str] = set()
        self._disk_error: StoreWriteError | None = None
        self.weight_limit = BUDGETS["weight"].limit
        endpoints = [BY_NAME[k.endpoint] for k in self.kinds if k.endpoint is not None]
        self._max_weight = max([ep.weight_for({"limit": spec.limit or best_limit(ep.name)}) for ep in endpoints] + [1])

    # -- time and budget --------------------------------------------------------------------------------

    def _now_ms(self) -> float:
        return self.client.clock.monotonic_ns() / 1e6

    async def _acquire(self, bucket: str, cost: float) -> None:
        """Wait (first come, first served) until ``cost`` fits ``bucket``, then spend it."""
        if cost <= 0:
            return
        tb = self._buckets[bucket]
        async with self._locks[bucket]:
            while True:
                now = self._now_ms()
                delay = tb.delay_ms(now, cost)
                if delay <= 0:
                    tb.take(now, cost)
                    return
                await self.client.clock.asleep(delay / 1000)

    def _bucket(self, limit: int, window_ms: int, largest_cost: int, now_ms: float) -> TokenBucket:
        # A burst of twice the largest request: a late wake-up banks its oversleep instead of losing it.
        return TokenBucket(limit, window_ms, fraction=self.budget_fraction, min_burst=2 * largest_cost, now_ms=now_ms)

    async def _prepare(self) -> int:
        """Server time, the weight limit, known symbols; seed the weight bucket with usage seen. Returns server ms."""
        now = self._now_ms()
        for name, rule in BUDGETS.items():
            self._buckets[name] = self._bucket(
                rule.limit, rule.window_ms, 2 if rule.cost == "request" else self._max_weight, now
            )
            self._locks[name] = asyncio.Lock()
        await self._acquire("weight", BY_NAME["exchange_info"].weight_for({}))
        info = await self.client.exchange_info()
        await self._acquire("weight", BY_NAME["server_time"].weight_for({}))
        server_ms = (await self.client.server_time()).server_time_ms
        self._requests += 2
        self._weight += 2
        for item in info.rate_limits:
            if item.rate_limit_type == "REQUEST_WEIGHT" and item.interval == "MINUTE" and item.interval_num == 1:
                self.weight_limit = item.limit
                self._buckets["weight"] = self._bucket(item.limit, 60_000, self._max_weight, self._now_ms())
        # What the server counts for this IP in the current minute: our two requests, plus whatever
        # others on the same IP (or a run killed seconds ago) spent. It is charged as debt.
        used = self.client.rate_limit_usage().get("weight", {}).get("60s", (0, 0))[0]
        self._buckets["weight"].charge(self._now_ms(), max(used, self._weight))
        self._listed = {s.symbol for s in info.symbols}
        return server_ms

    # -- planning ---------------------------------------------------------------------------------------

    def _plan(self, server_ms: int) -> list[_Job]:
        jobs = []
        for spec in self.kinds:
            endpoint = spec.endpoint
            assert endpoint is not None
            rule = PAGE_RULES[endpoint]
            series = self.spec.interval if spec.series == "interval" else self.spec.period if spec.series else None
            limit = min(self.spec.limit or best_limit(endpoint), rule.max_limit)
            start = self.spec.start_ms
            end = self.spec.end_ms if self.spec.end_ms is not None else server_ms
            unavailable = None
            if series is not None:
                # Only closed bars / periods: stop at the open of the one in progress.
                end = min(end, _grid_floor(series, server_ms))
            else:
                end = min(end, server_ms)
            if rule.history_ms is not None and series is not None:
                oldest = grid_ceil(series, server_ms - rule.history_ms)
                if start < oldest:
                    unavailable = (start, min(oldest, end))
                    start = oldest
            for symbol in self.spec.symbols:
                part = f"{symbol}_{self.spec.contract_type}" if spec.name == "continuous_klines" else symbol
                state = self.manifest.load(spec.name, part, series)
                report = SeriesReport(
                    spec.name, part, series, self.spec.start_ms, self.spec.end_ms, unavailable=unavailable
                )
                ranges = subtract_ranges(start, end, state.covered) if end > start else []
                if self._listed and symbol not in self._listed:
                    # Binance answers -1121 for it; say so once instead of failing every page.
                    report.error = f"{symbol} is not listed by the exchange (exchangeInfo)"
                    ranges = []
                report.already_covered = not ranges and report.error is None
                plans = [(lo, hi, plan_windows(endpoint, series, lo, hi, limit)) for lo, hi in ranges]
                report.windows = sum(len(w) for _, _, w in plans)
                jobs.append(_Job(spec, part, series, plans, limit, state, report))
        # Symbol-major within a kind: N concurrent jobs are N symbols in flight.
        return jobs

    # -- fetching ---------------------------------------------------------------------------------------

    async def _call(self, job: _Job, params: dict[str, Any]) -> Any:
        endpoint = job.spec.endpoint
        assert endpoint is not None
        rule = PAGE_RULES[endpoint]
        weight = BY_NAME[endpoint].weight_for({"limit": params.get("limit")})
        await self._acquire("weight", weight)
        if rule.budget != "weight":
            await self._acquire(rule.budget, 1)
        self._requests += 1
        self._weight += weight
        job.report.requests += 1
        return await getattr(self.client, f"{endpoint}_df")(**params)

    async def _fetch(self, job: _Job, window: Window) -> pa.Table:
        spec = job.spec
        params = request_params(spec, job.symbol, job.series, window, job.limit, self.spec.contract_type)
        return _within(table_from_frame(spec, await self._call(job, params)), spec.time_column, window)

    async def _window_pages(self, job: _Job, windows: list[Window]) -> AsyncGenerator[tuple[pa.Table, int, int]]:
        """(rows, complete-before time, windows done) per window, in order, ``prefetch`` in flight."""
        pending: deque[tuple[Window, asyncio.Task[pa.Table]]] = deque()
        todo = iter(windows)

        def launch() -> None:
            window = next(todo, None)
            if window is not None:
                pending.append((window, asyncio.ensure_future(self._fetch(job, window))))

        for _ in range(self.prefetch):
            launch()
        try:
            while pending:
                window, task = pending.popleft()
                table = await task
                launch()
                yield table, window.end_ms, 1
        finally:
            for _, task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*(t for _, t in pending), return_exceptions=True)

    async def _agg_pages(self, job: _Job, windows: list[Window]) -> AsyncGenerator[tuple[pa.Table, int, int]]:
        """aggTrades pages, one after the other (each ``fromId`` depends on the page before)."""
        pager = AggTradesPager(job.symbol, windows, job.limit)
        while (params := pager.request()) is not None:
            table = table_from_frame(job.spec, await self._call(job, params))
            last_id = last_time = None
            if table.num_rows:
                last_id = int(table["agg_trade_id"][-1].as_py())
                last_time = int(_ms(table["time"])[-1])
            done_to, finished = pager.feed(table.num_rows, last_id, last_time)
            yield _within(table, "time", Window(windows[0].start_ms, pager.hi)), done_to, finished

    # -- one series -------------------------------------------------------------------------------------

    async def _run_job(self, job: _Job) -> SeriesReport:
        report = job.report
        self.progress.series_started(report, report.windows)
        try:
            if self._disk_error is not None:  # no point fetching what cannot be stored
                raise self._disk_error
            for lo, hi, windows in job.plans:
                await self._run_range(job, lo, hi, windows)
        except StoreWriteError as exc:
            self._disk_error = exc
            report.error = f"{type(exc).__name__}: {exc}"
        except BinfutError as exc:
            report.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.progress.series_done(report)
        return report

    async def _run_range(self, job: _Job, lo: int, hi: int, windows: list[Window]) -> None:
        granularity = job.spec.granularity_for(job.series)
        buffer: list[pa.Table] = []
        buffered = 0
        flushed_to = done_to = lo
        source = self._agg_pages(job, windows) if job.spec.name == "agg_trades" else self._window_pages(job, windows)
        try:
            async with contextlib.aclosing(source) as pages:
                async for table, complete_to, finished in pages:
                    buffer.append(table)
                    buffered += table.num_rows
                    done_to = max(done_to, min(complete_to, hi))
                    job.report.rows += table.num_rows
                    self.progress.advanced(job.report, finished, table.num_rows)
                    # Partitions that end at or before the complete point are whole: write them out.
                    cut = hi if done_to >= hi else partition_start_ms(granularity, done_to)
                    if buffered >= self.max_buffer_rows:
                        cut = max(cut, done_to)
                    if cut > flushed_to:
                        buffered = self._flush(job, buffer, flushed_to, cut)
                        flushed_to = cut
        finally:
            # Whatever was fetched in order is kept, even on an error or Ctrl-C.
            if done_to > flushed_to:
                self._flush(job, buffer, flushed_to, done_to)

    def _flush(self, job: _Job, buffer: list[pa.Table], lo: int, hi: int) -> int:
        """Write rows with time in ``[lo, hi)`` and record the range; returns rows left in ``buffer``."""
        spec, state = job.spec, job.state
        table = pa.concat_tables(buffer) if buffer else spec.schema.empty_table()
        times = _ms(table[spec.time_column]) if table.num_rows else np.empty(0, np.int64)
        inside = (times >= lo) & (times < hi)
        part = table.filter(pa.array(inside)) if not inside.all() else table
        rest = table.filter(pa.array(~inside & (times >= hi))) if not inside.all() else None
        buffer.clear()
        if rest is not None and rest.num_rows:
            buffer.append(rest)
        gaps: list[Gap] = []
        if job.series is not None:
            gaps = find_grid_gaps(spec.name, job.symbol, job.series, times[inside], lo, hi)
        elif spec.name == "agg_trades" and part.num_rows:
            contiguous = any(end == lo for _, end in state.covered)
            ids = part["agg_trade_id"].to_numpy()
            gaps = find_id_gaps(
                spec.name, job.symbol, ids, times[inside],
                state.last_id if contiguous else None, state.last_time_ms if contiguous else None,
            )  # fmt: skip
        stats = self.store.write(spec, part, symbol=job.symbol, series=job.series)
        newest_edge = not state.covered or hi >= max(end for _, end in state.covered)
        state.add(lo, hi, gaps)
        if spec.name == "agg_trades" and part.num_rows and newest_edge:
            state.last_id = int(part["agg_trade_id"][-1].as_py())
            state.last_time_ms = int(times[inside][-1])
        self.manifest.save(state)
        job.report.rows_added += stats.rows_added
        job.report.gaps.extend(gaps)
        return sum(t.num_rows for t in buffer)

    # -- the whole run ----------------------------------------------------------------------------------

    async def run(self) -> DownloadReport:
        """Download everything the spec names that is not on disk yet.

        Returns
        -------
        DownloadReport
            Per-series outcome, gaps and request counts. A series that failed (an API error, or the
            disk refusing a write: then the series not yet started are skipped) carries ``error``;
            what it fetched before failing is stored and the next run resumes after it.
        """
        start = self._now_ms()
        server_ms = await self._prepare()
        jobs = self._plan(server_ms)
        self.progress.planned([j.report for j in jobs])
        gate = asyncio.Semaphore(self.concurrency)

        async def guarded(job: _Job) -> SeriesReport:
            async with gate:
                return await self._run_job(job)

        reports = list(await asyncio.gather(*(guarded(j) for j in jobs)))
        transport = getattr(self.client, "_transport", None)
        statuses = dict(transport.statuses) if isinstance(transport, CountingTransport) else None
        return DownloadReport(
            reports, self._requests, self._weight, statuses, (self._now_ms() - start) / 1000, self.weight_limit
        )


def _grid_floor(series: str, time_ms: int) -> int:
    """Open time of the bar / period in progress at ``time_ms``."""
    ceil = grid_ceil(series, time_ms)
    if ceil == time_ms:
        return ceil
    if series == "1M":
        return int(np.datetime64(time_ms, "ms").astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64))
    return ceil - series_ms(series)


def _within(table: pa.Table, column: str, window: Window) -> pa.Table:
    """Rows of ``table`` whose ``column`` lies in the window (Binance's ``endTime`` is inclusive)."""
    if table.num_rows == 0:
        return table
    times = _ms(table[column])
    inside = (times >= window.start_ms) & (times < window.end_ms)
    return table if inside.all() else table.filter(pa.array(inside))


async def download(
    spec: DownloadSpec,
    store: Store | str,
    *,
    client: AsyncClient | None = None,
    env: str = "mainnet",
    base_url: str | None = None,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> DownloadReport:
    """Download ``spec`` into ``store`` (a :class:`Store` or a directory).

    Parameters
    ----------
    spec : what to fetch
    store : the dataset, or its directory
    client : an AsyncClient to use (default: :func:`open_client` for ``env`` / ``base_url``, closed after)
    env, base_url : where to download from when no client is given
    concurrency : series in flight
    progress : progress sink

    Returns
    -------
    DownloadReport
        Failures of single series (API errors, a full disk) are in ``report.failed``.

    Raises
    ------
    ConfigError
        An empty range, or a kind the REST API does not serve.
    TransportError, ApiError
        The exchange could not be reached for exchangeInfo / server time.
    """
    target = store if isinstance(store, Store) else Store(store)
    own = client is None
    client = client or open_client(env, base_url)
    try:
        return await Downloader(client, target, spec, concurrency=concurrency, progress=progress).run()
    finally:
        if own:
            await client.aclose()


def parse_kinds(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"klines,funding"`` -> canonical kind names; raises DataError for an unknown one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        return tuple(dict.fromkeys(kind(i).name for i in items if i.strip()))
    except KeyError as exc:
        raise DataError(str(exc.args[0])) from None
