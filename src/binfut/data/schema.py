"""Dataset kinds: their columns with exact Arrow types, primary keys and partition layout (pure).

Layout: ``<root>/kind=<kind>/symbol=<SYMBOL>/[interval=<interval>/]date=<YYYY-MM-DD>/<file>.parquet``;
``interval`` holds the kline interval, or the ``period`` of a ``/futures/data`` statistic; ``date`` is
the first UTC day of the file's period: a day for dense series, a month (or year) for sparse ones,
so that no file holds a handful of rows. Partition keys are not stored inside the files.
Types, the same everywhere: times ``timestamp[ms, UTC]`` (a recorder's receive time
``timestamp[ns, UTC]``); prices, quantities, rates and ratios ``float64``; ids and counts ``int64``;
flags ``bool``. Prices are float64, not decimal128, on purpose: every Binance price and quantity has
at most 15 significant digits, which float64 round-trips exactly (``str(float(s)) == s``); DuckDB,
pandas and polars compute on float64 natively; only large aggregates (``quote_volume``) may round
in the 16th digit. Exact money stays ``Decimal`` in the REST client. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from binfut.enums import KlineInterval

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "F64",
    "I64",
    "KINDS",
    "KLINE_KINDS",
    "TS_MS",
    "TS_NS",
    "Column",
    "DatasetKind",
    "kind",
    "partition_end_ms",
    "partition_start_ms",
    "partition_value",
    "series_ms",
    "table_from_columns",
    "table_from_frame",
]

TS_MS = pa.timestamp("ms", tz="UTC")
TS_NS = pa.timestamp("ns", tz="UTC")
F64 = pa.float64()
I64 = pa.int64()
_BOOL = pa.bool_()
_STR = pa.string()
_BIN = pa.binary()

_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Column:
    """One stored column: name, Arrow type, whether it may be null (absent at the source)."""

    name: str
    type: pa.DataType
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class DatasetKind:
    """One table of the dataset.

    Parameters
    ----------
    name : the ``kind=`` partition value
    columns : stored columns in file order (partition keys excluded)
    time_column : the column that places a row in a ``date=`` partition
    key : primary key inside a (symbol, interval) series; merging keeps one row per key, the newest
    series : ``"interval"`` (klines) or ``"period"`` (statistics) when the kind has an ``interval=``
        partition, else None
    granularity : ``"day"``, ``"month"`` or ``"year"`` for kinds without a series (those with one
        derive it from the series length, see :meth:`granularity_for`)
    endpoint : the REST endpoint (``binfut.protocol.endpoints`` name) that serves it, if any
    merge : partitions hold one deduplicated ``data.parquet`` (False: rolling recorder files)
    aliases : other names accepted on the command line
    """

    name: str
    columns: tuple[Column, ...]
    time_column: str
    key: tuple[str, ...]
    series: str | None = None
    granularity: str = "day"
    endpoint: str | None = None
    merge: bool = True
    aliases: tuple[str, ...] = ()
    doc: str = ""

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    @property
    def partition_keys(self) -> tuple[str, ...]:
        return ("symbol", "interval", "date") if self.series else ("symbol", "date")

    @property
    def partition_schema(self) -> pa.Schema:
        return pa.schema([(k, pa.date32() if k == "date" else _STR) for k in self.partition_keys])

    def granularity_for(self, series_value: str | None) -> str:
        """Partition period: a day when a day holds >= 96 rows (<= 15m), a month up to 12h, else a year."""
        if self.series is None or series_value is None:
            return self.granularity
        length = series_ms(series_value)
        if _DAY_MS // length >= 96:
            return "day"
        return "month" if length <= _DAY_MS // 2 else "year"


def series_ms(value: str) -> int:
    """Length in ms of a kline interval or statistics period (``1M`` counts as 30 days)."""
    return KlineInterval(value).millis


# -- partition arithmetic ------------------------------------------------------------------------------

_UNIT = {"day": "D", "month": "M", "year": "Y"}


def partition_start_ms(granularity: str, time_ms: int) -> int:
    """Start (epoch ms, UTC) of the ``granularity`` partition holding ``time_ms``."""
    unit = _UNIT[granularity]
    start = np.datetime64(time_ms, "ms").astype(f"datetime64[{unit}]")
    return int(start.astype("datetime64[ms]").astype(np.int64))


def partition_end_ms(granularity: str, time_ms: int) -> int:
    """End (exclusive) of the ``granularity`` partition holding ``time_ms``."""
    unit = _UNIT[granularity]
    start = np.datetime64(time_ms, "ms").astype(f"datetime64[{unit}]")
    return int((start + 1).astype("datetime64[ms]").astype(np.int64))


def partition_value(granularity: str, time_ms: int) -> str:
    """The ``date=`` value (first day of the partition, ``YYYY-MM-DD``) holding ``time_ms``."""
    start = partition_start_ms(granularity, time_ms)
    return str(np.datetime64(start, "ms").astype("datetime64[D]"))


# -- the kinds --------------------------------------------------------------------------------------------


def _c(spec: str) -> tuple[Column, ...]:
    """Columns from ``"name:type name:type? ..."`` (``?`` = nullable)."""
    types = {"ts": TS_MS, "tsns": TS_NS, "f": F64, "i": I64, "b": _BOOL, "s": _STR, "bin": _BIN}
    out = []
    for item in spec.split():
        name, typ = item.split(":")
        nullable = typ.endswith("?")
        out.append(Column(name, types[typ.rstrip("?")], nullable))
    return tuple(out)


_KLINE_COLS = _c(
    "open_time:ts open:f high:f low:f close:f volume:f close_time:ts quote_volume:f trades:i "
    "taker_buy_base_volume:f taker_buy_quote_volume:f"
)
_RATIO_COLS = _c("timestamp:ts long_short_ratio:f long_account:f short_account:f")


def _kline(name: str, endpoint: str, aliases: tuple[str, ...], doc: str) -> DatasetKind:
    return DatasetKind(
        name, _KLINE_COLS, "open_time", ("open_time",), "interval", endpoint=endpoint, aliases=aliases, doc=doc
    )


def _ratio(name: str, aliases: tuple[str, ...], doc: str) -> DatasetKind:
    return DatasetKind(
        name, _RATIO_COLS, "timestamp", ("timestamp",), "period", endpoint=name, aliases=aliases, doc=doc
    )


KLINE_KINDS = ("klines", "continuous_klines", "index_price_klines", "mark_price_klines", "premium_index_klines")

_ALL: tuple[DatasetKind, ...] = (
    _kline("klines", "klines", ("kline", "trade_klines"), "trade klines (GET /fapi/v1/klines)"),
    # Stored under symbol=<PAIR>_<CONTRACT_TYPE> (BTCUSDT_PERPETUAL): one pair has several contracts.
    _kline("continuous_klines", "continuous_klines", ("continuous",), "continuous-contract klines"),
    _kline("index_price_klines", "index_price_klines", ("index", "index_klines"), "index-price klines (by pair)"),
    _kline("mark_price_klines", "mark_price_klines", ("mark", "mark_klines"), "mark-price klines"),
    _kline("premium_index_klines", "premium_index_klines", ("premium", "premium_klines"), "premium-index klines"),
    DatasetKind(
        "agg_trades",
        _c("agg_trade_id:i price:f quantity:f first_trade_id:i last_trade_id:i time:ts is_buyer_maker:b"),
        "time",
        ("agg_trade_id",),
        endpoint="agg_trades",
        aliases=("aggtrades", "agg"),
        doc="aggregate trades (GET /fapi/v1/aggTrades; archive aggTrades)",
    ),
    DatasetKind(
        "trades",
        _c("id:i price:f qty:f quote_qty:f time:ts is_buyer_maker:b"),
        "time",
        ("id",),
        aliases=("trade",),
        doc="individual trades (archive only: REST serves recent trades alone)",
    ),
    DatasetKind(
        "funding_rate",
        _c("funding_time:ts funding_rate:f mark_price:f? funding_interval_hours:i?"),
        "funding_time",
        ("funding_time",),
        granularity="month",
        endpoint="funding_rate_history",
        aliases=("funding", "fundingrate"),
        doc="settled funding rates; mark_price from REST, funding_interval_hours from archives",
    ),
    DatasetKind(
        "open_interest_hist",
        _c("timestamp:ts sum_open_interest:f sum_open_interest_value:f cmc_circulating_supply:f?"),
        "timestamp",
        ("timestamp",),
        "period",
        endpoint="open_interest_hist",
        aliases=("open_interest", "oi"),
        doc="open-interest statistics (last 30 days only on Binance)",
    ),
    _ratio("top_long_short_position_ratio", ("top_position_ratio",), "top-trader long/short position ratio"),
    _ratio("top_long_short_account_ratio", ("top_account_ratio",), "top-trader long/short account ratio"),
    _ratio("global_long_short_account_ratio", ("long_short_ratio", "global_ratio"), "all-account long/short ratio"),
    DatasetKind(
        "taker_long_short_ratio",
        _c("timestamp:ts buy_sell_ratio:f buy_vol:f sell_vol:f"),
        "timestamp",
        ("timestamp",),
        "period",
        endpoint="taker_long_short_ratio",
        aliases=("taker_volume", "taker"),
        doc="taker buy/sell volume",
    ),
    DatasetKind(
        "basis",
        _c("timestamp:ts contract_type:s index_price:f futures_price:f basis:f basis_rate:f annualized_basis_rate:f?"),
        "timestamp",
        ("timestamp", "contract_type"),
        "period",
        endpoint="basis",
        doc="basis by pair and contract type",
    ),
    DatasetKind(
        "book_ticker",
        _c(
            "update_id:i best_bid_price:f best_bid_qty:f best_ask_price:f best_ask_qty:f "
            "transaction_time:ts event_time:ts"
        ),
        "transaction_time",
        ("update_id",),
        aliases=("bookticker",),
        doc="best bid/ask updates (archive bookTicker)",
    ),
    DatasetKind(
        "book_depth",
        _c("timestamp:ts percentage:f depth:f notional:f"),
        "timestamp",
        ("timestamp", "percentage"),
        aliases=("bookdepth",),
        doc="depth within ±N % of the mid (archive bookDepth)",
    ),
    DatasetKind(
        "metrics",
        _c(
            "create_time:ts sum_open_interest:f sum_open_interest_value:f count_toptrader_long_short_ratio:f "
            "sum_toptrader_long_short_ratio:f count_long_short_ratio:f sum_taker_long_short_vol_ratio:f"
        ),
        "create_time",
        ("create_time",),
        doc="5-minute open interest and ratios (archive metrics)",
    ),
    # -- what the recorder writes: raw frames, and per-event tables normalized from them --------------
    DatasetKind(
        "raw",
        _c("recv_time:tsns stream:s payload:bin"),
        "recv_time",
        ("recv_time", "stream"),
        merge=False,
        doc="raw WebSocket frames as received, with the receive time in ns",
    ),
    DatasetKind(
        "stream_agg_trade",
        _c(
            "recv_time:tsns event_time:ts agg_trade_id:i price:f quantity:f first_trade_id:i last_trade_id:i "
            "time:ts is_buyer_maker:b"
        ),
        "time",
        ("agg_trade_id",),
        merge=False,
        doc="recorded aggTrade events",
    ),
    DatasetKind(
        "stream_trade",
        _c("recv_time:tsns event_time:ts trade_id:i price:f quantity:f time:ts is_buyer_maker:b"),
        "time",
        ("trade_id",),
        merge=False,
        doc="recorded trade events",
    ),
    DatasetKind(
        "stream_kline",
        _c(
            "recv_time:tsns event_time:ts open_time:ts close_time:ts open:f high:f low:f close:f volume:f "
            "quote_volume:f trades:i taker_buy_base_volume:f taker_buy_quote_volume:f is_closed:b"
        ),
        "event_time",
        ("event_time", "open_time"),
        "interval",
        merge=False,
        doc="recorded kline events (every update of the open bar, is_closed marks the final one)",
    ),
    DatasetKind(
        "stream_mark_price",
        _c(
            "recv_time:tsns event_time:ts mark_price:f index_price:f estimated_settle_price:f funding_rate:f? "
            "next_funding_time:ts"
        ),
        "event_time",
        ("event_time",),
        merge=False,
        doc="recorded markPriceUpdate events",
    ),
    DatasetKind(
        "stream_book_ticker",
        _c(
            "recv_time:tsns event_time:ts transaction_time:ts update_id:i best_bid_price:f best_bid_qty:f "
            "best_ask_price:f best_ask_qty:f"
        ),
        "event_time",
        ("update_id",),
        merge=False,
        doc="recorded bookTicker events",
    ),
    DatasetKind(
        "stream_depth",
        (
            *_c(
                "recv_time:tsns event_time:ts transaction_time:ts first_update_id:i final_update_id:i "
                "prev_final_update_id:i?"
            ),
            Column("bid_prices", pa.list_(F64)),
            Column("bid_qtys", pa.list_(F64)),
            Column("ask_prices", pa.list_(F64)),
            Column("ask_qtys", pa.list_(F64)),
        ),
        "event_time",
        ("final_update_id",),
        merge=False,
        doc="recorded depthUpdate events (diff or partial depth), levels as parallel lists",
    ),
    DatasetKind(
        "stream_force_order",
        _c(
            "recv_time:tsns event_time:ts side:s order_type:s time_in_force:s quantity:f price:f average_price:f "
            "status:s last_filled_quantity:f filled_accumulated_quantity:f trade_time:ts"
        ),
        "event_time",
        ("event_time", "side", "price"),
        merge=False,
        doc="recorded forceOrder (liquidation) events",
    ),
)

#: Every dataset kind by name.
KINDS: dict[str, DatasetKind] = {k.name: k for k in _ALL}
_BY_ALIAS: dict[str, DatasetKind] = {a: k for k in _ALL for a in (k.name, *k.aliases)}


def kind(name: str | DatasetKind) -> DatasetKind:
    """A kind by name or alias (``funding`` -> ``funding_rate``).

    Raises
    ------
    KeyError
        No such kind; the message lists the known names.
    """
    if isinstance(name, DatasetKind):
        return name
    found = _BY_ALIAS.get(name.strip().lower())
    if found is None:
        raise KeyError(f"unknown data kind {name!r}; known: {', '.join(KINDS)}")
    return found


# -- building tables --------------------------------------------------------------------------------------


def table_from_columns(spec: DatasetKind, columns: Mapping[str, Any], *, nan_is_null: bool = True) -> pa.Table:
    """A table of ``spec``'s exact schema from name -> array-like (numpy, lists, Arrow arrays).

    Nullable columns missing from ``columns`` become all-null; NaN in a nullable float column becomes
    null (``nan_is_null``). Extra entries are ignored.

    Raises
    ------
    KeyError
        A non-nullable column is missing.
    """
    n = None
    arrays: list[pa.Array | pa.ChunkedArray | None] = []
    for col in spec.columns:
        values = columns.get(col.name)
        if values is None:
            if not col.nullable:
                raise KeyError(f"{spec.name}: column {col.name!r} is required")
            arrays.append(None)
            continue
        arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else _to_arrow(values, col, nan_is_null)
        if not arr.type.equals(col.type):
            arr = arr.cast(col.type)
        n = len(arr)
        arrays.append(arr)
    n = n or 0
    filled = [pa.nulls(n, c.type) if a is None else a for a, c in zip(arrays, spec.columns)]
    return pa.Table.from_arrays(filled, schema=spec.schema)


def _to_arrow(values: Any, col: Column, nan_is_null: bool) -> pa.Array:
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "M":  # datetime64: keep the instant, set the unit/zone of the column
            return pa.array(values.astype("datetime64[ms]" if col.type == TS_MS else "datetime64[ns]")).cast(col.type)
        if pa.types.is_timestamp(col.type) and values.dtype.kind in "iu":
            unit = "ms" if col.type == TS_MS else "ns"
            return pa.array(values.astype(np.int64).view(f"datetime64[{unit}]")).cast(col.type)
        return pa.array(values, type=col.type, from_pandas=col.nullable and nan_is_null)
    return pa.array(values, type=col.type, from_pandas=col.nullable and nan_is_null)


def table_from_frame(spec: DatasetKind, frame: pd.DataFrame) -> pa.Table:
    """A table of ``spec``'s schema from one of :mod:`binfut.protocol.frames`' DataFrames.

    The frame's UTC index becomes the column it is named after (the time column); columns named like
    the schema are taken, others (``symbol``, ``pair``: partition keys) are dropped.
    """
    wanted = {c.name: c for c in spec.columns}
    columns: dict[str, Any] = {}
    index_name = frame.index.name or spec.time_column
    if index_name in wanted:
        columns[index_name] = pa.array(frame.index, from_pandas=False)
    for name in frame.columns:
        col = wanted.get(name)
        if col is not None:
            # pandas semantics (NaN -> null) only where the column may be null.
            columns[name] = pa.array(frame[name], from_pandas=col.nullable)
    return table_from_columns(spec, columns)
