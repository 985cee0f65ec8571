"""REST response Structs of the "Account", "User Data Streams", "Convert" and portfolio-margin sections.

Rules kept here (same as :mod:`binfut.protocol.models.trade`):
- snake_case Binance nouns, epoch-millisecond attributes end in ``_ms``;
- balances, margins, rates and amounts are ``Decimal``;
- fields Binance omits in one account mode or API version have defaults, so the v2 and v3 shapes
  and the single-asset / multi-assets variants decode with the same Struct where they agree;
- open vocabularies (income types, convert order states, download states) stay ``str``.
No payload samples here: see ``tests/fixtures/http_account_*.json``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from binfut.enums import PositionSide
from binfut.protocol.models._base import Model

__all__ = [
    "AccountAsset",
    "AccountConfig",
    "AccountInfo",
    "AccountInfoV2",
    "AccountPosition",
    "AccountPositionV2",
    "ApiTradingStatus",
    "Balance",
    "Bracket",
    "CommissionRate",
    "ConvertAcceptResult",
    "ConvertOrderStatus",
    "ConvertPair",
    "ConvertQuote",
    "DownloadId",
    "DownloadLink",
    "Empty",
    "FeeBurn",
    "Income",
    "LeverageBracket",
    "ListenKey",
    "MultiAssetsMode",
    "PmAccountInfo",
    "PositionMode",
    "RateLimitInfo",
    "SymbolConfig",
    "TradingIndicator",
]

_ZERO = Decimal(0)


class Empty(Model, frozen=True, kw_only=True):
    """The empty object ``{}`` (``DELETE /fapi/v1/listenKey``)."""


class ListenKey(Model, frozen=True, kw_only=True):
    """A user-data-stream key (start and keepalive both return it)."""

    listen_key: str


class AccountAsset(Model, frozen=True, kw_only=True):
    """One margin asset of the account (``assets`` of account v2/v3).

    ``margin_available`` is only sent by v2.
    """

    asset: str
    wallet_balance: Decimal = _ZERO
    unrealized_profit: Decimal = _ZERO
    margin_balance: Decimal = _ZERO
    maint_margin: Decimal = _ZERO
    initial_margin: Decimal = _ZERO
    position_initial_margin: Decimal = _ZERO
    open_order_initial_margin: Decimal = _ZERO
    cross_wallet_balance: Decimal = _ZERO
    cross_un_pnl: Decimal = _ZERO
    available_balance: Decimal = _ZERO
    max_withdraw_amount: Decimal = _ZERO
    margin_available: bool | None = None
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class AccountPosition(Model, frozen=True, kw_only=True):
    """One position of ``GET /fapi/v3/account`` (only symbols with a position or open orders)."""

    symbol: str
    position_side: PositionSide = PositionSide.BOTH
    position_amt: Decimal = _ZERO
    unrealized_profit: Decimal = _ZERO
    isolated_margin: Decimal = _ZERO
    notional: Decimal = _ZERO
    isolated_wallet: Decimal = _ZERO
    initial_margin: Decimal = _ZERO
    maint_margin: Decimal = _ZERO
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class AccountPositionV2(Model, frozen=True, kw_only=True):
    """One position of ``GET /fapi/v2/account`` (every symbol; ``leverage`` is a string on the wire)."""

    symbol: str
    position_side: PositionSide = PositionSide.BOTH
    position_amt: Decimal = _ZERO
    initial_margin: Decimal = _ZERO
    maint_margin: Decimal = _ZERO
    unrealized_profit: Decimal = _ZERO
    position_initial_margin: Decimal = _ZERO
    open_order_initial_margin: Decimal = _ZERO
    leverage: Decimal = _ZERO
    isolated: bool = False
    entry_price: Decimal = _ZERO
    break_even_price: Decimal | None = None
    max_notional: Decimal = _ZERO
    bid_notional: Decimal = _ZERO
    ask_notional: Decimal = _ZERO
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class _AccountTotals(Model, frozen=True, kw_only=True):
    """Totals shared by account v2 and v3.

    In single-asset mode they cover the USDT asset only; in multi-assets mode they are USD values.
    """

    total_initial_margin: Decimal = _ZERO
    total_maint_margin: Decimal = _ZERO
    total_wallet_balance: Decimal = _ZERO
    total_unrealized_profit: Decimal = _ZERO
    total_margin_balance: Decimal = _ZERO
    total_position_initial_margin: Decimal = _ZERO
    total_open_order_initial_margin: Decimal = _ZERO
    total_cross_wallet_balance: Decimal = _ZERO
    total_cross_un_pnl: Decimal = _ZERO
    available_balance: Decimal = _ZERO
    max_withdraw_amount: Decimal = _ZERO
    assets: list[AccountAsset] = msgspec.field(default_factory=list)


class AccountInfo(_AccountTotals, frozen=True):
    """``GET /fapi/v3/account``: totals, assets and open positions.

    References
    ----------
    https://developers.binance.com/en/docs/catalog/core-trading-derivatives-trading-usd-s-m-futures/api/rest-api/account#account-information-v3
    """

    positions: list[AccountPosition] = msgspec.field(default_factory=list)


class AccountInfoV2(_AccountTotals, frozen=True):
    """``GET /fapi/v2/account``: v3's content plus account flags and a row for every symbol."""

    fee_tier: int = 0
    fee_burn: bool = False
    can_trade: bool = True
    can_deposit: bool = True
    can_withdraw: bool = True
    multi_assets_margin: bool = False
    trade_group_id: int = -1
    update_time_ms: int = msgspec.field(default=0, name="updateTime")  # reserved, Binance says ignore
    positions: list[AccountPositionV2] = msgspec.field(default_factory=list)


class Balance(Model, frozen=True, kw_only=True):
    """One asset of ``GET /fapi/v2/balance`` / ``GET /fapi/v3/balance``."""

    asset: str
    account_alias: str = ""
    balance: Decimal = _ZERO
    cross_wallet_balance: Decimal = _ZERO
    cross_un_pnl: Decimal = _ZERO
    available_balance: Decimal = _ZERO
    max_withdraw_amount: Decimal = _ZERO
    margin_available: bool | None = None
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class Income(Model, frozen=True, kw_only=True):
    """One entry of ``GET /fapi/v1/income``.

    Quirks: ``tranId`` is documented as a string and sent as a number; ``tradeId`` is ``""`` for
    entries without a trade and a number otherwise. Both keep whatever type arrived.
    ``income_type`` stays ``str`` because Binance keeps adding types (see
    :class:`~binfut.enums.IncomeType` for the known ones).
    """

    income_type: str
    income: Decimal
    asset: str
    symbol: str = ""
    info: str = ""
    time_ms: int = msgspec.field(default=0, name="time")
    tran_id: int | str = ""
    trade_id: int | str = ""


class Bracket(Model, frozen=True, kw_only=True):
    """One notional bracket (Binance sends these as JSON numbers, decoded exactly)."""

    bracket: int
    initial_leverage: int
    notional_cap: Decimal
    notional_floor: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal = _ZERO


class LeverageBracket(Model, frozen=True, kw_only=True):
    """Brackets of one symbol; ``notional_coef`` only appears when the user's brackets are adjusted."""

    symbol: str
    brackets: list[Bracket] = msgspec.field(default_factory=list)
    notional_coef: Decimal | None = None


class CommissionRate(Model, frozen=True, kw_only=True):
    """Maker / taker (and RPI) commission rates of one symbol, as fractions (0.0002 = 0.02 %)."""

    symbol: str
    maker_commission_rate: Decimal
    taker_commission_rate: Decimal
    rpi_commission_rate: Decimal | None = None


class PositionMode(Model, frozen=True, kw_only=True):
    """``dual_side_position``: True = hedge mode, False = one-way mode (on every symbol)."""

    dual_side_position: bool


class MultiAssetsMode(Model, frozen=True, kw_only=True):
    """``multi_assets_margin``: True = multi-assets mode, False = single-asset mode."""

    multi_assets_margin: bool


class FeeBurn(Model, frozen=True, kw_only=True):
    """``fee_burn``: True when fees are paid in BNB at a discount."""

    fee_burn: bool


class TradingIndicator(Model, frozen=True, kw_only=True):
    """One quantitative-rules indicator (UFR, IFER, GCR, DR, TMV) and its trigger threshold."""

    indicator: str
    value: Decimal
    trigger_value: Decimal
    is_locked: bool = False
    planned_recover_time_ms: int = msgspec.field(default=0, name="plannedRecoverTime")


class ApiTradingStatus(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/apiTradingStatus``: indicators keyed by symbol (or ``"ACCOUNT"`` for account-wide ones)."""

    indicators: dict[str, list[TradingIndicator]] = msgspec.field(default_factory=dict)
    update_time_ms: int = msgspec.field(default=0, name="updateTime")


class AccountConfig(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/accountConfig``."""

    fee_tier: int = 0
    can_trade: bool = True
    can_deposit: bool = True
    can_withdraw: bool = True
    dual_side_position: bool = False
    multi_assets_margin: bool = False
    trade_group_id: int = -1
    update_time_ms: int = msgspec.field(default=0, name="updateTime")  # reserved, Binance says ignore


class SymbolConfig(Model, frozen=True, kw_only=True):
    """One symbol of ``GET /fapi/v1/symbolConfig``: margin type and leverage settings.

    Quirk: ``isAutoAddMargin`` is documented as a boolean but shown as the string ``"false"``;
    both are accepted. ``margin_type`` is ``"CROSSED"`` / ``"ISOLATED"``.
    """

    symbol: str
    margin_type: str = "CROSSED"
    is_auto_add_margin: bool | str = False
    leverage: int = 0
    max_notional_value: Decimal = _ZERO


class RateLimitInfo(Model, frozen=True, kw_only=True):
    """One order rate limit of the account (``GET /fapi/v1/rateLimit/order``)."""

    rate_limit_type: str
    interval: str
    interval_num: int
    limit: int


class DownloadId(Model, frozen=True, kw_only=True):
    """Answer of the ``*/asyn`` endpoints: an id to poll with the matching ``*/asyn/id`` endpoint."""

    download_id: str
    # Binance's name says "timestamp", but it is a duration: the average preparation time.
    avg_cost_ms_last_30d: int = msgspec.field(default=0, name="avgCostTimestampOfLast30d")


class DownloadLink(Model, frozen=True, kw_only=True):
    """Answer of the ``*/asyn/id`` endpoints.

    ``status`` is ``"processing"`` (``url`` empty, ``expiration_timestamp_ms`` -1) or
    ``"completed"``; the link expires after 7 days.
    """

    download_id: str
    status: str
    url: str = ""
    notified: bool = False
    expiration_timestamp_ms: int = msgspec.field(default=-1, name="expirationTimestamp")
    is_expired: bool | str | None = None


class ConvertPair(Model, frozen=True, kw_only=True):
    """One convertible pair with its amount limits (``GET /fapi/v1/convert/exchangeInfo``)."""

    from_asset: str
    to_asset: str
    from_asset_min_amount: Decimal = _ZERO
    from_asset_max_amount: Decimal = _ZERO
    to_asset_min_amount: Decimal = _ZERO
    to_asset_max_amount: Decimal = _ZERO


class ConvertQuote(Model, frozen=True, kw_only=True):
    """A convert quote; ``quote_id`` is only present when the account has enough funds."""

    ratio: Decimal
    inverse_ratio: Decimal
    from_amount: Decimal
    to_amount: Decimal
    quote_id: str | None = None
    valid_timestamp_ms: int = msgspec.field(default=0, name="validTimestamp")


class ConvertAcceptResult(Model, frozen=True, kw_only=True):
    """Answer of ``POST /fapi/v1/convert/acceptQuote``; ``order_status`` PROCESS / ACCEPT_SUCCESS / SUCCESS / FAIL."""

    order_id: str
    order_status: str
    create_time_ms: int = msgspec.field(default=0, name="createTime")


class ConvertOrderStatus(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/convert/orderStatus`` (here ``orderId`` is a number, in acceptQuote a string)."""

    order_id: int | str
    order_status: str
    from_asset: str = ""
    from_amount: Decimal = _ZERO
    to_asset: str = ""
    to_amount: Decimal = _ZERO
    ratio: Decimal = _ZERO
    inverse_ratio: Decimal = _ZERO
    create_time_ms: int = msgspec.field(default=0, name="createTime")


class PmAccountInfo(Model, frozen=True, kw_only=True):
    """``GET /fapi/v1/pmAccountInfo`` (classic portfolio margin); ``max_withdraw_amount`` is to be ignored."""

    asset: str
    max_withdraw_amount_usd: Decimal = msgspec.field(default=_ZERO, name="maxWithdrawAmountUSD")
    max_withdraw_amount: Decimal = _ZERO
