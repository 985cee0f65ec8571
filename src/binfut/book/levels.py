"""One symbol's price levels: integer ticks, exact quantities, amortised O(1) best bid/ask.

Owns the levels and every read computed from them (best, top-N, mid, spread, depth, fill estimate); it
knows nothing about update ids (:mod:`binfut.book.sync` decides *whether* a diff applies). Rules kept here:

- Prices are integer ticks parsed from Binance's decimal strings, never through ``float``.
- Quantities stay the exchange's own decimal strings: exact and free on the hot path; they become
  ``Decimal`` only when read. Quantity zero removes a level; removing an absent level is normal.
- A dict per side holds the levels; a heap per side with lazy deletion holds the order. A stale entry is
  popped when it reaches the top and a heap past twice its side's size is rebuilt, so the best price after
  every diff costs amortised O(1). Chosen by measurement (bench/bench_book.py: 2-3x a SortedDict book),
  because updates to existing levels, the common case, touch only the dict.
- Pure logic: no I/O, no clock.
"""

from __future__ import annotations

from decimal import Decimal
from heapq import heapify, heappop, heappush, nlargest, nsmallest
from typing import Literal, NamedTuple

import msgspec

from binfut._money import MONEY

__all__ = ["BookSide", "Depth", "FillEstimate", "Level", "OrderBook", "PriceLike"]

BookSide = Literal["bid", "ask"]
"""Which side of the book: ``"bid"`` (buyers' levels) or ``"ask"`` (sellers' levels)."""

PriceLike = Decimal | str
"""A price or quantity a caller may pass: a ``Decimal`` or a plain decimal string."""

# Every spelling of zero a plain decimal string can take, up to 18 decimals. Binance sends quantities
# with a fixed number of decimals per symbol ("0", "0.000"), so a set lookup is an exact zero test that
# costs one hash, cheaper than parsing.
_ZERO_QTY = frozenset(["0", "0."] + ["0." + "0" * k for k in range(1, 19)])

# The price-string cache maps wire strings to ticks; cleared when it grows past this many entries so a
# long-running process that sees prices drift does not grow without bound.
_CACHE_LIMIT = 1 << 17

# A lazy heap is rebuilt when it holds more than 2 * live levels + this slack (amortised O(1) per push).
_HEAP_SLACK = 256


class Level(NamedTuple):
    """One price level as a user reads it: exact ``Decimal`` price and quantity."""

    price: Decimal
    qty: Decimal


class Depth(msgspec.Struct, frozen=True, kw_only=True):
    """Liquidity resting between the best price and a limit price (both inclusive).

    Attributes
    ----------
    qty : Decimal
        Summed quantity of the levels.
    notional : Decimal
        Summed ``price * qty`` of the levels (quote asset).
    levels : int
        How many levels were counted.
    """

    qty: Decimal
    notional: Decimal
    levels: int


class FillEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """What a market order of ``requested`` would get by walking one side of the book.

    Attributes
    ----------
    requested : Decimal
        The size asked for.
    filled : Decimal
        The size the book can fill (``== requested`` when ``complete``).
    notional : Decimal
        Quote amount of the fill, ``sum(price * qty)``.
    avg_price : Decimal | None
        ``notional / filled`` (28 significant digits), ``None`` when nothing fills.
    worst_price : Decimal | None
        Price of the last level touched, ``None`` when nothing fills.
    levels : int
        How many levels the walk touched.
    complete : bool
        ``False`` when the side holds less than ``requested``: the book lacks liquidity.
    """

    requested: Decimal
    filled: Decimal
    notional: Decimal
    avg_price: Decimal | None
    worst_price: Decimal | None
    levels: int
    complete: bool


def _tick_parts(tick: Decimal) -> tuple[int, int]:
    """Split a positive tick into ``(scale, units)`` with ``tick == units * 10**-scale``, both exact ints."""
    if not tick.is_finite() or tick <= 0:
        raise ValueError(f"tick size must be a positive finite decimal, got {tick!r}")
    exponent = tick.normalize(MONEY).as_tuple().exponent
    assert isinstance(exponent, int)  # finite, so never 'n'/'N'/'F'
    scale = max(0, -exponent)
    return scale, int(tick.scaleb(scale, MONEY))


class OrderBook:
    """Local order book of one symbol; prices as integer ticks, quantities as exact decimal strings.

    Parameters
    ----------
    symbol : str
        The symbol, e.g. ``"BTCUSDT"``; informational only.
    tick_size : Decimal | str | None
        The symbol's ``PRICE_FILTER.tickSize`` from ``GET /fapi/v1/exchangeInfo``. With it, ticks are
        exchange ticks and a price off the tick grid raises ``ValueError``. Without it, the book infers the
        grid from the significant decimals of the prices it sees (``"63943.90"`` gives 0.1) and rescales
        itself if a finer price turns up later; ticks are then units of that inferred grid.

    Raises
    ------
    ValueError
        If ``tick_size`` is not a positive decimal.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly
    """

    __slots__ = (
        "_ask_heap",
        "_asks",
        "_bid_heap",
        "_bids",
        "_cache",
        "_inferred",
        "_scale",
        "_tick",
        "_tick_units",
        "symbol",
    )

    def __init__(self, symbol: str, tick_size: Decimal | str | None = None) -> None:
        self.symbol = symbol
        self._bids: dict[int, str] = {}
        self._asks: dict[int, str] = {}
        # Bids are stored negated so both heaps are min-heaps whose top is the best price.
        self._bid_heap: list[int] = []
        self._ask_heap: list[int] = []
        self._cache: dict[str, int] = {}
        self._inferred = tick_size is None
        if tick_size is None:
            self._scale, self._tick_units = 0, 1
            self._tick = Decimal(1)
        else:
            self._tick = Decimal(tick_size)
            self._scale, self._tick_units = _tick_parts(self._tick)

    # ------------------------------------------------------------------ writing

    def apply_snapshot(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        """Replace every level with a REST snapshot's (``GET /fapi/v1/depth``).

        Parameters
        ----------
        bids, asks : list of (price, qty) string pairs
            The snapshot's ``bids`` and ``asks`` as Binance sends them. Levels apply in order as in a diff
            (a zero quantity holds no level).

        Raises
        ------
        ValueError
            If a price is not a plain decimal on the tick grid.
        """
        self.clear()
        cache, zero = self._cache, _ZERO_QTY
        for levels, book in ((bids, self._bids), (asks, self._asks)):
            for price, qty in levels:
                ticks = cache[price] if price in cache else self._ticks_slow(price)
                if qty in zero:
                    book.pop(ticks, None)  # same meaning as in a diff, should a level repeat
                else:
                    book[ticks] = qty
        self._bid_heap = [-t for t in self._bids]
        self._ask_heap = list(self._asks)
        heapify(self._bid_heap)
        heapify(self._ask_heap)

    def apply_diff(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        """Apply one diff's levels: each quantity is absolute, and zero removes the level.

        Parameters
        ----------
        bids, asks : list of (price, qty) string pairs
            A ``depthUpdate``'s ``b`` and ``a``.

        Raises
        ------
        ValueError
            If a price is not a plain decimal on the tick grid (levels before it are already applied).
        """
        # The hot loop of the package: two copies (one per side) with locals, because an attribute read
        # or a helper call per level costs more than everything else here.
        cache, zero = self._cache, _ZERO_QTY
        if bids:
            book, heap = self._bids, self._bid_heap
            for price, qty in bids:
                try:
                    ticks = cache[price]
                except KeyError:
                    ticks = self._ticks_slow(price)  # a rescale here mutates book and heap in place
                if qty in zero:
                    book.pop(ticks, None)
                elif ticks in book:
                    book[ticks] = qty
                else:
                    book[ticks] = qty
                    heappush(heap, -ticks)
            if len(heap) > 2 * len(book) + _HEAP_SLACK:
                self._bid_heap = [-t for t in book]
                heapify(self._bid_heap)
        if asks:
            book, heap = self._asks, self._ask_heap
            for price, qty in asks:
                try:
                    ticks = cache[price]
                except KeyError:
                    ticks = self._ticks_slow(price)
                if qty in zero:
                    book.pop(ticks, None)
                elif ticks in book:
                    book[ticks] = qty
                else:
                    book[ticks] = qty
                    heappush(heap, ticks)
            if len(heap) > 2 * len(book) + _HEAP_SLACK:
                self._ask_heap = list(book)
                heapify(self._ask_heap)

    def clear(self) -> None:
        """Remove every level (the tick grid and the price cache are kept)."""
        self._bids = {}
        self._asks = {}
        self._bid_heap = []
        self._ask_heap = []

    # ------------------------------------------------------------------ ticks <-> prices

    @property
    def tick_size(self) -> Decimal:
        """The price grid: one tick, as a ``Decimal``."""
        return self._tick

    def to_ticks(self, price: PriceLike) -> int:
        """Convert an on-grid price to ticks, exactly.

        Parameters
        ----------
        price : Decimal | str
            A plain non-negative decimal, e.g. ``"63943.90"``.

        Returns
        -------
        int
            ``price / tick_size``.

        Raises
        ------
        ValueError
            If the price is malformed or off the tick grid (with an inferred grid, a finer price rescales
            the book instead).
        """
        text = price if isinstance(price, str) else format(price, "f")
        cached = self._cache.get(text)
        return cached if cached is not None else self._ticks_slow(text)

    def to_price(self, ticks: int) -> Decimal:
        """Convert ticks to an exact ``Decimal`` price."""
        return self._tick * ticks

    def _ticks_slow(self, price: str) -> int:
        """Parse a price string the cache has not seen, and cache it."""
        whole, _, frac = price.partition(".")
        if not (price.isascii() and whole.isdigit() and (not frac or frac.isdigit())):
            raise ValueError(f"{self.symbol}: not a plain decimal price: {price!r}")
        frac = frac.rstrip("0")  # trailing zeros do not move a price off the grid
        if len(frac) > self._scale:
            if not self._inferred:
                raise ValueError(f"{self.symbol}: price {price!r} is finer than tick size {self._tick}")
            self._rescale(len(frac))
        ticks, rem = divmod(int(whole + frac.ljust(self._scale, "0")), self._tick_units)
        if rem:
            raise ValueError(f"{self.symbol}: price {price!r} is not a multiple of tick size {self._tick}")
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[price] = ticks
        return ticks

    def _rescale(self, scale: int) -> None:
        """Refine an inferred grid to ``10**-scale``, multiplying every stored tick accordingly.

        Works in place: ``apply_diff`` and ``apply_snapshot`` hold the dicts and heaps in locals.
        """
        factor = 10 ** (scale - self._scale)
        self._scale = scale
        self._tick = Decimal(1).scaleb(-scale)
        self._cache.clear()
        for book, heap, sign in ((self._bids, self._bid_heap, -1), (self._asks, self._ask_heap, 1)):
            levels = [(t * factor, q) for t, q in book.items()]
            book.clear()
            book.update(levels)
            heap[:] = [sign * t for t in book]
            heapify(heap)

    # ------------------------------------------------------------------ best bid / ask

    def best_bid_ticks(self) -> int | None:
        """Best (highest) bid in ticks, or ``None`` when the side is empty. Amortised O(1)."""
        heap, book = self._bid_heap, self._bids
        while heap:
            if -heap[0] in book:
                return -heap[0]
            heappop(heap)  # lazy deletion: this level was removed since it was pushed
        return None

    def best_ask_ticks(self) -> int | None:
        """Best (lowest) ask in ticks, or ``None`` when the side is empty. Amortised O(1)."""
        heap, book = self._ask_heap, self._asks
        while heap:
            if heap[0] in book:
                return heap[0]
            heappop(heap)
        return None

    def best_bid(self) -> Level | None:
        """Best bid as an exact ``Level(price, qty)``, or ``None`` when there are no bids."""
        ticks = self.best_bid_ticks()
        return None if ticks is None else Level(self._tick * ticks, Decimal(self._bids[ticks]))

    def best_ask(self) -> Level | None:
        """Best ask as an exact ``Level(price, qty)``, or ``None`` when there are no asks."""
        ticks = self.best_ask_ticks()
        return None if ticks is None else Level(self._tick * ticks, Decimal(self._asks[ticks]))

    # ------------------------------------------------------------------ derived reads

    def _side(self, side: BookSide) -> dict[int, str]:
        if side == "bid":
            return self._bids
        if side == "ask":
            return self._asks
        raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")

    def level_count(self, side: BookSide) -> int:
        """Number of price levels on ``side``."""
        return len(self._side(side))

    def qty_at(self, side: BookSide, price: PriceLike) -> Decimal:
        """Quantity resting at exactly ``price`` on ``side`` (zero when there is no level)."""
        qty = self._side(side).get(self.to_ticks(price))
        return Decimal(0) if qty is None else Decimal(qty)

    def top_ticks(self, side: BookSide, n: int | None = None) -> list[tuple[int, str]]:
        """The best ``n`` levels of ``side`` (all when ``None``), best first, as (ticks, wire qty)."""
        book = self._side(side)
        if n is None:
            keys = sorted(book, reverse=side == "bid")
        else:
            keys = nlargest(n, book) if side == "bid" else nsmallest(n, book)  # O(levels * log n)
        return [(t, book[t]) for t in keys]

    def top(self, side: BookSide, n: int) -> list[Level]:
        """The best ``n`` levels of ``side``, best first, as exact ``Level`` values."""
        tick = self._tick
        return [Level(tick * t, Decimal(q)) for t, q in self.top_ticks(side, n)]

    def spread_ticks(self) -> int | None:
        """Best ask minus best bid in ticks; ``None`` unless both sides have levels."""
        bid, ask = self.best_bid_ticks(), self.best_ask_ticks()
        return None if bid is None or ask is None else ask - bid

    def spread(self) -> Decimal | None:
        """Best ask minus best bid as a price; ``None`` unless both sides have levels."""
        ticks = self.spread_ticks()
        return None if ticks is None else self._tick * ticks

    def mid(self) -> Decimal | None:
        """``(best bid + best ask) / 2`` exactly; ``None`` unless both sides have levels."""
        bid, ask = self.best_bid_ticks(), self.best_ask_ticks()
        return None if bid is None or ask is None else self._tick * (bid + ask) / 2

    def is_crossed(self) -> bool:
        """``True`` when the best bid is at or above the best ask (never true for a synced book)."""
        bid, ask = self.best_bid_ticks(), self.best_ask_ticks()
        return bid is not None and ask is not None and bid >= ask

    def depth_to_price(self, side: BookSide, price: PriceLike) -> Depth:
        """Quantity and notional resting on ``side`` from the best level up to ``price``, inclusive.

        Parameters
        ----------
        side : {"bid", "ask"}
            ``"ask"`` sums asks priced ``<= price`` (what a buy limited at ``price`` could take);
            ``"bid"`` sums bids priced ``>= price``.
        price : Decimal | str
            The limit; it need not lie on the tick grid.

        Returns
        -------
        Depth
        """
        book = self._side(side)
        limit = Decimal(price)
        # Bound in ticks, rounded inward so an off-grid limit never counts a level beyond it.
        whole, rem = divmod(limit, self._tick)
        bound = int(whole) if side == "ask" or not rem else int(whole) + 1
        if side == "ask":
            picked = [(t, q) for t, q in book.items() if t <= bound]
        else:
            picked = [(t, q) for t, q in book.items() if t >= bound]
        qty = Decimal(0)
        tick_qty = Decimal(0)  # sum(ticks * qty); one multiplication by the tick at the end keeps it exact
        for t, q in picked:
            dq = Decimal(q)
            qty += dq
            tick_qty += t * dq
        return Depth(qty=qty, notional=tick_qty * self._tick, levels=len(picked))

    def average_fill_price(self, side: BookSide, qty: PriceLike) -> FillEstimate:
        """Walk ``side`` from its best level to fill ``qty``; report the average price and any shortfall.

        Parameters
        ----------
        side : {"bid", "ask"}
            The side consumed: ``"ask"`` for a buy, ``"bid"`` for a sell.
        qty : Decimal | str
            The size to fill, positive.

        Returns
        -------
        FillEstimate
            ``complete`` is ``False`` when the side holds less than ``qty``.

        Raises
        ------
        ValueError
            If ``qty`` is not positive.
        """
        want = Decimal(qty)
        if not want > 0:
            raise ValueError(f"qty must be positive, got {qty!r}")
        book = self._side(side)
        remaining = want
        tick_qty = Decimal(0)
        touched = 0
        last: int | None = None
        for t in sorted(book, reverse=side == "bid"):
            take = min(remaining, Decimal(book[t]))
            tick_qty += t * take
            remaining -= take
            touched += 1
            last = t
            if not remaining:
                break
        filled = want - remaining
        notional = tick_qty * self._tick
        return FillEstimate(
            requested=want,
            filled=filled,
            notional=notional,
            avg_price=notional / filled if filled else None,
            worst_price=None if last is None else self._tick * last,
            levels=touched,
            complete=not remaining,
        )

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol!r}, tick_size={self._tick}, bids={len(self._bids)}, asks={len(self._asks)}, "
            f"best_bid={self.best_bid_ticks()}, best_ask={self.best_ask_ticks()})"
        )
