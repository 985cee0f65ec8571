"""The matching engine of one symbol: time in force, matching, self-trade prevention, amendments.

Owns the :class:`~binfut.matching.orderbook.OrderBook` of a symbol and everything that happens to an
order once it has passed validation: acceptance (NEW), matching against resting orders at the
makers' prices in price-time priority, settlement of each fill into both accounts, resting or
expiring the remainder by time in force, cancels, GTD expiry and PUT-order amendments.

Rules kept here (USD-M "New Order" / "Modify Order" docs):

* GTC / GTD rest; IOC and MARKET expire their remainder; GTX (post-only) that would cross is
  rejected -5022 before anything changes; FOK that cannot fill completely is rejected -5021 (current
  behaviour) or, with ``fok_reject=False``, accepted and EXPIRED without any fill (legacy behaviour).
* Self-trade prevention follows the *taker's* mode: EXPIRE_TAKER / EXPIRE_MAKER / EXPIRE_BOTH give
  status EXPIRED_IN_MATCH (execution type EXPIRED); NONE lets the account trade with itself.
* A reduce-only order (or a hedge-mode closing order) never fills more than the position it reduces;
  what cannot reduce any more expires.
* Amendments: a quantity decrease at the same price keeps queue priority, anything else re-queues;
  new quantity <= executed quantity cancels the order, and so does a GTX amendment that would cross.
Every status change goes through :func:`binfut.matching.lifecycle.advance`.
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from binfut.enums import OrderStatus
from binfut.matching.account import add_order_margin, apply_fill, reject
from binfut.matching.lifecycle import ORDER_TRANSITIONS as _TABLE
from binfut.matching.lifecycle import Transition
from binfut.matching.orderbook import Order, OrderBook
from binfut.matching.outputs import Envelope, PublicTrade, order_event, trade_lite

if TYPE_CHECKING:
    from binfut.matching.account import Account, SymbolState
    from binfut.matching.instruments import SymbolSpec

__all__ = ["SymbolEngine"]

_T = Transition
_RESTING_TIF = frozenset({"GTC", "GTD", "GTX"})
_OPEN = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class SymbolEngine:
    """Book and order flow of one symbol.  The venue owns it and provides the shared context.

    The venue attributes used are ``now`` (ms), ``out`` (the output list of the current command),
    ``touched`` (accounts whose ACCOUNT_UPDATE is due), ``fee_model``, ``publish`` and the
    ``on_order_closed`` hook (algo orders finishing).
    """

    __slots__ = (
        "band", "book", "gtd", "last_ticks", "prev_update_id", "price_moved", "spec", "trade_seq", "venue",
    )

    def __init__(self, spec: SymbolSpec, venue: Any) -> None:
        self.spec = spec
        self.venue = venue
        self.book = OrderBook()
        self.last_ticks = 0  # last trade price in ticks (0 = no trade yet)
        self.trade_seq = 0
        self.gtd: list[tuple[int, int, Order]] = []
        self.prev_update_id = 0
        self.price_moved = False
        self.band: tuple[Any, int, int] = (None, 0, 0)  # (mark key, lowest, highest) PERCENT_PRICE ticks

    def price_band(self, mark: Decimal | None) -> tuple[int, int] | None:
        """PERCENT_PRICE bounds in ticks for the current mark (None without a mark), cached."""
        key: Any = mark if mark is not None else self.last_ticks
        band = self.band
        if band[0] == key and key is not None:
            return band[1], band[2]
        if mark is None:
            if not self.last_ticks:
                return None
            mark = self.spec.price(self.last_ticks)
        spec = self.spec
        hi = int((mark * spec.multiplier_up * spec.inv_tick).to_integral_value(rounding="ROUND_FLOOR"))
        lo = int((mark * spec.multiplier_down * spec.inv_tick).to_integral_value(rounding="ROUND_CEILING"))
        self.band = (key, lo, hi)
        return lo, hi

    # --- helpers ------------------------------------------------------------------------------

    def _notionals(self, st: SymbolState) -> tuple[Decimal, Decimal]:
        unit = self.spec.unit
        u = st.units
        return Decimal(u[1] + u[3]) * unit, Decimal(u[2] + u[4]) * unit

    def emit(self, order: Order, transition: Transition, **fill: Any) -> None:
        """Apply ``transition`` to ``order`` and queue its ORDER_TRADE_UPDATE (if the account emits)."""
        status, exec_type = _TABLE[order.status, transition]  # lifecycle.advance, inlined (hot path)
        order.status = status
        acct = order.account
        if acct.emit:
            venue = self.venue
            b, a = self._notionals(acct.states[self.spec.symbol])
            venue.out.append(
                Envelope(account_id=acct.id, event=order_event(self.spec, order, exec_type, venue.now, b, a, **fill))
            )

    def _rest(self, order: Order) -> None:
        acct = order.account
        st = acct.states[self.spec.symbol]
        self.book.add(order)
        acct.open_orders[order.order_id] = order
        acct.open_cids[order.client_order_id] = order
        st.open_count += 1
        add_order_margin(st, order, order.qty - order.filled)
        if order.reduce_only or order.margin_key == 0 and order.account.hedge:
            st.reduce_orders[order.order_id] = order
        if order.tif == "GTD":
            heapq.heappush(self.gtd, (order.good_till_date, order.order_id, order))

    def _finish(self, order: Order) -> None:
        """Book-keeping of an order that just reached a terminal status."""
        acct = order.account
        order.update_time = self.venue.now
        if order.in_book:
            self.book.remove(order)
        if order.order_id in acct.open_orders:
            st = acct.states[self.spec.symbol]
            st.open_count -= 1
            add_order_margin(st, order, order.filled - order.qty)
            st.reduce_orders.pop(order.order_id, None)
            acct.close_order(order)
        else:
            closed = acct.closed
            closed[order.order_id] = order
            if len(closed) > acct.history:
                closed.popitem(last=False)
        if order.algo is not None:
            self.venue.on_order_closed(order)

    def close(self, order: Order, transition: Transition = _T.CANCEL) -> None:
        """Cancel / expire an open order (CANCEL, EXPIRE or EXPIRE_IN_MATCH)."""
        self.venue.active.add(self)
        self.emit(order, transition)
        self._finish(order)

    def reduce_cap(self, order: Order) -> int:
        """Lots a reduce-only / closing order may still fill (the opposite position's size)."""
        pos = order.account.positions.get((self.spec.symbol, order.position_side))
        if pos is None:
            return 0
        amt = pos.amount
        if order.is_buy:
            return -amt if amt < 0 else 0
        return amt if amt > 0 else 0

    def crosses(self, is_buy: bool, ticks: int) -> bool:
        book = self.book
        if is_buy:
            return bool(book.ask_prices) and book.ask_prices[0] <= ticks
        return bool(book.bid_prices) and book.bid_prices[-1] >= ticks

    def fillable(self, is_buy: bool, ticks: int, lots: int) -> bool:
        """Whether ``lots`` can fill at ``ticks`` or better right now (FOK pre-check)."""
        book = self.book
        total = 0
        if is_buy:
            for p in book.ask_prices:
                if ticks and p > ticks:
                    break
                total += book.asks[p].qty
                if total >= lots:
                    return True
        else:
            for p in reversed(book.bid_prices):
                if ticks and p < ticks:
                    break
                total += book.bids[p].qty
                if total >= lots:
                    return True
        return False

    # --- order flow ---------------------------------------------------------------------------

    def submit(self, order: Order, fok_reject: bool = True) -> None:
        """Accept a validated order, match it and rest or expire the remainder by time in force.

        Raises
        ------
        OrderRejected
            -5022 (GTX would cross) or -5021 (FOK cannot fill) -- before any state changes.
        """
        self.venue.active.add(self)
        tif = order.tif
        if tif == "GTX" and self.crosses(order.is_buy, order.price):
            raise reject(-5022)
        fok_dead = False
        if tif == "FOK" and not self.fillable(order.is_buy, order.price, order.qty):
            if fok_reject:
                raise reject(-5021)
            fok_dead = True
        self.emit(order, _T.ACCEPT)
        if fok_dead:
            self.emit(order, _T.EXPIRE)
            self._finish(order)
            return
        self.match(order)
        if order.status not in _OPEN:
            return
        if order.type == "LIMIT" and tif in _RESTING_TIF:
            if order.filled < order.qty:
                self._rest(order)
        else:
            self.emit(order, _T.EXPIRE)
            self._finish(order)

    def match(self, taker: Order) -> None:
        """Match ``taker`` against the opposite side while its price allows."""
        book = self.book
        is_buy = taker.is_buy
        if is_buy:
            levels, prices = book.asks, book.ask_prices
        else:
            levels, prices = book.bids, book.bid_prices
        limit = taker.price
        acct = taker.account
        stp = taker.stp
        taker_cap = self.reduce_cap(taker) if taker.reduce_only or (acct.hedge and taker.margin_key == 0) else -1
        while prices and taker.filled < taker.qty:
            best = prices[0] if is_buy else prices[-1]
            if limit and (best > limit if is_buy else best < limit):
                break
            queue = levels[best].orders
            while queue and taker.filled < taker.qty:
                maker = queue[0]
                if not maker.in_book:
                    queue.popleft()
                    continue
                if maker.account is acct and stp != "NONE":
                    # Self-trade prevention, decided by the taker's mode.
                    if stp == "EXPIRE_TAKER" or stp == "EXPIRE_BOTH":
                        if stp == "EXPIRE_BOTH":
                            self.close(maker, _T.EXPIRE_IN_MATCH)
                        self.close(taker, _T.EXPIRE_IN_MATCH)
                        return
                    self.close(maker, _T.EXPIRE_IN_MATCH)
                    continue
                lots = taker.qty - taker.filled
                mrem = maker.qty - maker.filled
                if mrem < lots:
                    lots = mrem
                if taker_cap >= 0:
                    if taker_cap == 0:
                        self.close(taker, _T.EXPIRE)
                        return
                    if taker_cap < lots:
                        lots = taker_cap
                if maker.reduce_only or (maker.margin_key == 0 and maker.account.hedge):
                    cap = self.reduce_cap(maker)
                    if cap == 0:
                        self.close(maker, _T.EXPIRE)
                        continue
                    if cap < lots:
                        lots = cap
                self.fill(taker, maker, best, lots)
                if taker_cap > 0:
                    taker_cap -= lots
            if not prices or (prices[0] if is_buy else prices[-1]) != best:
                continue
            if not queue:  # only dead entries were left on a level with quantity: cannot happen
                break
        if taker_cap == 0 and taker.filled < taker.qty and taker.status in _OPEN:
            self.close(taker, _T.EXPIRE)

    def fill(self, taker: Order, maker: Order, ticks: int, lots: int) -> None:
        """One trade of ``lots`` at the maker's price ``ticks``: orders, accounts, events."""
        venue = self.venue
        spec = self.spec
        now = venue.now
        self.trade_seq += 1
        tid = self.trade_seq
        if ticks != self.last_ticks:
            self.last_ticks = ticks
            venue._marks = None
        self.price_moved = True
        price = spec.price(ticks)
        notional = Decimal(ticks * lots) * spec.unit
        fee_model = venue.fee_model
        symbol = spec.symbol
        # maker side
        self.book.reduce(maker, lots)
        m_acct = maker.account
        maker.filled += lots
        maker.cum_quote += ticks * lots
        maker.update_time = now
        m_st = m_acct.states[symbol]
        add_order_margin(m_st, maker, -lots)
        m_fee = fee_model.commission(m_acct, spec, notional, True)
        m_pos = m_acct.position(spec, maker.position_side)
        m_real = apply_fill(m_acct, m_st, m_pos, maker.is_buy, lots, price, m_fee, now)
        maker.realized += m_real
        m_done = maker.filled == maker.qty
        if m_done:
            maker.in_book = False
        # taker side
        t_acct = taker.account
        taker.filled += lots
        taker.cum_quote += ticks * lots
        taker.update_time = now
        t_st = t_acct.states[symbol]
        t_fee = fee_model.commission(t_acct, spec, notional, False)
        t_pos = t_acct.position(spec, taker.position_side)
        t_real = apply_fill(t_acct, t_st, t_pos, taker.is_buy, lots, price, t_fee, now)
        taker.realized += t_real
        venue.fees_collected += m_fee + t_fee
        venue.record_fill(m_acct, maker, spec, tid, ticks, lots, m_fee, m_real, True)
        venue.record_fill(t_acct, taker, spec, tid, ticks, lots, t_fee, t_real, False)
        out = venue.out
        if venue.publish:
            out.append(
                PublicTrade(symbol=symbol, trade_id=tid, price=price, qty=spec.qty(lots), buyer_is_maker=maker.is_buy, time_ms=now)
            )
        if m_acct.emit:
            out.append(Envelope(account_id=m_acct.id, event=trade_lite(spec, maker, now, lots, ticks, tid, True)))
        self.emit(
            maker, _T.FILL if m_done else _T.PARTIAL_FILL,
            last_lots=lots, last_ticks=ticks, commission=m_fee, trade_id=tid, is_maker=True, realized=m_real,
        )
        if t_acct.emit:
            out.append(Envelope(account_id=t_acct.id, event=trade_lite(spec, taker, now, lots, ticks, tid, False)))
        t_done = taker.filled == taker.qty
        self.emit(
            taker, _T.FILL if t_done else _T.PARTIAL_FILL,
            last_lots=lots, last_ticks=ticks, commission=t_fee, trade_id=tid, is_maker=False, realized=t_real,
        )
        if m_done:
            self._finish(maker)
        if t_done:
            self._finish(taker)
        venue.touch(m_acct, m_pos)
        venue.touch(t_acct, t_pos)
        if m_st.reduce_orders:
            self.sweep_reduce_only(m_st)
        if t_st.reduce_orders:
            self.sweep_reduce_only(t_st)

    def fill_external(self, maker: Order, lots: int) -> None:
        """Fill a resting order against the real market (a ``Trade`` event): one-sided, maker fee."""
        self.venue.active.add(self)
        venue = self.venue
        spec = self.spec
        now = venue.now
        ticks = maker.price
        self.trade_seq += 1
        tid = self.trade_seq
        price = spec.price(ticks)
        self.book.reduce(maker, lots)
        acct = maker.account
        maker.filled += lots
        maker.cum_quote += ticks * lots
        maker.update_time = now
        st = acct.states[spec.symbol]
        add_order_margin(st, maker, -lots)
        fee = venue.fee_model.commission(acct, spec, Decimal(ticks * lots) * spec.unit, True)
        pos = acct.position(spec, maker.position_side)
        realized = apply_fill(acct, st, pos, maker.is_buy, lots, price, fee, now)
        maker.realized += realized
        venue.fees_collected += fee
        venue.record_fill(acct, maker, spec, tid, ticks, lots, fee, realized, True)
        done = maker.filled == maker.qty
        if done:
            maker.in_book = False
        if acct.emit:
            venue.out.append(Envelope(account_id=acct.id, event=trade_lite(spec, maker, now, lots, ticks, tid, True)))
        self.emit(
            maker, _T.FILL if done else _T.PARTIAL_FILL,
            last_lots=lots, last_ticks=ticks, commission=fee, trade_id=tid, is_maker=True, realized=realized,
        )
        if done:
            self._finish(maker)
        venue.touch(acct, pos)
        if st.reduce_orders:
            self.sweep_reduce_only(st)

    def sweep_reduce_only(self, st: SymbolState) -> None:
        """Expire resting reduce-only orders that can no longer reduce their position."""
        for order in list(st.reduce_orders.values()):
            if order.in_book and self.reduce_cap(order) == 0:
                self.close(order, _T.EXPIRE)

    # --- cancels, expiry, amendments ----------------------------------------------------------

    def expire_gtd(self, now: int) -> None:
        """Expire resting GTD orders whose goodTillDate has passed."""
        heap = self.gtd
        while heap and heap[0][0] <= now:
            _, _, order = heapq.heappop(heap)
            if order.in_book and order.tif == "GTD":
                self.close(order, _T.EXPIRE)

    def cancel_all(self, acct: Account) -> list[Order]:
        """Cancel every open order of ``acct`` in this symbol; returns them."""
        orders = [o for o in acct.open_orders.values() if o.symbol == self.spec.symbol]
        for o in orders:
            self.close(o, _T.CANCEL)
        return orders

    def amend(self, order: Order, ticks: int, lots: int) -> None:
        """Apply a validated PUT /fapi/v1/order to a resting LIMIT order."""
        self.venue.active.add(self)
        if lots <= order.filled:
            # Binance: new quantity <= executedQty cancels a partially filled order.
            self.close(order, _T.CANCEL)
            return
        if order.tif == "GTX" and ticks != order.price and self.crosses(order.is_buy, ticks):
            # Binance: a post-only amendment that would take liquidity cancels the order.
            self.close(order, _T.CANCEL)
            return
        acct = order.account
        st = acct.states[self.spec.symbol]
        old_remaining = order.qty - order.filled
        add_order_margin(st, order, -old_remaining)
        if ticks == order.price and lots < order.qty:
            self.book.reduce(order, order.qty - lots)  # same price, smaller: keeps its place
            order.qty = lots
            add_order_margin(st, order, lots - order.filled)
            order.update_time = self.venue.now
            self.emit(order, _T.AMEND)
            return
        self.book.unlink(order)  # anything else loses time priority
        order.price = ticks
        order.qty = lots
        order.update_time = self.venue.now
        self.emit(order, _T.AMEND)
        if self.crosses(order.is_buy, ticks):
            # Temporarily out of the open set while it takes liquidity, like a new taker.
            st.open_count -= 1
            acct.open_orders.pop(order.order_id, None)
            acct.open_cids.pop(order.client_order_id, None)
            st.reduce_orders.pop(order.order_id, None)
            self.match(order)
            if order.status in _OPEN:
                self._rest(order)
            return
        self.book.add(order)
        add_order_margin(st, order, lots - order.filled)
