"""Conditional (algo) orders: STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET.

Owns :class:`AlgoOrder` and the trigger conditions.  Since Binance's 2025 migration these types are
placed only through the Algo Order API (``POST /fapi/v1/algoOrder``, algoType CONDITIONAL); the plain
order endpoint answers -4120.  Rules kept here:

* the trigger watches the MARK_PRICE or the CONTRACT_PRICE (last trade), per ``workingType``;
* BUY STOP / SELL TAKE_PROFIT trigger when the price rises to the trigger price, SELL STOP /
  BUY TAKE_PROFIT when it falls to it; an order that would trigger at once is rejected -2021;
* a trailing stop activates when the price reaches ``activatePrice`` (SELL: at or above, BUY: at or
  below; default the current price), then tracks the extreme price and triggers when the price
  retraces ``callbackRate`` percent from it;
* with ``priceProtect`` a trigger is held back while |mark - last| / mark exceeds the symbol's
  triggerProtect threshold.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from binfut.enums import AlgoStatus

if TYPE_CHECKING:
    from binfut.matching.account import Account
    from binfut.matching.orderbook import Order

__all__ = ["CONDITIONAL_TYPES", "AlgoOrder", "algo_event", "algo_snapshot", "immediate_trigger", "should_trigger"]

CONDITIONAL_TYPES = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
_HUNDRED = Decimal(100)


class AlgoOrder:
    """One conditional order waiting for (or past) its trigger."""

    __slots__ = (
        "account",
        "activate_price",
        "activated",
        "algo_id",
        "callback_rate",
        "client_algo_id",
        "close_position",
        "create_time",
        "extreme",
        "good_till_date",
        "order",
        "position_side",
        "price",
        "price_match",
        "price_protect",
        "qty",
        "reduce_only",
        "reject_reason",
        "side",
        "status",
        "stp",
        "symbol",
        "tif",
        "trigger_price",
        "trigger_time",
        "type",
        "update_time",
        "working_type",
    )

    def __init__(self, algo_id: int, client_algo_id: str, account: Account, symbol: str, now: int) -> None:
        self.algo_id = algo_id
        self.client_algo_id = client_algo_id
        self.account = account
        self.symbol = symbol
        self.side = "BUY"
        self.position_side = "BOTH"
        self.type = "STOP_MARKET"
        self.tif = "GTC"
        self.qty = 0  # lots; 0 with closePosition
        self.price = 0  # ticks; 0 for *_MARKET types
        self.trigger_price: Decimal | None = None
        self.working_type = "CONTRACT_PRICE"
        self.price_protect = False
        self.reduce_only = False
        self.close_position = False
        self.activate_price: Decimal | None = None
        self.callback_rate: Decimal | None = None
        self.activated = False
        self.extreme: Decimal | None = None
        self.stp = "NONE"
        self.price_match = "NONE"
        self.good_till_date = 0
        self.status: AlgoStatus | None = None
        self.create_time = now
        self.update_time = now
        self.trigger_time = 0
        self.order: Order | None = None  # the order placed in the matching engine on trigger
        self.reject_reason: str | None = None

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"

    @property
    def is_trailing(self) -> bool:
        return self.type == "TRAILING_STOP_MARKET"

    @property
    def market(self) -> bool:
        return self.type.endswith("MARKET")

    def __repr__(self) -> str:
        return f"AlgoOrder({self.algo_id}, {self.symbol} {self.side} {self.type} @{self.trigger_price} {self.status})"


def _crossed(algo: AlgoOrder, price: Decimal, trigger: Decimal) -> bool:
    rising = (algo.type in ("STOP", "STOP_MARKET")) == algo.is_buy
    return price >= trigger if rising else price <= trigger


def immediate_trigger(algo: AlgoOrder, price: Decimal | None) -> bool:
    """Whether a new algo order would trigger at once at ``price`` (-2021).

    A trailing stop counts as immediately triggering when its activation price is already passed on
    the wrong side (SELL below / BUY above the current price), as Binance rejects those.
    """
    if price is None:
        return False
    if algo.is_trailing:
        act = algo.activate_price
        if act is None:
            return False
        return act < price if not algo.is_buy else act > price
    assert algo.trigger_price is not None
    return _crossed(algo, price, algo.trigger_price)


def should_trigger(algo: AlgoOrder, price: Decimal) -> bool:
    """Feed a new working price to ``algo``; True when it must trigger now.

    Trailing stops update their activation state and extreme price as a side effect.
    """
    if not algo.is_trailing:
        assert algo.trigger_price is not None
        return _crossed(algo, price, algo.trigger_price)
    assert algo.callback_rate is not None
    if not algo.activated:
        act = algo.activate_price
        if act is None or (price >= act if not algo.is_buy else price <= act):
            algo.activated = True
            algo.extreme = price
        return False
    extreme = algo.extreme
    assert extreme is not None
    rate = algo.callback_rate / _HUNDRED
    if not algo.is_buy:  # SELL trails the highest price and fires on a drop of callbackRate %
        if price > extreme:
            algo.extreme = price
            return False
        return price <= extreme * (1 - rate)
    if price < extreme:
        algo.extreme = price
        return False
    return price >= extreme * (1 + rate)


def trigger_state(algo: AlgoOrder) -> dict[str, Any]:
    """Diagnostic view of a trailing stop (activation and extreme price)."""
    return {"activated": algo.activated, "extreme": algo.extreme}


def algo_event(algo: AlgoOrder, spec: Any, now: int) -> Any:
    """ALGO_UPDATE for the current state of ``algo``."""
    from binfut.protocol.userevents import AlgoOrderUpdate, AlgoUpdate

    order = algo.order
    if order is not None:
        order_id, average, executed, actual = str(order.order_id), _avg(spec, order), spec.qty(order.filled), order.type
    else:
        order_id, average, executed, actual = "", None, None, None
    return AlgoUpdate(
        event_time_ms=now,
        transaction_time_ms=now,
        order=AlgoOrderUpdate(
            client_algo_id=algo.client_algo_id,
            algo_id=algo.algo_id,
            algo_type="CONDITIONAL",
            order_type=algo.type,
            symbol=algo.symbol,
            side=algo.side,
            position_side=algo.position_side,
            time_in_force=algo.tif,
            quantity=spec.qty(algo.qty),
            algo_status=algo.status,  # type: ignore[arg-type]
            order_id=order_id,
            average_price=average,
            executed_quantity=executed,
            actual_order_type=actual,
            trigger_price=algo.trigger_price if algo.trigger_price is not None else spec.zero_price,
            price=spec.price(algo.price),
            stp_mode=algo.stp,
            working_type=algo.working_type,
            price_match=algo.price_match,
            close_position=algo.close_position,
            price_protect=algo.price_protect,
            reduce_only=algo.reduce_only,
            trigger_time_ms=algo.trigger_time,
            good_till_date_ms=algo.good_till_date,
            reject_reason=algo.reject_reason,
            is_activated=algo.activated if algo.is_trailing else None,
        ),
    )


def _avg(spec: Any, order: Order) -> Decimal:
    if not order.filled:
        return spec.zero_price  # type: ignore[no-any-return]
    return (Decimal(order.cum_quote) * spec.tick_size / order.filled).quantize(spec.tick_size * Decimal("0.0001"), ROUND_HALF_EVEN)  # type: ignore[no-any-return]


def algo_snapshot(algo: AlgoOrder, spec: Any) -> Any:
    """The REST body of ``algo`` (``/fapi/v1/algoOrder``)."""
    from binfut.matching.outputs import AlgoOrderSnapshot

    order = algo.order
    return AlgoOrderSnapshot(
        algo_id=algo.algo_id,
        client_algo_id=algo.client_algo_id,
        algo_type="CONDITIONAL",
        order_type=algo.type,
        symbol=algo.symbol,
        side=algo.side,
        position_side=algo.position_side,
        time_in_force=algo.tif,
        quantity=spec.qty(algo.qty),
        algo_status=algo.status,  # type: ignore[arg-type]
        trigger_price=algo.trigger_price if algo.trigger_price is not None else spec.zero_price,
        price=spec.price(algo.price),
        self_trade_prevention_mode=algo.stp,
        working_type=algo.working_type,
        price_match=algo.price_match,
        close_position=algo.close_position,
        price_protect=algo.price_protect,
        reduce_only=algo.reduce_only,
        create_time=algo.create_time,
        update_time=algo.update_time,
        trigger_time=algo.trigger_time,
        good_till_date=algo.good_till_date,
        actual_order_id=str(order.order_id) if order is not None else "",
        actual_price=_avg(spec, order) if order is not None else None,
        activate_price=algo.activate_price if algo.is_trailing else None,
        callback_rate=algo.callback_rate if algo.is_trailing else None,
    )
