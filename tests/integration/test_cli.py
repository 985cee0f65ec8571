"""The ``binfut`` command against a local exchange started with ``binfut exchange serve``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from binfut.cli import app

KEY, SECRET = "cli-key", "cli-secret"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """``binfut exchange serve`` in a subprocess; the URL it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "binfut.cli", "exchange", "serve", "--port", "0", "--api-key", KEY, "--api-secret", SECRET, "--speed", "20", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("REST"), line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        ws_line = proc.stdout.readline()
        assert ws_line.startswith("WebSocket ws://127.0.0.1:")
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reaps the process and closes its pipes


def run(url: str, *args: str, keys: bool = True) -> tuple[int, str, str]:
    env = {"COLUMNS": "200", "BINFUT_API_KEY": KEY if keys else None, "BINFUT_API_SECRET": SECRET if keys else None}
    result = CliRunner().invoke(app, ["--url", url, *args], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_market_data_commands(url: str) -> None:
    code, out, _ = run(url, "--json", "price", "BTCUSDT")
    assert code == 0 and json.loads(out)["symbol"] == "BTCUSDT"

    code, out, _ = run(url, "--json", "time")
    assert code == 0 and json.loads(out)["server_time_ms"] > 0

    code, out, _ = run(url, "info", "ETHUSDT")
    assert code == 0 and "PRICE_FILTER" in out and "leverage brackets" in out

    time.sleep(0.5)
    code, out, _ = run(url, "--json", "klines", "BTCUSDT", "1m", "--limit", "3")
    assert code == 0 and 1 <= len(json.loads(out)) <= 3

    code, out, _ = run(url, "funding", "BTCUSDT")
    assert code == 0


def test_order_commands_and_account(url: str) -> None:
    code, out, _ = run(url, "--json", "order", "new", "BTCUSDT", "BUY", "0.010")
    assert code == 0
    filled = json.loads(out)
    assert filled["status"] == "FILLED"

    code, out, _ = run(url, "--json", "positions")
    assert code == 0 and any(p["symbol"] == "BTCUSDT" and p["positionAmt"] != "0" for p in json.loads(out))

    code, out, _ = run(url, "--json", "account")
    assert code == 0 and json.loads(out)[0]["asset"] == "USDT"

    _, price_out, _ = run(url, "--json", "price", "BTCUSDT")
    low = int(float(json.loads(price_out)["price"]) * 0.98)  # inside PERCENT_PRICE, below the book
    code, out, _ = run(url, "--json", "order", "new", "BTCUSDT", "BUY", "0.010", "--price", str(low))
    assert code == 0
    order_id = str(json.loads(out)["orderId"])

    code, out, _ = run(url, "--json", "order", "open", "BTCUSDT")
    assert code == 0 and any(str(o["orderId"]) == order_id for o in json.loads(out))
    code, out, _ = run(url, "--json", "order", "status", "BTCUSDT", "--id", order_id)
    assert code == 0 and json.loads(out)["status"] == "NEW"
    code, out, _ = run(url, "--json", "order", "cancel", "BTCUSDT", "--id", order_id)
    assert code == 0 and json.loads(out)["status"] == "CANCELED"


def test_errors_are_one_line_without_a_traceback(url: str) -> None:
    code, _, err = run(url, "order", "cancel", "BTCUSDT", "--id", "1")
    assert code == 1
    assert err.strip().count("\n") == 0 and "UnknownOrder" in err and "-2011" in err and "Traceback" not in err

    code, _, err = run(url, "account", keys=False)
    assert code == 1 and "ConfigError" in err and "API key" in err


def test_live_book(url: str) -> None:
    code, out, _ = run(url, "--json", "book", "BTCUSDT", "--depth", "3")
    assert code == 0
    book = json.loads(out)
    assert len(book["bids"]) == 3 and len(book["asks"]) == 3
    assert float(book["bids"][0][0]) < float(book["asks"][0][0])

    code, out, _ = run(url, "book", "ETHUSDT", "--depth", "2", "--seconds", "0.5")
    assert code == 0 and "ETHUSDT" in out and "resyncs" in out


def test_the_global_options_reach_the_mounted_commands(url: str, tmp_path: Path) -> None:
    # Arrange: an hour up to the exchange's own clock (it runs 20 times faster than real time)
    _, out, _ = run(url, "--json", "time")
    now = json.loads(out)["server_time_ms"]

    # Act: --url and --json before the subcommand only
    code, out, err = run(url, "--json", "data", "download", "--symbols", "BTCUSDT", "--kinds", "klines,funding",
                         "--start", str(now - 3_600_000), "--end", str(now), "--dir", str(tmp_path))  # fmt: skip

    # Assert: it asked the local exchange, not mainnet, and said so
    assert code == 0, err
    report = json.loads(out)
    assert report["requests"] >= 2 and set(report["statuses"]) == {"200"}
    assert err == f"downloading from the local exchange at {url}\n"


def test_an_unreachable_exchange_is_one_line_naming_it() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"

    code, _, err = run(dead, "price", "BTCUSDT")

    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: Connect") and f": cannot reach the local exchange at {dead}: " in err
    assert "refused" in err and "Traceback" not in err


def test_help_says_the_local_exchange_is_the_default() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})

    assert "offline local exchange" in result.stdout and "unless --env / --url" in result.stdout
