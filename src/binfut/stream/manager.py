"""StreamManager: many market streams over as few connections as Binance allows, fanned out to consumers.

Owns the plan (which stream rides which :class:`~binfut.stream.connection.StreamConnection`, per
:class:`~binfut.protocol.streams.StreamPlanner`), decoding (once per frame), frame taps and consumers. Rules:

- a stream goes to its route's endpoint (``/public`` for book streams, ``/market`` for the rest) on a
  connection holding at most 1024 streams; subscribing and unsubscribing never reconnect;
- every consumer has a bounded queue and an explicit policy when it is full: ``block`` stops reading the
  connections that feed it (backpressure), ``drop_oldest`` drops and counts, ``raise`` fails that consumer
  with :class:`ConsumerOverflow` -- one slow consumer never grows memory without bound;
- callbacks run on the reader task; an async callback is awaited before the next frame is read;
- frame taps (:meth:`StreamManager.on_frame`) get every data frame as received, before decoding, in
  delivery order; with none registered they cost one test per frame; a failing tap never ends a connection;
- lifecycle events of every connection (and of components built on the manager, such as the local book's
  ``gap`` / ``resynced``) reach :meth:`StreamManager.lifecycle` iterators and ``on_lifecycle`` callbacks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

import aiohttp
import msgspec

from binfut.clock import Clock, SystemClock
from binfut.config import Urls
from binfut.enums import ContractType, KlineInterval
from binfut.errors import ConsumerOverflow
from binfut.protocol import streams as names
from binfut.protocol.events import EventDecoder, RawEvent, StreamMessage
from binfut.protocol.streams import Route, ShardKey, StreamPlanner, normalize_stream
from binfut.stream.connection import (
    ConnectionHealth,
    ConnectionState,
    LifecycleEvent,
    LifecycleKind,
    MessageHandler,
    StreamConfig,
    StreamConnection,
)

__all__ = [
    "CallbackConsumer",
    "Consumer",
    "ConsumerOverflow",
    "FrameCallback",
    "FrameTap",
    "ManagerStats",
    "QueuePolicy",
    "Sink",
    "StreamManager",
]

T = TypeVar("T")

_log = logging.getLogger("binfut.stream")


class QueuePolicy(StrEnum):
    """What a full consumer queue does with the next message."""

    BLOCK = "block"  # keep it and stop reading the feeding connections until there is room
    DROP_OLDEST = "drop_oldest"  # drop the oldest queued message and count it
    RAISE = "raise"  # fail the consumer with ConsumerOverflow


class Sink(Protocol):
    """What the manager hands messages to (:class:`Consumer`, :class:`CallbackConsumer`, the sync facade)."""

    streams: frozenset[str] | None

    def put(self, message: Any) -> Awaitable[Any] | None:
        """Take one message; an awaitable return asks the reader to wait (backpressure)."""
        ...

    def finish(self, error: BaseException | None = None) -> None:
        """No more messages will come (the manager closed, or ``error``)."""
        ...


class Consumer(Generic[T]):
    """A bounded queue of messages, read with ``async for`` (or :meth:`get`).

    Made by :meth:`StreamManager.events` / :meth:`StreamManager.lifecycle`; :meth:`close` (or leaving
    ``async with``) detaches it.

    Attributes
    ----------
    maxsize : int
    policy : QueuePolicy
    dropped : int
        Messages dropped by ``drop_oldest``.
    received : int
        Messages put into the queue.
    streams : frozenset[str] | None
        The streams it receives (``None``: all).
    """

    def __init__(
        self,
        maxsize: int = 10_000,
        policy: QueuePolicy | str = QueuePolicy.BLOCK,
        streams: frozenset[str] | None = None,
        *,
        on_close: Callable[[Consumer[T]], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.policy = QueuePolicy(policy)
        self.streams = streams
        self.dropped = 0
        self.received = 0
        self._queue: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None  # the reader of this consumer, waiting for data
        self._room: asyncio.Future[None] | None = None  # feeding connections, waiting for room (block)
        self._error: BaseException | None = None
        self._done = False
        self._on_close = on_close

    def qsize(self) -> int:
        """Messages waiting."""
        return len(self._queue)

    def put(self, message: T) -> Awaitable[Any] | None:
        """Queue ``message`` following the policy (called by the manager)."""
        if self._done:
            return None
        queue = self._queue
        self.received += 1
        if len(queue) >= self.maxsize:
            policy = self.policy
            if policy is QueuePolicy.DROP_OLDEST:
                queue.popleft()
                self.dropped += 1
            elif policy is QueuePolicy.RAISE:
                self.finish(ConsumerOverflow(f"consumer fell {self.maxsize} messages behind (policy raise)"))
                self._detach()
                return None
            else:
                queue.append(message)
                self._wake()
                if self._room is None or self._room.done():
                    self._room = asyncio.get_running_loop().create_future()
                return self._room
        queue.append(message)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def get_nowait(self) -> T | None:
        """The next message, or ``None`` when the queue is empty.

        Raises
        ------
        ConsumerOverflow
            When the consumer failed under the ``raise`` policy.
        """
        if self._error is not None:
            raise self._error
        queue = self._queue
        if not queue:
            return None
        message = queue.popleft()
        room = self._room
        if room is not None and len(queue) <= self.maxsize // 2 and not room.done():
            room.set_result(None)  # half empty again: let the connections read on
        return message

    async def get(self) -> T:
        """Wait for the next message.

        Raises
        ------
        ConsumerOverflow
            When the consumer failed under the ``raise`` policy.
        StopAsyncIteration
            When the consumer or its manager closed and the queue is empty.
        """
        while True:
            if self._error is not None:
                raise self._error
            queue = self._queue
            if queue:
                message = queue.popleft()
                room = self._room
                if room is not None and len(queue) <= self.maxsize // 2 and not room.done():
                    room.set_result(None)
                return message
            if self._done:
                raise StopAsyncIteration
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter

    def __aiter__(self) -> Consumer[T]:
        return self

    async def __anext__(self) -> T:
        return await self.get()

    def finish(self, error: BaseException | None = None) -> None:
        """Stop taking messages; readers drain the queue, then stop (or get ``error`` at once)."""
        self._done = True
        if error is not None and self._error is None:
            self._error = error
        self._wake()
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    def close(self) -> None:
        """Detach from the manager; iteration ends once the queue is drained."""
        self.finish()
        self._detach()

    def _detach(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)

    async def __aenter__(self) -> Consumer[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Consumer(policy={self.policy.value}, queued={len(self._queue)}, dropped={self.dropped})"


class CallbackConsumer(Generic[T]):
    """Calls ``callback(message)`` on the reader task; an awaitable result is awaited before reading on.

    Exceptions are logged and counted (:attr:`errors`), never propagated into the connection.
    """

    def __init__(
        self,
        callback: Callable[[T], Any],
        streams: frozenset[str] | None = None,
        *,
        on_close: Callable[[CallbackConsumer[T]], None] | None = None,
    ) -> None:
        self.callback = callback
        self.streams = streams
        self.errors = 0
        self._on_close = on_close
        self._done = False

    def put(self, message: T) -> Awaitable[Any] | None:
        if self._done:
            return None
        try:
            result = self.callback(message)
        except Exception:
            self.errors += 1
            _log.exception("stream callback %r failed", self.callback)
            return None
        if result is not None and inspect.isawaitable(result):
            return self._guard(result)
        return None

    async def _guard(self, result: Awaitable[Any]) -> None:
        try:
            await result
        except Exception:
            self.errors += 1
            _log.exception("stream callback %r failed", self.callback)

    def finish(self, error: BaseException | None = None) -> None:
        self._done = True

    def close(self) -> None:
        """Stop calling the callback."""
        self._done = True
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)


FrameCallback = Callable[[str, int, bytes], Any]
"""A raw-frame tap: ``callback(connection, recv_time_ns, frame)``; called on the reader task, result ignored.

``connection`` is the label of the connection the frame came on (``market-0``, ``public-0``),
``recv_time_ns`` the manager clock's ``time_ns()`` when the manager took the frame, ``frame`` the bytes
of the WebSocket message exactly as received (a combined-stream ``{"stream":...,"data":...}`` frame).
"""


class FrameTap:
    """A raw-frame tap registered with :meth:`StreamManager.on_frame`; :meth:`close` removes it.

    Attributes
    ----------
    callback : FrameCallback
    errors : int
        Calls that raised (each is counted; the first one per connection is logged with its traceback).
    """

    __slots__ = ("_failed_on", "_on_close", "callback", "errors")

    def __init__(self, callback: FrameCallback, *, on_close: Callable[[FrameTap], None] | None = None) -> None:
        self.callback = callback
        self.errors = 0
        self._failed_on: set[str] = set()  # connections whose failure was already logged
        self._on_close = on_close

    def close(self) -> None:
        """Stop calling the callback (idempotent)."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)

    def __enter__(self) -> FrameTap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FrameTap({self.callback!r}, errors={self.errors})"


class ManagerStats(msgspec.Struct, frozen=True, kw_only=True):
    """Totals of a :class:`StreamManager` for dashboards.

    ``messages``, ``reconnects``, ``rotations``, ``dropped`` and ``tap_errors`` count over the manager's
    whole life, closed connections and consumers included (they do not fall back to 0 after ``close()``);
    ``connections`` and ``consumers`` are those open now, ``streams`` those in the subscription plan.
    """

    connections: int
    streams: int
    messages: int
    reconnects: int
    rotations: int
    consumers: int
    dropped: int
    undecoded: int
    tap_errors: int = 0


_ROUTE_URL = {Route.PUBLIC: "ws_public", Route.MARKET: "ws_market", Route.PRIVATE: "ws_private"}


class StreamManager:
    """Binance USD-M market streams: subscribe by name or helper, read typed events.

    Parameters
    ----------
    urls : Urls
        The environment's URLs (``binfut.config.urls_for(env)``; ``Urls.local(rest_url)`` for the local
        exchange); streams go to ``ws_public`` / ``ws_market`` / ``ws_private`` by route.
    config : StreamConfig, optional
        Watchdog, backoff, rotation and pacing of every connection.
    clock : Clock, optional
        Schedule time of the connections (default :class:`~binfut.clock.SystemClock`).
    rng : random.Random, optional
        Backoff jitter.
    session : aiohttp.ClientSession, optional
        Shared by all connections; one is made (and closed) otherwise.
    logger : logging.Logger, optional

    Notes
    -----
    Frames are decoded once, by :class:`~binfut.protocol.events.EventDecoder`, into the typed events every
    consumer shares. Code that needs the frames themselves (recording, auditing, latency measurement,
    forwarding, a decoder of its own) registers a raw-frame tap with :meth:`on_frame`.

    Examples
    --------
    ::

        async with StreamManager(urls_for("mainnet")) as streams:
            events = streams.events()
            await streams.agg_trade("BTCUSDT")
            async for message in events:
                print(message.stream, message.data)

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
    """

    def __init__(
        self,
        urls: Urls,
        *,
        config: StreamConfig | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        session: aiohttp.ClientSession | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.urls = urls
        self.config = config or StreamConfig()
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._session = session
        self._own_session = session is None
        self._decode = EventDecoder().decode
        self._log = logger or _log
        self._planner = StreamPlanner(self.config.max_streams)
        self._conns: dict[ShardKey, StreamConnection] = {}
        self._plan_lock = asyncio.Lock()
        self._all: list[Sink] = []  # sinks of every stream
        self._by_stream: dict[str, list[Sink]] = {}
        self._sinks: list[Sink] = []
        self._life: list[Sink] = []
        self._taps: tuple[FrameTap, ...] = ()  # a tuple: replaced, never mutated, so a tap may close itself
        self.tap_errors = 0
        self._started = False
        self._closed = False
        self.undecoded = 0  # frames that came back as RawEvent
        # Counts of connections and consumers already gone (closed, unsubscribed, detached): stats() reports
        # totals over the manager's life, so a dashboard's last frame after close() still shows the run's numbers.
        self._gone_messages = 0
        self._gone_reconnects = 0
        self._gone_rotations = 0
        self._gone_dropped = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Prepare the HTTP session (connections open as streams are subscribed)."""
        if self._closed:
            raise RuntimeError("StreamManager is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._started = True

    async def close(self) -> None:
        """Close every connection and end every consumer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        conns = list(self._conns.values())
        self._conns.clear()
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        for conn in conns:
            self._retire(conn)
        for sink in [*self._sinks, *self._life]:
            sink.finish()
        self._taps = ()
        self._gone_dropped += sum(getattr(s, "dropped", 0) for s in self._sinks)
        self._sinks.clear()
        self._life.clear()
        self._rebuild_routes()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> StreamManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_ready(self, timeout: float | None = 10.0) -> None:
        """Wait (real-time ``timeout``) until every planned connection is open.

        Raises
        ------
        TimeoutError
            If one is still not open.
        """
        await asyncio.wait_for(asyncio.gather(*(c.wait_open() for c in list(self._conns.values()))), timeout)

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, *streams: str) -> list[str]:
        """Subscribe streams by name (``btcusdt@aggTrade``, ``!markPrice@arr``, ...).

        New connections open in the background; existing ones subscribe live. Consumers made before this
        call see the first events.

        Returns
        -------
        list[str]
            The normalized names.

        Raises
        ------
        LocalProtocolError
            A malformed name.
        SubscriptionError
            The server rejected a SUBSCRIBE.
        """
        if self._closed:
            raise RuntimeError("StreamManager is closed")
        if not self._started:
            await self.start()
        names_ = [normalize_stream(s) for s in streams]
        async with self._plan_lock:
            for key, batch in self._planner.add(names_).items():
                conn = self._conns.get(key)
                if conn is None:
                    conn = self._conns[key] = self._connection(key, batch)
                    await conn.start()
                else:
                    try:
                        await conn.subscribe(batch)
                    except BaseException:
                        self._planner.remove(batch)
                        raise
        return names_

    async def unsubscribe(self, *streams: str) -> list[str]:
        """Unsubscribe streams live; a connection left without streams is closed.

        Returns
        -------
        list[str]
            The streams that were subscribed.
        """
        names_ = [normalize_stream(s) for s in streams]
        gone: list[str] = []
        async with self._plan_lock:
            for key, batch in self._planner.remove(names_).items():
                gone += batch
                conn = self._conns.get(key)
                if conn is None:
                    continue
                if key not in self._planner.shards():
                    del self._conns[key]
                    await conn.close()
                    self._retire(conn)
                else:
                    await conn.unsubscribe(batch)
        return gone

    def _retire(self, conn: StreamConnection) -> None:
        """Fold the counters of a connection that was closed and forgotten into the manager's totals."""
        self._gone_messages += conn.messages
        self._gone_reconnects += conn.reconnects
        self._gone_rotations += conn.rotations

    def _connection(self, key: ShardKey, streams: list[str]) -> StreamConnection:
        return StreamConnection(
            getattr(self.urls, _ROUTE_URL[key.route]),
            on_message=self._frame_handler(key.label),
            streams=streams,
            on_lifecycle=self.publish_lifecycle,
            config=self.config,
            clock=self.clock,
            rng=self._rng,
            session=self._session,
            label=key.label,
            logger=self._log,
        )

    @property
    def streams(self) -> list[str]:
        """Every subscribed stream."""
        return [s for shard in self._planner.shards().values() for s in shard]

    def connection_of(self, stream: str) -> StreamConnection | None:
        """The connection carrying ``stream``, or ``None``."""
        key = self._planner.shard_of(normalize_stream(stream))
        return self._conns.get(key) if key is not None else None

    def connections(self) -> list[StreamConnection]:
        """Every connection, in plan order."""
        return [self._conns[key] for key in sorted(self._conns)]

    # typed helpers: each subscribes one stream and returns its name

    async def agg_trade(self, symbol: str) -> str:
        """Subscribe ``<symbol>@aggTrade``."""
        return (await self.subscribe(names.agg_trade(symbol)))[0]

    async def trade(self, symbol: str) -> str:
        """Subscribe ``<symbol>@trade``."""
        return (await self.subscribe(names.trade(symbol)))[0]

    async def mark_price(self, symbol: str, *, every_second: bool = False) -> str:
        """Subscribe ``<symbol>@markPrice[@1s]``."""
        return (await self.subscribe(names.mark_price(symbol, every_second=every_second)))[0]

    async def kline(self, symbol: str, interval: str | KlineInterval) -> str:
        """Subscribe ``<symbol>@kline_<interval>``."""
        return (await self.subscribe(names.kline(symbol, interval)))[0]

    async def continuous_kline(
        self, pair: str, contract_type: str | ContractType, interval: str | KlineInterval
    ) -> str:
        """Subscribe ``<pair>_<contractType>@continuousKline_<interval>``."""
        return (await self.subscribe(names.continuous_kline(pair, contract_type, interval)))[0]

    async def mini_ticker(self, symbol: str) -> str:
        """Subscribe ``<symbol>@miniTicker``."""
        return (await self.subscribe(names.mini_ticker(symbol)))[0]

    async def ticker(self, symbol: str) -> str:
        """Subscribe ``<symbol>@ticker``."""
        return (await self.subscribe(names.ticker(symbol)))[0]

    async def book_ticker(self, symbol: str) -> str:
        """Subscribe ``<symbol>@bookTicker``."""
        return (await self.subscribe(names.book_ticker(symbol)))[0]

    async def force_order(self, symbol: str) -> str:
        """Subscribe ``<symbol>@forceOrder``."""
        return (await self.subscribe(names.force_order(symbol)))[0]

    async def partial_depth(self, symbol: str, levels: int, speed: str | None = None) -> str:
        """Subscribe ``<symbol>@depth<levels>[@speed]``."""
        return (await self.subscribe(names.partial_depth(symbol, levels, speed)))[0]

    async def depth(self, symbol: str, speed: str | None = None) -> str:
        """Subscribe the diff depth ``<symbol>@depth[@speed]`` (``speed``: 0ms, 100ms, 250ms, 500ms)."""
        return (await self.subscribe(names.diff_depth(symbol, speed)))[0]

    async def all_mark_prices(self, *, every_second: bool = False) -> str:
        """Subscribe ``!markPrice@arr[@1s]``."""
        return (await self.subscribe(names.all_mark_price(every_second=every_second)))[0]

    async def all_tickers(self) -> str:
        """Subscribe ``!ticker@arr``."""
        return (await self.subscribe(names.ALL_TICKER))[0]

    async def all_mini_tickers(self) -> str:
        """Subscribe ``!miniTicker@arr``."""
        return (await self.subscribe(names.ALL_MINI_TICKER))[0]

    async def all_book_tickers(self) -> str:
        """Subscribe ``!bookTicker``."""
        return (await self.subscribe(names.ALL_BOOK_TICKER))[0]

    async def all_force_orders(self) -> str:
        """Subscribe ``!forceOrder@arr``."""
        return (await self.subscribe(names.ALL_FORCE_ORDER))[0]

    # ------------------------------------------------------------------ consumers

    def events(
        self, *streams: str, maxsize: int = 10_000, policy: QueuePolicy | str = QueuePolicy.BLOCK
    ) -> Consumer[StreamMessage]:
        """A new consumer of :class:`~binfut.protocol.events.StreamMessage` (all streams, or ``streams``).

        Parameters
        ----------
        *streams : str
            Only these streams (subscribe them separately); none means every stream.
        maxsize : int
            Queue bound.
        policy : QueuePolicy | str
            ``block`` (default: lossless, but a consumer nobody reads stalls the connections feeding it --
            close it when done), ``drop_oldest`` (counts :attr:`Consumer.dropped`) or ``raise``.
        """
        wanted = frozenset(normalize_stream(s) for s in streams) or None
        consumer: Consumer[StreamMessage] = Consumer(maxsize, policy, wanted, on_close=self.detach)
        self.attach(consumer)
        return consumer

    def on_event(self, callback: Callable[[StreamMessage], Any], *streams: str) -> CallbackConsumer[StreamMessage]:
        """Call ``callback(message)`` for each message (of ``streams``, or all); ``.close()`` stops it."""
        wanted = frozenset(normalize_stream(s) for s in streams) or None
        consumer: CallbackConsumer[StreamMessage] = CallbackConsumer(callback, wanted, on_close=self.detach)
        self.attach(consumer)
        return consumer

    def attach(self, sink: Sink) -> None:
        """Start handing messages to ``sink`` (for consumers built outside this module)."""
        if self._closed:
            sink.finish()
            return
        self._sinks.append(sink)
        self._rebuild_routes()

    def detach(self, sink: Any) -> None:
        """Stop handing messages to ``sink`` (no error if it was not attached)."""
        if sink in self._sinks:
            self._sinks.remove(sink)
            self._gone_dropped += getattr(sink, "dropped", 0)
            self._rebuild_routes()
        if sink in self._life:
            self._life.remove(sink)

    def _rebuild_routes(self) -> None:
        # Routing tables are rebuilt on (rare) attach/detach so the per-frame path is two lookups.
        self._all = [s for s in self._sinks if s.streams is None]
        by_stream: dict[str, list[Sink]] = {}
        for sink in self._sinks:
            for stream in sink.streams or ():
                by_stream.setdefault(stream, []).append(sink)
        self._by_stream = by_stream

    def _frame_handler(self, label: str) -> MessageHandler:
        """The ``on_message`` of connection ``label``: taps, then decode once and hand to every interested sink.

        One closure per connection so a tap learns the connection without an extra call per frame.
        """

        def on_frame(frame: bytes) -> Awaitable[Any] | None:
            """Returns a backpressure awaitable if a sink is full."""
            taps = self._taps
            if taps:  # the only cost of the tap feature when none is registered
                self._run_taps(taps, label, frame)
            message = self._decode(frame)
            if type(message.data) is RawEvent:
                self.undecoded += 1
            waits: list[Awaitable[Any]] | None = None
            for sink in self._all:
                wait = sink.put(message)
                if wait is not None:
                    waits = [wait] if waits is None else [*waits, wait]
            targets = self._by_stream.get(message.stream)
            if targets:
                for sink in targets:
                    wait = sink.put(message)
                    if wait is not None:
                        waits = [wait] if waits is None else [*waits, wait]
            if waits is None:
                return None
            return waits[0] if len(waits) == 1 else asyncio.gather(*waits)

        return on_frame

    # ------------------------------------------------------------------ raw-frame taps

    def on_frame(self, callback: FrameCallback) -> FrameTap:
        """Call ``callback(connection, recv_time_ns, frame)`` with every data frame, before it is decoded.

        The frames are exactly those the consumers then receive decoded, in the same order, across
        reconnects and 24-hour rotations (a frame the rotation hand-over drops as a duplicate reaches
        neither). Control replies (SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS answers), pings and pongs
        are consumed by the connection and never reach a tap.

        Parameters
        ----------
        callback : FrameCallback
            Gets the connection label (``market-0``), the receive time (``self.clock.time_ns()`` when the
            manager took the frame from the socket; for frames held during a rotation hand-over, when they
            were released) and the frame bytes as received. It runs synchronously on the reader task,
            before any consumer, so it must be quick and must not block; its return value is ignored.
            Several taps run in registration order.

        Returns
        -------
        FrameTap
            ``.close()`` (or leaving ``with``) removes the tap; ``.errors`` counts its failures.

        Raises
        ------
        TypeError
            ``callback`` is a coroutine function (a tap cannot be awaited; queue the frame instead).

        Notes
        -----
        An exception from ``callback`` never reaches the connection: it is counted (``FrameTap.errors``,
        ``stats().tap_errors``), logged with its traceback on the ``binfut.stream`` logger the first time
        per tap and connection, and the tap stays registered (the next frame is offered again).
        """
        if inspect.iscoroutinefunction(callback):
            raise TypeError("a frame tap must be a plain function; an async one cannot be awaited on the reader")
        tap = FrameTap(callback, on_close=self._remove_tap)
        if not self._closed:
            self._taps = (*self._taps, tap)
        return tap

    def _remove_tap(self, tap: FrameTap) -> None:
        self._taps = tuple(t for t in self._taps if t is not tap)

    def _run_taps(self, taps: tuple[FrameTap, ...], label: str, frame: bytes) -> None:
        recv_ns = self.clock.time_ns()
        for tap in taps:
            try:
                tap.callback(label, recv_ns, frame)
            except Exception:  # a tap must not take the connection down: count it, log once per connection
                tap.errors += 1
                self.tap_errors += 1
                if label not in tap._failed_on:
                    tap._failed_on.add(label)
                    self._log.exception(
                        "%s: frame tap %r failed (further failures on this connection are only counted)",
                        label,
                        tap.callback,
                    )

    # ------------------------------------------------------------------ lifecycle events

    def lifecycle(self, maxsize: int = 1_000) -> Consumer[LifecycleEvent]:
        """A new consumer of :class:`~binfut.stream.connection.LifecycleEvent` (drops the oldest when full)."""
        consumer: Consumer[LifecycleEvent] = Consumer(maxsize, QueuePolicy.DROP_OLDEST, on_close=self.detach)
        if self._closed:
            consumer.finish()
        else:
            self._life.append(consumer)
        return consumer

    def on_lifecycle(self, callback: Callable[[LifecycleEvent], Any]) -> CallbackConsumer[LifecycleEvent]:
        """Call ``callback(event)`` for every lifecycle event; ``.close()`` stops it."""
        consumer: CallbackConsumer[LifecycleEvent] = CallbackConsumer(callback, on_close=self.detach)
        if not self._closed:
            self._life.append(consumer)
        return consumer

    def publish_lifecycle(self, event: LifecycleEvent) -> None:
        """Hand ``event`` to every lifecycle consumer (connections and components built on the manager)."""
        for sink in list(self._life):
            sink.put(event)

    def emit(self, kind: LifecycleKind, source: str, *, reason: str = "", symbol: str = "") -> None:
        """Publish a lifecycle event of a component (e.g. a local book's ``gap`` for ``symbol``)."""
        self.publish_lifecycle(
            LifecycleEvent(kind=kind, connection=source, time_ms=self.clock.time_ms(), reason=reason, symbol=symbol)
        )

    # ------------------------------------------------------------------ health

    def health(self) -> list[ConnectionHealth]:
        """Per connection: state, streams, messages, reconnects, rotations, last message age."""
        return [conn.health() for conn in self.connections()]

    def stats(self) -> ManagerStats:
        """Totals over connections and consumers (see :class:`ManagerStats`)."""
        conns = list(self._conns.values())
        dropped = self._gone_dropped + sum(getattr(s, "dropped", 0) for s in self._sinks)
        return ManagerStats(
            connections=len(conns),
            streams=len(self._planner),
            messages=self._gone_messages + sum(c.messages for c in conns),
            reconnects=self._gone_reconnects + sum(c.reconnects for c in conns),
            rotations=self._gone_rotations + sum(c.rotations for c in conns),
            consumers=len(self._sinks),
            dropped=dropped,
            undecoded=self.undecoded,
            tap_errors=self.tap_errors,
        )

    def is_open(self, stream: str) -> bool:
        """True when the connection carrying ``stream`` is open now."""
        conn = self.connection_of(stream)
        return conn is not None and conn.state is ConnectionState.OPEN

    async def iter_events(self, *streams: str, maxsize: int = 10_000) -> AsyncIterator[StreamMessage]:
        """Subscribe ``streams`` and yield their messages (a blocking-policy consumer, closed on exit)."""
        consumer = self.events(*streams, maxsize=maxsize)
        try:
            await self.subscribe(*streams)
            async for message in consumer:
                yield message
        finally:
            consumer.close()

    def __repr__(self) -> str:
        return f"StreamManager(connections={len(self._conns)}, streams={len(self._planner)})"
