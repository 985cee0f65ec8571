"""Pagination planners for REST history (pure: no I/O, no clock; every input carries its time).

Each endpoint pages by its own Binance rule, kept as data in :data:`PAGE_RULES`: klines (all five
kinds) by ``startTime``/``endTime`` windows of ``limit`` bars; aggTrades by windows under one hour
until the first trade, then by ``fromId`` (:class:`AggTradesPager`); funding history by windows of
``limit`` × 1 h (the shortest funding interval); the ``/futures/data`` statistics by windows of
``limit`` periods, only over the last 30 days. Windows are fixed up front, each holding at most one
page, so a page's content does not depend on whether Binance trims a window from its head or tail;
the plan gives exact progress totals, and resuming is "plan the ranges not yet covered".
Also here: the page size with the most rows per request weight (:func:`best_limit`), a token
bucket that keeps a rolling window under Binance's limits (:class:`TokenBucket`), and gap finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from binfut.data.schema import KLINE_KINDS, DatasetKind, series_ms
from binfut.protocol.endpoints import BY_NAME

__all__ = [
    "BUDGETS",
    "PAGE_RULES",
    "AggTradesPager",
    "BudgetRule",
    "Gap",
    "PageRule",
    "TokenBucket",
    "Window",
    "best_limit",
    "find_grid_gaps",
    "find_id_gaps",
    "grid_ceil",
    "grid_opens",
    "merge_ranges",
    "plan_windows",
    "request_params",
    "subtract_ranges",
]

_HOUR = 3_600_000
_DAY = 86_400_000
_MONDAY = 4 * _DAY  # 1970-01-01 was a Thursday; weekly bars open on Mondays 00:00 UTC


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window ``[start_ms, end_ms)`` fetched by one request (plus ``fromId`` pages)."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class PageRule:
    """How one endpoint pages.

    Parameters
    ----------
    max_limit : Binance's largest ``limit``
    window : how a window is sized: ``"bars"`` (limit × bar length), ``"funding"`` (limit × 1 h),
        ``"hour"`` (under one hour, aggTrades)
    budget : the :data:`BUDGETS` bucket the request is charged to
    history_ms : how far back Binance serves (None: no limit)
    """

    max_limit: int
    window: str
    budget: str = "weight"
    history_ms: int | None = None


_STATS = PageRule(500, "bars", "futures_data", history_ms=30 * _DAY)  # "only the latest 30 days"

#: Pagination rules by endpoint-table name.
PAGE_RULES: dict[str, PageRule] = {
    **{name: PageRule(1500, "bars") for name in KLINE_KINDS},
    # "If both startTime and endTime are sent, time between startTime and endTime must be less than 1 hour";
    # the hours only find the first trade, then fromId pages (see AggTradesPager).
    "agg_trades": PageRule(1000, "hour"),
    # fundingRate: own budget of 500 requests / 5 min / IP, shared with fundingInfo.
    "funding_rate_history": PageRule(1000, "funding", "funding"),
    "open_interest_hist": _STATS,
    "top_long_short_position_ratio": _STATS,
    "top_long_short_account_ratio": _STATS,
    "global_long_short_account_ratio": _STATS,
    "taker_long_short_ratio": _STATS,
    "basis": _STATS,
}


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """A rolling budget: ``limit`` units per ``window_ms``; ``cost`` is ``"weight"`` or ``"request"``."""

    limit: int
    window_ms: int
    cost: str


#: Budgets by bucket name. ``weight`` is replaced by exchangeInfo's REQUEST_WEIGHT limit at run time.
BUDGETS: dict[str, BudgetRule] = {
    "weight": BudgetRule(2400, 60_000, "weight"),  # REQUEST_WEIGHT per minute per IP
    "funding": BudgetRule(500, 300_000, "request"),  # fundingRate + fundingInfo: 500 / 5 min / IP
    "futures_data": BudgetRule(1000, 300_000, "request"),  # /futures/data/*: 1000 requests / 5 min / IP
}


def best_limit(endpoint: str, max_limit: int | None = None) -> int:
    """The ``limit`` that returns the most rows per unit of budget (largest on a tie).

    For klines Binance's weight steps are 1 below 100 rows, 2 below 500, 5 up to 1000 and 10 above,
    so 499 rows for weight 2 (249.5 rows per weight) beats 1000 for weight 5 (200 per weight).
    Endpoints billed per request (funding, statistics) and constant-weight ones (aggTrades) take the
    maximum.
    """
    rule = PAGE_RULES[endpoint]
    top = max_limit or rule.max_limit
    if BUDGETS[rule.budget].cost != "weight":
        return top
    ep = BY_NAME[endpoint]
    best, best_rate = 1, 0.0
    for n in range(1, top + 1):
        weight = max(1, ep.weight_for({"limit": n}))
        if n / weight >= best_rate:
            best, best_rate = n, n / weight
    return best


# -- bar grids ----------------------------------------------------------------------------------------------


def _month_add(open_ms: int, months: int) -> int:
    d = np.datetime64(open_ms, "ms").astype("datetime64[M]") + months
    return int(d.astype("datetime64[ms]").astype(np.int64))


def grid_ceil(interval: str, time_ms: int) -> int:
    """The first bar open at or after ``time_ms`` on Binance's grid for ``interval``."""
    if interval == "1M":
        floor = _month_add(time_ms, 0)
        return floor if floor == time_ms else _month_add(time_ms, 1)
    length = series_ms(interval)
    offset = _MONDAY if interval == "1w" else 0
    return time_ms + (-(time_ms - offset)) % length


def grid_opens(interval: str, start_ms: int, end_ms: int) -> np.ndarray:
    """Bar open times in ``[start_ms, end_ms)`` (int64 epoch ms)."""
    first = grid_ceil(interval, start_ms)
    if interval == "1M":
        opens = []
        t = first
        while t < end_ms:
            opens.append(t)
            t = _month_add(t, 1)
        return np.array(opens, dtype=np.int64)
    return np.arange(first, end_ms, series_ms(interval), dtype=np.int64)


# -- ranges -------------------------------------------------------------------------------------------------


def merge_ranges(ranges: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``[start, end)`` ranges; touching ranges join."""
    out: list[tuple[int, int]] = []
    for s, e in sorted((int(r[0]), int(r[1])) for r in ranges if r[1] > r[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def subtract_ranges(start_ms: int, end_ms: int, covered: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """The parts of ``[start_ms, end_ms)`` outside ``covered``."""
    todo: list[tuple[int, int]] = []
    cursor = start_ms
    for s, e in merge_ranges(covered):
        if e <= cursor:
            continue
        if s >= end_ms:
            break
        if s > cursor:
            todo.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end_ms:
        todo.append((cursor, end_ms))
    return todo


# -- windows ------------------------------------------------------------------------------------------------


def plan_windows(endpoint: str, series: str | None, start_ms: int, end_ms: int, limit: int) -> list[Window]:
    """Windows covering ``[start_ms, end_ms)``, each holding at most one page of ``limit`` rows.

    Bar and period series start on their grid (a window never splits a bar); the month interval is
    sized with its shortest month (28 days) so no window can hold more than ``limit`` bars.
    """
    rule = PAGE_RULES[endpoint]
    if rule.window == "hour":
        step = _HOUR
    elif rule.window == "funding":
        step = limit * _HOUR
    else:
        if series is None:
            raise ValueError(f"{endpoint} needs an interval or period")
        start_ms = grid_ceil(series, start_ms)
        step = limit * (28 * _DAY if series == "1M" else series_ms(series))
    return [Window(s, min(s + step, end_ms)) for s in range(start_ms, end_ms, step)]


def request_params(
    spec: DatasetKind, symbol: str, series: str | None, window: Window, limit: int, contract_type: str = "PERPETUAL"
) -> dict[str, Any]:
    """Keyword arguments of the client method for one window (``endTime`` is inclusive on Binance)."""
    params: dict[str, Any] = {"start_time": window.start_ms, "end_time": window.end_ms - 1, "limit": limit}
    name = spec.endpoint
    if name == "continuous_klines":
        params.update(pair=symbol.split("_")[0], contract_type=contract_type, interval=series)
    elif name == "index_price_klines":
        params.update(pair=symbol, interval=series)
    elif name in KLINE_KINDS:
        params.update(symbol=symbol, interval=series)
    elif name == "basis":
        params.update(pair=symbol, contract_type=contract_type, period=series)
    elif spec.series == "period":
        params.update(symbol=symbol, period=series)
    else:
        params["symbol"] = symbol
    return params


class AggTradesPager:
    """Sans-IO pager of ``GET /fapi/v1/aggTrades`` over ``[lo, hi)``: :meth:`request`, then :meth:`feed`.

    Binance allows a ``startTime``/``endTime`` window only under one hour, but pages by ``fromId``
    without any window. So hourly windows are asked only until the first trade is found; from there
    ``fromId`` = last id + 1 pages of ``limit`` trades follow, whatever time they span (one request
    crosses a quiet night), until a trade at or after ``hi`` or a short page (the newest trade).
    Hours are also the progress unit: :meth:`feed` says how many are complete.

    Parameters
    ----------
    symbol : the symbol
    windows : the hourly windows of ``[lo, hi)`` (:func:`plan_windows` of ``agg_trades``)
    limit : trades per page (max 1000)
    """

    __slots__ = ("_hour", "_next_id", "done", "hi", "limit", "symbol", "windows")

    def __init__(self, symbol: str, windows: Sequence[Window], limit: int) -> None:
        self.symbol = symbol
        self.windows = list(windows)
        self.hi = self.windows[-1].end_ms if self.windows else 0
        self.limit = limit
        self._hour = 0
        self._next_id: int | None = None
        self.done = not self.windows

    def request(self) -> dict[str, Any] | None:
        """Keyword arguments of the next ``agg_trades`` call, or None when the range is complete."""
        if self.done:
            return None
        if self._next_id is not None:
            return {"symbol": self.symbol, "from_id": self._next_id, "limit": self.limit}
        w = self.windows[self._hour]
        return {"symbol": self.symbol, "start_time": w.start_ms, "end_time": w.end_ms - 1, "limit": self.limit}

    def feed(self, rows: int, last_id: int | None, last_time_ms: int | None) -> tuple[int, int]:
        """Take a page's size and last trade; returns (time before which the range is complete, hours completed)."""
        left = len(self.windows) - self._hour
        if self._next_id is None:
            w = self.windows[self._hour]
            if rows == 0:  # a quiet hour: try the next one
                self._hour += 1
                self.done = self._hour >= len(self.windows)
                return w.end_ms, 1
        elif rows == 0 or rows < self.limit:
            self.done = True  # no trade after this one yet: complete up to the range's end
            return self.hi, left
        assert last_id is not None and last_time_ms is not None
        if last_time_ms >= self.hi:
            self.done = True
            return self.hi, left
        self._next_id = last_id + 1
        # Trades before the last one's millisecond are complete; the next page may hold more of it.
        finished = 0
        while self._hour + finished < len(self.windows) and self.windows[self._hour + finished].end_ms <= last_time_ms:
            finished += 1
        self._hour += finished
        return last_time_ms, finished


# -- budget -------------------------------------------------------------------------------------------------


class TokenBucket:
    """A token bucket that keeps every rolling window of ``window_ms`` under ``fraction`` × ``limit``.

    Binance counts fixed windows aligned on the server's clock, which need not match ours; a token
    bucket bounds *any* window of ``window_ms`` to ``burst + rate × window_ms``, so it holds whatever
    the alignment. ``rate`` is set so that bound is ``fraction × limit``. Usage by others (what the
    server reports) is charged with :meth:`charge` and may put the bucket in debt.

    Parameters
    ----------
    limit, window_ms : Binance's budget (2400 weight per 60 000 ms)
    fraction : the share of the limit to stay under (0.99: a little room for clock jitter)
    burst_fraction : tokens available at once; the sustained rate is ``fraction - burst_fraction``
        of the limit (0.98 by default). A request costing more than the burst waits for a full
        bucket and leaves it in debt, so the bound still holds.
    min_burst : a floor for the burst: give it a few times the largest request cost, so that a
        sleep that wakes late banks the time it overslept instead of losing it
    now_ms : the current time of the clock that will drive the bucket
    """

    __slots__ = ("_last", "_tokens", "burst", "limit", "rate", "window_ms")

    def __init__(
        self,
        limit: int,
        window_ms: int,
        *,
        fraction: float = 0.99,
        burst_fraction: float = 0.01,
        min_burst: float = 1.0,
        now_ms: float = 0,
    ) -> None:
        self.limit = limit
        self.window_ms = window_ms
        self.burst = max(min_burst, limit * burst_fraction)
        self.rate = max(0.0, limit * fraction - self.burst) / window_ms  # units per ms
        self._tokens = self.burst
        self._last = now_ms

    def _refill(self, now_ms: float) -> None:
        if now_ms > self._last:
            self._tokens = min(self.burst, self._tokens + (now_ms - self._last) * self.rate)
            self._last = now_ms

    def delay_ms(self, now_ms: float, cost: float) -> float:
        """ms to wait before ``cost`` units may be spent (0: now). A cost above the burst waits for a full bucket."""
        self._refill(now_ms)
        need = min(cost, self.burst) - self._tokens
        if need <= 0:
            return 0.0
        return need / self.rate if self.rate > 0 else float("inf")

    def take(self, now_ms: float, cost: float) -> None:
        """Spend ``cost`` units now (call when :meth:`delay_ms` said 0)."""
        self._refill(now_ms)
        self._tokens -= cost

    def charge(self, now_ms: float, cost: float) -> None:
        """Count units spent elsewhere (another process on the same IP); may leave the bucket in debt."""
        self.take(now_ms, cost)

    @property
    def per_window(self) -> float:
        """The most this bucket lets through in any window of ``window_ms``."""
        return self.burst + self.rate * self.window_ms


# -- gaps ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gap:
    """Rows Binance did not return: ``[start_ms, end_ms)`` of one series, ``missing`` rows (bars or ids)."""

    kind: str
    symbol: str
    series: str | None
    start_ms: int
    end_ms: int
    missing: int

    def to_json(self) -> list[Any]:
        return [self.start_ms, self.end_ms, self.missing]


def find_grid_gaps(kind: str, symbol: str, series: str, times_ms: np.ndarray, start_ms: int, end_ms: int) -> list[Gap]:
    """Missing bars (or statistics periods) of ``series`` in ``[start_ms, end_ms)`` given the present open times."""
    expected = grid_opens(series, start_ms, end_ms)
    if expected.size == 0:
        return []
    missing = np.setdiff1d(expected, np.asarray(times_ms, dtype=np.int64), assume_unique=False)
    if missing.size == 0:
        return []
    # Consecutive missing bars form one gap: split where the next missing open is not the next grid open.
    position = np.searchsorted(expected, missing)
    breaks = np.flatnonzero(np.diff(position) != 1) + 1
    gaps = []
    for run in np.split(np.arange(missing.size), breaks):
        first, last = int(position[run[0]]), int(position[run[-1]])
        stop = int(expected[last + 1]) if last + 1 < expected.size else end_ms
        gaps.append(Gap(kind, symbol, series, int(expected[first]), stop, last - first + 1))
    return gaps


def find_id_gaps(
    kind: str,
    symbol: str,
    ids: np.ndarray,
    times_ms: np.ndarray,
    previous_id: int | None = None,
    previous_time_ms: int | None = None,
) -> list[Gap]:
    """Holes in a consecutive id sequence (aggregate trade ids): ``[time before, time after)``, ids missing."""
    ids = np.asarray(ids, dtype=np.int64)
    times = np.asarray(times_ms, dtype=np.int64)
    if previous_id is not None and previous_time_ms is not None:
        ids = np.concatenate(([previous_id], ids))
        times = np.concatenate(([previous_time_ms], times))
    if ids.size < 2:
        return []
    jumps = np.flatnonzero(np.diff(ids) > 1)
    return [Gap(kind, symbol, None, int(times[i]), int(times[i + 1]), int(ids[i + 1] - ids[i] - 1)) for i in jumps]
