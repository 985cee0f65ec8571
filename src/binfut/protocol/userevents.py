"""User-data stream events as msgspec Structs whose JSON *is* Binance's wire format.

One set of types serves both directions: the client decodes real Binance events with them and the
local exchange encodes the matching engine's outputs with them.  Attributes are readable snake_case
mapped to Binance's one- and two-letter keys with ``msgspec.field(name=...)``; the top-level events
form a tagged union on ``"e"`` (ORDER_TRADE_UPDATE, TRADE_LITE, ACCOUNT_UPDATE, ALGO_UPDATE,
MARGIN_CALL, ACCOUNT_CONFIG_UPDATE, listenKeyExpired).  Amounts are ``Decimal`` and travel as JSON
strings (msgspec's default), ids and times as ints, exactly where Binance uses each.  Keys Binance only
sends sometimes (commission, trailing-stop fields, ``cw`` of MARGIN_CALL, ...) default to ``None``
and are omitted when encoding.  Structs carry data only (STYLE section 4).

References: "User Data Streams" / "Event: Order Update", "Event: Balance and Position Update",
"Event: Margin Call", "Event: Account Configuration Update" in the USD-M futures API docs.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
from msgspec import field

__all__ = [
    "AccountConfigUpdate",
    "AccountUpdate",
    "AccountUpdateData",
    "AlgoOrderUpdate",
    "AlgoUpdate",
    "BalanceUpdate",
    "LeverageConfig",
    "ListenKeyExpired",
    "MarginCall",
    "MarginCallPosition",
    "MultiAssetsConfig",
    "OrderTradeUpdate",
    "OrderUpdate",
    "PositionUpdate",
    "TradeLite",
    "USER_EVENT_DECODER",
    "UserEvent",
    "decode_user_event",
    "encode_user_event",
]


class _Wire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Base for nested wire objects: frozen, keyword-only, optional keys omitted when ``None``."""


class _Event(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False, tag_field="e"
):
    """Base for top-level events, tagged on ``"e"``."""


# --- ORDER_TRADE_UPDATE ------------------------------------------------------------------------


class OrderUpdate(_Wire, frozen=True, kw_only=True):
    """The ``"o"`` object of ORDER_TRADE_UPDATE."""

    symbol: str = field(name="s")
    client_order_id: str = field(name="c")
    side: str = field(name="S")
    order_type: str = field(name="o")
    time_in_force: str = field(name="f")
    original_quantity: Decimal = field(name="q")
    original_price: Decimal = field(name="p")
    average_price: Decimal = field(name="ap")
    stop_price: Decimal = field(name="sp")
    execution_type: str = field(name="x")
    order_status: str = field(name="X")
    order_id: int = field(name="i")
    last_filled_quantity: Decimal = field(name="l")
    filled_accumulated_quantity: Decimal = field(name="z")
    last_filled_price: Decimal = field(name="L")
    commission_asset: str | None = field(name="N", default=None)  # only pushed with commission
    commission: Decimal | None = field(name="n", default=None)
    order_trade_time_ms: int = field(name="T")
    trade_id: int = field(name="t")
    bids_notional: Decimal = field(name="b")
    asks_notional: Decimal = field(name="a")
    is_maker: bool = field(name="m")
    is_reduce_only: bool = field(name="R")
    working_type: str = field(name="wt")
    original_order_type: str = field(name="ot")
    position_side: str = field(name="ps")
    close_position: bool = field(name="cp")
    activation_price: Decimal | None = field(name="AP", default=None)  # TRAILING_STOP_MARKET only
    callback_rate: Decimal | None = field(name="cr", default=None)  # TRAILING_STOP_MARKET only
    price_protect: bool = field(name="pP")
    strategy_id: int = field(name="si")  # "ignore" per the docs; pushed as 0
    strategy_sub_id: int = field(name="ss")
    realized_profit: Decimal = field(name="rp")
    stp_mode: str = field(name="V")
    price_match: str = field(name="pm")
    good_till_date_ms: int = field(name="gtd")


class OrderTradeUpdate(_Event, frozen=True, tag="ORDER_TRADE_UPDATE", kw_only=True):
    """Order created, amended, traded, cancelled or expired."""

    event_time_ms: int = field(name="E")
    transaction_time_ms: int = field(name="T")
    order: OrderUpdate = field(name="o")


class TradeLite(_Event, frozen=True, tag="TRADE_LITE", kw_only=True):
    """Low-latency trade notice (one per fill)."""

    event_time_ms: int = field(name="E")
    transaction_time_ms: int = field(name="T")
    symbol: str = field(name="s")
    original_quantity: Decimal = field(name="q")
    original_price: Decimal = field(name="p")
    is_maker: bool = field(name="m")
    client_order_id: str = field(name="c")
    side: str = field(name="S")
    last_filled_price: Decimal = field(name="L")
    last_filled_quantity: Decimal = field(name="l")
    trade_id: int = field(name="t")
    order_id: int = field(name="i")


# --- ACCOUNT_UPDATE ----------------------------------------------------------------------------


class BalanceUpdate(_Wire, frozen=True, kw_only=True):
    asset: str = field(name="a")
    wallet_balance: Decimal = field(name="wb")
    cross_wallet_balance: Decimal = field(name="cw")
    balance_change: Decimal = field(name="bc")  # change except PnL and commission


class PositionUpdate(_Wire, frozen=True, kw_only=True):
    symbol: str = field(name="s")
    position_amount: Decimal = field(name="pa")
    entry_price: Decimal = field(name="ep")
    breakeven_price: Decimal = field(name="bep")
    accumulated_realized: Decimal = field(name="cr")  # pre-fee
    unrealized_pnl: Decimal = field(name="up")
    margin_type: str = field(name="mt")  # "isolated" / "cross" (lower case in this event)
    isolated_wallet: Decimal = field(name="iw")
    position_side: str = field(name="ps")


class AccountUpdateData(_Wire, frozen=True, kw_only=True):
    reason: str = field(name="m")  # ORDER, FUNDING_FEE, DEPOSIT, MARGIN_TRANSFER, ...
    balances: list[BalanceUpdate] = field(name="B")
    positions: list[PositionUpdate] = field(name="P")


class AccountUpdate(_Event, frozen=True, tag="ACCOUNT_UPDATE", kw_only=True):
    """Balance and position update."""

    event_time_ms: int = field(name="E")
    transaction_time_ms: int = field(name="T")
    data: AccountUpdateData = field(name="a")


# --- ALGO_UPDATE -------------------------------------------------------------------------------


class AlgoOrderUpdate(_Wire, frozen=True, kw_only=True):
    """The ``"o"`` object of ALGO_UPDATE (conditional orders of the Algo Order API)."""

    client_algo_id: str = field(name="caid")
    algo_id: int = field(name="aid")
    algo_type: str = field(name="at")
    order_type: str = field(name="o")
    symbol: str = field(name="s")
    side: str = field(name="S")
    position_side: str = field(name="ps")
    time_in_force: str = field(name="f")
    quantity: Decimal = field(name="q")
    algo_status: str = field(name="X")
    order_id: str = field(name="ai")  # id of the order placed in the matching engine, "" before
    average_price: Decimal | None = field(name="ap", default=None)  # only once triggered
    executed_quantity: Decimal | None = field(name="aq", default=None)
    actual_order_type: str | None = field(name="act", default=None)
    trigger_price: Decimal = field(name="tp")
    price: Decimal = field(name="p")
    stp_mode: str = field(name="V")
    working_type: str = field(name="wt")
    price_match: str = field(name="pm")
    close_position: bool = field(name="cp")
    price_protect: bool = field(name="pP")
    reduce_only: bool = field(name="R")
    trigger_time_ms: int = field(name="tt")
    good_till_date_ms: int = field(name="gtd")
    reject_reason: str | None = field(name="rm", default=None)
    is_activated: bool | None = field(name="ia", default=None)  # trailing stops only


class AlgoUpdate(_Event, frozen=True, tag="ALGO_UPDATE", kw_only=True):
    """Algo (conditional) order status change: NEW, CANCELED, TRIGGERING, TRIGGERED, FINISHED, ..."""

    event_time_ms: int = field(name="E")
    transaction_time_ms: int = field(name="T")
    order: AlgoOrderUpdate = field(name="o")


# --- MARGIN_CALL, ACCOUNT_CONFIG_UPDATE, listenKeyExpired --------------------------------------


class MarginCallPosition(_Wire, frozen=True, kw_only=True):
    symbol: str = field(name="s")
    position_side: str = field(name="ps")
    position_amount: Decimal = field(name="pa")
    margin_type: str = field(name="mt")  # CROSSED / ISOLATED
    isolated_wallet: Decimal = field(name="iw")
    mark_price: Decimal = field(name="mp")
    unrealized_pnl: Decimal = field(name="up")
    maintenance_margin: Decimal = field(name="mm")


class MarginCall(_Event, frozen=True, tag="MARGIN_CALL", kw_only=True):
    event_time_ms: int = field(name="E")
    cross_wallet_balance: Decimal | None = field(name="cw", default=None)  # crossed margin calls only
    positions: list[MarginCallPosition] = field(name="p")


class LeverageConfig(_Wire, frozen=True, kw_only=True):
    symbol: str = field(name="s")
    leverage: int = field(name="l")


class MultiAssetsConfig(_Wire, frozen=True, kw_only=True):
    multi_assets_mode: bool = field(name="j")


class AccountConfigUpdate(_Event, frozen=True, tag="ACCOUNT_CONFIG_UPDATE", kw_only=True):
    event_time_ms: int = field(name="E")
    transaction_time_ms: int = field(name="T")
    leverage: LeverageConfig | None = field(name="ac", default=None)
    account: MultiAssetsConfig | None = field(name="ai", default=None)


class ListenKeyExpired(_Event, frozen=True, tag="listenKeyExpired", kw_only=True):
    event_time_ms: int | str = field(name="E")  # Binance documents it as a string here
    listen_key: str = field(name="listenKey")


UserEvent = (
    OrderTradeUpdate
    | TradeLite
    | AccountUpdate
    | AlgoUpdate
    | MarginCall
    | AccountConfigUpdate
    | ListenKeyExpired
)

USER_EVENT_DECODER: msgspec.json.Decoder[UserEvent] = msgspec.json.Decoder(UserEvent)
_ENCODER = msgspec.json.Encoder()


def decode_user_event(data: bytes | str) -> UserEvent:
    """Decode one user-data event payload (the ``data`` of a combined-stream frame).

    Raises
    ------
    msgspec.ValidationError
        Unknown ``"e"`` or a malformed field.
    """
    return USER_EVENT_DECODER.decode(data)


def encode_user_event(event: UserEvent) -> bytes:
    """Encode an event to Binance's JSON (the local exchange's push payload)."""
    return _ENCODER.encode(event)
