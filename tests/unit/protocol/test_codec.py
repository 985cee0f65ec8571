"""Parameter encoding: plain decimals, lowercase booleans, JSON lists, enum spellings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binfut.enums import Side, TimeInForce
from binfut.errors import LocalProtocolError
from binfut.protocol.codec import encode_value, plain_decimal
from binfut.protocol.spec import Kind, Param


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0.00001, "0.00001"),
        (Decimal("0.00001"), "0.00001"),
        (Decimal("1E-5"), "0.00001"),
        (1e-7, "0.0000001"),
        (Decimal("1E+3"), "1000"),
        (0.1, "0.1"),
        (Decimal("9000.000"), "9000"),
        (100, "100"),
        ("0.0100", "0.01"),
        (Decimal("-0.0"), "0"),
        (123456789.5, "123456789.5"),
    ],
)
def test_decimals_never_use_scientific_notation(value: object, wire: str) -> None:
    assert plain_decimal(value) == wire  # type: ignore[arg-type]


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"), max_value=Decimal("1e12")))
def test_plain_decimal_round_trips_exactly(value: Decimal) -> None:
    text = plain_decimal(value)

    assert "e" not in text.lower()
    assert Decimal(text) == value


@given(st.floats(min_value=1e-12, max_value=1e12, allow_nan=False))
def test_floats_keep_their_shortest_text(value: float) -> None:
    text = plain_decimal(value)

    assert "e" not in text.lower()
    assert float(text) == value


def test_bool_enum_and_json_kinds() -> None:
    assert encode_value(Param("reduceOnly", Kind.BOOL), True) == "true"
    assert encode_value(Param("reduceOnly", Kind.BOOL), False) == "false"
    assert encode_value(Param("side", Kind.ENUM, enum=Side), Side.BUY) == "BUY"
    assert encode_value(Param("side", Kind.ENUM, enum=Side), "SELL") == "SELL"
    batch = [{"symbol": "BTCUSDT", "quantity": 0.00001, "price": Decimal("1E+4"), "reduceOnly": True, "timeInForce": TimeInForce.GTC}]
    assert (
        encode_value(Param("batchOrders", Kind.JSON), batch)
        == '[{"symbol":"BTCUSDT","quantity":"0.00001","price":"10000","reduceOnly":"true","timeInForce":"GTC"}]'
    )
    assert encode_value(Param("orderIdList", Kind.JSON), [1, 2]) == "[1,2]"


@pytest.mark.parametrize(
    ("param", "value", "needle"),
    [
        (Param("side", Kind.ENUM, enum=Side), "HOLD", "side='HOLD' is not one of: BUY, SELL"),
        (Param("limit", Kind.INT), "ten", "limit='ten': expected an integer"),
        (Param("price", Kind.DECIMAL), "1,5", "price='1,5' is not a decimal number"),
        (Param("price", Kind.DECIMAL), float("inf"), "must be a finite number"),
        (Param("reduceOnly", Kind.BOOL), "yes", "reduceOnly='yes': expected true or false"),
    ],
)
def test_bad_values_name_the_field_and_the_rule(param: Param, value: object, needle: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode_value(param, value)

    assert needle in str(info.value)
