"""The recorder's file core, fed frames directly: journal, rolls, crash recovery, full disks, read-only dirs."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from binfut.clock import ManualClock
from binfut.data import Recorder, Store, StoreWriteError, recover_journals
from binfut.data.recorder import FileJournalWriter, read_journal

T0 = 1_704_067_200_000_000_000


def agg(i: int) -> bytes:
    return (
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":%d,"a":%d,"s":"BTCUSDT","p":"42000.1",'
        b'"q":"0.5","f":%d,"l":%d,"T":%d,"m":true}}' % (1_704_067_200_000 + i, i, i, i, 1_704_067_200_000 + i)
    )


def feed(rec: Recorder, first: int, n: int) -> None:
    for i in range(first, first + n):
        rec.add("btcusdt@aggTrade", agg(i), T0 + i)


class FlakyWriter(FileJournalWriter):
    """A journal that fails like a full disk when armed (optionally after writing part of the data)."""

    armed = False
    partial = False

    def write(self, data: bytes | memoryview) -> int:
        if FlakyWriter.armed:
            if FlakyWriter.partial:
                super().write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.fixture(autouse=True)
def _disarm() -> None:
    FlakyWriter.armed = FlakyWriter.partial = False


def test_frames_reach_the_journal_on_flush_and_become_parquet_on_roll(tmp_path: Path) -> None:
    # Arrange
    clock = ManualClock(T0)
    rec = Recorder(Store(tmp_path), clock=clock, flush_interval_s=1, roll_interval_s=60)
    rec.start()
    journal = rec.journal
    assert journal is not None

    # Act / Assert: queued frames are in memory only until the flush interval passes.
    feed(rec, 0, 10)
    assert not rec.flush_due() and list(read_journal(journal)) == []
    clock.advance(1_000_000_000)
    assert rec.flush_due()
    rec.flush()
    records = list(read_journal(journal))
    assert [r[0] for r in records] == [T0 + i for i in range(10)] and records[0][2] == agg(0)

    files = rec.close()

    # Assert: raw frames and the normalized table, the journal gone.
    assert not journal.exists()
    assert {p.name for p in files} == {journal.stem + ".parquet"}
    store = Store(tmp_path)
    raw = store.read("raw")
    assert raw.num_rows == 10 and raw.schema.field("recv_time").type == pa.timestamp("ns", tz="UTC")
    assert raw["payload"].to_pylist()[3] == agg(3)
    assert store.read("stream_agg_trade")["agg_trade_id"].to_pylist() == list(range(10))


def test_rolls_follow_the_interval_and_a_restart_never_overwrites(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = Store(tmp_path)
    first = Recorder(store, clock=clock, roll_interval_s=5)
    first.start()
    feed(first, 0, 3)
    clock.advance(5_000_000_000)
    assert first.roll_due()
    closed = first.rotate()
    assert closed is not None
    first.convert(closed)
    feed(first, 3, 3)
    first.close()

    second = Recorder(store, clock=clock)  # the next run in the same directory
    second.start()
    feed(second, 6, 4)
    second.close()

    assert len(list(tmp_path.rglob("kind=raw/**/rec-*.parquet"))) == 3
    assert store.read("raw").num_rows == 10


CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, sys.argv[2])
    from test_recorder import feed, T0
    from binfut.data import Recorder, Store
    rec = Recorder(Store(sys.argv[1]))
    rec.start()
    feed(rec, 0, 25)
    rec.flush()          # 25 frames on disk
    feed(rec, 25, 5)     # 5 more only in memory: the crash may lose these, never the 25
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_recorder_loses_at_most_the_unflushed_frames(tmp_path: Path) -> None:
    # Arrange: a recorder process killed with SIGKILL after one flush.
    done = subprocess.run([sys.executable, "-c", CRASHER, str(tmp_path), str(Path(__file__).parent)], check=False)
    assert done.returncode == -signal.SIGKILL
    (journal,) = (tmp_path / "_journal").glob("*.bfj")

    # Act: the next start converts what the dead one left.
    rec = Recorder(Store(tmp_path))
    recovered = rec.start()
    rec.close()

    # Assert
    assert recovered and not journal.exists()
    ids = Store(tmp_path).read("stream_agg_trade")["agg_trade_id"].to_pylist()
    assert ids == list(range(25))


def test_torn_or_zeroed_tails_keep_every_whole_record(tmp_path: Path) -> None:
    rec = Recorder(Store(tmp_path))
    rec.start()
    feed(rec, 0, 5)
    rec.flush()
    journal = rec.journal
    assert journal is not None
    with open(journal, "ab") as fh:
        fh.write(b"\x00" * 64)  # a file extended with zeros by a crash mid-append

    assert len(list(read_journal(journal))) == 5
    copy = journal.with_name("rec-1-1-1.bfj")
    shutil.copy(journal, copy)
    data = copy.read_bytes()
    copy.write_bytes(data[: len(data) - 64 - 7])  # the last record cut short
    assert len(list(read_journal(copy))) == 4
    assert len(recover_journals(Store(tmp_path))) >= 1  # the copy is not locked: recovered
    assert journal.exists()  # the live journal is locked: left alone
    rec.close()
    assert Store(tmp_path).read("raw").num_rows == 9


@pytest.mark.parametrize("partial", [False, True], ids=["refused", "half-written"])
def test_a_full_disk_is_reported_and_loses_nothing(tmp_path: Path, partial: bool) -> None:
    # Arrange: 10 frames safely in the journal, then the disk fills up.
    rec = Recorder(Store(tmp_path), writer_factory=FlakyWriter)
    rec.start()
    journal = rec.journal
    assert journal is not None
    feed(rec, 0, 10)
    rec.flush()
    FlakyWriter.armed, FlakyWriter.partial = True, partial
    feed(rec, 10, 5)

    # Act
    with pytest.raises(StoreWriteError) as caught:
        rec.flush()

    # Assert: a clear error; the journal still holds its 10 whole records; the 5 stay queued.
    assert caught.value.errno == errno.ENOSPC
    assert "the disk is full" in str(caught.value) and journal.name in str(caught.value)
    assert len(list(read_journal(journal))) == 10
    assert rec.pending_bytes > 0 and rec.stats.write_errors == 1

    FlakyWriter.armed = False  # space freed
    rec.flush()
    rec.close()
    assert Store(tmp_path).read("stream_agg_trade")["agg_trade_id"].to_pylist() == list(range(15))


def test_a_refused_journal_is_a_clear_error(tmp_path: Path) -> None:
    def denied(path: Path) -> FileJournalWriter:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    rec = Recorder(Store(tmp_path), writer_factory=denied)

    with pytest.raises(StoreWriteError, match="permission denied"):
        rec.start()
    assert not list((tmp_path / "_journal").glob("*.bfj"))


READ_ONLY = textwrap.dedent(
    """
    import sys
    from binfut.data import Recorder, Store, StoreWriteError
    try:
        Recorder(Store(sys.argv[1])).start()
    except StoreWriteError as exc:
        print(exc)
        sys.exit(3)
    """
)


def _run_read_only(target: Path) -> subprocess.CompletedProcess[str]:
    """Run the recorder with ``target`` truly read-only: chmod for a normal user; as root (which ignores
    permissions) a read-only bind mount in a private mount namespace."""
    if os.geteuid() != 0:
        target.chmod(0o555)
        try:
            return subprocess.run(
                [sys.executable, "-c", READ_ONLY, str(target)], capture_output=True, text=True, check=False
            )
        finally:
            target.chmod(0o755)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: no way to make a directory read-only")
    script = f'mount --bind -o ro "$1" "$1" && exec "{sys.executable}" -c "$2" "$1"'
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(target), READ_ONLY],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_read_only_directory_is_reported_and_its_files_are_untouched(tmp_path: Path) -> None:
    # Arrange: an existing recording, then the directory becomes read-only.
    rec = Recorder(Store(tmp_path))
    rec.start()
    feed(rec, 0, 3)
    rec.close()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}

    # Act
    done = _run_read_only(tmp_path)
    if done.returncode != 3 and "mount" in done.stderr:
        pytest.skip(f"cannot make a read-only mount here: {done.stderr.strip()}")

    # Assert
    assert done.returncode == 3, done.stderr
    assert "read-only" in done.stdout or "permission denied" in done.stdout
    assert "cannot create journal" in done.stdout
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before
