"""The stream manager for blocking code (scripts, notebooks): one dedicated event-loop thread.

Owns the loop thread and the thread-safe subscriptions. Rules kept here:

- the :class:`~binfut.stream.manager.StreamManager` lives on its own thread's loop
  (:class:`~binfut.stream._loop.LoopThread`); the caller's thread only waits on futures of that loop or on
  a subscription's condition -- never ``run_until_complete``, so it works inside a running Jupyter loop too;
- a subscription queue is bounded with the same policies as async consumers; ``block`` pauses the
  connections feeding it until the caller's thread catches up;
- leaving the ``with`` block closes the manager, ends every iteration and joins the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections import deque
from collections.abc import Awaitable, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from binfut.config import Urls
from binfut.protocol.events import StreamMessage
from binfut.protocol.streams import normalize_stream
from binfut.stream._loop import LoopThread
from binfut.stream.connection import ConnectionHealth
from binfut.stream.manager import ConsumerOverflow, QueuePolicy, StreamManager

__all__ = ["SyncStreamManager", "SyncSubscription"]

T = TypeVar("T")


class SyncSubscription:
    """Messages of some streams for a blocking reader: ``for message in subscription: ...``.

    Attributes
    ----------
    maxsize : int
    policy : QueuePolicy
    dropped : int
        Messages dropped by ``drop_oldest``.
    streams : frozenset[str] | None
    """

    def __init__(
        self,
        owner: SyncStreamManager,
        streams: frozenset[str] | None,
        maxsize: int,
        policy: QueuePolicy | str,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.streams = streams
        self.maxsize = maxsize
        self.policy = QueuePolicy(policy)
        self.dropped = 0
        self._owner = owner
        self._queue: deque[StreamMessage] = deque()
        self._cond = threading.Condition()
        self._room: asyncio.Future[None] | None = None  # lives on the manager's loop
        self._done = False
        self._error: BaseException | None = None

    # called on the loop thread -----------------------------------------------------------

    def put(self, message: StreamMessage) -> Awaitable[Any] | None:
        with self._cond:
            if self._done:
                return None
            queue = self._queue
            if len(queue) >= self.maxsize:
                if self.policy is QueuePolicy.DROP_OLDEST:
                    queue.popleft()
                    self.dropped += 1
                elif self.policy is QueuePolicy.RAISE:
                    self._error = ConsumerOverflow(f"subscription fell {self.maxsize} messages behind (policy raise)")
                    self._done = True
                    self._cond.notify_all()
                    return None
                else:
                    queue.append(message)
                    self._cond.notify()
                    if self._room is None or self._room.done():
                        self._room = asyncio.get_running_loop().create_future()
                    return self._room
            queue.append(message)
            self._cond.notify()
            return None

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._done = True
            if error is not None and self._error is None:
                self._error = error
            self._cond.notify_all()
        self._release()

    # called on the caller's thread -----------------------------------------------------------

    def get(self, timeout: float | None = None) -> StreamMessage:
        """The next message, waiting up to ``timeout`` seconds (``None``: forever).

        Raises
        ------
        TimeoutError
            Nothing arrived in time.
        StopIteration
            The subscription or the manager closed and the queue is empty.
        ConsumerOverflow
            The subscription failed under the ``raise`` policy.
        """
        with self._cond:
            while True:
                if self._error is not None:
                    raise self._error
                if self._queue:
                    message = self._queue.popleft()
                    if len(self._queue) <= self.maxsize // 2:
                        self._release()
                    return message
                if self._done:
                    raise StopIteration
                if not self._cond.wait(timeout):
                    raise TimeoutError("no stream message in time")

    def _release(self) -> None:
        room = self._room
        if room is not None and not room.done():
            loop = room.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, room)

    def __iter__(self) -> Iterator[StreamMessage]:
        return self

    def __next__(self) -> StreamMessage:
        return self.get()

    def qsize(self) -> int:
        """Messages waiting."""
        return len(self._queue)

    def close(self) -> None:
        """Stop receiving; iteration ends once the queue is drained."""
        self.finish()
        self._owner._detach(self)

    def __enter__(self) -> SyncSubscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class SyncStreamManager:
    """A :class:`~binfut.stream.manager.StreamManager` driven from blocking code.

    Parameters
    ----------
    urls : Urls
        As for :class:`StreamManager`.
    timeout : float
        Real-time limit of each call into the loop thread (subscribe, unsubscribe, close).
    **kwargs
        Passed to :class:`StreamManager` (``config``, ``clock``, ``rng``, ``logger``).

    Examples
    --------
    ::

        with SyncStreamManager(urls_for("mainnet")) as streams:
            for message in streams.subscribe("btcusdt@aggTrade"):
                print(message.data.price)
    """

    def __init__(self, urls: Urls, *, timeout: float = 30.0, **kwargs: Any) -> None:
        self.urls = urls
        self.timeout = timeout
        self._kwargs = kwargs
        self._runner = LoopThread("binfut-streams", "SyncStreamManager")
        self._manager: StreamManager | None = None
        self._subs: list[SyncSubscription] = []

    @property
    def manager(self) -> StreamManager:
        """The async manager (use it only through :meth:`call`)."""
        if self._manager is None:
            raise RuntimeError("SyncStreamManager is not started")
        return self._manager

    def start(self) -> SyncStreamManager:
        """Start the loop thread and the manager."""
        if self._runner.running:
            return self
        self._runner.start(self.timeout)

        async def create() -> StreamManager:
            manager = StreamManager(self.urls, **self._kwargs)
            await manager.start()
            return manager

        self._manager = self.call(create())
        return self

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop thread and return its result (waits up to ``timeout``)."""
        return self._runner.call(coro, self.timeout)

    def subscribe(
        self, *streams: str, maxsize: int = 10_000, policy: QueuePolicy | str = QueuePolicy.BLOCK
    ) -> SyncSubscription:
        """Subscribe ``streams`` and return an iterator of their messages.

        The subscription is attached before the SUBSCRIBE goes out, so it sees the first events.
        """
        subscription = self.events(*streams, maxsize=maxsize, policy=policy)
        try:
            self.call(self.manager.subscribe(*streams))
        except BaseException:
            subscription.close()
            raise
        return subscription

    def events(
        self, *streams: str, maxsize: int = 10_000, policy: QueuePolicy | str = QueuePolicy.BLOCK
    ) -> SyncSubscription:
        """A subscription to messages of ``streams`` (or all) without subscribing anything."""
        wanted = frozenset(normalize_stream(s) for s in streams) or None
        subscription = SyncSubscription(self, wanted, maxsize, policy)
        manager = self.manager

        async def attach() -> None:
            manager.attach(subscription)

        self.call(attach())
        self._subs.append(subscription)
        return subscription

    def _detach(self, subscription: SyncSubscription) -> None:
        if subscription in self._subs:
            self._subs.remove(subscription)
        if self._manager is not None:
            self._runner.call_soon(self._manager.detach, subscription)

    def unsubscribe(self, *streams: str) -> list[str]:
        """Unsubscribe ``streams`` live."""
        return self.call(self.manager.unsubscribe(*streams))

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until every connection is open."""
        self.call(self.manager.wait_ready(timeout))

    def health(self) -> list[ConnectionHealth]:
        """Per-connection health (see :meth:`StreamManager.health`)."""

        async def read() -> list[ConnectionHealth]:
            return self.manager.health()

        return self.call(read())

    def close(self) -> None:
        """Close the manager, end every subscription and join the loop thread (idempotent)."""
        if not self._runner.running:
            return
        if self._manager is not None:
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                self.call(self._manager.close())
        for subscription in list(self._subs):
            subscription.finish()
        self._subs.clear()
        self._runner.stop(self.timeout)
        self._manager = None

    def __enter__(self) -> SyncStreamManager:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
