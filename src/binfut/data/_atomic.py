"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.

A reader (or a restart after ``kill -9``) sees either the old file or the new one, never half of
one. Temp files are named ``.<name>.<pid>.<n>.tmp``: hidden, and without the ``.parquet`` suffix, so
neither pyarrow's dataset discovery nor DuckDB's ``*.parquet`` globs pick them up; they are swept by
:func:`sweep_temp` once their writer is gone. Every ``OSError`` becomes a
:class:`~binfut.errors.StoreWriteError` naming the path and the reason (disk full, read-only ...).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from binfut.data.errors import StoreWriteError

__all__ = ["atomic_write", "atomic_write_bytes", "ensure_dir", "fsync_dir", "sweep_temp"]

_SEQ = itertools.count()


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """``mkdir -p`` that also fsyncs each parent whose entries changed (so the new path survives a crash)."""
    if path.is_dir():
        return
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    try:
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):
                d.mkdir()
            fsync_dir(d.parent)
    except OSError as exc:
        raise StoreWriteError(path, exc, doing="create directory") from exc


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{next(_SEQ)}.tmp")


def atomic_write(path: Path, write: Callable[[BinaryIO], None], *, fsync: bool = True) -> None:
    """Write ``path`` through ``write(file)`` so that it appears whole or not at all.

    Parameters
    ----------
    path : the final file name (its directory must exist)
    write : called with a binary file open on a temp file beside ``path``
    fsync : flush file and directory to disk (off only for throwaway data)

    Raises
    ------
    StoreWriteError
        The disk refused (full, read-only, permission); the temp file is removed and ``path`` is
        untouched.
    """
    tmp = _temp_name(path)
    try:
        with open(tmp, "xb") as fh:
            write(fh)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if fsync:
            fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreWriteError(path, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """:func:`atomic_write` of a bytes value."""

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    atomic_write(path, write, fsync=fsync)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_temp(directory: Path) -> Iterator[Path]:
    """Remove temp files left in ``directory`` by writers that no longer run; yields what was removed."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        name = entry.name
        if not (name.startswith(".") and name.endswith(".tmp")):
            continue
        parts = name.rsplit(".", 3)  # ".<name>", "<pid>", "<n>", "tmp"
        if len(parts) == 4 and parts[1].isdigit() and int(parts[1]) != os.getpid() and _pid_alive(int(parts[1])):
            continue
        if len(parts) == 4 and parts[1].isdigit() and int(parts[1]) == os.getpid():
            continue  # one of ours, possibly being written right now
        with contextlib.suppress(OSError):
            entry.unlink()
            yield entry
