"""An in-process Recorder on a StreamManager the application already runs, through the manager's frame tap.

The local exchange runs on a ManualClock shared by the manager and the recorder (time moves through the
stream tests' Driver), and drops the socket once: the recording must hold exactly what the consumer read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from binfut.data import Recorder, Store
from binfut.protocol.events import decode_message
from integration.stream.stream_support import Driver, drain, make_exchange, manager, market, seed_book, served


@pytest.mark.asyncio
async def test_a_recorder_tapping_a_running_manager_records_what_its_consumers_read(tmp_path: Path) -> None:
    # Arrange
    ex = make_exchange()
    seed_book(ex)
    driver = Driver(ex)
    store = Store(tmp_path)
    rec = Recorder(store, clock=driver.clock, flush_interval_s=0.2)
    rec.start()
    async with served(ex) as running, manager(running) as streams:
        events = streams.events()
        tap = streams.on_frame(rec.add_frame)  # before subscribing: the first frames are recorded too
        await streams.agg_trade("BTCUSDT")
        await streams.depth("BTCUSDT", "100ms")
        await driver.drive(streams.wait_ready())

        # Act: trade, lose the socket once, trade on; flush as the application's loop would.
        def trade() -> None:
            market(ex, "BTCUSDT", "BUY", "0.010")
            if rec.flush_due():
                rec.flush()

        await driver.until(lambda: rec.stats.frames >= 20, each=trade)
        ex.faults.add(kind="ws_disconnect", max_fires=1)
        await driver.until(lambda: streams.stats().reconnects == 1, each=trade)
        before = rec.stats.frames
        await driver.until(lambda: rec.stats.frames >= before + 20, each=trade)
        tap.close()
        received = drain(events)
    files = rec.close()

    # Assert: one raw row per message the consumer read, with its stream and the frame that decodes to it.
    raw = store.read("raw").sort_by([("recv_time", "ascending")])
    payloads = raw["payload"].to_pylist()
    assert files and raw.num_rows == len(received) == rec.stats.frames == rec.stats.frames_flushed
    assert sorted(raw["stream"].to_pylist()) == sorted(m.stream for m in received)
    assert sorted(map(repr, map(decode_message, payloads))) == sorted(map(repr, received))
    assert {"btcusdt@aggTrade", "btcusdt@depth@100ms"} <= set(raw["stream"].to_pylist())
    assert store.read("stream_agg_trade").num_rows == sum(m.stream == "btcusdt@aggTrade" for m in received)
    assert tap.errors == 0
