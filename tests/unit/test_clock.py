"""The clocks (binfut.clock): ManualClock's timers and bounds, ScaledClock's checks.

These run on the source and, with ``BINFUT_ENGINE_BUILD=compiled``, on the mypyc build, which
compiles the clocks with the engine (the venue reads the time once per command).
"""

from __future__ import annotations

import asyncio

import pytest

from binfut.clock import ManualClock, ScaledClock, SystemClock


def test_manual_clock_runs_due_callbacks_in_time_order_at_their_own_time() -> None:
    # Arrange: three timers, two due at the same instant (kept in the order they were set)
    clock = ManualClock(start_ns=1_000)
    seen: list[tuple[str, int]] = []
    clock.call_at(3_000, lambda: seen.append(("c", clock.time_ns())))
    clock.call_at(2_000, lambda: seen.append(("a", clock.time_ns())))
    clock.call_at(2_000, lambda: seen.append(("b", clock.time_ns())))
    # Act: advance past two of them
    clock.advance(1_500)
    # Assert: each callback saw the clock at its due time; the third is still pending
    assert seen == [("a", 2_000), ("b", 2_000)]
    assert clock.time_ns() == 2_500
    clock.set(3_000)
    assert seen[-1] == ("c", 3_000)


def test_manual_clock_reports_milliseconds_floored_and_refuses_to_go_back() -> None:
    clock = ManualClock(start_ns=1_700_000_000_123_999_999)
    assert clock.time_ms() == 1_700_000_000_123
    assert clock.monotonic_ns() == clock.time_ns()
    with pytest.raises(ValueError, match="backwards"):
        clock.set(clock.time_ns() - 1)
    clock.sleep(0.5)  # sleeping advances it instantly
    assert clock.time_ns() == 1_700_000_000_623_999_999


def test_manual_clock_asleep_advances_and_yields() -> None:
    clock = ManualClock(start_ns=0)
    asyncio.run(clock.asleep(2))
    assert clock.time_ns() == 2_000_000_000


def test_scaled_clock_checks_its_speed_and_moves_forward() -> None:
    with pytest.raises(ValueError, match="speed"):
        ScaledClock(speed=0)
    clock = ScaledClock(speed=1000, start_ns=5_000_000_000)
    assert clock.speed == 1000.0 and repr(clock) == "ScaledClock(speed=1000.0)"
    before = clock.time_ns()
    assert before >= 5_000_000_000
    clock.sleep(1.0)  # one simulated second: a millisecond of real time
    assert clock.time_ns() - before >= 1_000_000_000
    assert clock.time_ms() >= before // 1_000_000 + 1_000


def test_system_clock_agrees_with_itself() -> None:
    clock = SystemClock()
    ns = clock.time_ns()
    assert ns // 1_000_000 <= clock.time_ms() and repr(clock) == "SystemClock()"
