"""``make demo`` runs end to end on the local exchange and writes its report; ``--env testnet`` runs the same."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from binfut import config, demo
from binfut.config import Environment, Urls
from binfut.emulator.config import EmulatorConfig
from binfut.emulator.server import EmulatorThread


def test_demo_runs_and_writes_the_report(tmp_path: Path) -> None:
    # 16 s: eight 2 s bars after a warm start, so this short run must already trade
    result = subprocess.run(
        [sys.executable, "-m", "binfut.demo", "--out", str(tmp_path), "--history-days", "1", "--live-seconds", "16"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120", "HOME": str(tmp_path)},
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = tmp_path / "report"
    assert (report / "report.html").stat().st_size > 10_000
    assert sorted(p.name for p in report.glob("*.png")) == ["drawdown.png", "equity.png", "position.png"]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["bars"] >= 1_000
    assert "refused locally" in result.stdout and "report written" in result.stdout
    assert "orders sent / fills" in result.stdout and "duration reached" in result.stdout
    counts = re.search(r"orders sent / fills\s*│\s*(\d+) / (\d+)", result.stdout)
    assert counts is not None
    sent, fills = map(int, counts.groups())
    assert sent >= 2 and fills >= sent  # at least one decision and the flattening order at the end
    assert "orders sent live" in result.stdout and "crossover" in result.stdout
    # what a reader sees: no raw reprs, no stray exponents or 8-decimal amounts, nothing past the width
    for raw in ("Decimal(", "{}", "{'", "E+", "E-", "Traceback", "dtypes"):
        assert raw not in result.stdout, raw
    assert not re.search(r"\d\.\d{8}\b", result.stdout)
    assert max(len(line) for line in result.stdout.splitlines()) <= 120
    assert re.search(r"market total\s+closed\s+4\s+[1-9][\d,]*\s", result.stdout)  # messages counted at the end
    assert result.stderr == ""


def test_testnet_demo_runs_every_phase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrange: "testnet" is a local exchange at real speed (the demo then uses the system clock, as on Binance)
    monkeypatch.setenv("BINFUT_API_KEY", "testnet-key")
    monkeypatch.setenv("BINFUT_API_SECRET", "testnet-secret")
    monkeypatch.delenv("BINFUT_API_KEY_FILE", raising=False)
    exchange_config = EmulatorConfig(api_keys={"testnet-key": "testnet-secret"}, history_days=0.5, seed=3)

    # Act
    with EmulatorThread(exchange_config) as exchange:
        monkeypatch.setitem(config._URLS, Environment.TESTNET, Urls.local(exchange.rest_url))
        code = demo.main(["--env", "testnet", "--trade", "--out", str(tmp_path), "--live-seconds", "5"])

    # Assert
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    for phase in ("1. Connectivity", "4. Orders", "8. Async client", "9. History", "10. Backtest", "11. Live"):
        assert phase in out
    assert "refused locally" in out and "Binance testnet" in out and "duration reached" in out
    report = tmp_path / "testnet" / "report" / "report.html"
    assert report.stat().st_size > 10_000
    assert str(report.resolve()) in out.replace("\n", "")
    assert json.loads((report.parent / "summary.json").read_text())["bars"] >= 600


@pytest.mark.parametrize(
    ("environ", "names"),
    [({}, ["BINFUT_API_KEY", "BINFUT_API_SECRET"]), ({"BINFUT_API_KEY": "k"}, ["BINFUT_API_SECRET"])],
)
def test_testnet_demo_without_keys_says_so_in_one_line(
    environ: dict[str, str],
    names: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("BINFUT_API_KEY", "BINFUT_API_SECRET", "BINFUT_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    code = demo.main(["--env", "testnet", "--trade", "--out", str(tmp_path)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and all(name in captured.err for name in names), captured.err
    assert not any(tmp_path.iterdir())


def test_numbers_read_as_numbers() -> None:
    assert demo.plain(Decimal("0.0100")) == "0.01" and demo.plain(Decimal("1E+1")) == "10" and demo.plain(None) == "-"
    assert demo.usd(Decimal("9996.12806400")) == "9,996.13" and demo.usd("-1.62592000") == "-1.63"
    assert demo.utc(1_700_000_000_000) == "2023-11-14 22:13:20"


def test_tables_right_align_number_columns_and_drop_blank_headers(capsys: pytest.CaptureFixture[str]) -> None:
    demo.table("t", ["name", "price"], [["BTCUSDT", "65,000.10"], ["ETHUSDT", "3,000.20"]])
    demo.table("kv", ["", ""], [["a", 1]])

    out = capsys.readouterr().out
    assert "│ BTCUSDT │ 65,000.10 │" in out and "│ ETHUSDT │  3,000.20 │" in out
    assert out.split("kv")[1].count("┃") == 0  # no empty header row


def test_live_orders_fold_their_fills() -> None:
    order = SimpleNamespace(
        time_ms=1_700_000_000_000,
        side="SELL",
        type="MARKET",
        quantity=Decimal("0.040"),
        client_order_id="a",
        tag="",
        status="FILLED",
        reason="",
    )
    flatten = SimpleNamespace(
        time_ms=1_700_000_060_000,
        side="BUY",
        type="MARKET",
        quantity=Decimal("0.020"),
        client_order_id="b",
        tag="flatten",
        status="FILLED",
        reason="",
    )
    fills = [
        SimpleNamespace(client_order_id="a", qty=Decimal("0.010"), price=Decimal("100"), realized_pnl=Decimal("1")),
        SimpleNamespace(client_order_id="a", qty=Decimal("0.030"), price=Decimal("200"), realized_pnl=Decimal("0.5")),
    ]
    summary = SimpleNamespace(orders=[order, flatten], fills=fills, kill_reason=None)

    rows = demo._order_rows(summary)

    assert rows[0] == ["22:13:20", "SELL", "MARKET", "0.040", "175.00", "1.50", "crossover"]
    assert rows[1][4:] == ["-", "0.00", "end of run"]
