"""The stream hub: who is subscribed to what, and the one place payloads are fanned out.

Rules kept here:
- every payload is encoded once per event, framed once per form (raw ``/ws`` and combined
  ``/stream``) and the same bytes are queued on every subscriber (a list append each);
- a feed is only computed while its stream has subscribers (first subscriber activates it, the last
  one leaving deactivates it), so an idle exchange pays nothing for streams nobody reads;
- a connection holds at most 1024 streams (Binance's limit);
- bus listeners only enqueue: the hub never awaits inside a publish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from binfut.emulator.ws.names import StreamSpec
from binfut.emulator.ws.session import Session, text_frame
from binfut.emulator.ws.timers import TimerHandle, Timers

if TYPE_CHECKING:
    from binfut.emulator.ws.depth import DepthFeed
    from binfut.emulator.ws.feeds import MarketFeeds
    from binfut.emulator.ws.user import UserStreams

__all__ = ["MAX_STREAMS", "WS_HUB_KEY", "Cadence", "StreamHub"]

MAX_STREAMS = 1024  # streams per connection
SWEEP_MS = 1000  # housekeeping period: listenKey expiry and connection faults
SWEEP_MIN_REAL_S = 0.05
FLUSH_MIN_REAL_S = 0.002  # real-time floor of cadence timers under a fast ScaledClock


class Cadence:
    """A flush at the next multiple of ``period_ms`` of the clock, armed only when there is data.

    ``mark()`` says "something changed"; the callback runs once at the end of the window, however
    many changes came in. Windows without changes cost nothing (no timer is armed).
    """

    __slots__ = ("_callback", "_handle", "_timers", "period_ms")

    def __init__(self, timers: Timers, period_ms: int, callback: Callable[[], None]) -> None:
        self._timers = timers
        self.period_ms = period_ms
        self._callback = callback
        self._handle: TimerHandle | None = None

    def mark(self) -> None:
        if self._handle is None:
            now = self._timers.now_ms()
            due = (now // self.period_ms + 1) * self.period_ms
            self._handle = self._timers.call_at(due, self._fire, min_real_s=FLUSH_MIN_REAL_S)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._callback()


class StreamHub:
    """Subscriptions and fan-out of every stream of one local exchange.

    Parameters
    ----------
    exchange : the LocalExchange (``bus``, ``clock``, ``faults``, ``listen_keys``, ...)
    timers : exchange-clock timers
    """

    def __init__(self, exchange: Any, timers: Timers) -> None:
        from binfut.emulator.ws.depth import DepthFeed
        from binfut.emulator.ws.feeds import MarketFeeds
        from binfut.emulator.ws.user import UserStreams

        self.exchange = exchange
        self.timers = timers
        self.sessions: set[Session] = set()
        self._subs: dict[str, dict[Session, None]] = {}
        self.specs: dict[str, StreamSpec] = {}
        self.depth: DepthFeed = DepthFeed(self)
        self.feeds: MarketFeeds = MarketFeeds(self)
        self.users: UserStreams = UserStreams(self)
        self._removers: list[Callable[[], object]] = []
        self._sweep: TimerHandle | None = None
        self.frames_sent = 0  # payload frames queued (one per subscriber)
        self.max_queue_bytes = 16 * 1024 * 1024  # backlog after which a connection counts as slow

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the exchange bus and to listenKey expiry (call on the server's event loop)."""
        self.timers.bind(asyncio.get_running_loop())
        self._removers.append(self.exchange.bus.add_market_listener(self._on_market))
        listen_keys = getattr(self.exchange, "listen_keys", None)
        if listen_keys is not None and hasattr(listen_keys, "on_expire"):
            self._removers.append(listen_keys.on_expire(self.users.on_expire))

    def stop(self) -> None:
        """Stop listening, cancel timers and close every connection."""
        for remove in self._removers:
            remove()
        self._removers.clear()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for session in list(self.sessions):
            session.close(1001, "server shutdown")
        self.depth.stop()
        self.feeds.stop()
        self.users.stop()

    def now_ms(self) -> int:
        """Server time of the exchange (its clock plus any injected skew)."""
        server_time = getattr(self.exchange, "server_time_ms", None)
        return int(server_time()) if callable(server_time) else self.timers.now_ms()

    # --- sessions and subscriptions ---------------------------------------------------------------

    def add_session(self, session: Session) -> None:
        self.sessions.add(session)
        if self._sweep is None:
            self._arm_sweep()

    def remove_session(self, session: Session) -> None:
        """Forget a session that ended (its subscriptions go with it)."""
        self.sessions.discard(session)
        self.unsubscribe(session, list(session.streams))

    def subscribe(self, session: Session, specs: Iterable[StreamSpec]) -> None:
        """Add streams to ``session`` (already validated; idempotent per name)."""
        for spec in specs:
            if session.closed:
                return
            if spec.name in session.streams:
                continue
            session.streams[spec.name] = spec
            subs = self._subs.get(spec.name)
            if subs is None:
                subs = self._subs[spec.name] = {}
                self.specs[spec.name] = spec
                subs[session] = None
                self._activate(spec, session)
            else:
                subs[session] = None
                if spec.kind == "user":
                    self.users.joined(spec, session)

    def unsubscribe(self, session: Session, names: Iterable[str]) -> None:
        for name in names:
            spec = session.streams.pop(name, None)
            if spec is None:
                continue
            subs = self._subs.get(name)
            if subs is None:
                continue
            subs.pop(session, None)
            if spec.kind == "user":
                self.users.left(spec, session)
            if not subs:
                del self._subs[name]
                del self.specs[name]
                self._deactivate(spec)

    def has(self, name: str) -> bool:
        """True when ``name`` has at least one subscriber."""
        return name in self._subs

    def subscribers(self, name: str) -> Iterable[Session]:
        return tuple(self._subs.get(name, ()))

    def _activate(self, spec: StreamSpec, session: Session) -> None:
        kind = spec.kind
        if kind in ("depth", "partialDepth", "bookTicker", "allBookTicker"):
            self.depth.activate(spec)
        elif kind == "user":
            self.users.activate(spec, session)
        else:
            self.feeds.activate(spec)

    def _deactivate(self, spec: StreamSpec) -> None:
        kind = spec.kind
        if kind in ("depth", "partialDepth", "bookTicker", "allBookTicker"):
            self.depth.deactivate(spec)
        elif kind == "user":
            self.users.deactivate(spec)
        else:
            self.feeds.deactivate(spec)

    # --- fan-out ----------------------------------------------------------------------------------

    def publish(self, name: str, payload: bytes) -> None:
        """Queue ``payload`` (one encoded event) on every subscriber of ``name``."""
        subs = self._subs.get(name)
        if not subs:
            return
        raw: bytes | None = None
        combined: bytes | None = None
        for session in tuple(subs):
            if session.combined:
                if combined is None:
                    combined = text_frame(b'{"stream":"' + name.encode() + b'","data":' + payload + b"}")
                session.push(combined)
            else:
                if raw is None:
                    raw = text_frame(payload)
                session.push(raw)
        self.frames_sent += len(subs)

    # --- bus --------------------------------------------------------------------------------------

    def _on_market(self, kind: str, symbol: str, payload: Any) -> None:
        if kind == "depth":
            self.depth.on_delta(payload)
        else:
            self.feeds.on_market(kind, symbol, payload)

    # --- housekeeping -----------------------------------------------------------------------------

    def _arm_sweep(self) -> None:
        self._sweep = self.timers.call_later(SWEEP_MS, self._run_sweep, min_real_s=SWEEP_MIN_REAL_S)

    def _run_sweep(self) -> None:
        """Once per simulated second: listenKey expiry and injected connection drops."""
        self._sweep = None
        now = self.now_ms()
        self.users.sweep(now)
        faults = getattr(self.exchange, "faults", None)
        if faults is not None and faults.has("ws_disconnect"):
            for session in list(self.sessions):
                if not session.closed and faults.should("ws_disconnect", now, session_label(session)):
                    session.abort("fault: ws_disconnect")
        if self.sessions:
            self._arm_sweep()


WS_HUB_KEY = web.AppKey("binfut.ws_hub", StreamHub)
"""The application's :class:`StreamHub`; the WebSocket handlers read it from ``request.app`` (never from a
closure) and cleanup removes it, so a stopped server keeps no hub (nor exchange) alive."""


def session_label(session: Session) -> str:
    """The fault-rule target of a connection: its kind and first stream (``ws:btcusdt@depth``)."""
    first = next(iter(session.streams), "")
    return f"{'stream' if session.combined else 'ws'}:{first}"
