"""Backtest input: klines (plus optional mark prices and funding rates) as exact per-bar arrays.

:func:`prepare_feed` turns pandas DataFrames (UTC DatetimeIndex; ``open``, ``high``, ``low``, ``close``,
``volume``) into a :class:`BarFeed`; :func:`load_feed` reads the same from the ``binfut.data`` store.

Rules kept here:

* trade prices become integer ticks of the symbol (``round(price / tickSize)``): the vectorised and the
  event-driven paths read the same integers, and ``Decimal`` prices are ``ticks x tickSize`` exactly;
* floats cross into ``Decimal`` only here and only through ``repr`` (the shortest string that reads
  back as the same float), so ``65542.39802347`` stays ``Decimal("65542.39802347")``;
* a funding settlement at time ``f`` belongs to the bar whose decision time (open + interval) is the
  first at or after ``f``: it is settled after that bar's prints and before the strategy sees the bar;
* mark prices: mark-price klines (OHLC) give the intrabar mark path; a Series gives the mark at each
  close (intrabar marks then follow the trade prints); without either the mark is the trade price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from binfut.matching import SymbolSpec

__all__ = ["INTERVAL_MS", "BarFeed", "FundingEvent", "attach_funding", "fetch_feed", "load_feed", "prepare_feed", "synthetic_funding", "to_decimal"]

INTERVAL_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
    "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000,
    "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}
_FUNDING_MS = 8 * 3_600_000


def to_decimal(value: float) -> Decimal:
    """The exact boundary from float to ``Decimal`` (shortest round-trip representation)."""
    return Decimal(repr(float(value)))


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """One funding settlement: processed at bar ``bar`` (see the module docstring)."""

    bar: int
    time_ms: int
    rate: Decimal
    mark_price: Decimal | None


@dataclass(slots=True)
class BarFeed:
    """Bars of one symbol as arrays (see :func:`prepare_feed`).

    ``open``..``close`` are int64 ticks; ``mark_open``..``mark_close`` float64 (None: the trade prices);
    ``funding`` sorted by bar.
    """

    symbol: str
    interval: str
    interval_ms: int
    spec: SymbolSpec
    open_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    mark_open: np.ndarray | None = None
    mark_high: np.ndarray | None = None
    mark_low: np.ndarray | None = None
    mark_close: np.ndarray | None = None
    funding: list[FundingEvent] = field(default_factory=list)
    _dec: dict[float, Decimal] = field(default_factory=dict)
    _decision: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.open_ms)

    @property
    def decision_ms(self) -> np.ndarray:
        """Time each bar is complete and handed to the strategy (open + interval); computed once."""
        cached = self._decision
        if cached is None or len(cached) != len(self.open_ms):
            cached = self._decision = self.open_ms + self.interval_ms
        return cached

    def price(self, ticks: int) -> Decimal:
        return Decimal(int(ticks)) * self.spec.tick_size

    def mark(self, value: float) -> Decimal:
        d = self._dec.get(value)
        if d is None:
            d = self._dec[value] = to_decimal(value)
        return d

    def mark_close_dec(self, i: int) -> Decimal:
        """The mark price at bar ``i``'s close."""
        if self.mark_close is None:
            return self.price(self.close[i])
        return self.mark(float(self.mark_close[i]))

    def funding_bars(self) -> np.ndarray:
        return np.fromiter((f.bar for f in self.funding), dtype=np.int64, count=len(self.funding))

    def decision_marks(self) -> tuple[np.ndarray, dict[int, Decimal]]:
        """Float mark at each bar's decision time and the exact overrides (a funding settlement's mark).

        A bar whose funding event carries its own mark price ends with that mark (the engine takes the
        settlement's mark), which is what the portfolio values positions at when the strategy runs.
        """
        base = (self.mark_close if self.mark_close is not None else self.close * float(self.spec.tick_size)).astype(np.float64)
        marks = base.copy()
        exact: dict[int, Decimal] = {}
        for f in self.funding:
            if f.mark_price is not None:
                marks[f.bar] = float(f.mark_price)
                exact[f.bar] = f.mark_price
        return marks, exact

    def decision_mark(self, i: int, overrides: dict[int, Decimal]) -> Decimal:
        d = overrides.get(i)
        return d if d is not None else self.mark_close_dec(i)

    def close_price(self, i: int) -> Decimal:
        return self.price(self.close[i])

    def slice(self, start: int, stop: int) -> BarFeed:
        """Bars ``start..stop-1`` (funding re-indexed)."""
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[start:stop]

        return BarFeed(
            self.symbol, self.interval, self.interval_ms, self.spec, self.open_ms[start:stop], self.open[start:stop],
            self.high[start:stop], self.low[start:stop], self.close[start:stop], self.volume[start:stop],
            cut(self.mark_open), cut(self.mark_high), cut(self.mark_low), cut(self.mark_close),
            [FundingEvent(f.bar - start, f.time_ms, f.rate, f.mark_price) for f in self.funding if start <= f.bar < stop],
        )


def _index_ms(frame: pd.DataFrame | pd.Series, column: str | None = None) -> np.ndarray:
    """Epoch ms of each row: the DatetimeIndex, or ``column`` (datetimes, or integer epoch ms)."""
    if column is not None and isinstance(frame, pd.DataFrame) and column in frame.columns:
        raw = frame[column]
        if pd.api.types.is_integer_dtype(raw):
            return np.asarray(raw.to_numpy(dtype=np.int64))
        values = pd.DatetimeIndex(pd.to_datetime(raw, utc=True))
    else:
        index = frame.index
        if not isinstance(index, pd.DatetimeIndex):
            raise ValueError("bars need a UTC DatetimeIndex (open time) or an 'open_time' column")
        values = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return np.asarray(values.as_unit("ms").asi8, dtype=np.int64)


def _ticks(values: np.ndarray, tick: Decimal) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=np.float64) / float(tick)).astype(np.int64)


def synthetic_funding(bars: pd.DataFrame | np.ndarray, interval: str, rate: Decimal) -> pd.Series:
    """A constant ``rate`` at every 00:00 / 08:00 / 16:00 UTC settlement inside the bars' span.

    Parameters
    ----------
    bars : the klines DataFrame (or its open times in epoch ms)
    interval : the kline interval
    rate : the funding rate of every settlement
    """
    open_ms = bars if isinstance(bars, np.ndarray) else _index_ms(bars, "open_time" if "open_time" in bars.columns else None)
    if len(open_ms) == 0:
        return pd.Series(dtype=object)
    first = int(open_ms[0]) - int(open_ms[0]) % _FUNDING_MS + _FUNDING_MS
    last = int(open_ms[-1]) + INTERVAL_MS[interval]
    times = np.arange(first, last + 1, _FUNDING_MS, dtype=np.int64)
    return pd.Series([rate] * len(times), index=pd.to_datetime(times, unit="ms", utc=True), name="funding_rate")


def prepare_feed(
    bars: pd.DataFrame,
    spec: SymbolSpec,
    *,
    interval: str = "1m",
    mark: pd.DataFrame | pd.Series | None = None,
    funding: pd.DataFrame | pd.Series | None = None,
) -> BarFeed:
    """Build a :class:`BarFeed` from DataFrames.

    Parameters
    ----------
    bars : klines: UTC DatetimeIndex of open times (or an ``open_time`` column) and ``open``, ``high``,
        ``low``, ``close``, ``volume``
    spec : the symbol's instrument spec (tick size)
    interval : the kline interval (``1m``, ``1h``, ...)
    mark : mark-price klines (``open``/``high``/``low``/``close``) or a Series of close marks, aligned
        on the same open times (missing bars fall back to the trade prices)
    funding : settled funding: a Series of rates indexed by funding time, or a DataFrame with
        ``funding_rate`` and optional ``mark_price`` (index or ``funding_time`` column)

    Raises
    ------
    ValueError
        Unknown interval, unsorted or duplicated open times, missing columns.
    """
    if interval not in INTERVAL_MS:
        raise ValueError(f"unknown interval {interval!r}")
    missing = {"open", "high", "low", "close"} - set(bars.columns)
    if missing:
        raise ValueError(f"bars lack columns {sorted(missing)}")
    open_ms = _index_ms(bars, "open_time" if "open_time" in bars.columns else None)
    if len(open_ms) > 1 and not (np.diff(open_ms) > 0).all():
        raise ValueError("bar open times must be strictly increasing")
    tick = spec.tick_size
    feed = BarFeed(
        spec.symbol, interval, INTERVAL_MS[interval], spec, open_ms,
        _ticks(bars["open"].to_numpy(), tick), _ticks(bars["high"].to_numpy(), tick),
        _ticks(bars["low"].to_numpy(), tick), _ticks(bars["close"].to_numpy(), tick),
        bars["volume"].to_numpy(dtype=np.float64) if "volume" in bars.columns else np.zeros(len(open_ms)),
    )
    # high / low must bracket open and close even when the source rounded differently
    feed.high = np.maximum.reduce([feed.high, feed.open, feed.close])
    feed.low = np.minimum.reduce([feed.low, feed.open, feed.close])
    if mark is not None:
        _attach_marks(feed, mark)
    if funding is not None:
        feed.funding = _funding_events(feed, funding)
    return feed


def _align(feed: BarFeed, frame: pd.DataFrame | pd.Series, column: str | None) -> np.ndarray:
    times = _index_ms(frame)
    values = (frame[column] if column is not None else frame).to_numpy(dtype=np.float64)
    out = np.full(len(feed), np.nan)
    pos = np.searchsorted(feed.open_ms, times)
    ok = (pos < len(feed)) & (feed.open_ms[np.minimum(pos, len(feed) - 1)] == times)
    out[pos[ok]] = values[ok]
    return out


def _attach_marks(feed: BarFeed, mark: pd.DataFrame | pd.Series) -> None:
    tick = float(feed.spec.tick_size)
    trade = {k: getattr(feed, k) * tick for k in ("open", "high", "low", "close")}
    if isinstance(mark, pd.Series):
        close = _align(feed, mark, None)
        feed.mark_close = np.where(np.isnan(close), trade["close"], close)
        return
    for k in ("open", "high", "low", "close"):
        values = _align(feed, mark, k)
        setattr(feed, f"mark_{k}", np.where(np.isnan(values), trade[k], values))
    mo, mh, ml, mc = feed.mark_open, feed.mark_high, feed.mark_low, feed.mark_close
    assert mo is not None and mh is not None and ml is not None and mc is not None
    feed.mark_high = np.maximum.reduce([mh, mo, mc])
    feed.mark_low = np.minimum.reduce([ml, mo, mc])


def attach_funding(feed: BarFeed, funding: pd.DataFrame | pd.Series) -> None:
    """Replace ``feed``'s funding settlements with ``funding`` (see :func:`prepare_feed`)."""
    feed.funding = _funding_events(feed, funding)


def _funding_events(feed: BarFeed, funding: pd.DataFrame | pd.Series) -> list[FundingEvent]:
    if isinstance(funding, pd.Series):
        times = _index_ms(funding)
        rates: list[Any] = list(funding.to_numpy())
        marks: list[Any] = [None] * len(rates)
    else:
        times = _index_ms(funding, "funding_time" if "funding_time" in funding.columns else None)
        rates = list(funding["funding_rate"].to_numpy())
        marks = list(funding["mark_price"].to_numpy()) if "mark_price" in funding.columns else [None] * len(rates)
    decision = feed.decision_ms
    out = []
    for t, rate, m in zip(times.tolist(), rates, marks, strict=True):
        i = int(np.searchsorted(decision, t, side="left"))
        if i >= len(feed) or t <= int(feed.open_ms[0]):
            continue  # outside the bars: nothing to settle against
        r = rate if isinstance(rate, Decimal) else to_decimal(rate)
        mp = None if m is None or (isinstance(m, float) and np.isnan(m)) else (m if isinstance(m, Decimal) else to_decimal(m))
        out.append(FundingEvent(i, int(t), r, mp))
    out.sort(key=lambda f: (f.bar, f.time_ms))
    return out


def load_feed(
    store: Any, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, spec: SymbolSpec,
    *, with_mark: bool = True, with_funding: bool = True,
) -> BarFeed:
    """A :class:`BarFeed` from the ``binfut.data`` store (klines, and mark-price klines and funding when stored).

    Parameters
    ----------
    store : a ``binfut.data.Store`` or the dataset directory
    symbol, interval : the series
    start_ms, end_ms : open-time range ``[start_ms, end_ms)`` (None: all)
    spec : the symbol's instrument spec
    """
    from binfut.data import Store

    if not isinstance(store, Store):
        store = Store(store, fsync=False)

    def frame(kind: str, series: str | None) -> pd.DataFrame:
        df = store.to_pandas(kind, symbols=symbol, series=series, start_ms=start_ms, end_ms=end_ms)
        time_col = "funding_time" if kind == "funding_rate" else "open_time"
        if len(df):
            df = df.set_index(pd.DatetimeIndex(pd.to_datetime(df[time_col], utc=True), name=time_col))
        return df

    bars = frame("klines", interval)
    if not len(bars):
        raise ValueError(f"no {interval} klines of {symbol} in the store for that range")
    mark = frame("mark_price_klines", interval) if with_mark else None
    funding = frame("funding_rate", None) if with_funding else None
    return prepare_feed(bars, spec, interval=interval, mark=mark if mark is not None and len(mark) else None,
                        funding=funding if funding is not None and len(funding) else None)


def fetch_feed(
    client: Any, symbol: str, interval: str, start_ms: int, end_ms: int, spec: SymbolSpec,
    *, with_mark: bool = True, with_funding: bool = True,
) -> BarFeed:
    """A :class:`BarFeed` fetched over REST (``klines``, ``markPriceKlines``, ``fundingRate``), paged.

    Parameters
    ----------
    client : a ``binfut.Client`` (Binance, testnet or the local exchange)
    symbol, interval : the series
    start_ms, end_ms : open-time range ``[start_ms, end_ms)``
    spec : the symbol's instrument spec
    """
    step = INTERVAL_MS[interval]

    def paged(fetch: Any, limit: int) -> pd.DataFrame:
        frames = []
        t = start_ms
        while t < end_ms:
            df = fetch(symbol=symbol, interval=interval, start_time=t, end_time=end_ms - 1, limit=limit)
            if not len(df):
                break
            frames.append(df)
            nxt = int(_index_ms(df)[-1]) + step
            if nxt <= t:
                break
            t = nxt
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames)
        return out[~out.index.duplicated()]

    bars = paged(client.klines_df, 1500)
    if not len(bars):
        raise ValueError(f"no {interval} klines of {symbol} between {start_ms} and {end_ms}")
    mark = paged(client.mark_price_klines_df, 1500) if with_mark else None
    funding = None
    if with_funding:
        funding = client.funding_rate_history_df(symbol=symbol, start_time=start_ms, end_time=end_ms + step, limit=1000)
    return prepare_feed(bars, spec, interval=interval, mark=mark if mark is not None and len(mark) else None,
                        funding=funding if funding is not None and len(funding) else None)

