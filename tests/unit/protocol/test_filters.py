"""The shared exchangeInfo filter rules, and the client and the engine reading them alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal as D

import pytest

from binfut.errors import ApiError, FilterViolation
from binfut.matching import default_specs
from binfut.matching.filters import check_min_notional, check_percent_price, to_lots, to_ticks
from binfut.protocol.filters import SymbolFilters, below_notional, grid_breach, percent_breach

SPEC = default_specs()["BTCUSDT"]  # tick 0.10 from 556.80 to 4529764, step 0.001 from 0.001 to 1000
FILTERS = SymbolFilters(**{f.name: getattr(SPEC, f.name) for f in fields(SymbolFilters)})


@pytest.mark.parametrize(
    ("value", "step_first", "breach"),
    [
        (D("0.002"), False, None),
        (D("0"), True, "zero"),
        (D("0.0005"), False, "min"),
        (D("0.0005"), True, "step"),  # Binance's LOT_SIZE order: the step before the bounds
        (D("2000"), False, "max"),
        (D("0.0015"), False, "step"),
    ],
)
def test_grid_breach_names_the_first_rule_broken(value: D, step_first: bool, breach: str | None) -> None:
    assert grid_breach(value, D("0.001"), D("1000"), D("0.001"), step_first=step_first) == breach


def test_zero_bounds_are_no_bounds() -> None:
    assert grid_breach(D("123.4567"), D(0), D(0), D(0)) is None
    assert percent_breach(D("1000"), D("1"), D(0), D(0)) is None
    assert not below_notional(D("1"), D("0.001"), D(0))


def test_percent_breach_carries_the_limit() -> None:
    assert percent_breach(D("106"), D("100"), D("1.05"), D("0.95")) == ("up", D("105.00"))
    assert percent_breach(D("94"), D("100"), D("1.05"), D("0.95")) == ("down", D("95.00"))
    assert percent_breach(D("100"), D("100"), D("1.05"), D("0.95")) is None


def _outcome(call: Callable[[], object]) -> int | str | None:
    """Binance's code (engine), the violated rule (client), or None when the value passes."""
    try:
        call()
    except ApiError as exc:
        return exc.code
    except FilterViolation as exc:
        return exc.rule
    return None


@pytest.mark.parametrize(
    ("price", "code", "rule"),
    [
        (D("30000.0"), None, None),
        (D("0"), -4001, "price must be > 0"),
        (D("500.0"), -4013, "PRICE_FILTER minPrice=556.80"),
        (D("5000000.0"), -4002, "PRICE_FILTER maxPrice=4529764"),
        (D("30000.05"), -4014, "PRICE_FILTER tickSize=0.10"),
    ],
)
def test_client_and_engine_agree_on_prices(price: D, code: int | None, rule: str | None) -> None:
    assert _outcome(lambda: to_ticks(SPEC, price)) == code
    assert _outcome(lambda: FILTERS.check_price(price)) == rule


@pytest.mark.parametrize(
    ("qty", "market", "code", "rule"),
    [
        (D("0.010"), False, None, None),
        (D("0"), False, -4003, "quantity must be > 0"),
        (D("1001"), False, -4005, "LOT_SIZE maxQty=1000"),
        (D("121"), True, -4005, "MARKET_LOT_SIZE maxQty=120"),
    ],
)
def test_client_and_engine_agree_on_quantities(qty: D, market: bool, code: int | None, rule: str | None) -> None:
    assert _outcome(lambda: to_lots(SPEC, qty, market)) == code
    assert _outcome(lambda: FILTERS.check_quantity(qty, market=market)) == rule


def test_client_and_engine_agree_on_percent_price_and_notional() -> None:
    mark = D("30000")

    assert _outcome(lambda: check_percent_price(SPEC, to_ticks(SPEC, D("31600.0")), mark)) == -4016
    assert _outcome(lambda: check_percent_price(SPEC, to_ticks(SPEC, D("28400.0")), mark)) == -4024
    assert _outcome(lambda: check_min_notional(SPEC, D("30000"), to_lots(SPEC, D("0.003")))) == -4164
    assert "multiplierUp=1.0500" in str(_outcome(lambda: FILTERS.check_percent_price(D("31600.0"), mark)))
    assert "multiplierDown=0.9500" in str(_outcome(lambda: FILTERS.check_percent_price(D("28400.0"), mark)))
    assert "MIN_NOTIONAL" in str(_outcome(lambda: FILTERS.check_notional(D("30000"), D("0.003"))))
