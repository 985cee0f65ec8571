"""Timers of the WebSocket side, driven by the exchange clock (never by wall time).

A :class:`ManualClock` (tests, backtests) runs callbacks through its own ``call_at`` inside
``advance``; any other clock (``SystemClock``, ``ScaledClock``) is mapped to the event loop's
``call_later`` with the delay divided by the clock's ``speed``. A ManualClock advanced from another
thread (a test driving an ``EmulatorThread``) hands its due callbacks to the server loop's thread. Callers may give a real-time floor
(``min_real_s``) so that a very fast ``ScaledClock`` cannot turn a periodic timer into a busy loop;
a floored timer simply fires later than due and the caller handles everything that came due.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TimerHandle", "Timers"]


class TimerHandle:
    """A scheduled callback; :meth:`cancel` makes it a no-op."""

    __slots__ = ("_callback", "_loop_handle", "cancelled", "when_ms")

    def __init__(self, when_ms: int, callback: Callable[[], object]) -> None:
        self.when_ms = when_ms
        self._callback: Callable[[], object] | None = callback
        self._loop_handle: asyncio.TimerHandle | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self._callback = None
        if self._loop_handle is not None:
            self._loop_handle.cancel()
            self._loop_handle = None

    def _fire(self) -> None:
        callback = self._callback
        if callback is None:
            return
        self._callback = None
        self._loop_handle = None
        callback()


class Timers:
    """Schedules callbacks at simulated epoch milliseconds of ``clock``.

    Parameters
    ----------
    clock : the exchange clock (``time_ns``; optionally ``call_at`` and ``speed``)
    """

    __slots__ = ("_clock", "_loop", "_manual", "_thread", "speed")

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        # A clock with its own timer queue (ManualClock) only moves when told to: its callbacks
        # must come from that queue, a loop timer would fire at the wrong simulated time.
        self._manual = callable(getattr(clock, "call_at", None))
        self.speed = float(getattr(clock, "speed", 1.0)) or 1.0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the server's loop (callbacks from other threads are handed to it)."""
        self._loop = loop
        self._thread = threading.get_ident()

    @property
    def manual(self) -> bool:
        """True when time only moves through the clock's own ``advance`` (ManualClock)."""
        return self._manual

    def now_ms(self) -> int:
        return int(self._clock.time_ns()) // 1_000_000

    def call_at(self, when_ms: int, callback: Callable[[], object], *, min_real_s: float = 0.0) -> TimerHandle:
        """Run ``callback`` once the clock reaches ``when_ms`` (at least ``min_real_s`` real seconds
        from now on a real-time clock)."""
        handle = TimerHandle(when_ms, callback)
        if self._manual:
            self._clock.call_at(when_ms * 1_000_000, lambda: self._fire_manual(handle))
        else:
            delay = max((when_ms - self.now_ms()) / 1000.0 / self.speed, min_real_s, 0.0)
            # The running loop (the server's): timers are only armed from its callbacks and handlers.
            handle._loop_handle = asyncio.get_running_loop().call_later(delay, handle._fire)
        return handle

    def _fire_manual(self, handle: TimerHandle) -> None:
        loop = self._loop
        if loop is not None and self._thread != threading.get_ident() and not loop.is_closed():
            loop.call_soon_threadsafe(handle._fire)
        else:
            handle._fire()

    def call_later(self, delay_ms: int, callback: Callable[[], object], *, min_real_s: float = 0.0) -> TimerHandle:
        """Run ``callback`` ``delay_ms`` simulated milliseconds from now."""
        return self.call_at(self.now_ms() + delay_ms, callback, min_real_s=min_real_s)

    def effective_period_ms(self, period_ms: int, min_real_s: float) -> int:
        """The simulated period a floored periodic timer really has on this clock."""
        if self._manual:
            return period_ms
        return max(period_ms, int(min_real_s * self.speed * 1000))
