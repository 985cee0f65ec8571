"""Accounts: wallet, positions, leverage and margin type, margin maths, PnL, funding, liquidation price.

Owns :class:`Account`, :class:`Position` and :class:`SymbolState` and every formula of USD-M margin:

* initial margin = notional / leverage, for positions (at mark) and open orders;
* maintenance margin = notional x maintenance rate - maintenance amount (``cum``) of the bracket;
* unrealized PnL = (mark - entry) x signed size; margin balance = wallet + unrealized PnL;
* available balance = cross wallet + cross uPnL - cross position IM - open-order IM;
* liquidation price, Binance's single-symbol formula (FAQ "How to calculate liquidation price"):
  ``LP = (WB - TMM1 + UPNL1 + cumB + cumL + cumS - Side1 x Pos1 x EP1 - PosL x EPL + PosS x EPS)
  / (Pos1 x MMR_B + PosL x MMR_L + PosS x MMR_S - Side1 x Pos1 - PosL + PosS)``.

Rule kept here: money is ``Decimal`` (8 decimal places for wallet movements), sizes are integer lots,
a position's entry is integer ticks and 1E-8 of a tick (``ENTRY_SUB``, rounded half to even at each increase);
functions named ``check_*`` only read and raise, functions named ``apply_*`` mutate, so a rejected
command never reaches an ``apply_*``.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Final

from binfut._money import E8, div_half_even
from binfut.enums import IncomeType
from binfut.errors import API_ERRORS, ApiError, default_message
from binfut.matching.instruments import ENTRY_SUB
from binfut.matching.records import IncomeRecord, TradeRecord

if TYPE_CHECKING:
    from binfut.matching.instruments import Bracket, SymbolSpec
    from binfut.matching.orderbook import Order

__all__ = [
    "Account",
    "Position",
    "SymbolState",
    "apply_fill",
    "available_balance",
    "available_floor",
    "check_order_margin",
    "cross_totals",
    "liquidation_price",
    "maint_margin",
    "order_margin",
    "reject",
]

ZERO: Final = Decimal(0)

# margin buckets of an open order (Order.margin_key); closing / reduce-only orders need none
NO_MARGIN: Final = 0
BUY_BOTH: Final = 1
SELL_BOTH: Final = 2
BUY_LONG: Final = 3
SELL_SHORT: Final = 4


def reject(code: int, msg: str | None = None) -> ApiError:
    """The exception Binance answers ``code`` with (class from ``API_ERRORS``, Binance's text)."""
    cls = API_ERRORS.get(code, ApiError)
    return cls(code, msg or default_message(code))


class SymbolState:
    """Per account and symbol: leverage, margin type, open-order counts and margin aggregates.

    Caches (derived, never authoritative): ``om`` is ``(hedge, total, buy side, sell side)``, the
    notional units the open orders hold margin for (before ``x unit / leverage``), reset by every change
    of ``lots`` / ``units`` or of the position; ``cap`` is ``(leverage, maxNotionalValue, the same in
    whole units of tick x step, rounded down)``; ``sides`` holds the symbol's positions by side (BOTH,
    LONG, SHORT; None until created); ``notionals`` the Decimal bid / ask notionals of the open orders
    with the unit counts they were computed from.
    """

    __slots__ = (
        "algo_count", "cap", "isolated", "leverage", "lots", "notionals", "om", "open_count", "reduce_orders", "sides", "units",
    )

    def __init__(self, leverage: int) -> None:
        self.leverage = leverage
        self.isolated = False
        self.open_count = 0
        self.algo_count = 0
        # indexed by margin bucket: remaining lots and ticks x lots of open orders
        self.lots = [0, 0, 0, 0, 0]
        self.units = [0, 0, 0, 0, 0]
        # resting orders that may only reduce (reduceOnly, or closing in hedge mode)
        self.reduce_orders: dict[int, Order] = {}
        self.om: tuple[bool, Decimal, Decimal, Decimal] | None = None
        self.cap: tuple[int, Decimal, int] = (0, ZERO, 0)
        self.sides: list[Position | None] = [None, None, None]
        # (bid units, ask units, bid notional, ask notional) of the open orders, for the "b" / "a" event fields
        self.notionals: tuple[int, int, Decimal, Decimal] = (-1, -1, ZERO, ZERO)


SIDE_INDEX: Final = {"BOTH": 0, "LONG": 1, "SHORT": 2}  # SymbolState.sides
# _MUL: compiled, a product of ints takes a slow path (both boxed, a generic multiply) unless both
# factors are non-negative and below 2**30, however small the product.  The margin checks run on
# order-unit sums past that bound, so they multiply by 1, or by a negative factor, only when they must.


class Position:
    """One position (``BOTH`` in one-way mode, ``LONG`` / ``SHORT`` in hedge mode).

    ``amount`` is signed lots (a SHORT hedge position is negative, as Binance shows it).  The average
    entry price is ``entry_ticks + entry_frac / ENTRY_SUB`` ticks (both 0 when flat); :attr:`entry` is
    its Decimal.
    """

    __slots__ = (
        "amount", "entry_dec", "entry_frac", "entry_ticks", "fees", "isolated_wallet", "mark_int", "realized", "side", "spec",
        "update_time",
    )

    def __init__(self, spec: SymbolSpec, side: str) -> None:
        self.spec = spec
        self.side = side
        self.amount = 0
        self.entry_ticks = 0
        self.entry_frac = 0
        self.entry_dec: Decimal | None = ZERO  # the Decimal of the entry, None once it moved (derived)
        self.isolated_wallet = ZERO
        self.realized = ZERO  # accumulated realized PnL (pre-fee), ACCOUNT_UPDATE "cr"
        self.fees = ZERO  # commission paid while opening the current position (break-even price)
        self.update_time = 0
        self.mark_int: tuple[Decimal, int] = (ZERO, 0)  # available_floor's int() of the mark it last saw (derived)

    @property
    def entry(self) -> Decimal:
        """The average entry price (0 when flat)."""
        entry = self.entry_dec
        if entry is None:
            entry = self.entry_dec = self.spec.entry_price(self.entry_ticks, self.entry_frac) if self.amount else ZERO
        return entry

    @property
    def size(self) -> Decimal:
        """Absolute size in base asset."""
        return self.spec.step_size * abs(self.amount)

    def unrealized(self, mark: Decimal) -> Decimal:
        if not self.amount:
            return ZERO
        return (mark - self.entry) * self.amount * self.spec.step_size

    def breakeven(self) -> Decimal:
        """Entry price moved by the opening commission per unit (0 when flat)."""
        if not self.amount:
            return ZERO
        per_unit = self.fees / self.size
        entry = self.entry
        return entry + per_unit if self.amount > 0 else entry - per_unit


class Account:
    """One venue account (a user, or a simulated participant such as a market-making bot).

    Parameters
    ----------
    account_id : the key commands are executed under
    balances : initial wallet balances per asset (USDT is the margin asset)
    unlimited : skip margin checks and never liquidate (for market-maker bots); PnL still accrues
    emit_events : build user-data events for this account (bots usually do not need them)
    maker_rate, taker_rate : commission rates (Binance default 0.02% / 0.05%)
    default_leverage : leverage of symbols never set with ChangeLeverage (Binance: 20)
    history : how many closed orders / trades / income rows to keep for queries
    """

    __slots__ = (
        "algo_cids",
        "algos",
        "algos_closed",
        "balances",
        "closed",
        "closed_ids",
        "countdowns",
        "default_leverage",
        "emit",
        "hedge",
        "history",
        "id",
        "income",
        "margin_call",
        "maker_rate",
        "open_cids",
        "open_orders",
        "positions",
        "states",
        "taker_rate",
        "trades",
        "unlimited",
        "wallet_int",
    )

    def __init__(
        self,
        account_id: str,
        balances: dict[str, Decimal] | None = None,
        *,
        unlimited: bool = False,
        emit_events: bool = True,
        maker_rate: Decimal = Decimal("0.0002"),
        taker_rate: Decimal = Decimal("0.0005"),
        default_leverage: int = 20,
        history: int = 10_000,
    ) -> None:
        self.id = account_id
        self.balances: dict[str, Decimal] = {"USDT": ZERO}
        self.balances.update({k: Decimal(v) for k, v in (balances or {}).items()})
        self.unlimited = unlimited
        self.emit = emit_events
        self.maker_rate = maker_rate
        self.taker_rate = taker_rate
        self.default_leverage = default_leverage
        self.hedge = False
        self.history = history
        self.positions: dict[tuple[str, str], Position] = {}  # (symbol, BOTH / LONG / SHORT)
        self.states: dict[str, SymbolState] = {}
        self.open_orders: dict[int, Order] = {}
        self.open_cids: dict[str, Order] = {}
        # the last ``history`` closed orders by id; closed_ids holds their ids oldest first, so the
        # oldest is evicted in O(1) (finding it in the dict would scan the slots of those evicted before)
        self.closed: dict[int, Order] = {}
        self.closed_ids: deque[int] = deque()
        self.algos: dict[int, Any] = {}
        self.algo_cids: dict[str, Any] = {}
        self.algos_closed: OrderedDict[int, Any] = OrderedDict()
        self.trades: deque[TradeRecord] = deque(maxlen=history)
        self.income: deque[IncomeRecord] = deque(maxlen=history)
        self.countdowns: dict[str, tuple[int, int]] = {}
        self.margin_call = False
        self.wallet_int: tuple[Decimal, int] = (ZERO, 0)  # available_floor's int() of the wallet (derived)

    def state(self, symbol: str) -> SymbolState:
        st = self.states.get(symbol)
        if st is None:
            st = self.states[symbol] = SymbolState(self.default_leverage)
        return st

    def position(self, spec: SymbolSpec, side: str) -> Position:
        key = (spec.symbol, side)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(spec, side)
            self.state(spec.symbol).sides[SIDE_INDEX[side]] = pos
        return pos

    def wallet(self, asset: str = "USDT") -> Decimal:
        return self.balances.get(asset, ZERO)

    def isolated_total(self) -> Decimal:
        return sum((p.isolated_wallet for p in self.positions.values()), ZERO)

    def cross_wallet(self) -> Decimal:
        return self.balances.get("USDT", ZERO) - self.isolated_total()

    def close_order(self, order: Order) -> None:
        """Move a closed order from the open set to the bounded history."""
        del self.open_orders[order.order_id]
        if self.open_cids.get(order.client_order_id) is order:
            del self.open_cids[order.client_order_id]
        self.remember_closed(order)

    def remember_closed(self, order: Order) -> None:
        """Keep a closed order in the history, evicting the oldest beyond ``history`` orders."""
        closed = self.closed
        closed[order.order_id] = order
        self.closed_ids.append(order.order_id)
        if len(closed) > self.history:
            closed.pop(self.closed_ids.popleft(), None)

    def add_income(self, time: int, symbol: str, kind: IncomeType, amount: Decimal, info: str, tran_id: int) -> None:
        self.income.append(IncomeRecord(time, symbol, kind, amount, "USDT", info, tran_id))

    def income_records(self) -> list[IncomeRecord]:
        """Every income row kept, oldest first: the movements in ``income`` and the fills' own rows.

        A fill's REALIZED_PNL / COMMISSION rows are made from its record in ``trades``, so they are
        kept as long as the trade is (the last ``history`` trades); other movements, the last
        ``history`` of them.  Merged by transaction id, the order they happened in.
        """
        fills = [row for t in self.trades if t.tran_id for row in t.income_rows()]
        if not fills:
            return list(self.income)
        return list(heapq.merge(self.income, fills, key=_tran_id))


def _tran_id(row: IncomeRecord) -> int:
    return row.tran_id


# --- margin ------------------------------------------------------------------------------------


def maint_margin(pos: Position, mark: Decimal) -> tuple[Decimal, Bracket]:
    """Maintenance margin of ``pos`` at ``mark`` and the bracket used (by notional)."""
    notional = pos.size * mark
    br = pos.spec.bracket_for(notional)
    if not pos.amount:
        return ZERO, br
    return notional * br.maint_margin_ratio - br.maint_amount, br


def _side_margin(lots: int, units: int, closable: int) -> Decimal:
    """Notional units of one order side beyond what merely closes the opposite position."""
    if lots <= 0:
        return ZERO
    opening = lots - closable
    if opening <= 0:
        return ZERO
    if opening >= lots:
        return Decimal(units)
    return Decimal(units) * opening / lots  # average price of the side x opening lots


def _side_ratio(lots: int, units: int, closable: int) -> tuple[int, int]:
    """:func:`_side_margin` as an exact ratio ``(numerator, denominator)`` of integers."""
    if lots <= 0:
        return 0, 1
    opening = lots - closable
    if opening <= 0:
        return 0, 1
    if opening >= lots:
        return units, 1
    return units * opening, lots


def _order_parts(acct: Account, st: SymbolState, lots: list[int], units: list[int]) -> tuple[Decimal, Decimal]:
    """``(buy, sell)`` notional units each side's open orders hold margin for (hedge: both in ``buy``)."""
    if acct.hedge:
        return Decimal(units[BUY_LONG] + units[SELL_SHORT]), ZERO
    pos = st.sides[0]  # the BOTH position
    amt = pos.amount if pos is not None else 0
    buy = _side_margin(lots[BUY_BOTH], units[BUY_BOTH], -amt if amt < 0 else 0)
    sell = _side_margin(lots[SELL_BOTH], units[SELL_BOTH], amt if amt > 0 else 0)
    return buy, sell


def _om(acct: Account, st: SymbolState) -> tuple[bool, Decimal, Decimal, Decimal]:
    """``st.om``, refreshed: ``(hedge, total, buy, sell)`` notional units of the open orders."""
    om = st.om
    if om is None or om[0] is not acct.hedge:
        buy, sell = _order_parts(acct, st, st.lots, st.units)
        om = st.om = (acct.hedge, buy if buy > sell else sell, buy, sell)
    return om


def order_margin(
    acct: Account, spec: SymbolSpec, st: SymbolState, extra: tuple[int, int, int] | None = None
) -> Decimal:
    """Initial margin held by the open orders of one symbol.

    One-way mode nets each side against the position it would close and, as Binance does when both
    sides have orders, counts only the larger side.  Hedge mode counts every opening order.  ``extra``
    is a hypothetical ``(bucket, lots, units)`` order, for the check before placing it.
    """
    if extra is None:
        total = _om(acct, st)[1]
    else:
        lots = st.lots.copy()
        units = st.units.copy()
        lots[extra[0]] += extra[1]
        units[extra[0]] += extra[2]
        buy, sell = _order_parts(acct, st, lots, units)
        total = buy if buy > sell else sell
    if not total:
        return ZERO
    return total * spec.unit / st.leverage


def cross_totals(
    acct: Account, marks: dict[str, Decimal], with_im: bool = True
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """``(cross wallet, cross uPnL, cross position IM, cross MM)`` at the given marks.

    ``with_im=False`` leaves the IM at zero (the risk check, run on every mark, does not need it).
    """
    upnl = ZERO
    im = ZERO
    mm = ZERO
    iso = ZERO
    for (symbol, _), pos in acct.positions.items():
        if not pos.amount:
            iso += pos.isolated_wallet
            continue
        st = acct.states[symbol]
        if st.isolated:
            iso += pos.isolated_wallet
            continue
        mark = marks.get(symbol) or pos.entry
        upnl += pos.unrealized(mark)
        if with_im:
            im += pos.size * mark / st.leverage
        mm += maint_margin(pos, mark)[0]
    return acct.balances.get("USDT", ZERO) - iso, upnl, im, mm


def available_balance(acct: Account, specs: dict[str, SymbolSpec], marks: dict[str, Decimal]) -> Decimal:
    """Binance's ``availableBalance`` of the margin asset.

    The same sums as :func:`cross_totals` (without the maintenance margin, which it does not need)
    and :func:`order_margin`, in the same order, so the result is the same Decimal.
    """
    upnl = ZERO
    im = ZERO
    iso = ZERO
    states = acct.states
    for (symbol, _), pos in acct.positions.items():
        amt = pos.amount
        if not amt:
            iso += pos.isolated_wallet
            continue
        st = states[symbol]
        if st.isolated:
            iso += pos.isolated_wallet
            continue
        mark = marks.get(symbol) or pos.entry
        step = pos.spec.step_size
        upnl += (mark - pos.entry) * amt * step  # Position.unrealized
        im += step * (amt if amt > 0 else -amt) * mark / st.leverage  # Position.size x mark / leverage
    orders = ZERO
    for symbol, st in states.items():
        if st.open_count:
            orders += order_margin(acct, specs[symbol], st)
    return acct.balances.get("USDT", ZERO) - iso + upnl - im - orders


def available_floor(acct: Account, specs: dict[str, SymbolSpec], marks: dict[str, Decimal]) -> int:
    """A whole number of USDT more than 1 below :func:`available_balance`, computed in integers.

    Each Decimal (wallet, entry, mark, isolated wallet) enters as ``int(x)`` +- 1, which brackets it
    whatever its sign, and each symbol's open orders count their whole notional, which bounds the
    margin they hold.  An order whose margin is below the bound fits with more than a dollar to spare,
    far beyond the rounding of the Decimal sums (28 digits), so the exact check would pass it too.
    """
    # int() of a Decimal costs as much as the rest together: each is kept with the object it was taken
    # of, and taken again only when that object changed
    wallet = acct.balances.get("USDT", ZERO)
    cached = acct.wallet_int
    if cached[0] is not wallet:
        cached = acct.wallet_int = (wallet, int(wallet))
    total = cached[1] - 2  # int() truncates: |x - int(x)| < 1, any sign
    states = acct.states
    for (symbol, _), pos in acct.positions.items():
        amt = pos.amount
        w = pos.isolated_wallet
        if not amt or states[symbol].isolated:
            if w is not ZERO:
                total -= int(w) + 1
            continue
        lev = states[symbol].leverage
        tn, td = pos.spec.tick_ratio
        e = (pos.entry_ticks * tn + pos.entry_frac * tn // ENTRY_SUB) // td  # int(entry), which is not negative
        m = marks.get(symbol)
        size = amt if amt > 0 else -amt
        if not m:  # no mark: priced at the entry itself
            upnl = 0
            m_hi = e + 1
        else:
            cached = pos.mark_int
            if cached[0] is not m:
                cached = pos.mark_int = (m, int(m))
            mi = cached[1]
            m_hi = mi + 1
            upnl = (mi - e - 2) * amt if amt > 0 else (e - mi - 2) * size  # lower bound of (m - e) x amt
        sn, sd = pos.spec.step_ratio
        # step x (uPnL - size x mark / leverage), floored
        total += sn * (upnl * lev - size * m_hi) // (sd * lev)
    for symbol, st in states.items():
        if st.open_count:
            u = st.units
            un, ud = specs[symbol].unit_ratio
            units = u[1] + u[2] + u[3] + u[4]
            den = ud * st.leverage
            total -= ((units if un == 1 else units * un) + den - 1) // den  # the ceiling (see _MUL)
    return total


def check_order_margin(
    acct: Account,
    spec: SymbolSpec,
    st: SymbolState,
    bucket: int,
    lots: int,
    units: int,
    specs: dict[str, SymbolSpec],
    marks: dict[str, Decimal],
    mark_ticks: int = 0,
) -> None:
    """Raise -2027 / -2019 if a new opening order does not fit the leverage cap / available balance.

    ``mark_ticks`` is the symbol's mark in whole ticks when that mark is the last trade price (``marks``
    holds the same as a Decimal); with it, a one-way position's cap check stays in integers.  0 when the
    mark is not a number of ticks (a MarkPrice event set it): the check then runs on Decimals.
    """
    if acct.unlimited or bucket == NO_MARGIN:
        return
    # -2027: the position the account would hold if its open orders on this side all filled may not
    # exceed maxNotionalValue. In one-way mode that is the signed position plus the side's orders (so a
    # reversal counts only what it opens, and a reduction always fits); in hedge mode both positions
    # plus the orders of the side.
    cap = st.cap
    if cap[0] != st.leverage:
        limit = spec.max_notional(st.leverage)
        n, d = limit.as_integer_ratio()
        un, ud = spec.unit.as_integer_ratio()
        cap = st.cap = (st.leverage, limit, n * ud // (d * un))  # floor(limit / unit), exactly
    open_units = st.units[bucket] + units
    hedge = acct.hedge
    pos = st.sides[0]
    amt = pos.amount if pos is not None else 0
    if not hedge and amt and mark_ticks:
        # one-way, priced at the last trade: the signed position is amt x mark_ticks whole units (exact)
        held = amt * mark_ticks if amt > 0 else -(-amt * mark_ticks)  # see _MUL
        if (held + open_units if bucket == BUY_BOTH else open_units - held) > cap[2]:
            raise reject(-2027)
    elif hedge or amt:
        mark = marks.get(spec.symbol)
        open_notional = spec.unit * open_units
        if hedge:
            exposure = open_notional
            for p in st.sides:  # BOTH, LONG, SHORT
                if p is not None:
                    a = p.amount
                    if a:  # Position.size x (mark or entry)
                        exposure += spec.step_size * (a if a > 0 else -a) * (mark or p.entry)
        else:
            signed = spec.step_size * amt * (mark or pos.entry)  # type: ignore[union-attr]
            exposure = signed + open_notional if bucket == BUY_BOTH else open_notional - signed
        if exposure > cap[1]:
            raise reject(-2027)
    elif open_units > cap[2]:  # flat: the orders' notional, open_units x unit, in whole units (exact)
        raise reject(-2027)
    # -2019: the margin the order adds (the larger side may not change at all) vs available balance
    if not hedge:
        # One-way: the side's margin units only grow with the order, so the larger side grows iff the
        # new side exceeds the other side and its old self.  Decided on exact integer ratios first,
        # which agrees with the Decimal comparison below (rounding is monotonic, and a tie after
        # rounding yields need == 0): most orders stop here without a Decimal.
        lots_, units_ = st.lots, st.units
        if bucket == BUY_BOTH:
            side, other, close, other_close = BUY_BOTH, SELL_BOTH, -amt if amt < 0 else 0, amt if amt > 0 else 0
        else:
            side, other, close, other_close = SELL_BOTH, BUY_BOTH, amt if amt > 0 else 0, -amt if amt < 0 else 0
        new_n, new_d = _side_ratio(lots_[side] + lots, units_[side] + units, close)
        other_n, other_d = _side_ratio(lots_[other], units_[other], other_close)
        # (equal denominators, usually 1: the numerators decide without a product, see _MUL)
        if new_n <= other_n if new_d == other_d else new_n * other_d <= other_n * new_d:
            return  # the other side stays the larger one
        old_n, old_d = _side_ratio(lots_[side], units_[side], close)
        if new_n == old_n if new_d == old_d else new_n * old_d == old_n * new_d:
            return  # the order opens nothing on its side
    # The margin the order can add is at most its side's whole notional after it: when even that fits
    # a floor of the available balance, with a dollar to spare, no Decimal needs computing.
    side_units = st.units[BUY_LONG] + st.units[SELL_SHORT] + units if hedge else st.units[bucket] + units
    un, ud = spec.unit_ratio
    den = ud * st.leverage
    if ((side_units if un == 1 else side_units * un) + den - 1) // den < available_floor(acct, specs, marks):
        return  # (the ceiling of side_units x unit / leverage; see _MUL for the un == 1 case)
    _, before, buy, sell = _om(acct, st)
    if hedge:
        after = Decimal(st.units[BUY_LONG] + st.units[SELL_SHORT] + units)
    else:
        if bucket == BUY_BOTH:
            buy = _side_margin(st.lots[BUY_BOTH] + lots, st.units[BUY_BOTH] + units, -amt if amt < 0 else 0)
        else:
            sell = _side_margin(st.lots[SELL_BOTH] + lots, st.units[SELL_BOTH] + units, amt if amt > 0 else 0)
        after = buy if buy > sell else sell
    if after <= before:
        return  # x -> x * unit / leverage is monotonic, so the margin needed does not grow
    unit = spec.unit
    need = after * unit / st.leverage - (before * unit / st.leverage if before else ZERO)
    if need > 0 and need > available_balance(acct, specs, marks):
        raise reject(-2019)


def add_order_margin(st: SymbolState, order: Order, lots: int) -> None:
    """Count ``lots`` of ``order`` (positive or negative) in its margin bucket."""
    key = order.margin_key
    if key and lots:
        st.lots[key] += lots
        if lots > 0:
            st.units[key] += lots * order.price
        else:
            st.units[key] -= -lots * order.price  # see _MUL
        st.om = None


# --- fills -------------------------------------------------------------------------------------


def realized_e8(spec: SymbolSpec, pos: Position, ticks: int, lots: int) -> int:
    """Realized PnL of closing ``lots`` of ``pos`` at ``ticks``, in units of 1E-8 rounded half to even.

    ``(price - entry) x lots x step`` for a long, the opposite for a short: with the entry as
    ``entry_ticks + entry_frac / ENTRY_SUB`` ticks, ``((ticks - entry_ticks) x ENTRY_SUB - entry_frac)
    x lots x unit`` in units of 1E-8 (as ``ENTRY_SUB`` is 1E8).  Spelled so that each product has
    non-negative factors below 2**30 in the usual case (compiled, any other takes the slow path).
    """
    et = pos.entry_ticks
    frac = pos.entry_frac * lots
    if ticks >= et:
        n = (ticks - et) * lots * ENTRY_SUB - frac
    else:
        n = -((et - ticks) * lots * ENTRY_SUB + frac)
    if pos.amount < 0:
        n = -n
    un, ud = spec.unit_ratio
    if un == 1:
        return div_half_even(n, ud)
    return div_half_even(n * un, ud) if n >= 0 else -div_half_even(-n * un, ud)  # half to even is symmetric


def apply_fill(
    acct: Account,
    st: SymbolState,
    pos: Position,
    is_buy: bool,
    lots: int,
    ticks: int,
    price: Decimal,
    fee: Decimal,
    now: int,
) -> Decimal:
    """Book one fill of ``lots`` at ``ticks`` (``price``) into ``pos`` and the wallet; returns the
    realized PnL (8 dp).

    Increases move the entry price to the size-weighted average, rounded half to even to 1 /
    ``ENTRY_SUB`` of a tick; reductions realize ``(price - entry) x closed size x direction``; a one-way
    fill larger than the position flips it and the excess opens at ``price``.  Isolated positions move
    ``price x opened / leverage`` from the cross wallet into the isolated wallet and release it pro
    rata when reduced.  ``ticks`` is -1 for a price off the tick grid (a liquidation), which may only
    reduce the position.
    """
    amt = pos.amount
    if ticks < 0 and not (amt and (amt > 0) != is_buy and lots <= (amt if amt > 0 else -amt)):
        raise ValueError("a fill off the tick grid may only reduce the position")
    spec = pos.spec
    realized = ZERO
    opened = lots
    if amt and (amt > 0) != is_buy:  # reducing
        size = amt if amt > 0 else -amt
        closing = lots if lots < size else size
        opened = lots - closing
        if ticks >= 0:
            realized = E8 * realized_e8(spec, pos, ticks, closing)
        else:  # the liquidation price: (price - entry) x size, quantized
            entry = pos.entry
            diff = price - entry if amt > 0 else entry - price
            realized = (diff * closing * spec.step_size).quantize(E8, ROUND_HALF_EVEN)
        if st.isolated:
            pos.isolated_wallet -= (pos.isolated_wallet * closing / size).quantize(E8, ROUND_HALF_EVEN)
        new = amt + (lots if is_buy else -lots)
        if new == 0 or opened:
            pos.fees = ZERO
            pos.entry_ticks = ticks if opened else 0
            pos.entry_frac = 0
            pos.entry_dec = None
            if st.isolated:  # whole position closed: release any rounding residue too
                pos.isolated_wallet = ZERO
        pos.amount = new
    else:
        new = amt + (lots if is_buy else -lots)
        if amt:
            # (entry x |amt| + ticks x lots) / |new|: whole ticks first, then the remainder in sub-ticks
            size = amt if amt > 0 else -amt
            total = size + lots
            whole = pos.entry_ticks * size + ticks * lots
            et = whole // total
            frac = div_half_even(whole % total * ENTRY_SUB + pos.entry_frac * size, total)  # below 2 x ENTRY_SUB
            if frac >= ENTRY_SUB:
                et += frac // ENTRY_SUB
                frac %= ENTRY_SUB
            pos.entry_ticks = et
            pos.entry_frac = frac
        else:
            pos.entry_ticks = ticks
            pos.entry_frac = 0
        pos.entry_dec = None
        pos.amount = new
    if opened:
        pos.fees += fee
        if st.isolated:
            pos.isolated_wallet += (price * opened * spec.step_size / st.leverage).quantize(E8, ROUND_HALF_EVEN)
    pos.update_time = now
    st.om = None  # the position nets against the open orders
    balances = acct.balances
    if realized is ZERO:  # opening only: adding an exact zero changes neither value nor exponent
        balances["USDT"] = balances.get("USDT", ZERO) - fee
    else:
        pos.realized += realized
        balances["USDT"] = balances.get("USDT", ZERO) + realized - fee
    return realized


# --- liquidation price -------------------------------------------------------------------------


def liquidation_price(acct: Account, spec: SymbolSpec, side: str, marks: dict[str, Decimal]) -> Decimal:
    """Binance's liquidation price of one position (0 when there is none or it cannot be liquidated).

    Isolated: WB is the position's isolated wallet and only that position is in the formula.
    Cross: WB is the cross wallet, every cross position of the symbol is in the formula and TMM1 /
    UPNL1 are the maintenance margin / unrealized PnL of the cross positions of *other* symbols.
    The bracket (MMR, cum) is the one of the position's notional at the current mark.

    References: Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Contracts".
    """
    pos = acct.positions.get((spec.symbol, side))
    if pos is None or not pos.amount or acct.unlimited:
        return ZERO
    st = acct.states[spec.symbol]
    mark = marks.get(spec.symbol) or pos.entry
    if st.isolated:
        wb = pos.isolated_wallet
        members = [pos]
        tmm = ZERO
        upnl = ZERO
    else:
        wb = acct.cross_wallet()
        members = [
            p for (sym, _), p in acct.positions.items() if sym == spec.symbol and p.amount
        ]
        tmm = ZERO
        upnl = ZERO
        for (sym, _), p in acct.positions.items():
            if sym == spec.symbol or not p.amount or acct.states[sym].isolated:
                continue
            m = marks.get(sym) or p.entry
            tmm += maint_margin(p, m)[0]
            upnl += p.unrealized(m)
    num = wb - tmm + upnl
    den = ZERO
    for p in members:
        size = p.size
        br = spec.bracket_for(size * mark)
        direction = 1 if p.amount > 0 else -1
        num += br.maint_amount - direction * size * p.entry
        den += size * br.maint_margin_ratio - direction * size
    if not den:
        return ZERO
    lp = num / den
    return lp.quantize(E8, ROUND_HALF_EVEN) if lp > 0 else ZERO
