"""Binance's public bulk files (data.binance.vision, USD-M) into the same dataset the downloader fills.

Pure part: the naming of daily and monthly zips (``BTCUSDT-1m-2024-01-01.zip``,
``BTCUSDT-aggTrades-2024-01.zip``, ``BTCUSDT-fundingRate-2024-01.zip`` ...) and each data type's CSV
columns, mapped onto :mod:`binfut.data.schema` kinds. I/O part: :func:`import_archives`.
Rules kept here:
- every zip is checked against its ``.CHECKSUM`` (sha256) *before anything is written*: one
  mismatch in a batch stops the whole batch with :class:`~binfut.errors.ChecksumMismatch`;
- older files have no header row, newer ones do: a first line starting with a letter is a header;
- times are epoch ms (a file in µs is detected by magnitude and scaled); bookDepth and metrics
  write ``YYYY-MM-DD HH:MM:SS`` in UTC; rows merge on the kind's primary key, so importing a file
  twice, or over REST downloads of the same days, adds nothing twice.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from binfut.data.errors import ArchiveFormatError, ChecksumMismatch
from binfut.data.schema import F64, I64, KLINE_KINDS, TS_MS, kind, table_from_columns
from binfut.data.store import Store

__all__ = [
    "ARCHIVE_TYPES",
    "ArchiveFile",
    "ArchiveType",
    "ImportResult",
    "describe",
    "import_archives",
    "parse_csv",
    "verify_checksum",
]

_BOOL = pa.bool_()
_STR = pa.string()


@dataclass(frozen=True, slots=True)
class ArchiveType:
    """One data type of the bulk files: its CSV columns (name, Arrow type) and the dataset kind it fills.

    ``rename`` maps CSV names onto the kind's column names; CSV columns the kind lacks are dropped.
    """

    name: str
    kind: str
    columns: tuple[tuple[str, pa.DataType], ...]
    rename: tuple[tuple[str, str], ...] = ()


_KLINE_CSV = (
    ("open_time", I64), ("open", F64), ("high", F64), ("low", F64), ("close", F64), ("volume", F64),
    ("close_time", I64), ("quote_volume", F64), ("count", I64), ("taker_buy_volume", F64),
    ("taker_buy_quote_volume", F64), ("ignore", _STR),
)  # fmt: skip
_KLINE_RENAME = (("count", "trades"), ("taker_buy_volume", "taker_buy_base_volume"))

#: Data types by the directory / file-name token Binance uses.
ARCHIVE_TYPES: dict[str, ArchiveType] = {
    "klines": ArchiveType("klines", "klines", _KLINE_CSV, _KLINE_RENAME),
    "indexPriceKlines": ArchiveType("indexPriceKlines", "index_price_klines", _KLINE_CSV, _KLINE_RENAME),
    "markPriceKlines": ArchiveType("markPriceKlines", "mark_price_klines", _KLINE_CSV, _KLINE_RENAME),
    "premiumIndexKlines": ArchiveType("premiumIndexKlines", "premium_index_klines", _KLINE_CSV, _KLINE_RENAME),
    "aggTrades": ArchiveType(
        "aggTrades",
        "agg_trades",
        (
            ("agg_trade_id", I64),
            ("price", F64),
            ("quantity", F64),
            ("first_trade_id", I64),
            ("last_trade_id", I64),
            ("transact_time", I64),
            ("is_buyer_maker", _BOOL),
        ),
        (("transact_time", "time"),),
    ),  # fmt: skip
    "trades": ArchiveType(
        "trades",
        "trades",
        (("id", I64), ("price", F64), ("qty", F64), ("quote_qty", F64), ("time", I64), ("is_buyer_maker", _BOOL)),
    ),
    "bookTicker": ArchiveType(
        "bookTicker",
        "book_ticker",
        (
            ("update_id", I64),
            ("best_bid_price", F64),
            ("best_bid_qty", F64),
            ("best_ask_price", F64),
            ("best_ask_qty", F64),
            ("transaction_time", I64),
            ("event_time", I64),
        ),
    ),  # fmt: skip
    "bookDepth": ArchiveType(
        "bookDepth", "book_depth", (("timestamp", _STR), ("percentage", F64), ("depth", F64), ("notional", F64))
    ),
    "metrics": ArchiveType(
        "metrics",
        "metrics",
        (
            ("create_time", _STR),
            ("symbol", _STR),
            ("sum_open_interest", F64),
            ("sum_open_interest_value", F64),
            ("count_toptrader_long_short_ratio", F64),
            ("sum_toptrader_long_short_ratio", F64),
            ("count_long_short_ratio", F64),
            ("sum_taker_long_short_vol_ratio", F64),
        ),
    ),  # fmt: skip
    "fundingRate": ArchiveType(
        "fundingRate",
        "funding_rate",
        (("calc_time", I64), ("funding_interval_hours", I64), ("last_funding_rate", F64)),
        (("calc_time", "funding_time"), ("last_funding_rate", "funding_rate")),
    ),
}
_KLINE_DIRS = {"klines", "indexPriceKlines", "markPriceKlines", "premiumIndexKlines"}
_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9_]+)-(?P<what>[A-Za-z0-9]+)-(?P<date>\d{4}-\d{2}(?:-\d{2})?)\.(?P<ext>zip|csv)$"
)
_INTERVAL = re.compile(r"^\d+(?:m|h|d|w|M|mo)$")


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """What a bulk file holds, read from its name (and parent directories, for the kline kinds)."""

    path: Path
    type: ArchiveType
    symbol: str
    series: str | None  # kline interval
    date: str  # YYYY-MM-DD (daily) or YYYY-MM (monthly)

    @property
    def monthly(self) -> bool:
        return len(self.date) == 7


def describe(path: str | os.PathLike[str], *, kind_hint: str | None = None) -> ArchiveFile:
    """Identify a bulk file by its name.

    Parameters
    ----------
    path : ``SYMBOL-<interval|type>-<YYYY-MM-DD|YYYY-MM>.zip`` (or ``.csv``)
    kind_hint : for ``SYMBOL-1m-...`` files, which kline kind (the four kline directories share one
        naming); by default taken from a parent directory (``markPriceKlines/...``), else ``klines``

    Raises
    ------
    ArchiveFormatError
        The name does not follow Binance's pattern.
    """
    p = Path(path)
    m = _NAME.match(p.name)
    if m is None:
        raise ArchiveFormatError(p, "not a data.binance.vision file name (SYMBOL-TYPE-DATE.zip)")
    what = m["what"]
    if _INTERVAL.match(what):
        series = "1M" if what == "1mo" else what
        type_name = next((d for d in p.parts[::-1] if d in _KLINE_DIRS), "klines")
        if kind_hint is not None:
            wanted = kind(kind_hint).name
            type_name = next((t.name for t in ARCHIVE_TYPES.values() if t.kind == wanted and t.name in _KLINE_DIRS), "")
            if not type_name:
                raise ArchiveFormatError(p, f"{kind_hint!r} is not a kline kind ({', '.join(KLINE_KINDS)})")
        return ArchiveFile(p, ARCHIVE_TYPES[type_name], m["symbol"], series, m["date"])
    if what not in ARCHIVE_TYPES or what in _KLINE_DIRS:
        raise ArchiveFormatError(
            p, f"unknown data type {what!r}; known: {', '.join(sorted(set(ARCHIVE_TYPES) - _KLINE_DIRS))}"
        )
    return ArchiveFile(p, ARCHIVE_TYPES[what], m["symbol"], None, m["date"])


def verify_checksum(path: str | os.PathLike[str], *, required: bool = True) -> bool:
    """Compare a zip's sha256 with its ``<name>.CHECKSUM`` (``"<hex>  <name>"``).

    Returns
    -------
    bool
        True when verified, False when there is no checksum file and ``required`` is False.

    Raises
    ------
    ChecksumMismatch
        The digests differ.
    ArchiveFormatError
        No checksum file (and ``required``), or one that holds no sha256.
    """
    p = Path(path)
    sidecar = p.with_name(p.name + ".CHECKSUM")
    if not sidecar.exists():
        if required:
            raise ArchiveFormatError(p, f"no {sidecar.name} beside it (download it too, or skip the check explicitly)")
        return False
    fields = sidecar.read_text().split()
    if not fields or not re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
        raise ArchiveFormatError(sidecar, "does not hold a sha256 digest")
    digest = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != fields[0].lower():
        raise ChecksumMismatch(p, fields[0].lower(), digest.hexdigest())
    return True


def _has_header(data: bytes) -> bool:
    first = data.lstrip()[:1]
    return first.isalpha()  # data rows start with a digit (or a minus); headers with a column name


def _epoch_ms(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Integer epoch times as ``timestamp[ms, UTC]``, scaling µs (or ns) files by their magnitude."""
    ints = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)
    top = int(np.abs(ints).max()) if ints.size else 0
    if top >= 10**17:
        ints = ints // 1_000_000
    elif top >= 10**14:
        ints = ints // 1000
    return pa.array(ints.view("datetime64[ms]")).cast(TS_MS)


def parse_csv(data: bytes, archive: ArchiveType, *, source: str = "<csv>") -> tuple[pa.Table, bool]:
    """Parse one bulk CSV (with or without its header row) into the kind's table.

    Returns
    -------
    tuple[pyarrow.Table, bool]
        The rows (exact dataset types) and whether a header row was present.

    Raises
    ------
    ArchiveFormatError
        A header naming other columns, or values that do not parse.
    """
    header = _has_header(data)
    names = [n for n, _ in archive.columns]
    if header:
        got = [h.strip().lower() for h in data.split(b"\n", 1)[0].decode().split(",")]
        if got[: len(names)] != names[: len(got)] or len(got) < len(names) - 1:
            raise ArchiveFormatError(source, f"header {got} does not match {archive.name} columns {names}")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if header else 0),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(archive.columns),
                true_values=["true", "True", "TRUE"],
                false_values=["false", "False", "FALSE"],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ArchiveFormatError(source, f"cannot parse as {archive.name} CSV: {exc}") from exc
    spec = kind(archive.kind)
    rename = dict(archive.rename)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name, typ in archive.columns:
        target = rename.get(name, name)
        col = spec.schema.field(target) if target in spec.schema.names else None
        if col is None:
            continue
        values = table[name]
        if pa.types.is_timestamp(col.type):
            if typ == _STR:  # "2023-06-01 00:05:00", UTC
                values = pc.strptime(values, format="%Y-%m-%d %H:%M:%S", unit="ms").cast(TS_MS)
            else:
                values = _epoch_ms(values)
        columns[target] = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return table_from_columns(spec, columns), header


@dataclass(frozen=True, slots=True)
class ImportResult:
    """One imported file: where its rows went and how many were new."""

    path: Path
    kind: str
    symbol: str
    series: str | None
    rows: int
    rows_added: int
    header: bool
    checksum_verified: bool


def _read_csv_bytes(archive: ArchiveFile) -> bytes:
    if archive.path.suffix == ".csv":
        return archive.path.read_bytes()
    try:
        with zipfile.ZipFile(archive.path) as zf:
            members = [n for n in zf.namelist() if n.endswith(".csv")]
            if len(members) != 1:
                raise ArchiveFormatError(archive.path, f"expected one CSV inside, found {members}")
            return zf.read(members[0])
    except zipfile.BadZipFile as exc:
        raise ArchiveFormatError(archive.path, f"not a zip file: {exc}") from exc


def import_archives(
    paths: Iterable[str | os.PathLike[str]],
    store: Store,
    *,
    kind_hint: str | None = None,
    symbol: str | None = None,
    checksum: str = "require",
) -> list[ImportResult]:
    """Import bulk files into ``store``.

    Parameters
    ----------
    paths : zips (or extracted CSVs) named as on data.binance.vision
    store : the dataset
    kind_hint : kline kind for ``SYMBOL-1m-...`` files outside their Binance directory
    symbol : store under this symbol instead of the one in the file name
    checksum : ``"require"`` (default: every zip needs a matching ``.CHECKSUM``), ``"if-present"``
        or ``"skip"``

    Returns
    -------
    list[ImportResult]

    Raises
    ------
    ChecksumMismatch
        A file does not match its checksum; nothing of the batch was written.
    ArchiveFormatError
        An unknown name, a missing checksum file (``require``), or unparsable content; nothing of
        the batch was written if the problem is in a name or checksum, and nothing of that file
        otherwise.
    StoreWriteError
        The disk refused a write.
    """
    if checksum not in ("require", "if-present", "skip"):
        raise ValueError("checksum must be 'require', 'if-present' or 'skip'")
    files: Sequence[ArchiveFile] = [describe(p, kind_hint=kind_hint) for p in paths]
    verified: list[bool] = []
    for f in files:  # every check before the first write
        if checksum == "skip" or f.path.suffix == ".csv":
            if checksum == "require":
                raise ArchiveFormatError(f.path, "a CSV has no checksum; import the zip, or skip the check explicitly")
            verified.append(False)
        else:
            verified.append(verify_checksum(f.path, required=checksum == "require"))
    results = []
    for f, ok in zip(files, verified):
        table, header = parse_csv(_read_csv_bytes(f), f.type, source=str(f.path))
        target = symbol or f.symbol
        stats = store.write(f.type.kind, table, symbol=target, series=f.series)
        results.append(
            ImportResult(f.path, f.type.kind, target, f.series, table.num_rows, stats.rows_added, header, ok)
        )
    return results
