"""The portfolio: balances, positions, open orders and fills folded from Binance-shaped user events.

One fold serves every mode: the backtest and paper runners hand it the matching engine's outputs, the
live runner the user-data stream, and both are the same ``binfut.protocol.userevents`` Structs.

Rules kept here:

* the wallet and positions are *replaced* by what ACCOUNT_UPDATE says, never recomputed, so the
  portfolio cannot drift from the venue; fills, commissions and realized PnL come from
  ORDER_TRADE_UPDATE (execution type TRADE, or CALCULATED for a liquidation);
* funding is the wallet change of an ACCOUNT_UPDATE with reason FUNDING_FEE (Binance sends no
  separate amount), signed as income: negative when paid;
* money stays ``Decimal``; unrealized PnL and equity use the last mark given to :meth:`on_mark`
  (``(mark - entry) x signed amount``, Binance's formula), so a backtest and the engine agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from binfut.matching import Envelope
from binfut.protocol.userevents import (
    AccountConfigUpdate,
    AccountUpdate,
    AlgoUpdate,
    MarginCall,
    OrderTradeUpdate,
    TradeLite,
)

__all__ = ["Fill", "FundingPayment", "OpenAlgo", "OpenOrder", "Portfolio", "PositionState"]

ZERO = Decimal(0)
_OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
_OPEN_ALGO = frozenset({"NEW", "TRIGGERING", "TRIGGERED"})


class Fill(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One execution of one of our orders (a liquidation has ``liquidation=True`` and no commission)."""

    time_ms: int
    symbol: str
    order_id: int
    client_order_id: str
    trade_id: int
    side: str
    position_side: str
    order_type: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    is_maker: bool
    liquidation: bool = False


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One funding settlement: ``amount`` > 0 received, < 0 paid."""

    time_ms: int
    symbols: tuple[str, ...]
    amount: Decimal


@dataclass(slots=True)
class PositionState:
    """A position as the last ACCOUNT_UPDATE described it (``amount`` is signed base quantity)."""

    symbol: str
    position_side: str
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    breakeven_price: Decimal = ZERO
    accumulated_realized: Decimal = ZERO
    margin_type: str = "cross"
    isolated_wallet: Decimal = ZERO
    update_time_ms: int = 0

    def unrealized(self, mark: Decimal) -> Decimal:
        """``(mark - entry) x amount``: Binance's unrealized PnL at ``mark``."""
        return (mark - self.entry_price) * self.amount if self.amount else ZERO


@dataclass(slots=True)
class OpenOrder:
    """An open order as the user events describe it."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    order_type: str
    status: str
    price: Decimal
    orig_qty: Decimal
    filled_qty: Decimal
    reduce_only: bool
    position_side: str
    time_in_force: str
    update_time_ms: int


@dataclass(slots=True)
class OpenAlgo:
    """An open conditional (algo) order as ALGO_UPDATE describes it."""

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


class Portfolio:
    """Balances, positions, open orders and executions of one account.

    Parameters
    ----------
    balances : starting wallet per asset (a live runner seeds from the REST answers instead)
    margin_asset : the asset PnL, fees and funding are paid in
    """

    def __init__(self, balances: dict[str, Decimal] | None = None, *, margin_asset: str = "USDT") -> None:
        self.margin_asset = margin_asset
        self.balances: dict[str, Decimal] = dict(balances or {})
        self.balances.setdefault(margin_asset, ZERO)
        self.initial_balance = self.balances[margin_asset]
        self.positions: dict[tuple[str, str], PositionState] = {}
        self.orders: dict[int, OpenOrder] = {}
        self.algos: dict[int, OpenAlgo] = {}
        self.marks: dict[str, Decimal] = {}
        self.leverage: dict[str, int] = {}
        self.fills: list[Fill] = []
        self.funding_payments: list[FundingPayment] = []
        self.fees_paid = ZERO
        self.realized_pnl = ZERO
        self.funding = ZERO
        self.liquidations = 0
        self.margin_calls = 0
        self.last_event_ms = 0
        self._listeners: list[Callable[[Any], None]] = []
        self._handlers: dict[type, Callable[[Any], None]] = {
            OrderTradeUpdate: self._on_order,
            AccountUpdate: self._on_account,
            AlgoUpdate: self._on_algo,
            MarginCall: self._on_margin_call,
            AccountConfigUpdate: self._on_config,
            TradeLite: _ignore,
        }

    # --- folding ---------------------------------------------------------------------------------

    def apply(self, event: Any) -> None:
        """Fold one user event (an ``Envelope`` is unwrapped); unknown event types are ignored."""
        if type(event) is Envelope:
            event = event.event
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)
        for listener in self._listeners:
            listener(event)

    def apply_all(self, events: Iterable[Any]) -> None:
        for event in events:
            self.apply(event)

    def subscribe(self, listener: Callable[[Any], None]) -> None:
        """Call ``listener(event)`` after each folded event (the OMS tracks its orders this way)."""
        self._listeners.append(listener)

    def _on_order(self, ev: OrderTradeUpdate) -> None:
        o = ev.order
        self.last_event_ms = ev.transaction_time_ms
        status = str(o.order_status)
        if status in _OPEN_STATUSES:
            cur = self.orders.get(o.order_id)
            if cur is None:
                self.orders[o.order_id] = OpenOrder(
                    symbol=o.symbol, order_id=o.order_id, client_order_id=o.client_order_id, side=str(o.side),
                    order_type=str(o.order_type), status=status, price=o.original_price, orig_qty=o.original_quantity,
                    filled_qty=o.filled_accumulated_quantity, reduce_only=o.is_reduce_only,
                    position_side=str(o.position_side), time_in_force=str(o.time_in_force),
                    update_time_ms=ev.transaction_time_ms,
                )
            else:
                cur.status = status
                cur.price = o.original_price
                cur.orig_qty = o.original_quantity
                cur.filled_qty = o.filled_accumulated_quantity
                cur.update_time_ms = ev.transaction_time_ms
        else:
            self.orders.pop(o.order_id, None)
        exec_type = str(o.execution_type)
        if exec_type in ("TRADE", "CALCULATED") and o.last_filled_quantity:
            liquidation = exec_type == "CALCULATED" or str(o.order_type) == "LIQUIDATION"
            fee = o.commission or ZERO
            asset = o.commission_asset or self.margin_asset
            self.fills.append(Fill(
                time_ms=o.order_trade_time_ms, symbol=o.symbol, order_id=o.order_id, client_order_id=o.client_order_id,
                trade_id=o.trade_id, side=str(o.side), position_side=str(o.position_side), order_type=str(o.order_type),
                price=o.last_filled_price, qty=o.last_filled_quantity, commission=fee, commission_asset=asset,
                realized_pnl=o.realized_profit, is_maker=o.is_maker, liquidation=liquidation,
            ))
            if asset == self.margin_asset:
                self.fees_paid += fee
            self.realized_pnl += o.realized_profit
            if liquidation:
                self.liquidations += 1

    def _on_account(self, ev: AccountUpdate) -> None:
        data = ev.data
        self.last_event_ms = ev.transaction_time_ms
        margin = self.margin_asset
        for b in data.balances:
            if b.asset == margin and str(data.reason) == "FUNDING_FEE":
                amount = b.wallet_balance - self.balances.get(margin, ZERO)
                self.funding += amount
                self.funding_payments.append(FundingPayment(
                    time_ms=ev.transaction_time_ms, symbols=tuple(p.symbol for p in data.positions), amount=amount))
            self.balances[b.asset] = b.wallet_balance
        for p in data.positions:
            key = (p.symbol, str(p.position_side))
            pos = self.positions.get(key)
            if pos is None:
                pos = self.positions[key] = PositionState(p.symbol, str(p.position_side))
            pos.amount = p.position_amount
            pos.entry_price = p.entry_price
            pos.breakeven_price = p.breakeven_price
            pos.accumulated_realized = p.accumulated_realized
            pos.margin_type = p.margin_type
            pos.isolated_wallet = p.isolated_wallet
            pos.update_time_ms = ev.transaction_time_ms

    def _on_algo(self, ev: AlgoUpdate) -> None:
        o = ev.order
        status = str(o.algo_status)
        if status in _OPEN_ALGO:
            self.algos[o.algo_id] = OpenAlgo(
                symbol=o.symbol, algo_id=o.algo_id, client_algo_id=o.client_algo_id, side=str(o.side),
                order_type=str(o.order_type), status=status, trigger_price=o.trigger_price, quantity=o.quantity,
                reduce_only=o.reduce_only, close_position=o.close_position, position_side=str(o.position_side),
            )
        else:
            self.algos.pop(o.algo_id, None)

    def _on_margin_call(self, ev: MarginCall) -> None:
        self.margin_calls += 1

    def _on_config(self, ev: AccountConfigUpdate) -> None:
        if ev.leverage is not None:
            self.leverage[ev.leverage.symbol] = ev.leverage.leverage

    # --- seeding (start-up and reconciliation) ----------------------------------------------------

    def reset_from(self, balances: dict[str, Decimal], positions: Iterable[Any], orders: Iterable[Any], algos: Iterable[Any]) -> None:
        """Replace the state with query answers (``gateway.balances()``, ``positions()``, ...).

        Used at start-up and after a reconnect, when events may have been missed; the running totals
        (fees, funding, fills) are kept.
        """
        self.balances = dict(balances)
        self.balances.setdefault(self.margin_asset, ZERO)
        self.positions = {}
        for p in positions:
            self.positions[(p.symbol, p.position_side)] = PositionState(
                p.symbol, p.position_side, amount=p.amount, entry_price=p.entry_price, margin_type=p.margin_type,
                isolated_wallet=p.isolated_wallet)
            self.leverage[p.symbol] = p.leverage
            if p.mark_price:
                self.marks[p.symbol] = p.mark_price
        self.orders = {
            o.order_id: OpenOrder(
                symbol=o.symbol, order_id=o.order_id, client_order_id=o.client_order_id, side=o.side, order_type=o.type,
                status=o.status, price=o.price, orig_qty=o.orig_qty, filled_qty=o.executed_qty, reduce_only=o.reduce_only,
                position_side=o.position_side, time_in_force=o.time_in_force, update_time_ms=o.update_time_ms)
            for o in orders
        }
        self.algos = {
            a.algo_id: OpenAlgo(
                symbol=a.symbol, algo_id=a.algo_id, client_algo_id=a.client_algo_id, side=a.side, order_type=a.order_type,
                status=a.status, trigger_price=a.trigger_price, quantity=a.quantity, reduce_only=a.reduce_only,
                close_position=a.close_position, position_side=a.position_side)
            for a in algos
        }

    # --- reading ---------------------------------------------------------------------------------

    def on_mark(self, symbol: str, price: Decimal) -> None:
        """Remember ``symbol``'s mark price (unrealized PnL and equity are computed at it)."""
        self.marks[symbol] = price

    @property
    def wallet(self) -> Decimal:
        """Wallet balance of the margin asset."""
        return self.balances.get(self.margin_asset, ZERO)

    def position(self, symbol: str, position_side: str = "BOTH") -> Decimal:
        """Signed amount of one position (``BOTH`` in one-way mode, ``LONG`` / ``SHORT`` in hedge mode)."""
        pos = self.positions.get((symbol, position_side))
        return pos.amount if pos is not None else ZERO

    def net_position(self, symbol: str) -> Decimal:
        """Sum of the symbol's positions (hedge mode: LONG + SHORT, the short one being negative)."""
        total = ZERO
        for (sym, _), pos in self.positions.items():
            if sym == symbol:
                total += pos.amount
        return total

    def open_positions(self) -> list[PositionState]:
        return [p for p in self.positions.values() if p.amount]

    def unrealized(self, symbol: str | None = None) -> Decimal:
        """Unrealized PnL at the last marks (of one symbol, or of all)."""
        total = ZERO
        for (sym, _), pos in self.positions.items():
            if pos.amount and (symbol is None or sym == symbol):
                total += pos.unrealized(self.marks.get(sym, pos.entry_price))
        return total

    def equity(self) -> Decimal:
        """Margin balance: wallet + unrealized PnL at the last marks."""
        return self.wallet + self.unrealized()

    def notional(self, symbol: str) -> Decimal:
        """Gross position notional of ``symbol`` at its mark (absolute, both hedge sides added)."""
        total = ZERO
        for (sym, _), pos in self.positions.items():
            if sym == symbol and pos.amount:
                total += abs(pos.amount) * self.marks.get(sym, pos.entry_price)
        return total

    def total_notional(self) -> Decimal:
        return sum((self.notional(s) for s in {s for s, _ in self.positions}), ZERO)

    def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        return [o for o in self.orders.values() if symbol is None or o.symbol == symbol]

    def open_algos(self, symbol: str | None = None) -> list[OpenAlgo]:
        return [a for a in self.algos.values() if symbol is None or a.symbol == symbol]

    def __repr__(self) -> str:
        return f"Portfolio(wallet={self.wallet}, positions={len(self.open_positions())}, orders={len(self.orders)})"


def _ignore(event: Any) -> None:
    return None
