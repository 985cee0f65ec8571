"""REST response Structs of the "Trade" section: orders, algo orders, batch results, trades, positions.

Rules kept here:
- attributes are snake_case Binance nouns; every epoch-millisecond attribute ends in ``_ms``;
- money, prices, quantities and rates are ``Decimal`` (Binance sends them as strings, sometimes as
  JSON numbers; msgspec decodes both exactly);
- a field Binance omits on some endpoint or response type (ACK vs RESULT, cancel vs query, force
  orders) has a default, so one Struct decodes every variant of a shape;
- open-ended Binance vocabularies (``timeInForce`` has ``GTE_GTC`` and ``RPI``, which
  :class:`~binfut.enums.TimeInForce` lacks) are kept as ``str`` so a new value never fails a decode.
No payload samples here: see ``tests/fixtures/http_trade_*.json``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from binfut.enums import (
    AlgoStatus,
    AlgoType,
    OrderStatus,
    OrderType,
    PositionSide,
    PriceMatch,
    SelfTradePreventionMode,
    Side,
    WorkingType,
)
from binfut.protocol.models._base import Model

__all__ = [
    "AdlQuantile",
    "AdlQuantileValues",
    "AlgoCancelResult",
    "AlgoOrder",
    "Amendment",
    "AmendmentChange",
    "BatchOrderResult",
    "CodeMsg",
    "CountdownCancelAll",
    "ForceOrder",
    "LeverageChange",
    "Order",
    "OrderAmendment",
    "PositionMarginChange",
    "PositionMarginHistory",
    "PositionRisk",
    "PositionRiskV2",
    "UserTrade",
]

_ZERO = Decimal(0)


class CodeMsg(Model, frozen=True, kw_only=True):
    """The bare acknowledgement ``{"code": 200, "msg": "success"}``.

    Returned by cancel-all, change margin type / position mode / multi-assets mode / fee burn and
    the TradFi-perps agreement. Errors never arrive as a ``CodeMsg``: they come with a 4xx status.
    """

    code: int = 200
    msg: str = ""


class Order(Model, frozen=True, kw_only=True):
    """One order, as returned by new / modify / cancel / query / open / all orders.

    Parameters
    ----------
    order_id, client_order_id : Binance and client identifiers
    status, side, position_side, type, orig_type : order state and kind
    price, avg_price, orig_qty, executed_qty, cum_qty, cum_quote : amounts (``cum_qty`` is only on
        new/cancel answers, ``cum_quote`` is missing from modify answers)
    stop_price : legacy trigger price; ignore for TRAILING_STOP_MARKET
    activate_price, price_rate : trailing-stop activation price and callback rate (trailing only)
    good_till_date_ms : auto-cancel time of a GTD order, 0 otherwise
    time_ms : creation time (query/open/all only); update_time_ms : last update

    References
    ----------
    https://developers.binance.com/en/docs/catalog/core-trading-derivatives-trading-usd-s-m-futures/api/rest-api/trade#query-order
    """

    order_id: int
    symbol: str
    status: OrderStatus
    client_order_id: str
    side: Side
    type: OrderType
    price: Decimal = _ZERO
    avg_price: Decimal = _ZERO
    orig_qty: Decimal = _ZERO
    executed_qty: Decimal = _ZERO
    cum_qty: Decimal | None = None
    cum_quote: Decimal | None = None
    # GTC / IOC / FOK / GTX / GTD, plus GTE_GTC (close-position orders) and RPI: kept open.
    time_in_force: str = "GTC"
    orig_type: OrderType | None = None
    reduce_only: bool = False
    close_position: bool = False
    position_side: PositionSide = PositionSide.BOTH
    stop_price: Decimal | None = None
    working_type: WorkingType | None = None
    price_protect: bool = False
    price_match: PriceMatch = PriceMatch.NONE
    self_trade_prevention_mode: SelfTradePreventionMode = SelfTradePreventionMode.NONE
    activate_price: Decimal | None = None
    price_rate: Decimal | None = None
    modify_id: int | None = None
    good_till_date_ms: int = msgspec.field(default=0, name="goodTillDate")
    time_ms: int | None = msgspec.field(default=None, name="time")
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class ForceOrder(Order, frozen=True):
    """A liquidation or ADL order from ``GET /fapi/v1/forceOrders`` (client id ``autoclose-*`` / ``adl_autoclose``)."""


class BatchOrderResult(Model, frozen=True, kw_only=True, omit_defaults=True):
    """One element of a batch place / modify / cancel answer: an order **or** a per-order error.

    Binance answers a batch with one untagged JSON array whose elements are either an order object
    or ``{"code": -2022, "msg": "..."}``, in the order of the request. An untagged union of two
    object shapes cannot be decoded by msgspec, so this Struct carries every order field as
    optional plus ``code``/``msg``: decoding never fails, and :attr:`ok` tells the two apart.
    Because ``omit_defaults`` is set, ``msgspec.convert(msgspec.to_builtins(r), Order)`` turns a
    successful element into an :class:`Order`.
    """

    code: int | None = None
    msg: str | None = None
    order_id: int | None = None
    symbol: str | None = None
    status: OrderStatus | None = None
    client_order_id: str | None = None
    side: Side | None = None
    type: OrderType | None = None
    price: Decimal | None = None
    avg_price: Decimal | None = None
    orig_qty: Decimal | None = None
    executed_qty: Decimal | None = None
    cum_qty: Decimal | None = None
    cum_quote: Decimal | None = None
    time_in_force: str | None = None
    orig_type: OrderType | None = None
    reduce_only: bool | None = None
    close_position: bool | None = None
    position_side: PositionSide | None = None
    stop_price: Decimal | None = None
    working_type: WorkingType | None = None
    price_protect: bool | None = None
    price_match: PriceMatch | None = None
    self_trade_prevention_mode: SelfTradePreventionMode | None = None
    activate_price: Decimal | None = None
    price_rate: Decimal | None = None
    modify_id: int | None = None
    good_till_date_ms: int | None = msgspec.field(default=None, name="goodTillDate")
    time_ms: int | None = msgspec.field(default=None, name="time")
    update_time_ms: int | None = msgspec.field(default=None, name="updateTime")

    @property
    def ok(self) -> bool:
        """True for an order element, False for a ``{"code", "msg"}`` error element."""
        return self.code is None and self.order_id is not None


class AlgoOrder(Model, frozen=True, kw_only=True):
    """A conditional (algo) order: STOP / TAKE_PROFIT / *_MARKET / TRAILING_STOP_MARKET.

    Since the 2025 migration these live under ``/fapi/v1/algoOrder`` with their own id space
    (``algo_id`` / ``client_algo_id``). When triggered, the order sent to the book is reported in
    ``actual_order_id`` / ``actual_price`` (empty / zero before that).

    References
    ----------
    https://developers.binance.com/en/docs/catalog/core-trading-derivatives-trading-usd-s-m-futures/api/rest-api/trade#new-algo-order
    """

    algo_id: int
    client_algo_id: str
    algo_type: AlgoType
    order_type: OrderType
    symbol: str
    side: Side
    algo_status: AlgoStatus
    position_side: PositionSide = PositionSide.BOTH
    time_in_force: str = "GTC"
    quantity: Decimal = _ZERO
    trigger_price: Decimal = _ZERO
    price: Decimal = _ZERO
    iceberg_quantity: Decimal | None = None  # Binance sends null
    # "" until triggered; Binance documents a string, we also accept a number.
    actual_order_id: str | int | None = None
    actual_price: Decimal | None = None
    tp_trigger_price: Decimal | None = None
    tp_price: Decimal | None = None
    sl_trigger_price: Decimal | None = None
    sl_price: Decimal | None = None
    tp_order_type: str | None = None
    self_trade_prevention_mode: SelfTradePreventionMode = SelfTradePreventionMode.NONE
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_match: PriceMatch = PriceMatch.NONE
    close_position: bool = False
    price_protect: bool = False
    reduce_only: bool = False
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    create_time_ms: int = msgspec.field(default=0, name="createTime")
    update_time_ms: int = msgspec.field(default=0, name="updateTime")
    trigger_time_ms: int = msgspec.field(default=0, name="triggerTime")
    good_till_date_ms: int = msgspec.field(default=0, name="goodTillDate")


class AlgoCancelResult(Model, frozen=True, kw_only=True):
    """Answer of ``DELETE /fapi/v1/algoOrder``.

    Quirk: here Binance sends ``"code": "200"`` as a string (a number everywhere else).
    """

    algo_id: int
    client_algo_id: str = ""
    code: int | str = 200
    msg: str = ""


class CountdownCancelAll(Model, frozen=True, kw_only=True):
    """Answer of ``POST /fapi/v1/countdownCancelAll`` (``countdownTime`` arrives as a string)."""

    symbol: str
    countdown_time_ms: int | str = msgspec.field(default=0, name="countdownTime")


class AmendmentChange(Model, frozen=True, kw_only=True):
    """A before/after pair of one amended value."""

    before: Decimal
    after: Decimal


class Amendment(Model, frozen=True, kw_only=True):
    """What one modification changed; ``count`` is the order's running modification count."""

    price: AmendmentChange | None = None
    orig_qty: AmendmentChange | None = None
    count: int = 0
    modify_id: int | None = None


class OrderAmendment(Model, frozen=True, kw_only=True):
    """One entry of ``GET /fapi/v1/orderAmendment`` (order modify history)."""

    amendment_id: int
    symbol: str
    order_id: int
    client_order_id: str = ""
    time_ms: int = msgspec.field(default=0, name="time")
    amendment: Amendment = msgspec.field(default_factory=Amendment)
    price_match: PriceMatch = PriceMatch.NONE


class UserTrade(Model, frozen=True, kw_only=True):
    """One fill of the account (``GET /fapi/v1/userTrades``); ``id`` is the trade id."""

    id: int
    symbol: str
    order_id: int
    side: Side
    price: Decimal
    qty: Decimal
    quote_qty: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO
    commission: Decimal = _ZERO
    commission_asset: str = ""
    margin_asset: str | None = None
    position_side: PositionSide = PositionSide.BOTH
    buyer: bool = False
    maker: bool = False
    time_ms: int = msgspec.field(default=0, name="time")


class PositionRisk(Model, frozen=True, kw_only=True):
    """One position from ``GET /fapi/v3/positionRisk`` (only symbols with a position or open orders).

    v3 dropped ``leverage``/``marginType``/``maxNotionalValue`` (see :class:`PositionRiskV2` and
    ``symbol_config``) and added margin and ADL fields.
    """

    symbol: str
    position_side: PositionSide = PositionSide.BOTH
    position_amt: Decimal = _ZERO
    entry_price: Decimal = _ZERO
    break_even_price: Decimal = _ZERO
    mark_price: Decimal = _ZERO
    # Binance spells it "unRealizedProfit" here and "unrealizedProfit" in account positions.
    unrealized_profit: Decimal = msgspec.field(default=_ZERO, name="unRealizedProfit")
    liquidation_price: Decimal = _ZERO
    isolated_margin: Decimal = _ZERO
    notional: Decimal = _ZERO
    margin_asset: str = ""
    isolated_wallet: Decimal = _ZERO
    initial_margin: Decimal = _ZERO
    maint_margin: Decimal = _ZERO
    position_initial_margin: Decimal = _ZERO
    open_order_initial_margin: Decimal = _ZERO
    adl: int = 0
    bid_notional: Decimal = _ZERO
    ask_notional: Decimal = _ZERO
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class PositionRiskV2(Model, frozen=True, kw_only=True):
    """One position from ``GET /fapi/v2/positionRisk`` (every symbol, one row per position side).

    Quirks: ``leverage`` is a string (decoded as Decimal), ``marginType`` is lower case
    (``"isolated"`` / ``"cross"``, unlike :class:`~binfut.enums.MarginType`) and
    ``isAutoAddMargin`` is the *string* ``"false"``.
    """

    symbol: str
    position_side: PositionSide = PositionSide.BOTH
    position_amt: Decimal = _ZERO
    entry_price: Decimal = _ZERO
    break_even_price: Decimal = _ZERO
    mark_price: Decimal = _ZERO
    unrealized_profit: Decimal = msgspec.field(default=_ZERO, name="unRealizedProfit")
    liquidation_price: Decimal = _ZERO
    leverage: Decimal = _ZERO
    max_notional_value: Decimal = _ZERO
    margin_type: str = "cross"
    isolated_margin: Decimal = _ZERO
    is_auto_add_margin: str | bool = "false"
    notional: Decimal = _ZERO
    isolated_wallet: Decimal = _ZERO
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class AdlQuantileValues(Model, frozen=True, kw_only=True):
    """ADL queue quantiles 0-4 per position side (upper-case keys on the wire).

    ``hedge`` is only a marker Binance sends instead of ``both`` for cross-margined hedge-mode
    positions; its value means nothing.
    """

    long: int | None = msgspec.field(default=None, name="LONG")
    short: int | None = msgspec.field(default=None, name="SHORT")
    both: int | None = msgspec.field(default=None, name="BOTH")
    hedge: int | None = msgspec.field(default=None, name="HEDGE")


class AdlQuantile(Model, frozen=True, kw_only=True):
    """One symbol of ``GET /fapi/v1/adlQuantile`` (values refresh every 30 s)."""

    symbol: str
    adl_quantile: AdlQuantileValues = msgspec.field(default_factory=AdlQuantileValues)


class LeverageChange(Model, frozen=True, kw_only=True):
    """Answer of ``POST /fapi/v1/leverage``."""

    symbol: str
    leverage: int
    max_notional_value: Decimal = _ZERO


class PositionMarginChange(Model, frozen=True, kw_only=True):
    """Answer of ``POST /fapi/v1/positionMargin``; ``type`` 1 = add, 2 = reduce."""

    amount: Decimal
    type: int
    code: int = 200
    msg: str = ""


class PositionMarginHistory(Model, frozen=True, kw_only=True):
    """One entry of ``GET /fapi/v1/positionMargin/history``; ``type`` 1 = add, 2 = reduce."""

    symbol: str
    type: int
    amount: Decimal
    asset: str = ""
    delta_type: str = ""  # USER_ADJUST, ...
    position_side: PositionSide = PositionSide.BOTH
    time_ms: int = msgspec.field(default=0, name="time")
