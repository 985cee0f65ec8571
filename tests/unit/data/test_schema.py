"""Dataset kinds: a coherent table, exact types from Binance's payloads, partition arithmetic."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from binfut.data.schema import (
    KINDS,
    TS_MS,
    TS_NS,
    kind,
    partition_end_ms,
    partition_start_ms,
    partition_value,
    table_from_columns,
    table_from_frame,
)
from binfut.protocol.endpoints import BY_NAME
from binfut.protocol.frames import FRAMES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JAN1 = 1_704_067_200_000


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_is_coherent(name: str) -> None:
    spec = KINDS[name]
    names = spec.schema.names

    assert spec.time_column in names
    assert pa.types.is_timestamp(spec.schema.field(spec.time_column).type)
    assert set(spec.key) <= set(names)
    assert not set(spec.partition_keys) & set(names)  # partition keys live in the path only
    for field in spec.schema:
        if pa.types.is_timestamp(field.type):
            assert field.type in (TS_MS, TS_NS)  # UTC, ms (ns only for receive times)
    if spec.endpoint is not None:
        assert BY_NAME[spec.endpoint].frame in FRAMES


def test_aliases_resolve_and_unknown_names_say_what_exists() -> None:
    assert kind("funding").name == "funding_rate"
    assert kind("OI").name == "open_interest_hist"
    assert kind("mark").name == "mark_price_klines"
    with pytest.raises(KeyError, match="known: klines"):
        kind("candles")


REST_FIXTURES = [
    ("klines", "klines"),
    ("mark_price_klines", "mark_price_klines"),
    ("funding_rate", "funding_rate_history"),
    ("open_interest_hist", "open_interest_hist"),
    ("top_long_short_account_ratio", "top_long_short_account_ratio"),
    ("taker_long_short_ratio", "taker_long_short_ratio"),
    ("basis", "basis"),
    ("agg_trades", "agg_trades"),
]


@pytest.mark.parametrize(("name", "fixture"), REST_FIXTURES)
def test_rest_payloads_become_tables_of_the_exact_schema(name: str, fixture: str) -> None:
    # Arrange
    spec = kind(name)
    body = (FIXTURES / f"http_market_{fixture}.json").read_bytes()
    frame = FRAMES[BY_NAME[spec.endpoint].frame](body)  # type: ignore[index]

    # Act
    table = table_from_frame(spec, frame)

    # Assert
    assert table.schema.equals(spec.schema)
    assert table.num_rows == len(frame)


def test_values_survive_exactly_and_absent_values_are_null() -> None:
    klines = table_from_frame(kind("klines"), FRAMES["klines"]((FIXTURES / "http_market_klines.json").read_bytes()))
    basis = table_from_frame(kind("basis"), FRAMES["basis"]((FIXTURES / "http_market_basis.json").read_bytes()))

    row = klines.to_pylist()[0]
    assert row["open_time"].timestamp() * 1000 == 1499040000000
    assert str(row["open"]) == "0.0163479"  # float64 round-trips Binance's decimal text
    assert row["trades"] == 308
    assert basis["annualized_basis_rate"].null_count == 1  # Binance sends "" for perpetuals


def test_columns_may_be_given_as_epoch_integers() -> None:
    table = table_from_columns(
        kind("funding"), {"funding_time": [JAN1], "funding_rate": [0.0001], "mark_price": [math.nan]}
    )

    assert table.column("funding_time").type == TS_MS
    assert table.to_pylist()[0]["mark_price"] is None  # NaN in a nullable column is "absent"
    with pytest.raises(KeyError, match="funding_rate"):
        table_from_columns(kind("funding"), {"funding_time": [JAN1]})


@pytest.mark.parametrize(
    ("series", "granularity"),
    [
        ("1m", "day"),
        ("15m", "day"),
        ("30m", "month"),
        ("1h", "month"),
        ("12h", "month"),
        ("1d", "year"),
        ("1M", "year"),
    ],
)
def test_sparse_series_get_longer_partitions(series: str, granularity: str) -> None:
    assert kind("klines").granularity_for(series) == granularity


def test_kinds_without_a_series_have_a_fixed_partition_length() -> None:
    assert kind("funding").granularity_for(None) == "month"
    assert kind("agg_trades").granularity_for(None) == "day"


def test_partition_arithmetic() -> None:
    t = JAN1 + 40 * 86_400_000 + 123  # 2024-02-10
    assert partition_value("day", t) == "2024-02-10"
    assert partition_value("month", t) == "2024-02-01"
    assert partition_value("year", t) == "2024-01-01"
    assert partition_start_ms("month", t) == JAN1 + 31 * 86_400_000
    assert partition_end_ms("month", t) == JAN1 + 60 * 86_400_000  # leap year: March 1st
    assert partition_end_ms("day", partition_start_ms("day", t)) - partition_start_ms("day", t) == 86_400_000
