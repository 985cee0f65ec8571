"""What the venue hands back: routed user events, public market outputs, REST result snapshots.

* :class:`Envelope` routes one ``binfut.protocol.userevents`` event to the account it belongs to.
* :class:`PublicTrade`, :class:`BookDelta`, :class:`ForceOrder` feed the local exchange's public
  streams (aggTrade/trade, diff depth with U / u / pu, forceOrder).
* ``*Snapshot`` / ``PositionRisk`` / ``AccountInfo`` ... are camelCase msgspec Structs that encode to
  the REST response bodies (order, algo order, positionRisk, account, balance, userTrades, income).

Rule kept here: outputs are data (msgspec Structs); :mod:`binfut.matching.builders` is the only place
an engine ``Order`` becomes wire Decimals, so integer ticks / lots never leak out of the matching package.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from binfut.protocol.userevents import UserEvent

__all__ = [
    "AccountAsset",
    "AccountInfo",
    "AccountPositionInfo",
    "AlgoOrderSnapshot",
    "Balance",
    "BookDelta",
    "CommissionRate",
    "Envelope",
    "ForceOrder",
    "Income",
    "LeverageBracket",
    "OrderSnapshot",
    "Output",
    "PositionRisk",
    "PublicTrade",
    "SymbolBrackets",
    "UserTrade",
]



# --- routing and public outputs ----------------------------------------------------------------


class Envelope(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A user-data event for one account (the local exchange pushes it to that account's streams)."""

    account_id: str
    event: UserEvent


class PublicTrade(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One match in the venue's book (``trade`` / ``aggTrade`` streams)."""

    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    buyer_is_maker: bool
    time_ms: int


class BookDelta(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Levels changed by one command or event (``depthUpdate``: U, u, pu; quantity 0 = level gone)."""

    symbol: str
    first_update_id: int
    last_update_id: int
    prev_update_id: int
    event_time_ms: int
    transact_time_ms: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


class ForceOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A liquidation order (``forceOrder`` stream)."""

    symbol: str
    side: str
    order_type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal
    average_price: Decimal
    status: str
    last_filled_quantity: Decimal
    filled_accumulated_quantity: Decimal
    trade_time_ms: int


Output = Envelope | PublicTrade | BookDelta | ForceOrder


# --- REST snapshots ----------------------------------------------------------------------------


class _Rest(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """camelCase REST body; ``None`` fields are left out."""


class OrderSnapshot(_Rest, frozen=True, kw_only=True):
    """An order as ``GET/POST/PUT/DELETE /fapi/v1/order`` return it."""

    order_id: int
    symbol: str
    status: str
    client_order_id: str
    price: Decimal
    avg_price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cum_qty: Decimal
    cum_quote: Decimal
    time_in_force: str
    type: str
    reduce_only: bool
    close_position: bool
    side: str
    position_side: str
    stop_price: Decimal
    working_type: str
    price_protect: bool
    orig_type: str
    price_match: str
    self_trade_prevention_mode: str
    good_till_date: int
    time: int
    update_time: int
    activate_price: Decimal | None = None
    price_rate: Decimal | None = None


class AlgoOrderSnapshot(_Rest, frozen=True, kw_only=True):
    """An algo order as ``/fapi/v1/algoOrder`` returns it."""

    algo_id: int
    client_algo_id: str
    algo_type: str
    order_type: str
    symbol: str
    side: str
    position_side: str
    time_in_force: str
    quantity: Decimal
    algo_status: str
    trigger_price: Decimal
    price: Decimal
    self_trade_prevention_mode: str
    working_type: str
    price_match: str
    close_position: bool
    price_protect: bool
    reduce_only: bool
    create_time: int
    update_time: int
    trigger_time: int
    good_till_date: int
    actual_order_id: str = ""
    actual_price: Decimal | None = None
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None


class PositionRisk(_Rest, frozen=True, kw_only=True):
    """``GET /fapi/v2|v3/positionRisk`` row (the union of the v2 and v3 fields)."""

    symbol: str
    position_side: str
    position_amt: Decimal
    entry_price: Decimal
    break_even_price: Decimal
    mark_price: Decimal
    un_realized_profit: Decimal
    liquidation_price: Decimal
    isolated_margin: Decimal
    notional: Decimal
    margin_asset: str
    isolated_wallet: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    adl: int
    bid_notional: Decimal
    ask_notional: Decimal
    update_time: int
    leverage: str  # v2 sends strings
    max_notional_value: Decimal
    margin_type: str  # "cross" / "isolated"
    is_auto_add_margin: str


class AccountAsset(_Rest, frozen=True, kw_only=True):
    asset: str
    wallet_balance: Decimal
    unrealized_profit: Decimal
    margin_balance: Decimal
    maint_margin: Decimal
    initial_margin: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    cross_wallet_balance: Decimal
    cross_un_pnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    margin_available: bool
    update_time: int


class AccountPositionInfo(_Rest, frozen=True, kw_only=True):
    symbol: str
    position_side: str
    position_amt: Decimal
    unrealized_profit: Decimal
    isolated_margin: Decimal
    notional: Decimal
    isolated_wallet: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    update_time: int
    leverage: str
    isolated: bool
    entry_price: Decimal
    break_even_price: Decimal
    max_notional: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    bid_notional: Decimal
    ask_notional: Decimal


class AccountInfo(_Rest, frozen=True, kw_only=True):
    """``GET /fapi/v2|v3/account``."""

    fee_tier: int
    can_trade: bool
    can_deposit: bool
    can_withdraw: bool
    multi_assets_margin: bool
    trade_group_id: int
    update_time: int
    total_initial_margin: Decimal
    total_maint_margin: Decimal
    total_wallet_balance: Decimal
    total_unrealized_profit: Decimal
    total_margin_balance: Decimal
    total_position_initial_margin: Decimal
    total_open_order_initial_margin: Decimal
    total_cross_wallet_balance: Decimal
    total_cross_un_pnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    assets: list[AccountAsset]
    positions: list[AccountPositionInfo]


class Balance(_Rest, frozen=True, kw_only=True):
    """``GET /fapi/v2|v3/balance`` row."""

    account_alias: str
    asset: str
    balance: Decimal
    cross_wallet_balance: Decimal
    cross_un_pnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    margin_available: bool
    update_time: int


class UserTrade(_Rest, frozen=True, kw_only=True):
    """``GET /fapi/v1/userTrades`` row."""

    buyer: bool
    commission: Decimal
    commission_asset: str
    id: int
    maker: bool
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    realized_pnl: Decimal
    side: str
    position_side: str
    symbol: str
    time: int


class Income(_Rest, frozen=True, kw_only=True):
    """``GET /fapi/v1/income`` row."""

    symbol: str
    income_type: str
    income: Decimal
    asset: str
    info: str
    time: int
    tran_id: int
    trade_id: str


class LeverageBracket(_Rest, frozen=True, kw_only=True):
    bracket: int
    initial_leverage: int
    notional_cap: Decimal
    notional_floor: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


class SymbolBrackets(_Rest, frozen=True, kw_only=True):
    """``GET /fapi/v1/leverageBracket`` entry (Binance sends these numbers as JSON numbers)."""

    symbol: str
    brackets: list[LeverageBracket]


class CommissionRate(_Rest, frozen=True, kw_only=True):
    """``GET /fapi/v1/commissionRate``."""

    symbol: str
    maker_commission_rate: Decimal
    taker_commission_rate: Decimal
