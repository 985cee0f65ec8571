"""Resting orders and the price-time-priority book of one symbol.

Owns :class:`Order` (the engine's mutable order record, integer ticks and lots inside) and
:class:`OrderBook` (two sides of price levels).  Rules kept here: a level is a FIFO queue, so time
priority is arrival order at that price; a cancelled order is removed lazily (marked dead, its
quantity taken off the level at once, the queue entry dropped when it reaches the front), which keeps
cancel O(1); a level whose live quantity reaches zero is deleted immediately, so ``best_bid`` /
``best_ask`` and depth never show empty levels.  Every mutation bumps ``update_id`` and records the
touched level so the venue can publish diff-depth events with Binance's U / u / pu.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING

from binfut.enums import OrderStatus

if TYPE_CHECKING:
    from binfut.matching.account import Account, Position
    from binfut.matching.triggers import AlgoOrder
    from binfut.protocol.userevents import OrderUpdate

__all__ = ["Level", "Order", "OrderBook", "add_price", "drop_price"]


def _slot(prices: list[int], ticks: int, is_bid: bool) -> int:
    """Where ``ticks`` is or would go in ``prices`` (bisect_left; asks descend).

    Written out rather than ``bisect`` with ``key=neg``: compiled, the loop compares machine integers
    instead of calling a key function per step.
    """
    lo = 0
    hi = len(prices)
    if is_bid:
        while lo < hi:
            mid = (lo + hi) >> 1
            if prices[mid] < ticks:
                lo = mid + 1
            else:
                hi = mid
    else:
        while lo < hi:
            mid = (lo + hi) >> 1
            if prices[mid] > ticks:
                lo = mid + 1
            else:
                hi = mid
    return lo


def add_price(prices: list[int], ticks: int, is_bid: bool) -> None:
    """Insert a new level's price: ``bid_prices`` ascend, ``ask_prices`` descend (best price last)."""
    if not prices or (prices[-1] < ticks if is_bid else prices[-1] > ticks):
        prices.append(ticks)  # a new best level, the usual case
    else:
        prices.insert(_slot(prices, ticks, is_bid), ticks)


def drop_price(prices: list[int], ticks: int, is_bid: bool) -> None:
    """Remove an emptied level's price from its side's list (the inverse of :func:`add_price`)."""
    if prices[-1] == ticks:  # the best level, the usual case
        prices.pop()
    else:
        del prices[_slot(prices, ticks, is_bid)]


class Order:
    """One order as the engine sees it (USD-M order fields; quantities in lots, prices in ticks).

    ``price`` is 0 for MARKET orders; ``cum_quote`` is the sum of ``ticks x lots`` over fills.
    """

    __slots__ = (
        "account",
        "activate_price",
        "algo",
        "callback_rate",
        "client_order_id",
        "close_position",
        "cum_quote",
        "filled",
        "good_till_date",
        "in_book",
        "is_buy",
        "order_id",
        "orig_type",
        "position_side",
        "price",
        "price_match",
        "price_protect",
        "qty",
        "reduce_only",
        "side",
        "status",
        "stop_price",
        "stp",
        "symbol",
        "tif",
        "time",
        "type",
        "update_time",
        "working_type",
        "margin_key",
        "pos",
        "upd",
    )

    def __init__(
        self,
        order_id: int,
        client_order_id: str,
        account: Account,
        symbol: str,
        side: str,
        position_side: str,
        type_: str,
        tif: str,
        price: int,
        qty: int,
        reduce_only: bool,
        stp: str,
        now: int,
    ) -> None:
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.is_buy = side == "BUY"
        self.position_side = position_side
        self.type = type_
        self.orig_type = type_
        self.tif = tif
        self.price = price
        self.qty = qty
        self.filled = 0
        self.cum_quote = 0
        self.status: OrderStatus | None = None
        self.reduce_only = reduce_only
        self.close_position = False
        self.stop_price: Decimal | None = None
        self.working_type: str = "CONTRACT_PRICE"
        self.price_protect = False
        self.price_match: str = "NONE"
        self.stp = stp
        self.good_till_date = 0
        self.time = now
        self.update_time = now
        self.activate_price: Decimal | None = None
        self.callback_rate: Decimal | None = None
        self.algo: AlgoOrder | None = None  # the AlgoOrder that spawned this order, if any
        # (symbol, opening?) bucket the order's margin is counted in, None when it needs none
        self.margin_key: int | None = None
        self.in_book = False  # resting in the book (False once filled, cancelled or expired)
        self.pos: Position | None = None  # the account's Position this order trades, once it has traded
        self.upd: OrderUpdate | None = None  # its last ORDER_TRADE_UPDATE "o" object (template of the next one)

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id}, {self.symbol} {self.side} {self.type} {self.filled}/{self.qty}"
            f" @{self.price} {self.status})"
        )


class Level:
    """One price level: live quantity and the FIFO of orders (dead ones skipped lazily)."""

    __slots__ = ("orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.orders: deque[Order] = deque()


class OrderBook:
    """Both sides of one symbol's book.

    ``bid_prices`` (ascending) and ``ask_prices`` (descending) list the tick prices that have a level,
    so that each side's best price is last: ``bid_prices[-1]`` and ``ask_prices[-1]``.  Levels come and
    go mostly at the top of the book, at the end of these lists, without moving the rest of them.
    ``track`` = False stops recording the changed levels (nobody publishes depth deltas); ``update_id``
    counts on regardless.
    """

    __slots__ = ("ask_prices", "asks", "bid_prices", "bids", "changed_asks", "changed_bids", "track", "update_id")

    def __init__(self) -> None:
        self.track = True
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_prices: list[int] = []
        self.ask_prices: list[int] = []
        self.update_id = 0
        self.changed_bids: set[int] = set()
        self.changed_asks: set[int] = set()

    # --- queries ------------------------------------------------------------------------------

    def best_bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        return self.ask_prices[-1] if self.ask_prices else None

    def depth(self, limit: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``limit`` levels per side as ``(ticks, lots)``, best first."""
        bids = self.bids
        asks = self.asks
        b = [(p, bids[p].qty) for p in self.bid_prices[: -limit - 1 : -1]]
        a = [(p, asks[p].qty) for p in self.ask_prices[: -limit - 1 : -1]]
        return b, a

    def level_qty(self, is_bid: bool, price: int) -> int:
        lvl = (self.bids if is_bid else self.asks).get(price)
        return lvl.qty if lvl is not None else 0

    def crossed(self) -> bool:
        return bool(self.bid_prices and self.ask_prices and self.bid_prices[-1] >= self.ask_prices[-1])

    # --- mutations ----------------------------------------------------------------------------

    def add(self, order: Order) -> None:
        """Append ``order`` (remaining quantity) at the back of its price level."""
        price = order.price
        if order.is_buy:
            levels, prices, changed = self.bids, self.bid_prices, self.changed_bids
        else:
            levels, prices, changed = self.asks, self.ask_prices, self.changed_asks
        lvl = levels.get(price)
        if lvl is None:
            lvl = levels[price] = Level(price)
            add_price(prices, price, order.is_buy)
        lvl.orders.append(order)
        order.in_book = True
        lvl.qty += order.qty - order.filled
        if self.track:
            changed.add(price)
        self.update_id += 1

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book (cancel / expire): lazily, O(1)."""
        order.in_book = False
        self.reduce(order, order.qty - order.filled)

    def unlink(self, order: Order) -> None:
        """Take a resting order out of its queue physically (a modify that loses priority)."""
        lvl = (self.bids if order.is_buy else self.asks)[order.price]
        lvl.orders.remove(order)
        order.in_book = False
        self.reduce(order, order.qty - order.filled)

    def reduce(self, order: Order, lots: int) -> None:
        """Take ``lots`` off the level of a resting order; deletes the level when it empties."""
        price = order.price
        if order.is_buy:
            levels, prices, changed = self.bids, self.bid_prices, self.changed_bids
        else:
            levels, prices, changed = self.asks, self.ask_prices, self.changed_asks
        lvl = levels[price]
        lvl.qty -= lots
        if self.track:
            changed.add(price)
        self.update_id += 1
        if lvl.qty == 0:
            del levels[price]
            drop_price(prices, price, order.is_buy)

    def shrink(self, order: Order, lots: int) -> None:
        """Reduce a resting order's quantity in place (keeps its queue position)."""
        lvl = (self.bids if order.is_buy else self.asks)[order.price]
        lvl.qty -= lots
        if self.track:
            (self.changed_bids if order.is_buy else self.changed_asks).add(order.price)
        self.update_id += 1

    def take_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Levels touched since the last call, with their current quantity (0 = removed)."""
        bids = self.bids
        asks = self.asks
        b = []
        for p in sorted(self.changed_bids, reverse=True):
            lvl = bids.get(p)
            b.append((p, lvl.qty if lvl is not None else 0))
        a = []
        for p in sorted(self.changed_asks):
            lvl = asks.get(p)
            a.append((p, lvl.qty if lvl is not None else 0))
        self.changed_bids.clear()
        self.changed_asks.clear()
        return b, a

    def orders(self) -> list[Order]:
        """Every live resting order (best price first, then time)."""
        out: list[Order] = []
        for prices, levels in ((self.bid_prices, self.bids), (self.ask_prices, self.asks)):
            for p in reversed(prices):
                out.extend(o for o in levels[p].orders if o.in_book)
        return out
