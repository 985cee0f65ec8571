"""``binfut paper`` / ``binfut live`` against the local exchange: status lines, a summary table, clean exits.

Mainnet without ``--i-understand-this-is-real-money`` is refused before anything connects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from binfut.emulator import EmulatorConfig, EmulatorThread
from binfut.trading.runner_cli import runner_app

KEY, SECRET = "cliRunnerKey00001", "cliRunnerSecret00001"
START_MS = 1_700_000_059_000  # a bar closes one second after the start


@pytest.fixture(scope="module")
def exchange() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(symbols=("BTCUSDT",), seed=9, start_time_ms=START_MS, api_keys={KEY: SECRET})
    with EmulatorThread(config) as emu:
        yield emu


def test_paper_prints_status_lines_and_a_summary(exchange: EmulatorThread, tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "cfg.toml"
    config.write_text('[strategy]\nshort_window = 2\nlong_window = 3\nquantity = "0.01"\n'
                      '[paper]\ninitial_balance = "5000"\n[risk]\nmax_drawdown = "0.5"\n[backtest]\nleverage = 5\n')

    result = CliRunner().invoke(runner_app, ["paper", "--url", exchange.rest_url, "--config", str(config), "--duration", "2.5",
                                             "--no-dashboard", "--status-every", "0.5"])

    assert result.exit_code == 0, result.output
    assert "paper " in result.output and "equity 5,000.00" in result.output  # status lines
    assert "paper: ma_cross BTCUSDT 1m" in result.output and "duration reached" in result.output


def test_live_trades_on_the_local_exchange_with_keys_from_the_environment(exchange: EmulatorThread) -> None:
    env = {"BINFUT_API_KEY": KEY, "BINFUT_API_SECRET": SECRET}

    result = CliRunner(env=env).invoke(runner_app, ["live", "--url", exchange.rest_url, "--duration", "2", "--no-dashboard",
                                                    "--status-every", "0.5"])

    assert result.exit_code == 0, result.output
    assert "live " in result.output and "live: ma_cross BTCUSDT 1m" in result.output


def test_mainnet_is_refused_without_the_flag_before_anything_connects() -> None:
    result = CliRunner().invoke(runner_app, ["live", "--env", "mainnet", "--duration", "1"])

    assert result.exit_code == 1
    assert "ConfigError" in result.output and "--i-understand-this-is-real-money" in result.output


def test_unknown_config_tables_are_one_line_errors(tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "cfg.json"
    config.write_text('{"papr": {}}')

    result = CliRunner().invoke(runner_app, ["paper", "--config", str(config)])

    assert result.exit_code == 1 and "unknown config tables ['papr']" in result.output
