"""Bulk-file import: data.binance.vision names and CSV layouts (with and without header rows), checksums."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from binfut.data import ArchiveFormatError, ChecksumMismatch, Store, describe, import_archives
from binfut.data.archive import ARCHIVE_TYPES, parse_csv
from binfut.data.schema import KINDS
from unit.data.support import JAN1, KLINE_HEADER, MIN, kline_rows, write_zip


def test_daily_klines_with_and_without_header_import_into_the_dataset(tmp_path: Path) -> None:
    # Arrange: an older file without a header row, a newer one with it (Binance added headers in 2022).
    base = tmp_path / "data/futures/um/daily/klines/BTCUSDT/1m"
    old = write_zip(base, "BTCUSDT-1m-2024-01-01.zip", kline_rows(JAN1, 1440))
    new = write_zip(base, "BTCUSDT-1m-2024-01-02.zip", kline_rows(JAN1 + 1440 * MIN, 1440), KLINE_HEADER)
    store = Store(tmp_path / "ds")

    # Act
    results = import_archives([old, new], store)

    # Assert
    assert [(r.kind, r.symbol, r.series, r.rows, r.header, r.checksum_verified) for r in results] == [
        ("klines", "BTCUSDT", "1m", 1440, False, True),
        ("klines", "BTCUSDT", "1m", 1440, True, True),
    ]
    table = store.read("klines", symbols="BTCUSDT", series="1m")
    assert table.num_rows == 2880
    assert table.schema.field("open_time").type == pa.timestamp("ms", tz="UTC")
    first = table.slice(0, 1).to_pylist()[0]
    assert (first["open"], first["trades"], first["taker_buy_base_volume"], first["quote_volume"]) == (
        42000.1,
        100,
        6.1,
        518000.12345678,
    )


def test_reimporting_adds_nothing(tmp_path: Path) -> None:
    path = write_zip(tmp_path, "ETHUSDT-5m-2024-01.zip", kline_rows(JAN1, 50))
    store = Store(tmp_path / "ds")
    import_archives([path], store)

    (again,) = import_archives([path], store)

    assert (again.rows, again.rows_added) == (50, 0)
    assert describe(path).monthly


@pytest.mark.parametrize("directory", ["markPriceKlines", "indexPriceKlines", "premiumIndexKlines"])
def test_price_kline_directories_choose_the_kind(tmp_path: Path, directory: str) -> None:
    path = write_zip(tmp_path / directory / "BTCUSDT" / "1m", "BTCUSDT-1m-2024-01-01.zip", kline_rows(JAN1, 3))
    store = Store(tmp_path / "ds")

    (result,) = import_archives([path], store)

    assert result.kind == ARCHIVE_TYPES[directory].kind
    assert store.read(result.kind).num_rows == 3
    assert describe(tmp_path / "BTCUSDT-1m-2024-01-01.zip", kind_hint="mark").type.kind == "mark_price_klines"


CASES = [
    (
        "aggTrades",
        None,
        ["1001,42000.1,0.5,5001,5003,1704067200123,true", "1002,42000.2,0.1,5004,5004,1704067200500,false"],
        "agg_trades",
    ),
    (
        "trades",
        "id,price,qty,quote_qty,time,is_buyer_maker",
        ["7001,42000.1,0.5,21000.05,1704067200123,True", "7002,42000.0,0.25,10500,1704067201000,False"],
        "trades",
    ),
    (
        "bookTicker",
        "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time",
        [
            "3901,42000.0,1.5,42000.1,2.0,1704067200010,1704067200012",
            "3902,42000.0,1.4,42000.1,2.0,1704067200020,1704067200021",
        ],
        "book_ticker",
    ),
    (
        "bookDepth",
        "timestamp,percentage,depth,notional",
        ["2024-01-01 00:00:07,-5.00,1234.5,51234567.89", "2024-01-01 00:00:07,5.00,1100.25,46234567.1"],
        "book_depth",
    ),
    (
        "metrics",
        "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
        "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio",
        ["2024-01-01 00:05:00,BTCUSDT,80000.1,3360004200.5,1.51,1.62,1.73,0.94"],
        "metrics",
    ),
]


@pytest.mark.parametrize(("data_type", "header", "rows", "kind_name"), CASES, ids=[c[0] for c in CASES])
def test_every_data_type_imports_with_exact_types(
    tmp_path: Path, data_type: str, header: str | None, rows: list[str], kind_name: str
) -> None:
    path = write_zip(tmp_path / data_type, f"BTCUSDT-{data_type}-2024-01-01.zip", rows, header)
    store = Store(tmp_path / "ds")

    (result,) = import_archives([path], store)

    table = store.read(kind_name)
    assert result.kind == kind_name and result.rows == len(rows) == table.num_rows
    assert table.drop_columns(["symbol"]).schema.equals(KINDS[kind_name].schema)


def test_datetime_columns_are_utc(tmp_path: Path) -> None:
    table, header = parse_csv(b"2024-01-01 00:00:07,-5,1,2\n", ARCHIVE_TYPES["bookDepth"])

    assert not header
    assert table["timestamp"].cast(pa.int64()).to_pylist() == [JAN1 + 7000]


def test_monthly_funding_rates(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path, "BTCUSDT-fundingRate-2024-01.zip", ["1704067200000,8,0.00010000", "1704096000000,8,-0.00002100"],
        "calc_time,funding_interval_hours,last_funding_rate",
    )  # fmt: skip
    store = Store(tmp_path / "ds")

    import_archives([path], store)

    rows = store.read("funding_rate").to_pylist()
    assert [(r["funding_rate"], r["funding_interval_hours"], r["mark_price"]) for r in rows] == [
        (0.0001, 8, None),
        (-0.000021, 8, None),
    ]


def test_microsecond_files_are_scaled_to_milliseconds(tmp_path: Path) -> None:
    table, _ = parse_csv(b"1001,1.0,2.0,1,1,1704067200123456,true\n", ARCHIVE_TYPES["aggTrades"])

    assert table["time"].cast(pa.int64()).to_pylist() == [1704067200123]


def test_a_checksum_mismatch_stops_the_whole_batch_before_any_write(tmp_path: Path) -> None:
    # Arrange: one good file and one whose bytes changed after the checksum was made.
    good = write_zip(tmp_path, "BTCUSDT-1m-2024-01-01.zip", kline_rows(JAN1, 10))
    bad = write_zip(tmp_path, "BTCUSDT-1m-2024-01-02.zip", kline_rows(JAN1 + 1440 * MIN, 10))
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    store = Store(tmp_path / "ds")

    # Act
    with pytest.raises(ChecksumMismatch) as caught:
        import_archives([good, bad], store)

    # Assert
    assert "BTCUSDT-1m-2024-01-02.zip" in str(caught.value) and "nothing was imported" in str(caught.value)
    assert caught.value.expected != caught.value.actual
    assert not (tmp_path / "ds").exists()


def test_a_missing_checksum_is_an_error_unless_told_otherwise(tmp_path: Path) -> None:
    path = write_zip(tmp_path, "BTCUSDT-1m-2024-01-01.zip", kline_rows(JAN1, 2), checksum=False)
    store = Store(tmp_path / "ds")

    with pytest.raises(ArchiveFormatError, match="CHECKSUM"):
        import_archives([path], store)
    (result,) = import_archives([path], store, checksum="if-present")

    assert result.rows == 2 and not result.checksum_verified


def test_names_and_headers_that_are_not_binances_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ArchiveFormatError, match="file name"):
        describe(tmp_path / "btc-klines.zip")
    with pytest.raises(ArchiveFormatError, match="unknown data type"):
        describe(tmp_path / "BTCUSDT-candles-2024-01-01.zip")
    with pytest.raises(ArchiveFormatError, match="header"):
        parse_csv(b"price,qty\n1,2\n", ARCHIVE_TYPES["aggTrades"])
    assert describe(tmp_path / "BTCUSDT-1mo-2024-01.zip").series == "1M"
