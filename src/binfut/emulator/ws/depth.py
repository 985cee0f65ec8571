"""Depth streams: diff depth with Binance's U / u / pu, partial depth (top 5/10/20) and book tickers.

Rules kept here ("Diff. Book Depth Streams", "How to manage a local order book correctly"):
- the engine publishes one BookDelta per command with its first / last update ids and the id before
  them; a stream with cadence C pushes, at every multiple of C on the exchange clock, one event
  holding every level changed in that window at its latest absolute quantity (0 = level removed):
  ``U`` = first update id in the window, ``u`` = last, ``pu`` = the update id just before ``U``, i.e.
  the previous event's ``u`` on that stream; windows without changes push nothing ("if existing");
- ``@depth@0ms`` pushes each BookDelta as it happens (U, u, pu taken from the engine);
- because every update lands in exactly one window, ``pu`` always equals the previous event's ``u``
  and the REST snapshot's ``lastUpdateId`` (the book's last update id) falls inside exactly one
  event, which is what Binance's local-book procedure relies on;
- the ``depth_gap`` fault drops one event (logged), so the next event's ``pu`` no longer matches;
- partial depth pushes the top N levels at the end of each window in which the book changed, with
  the window's U / u / pu; ``<symbol>@bookTicker`` pushes whenever best bid / ask price or quantity
  changed, ``!bookTicker`` the latest of each changed symbol every 5 s.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from binfut.emulator.ws.hub import Cadence
from binfut.emulator.ws.names import StreamSpec
from binfut.emulator.ws.payloads import encode, text, text_levels
from binfut.protocol.events import BookTicker, DepthUpdate

if TYPE_CHECKING:
    from binfut.emulator.ws.hub import StreamHub

__all__ = ["DepthFeed", "diff_stream_name"]

_DIFF_SUFFIX = {250: "@depth", 100: "@depth@100ms", 500: "@depth@500ms", 0: "@depth@0ms"}
_PARTIAL_SUFFIX = {250: "", 100: "@100ms", 500: "@500ms"}


def diff_stream_name(symbol: str, cadence_ms: int) -> str:
    """``btcusdt@depth@100ms`` for (BTCUSDT, 100)."""
    return symbol.lower() + _DIFF_SUFFIX[cadence_ms]


def _partial_name(symbol: str, levels: int, cadence_ms: int) -> str:
    return f"{symbol.lower()}@depth{levels}{_PARTIAL_SUFFIX[cadence_ms]}"


class _Window:
    """Changes of one symbol collected for one cadence."""

    __slots__ = ("asks", "bids", "cadence", "diff", "first", "last", "levels", "name", "prev", "transact_ms")

    def __init__(self, name: str) -> None:
        self.name = name  # the diff stream of this symbol and cadence
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.first = -1  # U of the pending event; -1 = nothing pending
        self.last = 0
        self.prev = 0
        self.transact_ms = 0
        self.diff = 0  # subscribed diff streams at this cadence (0 or 1)
        self.levels: dict[int, int] = {}  # partial-depth levels -> subscribed stream count
        self.cadence: Cadence | None = None


class _Symbol:
    __slots__ = ("all_ticker", "last_ticker", "pending_all", "ticker", "windows")

    def __init__(self) -> None:
        self.windows: dict[int, _Window] = {}
        self.ticker = False  # <symbol>@bookTicker subscribed
        self.all_ticker = False  # !bookTicker subscribed
        self.last_ticker: tuple[Any, ...] | None = None
        self.pending_all: bytes | None = None  # latest bookTicker payload for !bookTicker


class DepthFeed:
    """Turns BookDelta outputs into diff-depth, partial-depth and book-ticker events."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self._symbols: dict[str, _Symbol] = {}
        self._all_tickers = 0
        self._all_cadence = Cadence(hub.timers, 5000, self._flush_all_tickers)

    def stop(self) -> None:
        for st in self._symbols.values():
            for window in st.windows.values():
                if window.cadence is not None:
                    window.cadence.cancel()
        self._all_cadence.cancel()

    # --- activation -------------------------------------------------------------------------------

    def _symbol(self, symbol: str) -> _Symbol:
        st = self._symbols.get(symbol)
        if st is None:
            st = self._symbols[symbol] = _Symbol()
            st.all_ticker = self._all_tickers > 0
        return st

    def activate(self, spec: StreamSpec) -> None:
        kind = spec.kind
        if kind == "allBookTicker":
            self._all_tickers += 1
            for st in self._symbols.values():
                st.all_ticker = True
            return
        st = self._symbol(spec.symbol)
        if kind == "bookTicker":
            st.ticker = True
            return
        window = st.windows.get(spec.cadence_ms)
        if window is None:
            window = st.windows[spec.cadence_ms] = _Window(diff_stream_name(spec.symbol, spec.cadence_ms))
            if spec.cadence_ms:
                symbol, cadence = spec.symbol, spec.cadence_ms
                window.cadence = Cadence(self.hub.timers, cadence, lambda: self._flush(symbol, cadence))
        if kind == "depth":
            window.diff += 1
        else:
            window.levels[spec.levels] = window.levels.get(spec.levels, 0) + 1

    def deactivate(self, spec: StreamSpec) -> None:
        kind = spec.kind
        if kind == "allBookTicker":
            self._all_tickers -= 1
            if self._all_tickers <= 0:
                self._all_tickers = 0
                for each in self._symbols.values():
                    each.all_ticker = False
                    each.pending_all = None
                self._all_cadence.cancel()
            return
        st = self._symbols.get(spec.symbol)
        if st is None:
            return
        if kind == "bookTicker":
            st.ticker = False
            st.last_ticker = None
            return
        window = st.windows.get(spec.cadence_ms)
        if window is None:
            return
        if kind == "depth":
            window.diff -= 1
        else:
            left = window.levels.get(spec.levels, 0) - 1
            if left > 0:
                window.levels[spec.levels] = left
            else:
                window.levels.pop(spec.levels, None)
        if window.diff <= 0 and not window.levels:
            if window.cadence is not None:
                window.cadence.cancel()
            del st.windows[spec.cadence_ms]

    # --- input ------------------------------------------------------------------------------------

    def on_delta(self, delta: Any) -> None:
        """One BookDelta from the engine (bus topic ``depth``)."""
        found = self._symbols.get(delta.symbol)
        if found is None and not self._all_tickers:
            return
        st = found if found is not None else self._symbol(delta.symbol)
        for cadence, window in st.windows.items():
            if cadence == 0:
                self._emit_realtime(delta, window)
                continue
            if window.first < 0:
                window.first = delta.first_update_id
                window.prev = delta.prev_update_id
                assert window.cadence is not None
                window.cadence.mark()
            window.last = delta.last_update_id
            window.transact_ms = delta.transact_time_ms
            bids, asks = window.bids, window.asks
            for price, qty in delta.bids:
                bids[price] = qty
            for price, qty in delta.asks:
                asks[price] = qty
        if st.ticker or st.all_ticker:
            self._book_ticker(delta, st)

    # --- output -----------------------------------------------------------------------------------

    def _gap(self, name: str, now: int) -> bool:
        """The ``depth_gap`` fault: True means "skip this event" (the fault log records it)."""
        faults = getattr(self.hub.exchange, "faults", None)
        return faults is not None and faults.has("depth_gap") and faults.should("depth_gap", now, name)

    def _emit_realtime(self, delta: Any, window: _Window) -> None:
        name = window.name
        now = self.hub.now_ms()
        if self._gap(name, now):
            return
        event = DepthUpdate(
            event_time_ms=now,
            transaction_time_ms=delta.transact_time_ms,
            symbol=delta.symbol,
            first_update_id=delta.first_update_id,
            final_update_id=delta.last_update_id,
            prev_final_update_id=delta.prev_update_id,
            bids=text_levels(sorted(delta.bids)),
            asks=text_levels(sorted(delta.asks)),
        )
        self.hub.publish(name, encode(event))

    def _flush(self, symbol: str, cadence: int) -> None:
        st = self._symbols.get(symbol)
        window = st.windows.get(cadence) if st is not None else None
        if window is None or window.first < 0:
            return
        now = self.hub.now_ms()
        first, last, prev, transact = window.first, window.last, window.prev, window.transact_ms
        bids, asks = window.bids, window.asks
        window.first = -1
        window.bids = {}
        window.asks = {}
        if window.diff > 0:
            name = window.name
            if not self._gap(name, now):
                event = DepthUpdate(
                    event_time_ms=now,
                    transaction_time_ms=transact,
                    symbol=symbol,
                    first_update_id=first,
                    final_update_id=last,
                    prev_final_update_id=prev,
                    bids=text_levels(sorted(bids.items())),
                    asks=text_levels(sorted(asks.items())),
                )
                self.hub.publish(name, encode(event))
        if window.levels:
            deepest = max(window.levels)
            top_bids, top_asks = self._top(symbol, deepest)
            bid_rows, ask_rows = text_levels(top_bids), text_levels(top_asks)  # spelt once for every depth N
            for n in window.levels:
                event = DepthUpdate(
                    event_time_ms=now,
                    transaction_time_ms=transact,
                    symbol=symbol,
                    first_update_id=first,
                    final_update_id=last,
                    prev_final_update_id=prev,
                    bids=bid_rows[:n],
                    asks=ask_rows[:n],
                )
                self.hub.publish(_partial_name(symbol, n, cadence), encode(event))

    def _top(self, symbol: str, levels: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """The venue's best ``levels`` bids (best first) and asks (best first)."""
        return self.hub.feeds.source.book_top(symbol, levels)

    def _book_ticker(self, delta: Any, st: _Symbol) -> None:
        bids, asks = self._top(delta.symbol, 1)
        bid = bids[0] if bids else (Decimal(0), Decimal(0))
        ask = asks[0] if asks else (Decimal(0), Decimal(0))
        key = (bid, ask)
        if key == st.last_ticker:
            return  # the change was deeper in the book
        st.last_ticker = key
        event = BookTicker(
            update_id=delta.last_update_id,
            symbol=delta.symbol,
            bid_price=text(bid[0]),
            bid_qty=text(bid[1]),
            ask_price=text(ask[0]),
            ask_qty=text(ask[1]),
            transaction_time_ms=delta.transact_time_ms,
            event_time_ms=self.hub.now_ms(),
        )
        payload = encode(event)
        if st.ticker:
            self.hub.publish(delta.symbol.lower() + "@bookTicker", payload)
        if st.all_ticker:
            st.pending_all = payload
            self._all_cadence.mark()

    def _flush_all_tickers(self) -> None:
        for st in self._symbols.values():
            if st.pending_all is not None:
                self.hub.publish("!bookTicker", st.pending_all)
                st.pending_all = None
