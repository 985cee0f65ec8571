"""One frame of every market stream, pinned against the payload Binance documents for it.

Each frame must carry exactly the example's keys (nested objects too, ``"e"`` included) with the same
JSON type under each key, numbers as plain decimal strings wherever the example has a string; it must
decode into binfut's typed event and pass the official SDK's generated model (strict types, no unknown
keys). Examples: :mod:`helpers.stream_examples` (``trade`` is a recorded frame: the pages omit it).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from binfut.emulator.ws.payloads import number, text, text_levels
from binfut.protocol import events as ev
from helpers.stream_examples import DOCUMENTED, RECORDED
from integration.emulator_ws.conftest import Served
from integration.emulator_ws.ws_support import WsClient, limit, liquidation, mark, market

EXAMPLES: dict[str, Any] = {name: msgspec.json.decode(payload) for name, payload in DOCUMENTED.items()}
EXAMPLES["trade"] = next(f for f in map(msgspec.json.decode, RECORDED) if f["e"] == "trade")

STREAMS = {  # stream -> the example its payload (each element, for an array) must match
    "btcusdt@depth@0ms": "depthUpdate",
    "btcusdt@depth@100ms": "depthUpdate",
    "btcusdt@depth5@100ms": "depthUpdate",
    "btcusdt@bookTicker": "bookTicker",
    "!bookTicker": "bookTicker",
    "btcusdt@aggTrade": "aggTrade",
    "btcusdt@trade": "trade",
    "btcusdt@markPrice@1s": "markPriceUpdate",
    "!markPrice@arr": "markPriceUpdate",
    "btcusdt@kline_1m": "kline",
    "btcusdt_perpetual@continuousKline_1m": "continuous_kline",
    "btcusdt@miniTicker": "24hrMiniTicker",
    "!miniTicker@arr": "24hrMiniTicker",
    "btcusdt@ticker": "24hrTicker",
    "!ticker@arr": "24hrTicker",
    "btcusdt@forceOrder": "forceOrder",
    "!forceOrder@arr": "forceOrder",
}
ARRAYS = {"!markPrice@arr", "!miniTicker@arr", "!ticker@arr"}  # the others send one object, as documented
TYPES = {
    "depthUpdate": ev.DepthUpdate, "bookTicker": ev.BookTicker, "aggTrade": ev.AggTrade, "trade": ev.Trade,
    "markPriceUpdate": ev.MarkPriceUpdate, "kline": ev.Kline, "continuous_kline": ev.ContinuousKline,
    "24hrMiniTicker": ev.MiniTicker, "24hrTicker": ev.Ticker, "forceOrder": ev.ForceOrder,
}  # fmt: skip
SDK_MODELS = {  # the official SDK has no model of the undocumented trade stream
    "depthUpdate": "DiffBookDepthStreamsResponse",
    "bookTicker": "IndividualSymbolBookTickerStreamsResponse",
    "aggTrade": "AggregateTradeStreamsResponse",
    "markPriceUpdate": "MarkPriceStreamResponse",
    "kline": "KlineCandlestickStreamsResponse",
    "continuous_kline": "ContinuousContractKlineCandlestickStreamsResponse",
    "24hrMiniTicker": "IndividualSymbolMiniTickerStreamResponse",
    "24hrTicker": "IndividualSymbolTickerStreamsResponse",
    "forceOrder": "LiquidationOrderStreamsResponse",
}
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def shape(value: Any) -> Any:
    """Keys, JSON types and number-ness of a payload: rows of a list by their first, pairs item by item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        rows = value and isinstance(value[0], list | dict)
        return [shape(item) for item in (value[:1] if rows else value)]
    if isinstance(value, str):
        return "number" if PLAIN_NUMBER.fullmatch(value) else "text"
    return type(value).__name__


def unknown_keys(model: Any) -> dict[str, Any]:
    """The keys an SDK model (and the models nested in it) did not declare."""
    found = dict(model.additional_properties)
    for name in type(model).model_fields:
        child = getattr(model, name)
        if hasattr(child, "additional_properties"):
            found.update(unknown_keys(child))
    return found


def both_sides(frame: dict[str, Any]) -> bool:
    """A depth frame is only a fair sample with levels on both sides (an empty side has no row shape)."""
    data = frame["data"]
    return not isinstance(data, dict) or data.get("e") != "depthUpdate" or bool(data["b"] and data["a"])


async def one_frame_per_stream(served: Served) -> dict[str, Any]:
    ex, clock = served.exchange, served.clock
    async with await WsClient.connect(f"{served.ws_url}/stream?streams={'/'.join(STREAMS)}") as cl:
        for i in range(5):
            limit(ex, "mm", "BTCUSDT", "BUY", f"{49990 - i}.0", "0.050")
            limit(ex, "mm", "BTCUSDT", "SELL", f"{50010 + i}.0", "0.050")
        market(ex, "taker", "BTCUSDT", "BUY", "0.010")
        # Takes the rest of the best ask and rests at its price: one book change on both sides.
        limit(ex, "taker", "BTCUSDT", "BUY", "50010.0", "0.060")
        mark(ex)
        liquidation(ex)
        clock.advance(5_000_000_000)  # every cadence (100 ms ... 5 s) comes due
        return await cl.first_per_stream(len(STREAMS), both_sides)


@pytest.mark.asyncio
async def test_every_stream_sends_its_documented_payload(served: Served) -> None:
    # Arrange
    models = pytest.importorskip("binance_sdk_derivatives_trading_usds_futures.websocket_streams.models")
    decoder = ev.EventDecoder()

    # Act
    got = await one_frame_per_stream(served)

    # Assert
    for stream, kind in STREAMS.items():
        data = got[stream]
        assert isinstance(data, list) == (stream in ARRAYS), stream
        for payload in data if isinstance(data, list) else [data]:
            assert payload["e"] == EXAMPLES[kind]["e"], stream
            assert shape(payload) == shape(EXAMPLES[kind]), stream
            assert type(decoder.decode_event(msgspec.json.encode(payload))) is TYPES[kind], stream
            if kind in SDK_MODELS:
                model = getattr(models, SDK_MODELS[kind]).from_dict(payload)  # strict: a number is no string
                assert unknown_keys(model) == {}, stream


@pytest.mark.asyncio
async def test_numbers_never_take_an_exponent(served: Served) -> None:
    # Arrange: Decimals whose str() is 6.5E+4, 5.0E-7, 0E-8 and 1E+1
    ex, clock = served.exchange, served.clock
    async with await WsClient.connect(f"{served.ws_url}/stream?streams=btcusdt@markPrice@1s/btcusdt@forceOrder") as cl:
        # Act
        mark(ex, mark_price=Decimal("65000").normalize(), estimated_settle_price=Decimal("0.00000050"),
             funding_rate=Decimal("0E-8"))  # fmt: skip
        ten = Decimal("1E+1")
        liquidation(ex, quantity=ten, last_filled_quantity=ten, filled_accumulated_quantity=ten, price=Decimal(49000))
        clock.advance(1_000_000_000)
        got = await cl.first_per_stream(2)

    # Assert
    update = got["btcusdt@markPrice@1s"]
    assert (update["p"], update["P"], update["r"]) == ("65000", "0.00000050", "0.00000000")
    order = got["btcusdt@forceOrder"]["o"]
    assert (order["q"], order["l"], order["z"], order["p"]) == ("10", "10", "10", "49000")


@pytest.mark.parametrize(
    ("value", "spelt"),
    [
        (Decimal("50000.10"), "50000.10"),
        (Decimal("0.000"), "0.000"),
        (Decimal("0E-8"), "0.00000000"),
        (Decimal("1E+2"), "100"),
        (Decimal("-5.0E-7"), "-0.00000050"),
        (Decimal("65000").normalize(), "65000"),
    ],
)
def test_text_and_number_spell_like_the_rest_answers(value: Decimal, spelt: str) -> None:
    assert text(value) == spelt == format(value, "f")
    assert msgspec.json.encode(number(value)) == f'"{spelt}"'.encode()
    if str(value) == spelt:
        assert number(value) is value  # the common case keeps the Decimal itself


def test_text_levels_respells_a_list_holding_an_exponent() -> None:
    plain = [(Decimal("49990.00"), Decimal("0.050")), (Decimal("49989.00"), Decimal("0.000"))]
    assert text_levels(plain) == [("49990.00", "0.050"), ("49989.00", "0.000")]
    mixed = [(Decimal("20"), Decimal("0.5")), (Decimal("1E+1"), Decimal("0E-8"))]
    assert text_levels(mixed) == [("20", "0.5"), ("10", "0.00000000")]
    assert text_levels([]) == []
