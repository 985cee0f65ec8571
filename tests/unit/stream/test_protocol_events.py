"""binfut.protocol.events: real Binance captures decode to typed events; anything unknown passes through raw.

Captures: ``shared/realdata`` (cryptofeed's 2021 fstream capture, hftbacktest's 2024 BTCUSDT capture);
see ``shared/realdata/SOURCE.txt``.
"""

from __future__ import annotations

import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from binfut.protocol import events as ev
from binfut.protocol.events import EventDecoder, RawEvent, StreamMessage, decode_message
from helpers.stream_examples import DOCUMENTED

REAL = Path("/work/shared/realdata")
CRYPTOFEED = REAL / "BINANCE_FUTURES.ws.1.0"
HFT = REAL / "btcusdt_20240718.gz"
needs_captures = pytest.mark.skipif(not CRYPTOFEED.is_file() or not HFT.is_file(), reason="shared/realdata not present")


def cryptofeed_frames() -> list[str]:
    lines = CRYPTOFEED.read_text().splitlines()[1:]  # line 1 is the URL
    return [line.split(": ", 1)[1] for line in lines if ": " in line]


def hft_frames() -> list[str]:
    with gzip.open(HFT, "rt") as fh:
        rows = [line.split(" ", 1)[1] for line in fh]
    return [r for r in rows if r.startswith('{"stream"')]  # the REST snapshot line is not a stream frame


@needs_captures
def test_the_2021_fstream_capture_decodes_to_typed_events() -> None:
    decoder = EventDecoder()
    messages = [decoder.decode(f) for f in cryptofeed_frames()]
    counts = Counter(type(m.data).__name__ for m in messages)
    assert counts == {"DepthUpdate": 764, "BookTicker": 613, "AggTrade": 91, "Kline": 67}  # SOURCE.txt's census

    book = next(m for m in messages if m.stream == "sushiusdt@bookTicker").data
    assert book == ev.BookTicker(update_id=600859600576, symbol="SUSHIUSDT", bid_price="7.6110", bid_qty="2",
                                 ask_price="7.6120", ask_qty="297", transaction_time_ms=1626992741012,
                                 event_time_ms=1626992741017)  # fmt: skip
    trade = next(m for m in messages if m.stream == "ctkusdt@aggTrade").data
    assert isinstance(trade, ev.AggTrade)
    assert (trade.agg_trade_id, trade.price, trade.quantity, trade.buyer_is_maker) == (16599292, "1.01100", "10", False)
    kline = next(m for m in messages if m.stream == "ctkusdt@kline_1m").data
    assert isinstance(kline, ev.Kline) and kline.kline.interval == "1m" and kline.kline.trades == 48
    assert kline.kline.close == Decimal("1.01100") and kline.kline.is_closed is False
    depth = next(m for m in messages if m.stream == "sushiusdt@depth@100ms").data
    assert isinstance(depth, ev.DepthUpdate) and depth.prev_final_update_id == 600859598061
    assert depth.bids[1] == ("7.6090", "0")  # prices and quantities stay the exchange's strings


@needs_captures
def test_the_2024_btcusdt_capture_decodes_to_typed_events() -> None:
    counts = Counter(type(decode_message(f.encode()).data).__name__ for f in hft_frames())
    assert counts == {"BookTicker": 7113, "DepthUpdate": 3326, "Trade": 974}
    trade = decode_message(next(f for f in hft_frames() if '"trade"' in f)).data
    assert trade == ev.Trade(event_time_ms=1721347022956, trade_time_ms=1721347022956, symbol="BTCUSDT",
                             trade_id=5182005737, price="63943.90", quantity="0.003", order_type="MARKET",
                             buyer_is_maker=True)  # fmt: skip


DOC_PAYLOADS = {name: DOCUMENTED[name] for name in ("markPriceUpdate", "continuous_kline", "24hrMiniTicker", "24hrTicker", "forceOrder")}


@pytest.mark.parametrize("name", sorted(DOC_PAYLOADS))
def test_the_documented_payloads_decode_to_their_types(name: str) -> None:
    frame = '{"stream":"x@y","data":' + DOC_PAYLOADS[name] + "}"
    data = decode_message(frame).data
    expected = {"markPriceUpdate": ev.MarkPriceUpdate, "continuous_kline": ev.ContinuousKline,
                "24hrMiniTicker": ev.MiniTicker, "24hrTicker": ev.Ticker, "forceOrder": ev.ForceOrder}[name]  # fmt: skip
    assert type(data) is expected
    if isinstance(data, ev.ForceOrder):
        assert data.order.price == Decimal("9910") and data.order.side == "SELL"
    if isinstance(data, ev.ContinuousKline):
        assert data.pair == "BTCUSDT" and data.kline.symbol is None and data.kline.volume == Decimal("197.664")


def test_all_market_arrays_decode_element_by_element() -> None:
    ticker = DOC_PAYLOADS["24hrMiniTicker"]
    frame = '{"stream":"!miniTicker@arr","data":[' + ticker + "," + ticker + "]}"
    message = decode_message(frame)
    assert isinstance(message.data, list) and [type(x) for x in message.data] == [ev.MiniTicker, ev.MiniTicker]


def test_user_data_events_come_through_the_same_decoder() -> None:
    frame = ('{"stream":"someListenKey","data":{"e":"ACCOUNT_CONFIG_UPDATE","E":1611646737479,"T":1611646737476,'
             '"ac":{"s":"BTCUSDT","l":25}}}')  # fmt: skip
    data = decode_message(frame).data
    assert isinstance(data, ev.AccountConfigUpdate) and data.leverage is not None and data.leverage.leverage == 25
    expired = decode_message('{"e":"listenKeyExpired","E":"1736996475556","listenKey":"abc"}')
    assert expired.stream == "" and isinstance(expired.data, ev.ListenKeyExpired)


@pytest.mark.parametrize(
    ("frame", "stream", "raw"),
    [
        ('{"stream":"x@compositeIndex","data":{"e":"compositeIndex","E":1}}', "x@compositeIndex",
         b'{"e":"compositeIndex","E":1}'),
        ('{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":"soon"}}', "btcusdt@aggTrade",
         b'{"e":"aggTrade","E":"soon"}'),
        ('{"stream":"!x@arr","data":[{"e":"aggTrade"},{"e":"new"}]}', "!x@arr", b'[{"e":"aggTrade"},{"e":"new"}]'),
        ('{"stream":"a@b","data":{"e":', "", b'{"stream":"a@b","data":{"e":'),
        ('{"e":"somethingNew","E":5}', "", b'{"e":"somethingNew","E":5}'),
        ("\x00\xff", "", b"\x00\xc3\xbf"),
        ('{"result":null,"id":1}', "", b'{"result":null,"id":1}'),
    ],
)  # fmt: skip
def test_unknown_or_malformed_payloads_pass_through_raw_never_raising(frame: str, stream: str, raw: bytes) -> None:
    message = decode_message(frame)
    assert isinstance(message, StreamMessage)
    assert message.stream == stream and message.data == RawEvent(raw)


def test_raw_event_reads_back_as_plain_json() -> None:
    raw = RawEvent(b'{"e":"compositeIndex","E":1,"c":[{"b":"BAL"}]}')
    assert raw.event_type == "compositeIndex" and raw.json["c"] == [{"b": "BAL"}]
    assert RawEvent(b"[1]").event_type is None
    assert EventDecoder().decode_event(b'{"e":"nope"}') == RawEvent(b'{"e":"nope"}')


def test_decoded_messages_are_stream_messages_and_print_as_such() -> None:
    message = decode_message('{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"a":2,"s":"BTCUSDT",'
                             '"p":"1","q":"1","f":1,"l":1,"T":1,"m":true}}')  # fmt: skip
    assert isinstance(message, StreamMessage) and repr(message).startswith("StreamMessage(")
    assert msgspec.structs.asdict(message)["stream"] == "btcusdt@aggTrade"
