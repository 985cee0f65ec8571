"""Live WebSocket streams: connections that never die silently, a stream manager, an exact local book.

- :mod:`binfut.stream.connection`: :class:`StreamConnection`, one reconnecting, self-rotating socket
  (the seam the user-data stream and the WebSocket API build on), its config and lifecycle events.
- :mod:`binfut.stream.manager`: :class:`StreamManager`, subscriptions sharded over connections, typed
  events to bounded consumers (``block`` / ``drop_oldest`` / ``raise``) and callbacks, health.
- :mod:`binfut.stream.sync`: :class:`SyncStreamManager`, the same from blocking code via a loop thread.
- :mod:`binfut.stream.live_book`: :class:`LiveOrderBook`, local books of many symbols kept exact from the
  diff stream and weight-budgeted REST snapshots.
- :mod:`binfut.stream.book_thread`: :class:`LiveOrderBookThread`, the same books on a loop thread, read
  from blocking code on any thread without a race.
- :mod:`binfut.stream.user`: :class:`UserDataStream`, the listenKey stream kept alive and renewed, with
  REST reconciliation after every gap so no fill is missed.
- :mod:`binfut.stream.wsapi`: :class:`WsApiClient`, the WebSocket API (``/ws-fapi/v1``) with the REST
  client's method signatures and error classes.
"""

from binfut.stream.book_thread import BookLevels, LiveOrderBookThread
from binfut.stream.connection import (
    STATE_TRANSITIONS,
    ConnectionHealth,
    ConnectionState,
    LifecycleEvent,
    LifecycleKind,
    StreamConfig,
    StreamConnection,
    SubscriptionError,
    clock_sleep,
    sleep_until,
)
from binfut.stream.live_book import BookStats, LiveOrderBook
from binfut.stream.manager import (
    CallbackConsumer,
    Consumer,
    ConsumerOverflow,
    FrameCallback,
    FrameTap,
    ManagerStats,
    QueuePolicy,
    Sink,
    StreamManager,
)
from binfut.stream.sync import SyncStreamManager, SyncSubscription
from binfut.stream.user import StreamItem, UserDataStream, UserDataStreamThread, UserStreamStatus
from binfut.stream.wsapi import WsApiClient, WsApiConfig

__all__ = [
    "STATE_TRANSITIONS",
    "BookLevels",
    "BookStats",
    "CallbackConsumer",
    "ConnectionHealth",
    "ConnectionState",
    "Consumer",
    "ConsumerOverflow",
    "FrameCallback",
    "FrameTap",
    "LifecycleEvent",
    "LifecycleKind",
    "LiveOrderBook",
    "LiveOrderBookThread",
    "ManagerStats",
    "QueuePolicy",
    "Sink",
    "StreamConfig",
    "StreamConnection",
    "StreamItem",
    "StreamManager",
    "SubscriptionError",
    "SyncStreamManager",
    "SyncSubscription",
    "UserDataStream",
    "UserDataStreamThread",
    "UserStreamStatus",
    "WsApiClient",
    "WsApiConfig",
    "clock_sleep",
    "sleep_until",
]
