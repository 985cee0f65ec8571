"""Recording live streams of the local exchange through StreamManager: rolling files, restarts, kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from binfut.cli import app
from binfut.data import Recorder, Store, record
from binfut.data.recorder import read_journal
from binfut.emulator import EmulatorConfig, EmulatorThread

STREAMS = ["btcusdt@aggTrade", "btcusdt@kline_1m", "btcusdt@markPrice@1s", "ethusdt@bookTicker", "btcusdt@depth@100ms"]


@pytest.fixture(scope="module")
def exchange() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(speed=10, seed=5)) as emu:
        yield emu


def test_recording_writes_raw_frames_and_normalized_tables_in_rolling_files(
    exchange: EmulatorThread, tmp_path: Path
) -> None:
    # Arrange
    store = Store(tmp_path)
    rolls: list[int] = []

    # Act: two recordings into the same directory, rolling every 0.5 s.
    first = asyncio.run(
        record(STREAMS, store, env="local", base_url=exchange.rest_url, duration_s=2.0, flush_interval_s=0.2,
               roll_interval_s=0.5, on_roll=lambda rec, files: rolls.append(len(files)))
    )  # fmt: skip
    after_first = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    second = asyncio.run(record(STREAMS[:1], store, env="local", base_url=exchange.rest_url, duration_s=1.0))

    # Assert: every frame is a raw row; events are in their tables; the restart only added files.
    raw = store.read("raw")
    assert first.frames > 20 and raw.num_rows == first.frames + second.frames
    assert len(rolls) >= 3 and first.journals_converted >= len(rolls)  # a quiet interval rolls an empty journal
    streams = raw["stream"].to_pylist()
    assert store.read("stream_agg_trade").num_rows == streams.count("btcusdt@aggTrade")
    assert store.read("stream_book_ticker", symbols="ETHUSDT").num_rows == streams.count("ethusdt@bookTicker")
    assert store.read("stream_depth").num_rows == streams.count("btcusdt@depth@100ms")
    assert store.read("stream_kline", series="1m").num_rows == streams.count("btcusdt@kline_1m")
    assert all(p.exists() and p.stat().st_mtime_ns == m for p, m in after_first.items())
    assert not list((tmp_path / "_journal").glob("*.bfj"))
    recv = raw["recv_time"].cast("int64").to_pylist()
    assert all(r > 1_600_000_000 * 10**9 for r in recv)  # nanoseconds since the epoch


def test_a_killed_record_command_loses_at_most_its_last_flush(exchange: EmulatorThread, tmp_path: Path) -> None:
    # Arrange: `binfut record` in its own process, flushing every 0.2 s, never rolling.
    cmd = [
        sys.executable, "-m", "binfut.data.cli", "record", "btcusdt@aggTrade", "btcusdt@depth@100ms",
        "--env", "local", "--url", exchange.rest_url, "--dir", str(tmp_path), "--flush", "0.2", "--roll", "3600",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal_dir = tmp_path / "_journal"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        journals = list(journal_dir.glob("*.bfj"))
        if journals and len(list(read_journal(journals[0]))) >= 30:
            break
        time.sleep(0.05)

    # Act
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    (journal,) = journal_dir.glob("*.bfj")
    on_disk = len(list(read_journal(journal)))
    recovered = Recorder(Store(tmp_path)).start()

    # Assert: everything the dead recorder had flushed is in the dataset now.
    assert on_disk >= 30 and recovered
    assert Store(tmp_path).read("raw").num_rows == on_disk
    assert not journal.exists()


def test_binfut_url_reaches_record_and_it_says_where_it_records_from(exchange: EmulatorThread, tmp_path: Path) -> None:
    # Act: the global option only; record's own --env / --url are not given
    result = CliRunner().invoke(app, ["--url", exchange.rest_url, "record", "btcusdt@aggTrade", "--duration", "1",
                                      "--dir", str(tmp_path), "--flush", "0.2"])  # fmt: skip

    # Assert
    assert result.exit_code == 0, result.output
    ws = exchange.rest_url.replace("http://", "ws://")
    assert result.stderr.splitlines()[0] == f"recording from the local exchange at {ws}/market"
    assert Store(tmp_path).read("raw").num_rows > 0 and "recorded" in result.stdout
