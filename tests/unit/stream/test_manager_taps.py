"""Raw-frame taps of StreamManager, fed through the per-connection frame handler (no sockets).

The handler a connection gets from the manager is the seam under test: taps run before decoding, with the
connection's label and the manager clock's time, in registration order, and a failing tap is contained.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from binfut.clock import ManualClock
from binfut.config import Urls
from binfut.protocol.events import AggTrade, decode_message
from binfut.stream import StreamManager
from binfut.stream.manager import FrameTap

T0 = 1_700_000_000_000_000_000


def agg(i: int) -> bytes:
    return (
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":%d,"a":%d,"s":"BTCUSDT","p":"42000.1",'
        b'"q":"0.5","f":%d,"l":%d,"T":%d,"m":true}}' % (i, i, i, i, i)
    )


def make() -> tuple[StreamManager, ManualClock]:
    clock = ManualClock(T0)
    return StreamManager(Urls.local("http://127.0.0.1:9"), clock=clock), clock


def test_taps_get_label_clock_time_and_the_frame_before_any_consumer_decodes_it() -> None:
    # Arrange
    streams, clock = make()
    order: list[tuple[str, Any]] = []
    first = streams.on_frame(lambda label, recv, frame: order.append(("first", (label, recv, frame))))
    streams.on_event(lambda message: order.append(("consumer", message)))
    streams.on_frame(lambda label, recv, frame: order.append(("second", (label, recv, frame))))
    on_message = streams._frame_handler("market-0")

    # Act
    on_message(agg(1))
    clock.advance(5_000)
    on_message(agg(2))

    # Assert: every tap before the consumer, in registration order, with the raw bytes and clock time.
    assert [who for who, _ in order] == ["first", "second", "consumer"] * 2
    assert order[0][1] == ("market-0", T0, agg(1)) and order[3][1] == ("market-0", T0 + 5_000, agg(2))
    assert order[2][1] == decode_message(agg(1)) and isinstance(order[2][1].data, AggTrade)
    assert isinstance(first, FrameTap) and first.errors == 0


def test_a_raising_tap_is_counted_logged_once_per_connection_and_the_frame_still_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Arrange
    streams, _ = make()
    seen: list[Any] = []

    def broken(label: str, recv: int, frame: bytes) -> None:
        raise ValueError("tap bug")

    bad = streams.on_frame(broken)
    good: list[bytes] = []
    streams.on_frame(lambda label, recv, frame: good.append(frame))
    streams.on_event(seen.append)
    market, public = streams._frame_handler("market-0"), streams._frame_handler("public-0")

    # Act
    with caplog.at_level(logging.ERROR, logger="binfut.stream"):
        for i in range(3):
            market(agg(i))
        public(agg(9))

    # Assert
    assert len(seen) == 4 and len(good) == 4  # the later tap and the consumer are not starved
    assert bad.errors == 4 and streams.stats().tap_errors == 4
    logged = [r for r in caplog.records if "frame tap" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in logged] == ["market-0", "public-0"]
    assert all(r.exc_info is not None for r in logged)


def test_close_removes_a_tap_even_from_inside_its_own_call() -> None:
    # Arrange
    streams, _ = make()
    calls: list[bytes] = []
    later: list[bytes] = []
    holder: dict[str, FrameTap] = {}

    def once(label: str, recv: int, frame: bytes) -> None:
        calls.append(frame)
        holder["tap"].close()

    holder["tap"] = streams.on_frame(once)
    streams.on_frame(lambda label, recv, frame: later.append(frame))
    on_message = streams._frame_handler("market-0")

    # Act
    on_message(agg(1))
    on_message(agg(2))
    holder["tap"].close()  # idempotent

    # Assert: the frame in flight still reached the taps after it; then the closed tap is gone.
    assert calls == [agg(1)] and later == [agg(1), agg(2)]


def test_an_async_tap_is_refused() -> None:
    streams, _ = make()

    async def tap(label: str, recv: int, frame: bytes) -> None: ...

    with pytest.raises(TypeError, match="frame tap"):
        streams.on_frame(tap)


@pytest.mark.asyncio
async def test_a_closed_manager_calls_no_tap() -> None:
    # Arrange
    streams, _ = make()
    calls: list[bytes] = []
    on_message = streams._frame_handler("market-0")
    streams.on_frame(lambda label, recv, frame: calls.append(frame))

    # Act
    await streams.close()
    late = streams.on_frame(lambda label, recv, frame: calls.append(frame))
    on_message(agg(1))

    # Assert
    assert calls == [] and late.errors == 0


def test_the_decoder_hook_is_gone() -> None:
    with pytest.raises(TypeError):
        StreamManager(Urls.local("http://127.0.0.1:9"), decoder=object())  # type: ignore[call-arg]
