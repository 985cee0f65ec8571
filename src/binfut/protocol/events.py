"""Stream events as msgspec Structs: one tagged union on ``"e"``, the combined-stream envelope, one decoder.

Owns the typed shape of every USD-M market-stream payload (depthUpdate, aggTrade, trade, markPriceUpdate,
kline, continuous_kline, 24hrMiniTicker, 24hrTicker, bookTicker, forceOrder) and re-exports the user-data
events of :mod:`binfut.protocol.userevents` so one union decodes anything a stream connection carries.

- readable snake_case attributes map to Binance's one-letter keys with ``field(name=...)``; every time
  attribute states its unit (``event_time_ms``); keys Binance adds later are ignored;
- hot-path prices and quantities (depth, trades, book ticker) stay ``str``: the book turns them into ticks;
  the slower statistics streams (mark price, klines, tickers, liquidations) carry ``Decimal``;
- Structs are ``frozen``, ``kw_only`` and ``gc=False`` and hold no behaviour;
- they describe each payload once, for both directions: the local exchange encodes these same Structs,
  so fields run in the key order of recorded fstream frames and every documented key is a field;
- :class:`EventDecoder` decodes the envelope and the payload in one msgspec pass; an event it does not
  know (or cannot validate) comes back as :class:`RawEvent` holding the payload bytes -- never an exception;
- each stream is ordered by its own sequence (``u`` for book streams, ``a`` for aggTrade, ``t`` for trade,
  else ``E``): :class:`Handover` uses it to merge two connections of one stream without loss or repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import field

from binfut.book.decode import DepthUpdate
from binfut.protocol.userevents import (
    AccountConfigUpdate,
    AccountUpdate,
    AlgoUpdate,
    ListenKeyExpired,
    MarginCall,
    OrderTradeUpdate,
    TradeLite,
    UserEvent,
)

__all__ = [
    "AccountConfigUpdate",
    "AccountUpdate",
    "AggTrade",
    "AlgoUpdate",
    "BookTicker",
    "ContinuousKline",
    "DepthUpdate",
    "Event",
    "EventDecoder",
    "ForceOrder",
    "Handover",
    "Kline",
    "KlineBar",
    "LiquidationOrder",
    "ListenKeyExpired",
    "MarginCall",
    "MarkPriceUpdate",
    "MarketEvent",
    "MiniTicker",
    "OrderTradeUpdate",
    "RawEvent",
    "StreamMessage",
    "Ticker",
    "Trade",
    "TradeLite",
    "UserEvent",
    "decode_message",
    "overlap_key",
]


class _Market(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e"):
    """Base of the market events: tagged on ``"e"`` like :class:`DepthUpdate` and the user events."""


class AggTrade(_Market, tag="aggTrade", frozen=True, kw_only=True, gc=False):
    """``<symbol>@aggTrade``: fills of one taker order at one price, aggregated.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Aggregate-Trade-Streams
    """

    event_time_ms: int = field(name="E")
    agg_trade_id: int = field(name="a")  # before ``s`` in live frames (the docs list it after)
    symbol: str = field(name="s")
    price: str = field(name="p")
    quantity: str = field(name="q")
    first_trade_id: int = field(name="f")
    last_trade_id: int = field(name="l")
    trade_time_ms: int = field(name="T")
    buyer_is_maker: bool = field(name="m")


class Trade(_Market, tag="trade", frozen=True, kw_only=True, gc=False):
    """``<symbol>@trade``: one trade (served by fstream though not on the USD-M pages; ``X`` = order type)."""

    event_time_ms: int = field(name="E")
    trade_time_ms: int = field(name="T")
    symbol: str = field(name="s")
    trade_id: int = field(name="t")
    price: str = field(name="p")
    quantity: str = field(name="q")
    order_type: str = field(name="X", default="MARKET")
    buyer_is_maker: bool = field(name="m")


class MarkPriceUpdate(_Market, tag="markPriceUpdate", frozen=True, kw_only=True, gc=False):
    """``<symbol>@markPrice[@1s]`` and the elements of ``!markPrice@arr[@1s]``.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream
    """

    event_time_ms: int = field(name="E")
    symbol: str = field(name="s")
    mark_price: Decimal = field(name="p")
    index_price: Decimal = field(name="i")
    estimated_settle_price: Decimal = field(name="P")
    funding_rate: Decimal = field(name="r")
    next_funding_time_ms: int = field(name="T")


class KlineBar(msgspec.Struct, frozen=True, kw_only=True, gc=False, omit_defaults=True):
    """The ``k`` object of kline and continuous-kline events (no ``s`` in the continuous one).

    Encoding leaves out the defaults: ``s`` when ``None`` (continuous klines) and an empty ``B``.
    """

    start_time_ms: int = field(name="t")
    close_time_ms: int = field(name="T")
    symbol: str | None = field(name="s", default=None)
    interval: str = field(name="i")
    first_trade_id: int = field(name="f")
    last_trade_id: int = field(name="L")
    open: Decimal = field(name="o")
    close: Decimal = field(name="c")
    high: Decimal = field(name="h")
    low: Decimal = field(name="l")
    volume: Decimal = field(name="v")
    trades: int = field(name="n")
    is_closed: bool = field(name="x")
    quote_volume: Decimal = field(name="q")
    taker_buy_volume: Decimal = field(name="V")
    taker_buy_quote_volume: Decimal = field(name="Q")
    ignore: str = field(name="B", default="")  # Binance's "Ignore" key, "0" in live frames


class Kline(_Market, tag="kline", frozen=True, kw_only=True, gc=False):
    """``<symbol>@kline_<interval>``: the open bar every 250 ms, then the closed one (``is_closed``)."""

    event_time_ms: int = field(name="E")
    symbol: str = field(name="s")
    kline: KlineBar = field(name="k")


class ContinuousKline(_Market, tag="continuous_kline", frozen=True, kw_only=True, gc=False):
    """``<pair>_<contractType>@continuousKline_<interval>``."""

    event_time_ms: int = field(name="E")
    pair: str = field(name="ps")
    contract_type: str = field(name="ct")
    kline: KlineBar = field(name="k")


class MiniTicker(_Market, tag="24hrMiniTicker", frozen=True, kw_only=True, gc=False):
    """``<symbol>@miniTicker`` and the elements of ``!miniTicker@arr``: 24 h rolling statistics."""

    event_time_ms: int = field(name="E")
    symbol: str = field(name="s")
    close: Decimal = field(name="c")
    open: Decimal = field(name="o")
    high: Decimal = field(name="h")
    low: Decimal = field(name="l")
    volume: Decimal = field(name="v")
    quote_volume: Decimal = field(name="q")


class Ticker(_Market, tag="24hrTicker", frozen=True, kw_only=True, gc=False):
    """``<symbol>@ticker`` and the elements of ``!ticker@arr``: full 24 h rolling statistics."""

    event_time_ms: int = field(name="E")
    symbol: str = field(name="s")
    price_change: Decimal = field(name="p")
    price_change_percent: Decimal = field(name="P")
    weighted_avg_price: Decimal = field(name="w")
    last_price: Decimal = field(name="c")
    last_qty: Decimal = field(name="Q")
    open: Decimal = field(name="o")
    high: Decimal = field(name="h")
    low: Decimal = field(name="l")
    volume: Decimal = field(name="v")
    quote_volume: Decimal = field(name="q")
    open_time_ms: int = field(name="O")
    close_time_ms: int = field(name="C")
    first_trade_id: int = field(name="F")
    last_trade_id: int = field(name="L")
    count: int = field(name="n")


class BookTicker(_Market, tag="bookTicker", frozen=True, kw_only=True, gc=False):
    """``<symbol>@bookTicker`` (real time) and ``!bookTicker``: best bid and ask.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Individual-Symbol-Book-Ticker-Streams
    """

    update_id: int = field(name="u")
    symbol: str = field(name="s")
    bid_price: str = field(name="b")
    bid_qty: str = field(name="B")
    ask_price: str = field(name="a")
    ask_qty: str = field(name="A")
    transaction_time_ms: int = field(name="T")
    event_time_ms: int = field(name="E")


class LiquidationOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The ``o`` object of a forceOrder event."""

    symbol: str = field(name="s")
    side: str = field(name="S")
    order_type: str = field(name="o")
    time_in_force: str = field(name="f")
    quantity: Decimal = field(name="q")
    price: Decimal = field(name="p")
    average_price: Decimal = field(name="ap")
    status: str = field(name="X")
    last_filled_quantity: Decimal = field(name="l")
    filled_accumulated_quantity: Decimal = field(name="z")
    trade_time_ms: int = field(name="T")


class ForceOrder(_Market, tag="forceOrder", frozen=True, kw_only=True, gc=False):
    """``<symbol>@forceOrder`` / ``!forceOrder@arr``: the latest liquidation per symbol and second."""

    event_time_ms: int = field(name="E")
    order: LiquidationOrder = field(name="o")


MarketEvent = (
    DepthUpdate
    | AggTrade
    | Trade
    | MarkPriceUpdate
    | Kline
    | ContinuousKline
    | MiniTicker
    | Ticker
    | BookTicker
    | ForceOrder
)
"""Every market-stream event (``DepthUpdate`` covers diff and partial depth alike)."""

Event = (
    DepthUpdate
    | AggTrade
    | Trade
    | MarkPriceUpdate
    | Kline
    | ContinuousKline
    | MiniTicker
    | Ticker
    | BookTicker
    | ForceOrder
    | OrderTradeUpdate
    | TradeLite
    | AccountUpdate
    | AlgoUpdate
    | MarginCall
    | AccountConfigUpdate
    | ListenKeyExpired
)
"""Every event a stream connection can carry: the market events and the user-data events."""


class RawEvent(msgspec.Struct, frozen=True, gc=False):
    """A payload the decoder does not know (a new event type, or one that fails validation), kept as bytes."""

    raw: bytes

    @property
    def json(self) -> Any:
        """The payload as plain Python objects (dicts, lists, strings, numbers)."""
        return msgspec.json.decode(self.raw)

    @property
    def event_type(self) -> str | None:
        """The payload's ``"e"`` when it is an object that has one."""
        value = self.json
        kind = value.get("e") if isinstance(value, dict) else None
        return kind if isinstance(kind, str) else None


class StreamMessage(msgspec.Struct, frozen=True, gc=False):
    """One frame of a combined stream: ``{"stream": <name>, "data": <payload>}``.

    Attributes
    ----------
    stream : str
        The stream name as Binance writes it (``btcusdt@depth@100ms``); ``""`` for a raw ``/ws`` frame.
    data : Event | list[Event] | RawEvent
        The typed event; a list for the ``!...@arr`` streams; :class:`RawEvent` for an unknown payload.
    """

    stream: str
    data: Event | list[Event] | RawEvent


class _Decoded(StreamMessage, frozen=True, gc=False):
    """The decoding target: a :class:`StreamMessage` whose payload msgspec validates in the same pass."""

    data: Event | list[Event]


# Instances print and pickle as the public type.
_Decoded.__name__ = _Decoded.__qualname__ = "StreamMessage"


class _RawEnvelope(msgspec.Struct, gc=False):
    stream: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")


_COMBINED = '{"stream"'
_COMBINED_B = b'{"stream"'


class EventDecoder:
    """Decode stream frames into :class:`StreamMessage` with one msgspec pass; never raises.

    One instance may be shared; it holds only msgspec decoders.
    """

    __slots__ = ("_combined", "_plain", "_raw")

    def __init__(self) -> None:
        self._combined = msgspec.json.Decoder(_Decoded)
        self._plain: msgspec.json.Decoder[Event | list[Event]] = msgspec.json.Decoder(Event | list[Event])
        self._raw = msgspec.json.Decoder(_RawEnvelope)

    def decode(self, frame: str | bytes) -> StreamMessage:
        """Decode one frame: a combined ``{"stream","data"}`` envelope or a raw event.

        Parameters
        ----------
        frame : str | bytes
            The WebSocket text frame.

        Returns
        -------
        StreamMessage
            With a typed ``data``, or a :class:`RawEvent` when the payload is unknown or malformed.
        """
        combined = frame.startswith(_COMBINED) if isinstance(frame, str) else frame.startswith(_COMBINED_B)
        if combined:
            try:
                return self._combined.decode(frame)
            except msgspec.DecodeError:
                return self._fallback(frame)
        try:
            return StreamMessage("", self._plain.decode(frame))
        except msgspec.DecodeError:
            return self._fallback(frame)

    def decode_event(self, payload: str | bytes) -> Event | list[Event] | RawEvent:
        """Decode a bare payload (no envelope); unknown payloads come back as :class:`RawEvent`."""
        try:
            return self._plain.decode(payload)
        except msgspec.DecodeError:
            return RawEvent(payload.encode() if isinstance(payload, str) else bytes(payload))

    def _fallback(self, frame: str | bytes) -> StreamMessage:
        """Keep what can be kept: the stream name and the payload bytes (or the whole frame)."""
        raw = frame.encode() if isinstance(frame, str) else bytes(frame)
        try:
            envelope = self._raw.decode(raw)
        except msgspec.DecodeError:
            return StreamMessage("", RawEvent(raw))
        if envelope.stream:
            return StreamMessage(envelope.stream, RawEvent(bytes(envelope.data)))
        return StreamMessage("", RawEvent(raw))


_DEFAULT = EventDecoder()


def decode_message(frame: str | bytes) -> StreamMessage:
    """Decode one frame with a shared :class:`EventDecoder` (see :meth:`EventDecoder.decode`)."""
    return _DEFAULT.decode(frame)


# ---------------------------------------------------------------------------------------------- ordering


class _SeqFields(msgspec.Struct, gc=False):
    """The fields that order events within one stream (``a`` is a list in depthUpdate, so ``Any``)."""

    e: str = ""
    E: Any = 0
    u: Any = None
    a: Any = None
    t: Any = None


class _SeqEnvelope(msgspec.Struct, gc=False):
    stream: str = ""
    data: _SeqFields | list[_SeqFields] | None = None


_seq_decoder = msgspec.json.Decoder(_SeqEnvelope)
_plain_seq_decoder = msgspec.json.Decoder(_SeqFields | list[_SeqFields])


def _sequence(fields: _SeqFields) -> int:
    # Book streams carry the update id, trades their own id; the rest are ordered by event time.
    kind = fields.e
    value: Any
    if kind in ("depthUpdate", "bookTicker"):
        value = fields.u
    elif kind == "aggTrade":
        value = fields.a
    elif kind == "trade":
        value = fields.t
    else:
        value = fields.E
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def overlap_key(frame: str | bytes) -> tuple[str, int] | None:
    """``(stream, sequence)`` of a data frame, or ``None`` for frames that are not stream events.

    The sequence grows along one stream: ``u`` for ``depthUpdate`` and ``bookTicker``, ``a`` for
    ``aggTrade``, ``t`` for ``trade``, ``E`` (event time) otherwise; an array payload (``!..@arr``) uses
    its first element. Raw (non-combined) frames get the stream ``""``.
    """
    try:
        if frame.startswith(_COMBINED) if isinstance(frame, str) else frame.startswith(_COMBINED_B):
            envelope = _seq_decoder.decode(frame)
            stream, data = envelope.stream, envelope.data
        else:
            stream, data = "", _plain_seq_decoder.decode(frame)
    except msgspec.DecodeError:
        return None
    if isinstance(data, list):
        data = data[0] if data else None
    if data is None or not data.e:  # a control reply or an API response, not an event
        return None
    return stream, _sequence(data)


class Handover:
    """Merges the old and the new connection of a rotation so that no event is lost or repeated.

    While both are open the old one stays authoritative: its frames are delivered (and recorded with
    :meth:`old`), the new one's are held (:meth:`new`). A stream is *proven* once the new connection's first
    held event is not later than the last one the old connection delivered: from then on the new feed
    alone continues it without a hole. When :attr:`ready`, the caller stops reading the old connection and
    delivers :meth:`drain` -- the held frames the old one did not deliver, in order.

    Events with equal sequences (``E`` shared by two liquidations of ``!forceOrder@arr``) are told apart
    by their bytes.
    """

    __slots__ = ("_held", "_last", "_last_frames", "_new_first", "_unproven")

    def __init__(self) -> None:
        self._last: dict[str, int] = {}  # stream -> last sequence delivered by the old connection
        self._last_frames: dict[str, set[bytes]] = {}  # frames delivered with that sequence
        self._new_first: dict[str, int] = {}  # stream -> first sequence held from the new connection
        self._held: list[tuple[str, int, bytes]] = []
        self._unproven: set[str] = set()

    @property
    def held(self) -> int:
        """Frames held from the new connection."""
        return len(self._held)

    @property
    def ready(self) -> bool:
        """True when every stream seen on either connection is proven (and at least one was seen)."""
        return not self._unproven and bool(self._last or self._new_first)

    @property
    def unproven(self) -> frozenset[str]:
        """Streams not proven yet (a switch now could lose their in-flight events)."""
        return frozenset(self._unproven)

    def old(self, frame: bytes) -> None:
        """Record a frame the old connection delivered."""
        key = overlap_key(frame)
        if key is None:
            return
        stream, seq = key
        last = self._last.get(stream)
        if last is None or seq > last:
            self._last[stream] = seq
            self._last_frames[stream] = {frame}
        elif seq == last:
            self._last_frames[stream].add(frame)
        self._check(stream)

    def new(self, frame: bytes) -> bool:
        """Hold a frame of the new connection; ``False`` when it is not a stream event (deliver it now)."""
        key = overlap_key(frame)
        if key is None:
            return False
        stream, seq = key
        self._held.append((stream, seq, frame))
        self._new_first.setdefault(stream, seq)
        self._check(stream)
        return True

    def _check(self, stream: str) -> None:
        first, last = self._new_first.get(stream), self._last.get(stream)
        if first is not None and last is not None and first <= last:
            self._unproven.discard(stream)
        else:
            self._unproven.add(stream)

    def drain(self) -> Iterator[bytes]:
        """The held frames the old connection did not deliver, in arrival order (consumes them)."""
        held, self._held = self._held, []
        last, frames = self._last, self._last_frames
        for stream, seq, frame in held:
            seen = last.get(stream)
            if seen is None or seq > seen or (seq == seen and frame not in frames[stream]):
                yield frame
