"""``binfut data download`` with its progress bars, ``ls --gaps`` and ``sql``, against the local exchange;
``binfut --env / --url`` reach it (its own options win), and it names where it downloads from."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import typer
from typer.testing import CliRunner

from binfut.cli import app as binfut_app
from binfut.data.cli import data_app
from binfut.emulator import EmulatorThread
from integration.data.support import MINUTE, START_MS, Handlers, without_bars

runner = CliRunner()
ONE_DAY = ["--symbols", "BTCUSDT", "--kinds", "klines", "--start", "2024-01-01", "--end", "2024-01-02", "--no-progress"]


def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(data_app, name="data")
    return root


def test_download_shows_progress_then_a_summary_and_ls_lists_gaps(
    served: EmulatorThread, handlers: Handlers, tmp_path: Path
) -> None:
    # Arrange
    handlers.wrap("klines", without_bars({START_MS + 30 * MINUTE}))
    args = ["data", "download", "--symbols", "BTCUSDT,ETHUSDT", "--kinds", "klines,funding", "--start", "2024-01-01",
            "--end", "2024-01-03", "--env", "local", "--dir", str(tmp_path)]  # fmt: skip

    # Act
    result = runner.invoke(app(), [*args, "--url", served.rest_url], env={"COLUMNS": "160"})
    again = runner.invoke(app(), [*args, "--url", served.rest_url, "--json"])
    gaps = runner.invoke(app(), ["data", "ls", "--dir", str(tmp_path), "--gaps", "--json"])
    total = runner.invoke(
        app(), ["data", "sql", "select count(*) as n from klines", "--dir", str(tmp_path), "--format", "json"]
    )

    # Assert
    assert result.exit_code == 0, result.output
    assert "ETA" in result.output and "all" in result.output  # the overall bar
    assert "2,879" in result.output and "HTTP 200:" in result.output  # 2 days of bars but one, per symbol
    assert "gaps (no rows returned by the exchange)" in result.output
    assert json.loads(again.stdout)["rows"] == 0
    assert f"downloading from the local exchange at {served.rest_url}" in again.stderr
    assert json.loads(gaps.output) == [
        ["klines", "BTCUSDT", "1m", START_MS + 30 * MINUTE, START_MS + 31 * MINUTE, 1],
        ["klines", "ETHUSDT", "1m", START_MS + 30 * MINUTE, START_MS + 31 * MINUTE, 1],
    ]
    assert json.loads(total.output) == [{"n": 2 * 2880 - 2}]


def closed_port_url() -> str:
    """A URL nothing listens on (the port was free a moment ago): connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_the_global_url_reaches_download_and_it_says_where_it_downloads_from(
    served: EmulatorThread, tmp_path: Path
) -> None:
    # Act: the options before the subcommand, nothing after it
    result = runner.invoke(binfut_app, ["--url", served.rest_url, "--json", "data", "download", *ONE_DAY,
                                        "--dir", str(tmp_path)])  # fmt: skip

    # Assert
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 1440 and set(report["statuses"]) == {"200"}
    assert result.stderr == f"downloading from the local exchange at {served.rest_url}\n"


def test_the_subcommands_own_env_and_url_win_over_the_global_ones(served: EmulatorThread, tmp_path: Path) -> None:
    # Act
    result = runner.invoke(binfut_app, ["--env", "mainnet", "--url", closed_port_url(), "data", "download", *ONE_DAY,
                                        "--env", "local", "--url", served.rest_url, "--dir", str(tmp_path), "--json"])  # fmt: skip

    # Assert
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == 1440


def test_the_global_env_reaches_download(tmp_path: Path) -> None:
    result = runner.invoke(binfut_app, ["--env", "nowhere", "data", "download", *ONE_DAY, "--dir", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: ConfigError: unknown environment 'nowhere'")


def test_an_unreachable_exchange_is_one_error_line_naming_it(tmp_path: Path) -> None:
    url = closed_port_url()

    result = runner.invoke(binfut_app, ["--url", url, "data", "download", *ONE_DAY, "--dir", str(tmp_path)])

    assert result.exit_code == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith(f"error: ConnectError: cannot reach the local exchange at {url}: cannot connect")
    assert "Connect call failed" in error or "refused" in error
    assert "Traceback" not in result.output
