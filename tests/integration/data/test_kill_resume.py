"""A month of 1-minute klines and funding for 5 symbols, downloaded by the CLI in a subprocess that is
killed with SIGKILL midway and run again: the result is the uninterrupted run's dataset, byte for byte.

5 symbols x 30 days x 1440 = 216,000 bars and 5 x 90 funding settlements, from the local exchange (history
built in memory, see ``support``). About 20 s: the month is downloaded twice, plus the killed run.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from binfut.data import Manifest, Store
from binfut.emulator import EmulatorThread
from integration.data.support import DAY, START_MS, history_exchange, slow_down

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
DAYS = 30


def cli(url: str, directory: Path) -> list[str]:
    return [
        sys.executable, "-m", "binfut.data.cli", "data", "download", "--symbols", ",".join(SYMBOLS),
        "--kinds", "klines,funding", "--interval", "1m", "--start", "2024-01-01", "--end", "2024-01-31",
        "--env", "local", "--url", url, "--dir", str(directory), "--concurrency", "5", "--json",
    ]  # fmt: skip


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))
    }


def test_kill_9_midway_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    # Arrange: the exchange (weight limit raised: pacing is tested elsewhere, completeness here).
    exchange = history_exchange(SYMBOLS, DAYS, weight_limit=1_000_000)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    with EmulatorThread(exchange=exchange) as emu:
        reference = subprocess.run(cli(emu.rest_url, whole), capture_output=True, text=True, timeout=120, check=False)
        assert reference.returncode == 0, reference.stderr

        # Act 1: the same download, slowed so it is surely midway when killed.
        originals = dict(exchange.handlers)
        emu.call(lambda: slow_down(exchange, ["klines", "funding_rate_history"], 0.01))
        proc = subprocess.Popen(cli(emu.rest_url, resumed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(list(resumed.rglob("data.parquet"))) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        partial = Store(resumed).read("klines").num_rows
        emu.call(lambda: exchange.handlers.update(originals))

        # Act 2: run it again.
        rerun = subprocess.run(cli(emu.rest_url, resumed), capture_output=True, text=True, timeout=120, check=False)

    # Assert: it really was midway, the rerun only fetched the rest, and the datasets are identical.
    assert rerun.returncode == 0, rerun.stderr
    assert 0 < partial < 216_000
    first, second = json.loads(reference.stdout), json.loads(rerun.stdout)
    assert first["rows"] == 216_000 + 450
    assert second["requests"] < first["requests"]
    assert second["statuses"] == {"200": second["requests"]} or second["statuses"] == {200: second["requests"]}
    a, b = Store(whole), Store(resumed)
    assert b.read("klines").num_rows == 216_000 == len(SYMBOLS) * DAYS * 1440
    assert b.read("funding_rate").num_rows == 450
    assert b.read("klines").equals(a.read("klines")) and b.read("funding_rate").equals(a.read("funding_rate"))
    assert b.sql("select count(distinct (symbol, open_time)) as n from klines").to_pylist()[0]["n"] == 216_000
    assert files(resumed) == files(whole)  # byte for byte, same partitions
    assert [m.covered for m in Manifest(resumed).states()] == [m.covered for m in Manifest(whole).states()]
    assert all(not m.gaps for m in Manifest(resumed).states())
    assert Store(resumed).find_gaps("klines", "SOLUSDT", "1m", START_MS, START_MS + DAYS * DAY) == []
