"""Inputs of the simulated venue: account commands and market events.

Commands are imperative (``NewOrder``, ``CancelOrder`` ...) and carry Binance's REST parameters
under their snake_case names; market events are facts (``MarkPrice``, ``Funding``, ``Trade``,
``Tick``).  They are frozen msgspec Structs with no behaviour.  Enumerated parameters accept the
``binfut.enums`` StrEnum *or* the plain wire string, because the engine itself answers an unknown
value with Binance's code (-1117 side, -1116 type, -1115 timeInForce), exactly like the exchange.
``None`` means "parameter not sent" so the engine can answer -1102 for a missing mandatory one.

References: "New Order", "Modify Order", "Place Multiple Orders", "New Algo Order",
"Auto-Cancel All Open Orders", "Change Initial Leverage" ... on the USD-M trade/account pages.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

__all__ = [
    "BatchCancelOrders",
    "BatchModifyOrders",
    "BatchNewOrders",
    "CancelAlgoOrder",
    "CancelAllAlgoOrders",
    "CancelAllOrders",
    "CancelOrder",
    "ChangeLeverage",
    "ChangeMarginType",
    "ChangeMultiAssetsMode",
    "ChangePositionMode",
    "Command",
    "CountdownCancelAll",
    "Deposit",
    "Funding",
    "MarkPrice",
    "MarketEvent",
    "ModifyIsolatedMargin",
    "ModifyOrder",
    "NewAlgoOrder",
    "NewOrder",
    "Tick",
    "Trade",
    "Withdraw",
]


class _Cmd(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of every command and market event."""


# --- orders ------------------------------------------------------------------------------------


class NewOrder(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/order``: LIMIT or MARKET (conditional types go through :class:`NewAlgoOrder`)."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    position_side: str | None = None  # None -> BOTH (one-way); mandatory in hedge mode
    reduce_only: bool | None = None
    new_client_order_id: str | None = None
    price_match: str | None = None
    self_trade_prevention_mode: str | None = None
    good_till_date: int | None = None  # ms; mandatory with GTD
    new_order_resp_type: str | None = None  # ACK (default) or RESULT
    # Parameters of conditional types; sent here only to get Binance's -4120.
    stop_price: Decimal | None = None
    close_position: bool | None = None
    activation_price: Decimal | None = None
    callback_rate: Decimal | None = None
    working_type: str | None = None
    price_protect: bool | None = None


class CancelOrder(_Cmd, frozen=True, kw_only=True):
    """``DELETE /fapi/v1/order`` (one of ``order_id`` / ``orig_client_order_id``)."""

    symbol: str
    order_id: int | None = None
    orig_client_order_id: str | None = None


class ModifyOrder(_Cmd, frozen=True, kw_only=True):
    """``PUT /fapi/v1/order``: change price and/or quantity of an open LIMIT order."""

    symbol: str
    side: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    order_id: int | None = None
    orig_client_order_id: str | None = None
    price_match: str | None = None


class BatchNewOrders(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/batchOrders`` (at most 5); each entry gets its own result or error."""

    orders: list[NewOrder]


class BatchModifyOrders(_Cmd, frozen=True, kw_only=True):
    """``PUT /fapi/v1/batchOrders`` (at most 5)."""

    orders: list[ModifyOrder]


class BatchCancelOrders(_Cmd, frozen=True, kw_only=True):
    """``DELETE /fapi/v1/batchOrders`` (at most 10 ids)."""

    symbol: str
    order_id_list: list[int] | None = None
    orig_client_order_id_list: list[str] | None = None


class CancelAllOrders(_Cmd, frozen=True, kw_only=True):
    """``DELETE /fapi/v1/allOpenOrders``."""

    symbol: str


class CountdownCancelAll(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/countdownCancelAll``: heartbeat; 0 disables the timer."""

    symbol: str
    countdown_time: int  # ms


class NewAlgoOrder(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/algoOrder`` with ``algoType=CONDITIONAL``."""

    symbol: str
    side: str
    type: str  # STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET
    algo_type: str = "CONDITIONAL"
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: str | None = None
    working_type: str | None = None  # default CONTRACT_PRICE
    price_protect: bool | None = None
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None  # percent, 0.1 .. 10
    close_position: bool | None = None
    reduce_only: bool | None = None
    position_side: str | None = None
    client_algo_id: str | None = None
    self_trade_prevention_mode: str | None = None
    price_match: str | None = None
    good_till_date: int | None = None


class CancelAlgoOrder(_Cmd, frozen=True, kw_only=True):
    """``DELETE /fapi/v1/algoOrder``."""

    algo_id: int | None = None
    client_algo_id: str | None = None


class CancelAllAlgoOrders(_Cmd, frozen=True, kw_only=True):
    """``DELETE /fapi/v1/algoOpenOrders``."""

    symbol: str


# --- account -----------------------------------------------------------------------------------


class ChangeLeverage(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/leverage``."""

    symbol: str
    leverage: int


class ChangeMarginType(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/marginType`` (ISOLATED / CROSSED)."""

    symbol: str
    margin_type: str


class ChangePositionMode(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/positionSide/dual``: ``True`` = hedge mode."""

    dual_side_position: bool


class ChangeMultiAssetsMode(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/multiAssetsMargin`` (only ``False`` is supported by the simulator)."""

    multi_assets_margin: bool


class ModifyIsolatedMargin(_Cmd, frozen=True, kw_only=True):
    """``POST /fapi/v1/positionMargin``: type 1 adds, 2 reduces."""

    symbol: str
    amount: Decimal
    type: int
    position_side: str | None = None


class Deposit(_Cmd, frozen=True, kw_only=True):
    """Credit an asset (an admin action of the simulator; ACCOUNT_UPDATE reason DEPOSIT)."""

    asset: str
    amount: Decimal


class Withdraw(_Cmd, frozen=True, kw_only=True):
    """Debit an asset up to the max-withdraw amount (ACCOUNT_UPDATE reason WITHDRAW)."""

    asset: str
    amount: Decimal


Command = (
    NewOrder
    | CancelOrder
    | ModifyOrder
    | BatchNewOrders
    | BatchModifyOrders
    | BatchCancelOrders
    | CancelAllOrders
    | CountdownCancelAll
    | NewAlgoOrder
    | CancelAlgoOrder
    | CancelAllAlgoOrders
    | ChangeLeverage
    | ChangeMarginType
    | ChangePositionMode
    | ChangeMultiAssetsMode
    | ModifyIsolatedMargin
    | Deposit
    | Withdraw
)


# --- market events -----------------------------------------------------------------------------


class Tick(_Cmd, frozen=True, kw_only=True):
    """Time passed: expire GTD orders, fire countdown cancel-all, re-check margin."""

    time_ms: int


class MarkPrice(_Cmd, frozen=True, kw_only=True):
    """A new mark price: MARK_PRICE triggers, unrealized PnL, margin calls and liquidations."""

    symbol: str
    mark_price: Decimal
    time_ms: int
    index_price: Decimal | None = None


class Funding(_Cmd, frozen=True, kw_only=True):
    """Funding settlement: longs pay ``amount x mark x rate`` to shorts when the rate is positive."""

    symbol: str
    funding_rate: Decimal
    mark_price: Decimal
    time_ms: int


class Trade(_Cmd, frozen=True, kw_only=True):
    """A trade printed on the real market (replay / paper trading).

    Moves the last price (CONTRACT_PRICE triggers) and lets the fill model fill resting orders that
    the trade went through.
    """

    symbol: str
    price: Decimal
    quantity: Decimal
    time_ms: int
    buyer_is_maker: bool = False


MarketEvent = Tick | MarkPrice | Funding | Trade
