"""``binfut data ls / sql / import`` through Typer's runner (downloads run against the local exchange in
tests/integration/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from binfut._cli import error_line, resolve_target
from binfut.cli import app as binfut_app
from binfut.data.cli import data_app, parse_time, record_cmd
from binfut.errors import ConnectError, ReadTimeout
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


def test_views_can_be_printed_for_other_tools_without_a_query(dataset: Path) -> None:
    result = runner.invoke(app(), ["data", "sql", "--views", "--dir", str(dataset)])

    assert result.exit_code == 0 and "CREATE OR REPLACE VIEW klines" in result.output


def test_sql_without_a_query_or_views_is_one_clear_line(dataset: Path) -> None:
    result = runner.invoke(app(), ["data", "sql", "--dir", str(dataset)])

    assert result.exit_code == 1
    assert result.stderr == "error: BadParameter: give a SQL query (e.g. 'select count(*) from klines'), or --views for the views\n"


def test_the_global_json_option_reaches_the_data_commands(dataset: Path) -> None:
    listing = runner.invoke(binfut_app, ["--json", "data", "ls", "--dir", str(dataset)])
    counted = runner.invoke(binfut_app, ["--json", "data", "sql", "select count(*) as n from klines", "--dir", str(dataset)])

    assert {s["symbol"] for s in json.loads(listing.stdout)} == {"BTCUSDT", "ETHUSDT"}
    assert json.loads(counted.stdout) == [{"n": 2160}]


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


def test_a_command_goes_where_its_own_options_say_else_where_binfut_s_say_else_local() -> None:
    class Root:  # what binfut's root callback puts in ctx.obj
        env, url = "testnet", "http://127.0.0.1:9"

    ctx = typer.Context(typer.main.get_command(typer.Typer(callback=lambda: None)), obj=Root())

    assert resolve_target(ctx, None, None) == ("testnet", "http://127.0.0.1:9")
    assert resolve_target(ctx, "local", None) == ("local", "http://127.0.0.1:9")
    assert resolve_target(ctx, "demo", "http://h:1") == ("demo", "http://h:1")
    assert resolve_target(None, None, None) == ("local", None)  # standalone: the local exchange


class Silent(Exception):
    """The thing went wrong."""


def test_an_error_line_always_says_what_failed() -> None:
    refused = ConnectError("cannot connect: GET /fapi/v1/ping")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")

    assert error_line(TimeoutError()) == "error: TimeoutError: timed out"
    assert error_line(TimeoutError(), "the local exchange at http://h:1") == (
        "error: TimeoutError: cannot reach the local exchange at http://h:1: timed out"
    )
    assert error_line(Silent()) == "error: Silent: The thing went wrong"
    assert error_line(KeyError("unknown data kind 'x'")) == "error: KeyError: unknown data kind 'x'"
    assert error_line(ValueError("DuckDB: Binder Error\nLINE 1: select x\n          ^")) == (
        "error: ValueError: DuckDB: Binder Error; LINE 1: select x"
    )
    assert error_line(refused, "testnet at https://t") == (
        "error: ConnectError: cannot reach testnet at https://t: cannot connect: GET /fapi/v1/ping (Connection refused)"
    )
    assert error_line(ReadTimeout("no answer"), "testnet at https://t") == "error: ReadTimeout: testnet at https://t: no answer"
    assert error_line(RuntimeError(), unexpected=True) == (
        "error: unexpected RuntimeError: Unspecified run-time error (run with --debug for the traceback)"
    )
