"""Handlers of the "Market Data" endpoints: answers computed from the engine book and market data.

Rules kept here (USD-M "Market Data" pages):
- exchangeInfo is built from the engine's instrument specs (every filter the engine enforces, with
  the same values) and the exchange's own rate limits;
- a depth snapshot's ``lastUpdateId`` is the book's update id, the same counter the diff-depth stream
  carries in U / u / pu; valid depth limits are 5, 10, 20, 50, 100, 500, 1000 (-4021 otherwise);
- list limits are checked against Binance's maxima (-1130 beyond); an aggTrades window given by both
  times must be under one hour (-1127);
- mark / index / premium-index klines come from the simulator's 1 s mark series, trade klines from
  the public trades; continuous klines of the perpetual are the symbol's trade klines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from binfut._money import E8, fmt
from binfut.emulator.validate import Params, invalid
from binfut.errors import InvalidRequest

if TYPE_CHECKING:
    from binfut.emulator.accounts import ApiAccount
    from binfut.emulator.exchange import LocalExchange
    from binfut.matching.instruments import SymbolSpec

__all__ = ["HANDLERS", "exchange_info", "limit_param"]

_DEPTH_LIMITS = frozenset({5, 10, 20, 50, 100, 500, 1000})
_ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]
_TIFS = ["GTC", "IOC", "FOK", "GTX", "GTD"]
_DELIVERY_PERPETUAL = 4133404800000  # 2100-12-25, Binance's "never" for perpetuals
_ONBOARD = {"BTCUSDT": 1569398400000, "ETHUSDT": 1569398400000, "BNBUSDT": 1581062400000, "XRPUSDT": 1578873600000}
_DEFAULT_ONBOARD = 1599523200000
_SUB_TYPES = {
    "BTCUSDT": ["PoW"],
    "ETHUSDT": ["Layer-1"],
    "SOLUSDT": ["Layer-1"],
    "BNBUSDT": ["BNB Chain"],
    "XRPUSDT": ["Payment"],
}
_MARGIN_ASSETS = ("USDT", "BTC", "BNB", "ETH", "USDC")


def limit_param(p: Params, default: int, maximum: int, name: str = "limit") -> int:
    """``limit`` with Binance's default; outside 1..maximum: -1130."""
    value = p.get_int(name, default)
    if value < 1 or value > maximum:
        raise invalid(name)
    return value


def _spec(ex: LocalExchange, symbol: str) -> SymbolSpec:
    if symbol not in ex.symbol_set:
        raise InvalidRequest(-1121, "Invalid symbol.")
    return ex.venue.specs[symbol]


def _symbols(ex: LocalExchange, p: Params) -> list[str]:
    symbol = p.get("symbol")
    return [symbol] if symbol else list(ex.symbols)


def _one_or_all(p: Params, rows: list[Any]) -> Any:
    return rows[0] if p.get("symbol") else rows


# --- general ---------------------------------------------------------------------------------------


def ping(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return {}


def server_time(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return {"serverTime": ex.server_time_ms()}


def _symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    mmr = spec.brackets[0].maint_margin_ratio * 100
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": _DELIVERY_PERPETUAL,
        "onboardDate": _ONBOARD.get(spec.symbol, _DEFAULT_ONBOARD),
        "status": "TRADING",
        "maintMarginPercent": fmt(mmr, ".4f"),
        "requiredMarginPercent": fmt(mmr * 2, ".4f"),
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.margin_asset,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": _SUB_TYPES.get(spec.symbol, []),
        "settlePlan": 0,
        "triggerProtect": fmt(spec.trigger_protect, ".4f"),
        "liquidationFee": fmt(spec.liquidation_fee, ".6f"),
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": str(spec.min_price),
                "maxPrice": str(spec.max_price),
                "tickSize": str(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": str(spec.min_qty),
                "maxQty": str(spec.max_qty),
                "stepSize": str(spec.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": str(spec.market_min_qty),
                "maxQty": str(spec.market_max_qty),
                "stepSize": str(spec.market_step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": spec.max_num_algo_orders},
            {"filterType": "MIN_NOTIONAL", "notional": str(spec.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": str(spec.multiplier_up),
                "multiplierDown": str(spec.multiplier_down),
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": list(_ORDER_TYPES),
        "timeInForce": list(_TIFS),
        "permissionSets": ["GRID", "COPY"],
    }


def exchange_info(ex: LocalExchange, p: Params | None = None, a: ApiAccount | None = None) -> Any:
    """``GET /fapi/v1/exchangeInfo`` of the listed symbols."""
    cached = ex.extra.get("exchange_info_symbols")
    if cached is None:
        cached = ex.extra["exchange_info_symbols"] = [_symbol_info(ex.venue.specs[s]) for s in ex.symbols]
    cfg = ex.config
    return {
        "timezone": "UTC",
        "serverTime": ex.server_time_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": cfg.weight_limit_1m},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": cfg.order_limit_1m},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": cfg.order_limit_10s},
        ],
        "exchangeFilters": [],
        "assets": [
            {
                "asset": asset,
                "marginAvailable": True,
                "autoAssetExchange": "-10000" if asset in ("USDT", "USDC") else "0",
            }
            for asset in _MARGIN_ASSETS
        ],
        "symbols": cached,
    }


# --- book and trades ----------------------------------------------------------------------------------


def depth(ex: LocalExchange, p: Params, a: ApiAccount | None, *, default_limit: int = 500) -> Any:
    symbol = p["symbol"]
    limit = p.get_int("limit", default_limit)
    if limit not in _DEPTH_LIMITS:
        raise InvalidRequest(-4021, "Invalid depth limit.")
    update_id, bids, asks = ex.venue.depth(symbol, limit)
    now = ex.server_time_ms()
    return {
        "lastUpdateId": update_id,
        "E": now,
        "T": ex.venue.now,
        "bids": [[str(px), str(q)] for px, q in bids],
        "asks": [[str(px), str(q)] for px, q in asks],
    }


def rpi_depth(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    if p.get_int("limit", 1000) != 1000:
        raise InvalidRequest(-4021, "Invalid depth limit.")
    return depth(ex, p, a, default_limit=1000)


def _trade_rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": t.trade_id,
            "price": str(t.price),
            "qty": str(t.qty),
            "quoteQty": str(t.quote_qty),
            "time": t.time_ms,
            "isBuyerMaker": t.buyer_is_maker,
            "isRPITrade": False,
        }
        for t in rows
    ]


def trades(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _trade_rows(ex.market.recent_trades(p["symbol"], limit_param(p, 500, 1000)))


def historical_trades(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _trade_rows(ex.market.recent_trades(p["symbol"], limit_param(p, 500, 1000), p.get("fromId")))


def agg_trades(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    start, end = p.get("startTime"), p.get("endTime")
    if start is not None and end is not None:
        if start > end:
            raise InvalidRequest(-1023, "Start time is greater than end time.")
        if end - start >= 3_600_000:
            raise InvalidRequest(-1127, "More than 1 hours between startTime and endTime.")
    rows = ex.market.agg_trades(
        p["symbol"], from_id=p.get("fromId"), start_ms=start, end_ms=end, limit=limit_param(p, 500, 1000)
    )
    return [
        {
            "a": r.agg_id,
            "p": str(r.price),
            "q": str(r.qty),
            "f": r.first_trade_id,
            "l": r.last_trade_id,
            "T": r.time_ms,
            "m": r.buyer_is_maker,
        }
        for r in rows
    ]


def _klines(ex: LocalExchange, p: Params, symbol: str, kind: str) -> list[list[Any]]:
    start, end = p.get("startTime"), p.get("endTime")
    if start is not None and end is not None and start > end:
        raise InvalidRequest(-1023, "Start time is greater than end time.")
    limit = limit_param(p, 500, 1500)
    bars = ex.market.klines(symbol, p["interval"], kind, start_ms=start, end_ms=end, limit=limit)
    return [b.row() for b in bars]


def _pair(ex: LocalExchange, p: Params) -> str:
    pair = p["pair"]
    _spec(ex, pair)  # pairs and symbols coincide for USDT perpetuals
    return str(pair)


def klines(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _klines(ex, p, p["symbol"], "trade")


def continuous_klines(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    pair = _pair(ex, p)
    if p["contractType"] != "PERPETUAL":
        return []  # the local exchange lists perpetuals only
    return _klines(ex, p, pair, "trade")


def index_price_klines(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _klines(ex, p, _pair(ex, p), "index")


def mark_price_klines(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _klines(ex, p, p["symbol"], "mark")


def premium_index_klines(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _klines(ex, p, p["symbol"], "premium")


# --- prices, tickers, funding ------------------------------------------------------------------------


def _premium_row(ex: LocalExchange, symbol: str) -> dict[str, Any]:
    m = ex.market.mark(symbol)
    now = ex.server_time_ms()
    if m is None:  # no simulator: the last trade (or nothing) stands in for mark and index
        last = ex.venue.mark(symbol) or Decimal(0)
        nxt = now - now % 28_800_000 + 28_800_000
        return {
            "symbol": symbol, "markPrice": str(last), "indexPrice": str(last), "estimatedSettlePrice": str(last),
            "lastFundingRate": "0.00010000", "interestRate": "0.00010000", "nextFundingTime": nxt, "time": now,
        }  # fmt: skip
    return {
        "symbol": symbol,
        "markPrice": str(m.mark_price),
        "indexPrice": str(m.index_price),
        "estimatedSettlePrice": str(m.estimated_settle_price),
        "lastFundingRate": fmt(m.funding_rate, ".8f"),
        "interestRate": fmt(m.interest_rate, ".8f"),
        "nextFundingTime": m.next_funding_time_ms,
        "time": m.time_ms,
    }


def mark_price(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _one_or_all(p, [_premium_row(ex, s) for s in _symbols(ex, p)])


def funding_rate_history(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    start, end = p.get("startTime"), p.get("endTime")
    return ex.market.funding_history(p.get("symbol"), start_ms=start, end_ms=end, limit=limit_param(p, 100, 1000))


def funding_info(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return [
        {
            "symbol": s,
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": 8,
            "disclaimer": False,
            "updateTime": ex.started_ms,
        }
        for s in ex.symbols
    ]


def ticker_24hr(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    now = ex.server_time_ms()
    return _one_or_all(p, [ex.market.ticker_24h(s, now) for s in _symbols(ex, p)])


def _price_row(ex: LocalExchange, symbol: str) -> dict[str, Any]:
    last = ex.market.last_trade(symbol)
    price = last.price if last is not None else (ex.venue.mark(symbol) or Decimal(0))
    return {"symbol": symbol, "price": str(price), "time": last.time_ms if last is not None else ex.server_time_ms()}


def ticker_price(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _one_or_all(p, [_price_row(ex, s) for s in _symbols(ex, p)])


def book_ticker(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    rows = []
    for s in _symbols(ex, p):
        bid, bid_qty, ask, ask_qty = ex.venue.best_bid_ask(s)
        spec = ex.venue.specs[s]
        rows.append(
            {
                "symbol": s,
                "bidPrice": str(bid if bid is not None else spec.zero_price),
                "bidQty": str(bid_qty),
                "askPrice": str(ask if ask is not None else spec.zero_price),
                "askQty": str(ask_qty),
                "time": ex.venue.now,
                "lastUpdateId": ex.venue.engines[s].book.update_id,
            }
        )
    return _one_or_all(p, rows)


def open_interest(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    from binfut.emulator.handlers.stats import current_open_interest

    symbol = p["symbol"]
    return {"openInterest": str(current_open_interest(ex, symbol)), "symbol": symbol, "time": ex.server_time_ms()}


# --- reference data the local exchange can only approximate -------------------------------------------


def delivery_price(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    _pair(ex, p)
    return []  # perpetuals only: no quarterly settlements


def index_info(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return []  # no composite indices are listed


def _index(ex: LocalExchange, symbol: str) -> Decimal:
    m = ex.market.mark(symbol)
    if m is not None:
        return m.index_price
    return ex.venue.mark(symbol) or Decimal(0)


def asset_index(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    rows = []
    now = ex.server_time_ms()
    for s in ex.symbols:
        spec = ex.venue.specs[s]
        pair = spec.base_asset + "USD"
        if p.get("symbol") and p["symbol"] != pair:
            continue
        index = _index(ex, s).quantize(E8, ROUND_HALF_EVEN)
        rows.append(
            {
                "symbol": pair, "time": now, "index": str(index),
                "bidBuffer": "0.10000000", "askBuffer": "0.10000000",
                "bidRate": str((index * Decimal("0.9")).quantize(E8, ROUND_HALF_EVEN)),
                "askRate": str((index * Decimal("1.1")).quantize(E8, ROUND_HALF_EVEN)),
                "autoExchangeBidBuffer": "0.05000000", "autoExchangeAskBuffer": "0.05000000",
                "autoExchangeBidRate": str((index * Decimal("0.95")).quantize(E8, ROUND_HALF_EVEN)),
                "autoExchangeAskRate": str((index * Decimal("1.05")).quantize(E8, ROUND_HALF_EVEN)),
            }
        )  # fmt: skip
    if p.get("symbol"):
        if not rows:
            raise InvalidRequest(-1121, "Invalid symbol.")
        return rows[0]
    return rows


def index_constituents(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    symbol = p["symbol"]
    index = _index(ex, symbol)
    venues = (("binance", "4"), ("okex", "2"), ("coinbase", "2"), ("bybit", "2"))
    base = ex.venue.specs[symbol].base_asset
    return {
        "symbol": symbol,
        "time": ex.server_time_ms(),
        "constituents": [
            {"exchange": name, "symbol": f"{base}USDT" if name != "coinbase" else f"{base}-USD", "price": str(index),
             "weight": str(Decimal(w) / 10)}
            for name, w in venues
        ],
    }  # fmt: skip


def insurance_balance(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    fund = ex.venue.insurance_fund + Decimal("1000000")  # a seeded fund plus what liquidations paid
    row = {
        "symbols": list(ex.symbols),
        "assets": [{"asset": "USDT", "marginBalance": str(fund), "updateTime": ex.server_time_ms()}],
    }
    return row if p.get("symbol") else [row]


def adl_risk(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    now = ex.server_time_ms()
    return _one_or_all(
        p, [{"symbol": s, "adlRisk": "low", "updateTime": now - now % 1_800_000} for s in _symbols(ex, p)]
    )


def trading_schedule(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    now = ex.server_time_ms()
    day = now - now % 86_400_000
    sessions = []
    for d in range(7):
        start = day + d * 86_400_000
        sessions.append({"startTime": start, "endTime": start + 48_600_000, "type": "NO_TRADING"})
        sessions.append({"startTime": start + 48_600_000, "endTime": start + 72_000_000, "type": "REGULAR"})
        sessions.append({"startTime": start + 72_000_000, "endTime": start + 86_400_000, "type": "AFTER_MARKET"})
    return {
        "updateTime": now,
        "marketSchedules": {"EQUITY": {"sessions": sessions}, "COMMODITY": {"sessions": sessions}},
    }


HANDLERS: dict[str, Any] = {
    "ping": ping,
    "spot_ping": ping,
    "server_time": server_time,
    "spot_time": server_time,
    "exchange_info": exchange_info,
    "depth": depth,
    "rpi_depth": rpi_depth,
    "trades": trades,
    "historical_trades": historical_trades,
    "agg_trades": agg_trades,
    "klines": klines,
    "continuous_klines": continuous_klines,
    "index_price_klines": index_price_klines,
    "mark_price_klines": mark_price_klines,
    "premium_index_klines": premium_index_klines,
    "mark_price": mark_price,
    "funding_rate_history": funding_rate_history,
    "funding_info": funding_info,
    "ticker_24hr": ticker_24hr,
    "ticker_price": ticker_price,
    "ticker_price_v2": ticker_price,
    "book_ticker": book_ticker,
    "open_interest": open_interest,
    "delivery_price": delivery_price,
    "index_info": index_info,
    "asset_index": asset_index,
    "index_constituents": index_constituents,
    "insurance_balance": insurance_balance,
    "adl_risk": adl_risk,
    "trading_schedule": trading_schedule,
}
