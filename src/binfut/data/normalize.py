"""Raw stream frames to the recorder's per-event tables (pure: bytes in, columns out).

A frame is a combined-stream envelope ``{"stream", "data"}`` or a bare payload; ``data`` is one event
or, for the ``!…@arr`` streams, a list. Each known event type (``aggTrade``, ``trade``, ``kline``,
``continuous_kline``, ``markPriceUpdate``, ``bookTicker``, ``depthUpdate``, ``forceOrder``) maps to a
``stream_*`` kind of :mod:`binfut.data.schema`; anything else stays in the raw table only. Numbers
arrive as JSON strings and become float64 (``""`` becomes null where the column allows it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import pyarrow as pa

from binfut.data.schema import KINDS, table_from_columns

__all__ = ["NORMALIZERS", "SeriesKey", "normalize_frames", "raw_tables", "split_frame", "symbol_of"]

#: (kind, symbol, interval) of one recorded table.
SeriesKey = tuple[str, str, str | None]
Row = dict[str, Any]

_decode = msgspec.json.Decoder().decode


def split_frame(frame: bytes) -> tuple[str, Any]:
    """``(stream name, payload)`` of a frame; the name is ``""`` for a bare ``/ws`` payload."""
    obj = _decode(frame)
    if isinstance(obj, dict) and "stream" in obj and "data" in obj:
        return str(obj["stream"]), obj["data"]
    return "", obj


def symbol_of(stream: str, payload: Any = None) -> str:
    """The partition symbol of a frame: from the stream name (``btcusdt@aggTrade``), else the payload's
    ``s``; ``ALL`` for the ``!…`` all-market streams and anything without a symbol."""
    if stream and not stream.startswith("!"):
        # "btcusdt_perpetual@continuousKline_1m" gives BTCUSDT_PERPETUAL, as the downloader stores it.
        return stream.split("@", 1)[0].upper()
    if isinstance(payload, dict) and isinstance(payload.get("s"), str):
        return str(payload["s"]).upper()
    return "ALL"


def _f(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _levels(levels: Any) -> tuple[list[float], list[float]]:
    prices = [float(p) for p, _ in levels]
    qtys = [float(q) for _, q in levels]
    return prices, qtys


def _agg_trade(ev: Row, recv: int) -> tuple[SeriesKey, Row]:
    return ("stream_agg_trade", ev["s"], None), {
        "recv_time": recv, "event_time": ev["E"], "agg_trade_id": ev["a"], "price": float(ev["p"]),
        "quantity": float(ev["q"]), "first_trade_id": ev["f"], "last_trade_id": ev["l"], "time": ev["T"],
        "is_buyer_maker": ev["m"],
    }  # fmt: skip


def _trade(ev: Row, recv: int) -> tuple[SeriesKey, Row]:
    return ("stream_trade", ev["s"], None), {
        "recv_time": recv, "event_time": ev["E"], "trade_id": ev["t"], "price": float(ev["p"]),
        "quantity": float(ev["q"]), "time": ev["T"], "is_buyer_maker": ev["m"],
    }  # fmt: skip


def _kline(ev: Row, recv: int) -> tuple[SeriesKey, Row]:
    k = ev["k"]
    # A continuous kline names its pair and contract type instead of a symbol.
    symbol = ev["s"] if "s" in ev else f"{ev['ps']}_{ev['ct']}"
    return ("stream_kline", symbol, k["i"]), {
        "recv_time": recv, "event_time": ev["E"], "open_time": k["t"], "close_time": k["T"], "open": float(k["o"]),
        "high": float(k["h"]), "low": float(k["l"]), "close": float(k["c"]), "volume": float(k["v"]),
        "quote_volume": float(k["q"]), "trades": k["n"], "taker_buy_base_volume": float(k["V"]),
        "taker_buy_quote_volume": float(k["Q"]), "is_closed": k["x"],
    }  # fmt: skip


def _mark(ev: Row, recv: int) -> tuple[SeriesKey, Row]:
    return ("stream_mark_price", ev["s"], None), {
        "recv_time": recv, "event_time": ev["E"], "mark_price": float(ev["p"]), "index_price": float(ev["i"]),
        "estimated_settle_price": float(ev["P"]), "funding_rate": _f(ev.get("r")), "next_funding_time": ev["T"],
    }  # fmt: skip


def _book_ticker(ev: Row, recv: int) -> tuple[SeriesKey, Row]:
    return ("stream_book_ticker", ev["s"], None), {
        "recv_time": recv, "event_time": ev["E"], "transaction_time": ev["T"], "update_id": ev["u"],
        "best_bid_price": float(ev["b"]), "best_bid_qty": float(ev["B"]), "best_ask_price": float(ev["a"]),
        "best_ask_qty": float(ev["A"]),
    }  # fmt: skip


def _depth(ev: Row, recv: int) -> tuple[SeriesKey, Row]:
    bid_p, bid_q = _levels(ev["b"])
    ask_p, ask_q = _levels(ev["a"])
    return ("stream_depth", ev["s"], None), {
        "recv_time": recv, "event_time": ev["E"], "transaction_time": ev["T"], "first_update_id": ev["U"],
        "final_update_id": ev["u"], "prev_final_update_id": ev.get("pu"), "bid_prices": bid_p, "bid_qtys": bid_q,
        "ask_prices": ask_p, "ask_qtys": ask_q,
    }  # fmt: skip


def _force(ev: Row, recv: int) -> tuple[SeriesKey, Row]:
    o = ev["o"]
    return ("stream_force_order", o["s"], None), {
        "recv_time": recv, "event_time": ev["E"], "side": o["S"], "order_type": o["o"], "time_in_force": o["f"],
        "quantity": float(o["q"]), "price": float(o["p"]), "average_price": float(o["ap"]), "status": o["X"],
        "last_filled_quantity": float(o["l"]), "filled_accumulated_quantity": float(o["z"]), "trade_time": o["T"],
    }  # fmt: skip


#: Event type (``"e"``) -> normalizer.
NORMALIZERS: dict[str, Callable[[Row, int], tuple[SeriesKey, Row]]] = {
    "aggTrade": _agg_trade,
    "trade": _trade,
    "kline": _kline,
    "continuous_kline": _kline,
    "markPriceUpdate": _mark,
    "bookTicker": _book_ticker,
    "depthUpdate": _depth,
    "forceOrder": _force,
}


def normalize_frames(frames: Iterable[tuple[int, str, bytes]]) -> tuple[dict[SeriesKey, pa.Table], int]:
    """Tables of the known events in ``(recv_time_ns, stream, frame)`` records.

    Returns
    -------
    tuple[dict[SeriesKey, pyarrow.Table], int]
        One table per (kind, symbol, interval), rows in arrival order, and the number of events that
        were skipped (unknown type, or a payload missing a field: those stay in the raw table).
    """
    columns: dict[SeriesKey, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    skipped = 0
    for recv, _, frame in frames:
        try:
            _, payload = split_frame(frame)
        except msgspec.DecodeError:
            skipped += 1
            continue
        for ev in payload if isinstance(payload, list) else [payload]:
            handler = NORMALIZERS.get(str(ev.get("e"))) if isinstance(ev, dict) else None
            if handler is None:
                skipped += 1
                continue
            try:
                key, row = handler(ev, recv)
            except (KeyError, TypeError, ValueError):
                skipped += 1
                continue
            target = columns[key]
            for name, value in row.items():
                target[name].append(value)
    return {key: table_from_columns(KINDS[key[0]], cols) for key, cols in columns.items()}, skipped


def raw_tables(frames: Iterable[tuple[int, str, bytes]]) -> dict[str, pa.Table]:
    """The raw table of ``(recv_time_ns, stream, frame)`` records, split by partition symbol."""
    columns: dict[str, dict[str, list[Any]]] = defaultdict(lambda: {"recv_time": [], "stream": [], "payload": []})
    for recv, stream, frame in frames:
        symbol = symbol_of(stream)
        if symbol == "ALL" and not stream:
            try:
                symbol = symbol_of("", split_frame(frame)[1])
            except msgspec.DecodeError:
                symbol = "ALL"
        cols = columns[symbol]
        cols["recv_time"].append(recv)
        cols["stream"].append(stream)
        cols["payload"].append(frame)
    return {symbol: table_from_columns(KINDS["raw"], cols) for symbol, cols in columns.items()}
