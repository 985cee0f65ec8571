"""The market-data store's errors: ``DataError`` and its subclasses, kept importable from here.

They are defined in :mod:`binfut.errors` with the rest of the tree (STYLE §5); the store's modules and
older callers import them from this module, and ``binfut.data`` re-exports them.
"""

from __future__ import annotations

from binfut.errors import ArchiveFormatError, ChecksumMismatch, DataError, StoreWriteError

__all__ = ["ArchiveFormatError", "ChecksumMismatch", "DataError", "StoreWriteError"]
