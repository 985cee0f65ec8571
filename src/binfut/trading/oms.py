"""Order management: rounding to exchangeInfo filters, client ids, brackets, reconciliation.

:class:`OrderManager` sits between a strategy and an :class:`~binfut.trading.gateway.OrderGateway`: every
order is rounded to the grid (quantity down; a buy price down, a sell price up: never more aggressive
than asked), checked against PRICE_FILTER, LOT_SIZE / MARKET_LOT_SIZE, MIN_NOTIONAL and PERCENT_PRICE,
risk-checked, and given a client id ``<prefix><session>-<n>`` that a restarted process recognises.

Rules kept here:

* a refusal (filter, risk, exchange) is a logged ack with ``status="REJECTED"`` and a reason, never an
  exception;
* bracket exits are reduce-only STOP_MARKET / TAKE_PROFIT_MARKET algo orders placed once the entry has
  filled, for the filled quantity; the first to trigger cancels the other (OCO);
* actions caused by user events run after the event batch that caused them is folded.
"""


from __future__ import annotations

import logging
import random
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec

from binfut.clock import Clock
from binfut.errors import FilterViolation
from binfut.matching import ModifyOrder, NewAlgoOrder, NewOrder
from binfut.protocol.filters import FilterBook, SymbolFilters
from binfut.protocol.userevents import AlgoUpdate, OrderTradeUpdate
from binfut.trading.gateway import REJECTED, UNKNOWN, AlgoAck, OrderAck, OrderGateway, OrderInfo
from binfut.trading.portfolio import Portfolio
from binfut.trading.risk import RiskManager

__all__ = ["BracketOrder", "ClientIdGenerator", "OrderManager", "ReconcileReport", "TrackedOrder"]

ZERO = Decimal(0)
_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_CLOSED = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})
_ALGO_FIRED = frozenset({"TRIGGERING", "TRIGGERED", "FINISHED"})
_ALGO_DEAD = frozenset({"CANCELED", "EXPIRED", "REJECTED"})


def _b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if not n:
            return out


class ClientIdGenerator:
    """Unique client order ids ``<prefix><session>-<n>`` (Binance: ``^[.A-Z:/a-z0-9_-]{1,36}$``).

    Parameters
    ----------
    prefix : marks the ids as this strategy's (reconciliation adopts open orders that carry it)
    rng : draws the session token, so two runs (or a restart) never reuse an id
    """

    def __init__(self, prefix: str = "bf", rng: random.Random | None = None) -> None:
        if not _CID.match(prefix) or len(prefix) > 16:
            raise ValueError(f"client id prefix {prefix!r} must match {_CID.pattern} and be at most 16 characters")
        self.prefix = prefix
        self.session = _b36((rng or random.Random(0)).getrandbits(30)).rjust(6, "0")
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"{self.prefix}{self.session}-{_b36(self._n)}"

    def owns(self, client_id: str) -> bool:
        """Whether ``client_id`` was made by a generator with this prefix (any session)."""
        return client_id.startswith(self.prefix) and "-" in client_id[len(self.prefix):]


@dataclass(slots=True)
class TrackedOrder:
    """What the OMS knows of one of its orders."""

    symbol: str
    client_order_id: str
    side: str
    order_type: str
    quantity: Decimal
    status: str
    order_id: int | None = None
    filled_qty: Decimal = ZERO
    tag: str = ""


@dataclass(slots=True)
class BracketOrder:
    """An entry with its stop-loss and take-profit exits (algo orders, placed once the entry filled)."""

    symbol: str
    side: str
    entry_cid: str
    stop_loss: Decimal | None
    take_profit: Decimal | None
    working_type: str
    position_side: str | None
    filled_qty: Decimal = ZERO
    state: str = "PENDING"  # PENDING -> ACTIVE (exits working) -> DONE
    exit_ids: dict[str, str] = field(default_factory=dict)  # "sl"/"tp" -> client algo id
    acks: list[Any] = field(default_factory=list)


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`OrderManager.reconcile` found."""

    open_orders: int
    open_algo_orders: int
    positions: dict[str, Decimal]
    adopted: list[str]  # our open orders the OMS did not know (placed before the restart)
    settled: dict[str, str]  # our orders no longer open, or unknown: client id -> final status
    foreign: list[str]  # open orders without our prefix (left alone)
    relinked_brackets: int
    cancelled_orphans: list[str]


class OrderManager:
    """Validated, risk-checked, tracked order entry over an :class:`OrderGateway`.

    Parameters
    ----------
    gateway : the venue
    portfolio : the folded account state (the OMS subscribes to its events)
    clock : time for the rate limit and refusal records
    risk : pre-trade checks (None: none)
    ids : client-id generator (default prefix ``bf``)
    hedge : the account is in hedge mode (exits use ``position_side`` instead of ``reduce_only``)
    log : where refusals are logged
    """

    def __init__(
        self,
        gateway: OrderGateway,
        portfolio: Portfolio,
        clock: Clock,
        *,
        risk: RiskManager | None = None,
        ids: ClientIdGenerator | None = None,
        hedge: bool = False,
        log: logging.Logger | None = None,
    ) -> None:
        self.gateway = gateway
        self.portfolio = portfolio
        self.clock = clock
        self.risk = risk
        self.ids = ids or ClientIdGenerator()
        self.hedge = hedge
        self.log = log or logging.getLogger("binfut.trading.oms")
        self.filters: FilterBook = gateway.filters()
        self.tracked: dict[str, TrackedOrder] = {}
        self.closed: deque[TrackedOrder] = deque(maxlen=1000)
        self.brackets: dict[str, BracketOrder] = {}  # by entry cid
        self._exit_of: dict[str, BracketOrder] = {}  # exit client algo id -> bracket
        self.rejections: list[OrderAck] = []
        self._pending: deque[Callable[[], None]] = deque()
        self._depth = 0
        portfolio.subscribe(self.on_event)

    # --- helpers ---------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Defer event-driven actions until the block ends (the runner wraps event deliveries in it)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth:
                self._flush()

    def _flush(self) -> None:
        while self._pending:
            action = self._pending.popleft()
            with self.batch():
                action()

    def _refuse(self, order: NewOrder, reason: str, code: int | None = None) -> OrderAck:
        ack = OrderAck(symbol=order.symbol, client_order_id=order.new_client_order_id or "", status=REJECTED, code=code, reason=reason)
        self.rejections.append(ack)
        self.log.warning("order refused %s %s %s %s: %s", order.symbol, order.side, order.quantity, order.new_client_order_id, reason)
        return ack

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        return self.filters[symbol]

    def round_order(self, order: NewOrder) -> NewOrder:
        """``order`` with quantity and price snapped to the symbol's grid and a client id (no checks)."""
        f = self.filters[order.symbol]
        market = str(order.type) == "MARKET"
        changes: dict[str, Any] = {}
        if order.quantity is not None:
            q = f.round_quantity(order.quantity, market=market)
            if q != order.quantity or q.as_tuple().exponent != order.quantity.as_tuple().exponent:
                changes["quantity"] = q
        if order.price is not None:
            p = f.round_price(order.price, up=str(order.side) == "SELL")
            if p != order.price:
                changes["price"] = p
        if order.new_client_order_id is None:
            changes["new_client_order_id"] = self.ids.next()
        return msgspec.structs.replace(order, **changes) if changes else order

    def _check_filters(self, order: NewOrder, mark: Decimal | None) -> str | None:
        f = self.filters[order.symbol]
        market = str(order.type) == "MARKET"
        try:
            if order.quantity is None or order.quantity <= 0:
                return "quantity rounds to zero"
            f.check_quantity(order.quantity, market=market)
            if order.price is not None:
                f.check_price(order.price)
                if mark is not None:
                    f.check_percent_price(order.price, mark)
            if not order.reduce_only:
                # MIN_NOTIONAL: at the limit price, or for a MARKET order at the mark (Binance uses the
                # book; only reduce-only orders are exempt, not merely closing ones)
                ref = order.price if order.price is not None else mark
                if ref is not None:
                    f.check_notional(ref, order.quantity)
        except FilterViolation as exc:
            return str(exc)
        return None

    # --- order entry -----------------------------------------------------------------------------

    def submit(self, order: NewOrder, *, tag: str = "", internal: bool = False) -> OrderAck:
        """Round, validate, risk-check and send ``order``.

        Parameters
        ----------
        order : the order (``new_client_order_id`` is filled in when missing)
        tag : a free label kept with the tracked order (e.g. ``"entry"``)
        internal : sent by the kill switch: skips the risk checks

        Returns
        -------
        OrderAck
            ``status="REJECTED"`` with the reason when refused locally or by the exchange.
        """
        with self.batch():
            order = self.round_order(order)
            symbol = order.symbol
            mark = self.portfolio.marks.get(symbol)
            reason = self._check_filters(order, mark)
            if reason is not None:
                return self._refuse(order, reason)
            if self.risk is not None and not internal:
                price = order.price if order.price is not None else mark
                reason = self.risk.check_order(order, self.portfolio, price or ZERO, self.clock.time_ms(), hedge=self.hedge)
                if reason is not None:
                    return self._refuse(order, f"risk: {reason}")
            cid = order.new_client_order_id or ""
            tracked = self.tracked[cid] = TrackedOrder(symbol, cid, str(order.side), str(order.type), order.quantity or ZERO, "PENDING_NEW", tag=tag)
            ack = self.gateway.submit(order)
            tracked.order_id = ack.order_id
            if ack.status == REJECTED:
                self.tracked.pop(cid, None)
                self.rejections.append(ack)
                self.log.warning("order rejected by the exchange %s %s: %s %s", symbol, cid, ack.code, ack.reason)
            elif cid in self.tracked and tracked.status == "PENDING_NEW":
                tracked.status = ack.status  # no event yet (live); UNKNOWN is settled by reconcile()
            return ack

    def market(self, symbol: str, side: str, quantity: Decimal, *, reduce_only: bool = False,
               position_side: str | None = None, tag: str = "") -> OrderAck:
        """A MARKET order (``reduce_only`` is not sent in hedge mode, where ``position_side`` decides)."""
        return self.submit(NewOrder(symbol=symbol, side=side, type="MARKET", quantity=quantity,
                                    reduce_only=True if reduce_only and not self.hedge else None,
                                    position_side=position_side), tag=tag)

    def limit(self, symbol: str, side: str, quantity: Decimal, price: Decimal, *, time_in_force: str = "GTC",
              reduce_only: bool = False, position_side: str | None = None, tag: str = "") -> OrderAck:
        """A LIMIT order."""
        return self.submit(NewOrder(symbol=symbol, side=side, type="LIMIT", quantity=quantity, price=price,
                                    time_in_force=time_in_force, reduce_only=True if reduce_only and not self.hedge else None,
                                    position_side=position_side), tag=tag)

    def cancel(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderAck:
        with self.batch():
            return self.gateway.cancel(symbol, order_id=order_id, client_order_id=client_order_id)

    def modify(self, symbol: str, side: str, quantity: Decimal, price: Decimal, *, order_id: int | None = None,
               client_order_id: str | None = None) -> OrderAck:
        """Amend an open LIMIT order (rounded like a new one)."""
        f = self.filters[symbol]
        cmd = ModifyOrder(symbol=symbol, side=side, quantity=f.round_quantity(quantity), price=f.round_price(price, up=side == "SELL"),
                          order_id=order_id, orig_client_order_id=client_order_id)
        with self.batch():
            return self.gateway.modify(cmd)

    def set_leverage(self, symbol: str, leverage: int) -> bool:
        """Change ``symbol``'s leverage unless the risk manager refuses it; returns whether it was applied.

        Raises
        ------
        ApiError
            The exchange refused the leverage (e.g. -4028 above the symbol's maximum).
        """
        if self.risk is not None and self.risk.check_leverage(symbol, leverage, self.clock.time_ms()) is not None:
            return False
        with self.batch():
            self.gateway.change_leverage(symbol, leverage)
        return True

    def cancel_all(self, symbol: str | None = None) -> None:
        """Cancel every open order and algo order (of ``symbol``, or of every symbol with some)."""
        symbols = [symbol] if symbol else sorted({o.symbol for o in self.portfolio.orders.values()} | {a.symbol for a in self.portfolio.algos.values()})
        with self.batch():
            for s in symbols:
                self.gateway.cancel_all(s)

    def target(self, symbol: str, amount: Decimal, *, tag: str = "") -> list[OrderAck]:
        """Trade ``symbol`` towards a signed position ``amount`` with MARKET orders.

        One-way mode sends one order (flipping sides in one go; going flat is reduce-only).  Hedge
        mode closes the opposite side first, then adjusts the wanted side.
        """
        acks: list[OrderAck] = []
        if not self.hedge:
            diff = amount - self.portfolio.position(symbol)
            if diff:
                acks.append(self.market(symbol, "BUY" if diff > 0 else "SELL", abs(diff), reduce_only=amount == 0, tag=tag))
            return acks
        long_now, short_now = self.portfolio.position(symbol, "LONG"), self.portfolio.position(symbol, "SHORT")
        want_long, want_short = max(amount, ZERO), min(amount, ZERO)
        if short_now != want_short and short_now < want_short:  # buy back (part of) the short
            acks.append(self.market(symbol, "BUY", want_short - short_now, position_side="SHORT", tag=tag))
        if long_now > want_long:
            acks.append(self.market(symbol, "SELL", long_now - want_long, position_side="LONG", tag=tag))
        if want_long > long_now:
            acks.append(self.market(symbol, "BUY", want_long - long_now, position_side="LONG", tag=tag))
        if want_short < short_now:
            acks.append(self.market(symbol, "SELL", short_now - want_short, position_side="SHORT", tag=tag))
        return acks

    def flatten(self, symbol: str | None = None, *, internal: bool = False) -> list[OrderAck]:
        """Close every open position (of ``symbol``) with reduce-only MARKET orders."""
        acks = []
        with self.batch():
            for pos in list(self.portfolio.open_positions()):
                if symbol is not None and pos.symbol != symbol:
                    continue
                side = "SELL" if pos.amount > 0 else "BUY"
                ps = pos.position_side if self.hedge else None
                order = NewOrder(symbol=pos.symbol, side=side, type="MARKET", quantity=abs(pos.amount),
                                 reduce_only=None if self.hedge else True, position_side=ps)
                acks.append(self.submit(order, tag="flatten", internal=internal))
        return acks

    def kill(self, reason: str, *, flatten: bool = True) -> None:
        """The kill switch's orders: cancel every order and algo order, then flatten every position."""
        self.log.error("kill: cancelling everything%s (%s)", " and flattening" if flatten else "", reason)
        with self.batch():
            symbols = {o.symbol for o in self.portfolio.orders.values()} | {a.symbol for a in self.portfolio.algos.values()}
            symbols |= {p.symbol for p in self.portfolio.open_positions()}
            for s in sorted(symbols):
                self.gateway.cancel_all(s)
            if flatten:
                self.flatten(internal=True)

    # --- brackets --------------------------------------------------------------------------------

    def bracket(self, symbol: str, side: str, quantity: Decimal, *, price: Decimal | None = None,
                stop_loss: Decimal | None = None, take_profit: Decimal | None = None,
                working_type: str = "MARK_PRICE", position_side: str | None = None) -> BracketOrder:
        """An entry (MARKET, or LIMIT at ``price``) whose fill arms a stop-loss and a take-profit.

        The exits are STOP_MARKET at ``stop_loss`` and TAKE_PROFIT_MARKET at ``take_profit`` (either may
        be None), reduce-only for the filled quantity, triggered on ``working_type``; the first to
        trigger cancels the other.
        """
        f = self.filters[symbol]
        exit_up = side == "SELL"  # exits buy back a short: round triggers up for safety on the stop
        b = BracketOrder(
            symbol=symbol, side=side, entry_cid=self.ids.next(),
            stop_loss=f.round_price(stop_loss, up=exit_up) if stop_loss is not None else None,
            take_profit=f.round_price(take_profit, up=not exit_up) if take_profit is not None else None,
            working_type=working_type, position_side=position_side,
        )
        self.brackets[b.entry_cid] = b
        order_type = "LIMIT" if price is not None else "MARKET"
        order = NewOrder(symbol=symbol, side=side, type=order_type, quantity=quantity, price=price,
                         time_in_force="GTC" if price is not None else None, position_side=position_side,
                         new_client_order_id=b.entry_cid)
        ack = self.submit(order, tag="entry")
        b.acks.append(ack)
        if not ack.accepted:
            b.state = "DONE"
        return b

    def _arm(self, b: BracketOrder) -> None:
        if b.state != "PENDING" or not b.filled_qty:
            return
        b.state = "ACTIVE"
        exit_side = "SELL" if b.side == "BUY" else "BUY"
        for key, kind, trigger in (("sl", "STOP_MARKET", b.stop_loss), ("tp", "TAKE_PROFIT_MARKET", b.take_profit)):
            if trigger is None:
                continue
            cid = f"{b.entry_cid}.{key}"
            b.exit_ids[key] = cid
            self._exit_of[cid] = b
            ack = self.gateway.submit_algo(NewAlgoOrder(
                symbol=b.symbol, side=exit_side, type=kind, quantity=b.filled_qty, trigger_price=trigger,
                working_type=b.working_type, reduce_only=None if self.hedge else True,
                position_side=b.position_side, client_algo_id=cid))
            b.acks.append(ack)
            if not ack.accepted:
                self.log.warning("bracket exit %s refused: %s %s", cid, ack.code, ack.reason)

    def _oco(self, b: BracketOrder, fired: str) -> None:
        if b.state == "DONE":
            return
        b.state = "DONE"
        for cid in b.exit_ids.values():
            if cid != fired and any(a.client_algo_id == cid for a in self.portfolio.algos.values() if a.status == "NEW"):
                self.gateway.cancel_algo(client_algo_id=cid)

    # --- events ----------------------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """Track our orders from user events (subscribed to the portfolio)."""
        t = type(event)
        if t is OrderTradeUpdate:
            o = event.order
            cid = o.client_order_id
            tracked = self.tracked.get(cid)
            if tracked is None:
                return
            tracked.status = str(o.order_status)
            tracked.order_id = o.order_id
            tracked.filled_qty = o.filled_accumulated_quantity
            if tracked.status in _CLOSED:
                del self.tracked[cid]
                self.closed.append(tracked)
                b = self.brackets.get(cid)
                if b is not None:
                    b.filled_qty = tracked.filled_qty
                    if b.filled_qty:
                        self._pending.append(partial(self._arm, b))
                    else:
                        b.state = "DONE"
        elif t is AlgoUpdate:
            o = event.order
            b = self._exit_of.get(o.client_algo_id)
            if b is not None and str(o.algo_status) in _ALGO_FIRED:
                self._pending.append(partial(self._oco, b, o.client_algo_id))
        if not self._depth:
            self._flush()

    # --- reconciliation --------------------------------------------------------------------------

    def reconcile(self, *, cancel_orphans: bool = True) -> ReconcileReport:
        """Rebuild state from the gateway's queries (after a restart or a lost connection).

        Replaces the portfolio's balances, positions, open orders and algo orders with the answers;
        adopts our open orders placed before the restart; settles each tracked order that is no longer
        open (or whose outcome was UNKNOWN) from ``order_status``; re-links bracket exits by their
        client ids; cancels our exits whose position is gone (``cancel_orphans``).
        """
        gw = self.gateway
        orders = gw.open_orders()
        algos = gw.open_algo_orders()
        positions = gw.positions()
        self.portfolio.reset_from(gw.balances(), positions, orders, algos)
        open_by_cid: dict[str, OrderInfo] = {o.client_order_id: o for o in orders}
        adopted, foreign = [], []
        for o in orders:
            if not self.ids.owns(o.client_order_id):
                foreign.append(o.client_order_id)
            elif o.client_order_id not in self.tracked:
                self.tracked[o.client_order_id] = TrackedOrder(o.symbol, o.client_order_id, o.side, o.type, o.orig_qty,
                                                               o.status, o.order_id, o.executed_qty, tag="adopted")
                adopted.append(o.client_order_id)
        settled: dict[str, str] = {}
        for cid, tracked in list(self.tracked.items()):
            live = open_by_cid.get(cid)
            if live is not None:
                tracked.status, tracked.order_id, tracked.filled_qty = live.status, live.order_id, live.executed_qty
                continue
            info = gw.order_status(tracked.symbol, client_order_id=cid)
            tracked.status = info.status if info is not None else "REJECTED"  # never reached the exchange
            if info is not None:
                tracked.order_id, tracked.filled_qty = info.order_id, info.executed_qty
            settled[cid] = tracked.status
            del self.tracked[cid]
            self.closed.append(tracked)
        relinked = 0
        orphans: list[str] = []
        held = {p.symbol for p in positions if p.amount}
        for a in algos:
            if not self.ids.owns(a.client_algo_id) or "." not in a.client_algo_id:
                continue
            entry_cid, key = a.client_algo_id.rsplit(".", 1)
            if a.symbol not in held and cancel_orphans:
                ack: AlgoAck = gw.cancel_algo(client_algo_id=a.client_algo_id)
                if ack.accepted:
                    orphans.append(a.client_algo_id)
                    self.portfolio.algos.pop(a.algo_id, None)
                continue
            b = self.brackets.get(entry_cid)
            if b is None:
                b = self.brackets[entry_cid] = BracketOrder(
                    symbol=a.symbol, side="SELL" if a.side == "BUY" else "BUY", entry_cid=entry_cid, stop_loss=None,
                    take_profit=None, working_type=a.working_type, position_side=None, filled_qty=a.quantity, state="ACTIVE")
                relinked += 1
            if key == "sl":
                b.stop_loss = a.trigger_price
            elif key == "tp":
                b.take_profit = a.trigger_price
            b.exit_ids[key] = a.client_algo_id
            self._exit_of[a.client_algo_id] = b
        return ReconcileReport(
            open_orders=len(orders), open_algo_orders=len(algos) - len(orphans),
            positions={f"{p.symbol}:{p.position_side}": p.amount for p in positions if p.amount},
            adopted=adopted, settled=settled, foreign=foreign, relinked_brackets=relinked, cancelled_orphans=orphans,
        )

    def unknown(self) -> list[TrackedOrder]:
        """Tracked orders whose outcome is not known (``reconcile`` settles them)."""
        return [t for t in self.tracked.values() if t.status == UNKNOWN]
