"""DepthDecoder: raw and combined-stream frames, snapshots, and refusals as RemoteProtocolError."""

from __future__ import annotations

import msgspec
import pytest

from binfut.book import DepthDecoder, DepthSnapshot, DepthUpdate
from binfut.errors import RemoteProtocolError

# A real frame from shared/realdata/BINANCE_FUTURES.ws.1.0 (cryptofeed capture, 2021-07-22).
DATA = (
    b'{"e":"depthUpdate","E":1626992741037,"T":1626992741024,"s":"SUSHIUSDT","U":600859599090,'
    b'"u":600859600917,"pu":600859598061,"b":[["7.5040","813"],["7.6090","0"],["7.6110","2"]],'
    b'"a":[["7.6150","1563"],["7.6220","3284"]]}'
)
EXPECTED = DepthUpdate(
    event_time_ms=1626992741037,
    transaction_time_ms=1626992741024,
    symbol="SUSHIUSDT",
    first_update_id=600859599090,
    final_update_id=600859600917,
    prev_final_update_id=600859598061,
    bids=[("7.5040", "813"), ("7.6090", "0"), ("7.6110", "2")],
    asks=[("7.6150", "1563"), ("7.6220", "3284")],
)


@pytest.mark.parametrize(
    "frame",
    [
        DATA,
        DATA.decode(),
        b'{"stream":"sushiusdt@depth@100ms","data":' + DATA + b"}",
        '{"stream":"sushiusdt@depth@100ms","data":' + DATA.decode() + "}",
        b'{ "stream" : "sushiusdt@depth@100ms", "data" : ' + DATA + b" }",  # unusual spacing: fallback path
        b'{"data":' + DATA + b',"stream":"sushiusdt@depth@100ms"}',  # keys in another order
    ],
)
def test_decodes_raw_and_combined_frames(frame: bytes | str) -> None:
    assert DepthDecoder().decode(frame) == EXPECTED


def test_round_trips_with_binance_keys() -> None:
    encoded = msgspec.json.encode(EXPECTED)
    assert msgspec.json.decode(encoded) == msgspec.json.decode(DATA)


def test_other_events_are_refused_with_a_path() -> None:
    frame = b'{"stream":"sushiusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"SUSHIUSDT","b":"7.6110"}}'
    with pytest.raises(RemoteProtocolError, match="bad depthUpdate frame") as info:
        DepthDecoder().decode(frame)
    assert info.value.path == "$.data.e"


@pytest.mark.parametrize("frame", [b"", b"not json", b'{"e":"depthUpdate"}', b"[]"])
def test_garbage_is_a_remote_protocol_error(frame: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        DepthDecoder().decode(frame)


def test_decodes_a_snapshot_body() -> None:
    body = b'{"lastUpdateId":600859605926,"E":1626992741264,"T":1626992741261,"bids":[["7.6110","6"]],"asks":[]}'
    assert DepthDecoder().decode_snapshot(body) == DepthSnapshot(
        last_update_id=600859605926,
        event_time_ms=1626992741264,
        transaction_time_ms=1626992741261,
        bids=[("7.6110", "6")],
        asks=[],
    )
    # E and T are optional (spot-shaped bodies lack them).
    assert DepthDecoder().decode_snapshot(b'{"lastUpdateId":1,"bids":[],"asks":[]}').event_time_ms == 0


def test_bad_snapshot_body() -> None:
    with pytest.raises(RemoteProtocolError, match="bad depth snapshot") as info:
        DepthDecoder().decode_snapshot(b'{"lastUpdateId":"x","bids":[],"asks":[]}')
    assert info.value.path == "$.lastUpdateId"


def test_structs_are_frozen_and_untracked_by_gc() -> None:
    import gc

    assert not gc.is_tracked(EXPECTED)
    with pytest.raises(AttributeError):
        EXPECTED.symbol = "X"  # type: ignore[misc]
