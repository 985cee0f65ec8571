"""Running the local exchange: in-process (asyncio), in a thread (sync tests), or as a command.

Rules kept here: the server binds ``config.host`` (127.0.0.1 by default) and port 0 picks a free
port, read back from the bound socket; URLs are ``http://HOST:PORT`` (REST) and ``ws://HOST:PORT``
(WebSocket; streams under ``/ws``, ``/stream``, ``/public``, ``/market``, ``/private``, the WebSocket
API at ``/ws-fapi/v1``). Stopping tears down the aiohttp runner, which ends the clock task and drops
the application's hold on the exchange (only the caller's RunningEmulator / EmulatorThread keeps it).

``binfut exchange serve`` argv (handled by :func:`serve_main`)::

    --host 127.0.0.1 --port PORT --api-key KEY --api-secret SECRET_OR_PEM_PUBLIC_KEY_FILE
    [--balance USDT] [--seed N] [--speed X] [--faults FILE] [--faults-log FILE]
    [--symbols BTCUSDT,ETHUSDT] [--no-sim] [--replay FILE] [--history-days N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Generator, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from binfut.clock import Clock
from binfut.emulator.app import create_app
from binfut.emulator.config import EmulatorConfig
from binfut.emulator.exchange import LocalExchange, build_exchange

__all__ = ["EmulatorThread", "RunningEmulator", "run_emulator", "serve_main", "start_emulator"]

T = TypeVar("T")


class RunningEmulator:
    """A local exchange serving on a socket. ``async with`` stops it on exit.

    Attributes
    ----------
    exchange : the :class:`LocalExchange` behind the server
    host, port : where it listens
    rest_url : ``http://HOST:PORT``
    ws_url : ``ws://HOST:PORT``
    """

    def __init__(self, exchange: LocalExchange, runner: web.AppRunner, host: str, port: int) -> None:
        self.exchange = exchange
        self.runner = runner
        self.host = host
        self.port = port
        self.rest_url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        await self.runner.cleanup()

    async def __aenter__(self) -> RunningEmulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"RunningEmulator({self.rest_url})"


class _Start:
    """What :func:`start_emulator` returns: await it, or use it with ``async with``."""

    def __init__(self, config: EmulatorConfig | None, exchange: LocalExchange | None, clock: Clock | None) -> None:
        self._args = (config, exchange, clock)
        self._running: RunningEmulator | None = None

    def __await__(self) -> Generator[Any, None, RunningEmulator]:
        return _start(*self._args).__await__()

    async def __aenter__(self) -> RunningEmulator:
        self._running = await _start(*self._args)
        return self._running

    async def __aexit__(self, *exc: object) -> None:
        if self._running is not None:
            await self._running.stop()


def start_emulator(
    config: EmulatorConfig | None = None, *, exchange: LocalExchange | None = None, clock: Clock | None = None
) -> _Start:
    """Start a local exchange in the running event loop.

    ``await start_emulator(cfg)`` gives a :class:`RunningEmulator`; ``async with start_emulator(cfg)
    as emu:`` also stops it at the end.

    Parameters
    ----------
    config : settings (default :class:`EmulatorConfig`); ignored when ``exchange`` is given
    exchange : an exchange built beforehand (e.g. with a ManualClock)
    clock : the clock of a new exchange (default: ScaledClock(config.speed))
    """
    return _Start(config, exchange, clock)


async def _start(config: EmulatorConfig | None, exchange: LocalExchange | None, clock: Clock | None) -> RunningEmulator:
    if exchange is None:
        exchange = build_exchange(config or EmulatorConfig(), clock=clock)
    cfg = exchange.config
    runner = web.AppRunner(create_app(exchange), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()  # e.g. the port is taken: stop the clock task, release the exchange
        raise
    port = cfg.port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            port = int(address[1])
            break
    return RunningEmulator(exchange, runner, cfg.host, port)


class EmulatorThread:
    """A local exchange in a background thread with its own event loop (for synchronous tests).

    Use as a context manager, or :meth:`start` / :meth:`stop`. :meth:`call` runs a function on the
    server's loop thread, the safe way to read or change exchange state while it serves.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, exchange: LocalExchange | None = None, clock: Clock | None = None
    ) -> None:
        self._start = (config, exchange, clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.running: RunningEmulator | None = None

    @property
    def rest_url(self) -> str:
        return self._need().rest_url

    @property
    def ws_url(self) -> str:
        return self._need().ws_url

    @property
    def exchange(self) -> LocalExchange:
        return self._need().exchange

    def _need(self) -> RunningEmulator:
        if self.running is None:
            raise RuntimeError("EmulatorThread is not running; call start() first")
        return self.running

    def start(self, timeout: float = 30.0) -> EmulatorThread:
        """Start the thread and wait until the server listens."""
        self._thread = threading.Thread(target=self._main, name="binfut-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the emulator did not start in time")
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        try:
            self.running = await _start(*self._start)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self.running.stop()

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn()`` on the server's loop thread and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("EmulatorThread is not running")

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread (idempotent)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_emulator(
    config: EmulatorConfig | None = None, *, on_ready: Callable[[RunningEmulator], None] | None = None
) -> None:
    """Serve a local exchange until interrupted (Ctrl-C / SIGTERM); blocks.

    Parameters
    ----------
    config : settings
    on_ready : called once the server listens (``serve_main`` prints the URLs there)
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with start_emulator(config) as emu:
            if on_ready is not None:
                on_ready(emu)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def parse_serve_args(argv: Sequence[str] | None = None) -> EmulatorConfig:
    """The :class:`EmulatorConfig` of ``binfut exchange serve`` arguments (see the module docstring)."""
    p = argparse.ArgumentParser(prog="binfut exchange serve", description="Run the local Binance USD-M exchange.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--api-key", action="append", default=[], help="API key (repeatable, paired with --api-secret)")
    p.add_argument(
        "--api-secret",
        action="append",
        default=[],
        help="HMAC secret, or a file holding a PEM public key (RSA / Ed25519)",
    )
    p.add_argument("--balance", default="100000", help="initial USDT balance per API key")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--faults", default=None, help="YAML or JSON fault rules")
    p.add_argument("--faults-log", default=None, help="append fired faults to this JSON-lines file")
    p.add_argument("--symbols", default=None, help="comma-separated symbols to list")
    p.add_argument("--no-sim", action="store_true", help="no synthetic market (order-vs-order only)")
    p.add_argument("--replay", default=None, help="replay a recorded data file instead of the synthetic market")
    p.add_argument("--history-days", type=float, default=0.0, help="days of generated market history before the start")
    args = p.parse_args(list(argv) if argv is not None else None)
    if len(args.api_key) != len(args.api_secret):
        p.error("give one --api-secret per --api-key")
    keys: dict[str, str] = {}
    for key, secret in zip(args.api_key, args.api_secret, strict=True):
        path = Path(secret)
        if "-----BEGIN" not in secret and len(secret) < 4096 and path.is_file():
            secret = path.read_text()
        keys[key] = secret
    extra: dict[str, Any] = {}
    if args.symbols:
        extra["symbols"] = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        api_keys=keys,
        balance=Decimal(args.balance),
        seed=args.seed,
        speed=args.speed,
        faults_file=args.faults,
        faults_log=args.faults_log,
        simulate=not args.no_sim and args.replay is None,
        replay_file=args.replay,
        history_days=args.history_days,
        **extra,
    )


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Body of ``binfut exchange serve``: print the REST and WebSocket base URLs, serve until stopped.

    Returns
    -------
    int
        The process exit status (0).
    """
    config = parse_serve_args(argv)

    def ready(emu: RunningEmulator) -> None:
        print(f"REST      {emu.rest_url}", flush=True)
        print(f"WebSocket {emu.ws_url}", flush=True)

    run_emulator(config, on_ready=ready)
    return 0
