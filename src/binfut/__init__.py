"""binfut: the Binance USDⓈ-M Futures toolkit.

The short list most users need is re-exported here; every subpackage (``binfut.protocol``,
``binfut.book``, ``binfut.matching``, ``binfut.emulator``, ...) declares its own ``__all__``.
The local exchange and the streams are imported lazily (``binfut.EmulatorThread`` loads the
emulator on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binfut._lazy import lazy_exports
from binfut._version import __version__
from binfut.book import BookManager, BookSync, OrderBook
from binfut.client import AsyncClient, Client
from binfut.clock import ManualClock, SystemClock
from binfut.config import ClientConfig, Environment, RetryPolicy
from binfut.credentials import Credentials
from binfut.errors import (
    ApiError,
    BanInForce,
    BinfutError,
    ConfigError,
    ExecutionStatusUnknown,
    FilterViolation,
    IpBanned,
    OrderRejected,
    RateLimited,
    TransportError,
)

if TYPE_CHECKING:
    from binfut.emulator import EmulatorConfig, EmulatorThread, run_emulator, start_emulator
    from binfut.stream import LiveOrderBook, LiveOrderBookThread, StreamManager, UserDataStream, WsApiClient

__all__ = [
    "ApiError",
    "AsyncClient",
    "BanInForce",
    "BinfutError",
    "BookManager",
    "BookSync",
    "Client",
    "ClientConfig",
    "ConfigError",
    "Credentials",
    "EmulatorConfig",
    "EmulatorThread",
    "Environment",
    "ExecutionStatusUnknown",
    "FilterViolation",
    "IpBanned",
    "LiveOrderBook",
    "LiveOrderBookThread",
    "ManualClock",
    "OrderBook",
    "OrderRejected",
    "RateLimited",
    "RetryPolicy",
    "StreamManager",
    "SystemClock",
    "TransportError",
    "UserDataStream",
    "WsApiClient",
    "__version__",
    "run_emulator",
    "start_emulator",
]

_LAZY = {
    "EmulatorConfig": "binfut.emulator",
    "EmulatorThread": "binfut.emulator",
    "run_emulator": "binfut.emulator",
    "start_emulator": "binfut.emulator",
    "LiveOrderBook": "binfut.stream",
    "LiveOrderBookThread": "binfut.stream",
    "StreamManager": "binfut.stream",
    "UserDataStream": "binfut.stream",
    "WsApiClient": "binfut.stream",
}


__getattr__ = lazy_exports(__name__, _LAZY)
