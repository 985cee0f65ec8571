"""One WebSocket connection to a Binance stream endpoint that never dies silently (the seam other modules use).

Owns one logical connection on aiohttp: connect, read loop, pings, the silence watchdog, reconnects with
exponential backoff and jitter, resubscription, live SUBSCRIBE / UNSUBSCRIBE, and the rotation before
Binance's 24-hour limit; its API is kept stable. Rules kept here:

- every change of state is a :class:`LifecycleEvent` handed to ``on_lifecycle`` and logged;
- silent for ``watchdog_s``: a ping; silent ``probe_s`` more: reconnect (backpressure counts as alive);
- rotation switches sockets only once :class:`~binfut.protocol.events.Handover` proves every stream
  continuous, so no event is lost or delivered twice;
- schedule times (watchdog, backoff, rotation, pacing) are ``Clock`` time (a ManualClock's waits end when
  it is advanced); network timeouts are real time; jitter comes from the injected ``random.Random``.
(Slightly over 800 lines: supervisor, rotation and reader share one socket's state and stay together.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from binfut.clock import Clock, SystemClock
from binfut.errors import LocalProtocolError, SubscriptionError, WebSocketClosed
from binfut.protocol.events import Handover
from binfut.protocol.streams import (
    STATE_TRANSITIONS,
    ConnectionHealth,
    ConnectionState,
    LifecycleEvent,
    LifecycleKind,
    MessagePacer,
    StreamConfig,
    batched,
    control_frame,
    normalize_stream,
    parse_control_reply,
    split_url_streams,
)

__all__ = [
    "STATE_TRANSITIONS",
    "ConnectionHealth",
    "ConnectionState",
    "LifecycleEvent",
    "LifecycleHandler",
    "LifecycleKind",
    "MessageHandler",
    "OpenHook",
    "StreamConfig",
    "StreamConnection",
    "SubscriptionError",
    "clock_sleep",
    "sleep_until",
]

MessageHandler = Callable[[bytes], Awaitable[Any] | None]
"""Receives every data frame (bytes); may return an awaitable, and the reader waits for it (backpressure)."""

LifecycleHandler = Callable[["LifecycleEvent"], None]
"""Receives every :class:`LifecycleEvent`; must not block."""

OpenHook = Callable[[Callable[[str | bytes], Awaitable[None]]], Awaitable[None]]
"""Runs after each (re)connect, before the socket goes live; gets a paced ``send`` for that socket."""

_log = logging.getLogger("binfut.stream")
_C = ConnectionState
_LEGAL = frozenset((a, b) for a, b, _ in STATE_TRANSITIONS)

# Real time a probe ping always gets, however far a ManualClock jumps in one step.
_PROBE_MIN_REAL_S = 0.5
_STREAM_PREFIX = b'{"stream"'


# ---------------------------------------------------------------------------------------------- clock waits


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def sleep_until(clock: Clock, deadline_ns: int) -> None:
    """Wait until ``clock.monotonic_ns()`` reaches ``deadline_ns``.

    A clock with ``call_at`` (:class:`~binfut.clock.ManualClock`) only moves when advanced, so the wait
    ends on its timer (from whichever thread advances it); any other clock is slept with ``asleep``.
    """
    if clock.monotonic_ns() >= deadline_ns:
        return
    call_at = getattr(clock, "call_at", None)
    if callable(call_at):
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop may be gone when a test advances late
                loop.call_soon_threadsafe(_resolve, fut)

        call_at(deadline_ns, wake)
        await fut
        return
    while (left := deadline_ns - clock.monotonic_ns()) > 0:
        await clock.asleep(left / 1e9)


async def clock_sleep(clock: Clock, seconds: float) -> None:
    """Sleep ``seconds`` of ``clock`` time (see :func:`sleep_until`)."""
    await sleep_until(clock, clock.monotonic_ns() + int(seconds * 1e9))


# ---------------------------------------------------------------------------------------------- one socket


def _drop(frame: bytes) -> None:
    return None


@dataclass(slots=True, eq=False)
class _Socket:
    """One aiohttp WebSocket of a :class:`StreamConnection` and its reader."""

    ws: aiohttp.ClientWebSocketResponse[bool]
    sink: MessageHandler
    opened_ns: int
    pacer: MessagePacer
    rx: int = 0  # data frames
    ctl: int = 0  # pings, pongs, control replies
    seen: int = -1  # rx + ctl at the last watchdog observation
    paused: bool = False  # the reader waits for a consumer (backpressure)
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    end_reason: str = ""
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closing: bool = False
    rotate_at: int | None = None  # clock time the socket is due for rotation


# ---------------------------------------------------------------------------------------------- the connection


class StreamConnection:
    """A reconnecting, self-rotating WebSocket connection to one Binance stream endpoint.

    Parameters
    ----------
    url : str
        The endpoint base, e.g. ``wss://fstream.binance.com/market``; with ``combined=True`` the
        connection opens ``<url>/stream?streams=...``, otherwise it opens ``url`` as given (a user-data
        ``.../private/ws?listenKey=...`` or the WebSocket API). Settable between connects (:attr:`url`).
    on_message : MessageHandler
        Gets each data frame as bytes, in order, on the reader task. When it returns an awaitable the
        reader waits for it before reading on (backpressure). Control replies to this connection's own
        requests are consumed; every other frame (WebSocket-API answers included) is passed on.
    streams : iterable of str
        Streams to subscribe on every (re)connect; more can be added live with :meth:`subscribe`.
    combined : bool
        Use the combined-stream URL (``{"stream","data"}`` frames).
    on_lifecycle : LifecycleHandler, optional
        Gets every :class:`LifecycleEvent`.
    on_open : OpenHook, optional
        Runs after each (re)connect before the socket goes live (e.g. a WebSocket-API logon).
    config : StreamConfig, optional
    clock : Clock, optional
        Schedule time (watchdog, backoff, rotation, pacing); default :class:`~binfut.clock.SystemClock`.
    rng : random.Random, optional
        Backoff jitter.
    session : aiohttp.ClientSession, optional
        Shared session; one is created (and closed) by the connection otherwise.
    label : str
        Name in logs, lifecycle events and health.
    logger : logging.Logger, optional

    Notes
    -----
    Lifecycle: ``await start()`` (returns at once; :meth:`wait_open` waits for the socket), then
    ``await close()``; or ``async with``. All methods must be called on the loop that started it.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
    """

    def __init__(
        self,
        url: str,
        *,
        on_message: MessageHandler,
        streams: Iterable[str] = (),
        combined: bool = True,
        on_lifecycle: LifecycleHandler | None = None,
        on_open: OpenHook | None = None,
        config: StreamConfig | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        session: aiohttp.ClientSession | None = None,
        label: str = "stream",
        logger: logging.Logger | None = None,
    ) -> None:
        self.url = url
        self.label = label
        self.config = config or StreamConfig()
        self._on_message = on_message
        self._on_lifecycle = on_lifecycle
        self._on_open = on_open
        self._combined = combined
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._session = session
        self._own_session = session is None
        self._log = logger or _log
        self._streams: dict[str, None] = {normalize_stream(s): None for s in streams}
        self._state = ConnectionState.IDLE
        self._sock: _Socket | None = None
        self._partner: _Socket | None = None  # the new socket during a rotation
        self._lock = asyncio.Lock()  # subscription changes vs. (re)connect and rotation
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._kick: asyncio.Future[str] | None = None
        self._closing = False
        self._opened = asyncio.Event()
        self._seen_ns: int | None = None
        self._rx_done = 0  # data frames of sockets already gone
        self._background: set[asyncio.Task[Any]] = set()
        self.reconnects = 0
        self.rotations = 0

    # ------------------------------------------------------------------ reading

    @property
    def state(self) -> ConnectionState:
        """The current :class:`ConnectionState`."""
        return self._state

    @property
    def streams(self) -> list[str]:
        """The streams this connection keeps subscribed, in subscription order."""
        return list(self._streams)

    @property
    def messages(self) -> int:
        """Data frames received over the connection's life."""
        current = self._sock.rx if self._sock is not None else 0
        return self._rx_done + current

    def health(self) -> ConnectionHealth:
        """A :class:`ConnectionHealth` snapshot."""
        now = self._clock.monotonic_ns()
        sock = self._sock
        if sock is not None:
            self._observe(sock, now)
        open_for = (now - sock.opened_ns) / 1e9 if sock is not None and self._state is _C.OPEN else None
        age = (now - self._seen_ns) / 1e9 if self._seen_ns is not None else None
        return ConnectionHealth(
            label=self.label,
            url=self.url,
            state=self._state,
            streams=len(self._streams),
            messages=self.messages,
            reconnects=self.reconnects,
            rotations=self.rotations,
            last_message_age_s=age,
            connected_for_s=open_for,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        if self._task is not None:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name=f"binfut-stream-{self.label}")

    async def wait_open(self, timeout: float | None = None) -> None:
        """Wait (real-time ``timeout``) until the connection is open.

        Raises
        ------
        TimeoutError
            If it did not open in time.
        """
        await asyncio.wait_for(self._opened.wait(), timeout)

    async def reconnect(self, reason: str = "reconnect requested") -> None:
        """Drop the current socket now; the connection reconnects and resubscribes (e.g. a new listenKey)."""
        self._poke(reason)

    async def close(self) -> None:
        """Close the socket(s) and stop reconnecting (idempotent)."""
        if self._closing:
            if self._task is not None:
                await asyncio.wait({self._task}, timeout=self.config.close_timeout_s * 2)
            return
        self._closing = True
        self._poke("closed")
        task = self._task
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=self.config.close_timeout_s * 2)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for sock in (self._partner, self._sock):
            if sock is not None:
                await self._discard(sock, "closed")
        if self._background:
            await asyncio.wait(set(self._background), timeout=self.config.close_timeout_s * 2)
        if self._state is not _C.CLOSED:
            self._set_state(_C.CLOSED)
            self._emit(LifecycleKind.CLOSED, "closed")
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> StreamConnection:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, streams: Iterable[str]) -> list[str]:
        """Add streams on the live socket (no reconnect); kept for every later reconnect.

        Returns
        -------
        list[str]
            The streams that were new.

        Raises
        ------
        LocalProtocolError
            A malformed name, or more streams than ``config.max_streams``.
        SubscriptionError
            The server rejected the request (the streams are not kept).
        """
        names = [normalize_stream(s) for s in streams]
        async with self._lock:
            fresh = list(dict.fromkeys(s for s in names if s not in self._streams))
            if len(self._streams) + len(fresh) > self.config.max_streams:
                raise LocalProtocolError(f"{self.label}: more than {self.config.max_streams} streams on one connection")
            if not fresh:
                return []
            for name in fresh:
                self._streams[name] = None
            try:
                await self._control_all("SUBSCRIBE", fresh)
            except SubscriptionError:
                for name in fresh:
                    self._streams.pop(name, None)
                raise
            return fresh

    async def unsubscribe(self, streams: Iterable[str]) -> list[str]:
        """Drop streams on the live socket (no reconnect).

        Returns
        -------
        list[str]
            The streams that were subscribed.
        """
        names = [normalize_stream(s) for s in streams]
        async with self._lock:
            gone = [s for s in dict.fromkeys(names) if s in self._streams]
            for name in gone:
                del self._streams[name]
            if gone:
                await self._control_all("UNSUBSCRIBE", gone)
            return gone

    async def list_subscriptions(self) -> list[str]:
        """Ask the server which streams the current socket carries (LIST_SUBSCRIPTIONS).

        Raises
        ------
        WebSocketClosed
            If the connection is not open.
        """
        result = await self._request(self._current(), "LIST_SUBSCRIPTIONS", None)
        return [str(s) for s in result or []]

    async def send(self, data: str | bytes) -> None:
        """Send a raw frame on the current socket, paced like control requests.

        Raises
        ------
        WebSocketClosed
            If the connection is not open.
        """
        await self._send(self._current(), data)

    def _current(self) -> _Socket:
        if self._sock is None or self._state is not _C.OPEN:
            raise WebSocketClosed(f"{self.label} is not open")
        return self._sock

    async def _control_all(self, method: str, streams: list[str]) -> None:
        """Send a control request to every live socket; a socket that dies meanwhile resubscribes anyway."""
        for sock in (self._sock, self._partner):
            if sock is None or sock.closing or self._state is not _C.OPEN:
                continue
            for batch in batched(streams, self.config.streams_per_frame):
                try:
                    await self._request(sock, method, batch)
                except (WebSocketClosed, TimeoutError):
                    break  # the reconnect subscribes self._streams as they are now

    # ------------------------------------------------------------------ supervisor

    async def _run(self) -> None:
        attempt = 0
        connected_once = False
        reported = False  # a DISCONNECTED was emitted for the current outage
        reason = ""
        try:
            while not self._closing:
                self._set_state(_C.CONNECTING)
                try:
                    async with self._lock:
                        sock = await self._open(self._on_message)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure to connect is retried; it is logged and reported
                    reason = f"connect failed: {_describe(exc)}"
                    self._set_state(_C.BACKOFF)
                    if not reported:  # once per outage, not once per attempt
                        reported = True
                        self._emit(LifecycleKind.DISCONNECTED, reason)
                    await self._backoff(attempt)
                    attempt += 1
                    continue
                self._sock = sock
                self._set_state(_C.OPEN)
                self._opened.set()
                reported = False
                if connected_once:
                    self.reconnects += 1
                    self._emit(LifecycleKind.RECONNECTED, reason, attempt=attempt)
                else:
                    self._emit(LifecycleKind.CONNECTED, "")
                connected_once = True
                reason = await self._serve()
                sock = self._sock
                lived_ns = self._clock.monotonic_ns() - sock.opened_ns
                self._rx_done += sock.rx
                self._sock = None
                self._opened.clear()
                if self._closing:
                    break
                self._set_state(_C.BACKOFF)
                self._emit(LifecycleKind.DISCONNECTED, reason)
                reported = True
                attempt = 0 if lived_ns >= self.config.stable_s * 1e9 else attempt + 1
                await self._backoff(attempt)
        finally:
            if self._closing and self._state is not _C.CLOSED:
                self._set_state(_C.CLOSED)
                self._emit(LifecycleKind.CLOSED, "closed")

    async def _backoff(self, attempt: int) -> None:
        delay = self.config.backoff_s(attempt, self._rng.random())
        kick = self._kick_future()
        timer = asyncio.ensure_future(clock_sleep(self._clock, delay))
        waits: set[asyncio.Future[Any]] = {timer, kick}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if kick.done() and not self._closing:
            self._kick = None  # a reconnect() during backoff just shortens it

    def _kick_future(self) -> asyncio.Future[str]:
        if self._kick is None or self._kick.done() and not self._closing:
            self._kick = asyncio.get_running_loop().create_future()
        return self._kick

    def _poke(self, reason: str) -> None:
        kick = self._kick_future()
        if not kick.done():
            kick.set_result(reason)

    async def _serve(self) -> str:
        """Watch the current socket until it ends; rotate it when due. Returns why it ended."""
        cfg = self.config
        while True:
            sock = self._sock
            assert sock is not None and sock.reader is not None
            outcome = await self._watch(sock, sock.rotate_at)
            if outcome != "rotate":
                await self._discard(sock, outcome)
                return outcome
            fresh = await self._rotate(sock)
            if fresh is not None:
                self._sock = fresh
                self._rx_done += sock.rx
                continue
            if sock.reader.done():
                await self._discard(sock, sock.end_reason)
                return sock.end_reason or "socket closed"
            # Still before Binance's limit: try again a little later.
            sock.rotate_at = self._clock.monotonic_ns() + int(min(60.0, cfg.rotate_before_s / 4) * 1e9)

    async def _watch(self, sock: _Socket, rotate_at: int | None) -> str:
        """Wait until the socket ends ("closed..."), goes silent ("watchdog..."), or is due to "rotate"."""
        cfg = self.config
        clock = self._clock
        loop = asyncio.get_running_loop()
        kick = self._kick_future()
        assert sock.reader is not None
        probe_ns: int | None = None  # clock time of an unanswered probe ping
        probe_real = 0.0
        probe_seen = -1
        while True:
            if kick.done():
                return kick.result()
            if sock.reader.done():
                return sock.end_reason or "socket closed"
            now = clock.monotonic_ns()
            if rotate_at is not None and now >= rotate_at:
                return "rotate"
            changed = self._observe(sock, now)
            deadline = rotate_at
            real_wait = 0.0
            if cfg.watchdog_s is not None:
                if probe_ns is not None and (changed or sock.rx + sock.ctl != probe_seen):
                    probe_ns = None  # something arrived: alive
                if probe_ns is None:
                    assert self._seen_ns is not None
                    silent_ns = now - self._seen_ns
                    if silent_ns >= cfg.watchdog_s * 1e9:
                        probe_ns, probe_real, probe_seen = now, loop.time(), sock.rx + sock.ctl
                        self._log.info("%s: silent for %.1f s, probing with a ping", self.label, silent_ns / 1e9)
                        with contextlib.suppress(Exception):  # a dead socket fails the ping; the probe decides
                            await asyncio.wait_for(self._ping(sock), cfg.reply_timeout_s)
                        continue
                    check = self._seen_ns + int(cfg.watchdog_s * 1e9)
                else:
                    check = probe_ns + int(cfg.probe_s * 1e9)
                    real_left = _PROBE_MIN_REAL_S - (loop.time() - probe_real)
                    if now >= check and real_left <= 0:
                        return f"watchdog: silent for {(now - (self._seen_ns or now)) / 1e9:.1f} s"
                    real_wait = max(0.0, real_left)
                deadline = check if deadline is None else min(deadline, check)
            waits: set[asyncio.Future[Any]] = {sock.reader, kick}
            timer: asyncio.Future[None] | None = None
            if deadline is not None:
                timer = asyncio.ensure_future(self._sleep(deadline, real_wait))
                waits.add(timer)
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if timer is not None:
                    timer.cancel()

    async def _sleep(self, deadline_ns: int, min_real_s: float) -> None:
        await sleep_until(self._clock, deadline_ns)
        if min_real_s > 0:
            await asyncio.sleep(min_real_s)

    def _observe(self, sock: _Socket, now: int) -> bool:
        """Note whether frames arrived since the last look (the reader only counts; this keeps it cheap)."""
        count = sock.rx + sock.ctl
        if count != sock.seen or sock.paused or self._seen_ns is None:
            sock.seen = count
            self._seen_ns = now
            return True
        return False

    async def _ping(self, sock: _Socket) -> None:
        await self._pace(sock)
        await sock.ws.ping()

    # ------------------------------------------------------------------ rotation

    async def _rotate(self, old: _Socket) -> _Socket | None:
        """Replace ``old`` by a fresh socket without losing or repeating an event; ``None`` if it failed."""
        cfg = self.config
        handover = Handover()
        ready = asyncio.Event()
        deliver = self._on_message

        def old_sink(frame: bytes) -> Awaitable[Any] | None:
            handover.old(frame)
            if handover.ready:
                ready.set()
            return deliver(frame)

        def new_sink(frame: bytes) -> Awaitable[Any] | None:
            if not handover.new(frame):
                return deliver(frame)  # not a stream event (an API answer): nothing to order
            if handover.ready or handover.held >= cfg.overlap_max_frames:
                ready.set()
            return None

        async with self._lock:
            self._log.info("%s: rotating before the %.0f s connection limit", self.label, cfg.max_age_s or 0)
            old.sink = old_sink
            try:
                new = await self._open(new_sink)
            except asyncio.CancelledError:
                old.sink = deliver
                raise
            except Exception as exc:  # the old socket goes on; the rotation is retried later
                old.sink = deliver
                self._log.warning("%s: rotation failed to connect: %s", self.label, _describe(exc))
                return None
            self._partner = new
            assert old.reader is not None and new.reader is not None
            waiter = asyncio.ensure_future(ready.wait())
            timer = asyncio.ensure_future(clock_sleep(self._clock, cfg.overlap_s))
            kick = self._kick_future()
            waits: set[asyncio.Future[Any]] = {waiter, timer, kick, old.reader, new.reader}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                timer.cancel()
            if kick.done() or (new.reader.done() and not old.reader.done()):
                # Closing, or the new socket died during the hand-over: keep the old one (it has everything).
                old.sink = deliver
                self._partner = None
                await self._discard(new, "rotation abandoned")
                self._log.warning("%s: rotation abandoned: %s", self.label, new.end_reason or kick.result())
                return None
            # The switch: nothing more from the old socket; then the held frames it did not deliver.
            old.sink = _drop
            proven, unproven = handover.ready, handover.unproven
            self._spawn(self._discard(old, "rotated"))
            while True:
                frames = list(handover.drain())
                if not frames:
                    break
                for frame in frames:
                    pending = deliver(frame)
                    if pending is not None:
                        await pending
            new.sink = deliver  # no await since the last drain: nothing can slip in between
            self._partner = None
        self.rotations += 1
        reason = "hand-over proven" if proven else f"hand-over timed out; unproven: {sorted(unproven)[:5]}"
        self._emit(LifecycleKind.ROTATED, reason)
        return new

    # ------------------------------------------------------------------ sockets

    async def _open(self, sink: MessageHandler) -> _Socket:
        """Connect and subscribe every stream (URL first, then SUBSCRIBE frames); run ``on_open``."""
        cfg = self.config
        assert self._session is not None
        streams = list(self._streams)
        if self._combined:
            url, rest = split_url_streams(self.url, streams, cfg.max_url_length)
        else:
            url, rest = self.url, streams
        ws = await asyncio.wait_for(
            self._session.ws_connect(
                url,
                autoping=False,  # pings are answered by the reader, so they count as signs of life
                heartbeat=None,
                max_msg_size=cfg.max_message_bytes,
                decode_text=False,
                timeout=aiohttp.ClientWSTimeout(ws_close=cfg.close_timeout_s),
            ),
            cfg.connect_timeout_s,
        )
        sock = _Socket(ws, sink, self._clock.monotonic_ns(), MessagePacer(cfg.messages_per_s))
        if cfg.max_age_s is not None:
            sock.rotate_at = sock.opened_ns + int(max(0.0, cfg.max_age_s - cfg.rotate_before_s) * 1e9)
        sock.reader = asyncio.create_task(self._read(sock), name=f"binfut-stream-{self.label}-reader")
        try:
            for batch in batched(rest, cfg.streams_per_frame):
                await self._request(sock, "SUBSCRIBE", batch)
            if self._on_open is not None:
                await self._on_open(lambda data: self._send(sock, data))
        except BaseException:
            await self._discard(sock, "open failed")
            raise
        return sock

    async def _read(self, sock: _Socket) -> None:
        """The hot loop: count, route control replies, hand data frames to the sink."""
        ws = sock.ws
        receive = ws.receive
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        ping, pong = aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG
        prefix = _STREAM_PREFIX
        pending = sock.pending
        combined = self._combined
        try:
            while True:
                msg = await receive()
                kind = msg.type
                if kind is text or kind is binary:
                    data = msg.data
                    if not data.startswith(prefix):
                        reply = parse_control_reply(data)
                        if reply is not None and (reply.id in pending or combined):
                            # Ours (a late one too, on a combined stream); a raw socket's other replies
                            # (WebSocket-API answers) go to the sink.
                            sock.ctl += 1
                            fut = pending.pop(reply.id, None)  # type: ignore[arg-type]
                            if fut is not None and not fut.done():
                                fut.set_result(reply)
                            continue
                    sock.rx += 1
                    waiter = sock.sink(data)
                    if waiter is not None:
                        sock.paused = True
                        try:
                            await waiter
                        finally:
                            sock.paused = False
                elif kind is ping:
                    sock.ctl += 1
                    await ws.pong(msg.data)
                elif kind is pong:
                    sock.ctl += 1
                else:
                    code = ws.close_code
                    extra = msg.extra if isinstance(msg.extra, str) and msg.extra else ""
                    sock.end_reason = f"socket closed ({kind.name.lower()}, code {code}{', ' + extra if extra else ''})"
                    return
        except asyncio.CancelledError:
            sock.end_reason = sock.end_reason or "reader cancelled"
            raise
        except Exception as exc:  # a transport error ends this socket; the supervisor reconnects
            sock.end_reason = f"socket failed: {_describe(exc)}"
        finally:
            for fut in pending.values():
                if not fut.done():
                    fut.set_exception(WebSocketClosed(f"{self.label}: {sock.end_reason or 'socket closed'}"))
            pending.clear()

    async def _request(self, sock: _Socket, method: str, params: list[str] | None) -> Any:
        """One control request on ``sock``; returns its ``result``.

        Raises
        ------
        SubscriptionError
            The server answered with an error.
        WebSocketClosed
            The socket closed before the answer.
        TimeoutError
            No answer within ``reply_timeout_s`` (real time).
        """
        request_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        sock.pending[request_id] = fut
        try:
            await self._send(sock, control_frame(method, request_id, params))
            reply = await asyncio.wait_for(fut, self.config.reply_timeout_s)
        finally:
            sock.pending.pop(request_id, None)
        if reply.error is not None:
            raise SubscriptionError(reply.error.code, reply.error.msg)
        return reply.result

    async def _pace(self, sock: _Socket) -> None:
        """Wait until one more outgoing message fits Binance's per-connection message rate."""
        clock = self._clock
        while (delay := sock.pacer.delay_ms(clock.time_ms())) > 0:
            await clock_sleep(clock, delay / 1000)
        sock.pacer.record(clock.time_ms())

    async def _send(self, sock: _Socket, data: str | bytes) -> None:
        if sock.closing or sock.ws.closed:
            raise WebSocketClosed(f"{self.label}: socket closed")
        async with sock.send_lock:
            await self._pace(sock)
            try:
                if isinstance(data, str):
                    await sock.ws.send_str(data)
                else:
                    await sock.ws.send_bytes(data)
            except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
                raise WebSocketClosed(f"{self.label}: send failed: {_describe(exc)}") from exc

    async def _discard(self, sock: _Socket, reason: str) -> None:
        """Close a socket (bounded) and stop its reader; nothing it still receives is delivered."""
        if sock.closing:
            return
        sock.closing = True
        sock.sink = _drop
        sock.end_reason = sock.end_reason or reason
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sock.ws.close(), self.config.close_timeout_s)
        reader = sock.reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    # ------------------------------------------------------------------ state and events

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        if (self._state, state) not in _LEGAL:  # a supervisor bug, not a network event
            raise RuntimeError(f"{self.label}: illegal state change {self._state} -> {state}")
        self._state = state

    def _emit(self, kind: LifecycleKind, reason: str, *, attempt: int = 0) -> None:
        event = LifecycleEvent(
            kind=kind,
            connection=self.label,
            time_ms=self._clock.time_ms(),
            reason=reason,
            attempt=attempt,
            streams=len(self._streams),
        )
        level = logging.WARNING if kind is LifecycleKind.DISCONNECTED else logging.INFO
        self._log.log(level, "%s %s%s", self.label, kind.value, f": {reason}" if reason else "")
        if self._on_lifecycle is not None:
            try:
                self._on_lifecycle(event)
            except Exception:  # an observer must not take the connection down
                self._log.exception("%s: lifecycle handler failed", self.label)

    def __repr__(self) -> str:
        return f"StreamConnection({self.label!r}, state={self._state.value}, streams={len(self._streams)})"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
