"""Recorder.add_frame, the StreamManager frame tap: the same journal records and files as decoding first did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from binfut.clock import ManualClock
from binfut.data import Recorder, Store
from binfut.data.recorder import read_journal
from binfut.protocol.events import decode_message

T0 = 1_704_067_200_000_000_000
CAPTURE = Path("/work/shared/realdata/BINANCE_FUTURES.ws.1.0")
if not CAPTURE.is_file():
    CAPTURE = Path(__file__).resolve().parents[4] / "shared/realdata/BINANCE_FUTURES.ws.1.0"

AGG = (
    b'"data":{"e":"aggTrade","E":1704067200000,"a":7,"s":"BTCUSDT","p":"42000.1","q":"0.5","f":7,"l":7,'
    b'"T":1704067200000,"m":true}'
)
ODD_FRAMES = [
    b'{"stream":"btcusdt@aggTrade",' + AGG + b"}",
    b'{"stream" : "btcusdt@aggTrade", ' + AGG + b"}",  # spaces: the slow path
    b'{"stream":"btc\\u0075sdt@aggTrade",' + AGG + b"}",  # an escape in the name
    b"{" + AGG + b',"stream":"btcusdt@aggTrade"}',  # the name last
    AGG[7:],  # a bare payload, as on a raw /ws socket
    b'{"stream":"btcusdt@aggTrade","data":{"e":"notYetKnown","E":1}}',
    b"not json at all",
]


def sample_frames() -> list[bytes]:
    frames = list(ODD_FRAMES)
    if CAPTURE.is_file():
        frames += [line.partition(": ")[2].encode() for line in CAPTURE.read_text().splitlines()[1:]]
    return frames


def test_add_frame_records_the_stream_name_the_decoder_reads(tmp_path: Path) -> None:
    # Arrange
    rec = Recorder(Store(tmp_path), clock=ManualClock(T0))
    rec.start()
    journal = rec.journal
    assert journal is not None

    # Act
    for i, frame in enumerate(ODD_FRAMES):
        rec.add_frame("market-0", T0 + i, frame)
    rec.flush()

    # Assert: each frame as given, under the name StreamManager's decoder gives its message.
    names = [decode_message(frame).stream for frame in ODD_FRAMES]
    assert names[:4] == ["btcusdt@aggTrade"] * 4 and names[4] == "" and names[6] == ""
    assert list(read_journal(journal)) == [
        (T0 + i, n, f) for i, (n, f) in enumerate(zip(names, ODD_FRAMES, strict=True))
    ]
    rec.close()


def test_recording_through_the_tap_writes_the_files_decoding_first_wrote(tmp_path: Path) -> None:
    # Arrange: the same frames into two stores: through the tap, and the way TapDecoder did it
    # (the stream name of the decoded message, the frame as received).
    frames = sample_frames()
    runs = {}
    for name in ("tap", "decoded"):
        clock = ManualClock(T0)
        store = Store(tmp_path / name)
        rec = Recorder(store, clock=clock)
        rec.start()

        # Act
        for i, frame in enumerate(frames):
            if name == "tap":
                rec.add_frame("market-0", T0 + i, frame)
            else:
                rec.add(decode_message(frame).stream, frame, T0 + i)
        journal = rec.journal
        assert journal is not None
        rec.flush()
        records = list(read_journal(journal))
        files = rec.close()
        runs[name] = (store, records, sorted(p.relative_to(store.root).parent for p in files))

    # Assert: byte-identical journal records, the same partitions, the same rows.
    (tap_store, tap_records, tap_parts), (dec_store, dec_records, dec_parts) = runs["tap"], runs["decoded"]
    assert tap_records == dec_records and len(tap_records) == len(frames)
    assert tap_parts == dec_parts
    kinds = {str(part).split("/")[0].removeprefix("kind=") for part in tap_parts}
    assert "raw" in kinds and ("stream_depth" in kinds or not CAPTURE.is_file())
    for kind_name in sorted(kinds):
        assert tap_store.read(kind_name).equals(dec_store.read(kind_name)), kind_name


@pytest.mark.skipif(not CAPTURE.is_file(), reason="shared/realdata not present")
def test_a_real_capture_keeps_its_stream_names_and_bytes(tmp_path: Path) -> None:
    # Arrange
    frames = [line.partition(": ")[2].encode() for line in CAPTURE.read_text().splitlines()[1:]]
    rec = Recorder(Store(tmp_path), clock=ManualClock(T0))
    rec.start()
    journal = rec.journal
    assert journal is not None

    # Act
    for i, frame in enumerate(frames):
        rec.add_frame("public-0", T0 + i, frame)
    rec.flush()

    # Assert
    expected = [(T0 + i, json.loads(frame)["stream"], frame) for i, frame in enumerate(frames)]
    assert list(read_journal(journal)) == expected
    rec.close()
