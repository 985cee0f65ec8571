"""Local exchanges for the data-store tests: generated history from 2024-01-01, and endpoint faults.

``history_config`` asks the emulator for ``days`` of history (``EmulatorConfig(history_days=...)``:
seeded klines of every kind, funding at 00:00 / 08:00 / 16:00 UTC and 5-minute statistics) that begins
at ``START_MS``, with the exchange's clock 30 s past its end. The tests count rows and requests, never
prices, so the generated values serve. :class:`Handlers` swaps endpoint handlers of a served exchange
on its loop thread, for outages, refusals and slow answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from binfut.emulator import EmulatorConfig, EmulatorThread
from binfut.emulator.exchange import Handler

MINUTE = 60_000
DAY = 86_400_000
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def history_config(symbols: Sequence[str], days: int, **overrides: Any) -> EmulatorConfig:
    """An exchange listing ``symbols`` with ``days`` of history from ``START_MS``, no live market, its
    clock 30 s after the history and a weight limit no test reaches unless it overrides it.
    ``history_days=0`` keeps the clock but generates nothing, for a test that builds its own market."""
    settings: dict[str, Any] = {"simulate": False, "weight_limit_1m": 100_000, "history_days": days, **overrides}
    return EmulatorConfig(symbols=tuple(symbols), start_time_ms=START_MS + days * DAY + 30_000, **settings)


class Handlers:
    """Replaces endpoint handlers of ``emulator``'s exchange on its loop thread; :meth:`restore` puts
    back the handlers it had when this object was made."""

    def __init__(self, emulator: EmulatorThread) -> None:
        self._emulator = emulator
        self._table = emulator.exchange.handlers
        self._originals = emulator.call(lambda: dict(self._table))

    def wrap(self, name: str, wrapper: Callable[[Handler], Handler]) -> None:
        """Serve ``name`` with ``wrapper(original handler)``."""
        handler = wrapper(self._originals[name])
        self._emulator.call(lambda: self._table.__setitem__(name, handler))

    def restore(self) -> None:
        self._emulator.call(lambda: self._table.update(self._originals))


def without_bars(missing_open_ms: set[int]) -> Callable[[Handler], Handler]:
    """A kline endpoint that omits the bars opening at ``missing_open_ms`` (a Binance outage)."""

    def wrapper(handler: Handler) -> Handler:
        def holes(exchange: Any, params: Any, account: Any) -> Any:
            return [row for row in handler(exchange, params, account) if row[0] not in missing_open_ms]

        return holes

    return wrapper


def slower(seconds: float) -> Callable[[Handler], Handler]:
    """An endpoint that takes ``seconds`` per answer (the server thread sleeps): a download then lasts
    long enough to be killed midway."""

    def wrapper(handler: Handler) -> Handler:
        def slow(exchange: Any, params: Any, account: Any) -> Any:
            time.sleep(seconds)
            return handler(exchange, params, account)

        return slow

    return wrapper
