"""The order gateway: one protocol for backtest, paper and live order flow, and its simulated implementation.

:class:`OrderGateway` is what the order path needs from a venue: send, cancel and amend orders and
algo orders, change leverage / margin type / position mode, and the queries reconciliation uses.
Commands are the engine's Structs (:class:`NewOrder`, :class:`ModifyOrder`, :class:`NewAlgoOrder`), which
carry Binance's REST parameters, so a Binance gateway maps them one to one onto ``POST /fapi/v1/order`` & co.

Rules kept here:

* the gateway never raises for an exchange refusal: it returns an ack with ``status="REJECTED"`` and
  Binance's code and message, or ``status="UNKNOWN"`` when the outcome cannot be known (lost answer,
  -1006/-1007), which reconciliation settles;
* fills, balances and positions are learnt only from the user events handed to the listener (venue
  outputs here, the user-data stream live), so the Portfolio folds the same types in every mode.
"""


from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import msgspec

from binfut.errors import ApiError, ExecutionStatusUnknown
from binfut.matching import (
    CancelAlgoOrder,
    CancelAllAlgoOrders,
    CancelAllOrders,
    CancelOrder,
    ChangeLeverage,
    ChangeMarginType,
    ChangePositionMode,
    Command,
    Envelope,
    ModifyOrder,
    NewAlgoOrder,
    NewOrder,
    SimulatedVenue,
)
from binfut.protocol.filters import FilterBook, SymbolFilters

__all__ = [
    "REJECTED",
    "UNKNOWN",
    "AlgoAck",
    "AlgoInfo",
    "EventListener",
    "OrderAck",
    "OrderGateway",
    "OrderInfo",
    "PositionInfo",
    "SimulatedGateway",
    "filters_from_specs",
]

ZERO = Decimal(0)
REJECTED = "REJECTED"
UNKNOWN = "UNKNOWN"

EventListener = Callable[[Any], None]
"""Receives each user event (``binfut.protocol.userevents``) addressed to the gateway's account."""


class OrderAck(msgspec.Struct, frozen=True, kw_only=True):
    """The synchronous answer to an order command (not a fill report: fills arrive as user events).

    ``status`` is Binance's order status, ``"REJECTED"`` (refused by the exchange, the OMS or the risk
    manager: ``code`` / ``reason`` say why) or ``"UNKNOWN"`` (the outcome could not be learnt).
    """

    symbol: str
    client_order_id: str
    status: str
    order_id: int | None = None
    executed_qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    code: int | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status not in (REJECTED, UNKNOWN)


class AlgoAck(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to an algo-order command (``status`` as in :class:`OrderAck`)."""

    symbol: str
    client_algo_id: str
    status: str
    algo_id: int | None = None
    code: int | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status not in (REJECTED, UNKNOWN)


class OrderInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One order as a query reports it (``GET /fapi/v1/openOrders`` row, mode-neutral)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    status: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    avg_price: Decimal
    reduce_only: bool
    position_side: str
    time_in_force: str
    update_time_ms: int


class AlgoInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One conditional order as ``GET /fapi/v1/openAlgoOrders`` reports it."""

    symbol: str
    algo_id: int
    client_algo_id: str
    side: str
    order_type: str
    status: str
    trigger_price: Decimal
    quantity: Decimal
    reduce_only: bool
    close_position: bool
    position_side: str
    working_type: str


class PositionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One position as ``GET /fapi/v3/positionRisk`` reports it (``amount`` signed, base asset)."""

    symbol: str
    position_side: str
    amount: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal
    leverage: int
    margin_type: str  # "cross" / "isolated"
    isolated_wallet: Decimal = ZERO


@runtime_checkable
class OrderGateway(Protocol):
    """What the order path needs from a venue; implemented by :class:`SimulatedGateway` and, live, by
    a gateway over the REST / WebSocket API whose listener is fed by the user-data stream.

    Every command returns an ack and never raises for an exchange refusal (see the module docstring).
    """

    def set_listener(self, listener: EventListener) -> None:
        """Deliver every user event of the account to ``listener`` (one listener; the runner fans out)."""
        ...

    def filters(self) -> FilterBook:
        """exchangeInfo filters of the tradable symbols."""
        ...

    def submit(self, order: NewOrder) -> OrderAck:
        """``POST /fapi/v1/order`` (with ``newOrderRespType=RESULT`` unless the order says otherwise)."""
        ...

    def cancel(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderAck:
        """``DELETE /fapi/v1/order``."""
        ...

    def modify(self, order: ModifyOrder) -> OrderAck:
        """``PUT /fapi/v1/order`` (price / quantity of an open LIMIT order)."""
        ...

    def submit_algo(self, order: NewAlgoOrder) -> AlgoAck:
        """``POST /fapi/v1/algoOrder`` (STOP_MARKET, TAKE_PROFIT_MARKET, ... conditional orders)."""
        ...

    def cancel_algo(self, *, algo_id: int | None = None, client_algo_id: str | None = None) -> AlgoAck:
        """``DELETE /fapi/v1/algoOrder``."""
        ...

    def cancel_all(self, symbol: str) -> None:
        """Cancel every open order and open algo order of ``symbol``."""
        ...

    def change_leverage(self, symbol: str, leverage: int) -> None:
        """``POST /fapi/v1/leverage`` (raises ``ApiError`` when refused: configuration, not trading)."""
        ...

    def change_margin_type(self, symbol: str, margin_type: str) -> None:
        """``POST /fapi/v1/marginType`` with ISOLATED or CROSSED (no-op when already so)."""
        ...

    def change_position_mode(self, hedge: bool) -> None:
        """``POST /fapi/v1/positionSide/dual`` (no-op when already so)."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[OrderInfo]:
        """``GET /fapi/v1/openOrders``."""
        ...

    def open_algo_orders(self, symbol: str | None = None) -> list[AlgoInfo]:
        """``GET /fapi/v1/openAlgoOrders``."""
        ...

    def order_status(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderInfo | None:
        """``GET /fapi/v1/order``; None when the exchange does not know the order."""
        ...

    def positions(self, symbol: str | None = None) -> list[PositionInfo]:
        """``GET /fapi/v3/positionRisk`` (open positions only)."""
        ...

    def balances(self) -> dict[str, Decimal]:
        """Wallet balance per asset (``GET /fapi/v3/balance``)."""
        ...


def filters_from_specs(specs: dict[str, Any]) -> FilterBook:
    """A :class:`FilterBook` from the engine's :class:`~binfut.matching.SymbolSpec` mapping."""
    return FilterBook(
        SymbolFilters(
            symbol=s.symbol, tick_size=s.tick_size, min_price=s.min_price, max_price=s.max_price,
            step_size=s.step_size, min_qty=s.min_qty, max_qty=s.max_qty, market_step_size=s.market_step_size,
            market_min_qty=s.market_min_qty, market_max_qty=s.market_max_qty, min_notional=s.min_notional,
            multiplier_up=s.multiplier_up, multiplier_down=s.multiplier_down,
        )
        for s in specs.values()
    )


class SimulatedGateway:
    """:class:`OrderGateway` over a :class:`~binfut.matching.SimulatedVenue` account (backtest, paper).

    Parameters
    ----------
    venue : the engine; only its ``execute`` entry point and read-only queries are used
    account_id : the account orders are executed under
    liquidity : optional :class:`~binfut.trading.liquidity.BookLiquidity` that quotes against
        marketable orders (bar data has no book to fill against)
    on_outputs : optional sink for every output of every command (public trades, other accounts)
    """

    def __init__(
        self, venue: SimulatedVenue, account_id: str, *, liquidity: Any = None, on_outputs: Callable[[list[Any]], None] | None = None
    ) -> None:
        self.venue = venue
        self.account_id = account_id
        self.liquidity = liquidity
        self.on_outputs = on_outputs
        self._listener: EventListener | None = None
        self._filters: FilterBook | None = None

    # --- plumbing -------------------------------------------------------------------------------

    def set_listener(self, listener: EventListener) -> None:
        self._listener = listener

    def deliver(self, outputs: list[Any]) -> None:
        """Hand the account's user events among ``outputs`` to the listener, in order.

        The backtest runner also routes the outputs of market events (fills of resting orders,
        funding, liquidations) through here, so they reach the same listener as command outputs.
        """
        if self.on_outputs is not None:
            self.on_outputs(outputs)
        listener = self._listener
        if listener is None:
            return
        me = self.account_id
        for out in outputs:
            if type(out) is Envelope and out.account_id == me:
                listener(out.event)

    def _run(self, command: Command) -> Any:
        result = self.venue.execute(self.account_id, command)
        self.deliver(result.outputs)
        return result.value

    def filters(self) -> FilterBook:
        if self._filters is None:
            self._filters = filters_from_specs(self.venue.specs)
        return self._filters

    # --- orders ---------------------------------------------------------------------------------

    def submit(self, order: NewOrder) -> OrderAck:
        if order.new_order_resp_type is None:
            # the ack should carry the order's state after matching (Binance: newOrderRespType=RESULT)
            order = msgspec.structs.replace(order, new_order_resp_type="RESULT")
        liquidity = self.liquidity
        quotes = liquidity.provide(self.venue, order) if liquidity is not None else None
        try:
            snap = self._run(order)
        except ExecutionStatusUnknown as exc:
            ack = OrderAck(symbol=order.symbol, client_order_id=order.new_client_order_id or "", status=UNKNOWN, code=exc.code, reason=exc.msg)
        except ApiError as exc:
            ack = OrderAck(symbol=order.symbol, client_order_id=order.new_client_order_id or "", status=REJECTED, code=exc.code, reason=exc.msg)
        else:
            ack = OrderAck(
                symbol=snap.symbol, client_order_id=snap.client_order_id, status=str(snap.status), order_id=snap.order_id,
                executed_qty=snap.executed_qty, avg_price=snap.avg_price,
            )
        if quotes:
            liquidity.withdraw_quotes(self.venue, order.symbol, quotes, ack.executed_qty if ack.accepted else None)
        return ack

    def cancel(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderAck:
        try:
            snap = self._run(CancelOrder(symbol=symbol, order_id=order_id, orig_client_order_id=client_order_id))
        except ApiError as exc:
            return OrderAck(symbol=symbol, client_order_id=client_order_id or "", order_id=order_id, status=REJECTED, code=exc.code, reason=exc.msg)
        return OrderAck(symbol=symbol, client_order_id=snap.client_order_id, status=str(snap.status), order_id=snap.order_id,
                        executed_qty=snap.executed_qty, avg_price=snap.avg_price)

    def modify(self, order: ModifyOrder) -> OrderAck:
        try:
            snap = self._run(order)
        except ApiError as exc:
            return OrderAck(symbol=order.symbol, client_order_id=order.orig_client_order_id or "", order_id=order.order_id,
                            status=REJECTED, code=exc.code, reason=exc.msg)
        return OrderAck(symbol=order.symbol, client_order_id=snap.client_order_id, status=str(snap.status), order_id=snap.order_id,
                        executed_qty=snap.executed_qty, avg_price=snap.avg_price)

    def submit_algo(self, order: NewAlgoOrder) -> AlgoAck:
        try:
            snap = self._run(order)
        except ApiError as exc:
            return AlgoAck(symbol=order.symbol, client_algo_id=order.client_algo_id or "", status=REJECTED, code=exc.code, reason=exc.msg)
        return AlgoAck(symbol=order.symbol, client_algo_id=snap.client_algo_id, algo_id=snap.algo_id, status=str(snap.algo_status))

    def cancel_algo(self, *, algo_id: int | None = None, client_algo_id: str | None = None) -> AlgoAck:
        try:
            snap = self._run(CancelAlgoOrder(algo_id=algo_id, client_algo_id=client_algo_id))
        except ApiError as exc:
            return AlgoAck(symbol="", client_algo_id=client_algo_id or "", algo_id=algo_id, status=REJECTED, code=exc.code, reason=exc.msg)
        return AlgoAck(symbol=snap.symbol, client_algo_id=snap.client_algo_id, algo_id=snap.algo_id, status=str(snap.algo_status))

    def cancel_all(self, symbol: str) -> None:
        self._run(CancelAllOrders(symbol=symbol))
        self._run(CancelAllAlgoOrders(symbol=symbol))

    # --- account configuration ------------------------------------------------------------------

    def change_leverage(self, symbol: str, leverage: int) -> None:
        self._run(ChangeLeverage(symbol=symbol, leverage=leverage))

    def change_margin_type(self, symbol: str, margin_type: str) -> None:
        want = "CROSSED" if margin_type.upper() in ("CROSS", "CROSSED") else margin_type.upper()
        rows = self.venue.position_risk(self.account_id, symbol, include_empty=True)
        current = "ISOLATED" if rows and rows[0].margin_type == "isolated" else "CROSSED"
        if want != current:
            self._run(ChangeMarginType(symbol=symbol, margin_type=want))

    def change_position_mode(self, hedge: bool) -> None:
        if self.venue.position_mode(self.account_id)["dualSidePosition"] != hedge:
            self._run(ChangePositionMode(dual_side_position=hedge))

    # --- queries --------------------------------------------------------------------------------

    def open_orders(self, symbol: str | None = None) -> list[OrderInfo]:
        return [_order_info(s) for s in self.venue.open_orders(self.account_id, symbol)]

    def open_algo_orders(self, symbol: str | None = None) -> list[AlgoInfo]:
        return [
            AlgoInfo(symbol=a.symbol, algo_id=a.algo_id, client_algo_id=a.client_algo_id, side=str(a.side),
                     order_type=str(a.order_type), status=str(a.algo_status), trigger_price=a.trigger_price,
                     quantity=a.quantity, reduce_only=a.reduce_only, close_position=a.close_position,
                     position_side=str(a.position_side), working_type=str(a.working_type))
            for a in self.venue.open_algo_orders(self.account_id, symbol)
        ]

    def order_status(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderInfo | None:
        try:
            return _order_info(self.venue.get_order(self.account_id, symbol, order_id, client_order_id))
        except ApiError:
            return None

    def positions(self, symbol: str | None = None) -> list[PositionInfo]:
        return [
            PositionInfo(symbol=r.symbol, position_side=str(r.position_side), amount=r.position_amt, entry_price=r.entry_price,
                         mark_price=r.mark_price, unrealized_pnl=r.un_realized_profit, liquidation_price=r.liquidation_price,
                         leverage=int(r.leverage), margin_type=r.margin_type, isolated_wallet=r.isolated_wallet)
            for r in self.venue.position_risk(self.account_id, symbol)
        ]

    def balances(self) -> dict[str, Decimal]:
        return {b.asset: b.balance for b in self.venue.balances(self.account_id)}


def _order_info(s: Any) -> OrderInfo:
    return OrderInfo(
        symbol=s.symbol, order_id=s.order_id, client_order_id=s.client_order_id, side=str(s.side), type=str(s.type),
        status=str(s.status), price=s.price, orig_qty=s.orig_qty, executed_qty=s.executed_qty, avg_price=s.avg_price,
        reduce_only=s.reduce_only, position_side=str(s.position_side), time_in_force=str(s.time_in_force),
        update_time_ms=s.update_time,
    )
