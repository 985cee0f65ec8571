"""The local exchange: a Binance USD-M futures server (REST + WebSocket) on loopback, for offline work.

``start_emulator(EmulatorConfig(...))`` (asyncio), ``EmulatorThread`` (synchronous tests) and
``run_emulator`` / ``serve_main`` (the ``binfut exchange serve`` command) run a :class:`LocalExchange`:
one matching engine (:mod:`binfut.matching`), a seeded synthetic market or a replayed recording,
Binance-style authentication, rate limits and fault injection.
"""

from binfut.emulator.accounts import AccountRegistry, ApiAccount, ListenKeyRegistry
from binfut.emulator.app import create_app
from binfut.emulator.config import EmulatorConfig, GeneratedKey, generate_api_key
from binfut.emulator.exchange import LocalExchange, build_exchange
from binfut.emulator.faults import FaultInjector, FaultKind, FaultRecord, FaultRule
from binfut.emulator.marketdata import MarketData, MarkPriceUpdate
from binfut.emulator.server import EmulatorThread, RunningEmulator, run_emulator, serve_main, start_emulator
from binfut.emulator.simulator import MarketSimulator

__all__ = [
    "AccountRegistry",
    "ApiAccount",
    "EmulatorConfig",
    "EmulatorThread",
    "FaultInjector",
    "FaultKind",
    "FaultRecord",
    "FaultRule",
    "GeneratedKey",
    "ListenKeyRegistry",
    "LocalExchange",
    "MarkPriceUpdate",
    "MarketData",
    "MarketSimulator",
    "RunningEmulator",
    "build_exchange",
    "create_app",
    "generate_api_key",
    "run_emulator",
    "serve_main",
    "start_emulator",
]
