"""LoopThread, the event-loop thread under every blocking stream facade: calls, refusals, a bounded stop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from binfut.stream._loop import LoopThread


def _alive(name: str) -> bool:
    return any(t.name == name for t in threading.enumerate())


def test_loop_thread_runs_calls_refuses_its_own_thread_and_ends() -> None:
    runner = LoopThread("binfut-test-loop", "Owner")
    with pytest.raises(RuntimeError, match="Owner is not started"):
        runner.call(asyncio.sleep(0), 1)
    runner.start(5)

    async def whoami() -> str:
        return threading.current_thread().name

    async def nested() -> None:
        runner.call(asyncio.sleep(0), 1)  # would wait on the loop it blocks

    assert runner.call(whoami(), 5) == "binfut-test-loop"
    with pytest.raises(RuntimeError, match="own loop thread"):
        runner.call(nested(), 5)
    with pytest.raises(TimeoutError):
        runner.call(asyncio.sleep(10), 0.05)  # cancelled on the loop, not left running
    assert runner.stop(5) and not runner.running
    assert not [t for t in threading.enumerate() if t.name == "binfut-test-loop"]
    assert runner.stop(5)  # idempotent
    assert runner.call_soon(print) is False


def test_stop_runs_the_orderly_close_on_the_loop_first() -> None:
    runner = LoopThread("binfut-test-close", "Owner")
    runner.start(5)
    seen: list[str] = []

    async def closing() -> None:
        await asyncio.sleep(0)
        seen.append(threading.current_thread().name)

    assert runner.stop(5, closing())

    assert seen == ["binfut-test-close"] and not _alive("binfut-test-close")


@pytest.mark.parametrize("how", ["hangs", "fails"])
def test_stop_ends_the_thread_in_time_when_the_close_hangs_or_fails(how: str, caplog: pytest.LogCaptureFixture) -> None:
    runner = LoopThread("binfut-test-stuck", "Owner")
    runner.start(5)
    cancelled = threading.Event()

    async def closing() -> None:
        if how == "fails":
            raise OSError("socket gone")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    began = time.monotonic()
    assert runner.stop(0.4, closing())

    assert time.monotonic() - began < 1.0 and not _alive("binfut-test-stuck")
    assert "Owner: closing failed" in caplog.text
    assert cancelled.is_set() == (how == "hangs")  # cancelled on the loop, not left running


def test_stop_before_start_discards_the_close() -> None:
    runner = LoopThread("binfut-test-idle", "Owner")
    ran: list[bool] = []

    async def closing() -> None:
        ran.append(True)

    assert runner.stop(1, closing())  # no "never awaited" warning (filterwarnings = error)

    assert ran == []
