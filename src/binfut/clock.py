"""Clocks: the only place binfut reads wall time.

Everything else receives a :class:`Clock` (or an explicit ``now_ms``), so a test or a backtest can
drive time with :class:`ManualClock` and the local exchange can run accelerated with
:class:`ScaledClock`. ``call_at`` callbacks on a ManualClock run inside :meth:`ManualClock.advance`,
in due-time order, which makes timers deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "ManualClock", "ScaledClock", "SystemClock"]


class Clock(Protocol):
    """What binfut needs to know about time."""

    def time_ns(self) -> int:
        """Epoch nanoseconds (wall time, possibly simulated)."""
        ...

    def monotonic_ns(self) -> int:
        """Monotonic nanoseconds for measuring intervals."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of this clock's time."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of this clock's time."""
        ...

    def time_ms(self) -> int:
        """Epoch milliseconds."""
        ...


class SystemClock:
    """Real time."""

    __slots__ = ()

    def time_ns(self) -> int:
        return time.time_ns()

    def time_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class ScaledClock:
    """Real time running ``speed`` times faster from ``start_ns`` (the local exchange's ``--speed``).

    Sleeping ``s`` simulated seconds takes ``s / speed`` real seconds.
    """

    __slots__ = ("_base_real", "_base_sim", "speed")

    def __init__(self, speed: float = 1.0, start_ns: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = float(speed)
        self._base_real = time.monotonic_ns()
        self._base_sim = time.time_ns() if start_ns is None else start_ns

    def time_ns(self) -> int:
        return self._base_sim + int((time.monotonic_ns() - self._base_real) * self.speed)

    def time_ms(self) -> int:
        return self.time_ns() // 1_000_000

    def monotonic_ns(self) -> int:
        return self.time_ns()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds / self.speed))

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self.speed})"


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it instantly.

    Parameters
    ----------
    start_ns : the initial epoch nanoseconds
    """

    __slots__ = ("_now", "_seq", "_timers")

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns
        self._seq = itertools.count()
        self._timers: list[tuple[int, int, Callable[[], object]]] = []

    def time_ns(self) -> int:
        return self._now

    def time_ms(self) -> int:
        return self._now // 1_000_000

    def monotonic_ns(self) -> int:
        return self._now

    def set(self, ns: int) -> None:
        """Jump to ``ns`` (forward only), running due callbacks."""
        if ns < self._now:
            raise ValueError("ManualClock cannot go backwards")
        self.advance(ns - self._now)

    def advance(self, ns: int) -> None:
        """Move forward by ``ns`` nanoseconds, running callbacks that come due, in order."""
        target = self._now + ns
        while self._timers and self._timers[0][0] <= target:
            due, _, callback = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            callback()
        self._now = target

    def call_at(self, ns: int, callback: Callable[[], object]) -> None:
        """Run ``callback`` when the clock reaches ``ns``."""
        heapq.heappush(self._timers, (ns, next(self._seq), callback))

    def sleep(self, seconds: float) -> None:
        self.advance(int(seconds * 1e9))

    async def asleep(self, seconds: float) -> None:
        self.advance(int(seconds * 1e9))
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"ManualClock(now_ns={self._now})"
