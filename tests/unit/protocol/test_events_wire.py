"""The market-event Structs describe each payload in both directions: decode, then encode, gives it back.

The local exchange encodes these same Structs, so a key missing here would be missing from its frames.
Examples and frames: :mod:`helpers.stream_examples`.
"""

from __future__ import annotations

import msgspec
import pytest

from binfut.protocol import events as ev
from helpers.stream_examples import DOCUMENTED, RECORDED

_decoder: msgspec.json.Decoder[ev.MarketEvent] = msgspec.json.Decoder(ev.MarketEvent)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_a_documented_payload_encodes_back_to_itself(name: str) -> None:
    # Arrange
    payload = DOCUMENTED[name]

    # Act
    event = _decoder.decode(payload)
    encoded = msgspec.json.encode(event)

    # Assert: every documented key survives, with its JSON type and text (key order aside)
    assert msgspec.json.decode(encoded) == msgspec.json.decode(payload)


@pytest.mark.parametrize("frame", RECORDED, ids=lambda f: msgspec.json.decode(f)["e"])
def test_a_recorded_frame_encodes_back_byte_for_byte(frame: bytes) -> None:
    assert msgspec.json.encode(_decoder.decode(frame)) == frame


def test_kline_bar_leaves_out_what_the_payload_did_not_carry() -> None:
    # Arrange: the continuous kline has no "s" in "k"; an older capture may lack "B"
    bar = msgspec.json.decode(DOCUMENTED["continuous_kline"])["k"]
    del bar["B"]

    # Act
    decoded = msgspec.json.decode(msgspec.json.encode(bar), type=ev.KlineBar)
    encoded = msgspec.json.decode(msgspec.json.encode(decoded))

    # Assert
    assert decoded.symbol is None and decoded.ignore == ""
    assert encoded == bar
