"""Errors of the market-data store, rooted in :class:`binfut.errors.BinfutError`.

::

    BinfutError
    └── DataError                               a data-store problem (nothing sent to Binance)
        ├── StoreWriteError(path, errno)        the disk refused a write: full, read-only, no permission
        ├── ChecksumMismatch(path, expected, actual)  a bulk archive does not match its .CHECKSUM
        └── ArchiveFormatError(path)            an archive whose name or columns are not Binance's

These belong in ``binfut/errors.py`` with the rest of the tree (STYLE §5); they live here until that
module's owner moves them, and ``binfut.data`` re-exports them either way.
"""

from __future__ import annotations

import errno as _errno
import os

from binfut.errors import BinfutError

__all__ = ["ArchiveFormatError", "ChecksumMismatch", "DataError", "StoreWriteError"]


class DataError(BinfutError):
    """A problem of the local market-data store (reading, writing or importing files)."""


class StoreWriteError(DataError, OSError):
    """The file system refused a write; what was written before is intact.

    Attributes
    ----------
    path : the file or directory being written
    errno : the OS error number (``errno.ENOSPC`` for a full disk, ``EACCES``/``EROFS`` ...)
    """

    def __init__(self, path: str | os.PathLike[str], err: OSError, *, doing: str = "write") -> None:
        self.path = os.fspath(path)
        code = err.errno if err.errno is not None else 0
        super().__init__(code, _explain(code, err, doing, self.path))
        self.errno = code

    def __str__(self) -> str:
        return str(self.args[1])


def _explain(code: int, err: OSError, doing: str, path: str) -> str:
    reason = {
        _errno.ENOSPC: "the disk is full",
        _errno.EDQUOT: "the disk quota is exceeded",
        _errno.EACCES: "permission denied",
        _errno.EPERM: "operation not permitted",
        _errno.EROFS: "the file system is read-only",
    }.get(code, err.strerror or type(err).__name__)
    return f"cannot {doing} {path}: {reason} (errno {code}); data written before this point is intact"


class ChecksumMismatch(DataError):
    """A bulk archive's SHA-256 differs from its ``.CHECKSUM`` file; nothing was imported."""

    def __init__(self, path: str | os.PathLike[str], expected: str, actual: str) -> None:
        self.path, self.expected, self.actual = os.fspath(path), expected, actual
        super().__init__(
            f"checksum mismatch for {self.path}: .CHECKSUM says sha256 {expected}, the file hashes to {actual}; "
            "nothing was imported (download the file again)"
        )


class ArchiveFormatError(DataError):
    """A file that does not follow the data.binance.vision naming or column layout."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {problem}")
