"""DepthDecoder: raw and combined-stream frames, snapshots, and refusals as RemoteProtocolError.

Also ``depth_snapshot``: every form of the ``GET /fapi/v1/depth`` answer, the REST client's own model
included, becomes the same exact ``DepthSnapshot``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec
import pytest

from binfut.book import DepthDecoder, DepthSnapshot, DepthUpdate, depth_snapshot
from binfut.errors import RemoteProtocolError
from binfut.protocol.endpoints import endpoint
from binfut.protocol.models import OrderBook as DepthModel
from binfut.protocol.response import DecoderCache

ROOT = Path(__file__).resolve().parents[3]
# Verbatim SUSHIUSDT GET /fapi/v1/depth?limit=1000 body from shared/realdata/BINANCE_FUTURES.http.0.0.
REAL_BODY = (ROOT / "tests" / "fixtures" / "http_market_depth__sushiusdt.json").read_bytes()
REAL_CAPTURE = ROOT.parent / "shared" / "realdata" / "BINANCE_FUTURES.http.0.0"

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


# ---------------------------------------------------------------------------------------------- depth_snapshot


def client_model(body: bytes) -> DepthModel:
    """Decode ``body`` exactly as ``Client.depth`` does: the endpoint table's return type, the client's cache."""
    model = DecoderCache().for_type(endpoint("depth").returns)(body)
    assert type(model) is DepthModel
    return model


def test_the_clients_model_of_a_real_body_gives_the_exact_wire_strings() -> None:
    # Arrange
    model = client_model(REAL_BODY)
    expected = DepthDecoder().decode_snapshot(REAL_BODY)

    # Act
    snapshot = depth_snapshot(model)

    # Assert: every one of the 2 x 1000 levels comes back as Binance wrote it ("7.6110", not "7.611").
    assert snapshot == expected
    assert snapshot.last_update_id == 600859605926
    assert (snapshot.event_time_ms, snapshot.transaction_time_ms) == (1626992741264, 1626992741261)
    assert len(snapshot.bids) == len(snapshot.asks) == 1000
    assert snapshot.bids[0] == ("7.6110", "6")


def test_every_recorded_real_snapshot_survives_the_clients_model() -> None:
    if not REAL_CAPTURE.is_file():
        pytest.skip("shared/realdata is not beside the repo")
    lines = [line for line in REAL_CAPTURE.read_text().splitlines() if line.strip()]
    bodies = [line[line.index(": {") + 2 :].encode() for line in lines]

    snapshots = [depth_snapshot(client_model(body)) for body in bodies]

    assert len(snapshots) == 4
    assert snapshots == [DepthDecoder().decode_snapshot(body) for body in bodies]


def test_decimals_are_written_out_without_exponents_and_with_their_zeros() -> None:
    # Arrange: Decimal("0.00000001") prints as 1E-8, which the tick parser must never see.
    model = DepthModel(
        last_update_id=7,
        bids=[(Decimal("0.00000100"), Decimal("1E+3"))],
        asks=[(Decimal("0.00000001"), Decimal("12.500"))],
    )

    # Act
    snapshot = depth_snapshot(model)

    # Assert
    assert snapshot == DepthSnapshot(last_update_id=7, bids=[("0.00000100", "1000")], asks=[("0.00000001", "12.500")])


def test_a_snapshot_is_returned_as_is() -> None:
    snapshot = DepthDecoder().decode_snapshot(REAL_BODY)
    assert depth_snapshot(snapshot) is snapshot


@pytest.mark.parametrize("body", [REAL_BODY, REAL_BODY.decode()], ids=["bytes", "str"])
def test_raw_bodies_are_decoded(body: bytes | str) -> None:
    assert depth_snapshot(body) == DepthDecoder().decode_snapshot(REAL_BODY)
    assert depth_snapshot(body, decoder=DepthDecoder()) == DepthDecoder().decode_snapshot(REAL_BODY)


@pytest.mark.parametrize(
    "mapping",
    [
        json.loads(REAL_BODY),
        MappingProxyType(json.loads(REAL_BODY)),  # any Mapping, not only dict
        msgspec.to_builtins(client_model(REAL_BODY), builtin_types=(Decimal,)),  # Binance keys, Decimal levels
    ],
    ids=["json.loads", "read-only mapping", "Decimal levels"],
)
def test_mappings_with_binance_keys(mapping: Any) -> None:
    assert depth_snapshot(mapping) == DepthDecoder().decode_snapshot(REAL_BODY)


def test_a_mapping_without_e_and_t() -> None:
    assert depth_snapshot({"lastUpdateId": 3, "bids": [["1.50", "2"]], "asks": []}) == DepthSnapshot(
        last_update_id=3, bids=[("1.50", "2")], asks=[]
    )


@pytest.mark.parametrize(
    ("mapping", "path"),
    [
        ({"bids": [], "asks": []}, None),  # lastUpdateId missing (at the root: no path)
        ({"last_update_id": 1, "bids": [], "asks": []}, None),  # attribute names are not Binance's keys
        ({"lastUpdateId": 1, "bids": [[1.5, "2"]], "asks": []}, "$.bids[0][0]"),  # a float is never exact
        ({"lastUpdateId": 1, "bids": [["1.5"]], "asks": []}, "$.bids[0]"),
    ],
)
def test_a_mapping_that_is_no_snapshot_is_a_remote_protocol_error(mapping: dict[str, Any], path: str | None) -> None:
    with pytest.raises(RemoteProtocolError, match="bad depth snapshot") as info:
        depth_snapshot(mapping)
    assert info.value.path == path


@pytest.mark.parametrize("answer", [None, 42, [1, [], []], (b"{}",), object()])
def test_anything_else_is_a_type_error_naming_the_type(answer: object) -> None:
    with pytest.raises(TypeError, match="not a depth snapshot") as info:
        depth_snapshot(answer)  # type: ignore[arg-type]
    assert type(answer).__qualname__ in str(info.value)
    assert "binfut.protocol.models.OrderBook" in str(info.value)
