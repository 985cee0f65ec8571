"""``make demo`` runs end to end on the local exchange and writes its report; ``--env testnet`` runs the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from binfut import config, demo
from binfut.config import Environment, Urls
from binfut.emulator.config import EmulatorConfig
from binfut.emulator.server import EmulatorThread


def test_demo_runs_and_writes_the_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "binfut.demo", "--out", str(tmp_path), "--history-days", "1", "--live-seconds", "8"],
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
