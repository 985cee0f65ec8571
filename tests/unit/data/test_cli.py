"""``binfut data ls / sql / import`` through Typer's runner (downloads run against the local exchange in
tests/integration/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from binfut.data.cli import data_app, parse_time, record_cmd
from unit.data.support import KLINE_HEADER, kline_rows, write_zip

JAN1 = 1_704_067_200_000
runner = CliRunner()


def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(data_app, name="data")
    root.command("record")(record_cmd)
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    zips = [
        write_zip(tmp_path / "zips", "BTCUSDT-1m-2024-01-01.zip", kline_rows(JAN1, 1440)),
        write_zip(tmp_path / "zips", "ETHUSDT-1m-2024-01-01.zip", kline_rows(JAN1, 720), KLINE_HEADER),
    ]
    result = runner.invoke(app(), ["data", "import", *map(str, zips), "--dir", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    return tmp_path / "ds"


def test_import_then_ls_lists_the_series(dataset: Path) -> None:
    result = runner.invoke(app(), ["data", "ls", "--dir", str(dataset), "--json"])

    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["symbol"], r["interval"]): r for r in json.loads(result.output)}
    assert rows[("klines", "BTCUSDT", "1m")]["rows"] == 1440
    assert rows[("klines", "ETHUSDT", "1m")]["rows"] == 720
    assert rows[("klines", "BTCUSDT", "1m")]["first_ms"] == JAN1


def test_sql_prints_tables_csv_and_json(dataset: Path) -> None:
    query = "select symbol, count(*) as n from klines group by symbol order by symbol"

    table = runner.invoke(app(), ["data", "sql", query, "--dir", str(dataset)])
    csv = runner.invoke(app(), ["data", "sql", query, "--dir", str(dataset), "--format", "csv"])
    as_json = runner.invoke(app(), ["data", "sql", query, "--dir", str(dataset), "--format", "json"])

    assert table.exit_code == 0 and "BTCUSDT" in table.output and "1440" in table.output
    assert csv.output.splitlines() == ['"symbol","n"', '"BTCUSDT",1440', '"ETHUSDT",720']
    assert json.loads(as_json.output) == [{"symbol": "BTCUSDT", "n": 1440}, {"symbol": "ETHUSDT", "n": 720}]


def test_errors_are_one_line_and_exit_1(dataset: Path, tmp_path: Path) -> None:
    bad_sql = runner.invoke(app(), ["data", "sql", "select nope from klines", "--dir", str(dataset)])
    bad_kind = runner.invoke(
        app(),
        [
            "data",
            "download",
            "--symbols",
            "BTCUSDT",
            "--kinds",
            "candles",
            "--start",
            "2024-01-01",
            "--dir",
            str(tmp_path),
        ],
    )
    path = write_zip(tmp_path / "bad", "BTCUSDT-1m-2024-01-03.zip", kline_rows(JAN1, 5))
    path.with_name(path.name + ".CHECKSUM").write_text("0" * 64 + "  " + path.name)
    mismatch = runner.invoke(app(), ["data", "import", str(path), "--dir", str(dataset)])

    assert bad_sql.exit_code == 1 and "DuckDB" in bad_sql.output
    assert bad_kind.exit_code == 1 and "unknown data kind 'candles'" in bad_kind.output
    assert mismatch.exit_code == 1 and "checksum mismatch" in mismatch.output
    assert "Traceback" not in bad_sql.output + bad_kind.output + mismatch.output


def test_views_can_be_printed_for_other_tools(dataset: Path) -> None:
    result = runner.invoke(app(), ["data", "sql", "-", "--views", "--dir", str(dataset)])

    assert result.exit_code == 0 and "CREATE OR REPLACE VIEW klines" in result.output


def test_times_parse_as_utc_dates_or_epoch_ms() -> None:
    assert parse_time("2024-01-01") == JAN1
    assert parse_time("2024-01-01T00:01") == JAN1 + 60_000
    assert parse_time("2024-01-01T01:00:00+01:00") == JAN1
    assert parse_time(str(JAN1)) == JAN1
    with pytest.raises(typer.BadParameter):
        parse_time("yesterday")


def test_ls_of_an_empty_directory(tmp_path: Path) -> None:
    result = runner.invoke(app(), ["data", "ls", "--dir", str(tmp_path)])

    assert result.exit_code == 0 and "no data" in result.output
