"""``make demo`` runs end to end on the local exchange and writes its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


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
