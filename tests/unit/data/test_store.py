"""The Parquet store: exact types on disk, merge on the primary key, atomic writes, readers, DuckDB views."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binfut.data import StoreWriteError
from binfut.data.schema import TS_MS, kind, table_from_columns
from binfut.data.store import Store

MIN = 60_000
DAY = 86_400_000
JAN1 = 1_704_067_200_000


def klines(start_ms: int, n: int, *, step: int = MIN, close: float = 1.5) -> pa.Table:
    opens = np.arange(start_ms, start_ms + n * step, step, dtype=np.int64)
    ones = np.ones(n)
    return table_from_columns(
        kind("klines"),
        {
            "open_time": opens, "open": ones, "high": ones * 2, "low": ones / 2, "close": ones * close,
            "volume": ones * 10, "close_time": opens + step - 1, "quote_volume": ones * 15, "trades": np.full(n, 3),
            "taker_buy_base_volume": ones * 5, "taker_buy_quote_volume": ones * 7.5,
        },
    )  # fmt: skip


def digest(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*.parquet"))
    }


def test_files_are_partitioned_by_kind_symbol_interval_and_day_with_exact_types(tmp_path: Path) -> None:
    # Arrange
    store = Store(tmp_path)

    # Act
    stats = store.write("klines", klines(JAN1, 3 * 1440), symbol="BTCUSDT", series="1m")

    # Assert
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert files == [f"kind=klines/symbol=BTCUSDT/interval=1m/date=2024-01-0{d}/data.parquet" for d in (1, 2, 3)]
    assert (stats.rows_in, stats.rows_added, stats.files_written) == (4320, 4320, 3)
    schema = pq.read_schema(tmp_path / files[0])
    assert schema.field("open_time").type == TS_MS == pa.timestamp("ms", tz="UTC")
    assert schema.field("close").type == pa.float64()
    assert schema.field("trades").type == pa.int64()
    assert "symbol" not in schema.names and "date" not in schema.names


def test_sparse_kinds_use_month_partitions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    funding = table_from_columns(
        kind("funding"), {"funding_time": [JAN1 + i * 8 * 3_600_000 for i in range(100)], "funding_rate": [1e-4] * 100}
    )

    store.write("funding", funding, symbol="BTCUSDT")
    store.write("klines", klines(JAN1, 24 * 40, step=3_600_000), symbol="BTCUSDT", series="1h")

    assert sorted(p.name for p in (tmp_path / "kind=funding_rate/symbol=BTCUSDT").glob("date=*")) == [
        "date=2024-01-01", "date=2024-02-01",
    ]  # fmt: skip
    assert len(list((tmp_path / "kind=klines/symbol=BTCUSDT/interval=1h").glob("date=*"))) == 2


def test_merging_keeps_one_row_per_key_the_newest_and_sorts_by_key(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write("klines", klines(JAN1 + 10 * MIN, 20), symbol="BTCUSDT", series="1m")

    stats = store.write("klines", klines(JAN1, 15, close=9.0), symbol="BTCUSDT", series="1m")

    table = store.read("klines", symbols="BTCUSDT", series="1m")
    assert stats.rows_added == 10
    assert table.num_rows == 30
    opens = table["open_time"].cast(pa.int64()).to_numpy()
    assert (np.diff(opens) == MIN).all()
    closes = table["close"].to_numpy()
    assert (closes[:15] == 9.0).all() and (closes[15:] == 1.5).all()  # rewritten rows take the new values


def test_writing_the_same_rows_again_leaves_every_file_untouched(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write("klines", klines(JAN1, 2000), symbol="BTCUSDT", series="1m")
    before = digest(tmp_path)

    stats = store.write("klines", klines(JAN1 + 100 * MIN, 1500), symbol="BTCUSDT", series="1m")

    assert (stats.rows_added, stats.files_written) == (0, 0)
    assert digest(tmp_path) == before  # same bytes, same mtimes


def test_the_same_rows_written_in_pieces_give_byte_identical_files(tmp_path: Path) -> None:
    whole, pieces = Store(tmp_path / "a"), Store(tmp_path / "b")
    whole.write("klines", klines(JAN1, 2880), symbol="ETHUSDT", series="1m")
    for start in range(0, 2880, 499):
        pieces.write("klines", klines(JAN1 + start * MIN, min(499, 2880 - start)), symbol="ETHUSDT", series="1m")

    assert {k: v[0] for k, v in digest(tmp_path / "a").items()} == {k: v[0] for k, v in digest(tmp_path / "b").items()}


def test_reads_filter_by_symbol_series_and_time(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        store.write("klines", klines(JAN1, 3 * 1440), symbol=symbol, series="1m")
    store.write("klines", klines(JAN1, 10, step=300_000), symbol="BTCUSDT", series="5m")

    window = store.read(
        "klines", symbols=["ETHUSDT"], series="1m", start_ms=JAN1 + DAY - 5 * MIN, end_ms=JAN1 + DAY + 5 * MIN
    )
    everything = store.read("klines")

    assert window.num_rows == 10 and set(window["symbol"].to_pylist()) == {"ETHUSDT"}
    assert everything.num_rows == 2 * 3 * 1440 + 10
    assert store.read("agg_trades").num_rows == 0  # nothing of that kind yet: an empty table, not an error
    frame = store.to_pandas("klines", symbols="BTCUSDT", series="5m")
    assert str(frame["open_time"].dtype) == "datetime64[ms, UTC]" and frame["close"].dtype == np.float64


def test_polars_reader(tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")
    store = Store(tmp_path)
    store.write("klines", klines(JAN1, 5), symbol="BTCUSDT", series="1m")

    frame = store.to_polars("klines")

    assert frame.height == 5 and frame.schema["open_time"] == pl.Datetime("ms", "UTC")


def test_duckdb_views_read_the_partitions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write("klines", klines(JAN1, 2 * 1440), symbol="BTCUSDT", series="1m")
    store.write(
        "funding",
        table_from_columns(kind("funding"), {"funding_time": [JAN1], "funding_rate": [1e-4]}),
        symbol="BTCUSDT",
    )

    result = store.sql(
        "select symbol, interval, date, count(*) as n, min(open_time) as first from klines group by all order by date"
    )
    funding = store.sql("select * from funding_rate")

    rows = result.to_pylist()
    assert [r["n"] for r in rows] == [1440, 1440] and rows[0]["symbol"] == "BTCUSDT" and rows[0]["interval"] == "1m"
    assert str(rows[1]["date"]) == "2024-01-02"
    assert (
        result.schema.field("first").type == pa.timestamp("us", tz="UTC")
        or result.schema.field("first").type.tz == "UTC"
    )
    assert funding.num_rows == 1 and "kind" not in funding.column_names
    assert any("hive_partitioning = true" in s for s in store.view_sql())


def test_summary_and_gaps_come_from_footers_and_times(tmp_path: Path) -> None:
    store = Store(tmp_path)
    table = klines(JAN1, 1440)
    store.write("klines", table.filter(pa.array(np.arange(1440) % 500 != 7)), symbol="BTCUSDT", series="1m")

    (summary,) = store.summary()
    gaps = store.find_gaps("klines", "BTCUSDT", "1m", JAN1, JAN1 + DAY)

    assert (summary.kind, summary.symbol, summary.series, summary.rows) == ("klines", "BTCUSDT", "1m", 1437)
    assert (summary.first_ms, summary.last_ms) == (JAN1, JAN1 + 1439 * MIN)
    assert [(g.start_ms - JAN1) // MIN for g in gaps] == [7, 507, 1007]


def test_rolling_files_are_never_merged(tmp_path: Path) -> None:
    store = Store(tmp_path)
    raw = table_from_columns(
        kind("raw"), {"recv_time": [JAN1 * 1_000_000], "stream": ["btcusdt@aggTrade"], "payload": [b"{}"]}
    )

    first = store.write_rolling("raw", raw, symbol="BTCUSDT", stem="rec-1")
    store.write_rolling("raw", raw, symbol="BTCUSDT", stem="rec-2")
    store.write_rolling("raw", raw, symbol="BTCUSDT", stem="rec-1")  # a recovery re-run replaces its own file

    assert first[0].name == "rec-1.parquet"
    assert store.read("raw").num_rows == 2
    with pytest.raises(Exception, match="rolling"):
        store.write("raw", raw, symbol="BTCUSDT")


def test_a_full_disk_is_reported_and_the_old_file_survives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: one good partition, then a write that hits ENOSPC halfway through the Parquet file.
    store = Store(tmp_path)
    store.write("klines", klines(JAN1, 100), symbol="BTCUSDT", series="1m")
    before = digest(tmp_path)

    def full(table: pa.Table, where: object, **_: object) -> None:
        where.write(b"PAR1 partial")  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)

    # Act
    with pytest.raises(StoreWriteError) as caught:
        store.write("klines", klines(JAN1 + 50 * MIN, 100), symbol="BTCUSDT", series="1m")

    # Assert
    assert caught.value.errno == errno.ENOSPC
    assert "the disk is full" in str(caught.value) and "data.parquet" in str(caught.value)
    assert digest(tmp_path) == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


KILL_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from test_store import klines, MIN, JAN1
    from binfut.data.store import Store
    store = Store(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        store.write("klines", klines(JAN1 + (i % 2880) * MIN, 2000), symbol="BTCUSDT", series="1m")
        i += 37
    """
)


def test_kill_9_while_writing_leaves_only_whole_files(tmp_path: Path) -> None:
    # Arrange: a process that keeps rewriting partitions.
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_WRITER, str(tmp_path), str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 20
    while len(list(tmp_path.rglob("data.parquet"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)

    # Act
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()

    # Assert: every visible file reads whole; a leftover temp file is invisible and swept by the next write.
    store = Store(tmp_path)
    for path in tmp_path.rglob("*.parquet"):
        assert pq.read_table(path).num_rows > 0
    table = store.read("klines")
    assert table.num_rows == len(np.unique(table["open_time"].cast(pa.int64()).to_numpy()))
    assert store.sql("select count(*) as n from klines").to_pylist()[0]["n"] == table.num_rows
    store.write("klines", klines(JAN1, 4 * 1440), symbol="BTCUSDT", series="1m")  # every day the writer touched
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert store.read("klines").num_rows == 4 * 1440


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from test_store import klines, MIN, JAN1
    from binfut.data.store import Store
    store, offset = Store(sys.argv[1]), int(sys.argv[3])
    for i in range(40):  # interleaved 1-minute slices of the same day partition
        store.write("klines", klines(JAN1 + (2 * i + offset) * MIN, 1), symbol="BTCUSDT", series="1m")
    """
)


def test_two_processes_merging_into_one_partition_lose_no_rows(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(tmp_path), str(Path(__file__).parent), str(k)])
        for k in (0, 1)
    ]
    assert [p.wait(60) for p in procs] == [0, 0]

    assert Store(tmp_path).read("klines").num_rows == 80
