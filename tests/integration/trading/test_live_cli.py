"""``binfut paper`` / ``binfut live`` against the local exchange: status lines, a summary table, clean exits.

``binfut --env / --url`` reach both (their own options win); mainnet without
``--i-understand-this-is-real-money`` is refused before anything connects; an exchange that cannot be
reached is one error line that names it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from binfut.cli import app
from binfut.emulator import EmulatorConfig, EmulatorThread
from binfut.trading.runner_cli import runner_app

KEY, SECRET = "cliRunnerKey00001", "cliRunnerSecret00001"
START_MS = 1_700_000_059_000  # a bar closes one second after the start


@pytest.fixture(scope="module")
def exchange() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(symbols=("BTCUSDT",), seed=9, start_time_ms=START_MS, api_keys={KEY: SECRET})
    with EmulatorThread(config) as emu:
        yield emu


def closed_port_url() -> str:
    """A URL nothing listens on (the port was free a moment ago): connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_paper_prints_status_lines_and_a_summary(exchange: EmulatorThread, tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "cfg.toml"  # the file backtest and live use too
    config.write_text('[strategy]\nshort_window = 2\nlong_window = 3\nquantity = "0.01"\n'
                      '[paper]\ninitial_balance = "5000"\n[risk]\nmax_drawdown = "0.5"\n[backtest]\nleverage = 5\n'
                      '[live]\nleverage = 3\n')

    result = CliRunner().invoke(app, ["--url", exchange.rest_url, "paper", "--config", str(config), "--duration", "2.5",
                                      "--no-dashboard", "--status-every", "0.5"])  # binfut's --url, not paper's

    assert result.exit_code == 0, result.output
    assert "paper " in result.output and "equity 5,000.00" in result.output  # status lines
    assert "paper: ma_cross BTCUSDT 1m" in result.output and "duration reached" in result.output
    ws = exchange.rest_url.replace("http://", "ws://")
    assert f"paper: market data from the local exchange at {ws}/market" in result.stderr


def test_live_trades_on_the_local_exchange_with_keys_from_the_environment(exchange: EmulatorThread) -> None:
    env = {"BINFUT_API_KEY": KEY, "BINFUT_API_SECRET": SECRET}

    result = CliRunner(env=env).invoke(app, ["--url", exchange.rest_url, "live", "--duration", "2", "--no-dashboard",
                                             "--status-every", "0.5"])

    assert result.exit_code == 0, result.output
    assert "live " in result.output and "live: ma_cross BTCUSDT 1m" in result.output
    assert f"live: trading on the local exchange at {exchange.rest_url}" in result.stderr


def test_the_commands_own_url_wins_over_binfuts(exchange: EmulatorThread) -> None:
    env = {"BINFUT_API_KEY": KEY, "BINFUT_API_SECRET": SECRET}

    result = CliRunner(env=env).invoke(app, ["--url", closed_port_url(), "live", "--url", exchange.rest_url,
                                             "--duration", "0.5", "--no-dashboard"])  # fmt: skip

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("where", ["global", "own"])
def test_mainnet_is_refused_without_the_flag_before_anything_connects(where: str) -> None:
    args = ["--env", "mainnet", "live", "--duration", "1"] if where == "global" else ["live", "--env", "mainnet"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 1
    assert "ConfigError" in result.output and "--i-understand-this-is-real-money" in result.output


@pytest.mark.parametrize("command", ["paper", "live"])
def test_an_unreachable_exchange_is_one_line_naming_it(command: str) -> None:
    url = closed_port_url()
    env = {"BINFUT_API_KEY": KEY, "BINFUT_API_SECRET": SECRET}

    result = CliRunner(env=env).invoke(app, ["--url", url, command, "--duration", "1", "--no-dashboard"])

    assert result.exit_code == 1
    notice, error = result.stderr.splitlines()  # where it went, then what failed
    assert url.split(":")[-1] in notice
    assert error.startswith("error: Connect") and f"cannot reach the local exchange at {url}: " in error
    assert "(Connection refused)" in error


def test_streams_that_never_open_are_one_line_that_says_so(exchange: EmulatorThread, monkeypatch) -> None:  # noqa: ANN001
    from binfut.trading.paper import PaperRunner

    async def never_open(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise TimeoutError  # what StreamManager.wait_ready raises: no message at all

    monkeypatch.setattr(PaperRunner, "run", never_open)

    result = CliRunner().invoke(app, ["--url", exchange.rest_url, "paper", "--duration", "1", "--no-dashboard"])

    assert result.exit_code == 1
    ws = exchange.rest_url.replace("http://", "ws://")
    assert result.stderr.splitlines()[-1] == (
        f"error: ConnectTimeout: cannot reach the local exchange at {exchange.rest_url}: "
        f"the streams ({ws}/market) did not open within 30 s"
    )


def test_unknown_config_tables_are_one_line_errors(tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "cfg.json"
    config.write_text('{"papr": {}}')

    result = CliRunner().invoke(runner_app, ["paper", "--config", str(config)])

    assert result.exit_code == 1 and "unknown config tables ['papr']" in result.output


def test_paper_warms_up_from_history_and_says_so_in_the_summary() -> None:
    config = EmulatorConfig(symbols=("BTCUSDT",), seed=4, history_days=0.1, api_keys={KEY: SECRET})
    with EmulatorThread(config) as emu:
        warm = CliRunner().invoke(app, ["--url", emu.rest_url, "paper", "--warmup", "30", "--duration", "1.5",
                                        "--no-dashboard"])
        cold = CliRunner().invoke(app, ["--url", emu.rest_url, "paper", "--warmup", "0", "--duration", "1.5",
                                        "--no-dashboard"])

    assert warm.exit_code == 0 and cold.exit_code == 0, warm.output + cold.output
    assert "(30 warm-up)" in warm.stdout  # the summary's bars row: 30 closed bars replayed from the exchange
    assert "warm-up" not in cold.stdout
