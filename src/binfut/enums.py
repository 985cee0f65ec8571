"""Binance USD-M wire enums, spelt exactly as Binance spells them.

There is no second "domain" enum set: these StrEnums go on the wire as they are, and any plain
string a user passes is accepted where an enum is expected (the encoder sends ``str(value)``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AlgoStatus",
    "AlgoType",
    "AutoCloseType",
    "ContractStatus",
    "ContractType",
    "ExecutionType",
    "IncomeType",
    "KlineInterval",
    "MarginType",
    "NewOrderRespType",
    "OrderStatus",
    "OrderType",
    "PositionSide",
    "PriceMatch",
    "RatioPeriod",
    "SecurityType",
    "SelfTradePreventionMode",
    "Side",
    "TimeInForce",
    "WorkingType",
]


class SecurityType(StrEnum):
    """Endpoint security: what a request must carry (API key, signature)."""

    NONE = "NONE"
    MARKET_DATA = "MARKET_DATA"  # API key
    USER_STREAM = "USER_STREAM"  # API key
    TRADE = "TRADE"  # API key + signature
    USER_DATA = "USER_DATA"  # API key + signature

    @property
    def needs_key(self) -> bool:
        return self is not SecurityType.NONE

    @property
    def signed(self) -> bool:
        return self in (SecurityType.TRADE, SecurityType.USER_DATA)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class PositionSide(StrEnum):
    BOTH = "BOTH"
    LONG = "LONG"
    SHORT = "SHORT"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"
    LIQUIDATION = "LIQUIDATION"

    @property
    def is_conditional(self) -> bool:
        """Conditional types live under /fapi/v1/algoOrder since the 2025 migration."""
        return self not in (OrderType.LIMIT, OrderType.MARKET, OrderType.LIQUIDATION)


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"  # post-only
    GTD = "GTD"
    RPI = "RPI"  # retail price improvement (post-only, RPI book)
    GTE_GTC = "GTE_GTC"  # seen on closePosition orders in responses


class WorkingType(StrEnum):
    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecutionType(StrEnum):
    NEW = "NEW"
    CANCELED = "CANCELED"
    CALCULATED = "CALCULATED"  # liquidation execution
    EXPIRED = "EXPIRED"
    TRADE = "TRADE"
    AMENDMENT = "AMENDMENT"


class AlgoType(StrEnum):
    CONDITIONAL = "CONDITIONAL"


class AlgoStatus(StrEnum):
    NEW = "NEW"
    CANCELED = "CANCELED"
    TRIGGERING = "TRIGGERING"
    TRIGGERED = "TRIGGERED"
    FINISHED = "FINISHED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class MarginType(StrEnum):
    ISOLATED = "ISOLATED"
    CROSSED = "CROSSED"


class ContractType(StrEnum):
    PERPETUAL = "PERPETUAL"
    CURRENT_MONTH = "CURRENT_MONTH"
    NEXT_MONTH = "NEXT_MONTH"
    CURRENT_QUARTER = "CURRENT_QUARTER"
    NEXT_QUARTER = "NEXT_QUARTER"
    PERPETUAL_DELIVERING = "PERPETUAL_DELIVERING"
    TRADIFI_PERPETUAL = "TRADIFI_PERPETUAL"


class ContractStatus(StrEnum):
    PENDING_TRADING = "PENDING_TRADING"
    TRADING = "TRADING"
    PRE_DELIVERING = "PRE_DELIVERING"
    DELIVERING = "DELIVERING"
    DELIVERED = "DELIVERED"
    PRE_SETTLE = "PRE_SETTLE"
    SETTLING = "SETTLING"
    CLOSE = "CLOSE"


class NewOrderRespType(StrEnum):
    ACK = "ACK"
    RESULT = "RESULT"


class SelfTradePreventionMode(StrEnum):
    NONE = "NONE"
    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"


class PriceMatch(StrEnum):
    NONE = "NONE"
    OPPONENT = "OPPONENT"
    OPPONENT_5 = "OPPONENT_5"
    OPPONENT_10 = "OPPONENT_10"
    OPPONENT_20 = "OPPONENT_20"
    QUEUE = "QUEUE"
    QUEUE_5 = "QUEUE_5"
    QUEUE_10 = "QUEUE_10"
    QUEUE_20 = "QUEUE_20"


class AutoCloseType(StrEnum):
    LIQUIDATION = "LIQUIDATION"
    ADL = "ADL"


class IncomeType(StrEnum):
    TRANSFER = "TRANSFER"
    WELCOME_BONUS = "WELCOME_BONUS"
    REALIZED_PNL = "REALIZED_PNL"
    FUNDING_FEE = "FUNDING_FEE"
    COMMISSION = "COMMISSION"
    INSURANCE_CLEAR = "INSURANCE_CLEAR"
    REFERRAL_KICKBACK = "REFERRAL_KICKBACK"
    COMMISSION_REBATE = "COMMISSION_REBATE"
    API_REBATE = "API_REBATE"
    CONTEST_REWARD = "CONTEST_REWARD"
    CROSS_COLLATERAL_TRANSFER = "CROSS_COLLATERAL_TRANSFER"
    OPTIONS_PREMIUM_FEE = "OPTIONS_PREMIUM_FEE"
    OPTIONS_SETTLE_PROFIT = "OPTIONS_SETTLE_PROFIT"
    INTERNAL_TRANSFER = "INTERNAL_TRANSFER"
    AUTO_EXCHANGE = "AUTO_EXCHANGE"
    DELIVERED_SETTELMENT = "DELIVERED_SETTELMENT"
    COIN_SWAP_DEPOSIT = "COIN_SWAP_DEPOSIT"
    COIN_SWAP_WITHDRAW = "COIN_SWAP_WITHDRAW"
    POSITION_LIMIT_INCREASE_FEE = "POSITION_LIMIT_INCREASE_FEE"
    STRATEGY_UMFUTURES_TRANSFER = "STRATEGY_UMFUTURES_TRANSFER"
    FEE_RETURN = "FEE_RETURN"
    BFUSD_REWARD = "BFUSD_REWARD"


class KlineInterval(StrEnum):
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H8 = "8h"
    H12 = "12h"
    D1 = "1d"
    D3 = "3d"
    W1 = "1w"
    MO1 = "1M"

    @property
    def millis(self) -> int:
        """Length of one bar in ms (a month counts as 30 days for pagination estimates)."""
        return _INTERVAL_MS[self.value]


_INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    "1M": 2_592_000_000,
}


class RatioPeriod(StrEnum):
    """``period`` of the /futures/data statistics endpoints."""

    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H12 = "12h"
    D1 = "1d"
