"""One accepted WebSocket connection: pre-framed output queue, liveness and connection limits.

Rules kept here:
- outbound data is queued as complete, unmasked WebSocket frames (built once per event by the hub
  and shared between subscribers) and written in one ``transport.write`` per loop iteration, so
  fan-out costs a list append per subscriber;
- a client that does not keep up is disconnected once its backlog passes ``max_queue_bytes``: a
  slow consumer must never stall the exchange (Binance drops such connections too);
- the server pings every 3 minutes and drops a connection that sent no pong for 10 minutes; a
  connection lives at most 24 hours; all three durations are simulated time of the exchange clock;
- a client may send at most 10 messages per second (pings and pongs do not count).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web

from binfut.emulator.ws.timers import TimerHandle, Timers

__all__ = ["Session", "control_frame", "text_frame"]

_H1 = struct.Struct("!BB").pack
_H2 = struct.Struct("!BBH").pack
_H3 = struct.Struct("!BBQ").pack

PING_INTERVAL_MS = 3 * 60_000  # Binance: a ping frame every 3 minutes
PONG_TIMEOUT_MS = 10 * 60_000  # ... and a disconnect after 10 minutes without a pong
MAX_CONNECTION_MS = 24 * 3_600_000  # a single connection is only valid for 24 hours
MAX_INCOMING_PER_S = 10  # incoming messages per second before a disconnect
# Real-time floor of the ping period: a very fast ScaledClock would otherwise ping in a busy loop.
PING_MIN_REAL_S = 0.05
# Real time a client always gets to answer a ping (counted from when the loop runs again after the
# ping: however far a ManualClock jumps in one step, and however long its timers take to catch up).
PONG_GRACE_REAL_S = 0.5


def _frame(opcode_byte: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return _H1(opcode_byte, n) + payload
    if n < 65536:
        return _H2(opcode_byte, 126, n) + payload
    return _H3(opcode_byte, 127, n) + payload


def text_frame(payload: bytes) -> bytes:
    """A complete, unmasked server text frame (FIN set) carrying ``payload``."""
    return _frame(0x81, payload)


def control_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A ping (0x9) or pong (0xA) frame."""
    return _frame(0x80 | opcode, payload[:125])


PING_FRAME = control_frame(0x9)


class Session:
    """Output side and limits of one WebSocket connection.

    Parameters
    ----------
    ws : the prepared aiohttp WebSocketResponse
    request : its request (gives the transport and the protocol's flow control)
    timers : the exchange-clock timers
    combined : wrap stream payloads as ``{"stream":..,"data":..}`` (``/stream``) or not (``/ws``)
    max_queue_bytes : backlog after which the client counts as slow and is disconnected
    on_closed : called once when the session ends (drops its subscriptions)
    """

    __slots__ = (
        "_bytes",
        "_drain_task",
        "_flush_scheduled",
        "_incoming",
        "_loop",
        "_max_bytes",
        "_on_closed",
        "_out",
        "_protocol",
        "_tasks",
        "_timers",
        "_transport",
        "close_reason",
        "closed",
        "combined",
        "connected_ms",
        "event_filter",
        "last_pong_ms",
        "ping_unanswered_since",
        "streams",
        "timer_handles",
        "user",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        timers: Timers,
        *,
        combined: bool,
        max_queue_bytes: int = 16 * 1024 * 1024,
        on_closed: Callable[[Session], None] | None = None,
    ) -> None:
        self.ws = ws
        self._transport: asyncio.Transport | None = request.transport
        self._protocol: Any = request.protocol
        self._timers = timers
        self._loop = asyncio.get_running_loop()
        self.combined = combined
        self._max_bytes = max_queue_bytes
        self._on_closed = on_closed
        self._out: list[bytes] = []
        self._bytes = 0
        self._flush_scheduled = False
        self._drain_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._incoming: deque[int] = deque()
        self.connected_ms = timers.now_ms()
        self.last_pong_ms = self.connected_ms
        self.ping_unanswered_since: float | None = None  # loop time of the oldest unanswered ping
        self.streams: dict[str, Any] = {}  # canonical name -> StreamSpec, in subscription order
        self.user: dict[str, Any] = {}  # listenKey -> this session's event-type filter (None = all)
        self.event_filter: frozenset[str] | None = None  # ``events=`` of the connect URL
        self.timer_handles: list[TimerHandle] = []
        self.closed = False
        self.close_reason = ""

    # --- output -------------------------------------------------------------------------------

    def push(self, frame: bytes) -> None:
        """Queue one complete frame; written at the end of this loop iteration."""
        if self.closed:
            return
        self._out.append(frame)
        self._bytes += len(frame)
        if self._bytes > self._max_bytes:
            # The client reads slower than we produce: cut it off rather than buffer without bound.
            self.abort("slow consumer")
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def send_json_bytes(self, payload: bytes) -> None:
        """Queue a JSON document (a control reply, a WS-API response) as a text frame."""
        self.push(text_frame(payload))

    @property
    def backlog_bytes(self) -> int:
        return self._bytes

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed or not self._out:
            return
        transport = self._transport
        if transport is None or transport.is_closing() or self.ws.closed:
            # Nothing may follow a close frame (aiohttp answers a client's close by itself).
            self._finish("connection lost")
            return
        if getattr(self._protocol, "writing_paused", False):
            # The socket buffer is full: wait for the transport to drain, then write everything.
            if self._drain_task is None:
                self._drain_task = self._spawn(self._drain())
            return
        out = self._out
        self._out = []
        self._bytes = 0
        transport.write(out[0] if len(out) == 1 else b"".join(out))

    async def _drain(self) -> None:
        try:
            helper = getattr(self._protocol, "_drain_helper", None)
            while getattr(self._protocol, "writing_paused", False) and not self.closed:
                if helper is not None:
                    await helper()
                else:  # pragma: no cover - aiohttp without the helper
                    await asyncio.sleep(0.001)
        except (ConnectionError, RuntimeError):
            self._finish("connection lost")
            return
        finally:
            self._drain_task = None
        self._flush()

    # --- input limits and liveness --------------------------------------------------------------

    def note_incoming(self) -> bool:
        """Count one incoming message; False when the client passed 10 messages per second."""
        now = self._timers.now_ms()
        window = self._incoming
        window.append(now)
        while window and window[0] <= now - 1000:
            window.popleft()
        return len(window) <= MAX_INCOMING_PER_S

    def on_pong(self) -> None:
        self.last_pong_ms = self._timers.now_ms()
        self.ping_unanswered_since = None

    def on_ping(self, payload: bytes) -> None:
        """Answer a client ping (Binance answers pings with a pong carrying the same payload)."""
        self.push(control_frame(0xA, payload))

    def start_limits(self, *, max_age_ms: int = MAX_CONNECTION_MS, ping_interval_ms: int = PING_INTERVAL_MS) -> None:
        """Arm the ping timer and the connection-lifetime timer."""
        timers = self._timers
        self.timer_handles.append(timers.call_at(self.connected_ms + max_age_ms, self._expire_lifetime))
        period = timers.effective_period_ms(ping_interval_ms, PING_MIN_REAL_S)
        # When the real-time floor stretches the ping period, stretch the pong timeout with it so
        # an accelerated clock does not drop clients that do answer every ping.
        timeout = max(PONG_TIMEOUT_MS, period * PONG_TIMEOUT_MS // PING_INTERVAL_MS)
        self._arm_ping(period, timeout)

    def _arm_ping(self, period_ms: int, timeout_ms: int) -> None:
        def tick() -> None:
            if self.closed:
                return
            unanswered = self.ping_unanswered_since
            if (
                self._timers.now_ms() - self.last_pong_ms >= timeout_ms
                and unanswered is not None
                and self._loop.time() - unanswered >= PONG_GRACE_REAL_S
            ):
                self.close(WSCloseCode.POLICY_VIOLATION, "pong timeout")
                return
            if unanswered is None:
                # The grace starts when the loop runs again: a manual clock advanced by hours fires this
                # tick many times in one go, and none of those pings is even written before it returns.
                self.ping_unanswered_since = math.inf
                self._loop.call_soon(self._ping_out)
            self.push(PING_FRAME)
            self._arm_ping(period_ms, timeout_ms)

        self.timer_handles.append(self._timers.call_later(period_ms, tick, min_real_s=PING_MIN_REAL_S))
        if len(self.timer_handles) > 8:  # drop fired handles so a long-lived session stays small
            self.timer_handles = [h for h in self.timer_handles if not h.cancelled and h._callback is not None]

    def _ping_out(self) -> None:
        if self.ping_unanswered_since == math.inf:
            self.ping_unanswered_since = self._loop.time()

    def _expire_lifetime(self) -> None:
        self.close(WSCloseCode.OK, "24 hour connection limit")

    # --- ending ---------------------------------------------------------------------------------

    def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Flush what is queued, then send a close frame (idempotent, returns at once)."""
        if self.closed:
            return
        self._flush()
        self._finish(reason)
        self._spawn(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=reason.encode()[:120])

    def abort(self, reason: str) -> None:
        """Drop the TCP connection at once (slow consumer, injected fault)."""
        if self.closed:
            return
        self._finish(reason)
        if self._transport is not None:
            self._transport.abort()

    async def wait_closed(self, timeout: float = 6.0) -> None:
        """Wait (bounded) for a close handshake this session started."""
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def finish(self, reason: str) -> None:
        """Mark the session ended (no more output) and run ``on_closed`` once."""
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self._out = []
        self._bytes = 0
        for handle in self.timer_handles:
            handle.cancel()
        self.timer_handles = []
        if self._on_closed is not None:
            callback, self._on_closed = self._on_closed, None
            callback(self)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __repr__(self) -> str:
        return f"Session(streams={len(self.streams)}, combined={self.combined}, closed={self.closed})"
