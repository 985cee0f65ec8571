"""The market-data store: bulk REST history, Binance bulk archives and live recordings in one dataset.

A hive-partitioned Parquet dataset (``kind=/symbol=/[interval=/]date=``, exact types: see
:mod:`binfut.data.schema`) that DuckDB, pandas and polars read directly. :class:`Downloader` fills it
from the REST API (weight-budgeted, resumable, gaps reported to a :class:`Progress`), :func:`import_archives`
from data.binance.vision zips (checksums verified), :class:`Recorder` / :func:`record` from live streams
(a running StreamManager's frames reach a recorder through its tap: ``streams.on_frame(recorder.add_frame)``).
Needs the ``data`` extra (numpy, pandas, pyarrow, duckdb; polars optional).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binfut._lazy import lazy_exports

if TYPE_CHECKING:
    from binfut.data.archive import ArchiveFile, ImportResult, describe, import_archives, verify_checksum
    from binfut.data.backfill import Gap, TokenBucket, Window, best_limit, plan_windows
    from binfut.data.downloader import (
        Downloader,
        DownloadReport,
        DownloadSpec,
        Progress,
        SeriesReport,
        download,
        open_client,
    )
    from binfut.data.manifest import Manifest, SeriesState
    from binfut.data.recorder import Recorder, RecordStats, convert_journal, record, recover_journals
    from binfut.data.schema import KINDS, DatasetKind, kind
    from binfut.data.store import SeriesSummary, Store, WriteStats
    from binfut.errors import ArchiveFormatError, ChecksumMismatch, DataError, StoreWriteError

__all__ = [
    "KINDS",
    "ArchiveFile",
    "ArchiveFormatError",
    "ChecksumMismatch",
    "DataError",
    "DatasetKind",
    "DownloadReport",
    "DownloadSpec",
    "Downloader",
    "Gap",
    "ImportResult",
    "Manifest",
    "Progress",
    "RecordStats",
    "Recorder",
    "SeriesReport",
    "SeriesState",
    "SeriesSummary",
    "Store",
    "StoreWriteError",
    "TokenBucket",
    "Window",
    "WriteStats",
    "best_limit",
    "convert_journal",
    "describe",
    "download",
    "import_archives",
    "kind",
    "open_client",
    "plan_windows",
    "record",
    "recover_journals",
    "verify_checksum",
]

# Imported on first use: pandas, pyarrow and duckdb cost most of a second, and ``binfut`` commands
# that never touch the data store should not pay it.
_WHERE: dict[str, str] = {
    "ArchiveFile": "binfut.data.archive",
    "ArchiveFormatError": "binfut.errors",
    "ChecksumMismatch": "binfut.errors",
    "DataError": "binfut.errors",
    "DatasetKind": "binfut.data.schema",
    "DownloadReport": "binfut.data.downloader",
    "DownloadSpec": "binfut.data.downloader",
    "Downloader": "binfut.data.downloader",
    "Gap": "binfut.data.backfill",
    "ImportResult": "binfut.data.archive",
    "KINDS": "binfut.data.schema",
    "Manifest": "binfut.data.manifest",
    "Progress": "binfut.data.downloader",
    "RecordStats": "binfut.data.recorder",
    "Recorder": "binfut.data.recorder",
    "SeriesReport": "binfut.data.downloader",
    "SeriesState": "binfut.data.manifest",
    "SeriesSummary": "binfut.data.store",
    "Store": "binfut.data.store",
    "StoreWriteError": "binfut.errors",
    "TokenBucket": "binfut.data.backfill",
    "Window": "binfut.data.backfill",
    "WriteStats": "binfut.data.store",
    "best_limit": "binfut.data.backfill",
    "convert_journal": "binfut.data.recorder",
    "describe": "binfut.data.archive",
    "download": "binfut.data.downloader",
    "import_archives": "binfut.data.archive",
    "kind": "binfut.data.schema",
    "open_client": "binfut.data.downloader",
    "plan_windows": "binfut.data.backfill",
    "record": "binfut.data.recorder",
    "recover_journals": "binfut.data.recorder",
    "verify_checksum": "binfut.data.archive",
}


__getattr__ = lazy_exports(
    __name__, _WHERE, requires=("pyarrow", "binfut.data needs the 'data' extra: pip install 'binfut[data]'")
)
