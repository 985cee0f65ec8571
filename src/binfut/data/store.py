"""The on-disk market-data store: a hive-partitioned Parquet dataset, DuckDB views, pandas/polars readers.

Layout and column types are :mod:`binfut.data.schema`'s (``kind=/symbol=/[interval=/]date=``;
times ``timestamp[ms, UTC]``, prices and quantities ``float64`` — see that module for why).
Rules kept here:
- every file is written whole or not at all: temp file in the same directory, fsync, rename, fsync
  the directory (a ``kill -9`` leaves the old file or the new one, plus at most a hidden temp file
  that readers ignore and the next write sweeps);
- a merged kind keeps one ``data.parquet`` per partition; writing merges new rows into it, keeps one
  row per primary key (the newest wins) sorted by key, and skips the write when nothing changed, so
  writing the same rows twice leaves the dataset byte-identical;
- merging is a read-modify-write, so it holds an exclusive ``flock`` on the series directory's
  ``.lock``: two processes writing the same series take turns instead of losing rows;
- recorder kinds (``merge=False``) get one new file per flush (``rec-*.parquet``), never rewritten;
- files carry only the schema's columns; ``symbol``/``interval``/``date`` come from the path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from binfut.data._atomic import atomic_write, ensure_dir, sweep_temp
from binfut.data.backfill import Gap, find_grid_gaps
from binfut.data.errors import DataError, StoreWriteError
from binfut.data.schema import KINDS, DatasetKind, kind

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import polars as pl

__all__ = ["SeriesSummary", "Store", "WriteStats"]

MERGED_FILE = "data.parquet"
_UNIT = {"day": "D", "month": "M", "year": "Y"}


@dataclass(frozen=True, slots=True)
class WriteStats:
    """What one :meth:`Store.write` did: rows given, rows new to the dataset, files (re)written."""

    rows_in: int
    rows_added: int
    files_written: int


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """One (kind, symbol, interval) series on disk, as ``binfut data ls`` lists it."""

    kind: str
    symbol: str
    series: str | None
    files: int
    rows: int
    bytes: int
    first_ms: int | None
    last_ms: int | None


def _ms(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Epoch ms (int64) of a timestamp column of any unit."""
    per_ms = {"s": 0, "ms": 1, "us": 1000, "ns": 1_000_000}[column.type.unit]
    values = np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    return values * 1000 if per_ms == 0 else values // per_ms


def _date_scalar(time_ms: int, unit: str = "D") -> pa.Scalar:
    """The date32 scalar of the first day of the ``unit`` period holding ``time_ms``."""
    days = np.datetime64(time_ms, "ms").astype(f"datetime64[{unit}]").astype("datetime64[D]").astype(np.int64)
    return pa.scalar(int(days), pa.int32()).cast(pa.date32())


def _conform(spec: DatasetKind, table: pa.Table) -> pa.Table:
    """``table`` with exactly ``spec``'s columns and types, in order."""
    missing = [c.name for c in spec.columns if c.name not in table.column_names and not c.nullable]
    if missing:
        raise DataError(f"{spec.name}: rows lack required columns {missing}")
    cols = []
    for c in spec.columns:
        col = table[c.name] if c.name in table.column_names else pa.nulls(table.num_rows, c.type)
        cols.append(col if col.type.equals(c.type) else col.cast(c.type))
    return pa.Table.from_arrays(cols, schema=spec.schema)


def _dedupe(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """One row per ``key`` (the last one given wins), sorted by ``key``."""
    n = table.num_rows
    if n == 0:
        return table
    seq = pa.array(np.arange(n, dtype=np.int64))
    order = pc.sort_indices(
        table.select(list(key)).append_column("__seq", seq),
        sort_keys=[(k, "ascending") for k in key] + [("__seq", "descending")],
    )
    ordered = table.take(order)
    keep = np.zeros(n, dtype=bool)
    keep[0] = True
    for name in key:
        values = ordered[name].to_numpy(zero_copy_only=False)
        keep[1:] |= values[1:] != values[:-1]
    return ordered if keep.all() else ordered.filter(pa.array(keep))


@contextlib.contextmanager
def _series_lock(directory: Path) -> Iterator[None]:
    """Hold the series directory's ``.lock`` exclusively (released when the process dies, too)."""
    ensure_dir(directory)
    try:
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreWriteError(directory / ".lock", exc, doing="lock") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Store:
    """A market-data dataset rooted at a directory.

    Parameters
    ----------
    root : the dataset directory (created on first write)
    fsync : make every write durable (switch off only for throwaway data)
    compression : Parquet codec
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True, compression: str = "zstd") -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.compression = compression

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- layout -----------------------------------------------------------------------------------------

    def series_dir(self, spec: DatasetKind | str, symbol: str, series: str | None = None) -> Path:
        """Directory of one series: ``kind=K/symbol=S[/interval=I]``."""
        spec = kind(spec)
        path = self.root / f"kind={spec.name}" / f"symbol={symbol}"
        if spec.series:
            if series is None:
                raise DataError(f"{spec.name} needs an interval/period")
            path = path / f"interval={series}"
        return path

    def _partitions(self, spec: DatasetKind, table: pa.Table, series: str | None) -> Iterator[tuple[str, pa.Table]]:
        """(``YYYY-MM-DD`` partition value, rows) groups of ``table``."""
        unit = _UNIT[spec.granularity_for(series)]
        ms = _ms(table[spec.time_column])
        periods = ms.astype("datetime64[ms]").astype(f"datetime64[{unit}]")
        if periods.size and (periods == periods[0]).all():
            yield str(periods[0].astype("datetime64[D]")), table
            return
        order = np.argsort(periods, kind="stable")
        sorted_periods = periods[order]
        starts = np.flatnonzero(np.r_[True, sorted_periods[1:] != sorted_periods[:-1]])
        bounds = [*starts.tolist(), len(order)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            yield str(sorted_periods[a].astype("datetime64[D]")), table.take(pa.array(order[a:b]))

    def _write_file(self, path: Path, table: pa.Table) -> None:
        def write(fh: Any) -> None:
            pq.write_table(table, fh, compression=self.compression)

        atomic_write(path, write, fsync=self.fsync)

    # -- writing ----------------------------------------------------------------------------------------

    def write(
        self, kind_name: DatasetKind | str, table: pa.Table, *, symbol: str, series: str | None = None
    ) -> WriteStats:
        """Merge rows of one series into the dataset.

        Parameters
        ----------
        kind_name : the dataset kind (name, alias or :class:`DatasetKind`); must be a merged kind
        table : rows with the kind's columns (extra columns are dropped, types are cast)
        symbol : the ``symbol=`` partition (for continuous klines ``PAIR_CONTRACTTYPE``)
        series : the interval or period, for kinds that have one

        Returns
        -------
        WriteStats

        Raises
        ------
        StoreWriteError
            The disk refused a write; every file is still either its old or its new version.
        DataError
            Rows without the kind's required columns.
        """
        spec = kind(kind_name)
        if not spec.merge:
            raise DataError(f"{spec.name} is written in rolling files: use write_rolling()")
        table = _conform(spec, table)
        if table.num_rows == 0:
            return WriteStats(0, 0, 0)
        base = self.series_dir(spec, symbol, series)
        added = files = 0
        with _series_lock(base):
            for date, rows in self._partitions(spec, table, series):
                directory = base / f"date={date}"
                ensure_dir(directory)
                for _ in sweep_temp(directory):
                    pass
                path = directory / MERGED_FILE
                existing = pq.read_table(path, schema=spec.schema) if path.exists() else None
                merged = _dedupe(rows if existing is None else pa.concat_tables([existing, rows]), spec.key)
                if existing is not None and merged.equals(existing):
                    continue
                self._write_file(path, merged)
                added += merged.num_rows - (existing.num_rows if existing is not None else 0)
                files += 1
        return WriteStats(table.num_rows, added, files)

    def write_rolling(
        self, kind_name: DatasetKind | str, table: pa.Table, *, symbol: str, series: str | None = None, stem: str
    ) -> list[Path]:
        """Write rows as new files named ``<stem>.parquet`` (one per partition); never merges.

        Writing the same ``stem`` again replaces those files atomically (a recovery re-run).

        Raises
        ------
        StoreWriteError
            The disk refused a write.
        """
        spec = kind(kind_name)
        table = _conform(spec, table)
        written: list[Path] = []
        if table.num_rows == 0:
            return written
        base = self.series_dir(spec, symbol, series)
        for date, rows in self._partitions(spec, table, series):
            directory = base / f"date={date}"
            ensure_dir(directory)
            path = directory / f"{stem}.parquet"
            self._write_file(path, rows)
            written.append(path)
        return written

    # -- reading ----------------------------------------------------------------------------------------

    def _dataset(self, spec: DatasetKind) -> ds.Dataset | None:
        base = self.root / f"kind={spec.name}"
        if not base.is_dir():
            return None
        partitioning = ds.partitioning(spec.partition_schema, flavor="hive")
        return ds.dataset(
            base,
            format="parquet",
            partitioning=partitioning,
            schema=pa.unify_schemas([spec.schema, spec.partition_schema]),
        )

    def read(
        self,
        kind_name: DatasetKind | str,
        *,
        symbols: str | Iterable[str] | None = None,
        series: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Rows of one kind as an Arrow table, sorted by symbol, interval and key.

        Parameters
        ----------
        kind_name : the dataset kind
        symbols : one symbol or several (None: all)
        series : interval or period (None: all)
        start_ms, end_ms : keep rows whose time column is in ``[start_ms, end_ms)``
        columns : the columns to return (default: ``symbol``, ``interval`` if any, then the schema's)

        Returns
        -------
        pyarrow.Table
            Empty (with the schema) when nothing matches.
        """
        spec = kind(kind_name)
        keys = [k for k in spec.partition_keys if k != "date"]
        wanted = list(columns) if columns is not None else [*keys, *spec.schema.names]
        dataset = self._dataset(spec)
        if dataset is None:
            full = pa.unify_schemas([pa.schema([(k, pa.string()) for k in keys]), spec.schema])
            return full.empty_table().select(wanted)
        expr = None

        def both(e: ds.Expression) -> None:
            nonlocal expr
            expr = e if expr is None else expr & e

        if symbols is not None:
            both(ds.field("symbol").isin([symbols] if isinstance(symbols, str) else list(symbols)))
        if series is not None and spec.series:
            both(ds.field("interval") == series)
        time_type = spec.schema.field(spec.time_column).type
        if start_ms is not None:
            both(
                ds.field(spec.time_column)
                >= pa.scalar(start_ms * (1_000_000 if time_type.unit == "ns" else 1), time_type)
            )
            # Prune partitions by their first day; one that began up to a year earlier may still hold
            # rows after start_ms (month and year partitions), hence the year floor.
            both(ds.field("date") >= _date_scalar(start_ms, "Y"))
        if end_ms is not None:
            both(
                ds.field(spec.time_column) < pa.scalar(end_ms * (1_000_000 if time_type.unit == "ns" else 1), time_type)
            )
            both(ds.field("date") <= _date_scalar(end_ms))
        table = dataset.to_table(filter=expr)
        sort = [(k, "ascending") for k in keys] + [(k, "ascending") for k in spec.key]
        table = table.sort_by(sort) if table.num_rows else table
        return table.select(wanted)

    def to_pandas(self, kind_name: DatasetKind | str, **filters: Any) -> pd.DataFrame:
        """:meth:`read` as a pandas DataFrame (timestamps ``datetime64[ms, UTC]``)."""
        return self.read(kind_name, **filters).to_pandas()

    def to_polars(self, kind_name: DatasetKind | str, **filters: Any) -> pl.DataFrame:
        """:meth:`read` as a polars DataFrame (needs ``polars``, part of the ``data`` extra)."""
        try:
            import polars as pl
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "Store.to_polars needs polars: pip install 'binfut[data]' (or pip install polars)"
            ) from exc
        return pl.from_arrow(self.read(kind_name, **filters))  # type: ignore[return-value]

    def times(
        self, kind_name: DatasetKind | str, symbol: str, series: str | None, start_ms: int, end_ms: int
    ) -> np.ndarray:
        """Epoch-ms values of the time column of one series in ``[start_ms, end_ms)``, sorted."""
        spec = kind(kind_name)
        table = self.read(
            spec, symbols=symbol, series=series, start_ms=start_ms, end_ms=end_ms, columns=[spec.time_column]
        )
        return np.sort(_ms(table[spec.time_column])) if table.num_rows else np.empty(0, np.int64)

    def find_gaps(
        self, kind_name: DatasetKind | str, symbol: str, series: str, start_ms: int, end_ms: int
    ) -> list[Gap]:
        """Missing bars / periods of a grid series (klines, statistics) in ``[start_ms, end_ms)``."""
        spec = kind(kind_name)
        return find_grid_gaps(
            spec.name, symbol, series, self.times(spec, symbol, series, start_ms, end_ms), start_ms, end_ms
        )

    # -- listing ----------------------------------------------------------------------------------------

    def kinds(self) -> list[str]:
        """Kinds that have at least one file."""
        return [name for name in KINDS if any((self.root / f"kind={name}").glob("**/*.parquet"))]

    def summary(self, kind_name: DatasetKind | str | None = None) -> list[SeriesSummary]:
        """Per-series files, rows, bytes and time range, from Parquet footers only (no data read)."""
        out: list[SeriesSummary] = []
        names = [kind(kind_name).name] if kind_name is not None else self.kinds()
        for name in names:
            spec = KINDS[name]
            base = self.root / f"kind={name}"
            depth = 2 if spec.series else 1
            pattern = "/".join(["*"] * depth)
            for series_dir in sorted(p for p in base.glob(pattern) if p.is_dir()):
                parts = dict(seg.split("=", 1) for seg in series_dir.relative_to(base).parts)
                files = sorted(series_dir.glob("date=*/*.parquet"))
                if not files:
                    continue
                rows = size = 0
                first: int | None = None
                last: int | None = None
                for f in files:
                    meta = pq.ParquetFile(f).metadata
                    rows += meta.num_rows
                    size += f.stat().st_size
                    lo, hi = _time_range(meta, spec)
                    first = lo if first is None or (lo is not None and lo < first) else first
                    last = hi if last is None or (hi is not None and hi > last) else last
                out.append(
                    SeriesSummary(
                        name, parts.get("symbol", ""), parts.get("interval"), len(files), rows, size, first, last
                    )
                )
        return out

    # -- DuckDB -----------------------------------------------------------------------------------------

    def view_sql(self) -> list[str]:
        """``CREATE VIEW`` statements, one per kind on disk, over ``read_parquet(..., hive_partitioning=true)``."""
        statements = []
        for name in self.kinds():
            spec = KINDS[name]
            glob = (self.root.resolve() / f"kind={name}" / "**" / "*.parquet").as_posix().replace("'", "''")
            types = ", ".join(f"'{k}': {'DATE' if k == 'date' else 'VARCHAR'}" for k in ("kind", *spec.partition_keys))
            statements.append(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * EXCLUDE (kind) FROM read_parquet('{glob}', "
                f"hive_partitioning = true, hive_types = {{{types}}})"
            )
        return statements

    def connect(self, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection (new, in memory, unless given) with one view per kind (``klines``, ...)."""
        import duckdb

        con = con if con is not None else duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for statement in self.view_sql():
            con.execute(statement)
        return con

    def sql(self, query: str) -> pa.Table:
        """Run ``query`` over the dataset's views; returns an Arrow table."""
        con = self.connect()
        try:
            relation = con.sql(query)
            if relation is None:  # a statement without a result (CREATE, SET ...)
                return pa.table({})
            return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
        finally:
            con.close()


def _time_range(meta: pq.FileMetaData, spec: DatasetKind) -> tuple[int | None, int | None]:
    """Min / max epoch ms of the time column from row-group statistics."""
    index = meta.schema.to_arrow_schema().get_field_index(spec.time_column)
    if index < 0:  # pragma: no cover - a foreign file
        return None, None
    typ = spec.schema.field(spec.time_column).type
    lo: int | None = None
    hi: int | None = None
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        if stats is None or not stats.has_min_max:
            continue
        a, b = _epoch_ms(stats.min, typ), _epoch_ms(stats.max, typ)
        lo = a if lo is None or a < lo else lo
        hi = b if hi is None or b > hi else hi
    return lo, hi


def _epoch_ms(value: Any, typ: pa.DataType) -> int:
    raw = value if isinstance(value, int) else pa.scalar(value, typ).value
    return int(raw) // (1_000_000 if typ.unit == "ns" else 1)
