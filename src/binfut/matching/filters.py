"""exchangeInfo filter checks: Decimal price / quantity in, integer ticks / lots out, or Binance's error.

Rule kept here: checks run in Binance's order -- precision (-1111) before the filters, PRICE_FILTER
(-4001 / -4013 / -4002 / -4014) before LOT_SIZE (-4003 / -4023 / -4004 / -4005), then the checks
that need a reference price (PERCENT_PRICE -4016 / -4024 against the mark price, MIN_NOTIONAL
-4164) -- and nothing here mutates anything.  MARKET orders use MARKET_LOT_SIZE for their quantity.

References: "Filters" section of the USD-M "Exchange Information" endpoint.
"""

from __future__ import annotations

from decimal import Decimal

from binfut.matching.account import reject
from binfut.matching.instruments import SymbolSpec

__all__ = ["check_min_notional", "check_percent_price", "missing", "not_required", "to_lots", "to_ticks"]


def missing(name: str) -> Exception:
    """-1102 for a mandatory parameter that was not sent."""
    return reject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> Exception:
    """-1106 for a parameter sent where it is not allowed."""
    return reject(-1106, f"Parameter '{name}' sent when not required.")


def _over_precision(value: Decimal, digits: int) -> bool:
    return value != value.quantize(Decimal(1).scaleb(-digits)) if value.is_finite() else True


def to_ticks(spec: SymbolSpec, price: Decimal, field: str = "price") -> int:
    """Integer ticks of ``price`` after PRICE_FILTER (and precision) checks.

    Raises
    ------
    OrderRejected / InvalidRequest
        -1111 too many decimals, -4001 price <= 0, -4013 below minPrice, -4002 above maxPrice,
        -4014 not a multiple of tickSize.
    """
    t = price * spec.inv_tick
    ti = int(t)
    if ti == t and spec.min_price <= price <= spec.max_price:
        return ti  # the hot path: one multiply, one compare
    if _over_precision(price, spec.price_precision):
        raise reject(-1111)
    if price <= 0:
        raise reject(-4001 if field == "price" else -4006, f"{field.capitalize()} less than or equal to zero.")
    if price < spec.min_price:
        raise reject(-4013, "Price less than min price.")
    if price > spec.max_price:
        raise reject(-4002, "Price greater than max price.")
    raise reject(-4014)


def to_lots(spec: SymbolSpec, qty: Decimal, market: bool = False) -> int:
    """Integer lots of ``qty`` after LOT_SIZE (or MARKET_LOT_SIZE) checks.

    Raises
    ------
    OrderRejected / InvalidRequest
        -1111 too many decimals, -4003 qty <= 0, -4023 not a multiple of stepSize,
        -4004 below minQty, -4005 above maxQty.
    """
    lo, hi = (spec.market_min_qty, spec.market_max_qty) if market else (spec.min_qty, spec.max_qty)
    t = qty * spec.inv_step
    ti = int(t)
    if ti == t and lo <= qty <= hi:
        return ti
    if _over_precision(qty, spec.quantity_precision):
        raise reject(-1111)
    if qty <= 0:
        raise reject(-4003)
    if ti != t:
        raise reject(-4023)
    if qty < lo:
        raise reject(-4004, "Quantity less than min quantity.")
    raise reject(-4005, "Quantity greater than max quantity.")


def check_percent_price(spec: SymbolSpec, ticks: int, mark: Decimal | None) -> None:
    """PERCENT_PRICE: a limit price must lie within [mark x multiplierDown, mark x multiplierUp].

    Skipped while the symbol has no mark price yet.
    """
    if mark is None:
        return
    price = spec.price(ticks)
    up = mark * spec.multiplier_up
    if price > up:
        raise reject(-4016, f"Limit price can't be higher than {up.quantize(spec.tick_size)}.")
    down = mark * spec.multiplier_down
    if price < down:
        raise reject(-4024, f"Limit price can't be lower than {down.quantize(spec.tick_size)}.")


def check_min_notional(spec: SymbolSpec, price: Decimal | None, lots: int) -> None:
    """MIN_NOTIONAL: ``price x quantity >= notional`` (callers skip it for reduce-only orders)."""
    if price is None:
        return
    if price * lots * spec.step_size < spec.min_notional:
        raise reject(
            -4164,
            f"Order's notional must be no smaller than {spec.min_notional} (unless you choose reduce only).",
        )
