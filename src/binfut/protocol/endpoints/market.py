"""The "Market Data" rows of the endpoint table: every market operation of Binance's Postman collection.

One :class:`~binfut.protocol.spec.Endpoint` per method + path (33). Weights follow Binance's docs:
where a page gives a rule (by ``limit``, with or without ``symbol``) the rule is data here, built with
:func:`~binfut.protocol.spec.by_limit` / :func:`~binfut.protocol.spec.by_symbol`. Endpoints the docs
put on a separate per-IP budget instead of the 1-minute request-weight bucket (``fundingRate`` and
``fundingInfo``: 500 / 5 min together; the ``/futures/data`` statistics) carry weight 0, as documented.
Parameters are listed in the docs' order; ``required`` is the docs' MANDATORY column. ``frame`` names the
DataFrame converter in :mod:`binfut.protocol.frames` for series endpoints.
"""

from __future__ import annotations

from binfut.enums import ContractType, KlineInterval, RatioPeriod, SecurityType
from binfut.protocol.models import market as m
from binfut.protocol.spec import Endpoint, Kind, Param, by_limit, by_symbol

__all__ = ["MARKET"]

_DOC = "https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api"
_NONE = SecurityType.NONE

# -- shared parameters (wire names, exactly as Binance spells them) ---------------------------------

_SYMBOL = Param("symbol", Kind.STR, required=True)
_SYMBOL_OPT = Param("symbol", Kind.STR, doc="omit for every symbol (costs more weight, returns a list)")
_PAIR = Param("pair", Kind.STR, required=True, doc="underlying pair, e.g. BTCUSDT")
_INTERVAL = Param("interval", Kind.ENUM, required=True, enum=KlineInterval)
_CONTRACT_TYPE = Param("contractType", Kind.ENUM, required=True, enum=ContractType)
_PERIOD = Param("period", Kind.ENUM, required=True, enum=RatioPeriod)
_START = Param("startTime", Kind.MILLIS, doc="inclusive, epoch ms")
_END = Param("endTime", Kind.MILLIS, doc="inclusive, epoch ms")
_FROM_ID = Param("fromId", Kind.INT, doc="first id to return (inclusive); default: the most recent")


def _limit(doc: str, *, required: bool = False) -> Param:
    return Param("limit", Kind.INT, required=required, doc=doc)


_KLINE_LIMIT = _limit("default 500, max 1500")
_STATS_LIMIT = _limit("default 30, max 500")

# -- weight rules -------------------------------------------------------------------------------------

# Order Book: limit 5, 10, 20, 50 -> 2; 100 -> 5; 500 -> 10; 1000 -> 20 (default limit 500).
_DEPTH_WEIGHT = by_limit(((50, 2), (100, 5), (500, 10), (1000, 20)), default_limit=500)
# All five kline kinds: [1, 100) -> 1; [100, 500) -> 2; [500, 1000] -> 5; > 1000 -> 10 (default 500).
_KLINE_WEIGHT = by_limit(((99, 1), (499, 2), (1000, 5), (1500, 10)), default_limit=500)


def _kline(name: str, path: str, summary: str, slug: str, first: tuple[Param, ...]) -> Endpoint:
    """One of the five kline endpoints: same tail parameters, weight rule, response and frame."""
    return Endpoint(
        name=name,
        method="GET",
        path=path,
        security=_NONE,
        weight=_KLINE_WEIGHT,
        params=(*first, _INTERVAL, _START, _END, _KLINE_LIMIT),
        returns=list[m.Kline],
        frame="klines",
        summary=summary,
        doc=f"{_DOC}/{slug}",
    )


def _stats(name: str, path: str, summary: str, slug: str, returns: object, frame: str) -> Endpoint:
    """One of the four ``/futures/data`` per-symbol statistics (same parameters, weight 0)."""
    return Endpoint(
        name=name,
        method="GET",
        path=path,
        security=_NONE,
        weight=0,
        params=(_SYMBOL, _PERIOD, _STATS_LIMIT, _START, _END),
        returns=returns,
        frame=frame,
        summary=summary,
        doc=f"{_DOC}/{slug}",
    )


MARKET: tuple[Endpoint, ...] = (
    Endpoint(
        name="ping",
        method="GET",
        path="/fapi/v1/ping",
        security=_NONE,
        weight=1,
        params=(),
        returns=m.Empty,
        summary="Test Connectivity",
        doc=_DOC,  # Test Connectivity is the section's landing page
    ),
    Endpoint(
        name="server_time",
        method="GET",
        path="/fapi/v1/time",
        security=_NONE,
        weight=1,
        params=(),
        returns=m.ServerTime,
        summary="Check Server Time",
        doc=f"{_DOC}/Check-Server-Time",
    ),
    Endpoint(
        name="exchange_info",
        method="GET",
        path="/fapi/v1/exchangeInfo",
        security=_NONE,
        weight=1,
        params=(),
        returns=m.ExchangeInfo,
        summary="Exchange Information",
        doc=f"{_DOC}/Exchange-Information",
    ),
    Endpoint(
        name="depth",
        method="GET",
        path="/fapi/v1/depth",
        security=_NONE,
        weight=_DEPTH_WEIGHT,
        params=(_SYMBOL, _limit("default 500; valid 5, 10, 20, 50, 100, 500, 1000")),
        returns=m.OrderBook,
        summary="Order Book",
        doc=f"{_DOC}/Order-Book",
    ),
    Endpoint(
        name="rpi_depth",
        method="GET",
        path="/fapi/v1/rpiDepth",
        security=_NONE,
        weight=20,  # the only valid limit is 1000, which weighs 20
        params=(_SYMBOL, _limit("default 1000; valid 1000")),
        returns=m.OrderBook,
        summary="RPI Order Book",
        doc=f"{_DOC}/Order-Book-RPI",
    ),
    Endpoint(
        name="trades",
        method="GET",
        path="/fapi/v1/trades",
        security=_NONE,
        weight=5,
        params=(_SYMBOL, _limit("default 500, max 1000")),
        returns=list[m.MarketTrade],
        frame="trades",
        summary="Recent Trades List",
        doc=f"{_DOC}/Recent-Trades-List",
    ),
    Endpoint(
        name="historical_trades",
        method="GET",
        path="/fapi/v1/historicalTrades",
        security=SecurityType.MARKET_DATA,  # needs the API key header (no signature)
        weight=20,
        params=(_SYMBOL, _limit("default 500, max 1000"), _FROM_ID),
        returns=list[m.MarketTrade],
        frame="trades",
        summary="Old Trades Lookup (MARKET_DATA)",
        doc=f"{_DOC}/Old-Trades-Lookup",
    ),
    Endpoint(
        name="agg_trades",
        method="GET",
        path="/fapi/v1/aggTrades",
        security=_NONE,
        weight=20,
        # With both startTime and endTime the window must be under one hour.
        params=(_SYMBOL, _FROM_ID, _START, _END, _limit("default 500, max 1000")),
        returns=list[m.AggTrade],
        frame="agg_trades",
        summary="Compressed/Aggregate Trades List",
        doc=f"{_DOC}/Compressed-Aggregate-Trades-List",
    ),
    _kline("klines", "/fapi/v1/klines", "Kline/Candlestick Data", "Kline-Candlestick-Data", (_SYMBOL,)),
    _kline(
        "continuous_klines",
        "/fapi/v1/continuousKlines",
        "Continuous Contract Kline/Candlestick Data",
        "Continuous-Contract-Kline-Candlestick-Data",
        (_PAIR, _CONTRACT_TYPE),
    ),
    _kline(
        "index_price_klines",
        "/fapi/v1/indexPriceKlines",
        "Index Price Kline/Candlestick Data",
        "Index-Price-Kline-Candlestick-Data",
        (_PAIR,),
    ),
    _kline(
        "mark_price_klines",
        "/fapi/v1/markPriceKlines",
        "Mark Price Kline/Candlestick Data",
        "Mark-Price-Kline-Candlestick-Data",
        (_SYMBOL,),
    ),
    _kline(
        "premium_index_klines",
        "/fapi/v1/premiumIndexKlines",
        "Premium index Kline Data",
        "Premium-Index-Kline-Data",
        (_SYMBOL,),
    ),
    Endpoint(
        name="mark_price",
        method="GET",
        path="/fapi/v1/premiumIndex",
        security=_NONE,
        weight=by_symbol(1, 10),
        params=(_SYMBOL_OPT,),
        returns=m.MarkPrice,
        returns_all=list[m.MarkPrice],
        summary="Mark Price",
        doc=f"{_DOC}/Mark-Price",
    ),
    Endpoint(
        name="funding_rate_history",
        method="GET",
        path="/fapi/v1/fundingRate",
        security=_NONE,
        weight=0,  # own budget: 500 requests / 5 min / IP, shared with fundingInfo
        params=(Param("symbol", Kind.STR), _START, _END, _limit("default 100, max 1000")),
        returns=list[m.FundingRate],
        frame="funding_rate",
        summary="Get Funding Rate History",
        doc=f"{_DOC}/Get-Funding-Rate-History",
    ),
    Endpoint(
        name="funding_info",
        method="GET",
        path="/fapi/v1/fundingInfo",
        security=_NONE,
        weight=0,  # own budget: 500 requests / 5 min / IP, shared with fundingRate
        params=(),
        returns=list[m.FundingInfo],
        summary="Get Funding Rate Info",
        doc=f"{_DOC}/Get-Funding-Rate-Info",
    ),
    Endpoint(
        name="ticker_24hr",
        method="GET",
        path="/fapi/v1/ticker/24hr",
        security=_NONE,
        weight=by_symbol(1, 40),
        params=(_SYMBOL_OPT,),
        returns=m.Ticker24hr,
        returns_all=list[m.Ticker24hr],
        summary="24hr Ticker Price Change Statistics",
        doc=f"{_DOC}/24hr-Ticker-Price-Change-Statistics",
    ),
    Endpoint(
        name="ticker_price",
        method="GET",
        path="/fapi/v1/ticker/price",
        security=_NONE,
        weight=by_symbol(1, 2),
        params=(_SYMBOL_OPT,),
        returns=m.PriceTicker,
        returns_all=list[m.PriceTicker],
        summary="Symbol Price Ticker",
        doc=f"{_DOC}/Symbol-Price-Ticker",
    ),
    Endpoint(
        name="ticker_price_v2",
        method="GET",
        path="/fapi/v2/ticker/price",
        security=_NONE,
        weight=by_symbol(1, 2),
        params=(_SYMBOL_OPT,),
        returns=m.PriceTicker,
        returns_all=list[m.PriceTicker],
        summary="Symbol Price Ticker V2",
        doc=f"{_DOC}/Symbol-Price-Ticker-v2",
    ),
    Endpoint(
        name="book_ticker",
        method="GET",
        path="/fapi/v1/ticker/bookTicker",
        security=_NONE,
        weight=by_symbol(2, 5),
        params=(_SYMBOL_OPT,),
        returns=m.BookTicker,
        returns_all=list[m.BookTicker],
        summary="Symbol Order Book Ticker",
        doc=f"{_DOC}/Symbol-Order-Book-Ticker",
    ),
    Endpoint(
        name="open_interest",
        method="GET",
        path="/fapi/v1/openInterest",
        security=_NONE,
        weight=1,
        params=(_SYMBOL,),
        returns=m.OpenInterest,
        summary="Open Interest",
        doc=f"{_DOC}/Open-Interest",
    ),
    Endpoint(
        name="delivery_price",
        method="GET",
        path="/futures/data/delivery-price",
        security=_NONE,
        weight=0,
        params=(_PAIR,),
        returns=list[m.DeliveryPrice],
        summary="Quarterly Contract Settlement Price",
        doc=f"{_DOC}/Delivery-Price",
    ),
    _stats(
        "open_interest_hist",
        "/futures/data/openInterestHist",
        "Open Interest Statistics",
        "Open-Interest-Statistics",
        list[m.OpenInterestHist],
        "open_interest_hist",
    ),
    # The Postman collection labels the two "top trader" series "(MARKET_DATA)", but neither the docs
    # nor the OpenAPI file ask for a key, and Binance answers them without one: security stays NONE.
    _stats(
        "top_long_short_position_ratio",
        "/futures/data/topLongShortPositionRatio",
        "Top Trader Long/Short Position Ratio (MARKET_DATA)",
        "Top-Trader-Long-Short-Ratio",
        list[m.LongShortRatio],
        "ratio",
    ),
    _stats(
        "top_long_short_account_ratio",
        "/futures/data/topLongShortAccountRatio",
        "Top Trader Long/Short Account Ratio (MARKET_DATA)",
        "Top-Long-Short-Account-Ratio",
        list[m.LongShortRatio],
        "ratio",
    ),
    _stats(
        "global_long_short_account_ratio",
        "/futures/data/globalLongShortAccountRatio",
        "Long/Short Ratio",
        "Long-Short-Ratio",
        list[m.LongShortRatio],
        "ratio",
    ),
    _stats(
        "taker_long_short_ratio",
        "/futures/data/takerlongshortRatio",
        "Taker Buy/Sell Volume",
        "Taker-BuySell-Volume",
        list[m.TakerVolume],
        "taker_volume",
    ),
    Endpoint(
        name="basis",
        method="GET",
        path="/futures/data/basis",
        security=_NONE,
        weight=0,
        # The docs mark limit MANDATORY although they also give it a default (30).
        params=(_PAIR, _CONTRACT_TYPE, _PERIOD, _limit("default 30, max 500", required=True), _START, _END),
        returns=list[m.Basis],
        frame="basis",
        summary="Basis",
        doc=f"{_DOC}/Basis",
    ),
    Endpoint(
        name="index_info",
        method="GET",
        path="/fapi/v1/indexInfo",
        security=_NONE,
        weight=by_symbol(1, 10),
        params=(_SYMBOL_OPT,),
        returns=list[m.CompositeIndex],  # a list even for one symbol
        summary="Composite Index Symbol Information",
        doc=f"{_DOC}/Composite-Index-Symbol-Information",
    ),
    Endpoint(
        name="asset_index",
        method="GET",
        path="/fapi/v1/assetIndex",
        security=_NONE,
        weight=by_symbol(1, 10),
        params=(Param("symbol", Kind.STR, doc="asset pair, e.g. ADAUSD; omit for all"),),
        returns=m.AssetIndex,
        returns_all=list[m.AssetIndex],
        summary="Multi-Assets Mode Asset Index",
        doc=f"{_DOC}/Multi-Assets-Mode-Asset-Index",
    ),
    Endpoint(
        name="index_constituents",
        method="GET",
        path="/fapi/v1/constituents",
        security=_NONE,
        weight=2,
        params=(_SYMBOL,),
        returns=m.IndexConstituents,
        summary="Query Index Price Constituents",
        doc=f"{_DOC}/Index-Constituents",
    ),
    Endpoint(
        name="insurance_balance",
        method="GET",
        path="/fapi/v1/insuranceBalance",
        security=_NONE,
        weight=1,
        params=(_SYMBOL_OPT,),
        returns=m.InsuranceBalance,
        returns_all=list[m.InsuranceBalance],
        summary="Query Insurance Fund Balance Snapshot",
        doc=f"{_DOC}/Insurance-Fund-Balance",
    ),
    Endpoint(
        name="adl_risk",
        method="GET",
        path="/fapi/v1/symbolAdlRisk",
        security=_NONE,
        weight=1,
        params=(_SYMBOL_OPT,),
        returns=m.AdlRisk,
        returns_all=list[m.AdlRisk],
        summary="ADL Risk",
        doc=f"{_DOC}/ADL-Risk",
    ),
    Endpoint(
        name="trading_schedule",
        method="GET",
        path="/fapi/v1/tradingSchedule",
        security=_NONE,
        weight=5,
        params=(),
        returns=m.TradingSchedule,
        summary="Trading Schedule",
        doc=f"{_DOC}/Trading-Schedule",
    ),
)
