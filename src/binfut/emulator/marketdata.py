"""Public market data of the local exchange, folded from the engine's outputs (sans-IO).

:class:`MarketData` keeps, per symbol: the trade tape, aggregate trades, klines of every Binance
interval (1m ... 1M) for trades and for the mark, index and premium-index series, rolling 24 h
statistics, the latest mark / index / funding state, settled funding rates, open interest and the
5-minute ``/futures/data`` samples. It publishes on the :class:`~binfut.emulator.bus.EventBus`:
``trade`` (the engine's PublicTrade), ``depth`` (BookDelta), ``force`` (ForceOrder), ``mark``
(:class:`MarkPriceUpdate`), ``kline`` (``(interval, kind, KlineBar)``: kind ``trade``/``mark``/
``index``/``premium``), ``ticker`` (the symbol; read :meth:`MarketData.ticker_24h`).
Rules kept here:
- bars open on Binance's grid: epoch-aligned for minutes to days, Monday 00:00 UTC for ``1w``,
  the first of the month for ``1M``; an interval without trades gets a flat zero-volume bar;
- an aggregate trade joins consecutive fills with the same time, price and taker side;
- 24 h statistics roll over the last 1440 one-minute bars (minute granularity);
- no I/O and no clock reads: every input carries its own time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec

from binfut.emulator.bus import EventBus

__all__ = [
    "INTERVALS",
    "AggTradeRecord",
    "KlineBar",
    "MarkPriceUpdate",
    "MarketData",
    "PositionSample",
    "TradeRecord",
    "interval_close",
    "interval_open",
]

ZERO = Decimal(0)
_MIN = 60_000
_HOUR = 3_600_000
_DAY = 86_400_000
# Every kline interval Binance serves, with its length in ms (1M is calendar-based, see below).
INTERVALS: dict[str, int] = {
    "1m": _MIN, "3m": 3 * _MIN, "5m": 5 * _MIN, "15m": 15 * _MIN, "30m": 30 * _MIN,
    "1h": _HOUR, "2h": 2 * _HOUR, "4h": 4 * _HOUR, "6h": 6 * _HOUR, "8h": 8 * _HOUR, "12h": 12 * _HOUR,
    "1d": _DAY, "3d": 3 * _DAY, "1w": 7 * _DAY, "1M": 30 * _DAY,
}  # fmt: skip
SERIES_KINDS = ("trade", "mark", "index", "premium")
_MONDAY_OFFSET = 4 * _DAY  # 1970-01-01 was a Thursday; weekly bars open on Mondays
STATS_PERIODS: dict[str, int] = {
    "5m": 5 * _MIN, "15m": 15 * _MIN, "30m": 30 * _MIN, "1h": _HOUR, "2h": 2 * _HOUR,
    "4h": 4 * _HOUR, "6h": 6 * _HOUR, "12h": 12 * _HOUR, "1d": _DAY,
}  # fmt: skip


def _f(value: Decimal) -> str:
    """A Decimal as plain text (``str`` would write ``1E-8`` for tiny premium values)."""
    return format(value, "f")


def interval_open(interval: str, time_ms: int) -> int:
    """Open time of the ``interval`` bar holding ``time_ms``."""
    if interval == "1M":
        d = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
        return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)
    length = INTERVALS[interval]
    if interval == "1w":
        return time_ms - (time_ms - _MONDAY_OFFSET) % length
    return time_ms - time_ms % length


def interval_close(interval: str, open_ms: int) -> int:
    """Close time (inclusive, ``next open - 1``) of the bar opening at ``open_ms``."""
    if interval == "1M":
        d = datetime.fromtimestamp(open_ms / 1000, tz=UTC)
        nxt = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)
        return int(nxt.timestamp() * 1000) - 1
    return open_ms + INTERVALS[interval] - 1


class MarkPriceUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Mark / index / funding state of one symbol (bus topic ``mark``; ``markPriceUpdate`` stream).

    ``funding_rate`` is the rate the next settlement will use if nothing changes (Binance's
    ``lastFundingRate`` / stream ``r``); ``premium_index`` is the current (mark - index) / index.
    """

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    estimated_settle_price: Decimal
    premium_index: Decimal
    funding_rate: Decimal
    interest_rate: Decimal
    next_funding_time_ms: int
    time_ms: int


@dataclass(slots=True)
class TradeRecord:
    """One public trade on the tape."""

    trade_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time_ms: int
    buyer_is_maker: bool


@dataclass(slots=True)
class AggTradeRecord:
    """One aggregate trade (grows while consecutive fills share time, price and side)."""

    agg_id: int
    price: Decimal
    qty: Decimal
    first_trade_id: int
    last_trade_id: int
    time_ms: int
    buyer_is_maker: bool


@dataclass(slots=True)
class KlineBar:
    """One bar. Price series (mark / index / premium) leave the volume fields at zero."""

    open_time_ms: int
    close_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_buy_base: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO
    first_trade_id: int = -1
    last_trade_id: int = -1

    def row(self) -> list[Any]:
        """The 12-element array of the kline endpoints (numbers as strings, as Binance sends them)."""
        return [
            self.open_time_ms, _f(self.open), _f(self.high), _f(self.low), _f(self.close), _f(self.volume),
            self.close_time_ms, _f(self.quote_volume), self.trades, _f(self.taker_buy_base),
            _f(self.taker_buy_quote), "0",
        ]  # fmt: skip


@dataclass(slots=True)
class PositionSample:
    """A 5-minute sample of positions for the ``/futures/data`` statistics."""

    time_ms: int
    open_interest: Decimal
    open_interest_value: Decimal
    long_accounts: int
    short_accounts: int
    top_long_position: Decimal
    top_short_position: Decimal
    top_long_accounts: int
    top_short_accounts: int


class _Series:
    """Bars of one (symbol, kind, interval): closed bars in a bounded deque plus the open one."""

    __slots__ = ("bars", "current", "interval")

    def __init__(self, interval: str, limit: int) -> None:
        self.interval = interval
        self.bars: deque[KlineBar] = deque(maxlen=limit)
        self.current: KlineBar | None = None

    def _roll(self, time_ms: int) -> KlineBar:
        cur = self.current
        if cur is not None and time_ms <= cur.close_time_ms:
            return cur
        open_ms = interval_open(self.interval, time_ms)
        if cur is not None:
            if open_ms < cur.open_time_ms:  # late input: fold it into the current bar
                return cur
            self.bars.append(cur)
            # Fill a quiet stretch with flat bars, as Binance does (bounded by the deque length).
            nxt = cur.close_time_ms + 1
            filled = 0
            while nxt < open_ms and filled < (self.bars.maxlen or 0):
                self.bars.append(
                    KlineBar(nxt, interval_close(self.interval, nxt), cur.close, cur.close, cur.close, cur.close)
                )
                nxt = interval_close(self.interval, nxt) + 1
                filled += 1
            prev = cur.close
        else:
            prev = None
        new = KlineBar(open_ms, interval_close(self.interval, open_ms), ZERO, ZERO, ZERO, ZERO)
        if prev is not None:
            new.open = new.high = new.low = new.close = prev
        self.current = new
        return new

    def add_trade(
        self, time_ms: int, price: Decimal, qty: Decimal, quote: Decimal, taker_buy: bool, trade_id: int
    ) -> KlineBar:
        bar = self._roll(time_ms)
        if bar.trades == 0:
            bar.open = bar.high = bar.low = price
            bar.first_trade_id = trade_id
        elif price > bar.high:
            bar.high = price
        elif price < bar.low:
            bar.low = price
        bar.close = price
        bar.volume += qty
        bar.quote_volume += quote
        bar.trades += 1
        bar.last_trade_id = trade_id
        if taker_buy:
            bar.taker_buy_base += qty
            bar.taker_buy_quote += quote
        return bar

    def add_price(self, time_ms: int, value: Decimal) -> KlineBar:
        bar = self._roll(time_ms)
        if bar.trades == 0:
            bar.open = bar.high = bar.low = value
        elif value > bar.high:
            bar.high = value
        elif value < bar.low:
            bar.low = value
        bar.close = value
        bar.trades += 1  # Binance reports the sample count in this slot for price klines
        return bar

    def all(self) -> Iterator[KlineBar]:
        yield from self.bars
        if self.current is not None:
            yield self.current


class _SymbolData:
    __slots__ = (
        "agg", "agg_seq", "funding", "last_update_id", "mark", "open_interest", "samples",
        "series", "tape", "last_trade",
    )  # fmt: skip

    def __init__(self, tape_size: int, kline_limit: int) -> None:
        self.tape: deque[TradeRecord] = deque(maxlen=tape_size)
        self.agg: deque[AggTradeRecord] = deque(maxlen=tape_size)
        self.agg_seq = 0
        self.series: dict[str, dict[str, _Series]] = {
            kind: {iv: _Series(iv, kline_limit) for iv in INTERVALS} for kind in SERIES_KINDS
        }
        self.mark: MarkPriceUpdate | None = None
        self.funding: deque[tuple[int, Decimal, Decimal]] = deque(maxlen=10_000)  # (time, rate, mark)
        self.open_interest: tuple[Decimal, int] = (ZERO, 0)
        self.samples: deque[PositionSample] = deque(maxlen=30 * 288)  # 30 days of 5-minute samples
        self.last_update_id = 0
        self.last_trade: TradeRecord | None = None


class MarketData:
    """Market-data state of every listed symbol.

    Parameters
    ----------
    symbols : the listed symbols
    bus : where updates are published (None: publish nothing)
    tape_size : trades and aggregate trades kept per symbol
    kline_limit : closed bars kept per series and interval (1500 = Binance's max page)
    """

    def __init__(
        self, symbols: Iterable[str], bus: EventBus | None = None, *, tape_size: int = 20_000, kline_limit: int = 1500
    ) -> None:
        self.bus = bus
        self._data: dict[str, _SymbolData] = {s: _SymbolData(tape_size, kline_limit) for s in symbols}

    @property
    def symbols(self) -> list[str]:
        return list(self._data)

    def _sym(self, symbol: str) -> _SymbolData:
        return self._data[symbol]

    # --- inputs ------------------------------------------------------------------------------------

    def ingest(self, output: Any) -> None:
        """Fold one engine public output (PublicTrade, BookDelta, ForceOrder) and publish it."""
        name = type(output).__name__
        if name == "PublicTrade":
            self.on_trade(
                output.symbol,
                output.trade_id,
                output.price,
                output.qty,
                output.time_ms,
                output.buyer_is_maker,
                raw=output,
            )
        elif name == "BookDelta":
            if output.symbol in self._data:
                self._data[output.symbol].last_update_id = output.last_update_id
            if self.bus is not None:
                self.bus.publish_market("depth", output.symbol, output)
        elif name == "ForceOrder" and self.bus is not None:
            self.bus.publish_market("force", output.symbol, output)

    def on_trade(
        self,
        symbol: str,
        trade_id: int,
        price: Decimal,
        qty: Decimal,
        time_ms: int,
        buyer_is_maker: bool,
        *,
        raw: Any = None,
    ) -> None:
        """Record one public trade: tape, aggregate trades, trade klines; publish trade, kline, ticker."""
        data = self._data.get(symbol)
        if data is None:
            return
        quote = price * qty
        rec = TradeRecord(trade_id, price, qty, quote, time_ms, buyer_is_maker)
        data.tape.append(rec)
        data.last_trade = rec
        agg = data.agg[-1] if data.agg else None
        if agg is not None and agg.time_ms == time_ms and agg.price == price and agg.buyer_is_maker == buyer_is_maker:
            agg.qty += qty
            agg.last_trade_id = trade_id
        else:
            data.agg_seq += 1
            data.agg.append(AggTradeRecord(data.agg_seq, price, qty, trade_id, trade_id, time_ms, buyer_is_maker))
        bus = self.bus
        if bus is not None and raw is not None:
            bus.publish_market("trade", symbol, raw)
        for interval, series in data.series["trade"].items():
            bar = series.add_trade(time_ms, price, qty, quote, not buyer_is_maker, trade_id)
            if bus is not None:
                bus.publish_market("kline", symbol, (interval, "trade", bar))
        if bus is not None:
            bus.publish_market("ticker", symbol, symbol)

    def add_history_trade(self, symbol: str, price: Decimal, qty: Decimal, time_ms: int, taker_buy: bool) -> None:
        """Fold a pre-generated trade into the kline series only (see :mod:`binfut.emulator.history`).

        History has no tape: trades and aggTrades start with the exchange, whose trade ids must stay
        increasing; klines, tickers and statistics see the history. Nothing is published.
        """
        data = self._data.get(symbol)
        if data is None:
            return
        quote = price * qty
        for series in data.series["trade"].values():
            series.add_trade(time_ms, price, qty, quote, taker_buy, 0)

    def on_mark(self, update: MarkPriceUpdate) -> None:
        """Record a mark / index / funding update; extend the price series; publish ``mark``."""
        data = self._data.get(update.symbol)
        if data is None:
            return
        data.mark = update
        t = update.time_ms
        bus = self.bus
        for kind, value in (
            ("mark", update.mark_price),
            ("index", update.index_price),
            ("premium", update.premium_index),
        ):
            for interval, series in data.series[kind].items():
                bar = series.add_price(t, value)
                if bus is not None and interval == "1m":
                    bus.publish_market("kline", update.symbol, (interval, kind, bar))
        if bus is not None:
            bus.publish_market("mark", update.symbol, update)

    def on_funding(self, symbol: str, funding_time_ms: int, rate: Decimal, mark_price: Decimal) -> None:
        """Record a settled funding rate."""
        if symbol in self._data:
            self._data[symbol].funding.append((funding_time_ms, rate, mark_price))

    def set_open_interest(self, symbol: str, open_interest: Decimal, time_ms: int) -> None:
        if symbol in self._data:
            self._data[symbol].open_interest = (open_interest, time_ms)

    def add_sample(self, symbol: str, sample: PositionSample) -> None:
        """Add a 5-minute positions sample (open interest and long / short accounts).

        Samples are kept in time order, one per slot: a sample for a slot that already has one (the
        live simulator's first sample right after generated history) is ignored.
        """
        data = self._data.get(symbol)
        if data is None:
            return
        if data.samples and sample.time_ms <= data.samples[-1].time_ms:
            return
        data.samples.append(sample)

    # --- queries -----------------------------------------------------------------------------------

    def last_update_id(self, symbol: str) -> int:
        return self._sym(symbol).last_update_id

    def last_trade(self, symbol: str) -> TradeRecord | None:
        return self._sym(symbol).last_trade

    def last_price(self, symbol: str) -> Decimal | None:
        last = self._sym(symbol).last_trade
        return last.price if last is not None else None

    def mark(self, symbol: str) -> MarkPriceUpdate | None:
        return self._sym(symbol).mark

    def last_agg_trade(self, symbol: str) -> AggTradeRecord | None:
        """The newest aggregate trade (the one the last trade joined or opened)."""
        agg = self._sym(symbol).agg
        return agg[-1] if agg else None

    def recent_trades(self, symbol: str, limit: int = 500, from_id: int | None = None) -> list[TradeRecord]:
        """``limit`` trades from ``from_id`` on, or the newest ``limit``."""
        tape = self._sym(symbol).tape
        if from_id is None:
            return list(tape)[-limit:] if limit else []
        return [t for t in tape if t.trade_id >= from_id][:limit]

    def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[AggTradeRecord]:
        """Binance's aggTrades selection: by id, by time window, or the newest ``limit``."""
        agg = self._sym(symbol).agg
        if from_id is not None:
            return [a for a in agg if a.agg_id >= from_id][:limit]
        if start_ms is not None or end_ms is not None:
            lo = start_ms if start_ms is not None else -1
            hi = end_ms if end_ms is not None else 1 << 62
            return [a for a in agg if lo <= a.time_ms <= hi][:limit]
        return list(agg)[-limit:]

    def klines(
        self,
        symbol: str,
        interval: str,
        kind: str = "trade",
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[KlineBar]:
        """Bars of one series: from ``start_ms`` (first ``limit``), up to ``end_ms`` (last ``limit``)."""
        bars = [b for b in self._sym(symbol).series[kind][interval].all() if b.trades or b.volume or b.open]
        if start_ms is not None:
            bars = [b for b in bars if b.open_time_ms >= start_ms]
        if end_ms is not None:
            bars = [b for b in bars if b.open_time_ms <= end_ms]
        return bars[:limit] if start_ms is not None else bars[-limit:]

    def ticker_24h(self, symbol: str, now_ms: int) -> dict[str, Any]:
        """Rolling 24 h statistics as Binance's ``ticker/24hr`` object."""
        data = self._sym(symbol)
        since = now_ms - _DAY
        bars = [b for b in data.series["trade"]["1m"].all() if b.close_time_ms >= since and b.trades]
        last = data.last_trade
        last_price = last.price if last is not None else (data.mark.mark_price if data.mark else ZERO)
        if not bars:
            return _ticker(
                symbol, last_price, last_price, last_price, last_price, ZERO, ZERO, last, since, now_ms, 0, -1, -1
            )
        volume = sum((b.volume for b in bars), ZERO)
        quote = sum((b.quote_volume for b in bars), ZERO)
        return _ticker(
            symbol, bars[0].open, max(b.high for b in bars), min(b.low for b in bars), last_price,
            volume, quote, last, since, now_ms, sum(b.trades for b in bars), bars[0].first_trade_id, bars[-1].last_trade_id,
        )  # fmt: skip

    def funding_history(
        self, symbol: str | None, *, start_ms: int | None = None, end_ms: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Settled funding rates, ascending; without a window the newest ``limit``."""
        rows: list[dict[str, Any]] = []
        for sym in [symbol] if symbol else self._data:
            for t, rate, mark in self._sym(sym).funding:
                if (start_ms is None or t >= start_ms) and (end_ms is None or t <= end_ms):
                    rows.append({"symbol": sym, "fundingTime": t, "fundingRate": _f(rate), "markPrice": _f(mark)})
        rows.sort(key=lambda r: r["fundingTime"])
        return rows[:limit] if start_ms is not None else rows[-limit:]

    def open_interest(self, symbol: str) -> tuple[Decimal, int]:
        return self._sym(symbol).open_interest

    def samples(
        self, symbol: str, period: str, *, start_ms: int | None = None, end_ms: int | None = None, limit: int = 30
    ) -> list[PositionSample]:
        """Samples on the ``period`` grid (5m ... 1d), ascending, like the ``/futures/data`` endpoints."""
        step = STATS_PERIODS[period]
        rows = [s for s in self._sym(symbol).samples if s.time_ms % step == 0]
        if start_ms is not None:
            rows = [s for s in rows if s.time_ms >= start_ms]
        if end_ms is not None:
            rows = [s for s in rows if s.time_ms <= end_ms]
        return rows[:limit] if start_ms is not None and end_ms is None else rows[-limit:]

    def period_bars(self, symbol: str, period: str, kind: str = "trade", limit: int = 30) -> list[KlineBar]:
        """Closed and open bars of ``kind`` on a statistics period (taker volume, basis)."""
        return [b for b in self._sym(symbol).series[kind][period].all() if b.trades][-limit:]


def _ticker(
    symbol: str,
    open_: Decimal,
    high: Decimal,
    low: Decimal,
    last_price: Decimal,
    volume: Decimal,
    quote: Decimal,
    last: TradeRecord | None,
    open_time: int,
    close_time: int,
    count: int,
    first_id: int,
    last_id: int,
) -> dict[str, Any]:
    change = last_price - open_
    pct = (change / open_ * 100).quantize(Decimal("0.001"), ROUND_HALF_EVEN) if open_ else Decimal("0.000")
    wavg = (quote / volume).quantize(Decimal("0.00001"), ROUND_HALF_EVEN) if volume else last_price
    return {
        "symbol": symbol,
        "priceChange": _f(change),
        "priceChangePercent": _f(pct),
        "weightedAvgPrice": _f(wavg),
        "lastPrice": _f(last_price),
        "lastQty": _f(last.qty) if last is not None else "0",
        "openPrice": _f(open_),
        "highPrice": _f(high),
        "lowPrice": _f(low),
        "volume": _f(volume),
        "quoteVolume": _f(quote.quantize(Decimal("0.00001"), ROUND_HALF_EVEN) if quote else quote),
        "openTime": open_time,
        "closeTime": close_time,
        "firstId": first_id,
        "lastId": last_id,
        "count": count,
    }
