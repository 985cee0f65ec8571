"""Live recording: raw frames with receive times (ns) into a journal, rolled into Parquet files.

Frames come from a StreamManager's frame tap (``on_frame(recorder.add_frame)``) or :meth:`Recorder.add`;
they go into memory, then every ``flush_interval_s`` to an fsynced append-only journal
(``<root>/_journal/rec-<ns>-<pid>-<n>.bfj``): a crash loses at most the last interval. Every
``roll_interval_s`` the journal becomes new files of the dataset (``raw`` plus the ``stream_*`` tables of
:mod:`binfut.data.normalize`), named after the journal, and only then is deleted. Rules kept here:
- files are never overwritten by a later run: each run (and each roll) has a journal of its own;
  converting a journal again (after a crash mid-conversion) replaces its own files atomically;
- a journal record carries a CRC: recovery keeps every record up to the first torn or zeroed one;
- a journal held by a live recorder is locked (``flock``); startup converts the unlocked ones left
  behind by crashed runs;
- a refused write (disk full, permission) raises :class:`~binfut.errors.StoreWriteError`: the
  journal is cut back to its last whole record, unwritten frames stay queued, nothing written is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import itertools
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import msgspec

from binfut.clock import Clock, SystemClock
from binfut.data._atomic import ensure_dir, fsync_dir
from binfut.data.errors import DataError, StoreWriteError
from binfut.data.normalize import normalize_frames, raw_tables
from binfut.data.store import Store

__all__ = [
    "FileJournalWriter",
    "JournalWriter",
    "RecordStats",
    "Recorder",
    "convert_journal",
    "read_journal",
    "record",
    "recover_journals",
]

_MAGIC = b"BFJ1"
_HEAD = struct.Struct("<IQHI")  # crc32, recv_time_ns, stream length, frame length
_BODY = struct.Struct("<QHI")
_CRC_SEED = 0x0B1F  # a run of zero bytes does not check out as a record
_SEQ = itertools.count()
_STREAM_KEY = b'{"stream":"'


class _StreamEnvelope(msgspec.Struct, gc=False):
    stream: str = ""


_envelope = msgspec.json.Decoder(_StreamEnvelope)


def _stream_of(frame: bytes) -> str:
    """The stream name of a combined-stream frame (``""`` for a bare payload), as the manager's decoder reads it.

    Binance writes the name first (``{"stream":"btcusdt@aggTrade","data":...}``), so it is usually a slice;
    any other spelling goes through a JSON parse of the envelope that skips ``data``.
    """
    if frame.startswith(_STREAM_KEY):
        start = len(_STREAM_KEY)
        end = frame.find(b'"', start)
        if end > 0:
            name = frame[start:end]
            if b"\\" not in name and name.isascii():
                return name.decode()
    try:
        return _envelope.decode(frame).stream
    except msgspec.DecodeError:
        return ""


def _record(recv_ns: int, stream: bytes, frame: bytes) -> bytes:
    body = _BODY.pack(recv_ns, len(stream), len(frame))
    crc = zlib.crc32(frame, zlib.crc32(stream, zlib.crc32(body, _CRC_SEED)))
    return _HEAD.pack(crc, recv_ns, len(stream), len(frame)) + stream + frame


def read_journal(path: Path) -> Iterator[tuple[int, str, bytes]]:
    """``(recv_time_ns, stream, frame)`` records of a journal, up to the first incomplete or corrupt one."""
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        return
    pos = len(_MAGIC)
    size = _HEAD.size
    while pos + size <= len(data):
        crc, recv_ns, n_stream, n_frame = _HEAD.unpack_from(data, pos)
        end = pos + size + n_stream + n_frame
        if end > len(data):
            return  # torn at the tail: the crash interrupted this write
        stream = data[pos + size : pos + size + n_stream]
        frame = data[pos + size + n_stream : end]
        body = _BODY.pack(recv_ns, n_stream, n_frame)
        if zlib.crc32(frame, zlib.crc32(stream, zlib.crc32(body, _CRC_SEED))) != crc:
            return
        yield recv_ns, stream.decode(), frame
        pos = end


class JournalWriter(Protocol):
    """Where journal bytes go (a file; tests inject one that fails like a full disk)."""

    def write(self, data: bytes | memoryview) -> int: ...

    def sync(self) -> None: ...

    def truncate(self, size: int) -> None: ...

    def close(self) -> None: ...


class FileJournalWriter:
    """An exclusive, locked, append-only journal file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # marks the journal as live for recovery

    def write(self, data: bytes | memoryview) -> int:
        return os.write(self._fd, data)

    def sync(self) -> None:
        os.fsync(self._fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)

    def close(self) -> None:
        os.close(self._fd)


def convert_journal(store: Store, path: Path) -> list[Path]:
    """Write a closed journal's frames into the dataset (raw + normalized), then delete it.

    Returns
    -------
    list[Path]
        The Parquet files written (named ``<journal stem>.parquet`` in each partition).

    Raises
    ------
    StoreWriteError
        The disk refused; the journal is kept, so nothing is lost (conversion is retried later).
    """
    records = list(read_journal(path))
    written: list[Path] = []
    stem = path.stem
    for symbol, table in raw_tables(records).items():
        written += store.write_rolling("raw", table, symbol=symbol, stem=stem)
    tables, _ = normalize_frames(records)
    for (kind_name, symbol, series), table in tables.items():
        written += store.write_rolling(kind_name, table, symbol=symbol, series=series, stem=stem)
    try:
        path.unlink()
        fsync_dir(path.parent)
    except OSError as exc:
        raise StoreWriteError(path, exc, doing="remove converted journal") from exc
    return written


def recover_journals(store: Store) -> list[Path]:
    """Convert journals left by recorders that are gone (crashed or killed); skip live ones."""
    directory = store.root / "_journal"
    written: list[Path] = []
    for path in sorted(directory.glob("*.bfj")) if directory.is_dir() else []:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live recorder holds it
            written += convert_journal(store, path)
        finally:
            os.close(fd)
    return written


@dataclass(slots=True)
class RecordStats:
    """Counters of a recorder."""

    frames: int = 0
    frames_flushed: int = 0
    bytes_flushed: int = 0
    journals_converted: int = 0
    files_written: int = 0
    write_errors: int = 0


class Recorder:
    """Frames in, rolling dataset files out (no sockets here: feed it with :meth:`add`, or register
    :meth:`add_frame` as a running StreamManager's frame tap).

    Parameters
    ----------
    store : the dataset
    clock : time source for receive stamps and intervals
    flush_interval_s : longest time a frame stays only in memory
    roll_interval_s : how often the journal becomes Parquet files
    roll_bytes : roll earlier when the journal reaches this size
    max_pending_bytes : queued bytes tolerated while writes fail before :meth:`add` raises
    writer_factory : opens a journal (default :class:`FileJournalWriter`)
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        flush_interval_s: float = 1.0,
        roll_interval_s: float = 60.0,
        roll_bytes: int = 256 << 20,
        max_pending_bytes: int = 64 << 20,
        writer_factory: Callable[[Path], JournalWriter] | None = None,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.flush_interval_ns = int(flush_interval_s * 1e9)
        self.roll_interval_ns = int(roll_interval_s * 1e9)
        self.roll_bytes = roll_bytes
        self.max_pending_bytes = max_pending_bytes
        self.writer_factory: Callable[[Path], JournalWriter] = writer_factory or FileJournalWriter
        self.journal_dir = store.root / "_journal"
        self.stats = RecordStats()
        self.last_error: StoreWriteError | None = None
        self._pending: list[bytes] = []
        self._pending_frames = 0
        self._pending_bytes = 0
        self._writer: JournalWriter | None = None
        self.journal: Path | None = None
        self._size = 0
        self._last_flush = self._opened = 0

    # -- journal ------------------------------------------------------------------------------------------

    def start(self) -> list[Path]:
        """Convert journals left by crashed runs, then open this run's journal.

        Raises
        ------
        StoreWriteError
            The directory cannot be written (read-only, no permission, full).
        """
        ensure_dir(self.journal_dir)
        written = recover_journals(self.store)
        self._open()
        return written

    def _open(self) -> None:
        now = self.clock.time_ns()
        path = self.journal_dir / f"rec-{now}-{os.getpid()}-{next(_SEQ)}.bfj"
        try:
            writer = self.writer_factory(path)
            writer.write(_MAGIC)
            writer.sync()
            fsync_dir(self.journal_dir)
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.unlink()
            raise StoreWriteError(path, exc, doing="create journal") from exc
        self._writer, self.journal, self._size = writer, path, len(_MAGIC)
        self._last_flush = self._opened = self.clock.monotonic_ns()

    def add(self, stream: str, frame: bytes, recv_time_ns: int | None = None) -> None:
        """Queue one frame (stamped now unless ``recv_time_ns`` is given); never raises."""
        rec = _record(self.clock.time_ns() if recv_time_ns is None else recv_time_ns, stream.encode(), bytes(frame))
        self._pending.append(rec)
        self._pending_frames += 1
        self._pending_bytes += len(rec)
        self.stats.frames += 1

    def add_frame(self, connection: str, recv_time_ns: int, frame: bytes) -> None:
        """Queue a frame from a stream manager's raw-frame tap: ``streams.on_frame(recorder.add_frame)``.

        The stream name is read from the frame's ``{"stream": ...}`` envelope (``""`` for a bare payload);
        ``connection`` is not recorded. Never raises.
        """
        self.add(_stream_of(frame), frame, recv_time_ns)

    def flush(self) -> None:
        """Append queued frames to the journal and fsync it.

        Raises
        ------
        StoreWriteError
            The write or fsync failed; the journal is cut back to its last whole record and the
            frames stay queued.
        """
        self._last_flush = self.clock.monotonic_ns()
        writer = self._writer
        if writer is None or not self._pending:
            return
        data = b"".join(self._pending)
        try:
            view = memoryview(data)
            while view:
                n = writer.write(view)
                if n <= 0:
                    raise OSError(errno.EIO, "the journal accepted no bytes")
                view = view[n:]
            writer.sync()
        except OSError as exc:
            # Cut back a partial record so the journal stays readable; keep the frames queued.
            with contextlib.suppress(OSError):
                writer.truncate(self._size)
            self.stats.write_errors += 1
            assert self.journal is not None
            self.last_error = StoreWriteError(self.journal, exc)
            raise self.last_error from exc
        self._size += len(data)
        self.stats.frames_flushed += self._pending_frames
        self.stats.bytes_flushed += len(data)
        self._pending.clear()
        self._pending_frames = self._pending_bytes = 0
        self.last_error = None

    @property
    def pending_bytes(self) -> int:
        """Bytes queued in memory, not yet in the journal."""
        return self._pending_bytes

    @property
    def overflowing(self) -> bool:
        """Writes are failing and more than ``max_pending_bytes`` wait in memory."""
        return self.last_error is not None and self._pending_bytes > self.max_pending_bytes

    def flush_due(self) -> bool:
        return self.clock.monotonic_ns() - self._last_flush >= self.flush_interval_ns

    def roll_due(self) -> bool:
        return self._size >= self.roll_bytes or self.clock.monotonic_ns() - self._opened >= self.roll_interval_ns

    def rotate(self, *, reopen: bool = True) -> Path | None:
        """Flush, close the journal and (``reopen``) start a new one; returns the closed journal to convert.

        Raises
        ------
        StoreWriteError
            The final flush failed; the journal is still closed (and unlocked, so the next start
            recovers it), and the frames that could not be written stay queued.
        """
        closed = self.journal
        try:
            self.flush()
        finally:
            if self._writer is not None:
                with contextlib.suppress(OSError):
                    self._writer.close()
            self._writer = self.journal = None
        if reopen:
            self._open()
        return closed

    def convert(self, journal: Path) -> list[Path]:
        """:func:`convert_journal` with the counters kept."""
        written = convert_journal(self.store, journal)
        self.stats.journals_converted += 1
        self.stats.files_written += len(written)
        return written

    def close(self) -> list[Path]:
        """Flush, close and convert the journal (the last roll)."""
        closed = self.rotate(reopen=False)
        return self.convert(closed) if closed is not None else []


async def record(
    streams: Sequence[str],
    store: Store,
    *,
    env: str = "mainnet",
    base_url: str | None = None,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    flush_interval_s: float = 1.0,
    roll_interval_s: float = 60.0,
    clock: Clock | None = None,
    on_roll: Callable[[Recorder, list[Path]], None] | None = None,
    on_error: Callable[[StoreWriteError], None] | None = None,
    recorder: Recorder | None = None,
) -> RecordStats:
    """Record ``streams`` into ``store`` until ``duration_s`` passes or ``stop`` is set.

    Parameters
    ----------
    streams : stream names as Binance spells them (``btcusdt@aggTrade``, ``btcusdt@kline_1m`` ...)
    store : the dataset
    env, base_url : where to connect (``base_url`` is the local exchange's REST URL for ``local``)
    duration_s : stop after this many seconds (None: until ``stop`` or cancellation)
    stop : an event that ends the recording
    flush_interval_s, roll_interval_s : see :class:`Recorder`
    clock : time source of receive stamps and intervals (default: ``recorder``'s clock, else the system clock)
    on_roll : called after each roll with the files written
    on_error : called when a flush is refused (recording goes on, frames stay queued)
    recorder : a prepared recorder (tests); default one is built here

    Returns
    -------
    RecordStats

    Raises
    ------
    StoreWriteError
        The dataset directory cannot be written, or writes kept failing (what was written is intact).
    """
    from binfut.config import urls_for
    from binfut.stream import StreamManager

    if not streams:
        raise DataError("name at least one stream to record")
    # One clock for receive stamps (the manager's, handed to the tap) and for the recorder's intervals.
    clock = clock or (recorder.clock if recorder is not None else SystemClock())
    rec = recorder or Recorder(store, clock=clock, flush_interval_s=flush_interval_s, roll_interval_s=roll_interval_s)
    written = rec.start()
    if written and on_roll is not None:
        on_roll(rec, written)
    stop = stop or asyncio.Event()
    deadline = None if duration_s is None else clock.monotonic_ns() + int(duration_s * 1e9)
    tick = min(0.25, flush_interval_s / 2)
    failed = True
    try:
        async with StreamManager(urls_for(env, base_url), clock=clock) as manager:
            manager.on_frame(rec.add_frame)  # before subscribing: the first frames are recorded too
            await manager.subscribe(*streams)
            while not stop.is_set():
                if deadline is not None and clock.monotonic_ns() >= deadline:
                    break
                with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for can swallow a cancel on 3.11
                    async with asyncio.timeout(tick):
                        await stop.wait()
                _step(rec, on_error)
                if rec.roll_due() and rec.last_error is None:
                    closed = rec.rotate()
                    if closed is not None:
                        files = await asyncio.to_thread(rec.convert, closed)
                        if on_roll is not None:
                            on_roll(rec, files)
        failed = False
    finally:
        try:
            files = rec.close()
        except StoreWriteError:
            if not failed:
                raise
            files = []  # already leaving with an error; the journal stays for the next start
        if on_roll is not None and files:
            on_roll(rec, files)
    return rec.stats


def _step(rec: Recorder, on_error: Callable[[StoreWriteError], None] | None) -> None:
    """Flush when due; a refused write is reported and retried, until too much waits in memory."""
    if not rec.flush_due():
        return
    try:
        rec.flush()
    except StoreWriteError as exc:
        if on_error is not None:
            on_error(exc)
        if rec.overflowing:
            raise
