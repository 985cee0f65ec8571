"""Stream frames to per-event tables: a real fstream capture and each event shape Binance documents."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from binfut.data.normalize import normalize_frames, raw_tables, split_frame, symbol_of
from binfut.data.schema import KINDS

CAPTURE = (
    next(
        (
            p
            for p in (Path(__file__).resolve().parents[4] / "shared/realdata", Path("/work/shared/realdata"))
            if p.is_dir()
        ),
        Path("/nonexistent"),
    )
    / "BINANCE_FUTURES.ws.1.0"
)


def capture_frames() -> list[tuple[int, str, bytes]]:
    """(recv ns, stream, frame) of cryptofeed's 2021 fstream capture ("<unix ts>: <frame>" lines)."""
    frames = []
    for line in CAPTURE.read_text().splitlines()[1:]:
        ts, _, frame = line.partition(": ")
        stream = json.loads(frame)["stream"]
        frames.append((int(float(ts) * 1e9), stream, frame.encode()))
    return frames


@pytest.mark.skipif(not CAPTURE.is_file(), reason="shared/realdata not present")
def test_a_real_capture_normalizes_every_event() -> None:
    # Arrange: 764 depthUpdate, 613 bookTicker, 91 aggTrade, 67 kline_1m frames for 4 symbols.
    frames = capture_frames()

    # Act
    tables, skipped = normalize_frames(frames)

    # Assert
    counts = Counter[str]()
    for (kind_name, _, _), table in tables.items():
        counts[kind_name] += table.num_rows
        assert table.schema.equals(KINDS[kind_name].schema)
    assert skipped == 0
    assert counts == {"stream_depth": 764, "stream_book_ticker": 613, "stream_agg_trade": 91, "stream_kline": 67}
    assert {symbol for _, symbol, _ in tables} == {"SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"}
    assert {series for kind_name, _, series in tables if kind_name == "stream_kline"} == {"1m"}
    raw = raw_tables(frames)
    assert sum(t.num_rows for t in raw.values()) == len(frames) == 1535


def event(payload: dict[str, object], stream: str = "") -> tuple[int, str, bytes]:
    body = json.dumps({"stream": stream, "data": payload} if stream else payload).encode()
    return (1_700_000_000_000_000_123, stream, body)


def test_each_documented_event_becomes_a_row() -> None:
    frames = [
        event(
            {
                "e": "trade",
                "E": 1,
                "T": 2,
                "s": "BTCUSDT",
                "t": 7,
                "p": "42000.10",
                "q": "0.5",
                "X": "MARKET",
                "m": True,
            },
            "btcusdt@trade",
        ),
        event(
            {
                "e": "markPriceUpdate",
                "E": 1,
                "s": "BTCUSDT",
                "p": "42000.1",
                "i": "41999.9",
                "P": "42000",
                "r": "",
                "T": 28_800_000,
            }
        ),
        event(
            {
                "e": "continuous_kline",
                "E": 1,
                "ps": "BTCUSDT",
                "ct": "PERPETUAL",
                "k": {
                    "t": 0,
                    "T": 59_999,
                    "i": "1m",
                    "f": 1,
                    "L": 2,
                    "o": "1",
                    "c": "2",
                    "h": "3",
                    "l": "0.5",
                    "v": "10",
                    "n": 2,
                    "x": False,
                    "q": "15",
                    "V": "4",
                    "Q": "6",
                    "B": "0",
                },
            },
            "btcusdt_perpetual@continuousKline_1m",
        ),  # fmt: skip
        event(
            {
                "e": "forceOrder",
                "E": 5,
                "o": {
                    "s": "ETHUSDT",
                    "S": "SELL",
                    "o": "LIMIT",
                    "f": "IOC",
                    "q": "0.014",
                    "p": "9910",
                    "ap": "9910",
                    "X": "FILLED",
                    "l": "0.014",
                    "z": "0.014",
                    "T": 4,
                },
            }
        ),  # fmt: skip
        event({"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT"}),  # kept raw only
    ]

    tables, skipped = normalize_frames(frames)

    assert skipped == 1
    trade = tables[("stream_trade", "BTCUSDT", None)].to_pylist()[0]
    assert (trade["trade_id"], trade["price"], trade["is_buyer_maker"]) == (7, 42000.1, True)
    assert trade["recv_time"].value == 1_700_000_000_000_000_123  # ns kept exactly
    mark = tables[("stream_mark_price", "BTCUSDT", None)].to_pylist()[0]
    assert mark["funding_rate"] is None  # "" on delivery contracts
    assert tables[("stream_kline", "BTCUSDT_PERPETUAL", "1m")].num_rows == 1
    assert tables[("stream_force_order", "ETHUSDT", None)].to_pylist()[0]["side"] == "SELL"


def test_array_streams_split_into_rows_and_partition_symbols() -> None:
    marks = [
        {"e": "markPriceUpdate", "E": 1, "s": s, "p": "1", "i": "1", "P": "1", "r": "0.0001", "T": 9}
        for s in ("BTCUSDT", "ETHUSDT")
    ]
    frame = event(marks, "!markPrice@arr")  # type: ignore[arg-type]

    tables, _ = normalize_frames([frame])

    assert set(tables) == {("stream_mark_price", "BTCUSDT", None), ("stream_mark_price", "ETHUSDT", None)}
    assert symbol_of("!markPrice@arr") == "ALL"
    assert symbol_of("btcusdt@aggTrade") == "BTCUSDT"
    assert symbol_of("", {"s": "ethusdt"}) == "ETHUSDT"
    assert list(raw_tables([frame])) == ["ALL"]
    assert split_frame(b'{"e":"aggTrade"}') == ("", {"e": "aggTrade"})


def test_malformed_frames_are_skipped_not_fatal() -> None:
    tables, skipped = normalize_frames([(1, "x", b"not json"), event({"e": "aggTrade", "s": "BTCUSDT"})])

    assert tables == {} and skipped == 2
