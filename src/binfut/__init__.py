"""binfut: the Binance USDⓈ-M Futures toolkit.

The short list most users need is re-exported here; every subpackage (``binfut.protocol``,
``binfut.book``, ``binfut.matching``, ``binfut.emulator``, ...) declares its own ``__all__``.
The local exchange is imported lazily (``binfut.EmulatorThread`` loads it on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    "ManualClock",
    "OrderBook",
    "OrderRejected",
    "RateLimited",
    "RetryPolicy",
    "SystemClock",
    "TransportError",
    "__version__",
    "run_emulator",
    "start_emulator",
]

_LAZY = {"EmulatorConfig", "EmulatorThread", "run_emulator", "start_emulator"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import binfut.emulator as emulator

        return getattr(emulator, name)
    raise AttributeError(f"module 'binfut' has no attribute {name!r}")
