"""Wire shapes of the USD-M market-stream payloads, as msgspec Structs that encode to Binance's JSON.

Rules kept here:
- keys and their order are exactly Binance's (checked against recorded fstream frames: depthUpdate
  ``e,E,T,s,U,u,pu,b,a``; bookTicker ``e,u,s,b,B,a,A,T,E``; aggTrade ``e,E,a,s,p,q,f,l,T,m``);
- prices and quantities are ``Decimal`` and travel as JSON strings, ids and times as integers;
- readable attribute names map to Binance's keys with ``field(name=...)``; no behaviour here.

References: "Websocket Market Streams" of the USD-M futures API docs.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
from msgspec import field

__all__ = [
    "AggTradeEvent",
    "BookTickerEvent",
    "ContinuousKlineEvent",
    "DepthEvent",
    "ForceOrderEvent",
    "KlineBar",
    "KlineEvent",
    "LiquidationOrder",
    "MarkPriceEvent",
    "MiniTickerEvent",
    "TickerEvent",
    "TradeEvent",
    "encode",
]

Level = tuple[Decimal, Decimal]


class _Msg(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of the stream payloads."""


class DepthEvent(_Msg, frozen=True, kw_only=True, gc=False):
    """``depthUpdate``: diff depth (changed levels) or partial depth (top N levels)."""

    event: str = field(name="e", default="depthUpdate")
    event_time_ms: int = field(name="E")
    transaction_time_ms: int = field(name="T")
    symbol: str = field(name="s")
    first_update_id: int = field(name="U")
    final_update_id: int = field(name="u")
    prev_final_update_id: int = field(name="pu")
    bids: list[Level] = field(name="b")
    asks: list[Level] = field(name="a")


class BookTickerEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="bookTicker")
    update_id: int = field(name="u")
    symbol: str = field(name="s")
    bid_price: Decimal = field(name="b")
    bid_qty: Decimal = field(name="B")
    ask_price: Decimal = field(name="a")
    ask_qty: Decimal = field(name="A")
    transaction_time_ms: int = field(name="T")
    event_time_ms: int = field(name="E")


class AggTradeEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="aggTrade")
    event_time_ms: int = field(name="E")
    agg_trade_id: int = field(name="a")
    symbol: str = field(name="s")
    price: Decimal = field(name="p")
    quantity: Decimal = field(name="q")
    first_trade_id: int = field(name="f")
    last_trade_id: int = field(name="l")
    trade_time_ms: int = field(name="T")
    buyer_is_maker: bool = field(name="m")


class TradeEvent(_Msg, frozen=True, kw_only=True, gc=False):
    """``trade`` (undocumented on the USD-M pages but served by fstream; ``X`` is the order type)."""

    event: str = field(name="e", default="trade")
    event_time_ms: int = field(name="E")
    trade_time_ms: int = field(name="T")
    symbol: str = field(name="s")
    trade_id: int = field(name="t")
    price: Decimal = field(name="p")
    quantity: Decimal = field(name="q")
    order_type: str = field(name="X", default="MARKET")
    buyer_is_maker: bool = field(name="m")


class MarkPriceEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="markPriceUpdate")
    event_time_ms: int = field(name="E")
    symbol: str = field(name="s")
    mark_price: Decimal = field(name="p")
    index_price: Decimal = field(name="i")
    estimated_settle_price: Decimal = field(name="P")
    funding_rate: Decimal = field(name="r")
    next_funding_time_ms: int = field(name="T")


class KlineBar(_Msg, frozen=True, kw_only=True, gc=False, omit_defaults=True):
    """The ``k`` object of kline and continuous-kline events (``s`` absent in the continuous one)."""

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
    ignore: str = field(name="B")  # always "0"


class KlineEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="kline")
    event_time_ms: int = field(name="E")
    symbol: str = field(name="s")
    kline: KlineBar = field(name="k")


class ContinuousKlineEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="continuous_kline")
    event_time_ms: int = field(name="E")
    pair: str = field(name="ps")
    contract_type: str = field(name="ct")
    kline: KlineBar = field(name="k")


class MiniTickerEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="24hrMiniTicker")
    event_time_ms: int = field(name="E")
    symbol: str = field(name="s")
    close: Decimal = field(name="c")
    open: Decimal = field(name="o")
    high: Decimal = field(name="h")
    low: Decimal = field(name="l")
    volume: Decimal = field(name="v")
    quote_volume: Decimal = field(name="q")


class TickerEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="24hrTicker")
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


class LiquidationOrder(_Msg, frozen=True, kw_only=True, gc=False):
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


class ForceOrderEvent(_Msg, frozen=True, kw_only=True, gc=False):
    event: str = field(name="e", default="forceOrder")
    event_time_ms: int = field(name="E")
    order: LiquidationOrder = field(name="o")


_ENCODER = msgspec.json.Encoder()
encode = _ENCODER.encode
"""Encode a payload Struct (or a list of them, for the ``!..@arr`` streams) to JSON bytes."""
