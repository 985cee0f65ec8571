"""exchangeInfo filter checks: Decimal price / quantity in, integer ticks / lots out, or Binance's error.

Rule kept here: checks run in Binance's order -- precision (-1111) before the filters, PRICE_FILTER
(-4001 / -4013 / -4002 / -4014) before LOT_SIZE (-4003 / -4023 / -4004 / -4005), then the checks
that need a reference price (PERCENT_PRICE -4016 / -4024 against the mark price, MIN_NOTIONAL
-4164) -- and nothing here mutates anything.  MARKET orders use MARKET_LOT_SIZE for their quantity.

The rules' arithmetic is shared with the REST client (:mod:`binfut.protocol.filters`); this module keeps
the integer fast path (a valid value costs one multiply and one compare) and maps a broken rule to
Binance's code and text.

References: "Filters" section of the USD-M "Exchange Information" endpoint.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from binfut.matching.account import reject
from binfut.matching.instruments import SymbolSpec
from binfut.protocol.filters import below_notional, grid_breach, percent_breach

__all__ = ["check_min_notional", "check_percent_price", "missing", "not_required", "to_lots", "to_ticks"]


def missing(name: str) -> Exception:
    """-1102 for a mandatory parameter that was not sent."""
    return reject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> Exception:
    """-1106 for a parameter sent where it is not allowed."""
    return reject(-1106, f"Parameter '{name}' sent when not required.")


def _over_precision(value: Decimal, digits: int) -> bool:
    return value != value.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_EVEN) if value.is_finite() else True


# Binance's code and text (None: the code's default text) per broken rule; "zero" depends on the field.
_PRICE_REJECTS = {
    "min": (-4013, "Price less than min price."),
    "max": (-4002, "Price greater than max price."),
    "step": (-4014, None),
}
_LOT_REJECTS = {
    "zero": (-4003, None),
    "step": (-4023, None),
    "min": (-4004, "Quantity less than min quantity."),
    "max": (-4005, "Quantity greater than max quantity."),
}


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
    breach = grid_breach(price, spec.min_price, spec.max_price, spec.tick_size)
    if breach is None and ti == t:
        return ti  # a zero bound means "no bound"
    if breach == "zero":
        raise reject(-4001 if field == "price" else -4006, f"{field.capitalize()} less than or equal to zero.")
    # ticks count from zero: a price off that grid is refused even where minPrice is not on it
    raise reject(*_PRICE_REJECTS[breach or "step"])


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
    # lots count in stepSize (as on the hot path), for MARKET orders too
    breach = grid_breach(qty, lo, hi, spec.step_size, step_first=True)
    if breach is None and ti == t:
        return ti
    raise reject(*_LOT_REJECTS[breach or "step"])


def check_percent_price(spec: SymbolSpec, ticks: int, mark: Decimal | None) -> None:
    """PERCENT_PRICE: a limit price must lie within [mark x multiplierDown, mark x multiplierUp].

    Skipped while the symbol has no mark price yet.
    """
    if mark is None:
        return
    breach = percent_breach(spec.price(ticks), mark, spec.multiplier_up, spec.multiplier_down)
    if breach is None:
        return
    side, limit = breach
    if side == "up":
        raise reject(-4016, f"Limit price can't be higher than {limit.quantize(spec.tick_size, ROUND_HALF_EVEN)}.")
    raise reject(-4024, f"Limit price can't be lower than {limit.quantize(spec.tick_size, ROUND_HALF_EVEN)}.")


def check_min_notional(spec: SymbolSpec, price: Decimal | None, lots: int) -> None:
    """MIN_NOTIONAL: ``price x quantity >= notional`` (callers skip it for reduce-only orders)."""
    if price is not None and below_notional(price, spec.qty(lots), spec.min_notional):
        raise reject(
            -4164,
            f"Order's notional must be no smaller than {spec.min_notional} (unless you choose reduce only).",
        )
