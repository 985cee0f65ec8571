"""Local order validation and rounding against exchangeInfo filters.

Checked before an order leaves (on by default): PRICE_FILTER (min, max, tick), LOT_SIZE (LIMIT
orders) and MARKET_LOT_SIZE (MARKET orders) for min, max and step, MIN_NOTIONAL when a price is
known and the order is not reduce-only, and PERCENT_PRICE (any limit price within markPrice x
[multiplierDown, multiplierUp], Binance's -4016 / -4024) when a mark price no older than a minute is known — from a
``mark_price`` call or :meth:`FilterBook.note_mark` (e.g. fed by the markPrice stream). A violation raises
:class:`~binfut.errors.FilterViolation` naming the field, the value and the rule, and nothing is
sent. Rounding helpers snap to the grid *towards safety* (down for quantity; down for a buy price and
up for a sell price unless told otherwise). Pure: exchangeInfo comes in as a decoded mapping.

Each filter rule's arithmetic is written once, in the rule functions below (:func:`grid_breach`,
:func:`percent_breach`, :func:`below_notional`). They name the rule that broke; this module turns
that into a ``FilterViolation`` and the matching engine (:mod:`binfut.matching.filters`) into
Binance's error code and text, each in its own check order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from binfut.errors import FilterViolation, LocalProtocolError

__all__ = [
    "MARK_MAX_AGE_MS",
    "ORDER_ENDPOINTS",
    "FilterBook",
    "GridBreach",
    "PercentBreach",
    "SymbolFilters",
    "below_notional",
    "grid_breach",
    "percent_breach",
]

# Endpoints whose parameters are checked against the filters before sending.
ORDER_ENDPOINTS = frozenset(
    {"new_order", "test_order", "modify_order", "new_algo_order", "place_batch_orders", "modify_batch_orders"}
)

_ZERO = Decimal(0)


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))


# -- the rules (zero means "no bound", as Binance uses it) ----------------------------------------

GridBreach = Literal["zero", "min", "max", "step"]
PercentBreach = Literal["up", "down"]


def grid_breach(
    value: Decimal, low: Decimal, high: Decimal, step: Decimal, *, step_first: bool = False
) -> GridBreach | None:
    """The first rule of a PRICE_FILTER, LOT_SIZE or MARKET_LOT_SIZE filter that ``value`` breaks, or None.

    The rules: ``value > 0``, ``value >= low``, ``value <= high``, ``(value - low) % step == 0``.
    ``step_first`` checks the step before the bounds (Binance's order for LOT_SIZE).
    """
    if value <= _ZERO:
        return "zero"
    # Decimal's % keeps the dividend's sign; any non-zero remainder is off the grid.
    if step_first and step and (value - low) % step:
        return "step"
    if low and value < low:
        return "min"
    if high and value > high:
        return "max"
    if step and (value - low) % step:
        return "step"
    return None


def percent_breach(
    price: Decimal, mark: Decimal, multiplier_up: Decimal, multiplier_down: Decimal
) -> tuple[PercentBreach, Decimal] | None:
    """PERCENT_PRICE: ``("up", limit)`` or ``("down", limit)`` when ``price`` is outside
    ``[mark x multiplierDown, mark x multiplierUp]``, else None."""
    if multiplier_up and price > (up := mark * multiplier_up):
        return "up", up
    if multiplier_down and price < (down := mark * multiplier_down):
        return "down", down
    return None


def below_notional(price: Decimal, qty: Decimal, min_notional: Decimal) -> bool:
    """MIN_NOTIONAL: True when ``price x quantity`` is short of ``notional``."""
    return bool(min_notional) and price * qty < min_notional


@dataclass(frozen=True, slots=True)
class SymbolFilters:
    """The filters of one symbol (zero means "no bound", as Binance uses it)."""

    symbol: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    multiplier_up: Decimal = _ZERO
    multiplier_down: Decimal = _ZERO

    @classmethod
    def from_symbol_info(cls, info: Mapping[str, Any]) -> SymbolFilters:
        by_type = {f.get("filterType"): f for f in info.get("filters", ())}
        price = by_type.get("PRICE_FILTER", {})
        lot = by_type.get("LOT_SIZE", {})
        market = by_type.get("MARKET_LOT_SIZE", lot)
        notional = by_type.get("MIN_NOTIONAL", {})
        percent = by_type.get("PERCENT_PRICE", {})
        return cls(
            symbol=str(info["symbol"]),
            tick_size=_dec(price.get("tickSize", 0)),
            min_price=_dec(price.get("minPrice", 0)),
            max_price=_dec(price.get("maxPrice", 0)),
            step_size=_dec(lot.get("stepSize", 0)),
            min_qty=_dec(lot.get("minQty", 0)),
            max_qty=_dec(lot.get("maxQty", 0)),
            market_step_size=_dec(market.get("stepSize", 0)),
            market_min_qty=_dec(market.get("minQty", 0)),
            market_max_qty=_dec(market.get("maxQty", 0)),
            min_notional=_dec(notional.get("notional", notional.get("minNotional", 0))),
            multiplier_up=_dec(percent.get("multiplierUp", 0)),
            multiplier_down=_dec(percent.get("multiplierDown", 0)),
        )

    # -- checks -------------------------------------------------------------------------------

    def check_price(self, price: Decimal, field: str = "price") -> None:
        bounds = (self.min_price, self.max_price, self.tick_size)
        self._check_grid(price, field, "PRICE_FILTER", ("price", "minPrice", "maxPrice", "tickSize"), bounds)

    def check_quantity(self, qty: Decimal, *, market: bool, field: str = "quantity") -> None:
        name, bounds = (
            ("MARKET_LOT_SIZE", (self.market_min_qty, self.market_max_qty, self.market_step_size))
            if market
            else ("LOT_SIZE", (self.min_qty, self.max_qty, self.step_size))
        )
        self._check_grid(qty, field, name, ("quantity", "minQty", "maxQty", "stepSize"), bounds)

    def _check_grid(
        self, value: Decimal, field: str, name: str, keys: tuple[str, ...], bounds: tuple[Decimal, Decimal, Decimal]
    ) -> None:
        """Raise for the first :func:`grid_breach` of ``value`` against filter ``name``.

        ``keys`` are the noun, then the filter's keys for ``bounds`` (min, max, step).
        """
        breach = grid_breach(value, *bounds)
        if breach is None:
            return
        at = ("zero", "min", "max", "step").index(breach)
        rule = f"{keys[0]} must be > 0" if at == 0 else f"{name} {keys[at]}={bounds[at - 1]}"
        raise FilterViolation(field, value, rule, symbol=self.symbol)

    def check_notional(self, price: Decimal, qty: Decimal) -> None:
        if below_notional(price, qty, self.min_notional):
            raise FilterViolation(
                "notional", price * qty, f"MIN_NOTIONAL notional={self.min_notional} (price x quantity)", symbol=self.symbol
            )

    def check_percent_price(self, price: Decimal, mark: Decimal) -> None:
        """PERCENT_PRICE: any limit price within [mark x multiplierDown, mark x multiplierUp]."""
        breach = percent_breach(price, mark, self.multiplier_up, self.multiplier_down)
        if breach is not None:
            key, multiplier = (
                ("multiplierUp", self.multiplier_up) if breach[0] == "up" else ("multiplierDown", self.multiplier_down)
            )
            rule = f"PERCENT_PRICE {key}={multiplier} x markPrice {mark}"
            raise FilterViolation("price", price, rule, symbol=self.symbol)

    def check_order(self, params: Mapping[str, Any], mark: Decimal | None = None) -> None:
        """Check one order's wire-named parameters (``price``, ``quantity``, ``type``, ...);
        ``mark`` is a fresh mark price for the PERCENT_PRICE check (skipped when None)."""
        order_type = str(getattr(params.get("type"), "value", params.get("type") or "")).upper()
        market = order_type.endswith("MARKET")
        raw_price = params.get("price")
        raw_qty = params.get("quantity")
        price = None if raw_price is None else _dec(raw_price)
        qty = None if raw_qty is None else _dec(raw_qty)
        if price is not None:
            self.check_price(price)
            if mark is not None:
                self.check_percent_price(price, mark)
        for trigger in ("stopPrice", "triggerPrice", "activatePrice", "activationPrice"):
            if params.get(trigger) is not None:
                self.check_price(_dec(params[trigger]), trigger)
        if qty is not None:
            self.check_quantity(qty, market=market)
        reduce_only = str(params.get("reduceOnly", "false")).lower() == "true"
        if price is not None and qty is not None and not reduce_only and not market:
            self.check_notional(price, qty)

    # -- rounding -----------------------------------------------------------------------------

    def round_price(self, price: Decimal | float | str, *, up: bool = False) -> Decimal:
        """Snap ``price`` to the tick grid (down, or up with ``up=True``)."""
        value = _dec(price)
        if not self.tick_size:
            return value
        steps = ((value - self.min_price) / self.tick_size).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
        return (self.min_price + steps * self.tick_size).quantize(self.tick_size, ROUND_HALF_EVEN)

    def round_quantity(self, qty: Decimal | float | str, *, market: bool = False) -> Decimal:
        """Snap ``qty`` down to the step grid (never rounds up: never more than asked)."""
        value = _dec(qty)
        step = self.market_step_size if market else self.step_size
        if not step:
            return value
        return ((value / step).to_integral_value(ROUND_FLOOR) * step).quantize(step, ROUND_HALF_EVEN)


MARK_MAX_AGE_MS = 60_000  # an older mark price is not trusted for PERCENT_PRICE


class FilterBook:
    """Filters of every symbol, from one exchangeInfo, plus the latest mark price per symbol."""

    __slots__ = ("_marks", "_symbols")

    def __init__(self, symbols: Iterable[SymbolFilters]) -> None:
        self._symbols = {s.symbol: s for s in symbols}
        self._marks: dict[str, tuple[Decimal, int]] = {}

    def note_mark(self, symbol: str, mark_price: Decimal, time_ms: int) -> None:
        """Remember ``symbol``'s mark price at ``time_ms`` (server time) for PERCENT_PRICE checks."""
        if mark_price > 0:
            self._marks[symbol] = (mark_price, time_ms)

    def fresh_mark(self, symbol: str, now_ms: int) -> Decimal | None:
        seen = self._marks.get(symbol)
        return seen[0] if seen is not None and now_ms - seen[1] <= MARK_MAX_AGE_MS else None

    @classmethod
    def from_exchange_info(cls, info: Mapping[str, Any]) -> FilterBook:
        return cls(SymbolFilters.from_symbol_info(s) for s in info.get("symbols", ()))

    def __getitem__(self, symbol: str) -> SymbolFilters:
        try:
            return self._symbols[symbol]
        except KeyError:
            raise LocalProtocolError(f"symbol={symbol!r} is not listed in exchangeInfo") from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._symbols

    def __len__(self) -> int:
        return len(self._symbols)

    def check(self, endpoint_name: str, params: Mapping[str, Any], now_ms: int = 0) -> None:
        """Validate the order(s) in an order endpoint's parameters; raise on the first violation.

        ``now_ms`` is server time, to judge whether a remembered mark price is fresh enough.
        """
        if endpoint_name in ("place_batch_orders", "modify_batch_orders"):
            batch = params.get("batchOrders")
            orders = [o for o in batch if isinstance(o, Mapping)] if isinstance(batch, list | tuple) else []
        else:
            orders = [params]
        for order in orders:
            symbol = order.get("symbol")
            if symbol:
                self[str(symbol)].check_order(order, self.fresh_mark(str(symbol), now_ms))
