"""The user-data event Structs round-trip Binance's documented payloads byte for byte."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from binfut.protocol.userevents import (
    AccountConfigUpdate,
    AccountUpdate,
    ListenKeyExpired,
    MarginCall,
    OrderTradeUpdate,
    TradeLite,
    decode_user_event,
    encode_user_event,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ws_user_events.jsonl"
LINES = FIXTURES.read_text().splitlines()


@pytest.mark.parametrize("line", LINES, ids=[json.loads(x)["e"] for x in LINES])
def test_documented_payloads_round_trip(line: str) -> None:
    event = decode_user_event(line)
    assert json.loads(encode_user_event(event)) == json.loads(line)


def test_decoded_types_and_values() -> None:
    kinds = [type(decode_user_event(x)) for x in LINES]
    assert kinds == [OrderTradeUpdate, AccountUpdate, MarginCall, AccountConfigUpdate, ListenKeyExpired, TradeLite]
    otu = decode_user_event(LINES[0])
    assert isinstance(otu, OrderTradeUpdate)
    assert otu.order.stop_price == Decimal("7103.04") and otu.order.order_id == 8886774
    assert otu.order.activation_price == Decimal("7476.89")


def test_engine_order_event_has_the_documented_keys(venue: Any, h: Any) -> None:
    # Arrange: one resting order and a taker
    h.place(venue, "mm", "SELL", "1", "30000")
    # Act
    out = h.place(venue, "alice", "BUY", "0.1", "30000").outputs
    # Assert: same keys as the doc example (minus the trailing-stop-only AP / cr), strings where Binance has strings
    doc = json.loads(LINES[0])
    trade = [e for e in h.events(out, "alice", OrderTradeUpdate) if e.order.execution_type == "TRADE"][0]
    wire = json.loads(encode_user_event(trade))
    assert set(wire) == set(doc)
    assert set(wire["o"]) == set(doc["o"]) - {"AP", "cr"}
    for key, value in doc["o"].items():
        if key in wire["o"]:
            assert type(wire["o"][key]) is type(value), key
    assert wire["o"]["x"] == "TRADE" and wire["o"]["X"] == "FILLED" and wire["o"]["n"] == "1.50000000"


def test_unknown_event_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_user_event(b'{"e":"SOMETHING_NEW","E":1}')
