"""``binfut data download`` with its progress bars, ``ls --gaps`` and ``sql``, against the local exchange."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from binfut.data.cli import data_app
from binfut.emulator import EmulatorThread
from integration.data.support import MINUTE, START_MS, drop_bars, history_exchange

runner = CliRunner()


def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(data_app, name="data")
    return root


def test_download_shows_progress_then_a_summary_and_ls_lists_gaps(tmp_path: Path) -> None:
    # Arrange
    exchange = history_exchange(["BTCUSDT", "ETHUSDT"], 2, weight_limit=100_000)
    drop_bars(exchange, "klines", {START_MS + 30 * MINUTE})
    args = ["data", "download", "--symbols", "BTCUSDT,ETHUSDT", "--kinds", "klines,funding", "--start", "2024-01-01",
            "--end", "2024-01-03", "--env", "local", "--dir", str(tmp_path)]  # fmt: skip

    # Act
    with EmulatorThread(exchange=exchange) as emu:
        result = runner.invoke(app(), [*args, "--url", emu.rest_url], env={"COLUMNS": "160"})
        again = runner.invoke(app(), [*args, "--url", emu.rest_url, "--json"])
    gaps = runner.invoke(app(), ["data", "ls", "--dir", str(tmp_path), "--gaps", "--json"])
    total = runner.invoke(
        app(), ["data", "sql", "select count(*) as n from klines", "--dir", str(tmp_path), "--format", "json"]
    )

    # Assert
    assert result.exit_code == 0, result.output
    assert "ETA" in result.output and "all" in result.output  # the overall bar
    assert "2,879" in result.output and "HTTP 200:" in result.output  # 2 days of bars but one, per symbol
    assert "gaps (no rows returned by the exchange)" in result.output
    assert json.loads(again.output)["rows"] == 0
    assert json.loads(gaps.output) == [
        ["klines", "BTCUSDT", "1m", START_MS + 30 * MINUTE, START_MS + 31 * MINUTE, 1],
        ["klines", "ETHUSDT", "1m", START_MS + 30 * MINUTE, START_MS + 31 * MINUTE, 1],
    ]
    assert json.loads(total.output) == [{"n": 2 * 2880 - 2}]
