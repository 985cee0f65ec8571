"""A month of 1-minute klines and funding for 5 symbols, downloaded by the CLI in a subprocess that is
killed with SIGKILL midway and run again: the result is the uninterrupted run's dataset, byte for byte.

5 symbols x 30 days x 1440 = 216,000 bars and 5 x 90 funding settlements, from the local exchange (history
built in memory by ``month_exchange``). About 20 s: the month is downloaded twice, plus the killed run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from binfut.data import Manifest, Store
from binfut.emulator import EmulatorThread, LocalExchange, MarketData, build_exchange
from integration.data.support import DAY, MINUTE, START_MS, Handlers, history_config, slower

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
DAYS = 30


def cli(url: str, directory: Path) -> list[str]:
    return [
        sys.executable, "-m", "binfut.data.cli", "data", "download", "--symbols", ",".join(SYMBOLS),
        "--kinds", "klines,funding", "--interval", "1m", "--start", "2024-01-01", "--end", "2024-01-31",
        "--env", "local", "--url", url, "--dir", str(directory), "--concurrency", "5", "--json",
    ]  # fmt: skip


def month_exchange() -> LocalExchange:
    """The month as one trade a minute and a funding rate every 8 hours per symbol, from ``START_MS``.

    Not ``history_days``, for speed alone: it also makes the mark, index and premium klines and the
    statistics this test never reads, which takes 10 s instead of 3.5 s and 1.5 times the memory, and
    doubled the test's run time (the exchange lives until the run ends: aiohttp's middleware cache
    keeps its application, and the larger heap slows pytest's final garbage collection)."""
    exchange = build_exchange(history_config(SYMBOLS, DAYS, history_days=0, weight_limit_1m=1_000_000))
    market = exchange.market = MarketData(exchange.symbols, exchange.bus, kline_limit=DAYS * 1440 + 10)
    for symbol in SYMBOLS:
        rng = random.Random(symbol)
        price = Decimal(100)
        for trade_id, t in enumerate(range(START_MS, START_MS + DAYS * DAY, MINUTE), start=1):
            price = max(Decimal("0.01"), price + Decimal("0.01") * rng.randint(-5, 5))
            market.on_trade(symbol, trade_id, price, Decimal("0.1"), t + rng.randint(0, 30_000), rng.random() < 0.5)
            if t % (8 * 3_600_000) == 0:
                market.on_funding(symbol, t, Decimal("0.0001"), price)
    return exchange


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))
    }


def test_kill_9_midway_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    # Arrange: the exchange (weight limit raised: pacing is tested elsewhere, completeness here).
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    with EmulatorThread(exchange=month_exchange()) as emu:
        reference = subprocess.run(cli(emu.rest_url, whole), capture_output=True, text=True, timeout=120, check=False)
        assert reference.returncode == 0, reference.stderr

        # Act 1: the same download, slowed so it is surely midway when killed.
        handlers = Handlers(emu)
        for name in ("klines", "funding_rate_history"):
            handlers.wrap(name, slower(0.01))
        proc = subprocess.Popen(cli(emu.rest_url, resumed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(list(resumed.rglob("data.parquet"))) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        partial = Store(resumed).read("klines").num_rows
        handlers.restore()

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
