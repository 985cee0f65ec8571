"""The shared formatters: amounts and UTC times read the same on every screen."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal

import pytest

from binfut._format import amount, utc_time
from helpers.decimal_context import ccxt_context


@pytest.mark.parametrize("context", [None, lambda: ccxt_context(prec=6)], ids=["default context", "ccxt context, prec=6"])
@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Decimal("9996.12806400"), 2, "9,996.13"),
        ("-1.62592000", 2, "-1.63"),
        (Decimal("0.125"), 2, "0.12"),  # half to even
        (1234.5, 3, "1,234.500"),
        (10**20 + 1, 0, "100,000,000,000,000,000,001"),  # an int stays exact
        (float("nan"), 2, "nan"),
        (None, 2, "-"),
        ("", 2, "-"),
    ],
)
def test_amounts_get_separators_and_fixed_places(
    value: Decimal | float | str | None, places: int, text: str, context: Callable[[], decimal.Context] | None
) -> None:
    # The caller's decimal context (ccxt leaves HALF_UP behind) changes nothing.
    with decimal.localcontext(context() if context else decimal.Context()):
        assert amount(value, places) == text


def test_times_are_utc_wall_time_with_or_without_date_and_seconds() -> None:
    ms = 1_700_000_000_000

    assert utc_time(ms) == "2023-11-14 22:13:20"
    assert utc_time(ms, seconds=False) == "2023-11-14 22:13"
    assert utc_time(ms, date=False) == "22:13:20"
    assert utc_time(ms, date=False, seconds=False) == "22:13"
    assert utc_time(None) == "-"
