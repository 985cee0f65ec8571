"""Trade, mark-price, kline, ticker and liquidation streams, read from the exchange's market data.

Rules kept here ("Websocket Market Streams" update speeds):
- ``@trade`` pushes every public trade as it happens; ``@aggTrade`` pushes the aggregate trades of
  ``exchange.market`` (so ids match REST ``/fapi/v1/aggTrades``) at the end of each 100 ms window,
  when they can no longer grow;
- ``@markPrice`` / ``!markPrice@arr`` push the latest mark state every 3 s (``@1s``: every second)
  while the exchange produces marks;
- klines and continuous klines (PERPETUAL only) push the open bar every 250 ms when it changed, and
  a final bar with ``x: true`` for every interval, in order, from the bar open at subscription on
  (once the symbol has traded): an interval without trades is a flat bar (OHLC = previous close,
  zero volume), the one REST ``/fapi/v1/klines`` fills in; a bar that ends before its close timer
  fires (a stalled loop) is closed when the next trade's bar arrives, with the quiet intervals in
  between (at most :data:`MAX_FLAT_BARS` of them);
- ``@miniTicker`` (500 ms), ``@ticker`` (2 s) and the ``!..@arr`` tickers (1 s, changed symbols only)
  read ``exchange.market.ticker_24h``; ``@forceOrder`` / ``!forceOrder@arr`` push the latest
  liquidation of each symbol per 1000 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from binfut.emulator.marketdata import KlineBar as Bar
from binfut.emulator.marketdata import interval_close, interval_open
from binfut.emulator.ws.hub import Cadence
from binfut.emulator.ws.names import StreamSpec
from binfut.emulator.ws.payloads import encode, number, text
from binfut.protocol.events import (
    AggTrade,
    ContinuousKline,
    ForceOrder,
    Kline,
    KlineBar,
    LiquidationOrder,
    MarkPriceUpdate,
    MiniTicker,
    Ticker,
    Trade,
)

if TYPE_CHECKING:
    from binfut.emulator.ws.hub import StreamHub

__all__ = ["MAX_FLAT_BARS", "MarketFeeds", "MarketSource"]

MAX_FLAT_BARS = 1500  # quiet intervals closed at once after a stall (Binance's largest klines page)


class MarketSource:
    """What the feeds read from the exchange: its venue's book and its market-data state."""

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange

    def book_top(self, symbol: str, levels: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Best ``levels`` bids and asks, best first, as Decimal (price, qty) (the venue's REST depth)."""
        _last_update_id, bids, asks = self.exchange.venue.depth(symbol, levels)
        return bids, asks

    def last_kline(self, symbol: str, interval: str) -> Any:
        """The newest trade bar of ``symbol`` on ``interval`` (the live object REST serves), or None."""
        market = self.exchange.market
        if symbol not in market.symbols:
            return None
        bars = market.klines(symbol, interval, limit=1)
        return bars[-1] if bars else None

    def last_agg_trade(self, symbol: str) -> Any:
        return self.exchange.market.last_agg_trade(symbol)

    def mark(self, symbol: str) -> Any:
        return self.exchange.market.mark(symbol)

    def symbols(self) -> list[str]:
        return list(self.exchange.market.symbols)

    def ticker(self, symbol: str, now_ms: int) -> dict[str, Any]:
        ticker: dict[str, Any] = self.exchange.market.ticker_24h(symbol, now_ms)
        return ticker


def _mark_event(update: Any, now: int) -> MarkPriceUpdate:
    return MarkPriceUpdate(
        event_time_ms=now,
        symbol=update.symbol,
        mark_price=number(update.mark_price),
        index_price=number(update.index_price),
        estimated_settle_price=number(update.estimated_settle_price),
        funding_rate=number(update.funding_rate),  # 8 decimals: a zero rate is 0E-8 to ``str``
        next_funding_time_ms=update.next_funding_time_ms,
    )


def _bar(bar: Any, symbol: str | None, interval: str, closed: bool) -> KlineBar:
    return KlineBar(
        start_time_ms=bar.open_time_ms,
        close_time_ms=bar.close_time_ms,
        symbol=symbol,
        interval=interval,
        first_trade_id=bar.first_trade_id,
        last_trade_id=bar.last_trade_id,
        open=number(bar.open),
        close=number(bar.close),
        high=number(bar.high),
        low=number(bar.low),
        volume=number(bar.volume),
        trades=bar.trades,
        is_closed=closed,
        quote_volume=number(bar.quote_volume),
        taker_buy_volume=number(bar.taker_buy_base),
        taker_buy_quote_volume=number(bar.taker_buy_quote),
        ignore="0",
    )


def _flat(interval: str, time_ms: int, price: Decimal) -> Bar:
    """The bar holding ``time_ms`` when its interval has no trades, as REST fills it in: OHLC = the
    previous close ``price``, zero volume (calendar intervals via ``interval_open`` / ``interval_close``)."""
    open_ms = interval_open(interval, time_ms)
    return Bar(open_ms, interval_close(interval, open_ms), price, price, price, price)


def _ticker_event(t: dict[str, Any], now: int) -> Ticker:
    """``ticker_24h``'s numbers are the REST ticker's plain text already: the Decimal-typed fields take
    those strings as they are (encoded like the Decimals they spell, see ``payloads.number``)."""
    return Ticker(
        event_time_ms=now,
        symbol=t["symbol"],
        price_change=t["priceChange"],
        price_change_percent=t["priceChangePercent"],
        weighted_avg_price=t["weightedAvgPrice"],
        last_price=t["lastPrice"],
        last_qty=t["lastQty"],
        open=t["openPrice"],
        high=t["highPrice"],
        low=t["lowPrice"],
        volume=t["volume"],
        quote_volume=t["quoteVolume"],
        open_time_ms=t["openTime"],
        close_time_ms=t["closeTime"],
        first_trade_id=t["firstId"],
        last_trade_id=t["lastId"],
        count=t["count"],
    )


def _mini_event(t: dict[str, Any], now: int) -> MiniTicker:
    """The REST ticker's strings, as in :func:`_ticker_event`."""
    return MiniTicker(
        event_time_ms=now,
        symbol=t["symbol"],
        close=t["lastPrice"],
        open=t["openPrice"],
        high=t["highPrice"],
        low=t["lowPrice"],
        volume=t["volume"],
        quote_volume=t["quoteVolume"],
    )


class _Kline:
    """One subscribed kline stream: its open bar (the exchange's, or a flat one) and its close timer."""

    __slots__ = ("bar", "cadence", "close_timer", "spec")

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.bar: Any = None
        self.cadence: Cadence | None = None
        self.close_timer: Any = None


class MarketFeeds:
    """The non-depth market streams."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self.source = MarketSource(hub.exchange)
        self._active: dict[str, StreamSpec] = {}
        self._cadences: list[Cadence] = []
        # aggTrade: symbol -> aggregate records waiting for the end of their 100 ms window
        self._agg_pending: dict[str, list[Any]] = {}
        self._agg_cadence: dict[str, Cadence] = {}
        # mark: cadence ms -> symbols with a mark since the last push
        self._mark_subs: dict[str, set[int]] = {}  # symbol ("" = all) -> cadences
        self._mark_cadence: dict[int, Cadence] = {}
        # klines: (symbol, interval) -> streams
        self._klines: dict[tuple[str, str], list[_Kline]] = {}
        # tickers: cadence name -> dirty symbols
        self._ticker_dirty: dict[str, set[str]] = {}
        self._ticker_cadence: dict[str, Cadence] = {}
        # liquidations: stream name -> latest payload
        self._force_latest: dict[str, bytes] = {}
        self._force_cadence = self._cadence(1000, self._flush_force)

    def _cadence(self, period_ms: int, callback: Callable[[], None]) -> Cadence:
        cadence = Cadence(self.hub.timers, period_ms, callback)
        self._cadences.append(cadence)
        return cadence

    def stop(self) -> None:
        for cadence in self._cadences:
            cadence.cancel()
        for cadence in self._ticker_cadence.values():
            cadence.cancel()
        for streams in self._klines.values():
            for k in streams:
                if k.cadence is not None:
                    k.cadence.cancel()
                if k.close_timer is not None:
                    k.close_timer.cancel()

    # --- activation -------------------------------------------------------------------------------

    def activate(self, spec: StreamSpec) -> None:
        self._active[spec.name] = spec
        kind = spec.kind
        if kind in ("markPrice", "allMarkPrice"):
            self._mark_subs.setdefault(spec.symbol, set()).add(spec.cadence_ms)
            if spec.cadence_ms not in self._mark_cadence:
                cadence_ms = spec.cadence_ms
                self._mark_cadence[cadence_ms] = self._cadence(cadence_ms, lambda: self._flush_mark(cadence_ms))
        elif kind in ("kline", "continuousKline"):
            if kind == "continuousKline" and spec.contract_type != "PERPETUAL":
                return  # only perpetual contracts are listed: such a stream stays silent
            k = _Kline(spec)
            k.cadence = Cadence(self.hub.timers, 250, lambda: self._flush_kline(k))
            self._klines.setdefault((spec.symbol, spec.interval), []).append(k)
            last = self.source.last_kline(spec.symbol, spec.interval)
            if last is not None:
                now = self.hub.timers.now_ms()
                self._start_kline(k, last if now <= last.close_time_ms else _flat(spec.interval, now, last.close))
        elif kind in ("ticker", "miniTicker", "allTicker", "allMiniTicker") and spec.name not in self._ticker_cadence:
            name = spec.name
            self._ticker_dirty[name] = set()
            self._ticker_cadence[name] = Cadence(self.hub.timers, spec.cadence_ms, lambda: self._flush_ticker(name))

    def deactivate(self, spec: StreamSpec) -> None:
        self._active.pop(spec.name, None)
        kind = spec.kind
        if kind in ("markPrice", "allMarkPrice"):
            still = {s.cadence_ms for s in self._active.values() if s.kind == spec.kind and s.symbol == spec.symbol}
            if still:
                self._mark_subs[spec.symbol] = still
            else:
                self._mark_subs.pop(spec.symbol, None)
        elif kind in ("kline", "continuousKline"):
            streams = self._klines.get((spec.symbol, spec.interval), [])
            for k in [k for k in streams if k.spec.name == spec.name]:
                streams.remove(k)
                if k.cadence is not None:
                    k.cadence.cancel()
                if k.close_timer is not None:
                    k.close_timer.cancel()
            if not streams:
                self._klines.pop((spec.symbol, spec.interval), None)
        elif kind in ("ticker", "miniTicker", "allTicker", "allMiniTicker"):
            cadence = self._ticker_cadence.pop(spec.name, None)
            if cadence is not None:
                cadence.cancel()
            self._ticker_dirty.pop(spec.name, None)
        elif kind == "aggTrade":
            self._agg_pending.pop(spec.symbol, None)

    # --- input ------------------------------------------------------------------------------------

    def on_market(self, kind: str, symbol: str, payload: Any) -> None:
        """Bus listener for every topic but ``depth``."""
        if kind == "trade":
            self._on_trade(symbol, payload)
        elif kind == "kline":
            streams = self._klines.get((symbol, payload[0]))
            if streams and payload[1] == "trade":
                for k in streams:
                    self._kline_update(k, payload[2])
        elif kind == "mark":
            if symbol in self._mark_subs or "" in self._mark_subs:
                for cadence_ms in self._mark_subs.get(symbol, set()) | self._mark_subs.get("", set()):
                    self._mark_cadence[cadence_ms].mark()
        elif kind == "ticker":
            lower = symbol.lower()
            for name, dirty in self._ticker_dirty.items():
                if name.startswith(("!", lower + "@")):
                    dirty.add(symbol)
                    self._ticker_cadence[name].mark()
        elif kind == "force":
            self._on_force(symbol, payload)

    def _on_trade(self, symbol: str, trade: Any) -> None:
        lower = symbol.lower()
        hub = self.hub
        name = lower + "@trade"
        if hub.has(name):
            event = Trade(
                event_time_ms=hub.now_ms(),
                trade_time_ms=trade.time_ms,
                symbol=symbol,
                trade_id=trade.trade_id,
                price=text(trade.price),
                quantity=text(trade.qty),
                buyer_is_maker=trade.buyer_is_maker,
            )
            hub.publish(name, encode(event))
        if hub.has(lower + "@aggTrade"):
            record = self.source.last_agg_trade(symbol)
            if record is None:
                return
            pending = self._agg_pending.setdefault(symbol, [])
            if not pending or pending[-1] is not record:
                pending.append(record)
            cadence = self._agg_cadence.get(symbol)
            if cadence is None:
                cadence = self._agg_cadence[symbol] = self._cadence(100, lambda: self._flush_agg(symbol))
            cadence.mark()

    # --- flushes ----------------------------------------------------------------------------------

    def _flush_agg(self, symbol: str) -> None:
        pending = self._agg_pending.get(symbol)
        if not pending:
            return
        now = self.hub.now_ms()
        # An aggregate stamped with the current millisecond may still grow: keep it for the next window.
        ready = [r for r in pending if r.time_ms < now]
        self._agg_pending[symbol] = [r for r in pending if r.time_ms >= now]
        if self._agg_pending[symbol]:
            self._agg_cadence[symbol].mark()
        name = symbol.lower() + "@aggTrade"
        for r in ready:
            event = AggTrade(
                event_time_ms=now,
                agg_trade_id=r.agg_id,
                symbol=symbol,
                price=text(r.price),
                quantity=text(r.qty),
                first_trade_id=r.first_trade_id,
                last_trade_id=r.last_trade_id,
                trade_time_ms=r.time_ms,
                buyer_is_maker=r.buyer_is_maker,
            )
            self.hub.publish(name, encode(event))

    def _flush_mark(self, cadence_ms: int) -> None:
        now = self.hub.now_ms()
        suffix = "@1s" if cadence_ms == 1000 else ""
        everyone: list[MarkPriceUpdate] = []
        want_all = cadence_ms in self._mark_subs.get("", set())
        symbols = self.source.symbols() if want_all else [s for s in self._mark_subs if s]
        for symbol in symbols:
            update = self.source.mark(symbol)
            if update is None:
                continue
            event = _mark_event(update, now)
            if want_all:
                everyone.append(event)
            if cadence_ms in self._mark_subs.get(symbol, ()):
                self.hub.publish(f"{symbol.lower()}@markPrice{suffix}", encode(event))
        if everyone:
            self.hub.publish(f"!markPrice@arr{suffix}", encode(everyone))

    def _kline_update(self, k: _Kline, bar: Any) -> None:
        current = k.bar
        if current is None or bar.open_time_ms > current.open_time_ms:
            if current is not None:  # the bar rolled before its close timer fired (a stalled loop)
                self._close_until(k, bar.open_time_ms)
            self._start_kline(k, bar)
        elif bar.open_time_ms == current.open_time_ms:
            k.bar = bar  # the real bar replaces a flat one (or is the same object)
            assert k.cadence is not None
            k.cadence.mark()
        # else: a late trade into a bar already sent closed

    def _start_kline(self, k: _Kline, bar: Any) -> None:
        """Make ``bar`` the stream's open bar: push it within 250 ms, close it at its end."""
        k.bar = bar
        assert k.cadence is not None
        k.cadence.mark()
        if k.close_timer is not None:
            k.close_timer.cancel()
        k.close_timer = self.hub.timers.call_at(bar.close_time_ms + 1, lambda: self._close_kline(k))

    def _close_kline(self, k: _Kline) -> None:
        """Close timer: send the bar (and any interval a late timer skipped) closed, go on with a flat bar."""
        k.close_timer = None
        bar = k.bar
        following = _flat(k.spec.interval, max(self.hub.timers.now_ms(), bar.close_time_ms + 1), bar.close)
        self._close_until(k, following.open_time_ms)
        self._start_kline(k, following)

    def _close_until(self, k: _Kline, open_ms: int) -> None:
        """Send the open bar closed, then the flat bars of the quiet intervals up to ``open_ms``."""
        bar = k.bar
        self._publish_kline(k, bar, closed=True)
        start = bar.close_time_ms + 1
        for _ in range(MAX_FLAT_BARS):
            if start >= open_ms:
                break
            flat = _flat(k.spec.interval, start, bar.close)
            self._publish_kline(k, flat, closed=True)
            start = flat.close_time_ms + 1

    def _flush_kline(self, k: _Kline) -> None:
        if k.bar is not None:
            self._publish_kline(k, k.bar, closed=False)

    def _publish_kline(self, k: _Kline, bar: Any, *, closed: bool) -> None:
        spec = k.spec
        if spec.name not in self._active:
            return
        now = self.hub.now_ms()
        if spec.kind == "kline":
            event: Kline | ContinuousKline = Kline(
                event_time_ms=now, symbol=spec.symbol, kline=_bar(bar, spec.symbol, spec.interval, closed)
            )
        else:
            event = ContinuousKline(
                event_time_ms=now,
                pair=spec.symbol,
                contract_type=spec.contract_type,
                kline=_bar(bar, None, spec.interval, closed),
            )
        self.hub.publish(spec.name, encode(event))

    def _flush_ticker(self, name: str) -> None:
        dirty = self._ticker_dirty.get(name)
        spec = self._active.get(name)
        if not dirty or spec is None:
            return
        symbols = sorted(dirty)
        dirty.clear()
        now = self.hub.now_ms()
        mini = spec.kind in ("miniTicker", "allMiniTicker")
        make: Callable[[dict[str, Any], int], MiniTicker | Ticker] = _mini_event if mini else _ticker_event
        events = [make(self.source.ticker(s, now), now) for s in symbols]
        if spec.kind.startswith("all"):
            self.hub.publish(name, encode(events))
        else:
            self.hub.publish(name, encode(events[0]))

    def _on_force(self, symbol: str, force: Any) -> None:
        names = [n for n in (symbol.lower() + "@forceOrder", "!forceOrder@arr") if self.hub.has(n)]
        if not names:
            return
        event = ForceOrder(
            event_time_ms=self.hub.now_ms(),
            order=LiquidationOrder(
                symbol=force.symbol,
                side=force.side,
                order_type=force.order_type,
                time_in_force=force.time_in_force,
                quantity=number(force.quantity),
                price=number(force.price),
                average_price=number(force.average_price),
                status=force.status,
                last_filled_quantity=number(force.last_filled_quantity),
                filled_accumulated_quantity=number(force.filled_accumulated_quantity),
                trade_time_ms=force.trade_time_ms,
            ),
        )
        payload = encode(event)
        # Only the latest liquidation per symbol within each 1000 ms is pushed (a snapshot).
        for name in names:
            key = name if not name.startswith("!") else f"!{symbol}"
            self._force_latest[key] = payload
        self._force_cadence.mark()

    def _flush_force(self) -> None:
        latest, self._force_latest = self._force_latest, {}
        for key, payload in latest.items():
            self.hub.publish("!forceOrder@arr" if key.startswith("!") else key, payload)
