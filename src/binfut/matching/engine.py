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
Every status change goes through the lifecycle table (:data:`binfut.matching.lifecycle.ORDER_STEPS`,
the per-transition view of ``ORDER_TRANSITIONS``).

Performance notes (this is the venue's hot path): the book, the fills and the margin aggregates are
integer ticks / lots; Decimal appears only for money (fees, PnL, wallet) and for the outputs, whose
price / quantity Decimals come from small per-engine caches.  User events are built only for accounts
with ``emit_events``; book changes are recorded only while the venue publishes depth deltas.
"""

from __future__ import annotations

import heapq
from collections import deque
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, Final

from msgspec.structs import replace as _replace

from binfut._money import E8, MONEY, div_half_even
from binfut.enums import OrderStatus
from binfut.matching.account import SIDE_INDEX, ZERO, add_order_margin, apply_fill, reject
from binfut.matching.builders import avg_price, order_event, trade_lite, wire, wire_e8
from binfut.matching.filters import to_lots, to_ticks
from binfut.matching.lifecycle import ORDER_STEPS, Transition
from binfut.matching.models import DefaultFeeModel
from binfut.matching.orderbook import Level, Order, OrderBook, add_price, drop_price
from binfut.matching.outputs import Envelope, PublicTrade
from binfut.matching.records import TradeRecord
from binfut.protocol.userevents import OrderTradeUpdate, TradeLite

if TYPE_CHECKING:
    from binfut.matching.account import Account, SymbolState
    from binfut.matching.instruments import SymbolSpec
    from binfut.matching.venue import SimulatedVenue
    from binfut.protocol.userevents import OrderUpdate

__all__ = ["SymbolEngine"]

_T: Final = Transition
# The constructors of the per-fill path as module constants: compiled, a Final name is a C static,
# where an imported name is a dictionary lookup at every use.
_Envelope: Final = Envelope
_TradeLite: Final = TradeLite
_TradeRecord: Final = TradeRecord
_OrderTradeUpdate: Final = OrderTradeUpdate
_PublicTrade: Final = PublicTrade
_struct_replace: Final = _replace
_deque_append: Final = deque.append  # called as a function: a method call looks the name up each time
_deque_popleft: Final = deque.popleft
_RESTING_TIF: Final = frozenset({"GTC", "GTD", "GTX"})
_OPEN: Final = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
_CACHE_MAX: Final = 1 << 16  # entries per conversion cache before it is cleared
# The price and quantity caches are lists indexed by ticks (in a window) and lots (from 0): compiled, a
# list item is read in a few instructions, where a dict keyed by int boxes the int, hashes it and
# compares it with the stored key.  Beyond the lists, the dicts take over.
_SPAN: Final = 1 << 14  # entries per list: 128 KB, made on the first use
_RECENTRE: Final = 1 << 10  # prices outside the window looked up before it moves to the latest one
_NEG_ZERO_E8: Final = Decimal("-0E-8")  # what quantize gives a negative fee smaller than half of E8

# status -> (new status, execution type), one table per transition (KeyError = not allowed)
_ACCEPT: Final = ORDER_STEPS[_T.ACCEPT]
_PARTIAL: Final = ORDER_STEPS[_T.PARTIAL_FILL]
_FILL: Final = ORDER_STEPS[_T.FILL]
_CANCEL: Final = ORDER_STEPS[_T.CANCEL]
_EXPIRE: Final = ORDER_STEPS[_T.EXPIRE]
_EXPIRE_IN_MATCH: Final = ORDER_STEPS[_T.EXPIRE_IN_MATCH]
_AMEND: Final = ORDER_STEPS[_T.AMEND]


def _steps(transition: Transition) -> dict[Any, tuple[OrderStatus, Any]]:
    # identity tests: hashing an Enum member runs Python code
    if transition is _T.CANCEL:
        return _CANCEL
    if transition is _T.EXPIRE:
        return _EXPIRE
    if transition is _T.EXPIRE_IN_MATCH:
        return _EXPIRE_IN_MATCH
    return ORDER_STEPS[transition]


def _cached(cache: dict[int, Decimal], key: int, unit: Decimal) -> Decimal:
    """``unit x key`` from ``cache``; computed and kept when missing (the cache is emptied when full)."""
    d = cache.get(key)
    if d is None:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        d = cache[key] = unit * key
    return d


class SymbolEngine:
    """Book and order flow of one symbol.  The venue owns it and provides the shared context.

    The venue attributes used are ``now`` (ms), ``out`` (the output list of the current command),
    ``active`` (engines touched in this step), ``touched`` (accounts whose ACCOUNT_UPDATE is due),
    ``fee_model``, ``publish``, ``fees_e8`` / ``fees_other`` (``fees_collected``), the trade-id / transaction-id counters and the
    ``on_order_closed`` hook (algo orders finishing).
    """

    __slots__ = (
        "_protos", "avgs", "band", "band_last", "book", "fee_e8", "fee_ratios", "gtd", "last_ticks", "limit_lots", "market_lots", "prev_update_id", "price_moved",
        "price_base", "price_list", "price_misses", "price_ticks", "prices", "qty_list", "qtys", "spec", "symbol", "trade_seq", "venue",
    )

    def __init__(self, spec: SymbolSpec, venue: SimulatedVenue) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.venue = venue
        self.book = OrderBook()
        self.book.track = bool(getattr(venue, "publish", True))  # the venue keeps it in step
        self.last_ticks = 0  # last trade price in ticks (0 = no trade yet)
        self.trade_seq = 0
        self.gtd: list[tuple[int, int, Order]] = []
        self.prev_update_id = 0
        self.price_moved = False
        # PERCENT_PRICE bounds in ticks by reference price: the mark (Decimal), else the last trade (ticks)
        self.band: dict[Decimal, tuple[int, int]] = {}
        self.band_last: dict[int, tuple[int, int]] = {}
        # ticks -> Decimal price (spec.price, cached): a window of _SPAN ticks from price_base, else the dict
        self.price_list: list[Decimal | None] = []
        self.price_base = 0
        self.price_misses = 0
        self.prices: dict[int, Decimal] = {}
        # lots -> Decimal quantity (spec.qty, cached): lots below _SPAN in the list, else the dict
        self.qty_list: list[Decimal | None] = []
        self.qtys: dict[int, Decimal] = {}
        # ORDER_TRADE_UPDATE "o" of an order's first event, by the fields orders share (see _order_out)
        self._protos: dict[tuple[Any, ...], OrderUpdate] = {}
        self.avgs: dict[int, Decimal] = {}  # ticks -> average price of orders filled all at that price
        # validated order parameters by value: Decimal quantity -> lots, Decimal price -> ticks
        self.limit_lots: dict[Decimal, int] = {}
        self.market_lots: dict[Decimal, int] = {}
        self.price_ticks: dict[Decimal, int] = {}
        # commission rate -> (num, den): fee in units of E8 = units x num / den (see fee)
        self.fee_ratios: dict[Decimal, tuple[int, int]] = {}
        self.fee_e8 = 0  # the last fee() in units of E8

    # --- conversions ----------------------------------------------------------------------------

    def price(self, ticks: int) -> Decimal:
        """``spec.price(ticks)``, cached (Decimals are immutable, so sharing them is safe)."""
        i = ticks - self.price_base
        window = self.price_list
        if 0 <= i < len(window):  # (not a shared helper: the extra call per lookup costs 0.5 % of a command)
            d = window[i]
            if d is None:
                d = window[i] = self.spec.tick_size * ticks
            return d
        if not ticks:  # no price (events of orders that have not traded): never a reason to move the window
            return self.spec.zero_price
        if not window or self.price_misses >= _RECENTRE:  # the first price, or the market moved away
            self.price_base = ticks - (_SPAN >> 1)
            self.price_list = [None] * _SPAN
            self.price_misses = 0
            return self.price(ticks)
        self.price_misses += 1
        return _cached(self.prices, ticks, self.spec.tick_size)

    def qty(self, lots: int) -> Decimal:
        """``spec.qty(lots)``, cached."""
        small = self.qty_list
        if 0 <= lots < len(small):
            d = small[lots]
            if d is None:
                d = small[lots] = self.spec.step_size * lots
            return d
        if not small and 0 <= lots < _SPAN:
            self.qty_list = [None] * _SPAN
            return self.qty(lots)
        return _cached(self.qtys, lots, self.spec.step_size)

    def lots(self, qty: Decimal, market: bool = False) -> int:
        """:func:`~binfut.matching.filters.to_lots` for this symbol, cached by value (errors are not)."""
        cache = self.market_lots if market else self.limit_lots
        try:
            lots = cache.get(qty)
        except TypeError:  # a signalling NaN cannot be hashed
            return to_lots(self.spec, qty, market)
        if lots is None:
            lots = to_lots(self.spec, qty, market)
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[qty] = lots
        return lots

    def ticks(self, price: Decimal) -> int:
        """:func:`~binfut.matching.filters.to_ticks` of a limit price, cached by value."""
        cache = self.price_ticks
        try:
            ticks = cache.get(price)
        except TypeError:
            return to_ticks(self.spec, price)
        if ticks is None:
            ticks = to_ticks(self.spec, price)
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[price] = ticks
        return ticks

    def fee(self, rate: Decimal, units: int) -> Decimal:
        """``(unit x units x rate).quantize(E8, ROUND_HALF_EVEN)`` (the default fee model), in integers.

        The same Decimal, coefficient, exponent and sign of zero included; what it saves is the
        notional's Decimal and the multiplication and quantize of two Decimals per side of a fill.
        """
        ratio = self.fee_ratios.get(rate)
        if ratio is None:
            if len(self.fee_ratios) >= _CACHE_MAX:
                self.fee_ratios.clear()
            ratio = self.fee_ratios[rate] = (self.spec.unit * rate).scaleb(8, MONEY).as_integer_ratio()
        n = units * ratio[0]
        q = self.fee_e8 = div_half_even(n, ratio[1])
        # a negative zero as quantize leaves it; -0 and 0 share a cache entry, so a zero rate's sign is read
        if not q and (n < 0 or (not n and rate.is_signed())):
            return _NEG_ZERO_E8
        return E8 * q

    def price_band(self, mark: Decimal | None) -> tuple[int, int] | None:
        """PERCENT_PRICE bounds in ticks for the current mark (None without a mark), cached."""
        cache: dict[Any, tuple[int, int]] = self.band if mark is not None else self.band_last
        key: Any = mark if mark is not None else self.last_ticks
        band = cache.get(key)
        if band is not None:
            return band
        if mark is None:
            if not self.last_ticks:
                return None
            mark = self.price(self.last_ticks)
        spec = self.spec
        hi = int((mark * spec.multiplier_up * spec.inv_tick).to_integral_value(rounding=ROUND_FLOOR))
        lo = int((mark * spec.multiplier_down * spec.inv_tick).to_integral_value(rounding=ROUND_CEILING))
        if len(cache) >= 4096:
            cache.clear()
        band = cache[key] = (lo, hi)
        return band

    # --- helpers ------------------------------------------------------------------------------

    def _order_out(
        self, order: Order, exec_type: str, acct: Account, last_lots: int = 0, last_ticks: int = 0,
        commission: Decimal | None = None, trade_id: int = 0, is_maker: bool = False, realized: Decimal = ZERO,
    ) -> None:
        """Queue the ORDER_TRADE_UPDATE of ``order`` (its account emits events).

        The same Struct as :func:`~binfut.matching.builders.order_event` builds, made by copying the
        order's previous one with the fields that can change (or, for an order's first event, a
        per-symbol prototype with the order's own fields): far fewer keyword arguments per event.
        """
        st = acct.states[self.symbol]
        u = st.units
        ub = u[1] + u[3]
        ua = u[2] + u[4]
        notionals = st.notionals
        if notionals[0] != ub or notionals[1] != ua:  # recompute the side that changed (usually one)
            unit = self.spec.unit
            notionals = st.notionals = (
                ub, ua, notionals[2] if notionals[0] == ub else unit * ub, notionals[3] if notionals[1] == ua else unit * ua,
            )
        bids = notionals[2]
        asks = notionals[3]
        venue = self.venue
        now: Any = venue.now  # boxed once: it goes into up to three fields (compiled)
        prev = order.upd
        filled = order.filled
        if prev is not None:
            if not filled:
                avg = self.spec.zero_price
            elif order.cum_quote % filled:
                avg = avg_price(self.spec, order)
            else:  # every fill at one price (the usual case): the average is that price
                at = order.cum_quote // filled
                cached = self.avgs.get(at)
                if cached is None:
                    if len(self.avgs) >= _CACHE_MAX:
                        self.avgs.clear()
                    cached = self.avgs[at] = avg_price(self.spec, order)
                avg = cached
            upd = _struct_replace(
                prev,
                average_price=avg,
                execution_type=exec_type,
                order_status=order.status,
                last_filled_quantity=self.qty(last_lots),
                filled_accumulated_quantity=self.qty(filled),
                last_filled_price=self.price(last_ticks),
                commission_asset=self.spec.margin_asset if commission is not None else None,
                commission=wire(commission) if commission is not None else None,
                order_trade_time_ms=now,
                trade_id=trade_id,
                bids_notional=bids,
                asks_notional=asks,
                is_maker=is_maker,
                realized_profit=wire_e8(realized),
            )
        elif (
            not filled and not last_lots and not last_ticks and commission is None and not trade_id and not is_maker
            and not realized and order.stop_price is None and order.callback_rate is None
        ):
            # an order's first event (acceptance) -- nothing filled, none of the algo-order fields.  Made
            # from a prototype of the orders of the same kind, so only the order's own fields are set:
            # msgspec finds each keyword by a scan of the 36 fields.
            shape: tuple[Any, ...]
            if (
                not order.reduce_only and order.orig_type == order.type and order.position_side == "BOTH" and order.stp == "NONE"
                and order.price_match == "NONE" and not order.good_till_date and order.working_type == "CONTRACT_PRICE"
                and not order.close_position and not order.price_protect
            ):  # the usual order: the other fields have their defaults (a key of another length)
                shape = (order.side, order.type, order.tif, exec_type, order.status)
            else:
                shape = (
                    order.side, order.type, order.tif, exec_type, order.status, order.reduce_only, order.orig_type,
                    order.position_side, order.stp, order.price_match, order.good_till_date, order.working_type,
                    order.close_position, order.price_protect,
                )
            proto = self._protos.get(shape)
            if proto is None:
                if len(self._protos) >= _CACHE_MAX:
                    self._protos.clear()
                proto = self._protos[shape] = order_event(
                    self.spec, order, exec_type, now, bids, asks, qty=self.qty, price=self.price,
                ).order
            upd = _struct_replace(
                proto,
                client_order_id=order.client_order_id,
                original_quantity=self.qty(order.qty),
                original_price=self.price(order.price),
                order_id=order.order_id,
                order_trade_time_ms=now,
                bids_notional=bids,
                asks_notional=asks,
            )
        else:
            upd = order_event(
                self.spec, order, exec_type, now, bids, asks, last_lots, last_ticks, commission, trade_id, is_maker,
                realized, self.qty, self.price,
            ).order
        order.upd = upd
        venue.out.append(_Envelope(account_id=acct.id, event=_OrderTradeUpdate(event_time_ms=now, transaction_time_ms=now, order=upd)))

    def emit(
        self, order: Order, transition: Transition, last_lots: int = 0, last_ticks: int = 0,
        commission: Decimal | None = None, trade_id: int = 0, is_maker: bool = False, realized: Decimal = ZERO,
    ) -> None:
        """Apply ``transition`` to ``order`` and queue its ORDER_TRADE_UPDATE (if the account emits)."""
        status, exec_type = _steps(transition)[order.status]
        order.status = status
        acct = order.account
        if acct.emit:
            self._order_out(order, exec_type, acct, last_lots, last_ticks, commission, trade_id, is_maker, realized)

    def _rest(self, order: Order) -> None:
        acct = order.account
        st = acct.states[self.symbol]
        # OrderBook.add, inlined
        book = self.book
        price = order.price
        remaining = order.qty - order.filled
        if order.is_buy:
            levels, prices, changed = book.bids, book.bid_prices, book.changed_bids
        else:
            levels, prices, changed = book.asks, book.ask_prices, book.changed_asks
        key_o: Any = price  # boxed once for the three keyed uses (compiled)
        lvl = levels.get(key_o)
        if lvl is None:
            lvl = levels[key_o] = Level(price)
            add_price(prices, price, order.is_buy)
        _deque_append(lvl.orders, order)
        order.in_book = True
        lvl.qty += remaining
        if book.track:
            changed.add(key_o)
        book.update_id += 1
        oid: Any = order.order_id
        acct.open_orders[oid] = order
        acct.open_cids[order.client_order_id] = order
        st.open_count += 1
        key = order.margin_key
        if key:
            st.lots[key] += remaining
            st.units[key] += remaining * price
            st.om = None
        if order.reduce_only or key == 0 and acct.hedge:
            st.reduce_orders[oid] = order
        if order.tif == "GTD":
            heapq.heappush(self.gtd, (order.good_till_date, oid, order))

    def _finish(self, order: Order) -> None:
        """Book-keeping of an order that just reached a terminal status."""
        acct = order.account
        venue = self.venue
        order.update_time = venue.now
        order.upd = None  # no further events: do not keep the last one alive in the history
        if order.in_book:
            self.book.remove(order)
        oid: Any = order.order_id  # boxed once for its keyed uses (compiled)
        open_orders = acct.open_orders
        if oid in open_orders:
            st = acct.states[self.symbol]
            st.open_count -= 1
            add_order_margin(st, order, order.filled - order.qty)
            if st.reduce_orders:
                st.reduce_orders.pop(oid, None)
            # Account.close_order, inlined
            del open_orders[oid]
            cid = order.client_order_id
            if acct.open_cids.get(cid) is order:
                del acct.open_cids[cid]
        closed = acct.closed  # Account.remember_closed, inlined
        closed[oid] = order
        _deque_append(acct.closed_ids, oid)
        if len(closed) > acct.history:
            closed.pop(_deque_popleft(acct.closed_ids), None)
        if order.algo is not None:
            venue.on_order_closed(order)

    def close(self, order: Order, transition: Transition = _T.CANCEL) -> None:
        """Cancel / expire an open order (CANCEL, EXPIRE or EXPIRE_IN_MATCH)."""
        self.venue.active[self] = None
        status, exec_type = _steps(transition)[order.status]
        order.status = status
        acct = order.account
        if acct.emit:
            self._order_out(order, exec_type, acct)
        self._finish(order)

    def reduce_cap(self, order: Order) -> int:
        """Lots a reduce-only / closing order may still fill (the opposite position's size)."""
        pos = order.account.positions.get((self.symbol, order.position_side))
        if pos is None:
            return 0
        amt = pos.amount
        if order.is_buy:
            return -amt if amt < 0 else 0
        return amt if amt > 0 else 0

    def crosses(self, is_buy: bool, ticks: int) -> bool:
        book = self.book
        if is_buy:
            return bool(book.ask_prices) and book.ask_prices[-1] <= ticks
        return bool(book.bid_prices) and book.bid_prices[-1] >= ticks

    def fillable(self, is_buy: bool, ticks: int, lots: int) -> bool:
        """Whether ``lots`` can fill at ``ticks`` or better right now (FOK pre-check)."""
        book = self.book
        total = 0
        if is_buy:
            for p in reversed(book.ask_prices):
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
        self.venue.active[self] = None
        tif = order.tif
        fok_dead = False
        if tif != "GTC":
            if tif == "GTX" and self.crosses(order.is_buy, order.price):
                raise reject(-5022)
            if tif == "FOK" and not self.fillable(order.is_buy, order.price, order.qty):
                if fok_reject:
                    raise reject(-5021)
                fok_dead = True
        status, exec_type = _ACCEPT[order.status]
        order.status = status
        acct = order.account
        if acct.emit:
            self._order_out(order, exec_type, acct)
        if fok_dead:
            self.close(order, _T.EXPIRE)
            return
        # match() only when something can trade (or a reduce-only order may have to expire there)
        book = self.book
        limit = order.price
        if order.is_buy:
            go = bool(book.ask_prices) and (not limit or book.ask_prices[-1] <= limit)
        else:
            go = bool(book.bid_prices) and (not limit or book.bid_prices[-1] >= limit)
        if go or order.reduce_only or (acct.hedge and order.margin_key == 0):
            self.match(order)
            if order.status not in _OPEN:
                return
        if order.type == "LIMIT" and tif in _RESTING_TIF:
            if order.filled < order.qty:
                self._rest(order)
        else:
            self.close(order, _T.EXPIRE)

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
        qty = taker.qty
        taker_cap = self.reduce_cap(taker) if taker.reduce_only or (acct.hedge and taker.margin_key == 0) else -1
        while prices and taker.filled < qty:
            best = prices[-1]  # either side's best price is last
            if limit and (best > limit if is_buy else best < limit):
                break
            queue = levels[best].orders
            while queue and taker.filled < qty:
                maker = queue[0]
                if not maker.in_book:
                    queue.popleft()
                    continue
                if stp != "NONE" and maker.account is acct:
                    # Self-trade prevention, decided by the taker's mode.
                    if stp == "EXPIRE_TAKER" or stp == "EXPIRE_BOTH":
                        if stp == "EXPIRE_BOTH":
                            self.close(maker, _T.EXPIRE_IN_MATCH)
                        self.close(taker, _T.EXPIRE_IN_MATCH)
                        return
                    self.close(maker, _T.EXPIRE_IN_MATCH)
                    continue
                lots = qty - taker.filled
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
            if not prices or prices[-1] != best:
                continue
            if not queue:  # only dead entries were left on a level with quantity: cannot happen
                break
        if taker_cap == 0 and taker.filled < qty and taker.status in _OPEN:
            self.close(taker, _T.EXPIRE)

    def fill(self, taker: Order, maker: Order, ticks: int, lots: int) -> None:
        """One trade of ``lots`` at the maker's price ``ticks``: orders, accounts, events."""
        venue = self.venue
        spec = self.spec
        symbol = self.symbol
        now = venue.now
        tid = self.trade_seq = self.trade_seq + 1
        # The numbers used as keys and put into several rows and events, boxed once (compiled, each such
        # use of a native int would box it anew).
        now_o: Any = now
        tid_o: Any = tid
        ticks_o: Any = ticks
        lots_o: Any = lots
        price = self.price(ticks)
        if ticks != self.last_ticks:
            self.last_ticks = ticks
            venue.last_price_moved(symbol, price)
        self.price_moved = True
        units = ticks * lots
        fee_model = venue.fee_model
        default_fees = type(fee_model) is DefaultFeeModel
        # maker side: take the lots off its level (OrderBook.reduce, inlined)
        book = self.book
        m_buy = maker.is_buy
        if m_buy:
            levels, changed = book.bids, book.changed_bids
        else:
            levels, changed = book.asks, book.changed_asks
        lvl = levels[ticks_o]
        lvl.qty -= lots
        if book.track:
            changed.add(ticks_o)
        book.update_id += 1
        if not lvl.qty:
            del levels[ticks_o]
            drop_price(book.bid_prices if m_buy else book.ask_prices, ticks, m_buy)
        m_acct = maker.account
        maker.filled += lots
        maker.cum_quote += units
        maker.update_time = now
        m_st = m_acct.states[symbol]
        key = maker.margin_key
        if key:
            m_st.lots[key] -= lots
            m_st.units[key] -= units
            m_st.om = None
        if default_fees:
            m_fee = self.fee(m_acct.maker_rate, units)
            m_fee_e8 = self.fee_e8
        else:
            m_fee = fee_model.commission(m_acct, spec, spec.unit * units, True)
        m_pos = maker.pos
        if m_pos is None:  # the order's first fill: its position by side index, created on the account's first
            m_pos = maker.pos = m_st.sides[SIDE_INDEX[maker.position_side]] or m_acct.position(spec, maker.position_side)
        m_real = apply_fill(m_acct, m_st, m_pos, m_buy, lots, ticks, price, m_fee, now)
        m_done = maker.filled == maker.qty
        if m_done:
            maker.in_book = False
        # taker side
        t_acct = taker.account
        taker.filled += lots
        taker.cum_quote += units
        taker.update_time = now
        t_st = t_acct.states[symbol]
        if default_fees:
            t_fee = self.fee(t_acct.taker_rate, units)
            venue.fees_e8 += m_fee_e8 + self.fee_e8  # fees_collected in integers (both sides came from fee())
        else:
            t_fee = fee_model.commission(t_acct, spec, spec.unit * units, False)
            venue.fees_other += m_fee + t_fee
        t_pos = taker.pos
        if t_pos is None:
            t_pos = taker.pos = t_st.sides[SIDE_INDEX[taker.position_side]] or t_acct.position(spec, taker.position_side)
        t_real = apply_fill(t_acct, t_st, t_pos, taker.is_buy, lots, ticks, price, t_fee, now)
        # trade records, each with the transaction id of its income rows (SimulatedVenue.record_fill, inlined)
        m_tran = venue.fill_tran_id(m_real, m_fee)
        t_tran = venue.fill_tran_id(t_real, t_fee)
        _deque_append(m_acct.trades, _TradeRecord(tid_o, symbol, maker.order_id, maker.side, ticks_o, lots_o, m_real, m_fee, now_o, maker.position_side, True, m_tran))
        _deque_append(t_acct.trades, _TradeRecord(tid_o, symbol, taker.order_id, taker.side, ticks_o, lots_o, t_real, t_fee, now_o, taker.position_side, False, t_tran))
        # outputs
        out = venue.out
        if venue._publish:
            out.append(_PublicTrade(
                symbol=symbol, trade_id=tid_o, price=price, qty=self.qty(lots),
                buyer_is_maker=m_buy, time_ms=now_o,
            ))
        status, exec_type = (_FILL if m_done else _PARTIAL)[maker.status]
        maker.status = status
        if m_acct.emit or t_acct.emit:
            qty = self.qty(lots)
        if m_acct.emit:
            out.append(_Envelope(account_id=m_acct.id, event=_TradeLite(  # builders.trade_lite, inlined
                event_time_ms=now_o, transaction_time_ms=now_o, symbol=symbol,
                original_quantity=self.qty(maker.qty), original_price=price, is_maker=True,
                client_order_id=maker.client_order_id, side=maker.side, last_filled_price=price, last_filled_quantity=qty,
                trade_id=tid_o, order_id=maker.order_id,
            )))
            self._order_out(maker, exec_type, m_acct, lots, ticks, m_fee, tid, True, m_real)
        t_done = taker.filled == taker.qty
        status, exec_type = (_FILL if t_done else _PARTIAL)[taker.status]
        taker.status = status
        if t_acct.emit:
            out.append(_Envelope(account_id=t_acct.id, event=_TradeLite(
                event_time_ms=now_o, transaction_time_ms=now_o, symbol=symbol,
                original_quantity=self.qty(taker.qty),
                original_price=self.price(taker.price), is_maker=False,
                client_order_id=taker.client_order_id, side=taker.side, last_filled_price=price, last_filled_quantity=qty,
                trade_id=tid_o, order_id=taker.order_id,
            )))
            self._order_out(taker, exec_type, t_acct, lots, ticks, t_fee, tid, False, t_real)
        if m_done:
            self._finish(maker)
        if t_done:
            self._finish(taker)
        # SimulatedVenue.touch, inlined: ACCOUNT_UPDATEs are due at the end of the step
        if m_acct.emit or t_acct.emit:
            touched = venue.touched
            if m_acct.emit:
                d = touched.get(m_acct)
                if d is None:
                    d = touched[m_acct] = {}
                d[id(m_pos)] = m_pos
            if t_acct.emit:
                d = touched.get(t_acct)
                if d is None:
                    d = touched[t_acct] = {}
                d[id(t_pos)] = t_pos
        if m_st.reduce_orders:
            self.sweep_reduce_only(m_st)
        if t_st.reduce_orders:
            self.sweep_reduce_only(t_st)

    def fill_external(self, maker: Order, lots: int) -> None:
        """Fill a resting order against the real market (a ``Trade`` event): one-sided, maker fee."""
        venue = self.venue
        venue.active[self] = None
        spec = self.spec
        now = venue.now
        ticks = maker.price
        self.trade_seq += 1
        tid = self.trade_seq
        price = self.price(ticks)
        self.book.reduce(maker, lots)
        acct = maker.account
        maker.filled += lots
        maker.cum_quote += ticks * lots
        maker.update_time = now
        st = acct.states[self.symbol]
        add_order_margin(st, maker, -lots)
        fee = venue.fee_model.commission(acct, spec, spec.unit * (ticks * lots), True)
        pos = acct.position(spec, maker.position_side)
        realized = apply_fill(acct, st, pos, maker.is_buy, lots, ticks, price, fee, now)
        venue.fees_other += fee
        venue.record_fill(acct, maker, spec, tid, ticks, lots, fee, realized, True)
        done = maker.filled == maker.qty
        if done:
            maker.in_book = False
        if acct.emit:
            venue.out.append(Envelope(account_id=acct.id, event=trade_lite(spec, maker, now, lots, ticks, tid, True, self.qty, self.price)))
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
        orders = [o for o in acct.open_orders.values() if o.symbol == self.symbol]
        for o in orders:
            self.close(o, _T.CANCEL)
        return orders

    def amend(self, order: Order, ticks: int, lots: int) -> None:
        """Apply a validated PUT /fapi/v1/order to a resting LIMIT order."""
        self.venue.active[self] = None
        if lots <= order.filled:
            # Binance: new quantity <= executedQty cancels a partially filled order.
            self.close(order, _T.CANCEL)
            return
        if order.tif == "GTX" and ticks != order.price and self.crosses(order.is_buy, ticks):
            # Binance: a post-only amendment that would take liquidity cancels the order.
            self.close(order, _T.CANCEL)
            return
        acct = order.account
        st = acct.states[self.symbol]
        order.upd = None  # quantity / price change: the next event is built from scratch
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
