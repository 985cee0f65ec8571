"""REST response Structs of the "Market Data" section (public data, plus the MARKET_DATA trade lookup).

Rules kept here:
- attributes are snake_case Binance nouns; every epoch-millisecond attribute ends in ``_ms``
  (``serverTime`` -> ``server_time_ms``, ``E`` -> ``event_time_ms``, ``T`` -> ``transaction_time_ms``);
- prices, quantities and rates are ``Decimal`` (msgspec decodes JSON strings and numbers exactly);
- fields Binance omits on some symbols or versions have defaults; unknown keys are ignored;
- open-ended Binance vocabularies (contract type, status, filter type, order types) stay ``str`` so
  a value Binance adds tomorrow never fails the decode of a whole exchangeInfo;
- exchangeInfo filters decode into one flat :class:`SymbolFilter` (every known field optional), not a
  tagged union: msgspec unions reject unknown tags, and Binance adds filter types;
- two documented quirks are absorbed at decode time and normalised in ``__post_init__``: the
  ``/futures/data`` ``timestamp`` documented as a string but sent as a number, and the decimal
  fields Binance sends as ``""`` (``annualizedBasisRate`` of perpetuals, old ``markPrice``).
No payload samples here: see ``tests/fixtures/http_market_*.json``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from binfut.protocol.models._base import Model
from binfut.protocol.models.account import Empty

__all__ = [
    "AdlRisk",
    "AggTrade",
    "AssetIndex",
    "AssetInfo",
    "Basis",
    "BookTicker",
    "CompositeIndex",
    "DeliveryPrice",
    "Empty",
    "ExchangeInfo",
    "FundingInfo",
    "FundingRate",
    "IndexComponent",
    "IndexConstituent",
    "IndexConstituents",
    "InsuranceAsset",
    "InsuranceBalance",
    "Kline",
    "LongShortRatio",
    "MarkPrice",
    "MarketSchedule",
    "MarketTrade",
    "OpenInterest",
    "OpenInterestHist",
    "OrderBook",
    "PriceTicker",
    "RateLimit",
    "ServerTime",
    "SymbolFilter",
    "SymbolInfo",
    "TakerVolume",
    "Ticker24hr",
    "TradingSchedule",
    "TradingSession",
]

# Quirk-absorbing field types. msgspec decodes with the runtime alias (so the quirky wire form is
# accepted); ``__post_init__`` normalises the value, so the static type mypy sees is what every
# constructed instance really holds.
if TYPE_CHECKING:
    _IntLike = int
    _OptDecimal = Decimal | None
else:
    _IntLike = int | str  # documented as "1583127900000" (string), sent as 1583127900000 (number)
    _OptDecimal = str | None  # a decimal string, or "" where Binance has no value


def _norm_int(value: int | str) -> int:
    return value if isinstance(value, int) else int(value)


def _norm_opt_decimal(value: Decimal | str | None) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(value) if value.strip() else None


def _set(obj: msgspec.Struct, name: str, value: Any) -> None:
    msgspec.structs.force_setattr(obj, name, value)


# -- general ----------------------------------------------------------------------------------------


class ServerTime(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/time``."""

    server_time_ms: int = msgspec.field(name="serverTime")


class RateLimit(Model, frozen=True, kw_only=True):
    """One ``rateLimits`` entry: ``limit`` per ``interval_num`` ``interval`` (MINUTE, SECOND)."""

    rate_limit_type: str
    interval: str
    interval_num: int
    limit: int


class AssetInfo(Model, frozen=True, kw_only=True):
    """One ``assets`` entry: whether the asset is margin in Multi-Assets mode.

    ``auto_asset_exchange`` arrives as a string, a number or ``null`` depending on the asset.
    """

    asset: str
    margin_available: bool = False
    auto_asset_exchange: Decimal | None = None


class SymbolFilter(Model, frozen=True, kw_only=True, gc=False):
    """One exchangeInfo filter; only the fields of its ``filter_type`` are set.

    PRICE_FILTER: ``min_price``, ``max_price``, ``tick_size``; LOT_SIZE and MARKET_LOT_SIZE:
    ``min_qty``, ``max_qty``, ``step_size``; MAX_NUM_ORDERS and MAX_NUM_ALGO_ORDERS: ``limit``;
    MIN_NOTIONAL: ``notional``; PERCENT_PRICE: ``multiplier_up``, ``multiplier_down``,
    ``multiplier_decimal``. A filter type Binance adds later decodes with only ``filter_type`` set.
    """

    filter_type: str
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    tick_size: Decimal | None = None
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    step_size: Decimal | None = None
    limit: _IntLike | None = None
    notional: Decimal | None = None
    multiplier_up: Decimal | None = None
    multiplier_down: Decimal | None = None
    # "4" in live payloads, 4 in older docs.
    multiplier_decimal: _IntLike | None = None

    def __post_init__(self) -> None:
        if isinstance(self.limit, str):
            _set(self, "limit", _norm_int(self.limit))
        if isinstance(self.multiplier_decimal, str):
            _set(self, "multiplier_decimal", _norm_int(self.multiplier_decimal))


class SymbolInfo(Model, frozen=True, kw_only=True):
    """One ``symbols`` entry of exchangeInfo.

    ``price_precision`` / ``quantity_precision`` are display precisions: validate against the
    filters (``price_filter.tick_size``, ``lot_size.step_size``), as Binance insists.
    """

    symbol: str
    pair: str = ""
    contract_type: str = ""  # see binfut.enums.ContractType; "" for some delisted symbols
    delivery_date_ms: int = msgspec.field(default=0, name="deliveryDate")
    onboard_date_ms: int = msgspec.field(default=0, name="onboardDate")
    status: str = ""
    maint_margin_percent: Decimal | None = None
    required_margin_percent: Decimal | None = None
    base_asset: str = ""
    quote_asset: str = ""
    margin_asset: str = ""
    price_precision: int = 0
    quantity_precision: int = 0
    base_asset_precision: int = 0
    quote_precision: int = 0
    underlying_type: str = ""
    underlying_sub_type: list[str] = []
    settle_plan: int = 0
    trigger_protect: Decimal | None = None
    liquidation_fee: Decimal | None = None
    market_take_bound: Decimal | None = None
    max_move_order_limit: int | None = None
    filters: list[SymbolFilter] = []
    # Live payloads say "orderTypes"; the docs' example says "OrderType" (a docs typo).
    order_types: list[str] = []
    time_in_force: list[str] = []

    def _filter(self, filter_type: str) -> SymbolFilter | None:
        for f in self.filters:
            if f.filter_type == filter_type:
                return f
        return None

    @property
    def price_filter(self) -> SymbolFilter | None:
        return self._filter("PRICE_FILTER")

    @property
    def lot_size(self) -> SymbolFilter | None:
        return self._filter("LOT_SIZE")

    @property
    def market_lot_size(self) -> SymbolFilter | None:
        return self._filter("MARKET_LOT_SIZE")

    @property
    def min_notional(self) -> SymbolFilter | None:
        return self._filter("MIN_NOTIONAL")

    @property
    def percent_price(self) -> SymbolFilter | None:
        return self._filter("PERCENT_PRICE")

    @property
    def max_num_orders(self) -> SymbolFilter | None:
        return self._filter("MAX_NUM_ORDERS")

    @property
    def max_num_algo_orders(self) -> SymbolFilter | None:
        return self._filter("MAX_NUM_ALGO_ORDERS")


class ExchangeInfo(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/exchangeInfo``: rate limits, margin assets and every symbol's trading rules.

    ``server_time_ms`` is when the snapshot was built; Binance says not to use it as a clock.
    ``exchange_filters`` has always been empty on USD-M and has no documented shape, so it stays raw.
    """

    timezone: str = "UTC"
    server_time_ms: int = msgspec.field(default=0, name="serverTime")
    futures_type: str = ""
    rate_limits: list[RateLimit] = []
    exchange_filters: list[Any] = []
    assets: list[AssetInfo] = []
    symbols: list[SymbolInfo] = []


# -- order book and trades --------------------------------------------------------------------------


class OrderBook(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/depth`` and ``GET /fapi/v1/rpiDepth``: a snapshot with ``(price, qty)`` levels.

    ``last_update_id`` is what a diff stream is synchronised against; ``event_time_ms`` (``E``) is
    when the message was produced and ``transaction_time_ms`` (``T``) the last matching-engine time.
    """

    last_update_id: int
    event_time_ms: int = msgspec.field(default=0, name="E")
    transaction_time_ms: int = msgspec.field(default=0, name="T")
    bids: list[tuple[Decimal, Decimal]] = []
    asks: list[tuple[Decimal, Decimal]] = []


class MarketTrade(Model, frozen=True, kw_only=True, gc=False):
    """One public trade (``/fapi/v1/trades``, ``/fapi/v1/historicalTrades``).

    Only order-book trades are listed: insurance-fund and ADL fills never appear here.
    """

    id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time_ms: int = msgspec.field(name="time")
    is_buyer_maker: bool
    is_rpi_trade: bool = msgspec.field(default=False, name="isRPITrade")


class AggTrade(Model, frozen=True, kw_only=True, gc=False):
    """One aggregate trade (``/fapi/v1/aggTrades``): fills of one taker order at one price in 100 ms.

    ``normal_quantity`` (``nq``) is the quantity without RPI orders; older payloads lack it.
    """

    agg_trade_id: int = msgspec.field(name="a")
    price: Decimal = msgspec.field(name="p")
    quantity: Decimal = msgspec.field(name="q")
    first_trade_id: int = msgspec.field(name="f")
    last_trade_id: int = msgspec.field(name="l")
    transaction_time_ms: int = msgspec.field(name="T")
    is_buyer_maker: bool = msgspec.field(name="m")
    normal_quantity: Decimal | None = msgspec.field(default=None, name="nq")


class Kline(Model, frozen=True, kw_only=True, array_like=True, gc=False):
    """One bar of any of the five kline endpoints (a 12-element JSON array on the wire).

    For index-price, mark-price and premium-index klines the volume, trade-count and taker fields
    are placeholders ("0", a count) that Binance documents as "ignore". For bulk work prefer
    :func:`binfut.protocol.frames.klines_frame`, which skips the Decimal objects entirely.
    """

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time_ms: int
    quote_volume: Decimal
    trades: int
    taker_buy_base_volume: Decimal
    taker_buy_quote_volume: Decimal
    ignore: Any = "0"


# -- prices, tickers, funding -----------------------------------------------------------------------


class MarkPrice(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/premiumIndex``: mark and index price, the live funding rate and next funding."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal | None = None
    estimated_settle_price: Decimal | None = None  # only meaningful in the hour before settlement
    last_funding_rate: Decimal | None = None
    interest_rate: Decimal | None = None
    next_funding_time_ms: int = msgspec.field(default=0, name="nextFundingTime")
    time_ms: int = msgspec.field(default=0, name="time")


class FundingRate(Model, frozen=True, kw_only=True, gc=False):
    """One settled funding (``/fapi/v1/fundingRate``). ``mark_price`` is None where Binance sends ``""``."""

    symbol: str
    funding_time_ms: int = msgspec.field(name="fundingTime")
    funding_rate: Decimal
    mark_price: _OptDecimal = None

    def __post_init__(self) -> None:
        if isinstance(self.mark_price, str):
            _set(self, "mark_price", _norm_opt_decimal(self.mark_price))


class FundingInfo(Model, frozen=True, kw_only=True):
    """One symbol with an adjusted funding cap, floor or interval (``/fapi/v1/fundingInfo``)."""

    symbol: str
    adjusted_funding_rate_cap: Decimal
    adjusted_funding_rate_floor: Decimal
    funding_interval_hours: int
    disclaimer: bool = False
    update_time_ms: int = msgspec.field(default=0, name="updateTime")  # sent, not documented


class Ticker24hr(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/ticker/24hr``: rolling 24 h statistics (not the UTC day)."""

    symbol: str
    price_change: Decimal
    price_change_percent: Decimal
    weighted_avg_price: Decimal
    last_price: Decimal
    last_qty: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    open_time_ms: int = msgspec.field(name="openTime")
    close_time_ms: int = msgspec.field(name="closeTime")
    first_id: int = 0
    last_id: int = 0
    count: int = 0


class PriceTicker(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/ticker/price`` and ``/fapi/v2/ticker/price``: the last trade price."""

    symbol: str
    price: Decimal
    time_ms: int = msgspec.field(default=0, name="time")


class BookTicker(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/ticker/bookTicker``: best bid and ask (RPI orders excluded)."""

    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    time_ms: int = msgspec.field(default=0, name="time")
    last_update_id: int | None = None


class OpenInterest(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/openInterest``: present open interest, in contracts (base asset)."""

    symbol: str
    open_interest: Decimal
    time_ms: int = msgspec.field(default=0, name="time")


class DeliveryPrice(Model, frozen=True, kw_only=True):
    """One quarterly settlement (``/futures/data/delivery-price``); the price is a JSON number."""

    delivery_time_ms: int = msgspec.field(name="deliveryTime")
    delivery_price: Decimal


# -- /futures/data statistics -------------------------------------------------------------------------


class OpenInterestHist(Model, frozen=True, kw_only=True, gc=False):
    """One ``/futures/data/openInterestHist`` point: total open interest in contracts and quote value."""

    symbol: str
    sum_open_interest: Decimal
    sum_open_interest_value: Decimal
    timestamp_ms: _IntLike = msgspec.field(name="timestamp")
    cmc_circulating_supply: Decimal | None = msgspec.field(default=None, name="CMCCirculatingSupply")

    def __post_init__(self) -> None:
        if isinstance(self.timestamp_ms, str):
            _set(self, "timestamp_ms", _norm_int(self.timestamp_ms))


class LongShortRatio(Model, frozen=True, kw_only=True, gc=False):
    """One point of the three long/short ratio series.

    ``topLongShortAccountRatio`` and ``globalLongShortAccountRatio`` count accounts;
    ``topLongShortPositionRatio`` sends the same keys but they are shares of position *size*.
    """

    symbol: str
    long_short_ratio: Decimal
    long_account: Decimal
    short_account: Decimal
    timestamp_ms: _IntLike = msgspec.field(name="timestamp")

    def __post_init__(self) -> None:
        if isinstance(self.timestamp_ms, str):
            _set(self, "timestamp_ms", _norm_int(self.timestamp_ms))


class TakerVolume(Model, frozen=True, kw_only=True, gc=False):
    """One ``/futures/data/takerlongshortRatio`` point (taker buy vs sell volume; no ``symbol`` key)."""

    buy_sell_ratio: Decimal
    buy_vol: Decimal
    sell_vol: Decimal
    timestamp_ms: _IntLike = msgspec.field(name="timestamp")

    def __post_init__(self) -> None:
        if isinstance(self.timestamp_ms, str):
            _set(self, "timestamp_ms", _norm_int(self.timestamp_ms))


class Basis(Model, frozen=True, kw_only=True, gc=False):
    """One ``/futures/data/basis`` point; ``annualized_basis_rate`` is None for perpetuals (sent ``""``)."""

    pair: str
    contract_type: str
    index_price: Decimal
    futures_price: Decimal
    basis: Decimal
    basis_rate: Decimal
    timestamp_ms: _IntLike = msgspec.field(name="timestamp")
    annualized_basis_rate: _OptDecimal = None

    def __post_init__(self) -> None:
        if isinstance(self.annualized_basis_rate, str):
            _set(self, "annualized_basis_rate", _norm_opt_decimal(self.annualized_basis_rate))
        if isinstance(self.timestamp_ms, str):
            _set(self, "timestamp_ms", _norm_int(self.timestamp_ms))


# -- indices, insurance, ADL, schedule ------------------------------------------------------------------


class IndexComponent(Model, frozen=True, kw_only=True):
    """One base asset of a composite index."""

    base_asset: str
    quote_asset: str
    weight_in_quantity: Decimal
    weight_in_percentage: Decimal


class CompositeIndex(Model, frozen=True, kw_only=True):
    """One composite index symbol (``/fapi/v1/indexInfo``), e.g. DEFIUSDT."""

    symbol: str
    time_ms: int = msgspec.field(default=0, name="time")
    component: str = ""
    base_asset_list: list[IndexComponent] = []


class AssetIndex(Model, frozen=True, kw_only=True):
    """Multi-Assets-mode exchange rates of one asset pair (``/fapi/v1/assetIndex``)."""

    symbol: str
    index: Decimal
    bid_buffer: Decimal
    ask_buffer: Decimal
    bid_rate: Decimal
    ask_rate: Decimal
    auto_exchange_bid_buffer: Decimal
    auto_exchange_ask_buffer: Decimal
    auto_exchange_bid_rate: Decimal
    auto_exchange_ask_rate: Decimal
    time_ms: int = msgspec.field(default=0, name="time")


class IndexConstituent(Model, frozen=True, kw_only=True):
    """One venue feeding an index price; ``price``/``weight`` are newer (-1 where Binance hides them)."""

    exchange: str
    symbol: str
    price: Decimal | None = None
    weight: Decimal | None = None


class IndexConstituents(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/constituents``."""

    symbol: str
    time_ms: int = msgspec.field(default=0, name="time")
    constituents: list[IndexConstituent] = []


class InsuranceAsset(Model, frozen=True, kw_only=True):
    """One asset balance of an insurance fund."""

    asset: str
    margin_balance: Decimal
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class InsuranceBalance(Model, frozen=True, kw_only=True):
    """One insurance fund (``/fapi/v1/insuranceBalance``): the symbols it covers and its balances."""

    symbols: list[str] = []
    assets: list[InsuranceAsset] = []


class AdlRisk(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/symbolAdlRisk``: the symbol's ADL risk rating, refreshed every 30 minutes.

    The docs spell the rating ``high``/``medium``/``low`` while live answers have been seen in upper
    case: compare case-insensitively.
    """

    symbol: str
    adl_risk: str
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class TradingSession(Model, frozen=True, kw_only=True):
    """One session of a TradFi underlying: REGULAR, PRE_MARKET, AFTER_MARKET, OVERNIGHT, NO_TRADING."""

    start_time_ms: int = msgspec.field(name="startTime")
    end_time_ms: int = msgspec.field(name="endTime")
    type: str


class MarketSchedule(Model, frozen=True, kw_only=True):
    """The sessions of one market (EQUITY, COMMODITY, ...)."""

    sessions: list[TradingSession] = []


class TradingSchedule(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/tradingSchedule``: a week of sessions per TradFi market, keyed by market name."""

    update_time_ms: int = msgspec.field(default=0, name="updateTime")
    market_schedules: dict[str, MarketSchedule] = {}
