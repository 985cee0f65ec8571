"""binfut.protocol.streams: names, routing, control frames, pacing, sharding and the rotation hand-over.

(The module is sans-IO; its tests live with the stream tests because that is the folder they serve.)
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from binfut.enums import ContractType, KlineInterval
from binfut.errors import LocalProtocolError
from binfut.protocol import streams as s
from binfut.protocol.events import Handover, overlap_key
from binfut.protocol.streams import MessagePacer, Route, ShardKey, StreamPlanner


def test_every_usdm_market_stream_has_a_builder() -> None:
    assert s.agg_trade("BTCUSDT") == "btcusdt@aggTrade"
    assert s.trade("btcusdt") == "btcusdt@trade"
    assert s.mark_price("BTCUSDT") == "btcusdt@markPrice"
    assert s.mark_price("BTCUSDT", every_second=True) == "btcusdt@markPrice@1s"
    assert s.kline("BTCUSDT", "1m") == "btcusdt@kline_1m"
    assert s.kline("BTCUSDT", KlineInterval.MO1) == "btcusdt@kline_1M"  # the suffix keeps its case
    assert s.continuous_kline("BTCUSDT", "PERPETUAL", "5m") == "btcusdt_perpetual@continuousKline_5m"
    assert s.continuous_kline("ETHUSDT", ContractType.NEXT_QUARTER, "1h") == "ethusdt_next_quarter@continuousKline_1h"
    assert s.mini_ticker("BTCUSDT") == "btcusdt@miniTicker"
    assert s.ticker("BTCUSDT") == "btcusdt@ticker"
    assert s.book_ticker("BTCUSDT") == "btcusdt@bookTicker"
    assert s.force_order("BTCUSDT") == "btcusdt@forceOrder"
    assert [s.partial_depth("BTCUSDT", n) for n in (5, 10, 20)] == [
        "btcusdt@depth5",
        "btcusdt@depth10",
        "btcusdt@depth20",
    ]
    assert s.partial_depth("BTCUSDT", 10, "100ms") == "btcusdt@depth10@100ms"
    assert s.partial_depth("BTCUSDT", 20, "500ms") == "btcusdt@depth20@500ms"
    assert s.partial_depth("BTCUSDT", 5, "250ms") == "btcusdt@depth5"
    assert [s.diff_depth("BTCUSDT", v) for v in (None, "100ms", "500ms", "0ms")] == [
        "btcusdt@depth", "btcusdt@depth@100ms", "btcusdt@depth@500ms", "btcusdt@depth@0ms",
    ]  # fmt: skip
    assert s.all_mark_price() == "!markPrice@arr" and s.all_mark_price(every_second=True) == "!markPrice@arr@1s"
    assert (s.ALL_TICKER, s.ALL_MINI_TICKER, s.ALL_BOOK_TICKER, s.ALL_FORCE_ORDER) == (
        "!ticker@arr", "!miniTicker@arr", "!bookTicker", "!forceOrder@arr",
    )  # fmt: skip


@pytest.mark.parametrize(
    "build",
    [
        lambda: s.partial_depth("BTCUSDT", 15),
        lambda: s.partial_depth("BTCUSDT", 5, "0ms"),  # real time exists for diff depth only
        lambda: s.diff_depth("BTCUSDT", "1s"),
        lambda: s.kline("BTCUSDT", "2m"),
        lambda: s.continuous_kline("BTCUSDT", "weekly", "1m"),
        lambda: s.agg_trade("BTC/USDT"),
        lambda: s.normalize_stream("btcusdt@aggTrade "),
        lambda: s.normalize_stream("@aggTrade"),
        lambda: s.normalize_stream(""),
    ],
)
def test_names_binance_does_not_have_are_refused_before_sending(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]


def test_normalize_lowers_the_symbol_only() -> None:
    assert s.normalize_stream("BTCUSDT@kline_1M") == "btcusdt@kline_1M"
    assert s.normalize_stream("!markPrice@arr") == "!markPrice@arr"
    assert s.normalize_stream("pqrsListenKeyABC123") == "pqrsListenKeyABC123"  # a listenKey keeps its case


def test_routing_follows_the_public_market_private_split() -> None:
    public = ["btcusdt@depth", "btcusdt@depth@0ms", "btcusdt@depth5@100ms", "btcusdt@bookTicker", "!bookTicker"]
    market = ["btcusdt@aggTrade", "btcusdt@markPrice@1s", "!ticker@arr", "btcusdt_perpetual@continuousKline_1m",
              "btcusdt@forceOrder", "!forceOrder@arr", "btcusdt@kline_1m", "btcusdt@miniTicker"]  # fmt: skip
    assert {s.route_of(n) for n in public} == {Route.PUBLIC}
    assert {s.route_of(n) for n in market} == {Route.MARKET}
    assert s.route_of("Xb1lQeyCqN3Ub8w0tPfT5dKqDqWcTq8yFQ2zV9h2kVq") is Route.PRIVATE


def test_control_frames_and_replies() -> None:
    frame = s.control_frame("SUBSCRIBE", 7, ["btcusdt@aggTrade", "btcusdt@depth"])
    assert msgspec.json.decode(frame) == {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@aggTrade", "btcusdt@depth"],
        "id": 7,
    }
    assert msgspec.json.decode(s.control_frame("LIST_SUBSCRIPTIONS", 3)) == {"method": "LIST_SUBSCRIPTIONS", "id": 3}

    ok = s.parse_control_reply(b'{"result":null,"id":7}')
    assert ok is not None and ok.id == 7 and ok.error is None
    listed = s.parse_control_reply('{"result":["btcusdt@aggTrade"],"id":3}')
    assert listed is not None and listed.result == ["btcusdt@aggTrade"]
    bad = s.parse_control_reply(b'{"error":{"code":2,"msg":"Invalid request"},"id":9}')
    assert bad is not None and bad.error == s.ControlError(2, "Invalid request")
    for data in (b'{"stream":"a@b","data":{}}', b'{"e":"aggTrade","E":1}', b"[]", b'{"result":'):
        assert s.parse_control_reply(data) is None
    assert s.is_stream_data(b'{"stream":"x"}') and s.is_stream_data('{"stream":"x"}')


def test_urls_carry_streams_up_to_a_length_and_the_rest_goes_in_frames() -> None:
    assert s.combined_url("wss://fstream.binance.com/market/") == "wss://fstream.binance.com/market/stream"
    names = [f"sym{i:03d}usdt@aggTrade" for i in range(300)]
    url, rest = s.split_url_streams("wss://fstream.binance.com/market", names, 2000)
    assert len(url) <= 2000 and url.startswith("wss://fstream.binance.com/market/stream?streams=sym000usdt@aggTrade/")
    assert url.split("=", 1)[1].split("/") + rest == names
    assert s.batched(rest, 200)[0] == rest[:200] and sum(map(len, s.batched(rest, 200))) == len(rest)
    with pytest.raises(ValueError):
        s.batched(rest, 0)


def test_pacer_allows_a_burst_then_spaces_messages() -> None:
    pacer = MessagePacer(limit=5, window_ms=1000)
    for t in range(5):
        assert pacer.delay_ms(1_000 + t) == 0
        pacer.record(1_000 + t)
    assert pacer.delay_ms(1_010) == 991  # the first send leaves the window at 2000
    assert pacer.delay_ms(2_001) == 0


def test_planner_shards_more_than_1024_streams_into_two_connections_per_route() -> None:
    names = [f"s{i:04d}usdt@aggTrade" for i in range(1100)] + ["btcusdt@depth@100ms"]
    plan = s.plan_shards(names)
    assert list(plan) == [ShardKey(Route.MARKET, 0), ShardKey(Route.MARKET, 1), ShardKey(Route.PUBLIC, 0)]
    assert [len(v) for v in plan.values()] == [1024, 76, 1]
    assert ShardKey(Route.MARKET, 1).label == "market-1"


def test_planner_fills_free_room_first_and_drops_empty_connections() -> None:
    planner = StreamPlanner(max_streams=2)
    assert planner.add(["a@aggTrade", "b@aggTrade", "c@aggTrade"]) == {
        ShardKey(Route.MARKET, 0): ["a@aggTrade", "b@aggTrade"],
        ShardKey(Route.MARKET, 1): ["c@aggTrade"],
    }
    assert planner.add(["a@aggTrade"]) == {}  # already planned
    assert planner.remove(["a@aggTrade", "zz@aggTrade"]) == {ShardKey(Route.MARKET, 0): ["a@aggTrade"]}
    assert planner.add(["d@aggTrade"]) == {ShardKey(Route.MARKET, 0): ["d@aggTrade"]}  # the hole is reused
    planner.remove(["b@aggTrade", "d@aggTrade"])
    assert list(planner.shards()) == [ShardKey(Route.MARKET, 1)]
    assert planner.add(["e@aggTrade", "f@aggTrade"]) == {
        ShardKey(Route.MARKET, 1): ["e@aggTrade"],
        ShardKey(Route.MARKET, 0): ["f@aggTrade"],  # index 0 is free again
    }
    assert "e@aggTrade" in planner and len(planner) == 3 and planner.shard_of("c@aggTrade") == ShardKey(Route.MARKET, 1)
    with pytest.raises(ValueError):
        StreamPlanner(max_streams=1025)


@given(st.lists(st.sampled_from([f"x{i}@aggTrade" for i in range(40)] + [f"x{i}@depth" for i in range(40)]), max_size=120),
       st.integers(1, 7))  # fmt: skip
def test_planner_never_overfills_and_never_mixes_routes(streams: list[str], size: int) -> None:
    planner = StreamPlanner(max_streams=size)
    planner.add(streams[: len(streams) // 2])
    planner.remove(streams[::3])
    planner.add(streams)
    shards = planner.shards()
    flat = [n for names in shards.values() for n in names]
    assert sorted(flat) == sorted(set(streams))
    for key, names in shards.items():
        assert 0 < len(names) <= size and {s.route_of(n) for n in names} == {key.route}


def agg(a: int, stream: str = "btcusdt@aggTrade") -> bytes:
    return b'{"stream":"%s","data":{"e":"aggTrade","E":%d,"a":%d,"s":"BTCUSDT"}}' % (stream.encode(), a, a)


def depth(u: int) -> bytes:
    return b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":%d,"u":%d,"pu":%d,"a":[["1","2"]]}}' % (
        u,
        u,
        u - 1,
    )


def test_overlap_keys_follow_each_streams_own_sequence() -> None:
    assert overlap_key(agg(42)) == ("btcusdt@aggTrade", 42)
    assert overlap_key(depth(900)) == ("btcusdt@depth", 900)
    assert overlap_key(b'{"stream":"btcusdt@trade","data":{"e":"trade","E":5,"t":77}}') == ("btcusdt@trade", 77)
    assert overlap_key(b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":12,"E":3}}')[1] == 12  # type: ignore[index]
    assert overlap_key(b'{"stream":"!markPrice@arr","data":[{"e":"markPriceUpdate","E":3000}]}') == (
        "!markPrice@arr",
        3000,
    )
    assert overlap_key(b'{"e":"ORDER_TRADE_UPDATE","E":17,"T":16}') == ("", 17)  # a raw user-data frame
    for other in (
        b'{"result":null,"id":1}',
        b'{"id":"x","status":200,"result":{}}',
        b"nope",
        b'{"stream":"a","data":[]}',
    ):
        assert overlap_key(other) is None


def test_handover_delivers_each_event_once_in_order() -> None:
    handover = Handover()
    delivered = [agg(1), agg(2), agg(3)]
    for frame in delivered:
        handover.old(frame)  # the old socket is authoritative
    assert not handover.ready
    for a in (2, 3, 4, 5):
        assert handover.new(agg(a))  # the new socket started at 2: its 2 and 3 repeat the old ones
    assert handover.ready and handover.held == 4
    handover.old(agg(4))  # the old one got 4 before the switch too
    delivered.append(agg(4))
    delivered += list(handover.drain())
    assert delivered == [agg(a) for a in range(1, 6)]
    assert handover.held == 0


def test_handover_waits_for_every_stream_and_tells_equal_keys_apart() -> None:
    handover = Handover()
    handover.old(agg(10))
    handover.new(agg(11))  # newer than anything old delivered: a hole is possible, not proven
    assert not handover.ready and handover.unproven == {"btcusdt@aggTrade"}
    handover.old(agg(11))
    assert handover.ready
    # Two liquidations of one second share E on !forceOrder@arr: equal keys, different bytes.
    first = b'{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":5,"o":{"s":"A"}}}'
    second = b'{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":5,"o":{"s":"B"}}}'
    handover.old(first)
    handover.new(first)
    handover.new(second)
    assert not handover.new(b'{"result":null,"id":3}')  # not an event: delivered at once by the caller
    assert list(handover.drain()) == [second]
