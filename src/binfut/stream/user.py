"""UserDataStream: the account's user-data stream that never silently dies and never loses a fill.

It drives :class:`~binfut.protocol.userstream.ListenKeyMachine` (the listenKey lifecycle table):
creates the key through REST, connects (``/private/ws?listenKey=KEY`` or ``/ws/KEY``), keeps the key
alive on the machine's schedule (injected clock), and recreates it on ``listenKeyExpired``, on -1125
or when connections keep failing. After **every** reconnect it reconciles through REST (open orders,
orders created since the gap, fills, algo orders, positions) with
:class:`~binfut.protocol.userstream.UserStateTracker` and emits what the gap hid — see
:meth:`UserDataStream._reconcile` for exactly what is fetched and emitted.
Rules kept here: one driver task performs the machine's actions in order; the socket's reader only
decodes frames, folds them into the tracker and hands them out; nothing blocks the loop; consumers
get items through ``async for``, callbacks, or the sync :class:`UserDataStreamThread` (on a
:class:`~binfut.stream._loop.LoopThread`). The socket is a
:class:`~binfut.stream.connection.StreamConnection` per listenKey (reconnects, watchdog, lifecycle);
its 24-hour rotation is off by default because raw user events carry no stream name to hand over by:
Binance's own 24-hour close is a reconnect, and the reconciliation covers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from binfut.client.async_client import AsyncClient
from binfut.clock import Clock
from binfut.errors import ApiError, BinfutError, UnknownOrder
from binfut.protocol.models.trade import AlgoOrder, Order, UserTrade
from binfut.protocol.userevents import ListenKeyExpired, UserEvent, decode_user_event
from binfut.protocol.userstream import (
    Action,
    ActionKind,
    KeyInput,
    KeyState,
    ListenKeyMachine,
    MissedTrade,
    ReconciledAlgoOrder,
    ReconciledOrder,
    ReconciledPosition,
    ReconcileSummary,
    UserStateTracker,
    UserStreamConfig,
)
from binfut.stream._loop import LoopThread
from binfut.stream.connection import (
    ConnectionState,
    LifecycleEvent,
    LifecycleKind,
    StreamConfig,
    StreamConnection,
    clock_sleep,
)

__all__ = ["StreamItem", "UserDataStream", "UserDataStreamThread", "UserStreamStatus"]

_log = logging.getLogger("binfut.stream.user")
_UNKNOWN_KEY = -1125  # "This listenKey does not exist." (keepalive of an expired key)
_TRADES_PAGE = 1000
_END: Any = object()


class UserStreamStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A lifecycle event of the stream (not account data).

    ``kind`` is one of: ``key_created``, ``key_renewed``, ``keepalive``, ``keepalive_failed``,
    ``key_create_failed``, ``key_expired``, ``connected``, ``disconnected``, ``connect_failed``,
    ``reconcile_failed``, ``unknown_event``, ``action_failed``, ``reader_failed``, ``closed``. ``listen_key`` shows the key's first 8 characters.
    """

    kind: str
    state: str
    time_ms: int
    listen_key: str = ""
    detail: str = ""


StreamItem = (
    UserEvent | MissedTrade | ReconciledOrder | ReconciledAlgoOrder | ReconciledPosition | ReconcileSummary | UserStreamStatus
)
"""What the stream hands out: Binance's events, the reconciliation's synthetic events and, with
``status_events=True``, :class:`UserStreamStatus`."""


class UserDataStream:
    """The account's user-data stream (asyncio).

    Parameters
    ----------
    client : an :class:`~binfut.client.AsyncClient` with credentials (listenKey and reconciliation calls)
    ws_url : base URL of the user-data WebSocket (default ``client.urls.ws_private``)
    clock : schedules keepalives and retries (default ``client.clock``)
    rng : keepalive jitter and backoff (default ``client.rng``)
    config : schedule and reconciliation settings
    symbols : symbols scanned for orders created during a gap (symbols seen are added automatically)
    connection : the socket's settings (backoff, watchdog); default: no 24-hour rotation
    status_events : also yield :class:`UserStreamStatus` items from ``async for``

    Use ``async with UserDataStream(client) as stream: async for item in stream: ...``.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        ws_url: str | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        config: UserStreamConfig | None = None,
        symbols: Sequence[str] = (),
        connection: StreamConfig | None = None,
        status_events: bool = False,
    ) -> None:
        self.client = client
        self.config = config or UserStreamConfig()
        self.ws_url = (ws_url or client.urls.ws_private).rstrip("/")
        self.clock: Clock = clock or client.clock
        self.machine = ListenKeyMachine(self.config, rng or client.rng)
        self.tracker = UserStateTracker(symbols)
        self.status_events = status_events
        self.statuses: deque[UserStreamStatus] = deque(maxlen=1000)  # recent lifecycle events
        self.keepalives = 0
        self.reconciliations = 0
        self.connection_config = connection or StreamConfig(max_age_s=None)
        self._rng = rng or client.rng
        self._items: asyncio.Queue[Any] = asyncio.Queue()
        self._inputs: deque[tuple[KeyInput, str]] = deque()
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self._conn: StreamConnection | None = None
        self._conn_key = ""
        self._check: asyncio.Task[None] | None = None
        self._sleeper: asyncio.Task[None] | None = None
        self._event_callbacks: list[Callable[[Any], object]] = []
        self._status_callbacks: list[Callable[[UserStreamStatus], object]] = []
        self._expired_keys: set[str] = set()
        self._gaps_tried: frozenset[int] = frozenset()
        self._gap_since: int | None = None  # server ms from which events may be lost
        self._closed = False

    # -- public surface ----------------------------------------------------------------------------

    @property
    def state(self) -> KeyState:
        return self.machine.state

    @property
    def listen_key(self) -> str:
        return self.machine.listen_key

    def on_event(self, callback: Callable[[Any], object]) -> Callable[[], None]:
        """Call ``callback(item)`` for every data item (events and reconciliation items); returns a remover.

        Callbacks run on the event loop, synchronously: they must not block.
        """
        self._event_callbacks.append(callback)
        return lambda: self._event_callbacks.remove(callback) if callback in self._event_callbacks else None

    def on_status(self, callback: Callable[[UserStreamStatus], object]) -> Callable[[], None]:
        """Call ``callback(status)`` for every lifecycle event; returns a remover."""
        self._status_callbacks.append(callback)
        return lambda: self._status_callbacks.remove(callback) if callback in self._status_callbacks else None

    async def start(self, *, wait: bool = True, timeout: float = 30.0) -> None:
        """Create the key, connect and take the initial snapshot.

        Parameters
        ----------
        wait : return only once connected and reconciled (bounded by ``timeout`` seconds)

        Raises
        ------
        TimeoutError
            Not ready within ``timeout`` (the stream keeps trying in the background).
        """
        if self._driver is None:
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="binfut-userstream")
            self._post(KeyInput.START)
        if wait:
            async with asyncio.timeout(timeout):
                await self._ready.wait()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until connected and reconciled (after a reconnect too)."""
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    async def aclose(self) -> None:
        """Stop: close the WebSocket, delete the listenKey (``close_key_on_exit``), end iteration."""
        if self._closed:
            return
        self._closed = True
        for task in (self._driver, self._sleeper, self._check):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        actions = self.machine.feed(KeyInput.STOP, self._now_ms())
        for action in actions:
            with contextlib.suppress(BinfutError, TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._perform(action)
        await self._disconnect()
        self._status("closed")
        self._items.put_nowait(_END)

    async def __aenter__(self) -> UserDataStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> UserDataStream:
        return self

    async def __anext__(self) -> StreamItem:
        item = await self._items.get()
        if item is _END:
            self._items.put_nowait(_END)  # later iterations end too
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    async def reconcile(self, reason: str = "manual") -> None:
        """Run a reconciliation now (e.g. after the application itself was paused)."""
        await self._reconcile(reason)

    # -- the driver: performs the machine's actions ------------------------------------------------

    def _now_ms(self) -> int:
        return self.clock.time_ns() // 1_000_000

    def _post(self, event: KeyInput, key: str = "") -> None:
        self._inputs.append((event, key))
        self._wake.set()

    async def _drive(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                now = self._now_ms()
                actions = self.machine.fire_timer(now)
                if not actions:
                    if not self._inputs:
                        if self._fill_gap_due():
                            # A live event's cumulative fill ran ahead of the fills handed out.
                            await self._reconcile_with_retry("fill_gap")
                            continue
                        break
                    event, key = self._inputs.popleft()
                    actions = self.machine.feed(event, now, listen_key=key)
                for action in actions:
                    try:
                        await self._perform(action)
                    except Exception as exc:  # never let one failed action end the stream
                        _log.exception("user-stream action %s failed", action.kind)
                        self._status("action_failed", detail=f"{action.kind}: {_describe(exc)}")

    def _fill_gap_due(self) -> bool:
        """Fill gaps not yet tried (each set of gaps is reconciled once, so an unresolvable one
        cannot make the stream hammer REST)."""
        gaps = frozenset(self.tracker.fill_gaps)
        if not gaps or gaps <= self._gaps_tried or not self._ready.is_set():
            return False
        self._gaps_tried = gaps
        return True

    async def _perform(self, action: Action) -> None:
        kind = action.kind
        if kind is ActionKind.CREATE:
            await self._create()
        elif kind is ActionKind.KEEPALIVE:
            await self._keepalive()
        elif kind is ActionKind.CONNECT:
            await self._connect(action.listen_key)
        elif kind in (ActionKind.ARM_KEEPALIVE, ActionKind.ARM_KEEPALIVE_RETRY, ActionKind.ARM_CREATE_RETRY):
            self._arm(action.at_ms)
        elif kind is ActionKind.RECONCILE:
            if self.config.reconcile:
                await self._reconcile_with_retry(action.reason)
            conn = self._conn
            if conn is not None and conn.state is ConnectionState.OPEN:
                self._ready.set()  # (a socket that dropped meanwhile reconciles again on reconnect)
        elif kind is ActionKind.DISCONNECT:
            await self._disconnect()
        elif kind is ActionKind.CLOSE_KEY and self.config.close_key_on_exit and action.listen_key:
            await self.client.close_user_stream()

    async def _create(self) -> None:
        renewing = bool(self.machine.listen_key)
        try:
            key = (await self.client.start_user_stream()).listen_key
        except BinfutError as exc:
            self._status("key_create_failed", detail=_describe(exc))
            self._post(KeyInput.CREATE_FAILED)
            return
        self._status("key_renewed" if renewing else "key_created", key=key)
        self._post(KeyInput.CREATED, key)

    async def _keepalive(self) -> None:
        try:
            await self.client.keepalive_user_stream()
        except ApiError as exc:
            self._status("keepalive_failed", detail=_describe(exc))
            self._post(KeyInput.KEEPALIVE_UNKNOWN_KEY if exc.code == _UNKNOWN_KEY else KeyInput.KEEPALIVE_FAILED)
            return
        except BinfutError as exc:
            self._status("keepalive_failed", detail=_describe(exc))
            self._post(KeyInput.KEEPALIVE_FAILED)
            return
        self.keepalives += 1
        self._status("keepalive")
        self._post(KeyInput.KEEPALIVE_OK)

    def _arm(self, at_ms: int) -> None:
        """Wake the driver when the clock reaches ``at_ms`` (stale wake-ups are harmless)."""
        call_at = getattr(self.clock, "call_at", None)
        if callable(call_at):
            # A ManualClock only moves when told to: its own timer queue wakes us (possibly from the
            # thread that advances it).
            loop = asyncio.get_running_loop()

            def wake() -> None:
                if not self._closed and not loop.is_closed():
                    loop.call_soon_threadsafe(self._wake.set)

            call_at(at_ms * 1_000_000, wake)
            return
        if self._sleeper is not None:
            self._sleeper.cancel()
        delay = max(0.0, (at_ms - self._now_ms()) / 1000)
        self._sleeper = asyncio.get_running_loop().create_task(self._sleep_then_wake(delay))

    async def _sleep_then_wake(self, delay: float) -> None:
        await clock_sleep(self.clock, delay)
        self._wake.set()

    # -- the reader ----------------------------------------------------------------------------------

    def _url(self, key: str) -> str:
        if self.config.url_style == "ws":
            return f"{self.ws_url}/ws/{key}"
        return f"{self.ws_url}/ws?listenKey={key}"

    @property
    def connection(self) -> StreamConnection | None:
        """The socket of the current key (health, lifecycle); None while there is none."""
        return self._conn

    async def _connect(self, key: str) -> None:
        if self._conn is not None and self._conn_key == key:
            return  # POST answered with the key we are already reading
        await self._disconnect()
        self._conn_key = key
        self._conn = StreamConnection(
            self._url(key),
            on_message=lambda data: self._on_frame(key, data),
            combined=False,
            on_lifecycle=lambda event: self._on_connection(key, event),
            config=self.connection_config,
            clock=self.clock,
            rng=self._rng,
            label="user-data",
        )
        await self._conn.start()
        self._arm_connect_check(key)

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if conn is not None:
            await conn.close()

    def _on_connection(self, key: str, event: LifecycleEvent) -> None:
        """Lifecycle of the socket of ``key``: feed the machine, note where a gap starts."""
        if key != self._conn_key:
            return  # the socket of a key already replaced
        kind = event.kind
        if kind in (LifecycleKind.CONNECTED, LifecycleKind.RECONNECTED):
            if self._check is not None:
                self._check.cancel()
                self._check = None
            self._status("connected", key=key, detail=event.reason)
            self._post(KeyInput.CONNECTED, key)
        elif kind is LifecycleKind.DISCONNECTED:
            # Events after the last one received may be lost from here on.
            self._mark_gap()
            self._ready.clear()
            self._status("disconnected", key=key, detail=event.reason)
            self._post(KeyInput.DISCONNECTED, key)
            self._arm_connect_check(key)

    def _arm_connect_check(self, key: str) -> None:
        """If the socket is not open ``connect_check_s`` from now, ask the machine to check the key
        (Binance refuses connections for an unknown key instead of sending listenKeyExpired)."""
        if self._check is not None:
            self._check.cancel()
        self._check = asyncio.get_running_loop().create_task(self._connect_check(key))

    async def _connect_check(self, key: str) -> None:
        await clock_sleep(self.clock, self.config.connect_check_s)
        conn = self._conn
        if conn is not None and self._conn_key == key and conn.state is not ConnectionState.OPEN:
            self._status("connect_failed", key=key, detail=f"not connected after {self.config.connect_check_s:g} s")
            self._post(KeyInput.CONNECT_FAILED, key)

    def _mark_gap(self) -> None:
        """Remember where events may start to be lost (kept until a reconciliation covered it)."""
        since = self.tracker.since_ms(self.config.reconcile_lookback_ms)
        if self._gap_since is None or since < self._gap_since:
            self._gap_since = since

    def _on_frame(self, key: str, data: str | bytes) -> None:
        try:
            event = decode_user_event(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            # Binance adds event types over time (GRID_UPDATE, STRATEGY_UPDATE, ...): skip, say so.
            self._status("unknown_event", key=key, detail=str(exc)[:200])
            return
        if isinstance(event, ListenKeyExpired):
            if event.listen_key in self._expired_keys:
                return  # told again on a reconnect to the dead key: already handled
            self._expired_keys.add(event.listen_key)
            self._mark_gap()
            self._status("key_expired", key=event.listen_key)
            self._post(KeyInput.EXPIRED_EVENT, event.listen_key)
            self._emit(event)
            return
        if self.tracker.apply(event):
            self._emit(event)
        if self.tracker.fill_gaps and self._ready.is_set():
            self._wake.set()  # the driver reconciles the lost fills (see _drive)

    # -- reconciliation ------------------------------------------------------------------------------

    async def _reconcile_with_retry(self, reason: str, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                await self._reconcile(reason)
                return
            except BinfutError as exc:
                self._status("reconcile_failed", detail=_describe(exc))
                if attempt + 1 < attempts:
                    await clock_sleep(self.clock, self.config.reconcile_retry_s * 2.0**attempt)

    async def _reconcile(self, reason: str) -> None:
        """Fetch through REST what a gap may have hidden and emit the difference.

        Fetched: open orders (all symbols); each order last reported open but no longer open, by id;
        except on the initial snapshot, ``allOrders`` since the gap for every symbol seen or
        configured (orders created *and* finished during the gap) and ``userTrades`` since the gap
        for symbols with unreported fills (``orderId`` queries when those do not explain a fill);
        each order again, by id, whose fills found there go beyond its copy fetched before them;
        open algo orders and each algo order last reported open, by id; positions (v3).
        Emitted: see :meth:`UserStateTracker.reconcile` — ``MissedTrade`` per unseen fill,
        ``ReconciledOrder`` / ``ReconciledAlgoOrder`` / ``ReconciledPosition`` per changed item,
        then one ``ReconcileSummary``. On the initial snapshot that means one ``ReconciledOrder``
        per open order, one ``ReconciledAlgoOrder`` per open algo order and one ``ReconciledPosition``
        per open position (the baseline).
        """
        client, tracker = self.client, self.tracker
        initial = reason == "initial"
        gap = self._gap_since
        since = gap if gap is not None else tracker.since_ms(self.config.reconcile_lookback_ms)
        open_orders = await client.open_orders()
        orders: list[Order] = list(open_orders)
        open_ids = {o.order_id for o in open_orders}
        unresolved: list[int] = []
        for order_id, symbol in tracker.open_order_ids().items():
            if order_id not in open_ids:
                try:
                    orders.append(await client.query_order(symbol=symbol, order_id=order_id))
                except UnknownOrder:
                    unresolved.append(order_id)
        if not initial:
            for symbol in sorted(tracker.symbols | {o.symbol for o in open_orders}):
                orders.extend(await client.all_orders(symbol=symbol, start_time=since, limit=1000))
        algos: list[AlgoOrder] = list(await client.open_algo_orders())
        open_algo_ids = {a.algo_id for a in algos}
        for algo_id in tracker.open_algo_ids():
            if algo_id not in open_algo_ids:
                with contextlib.suppress(UnknownOrder):
                    algos.append(await client.query_algo_order(algo_id=algo_id))
        positions = await client.position_risk()
        trades: list[UserTrade] = []
        if not initial:
            for symbol in sorted(tracker.needs_trades(orders)):
                trades.extend(await self._trades_since(symbol, since))
            for order_id, symbol in tracker.uncovered(orders, trades).items():
                trades.extend(await client.user_trades(symbol=symbol, order_id=order_id))
            for order_id, symbol in tracker.outrun(orders, trades).items():
                with contextlib.suppress(UnknownOrder):
                    orders.append(await client.query_order(symbol=symbol, order_id=order_id))
        items = tracker.reconcile(
            reason=reason,
            since_ms=since,
            orders=orders,
            trades=trades,
            algo_orders=algos,
            positions=positions,
            unresolved=unresolved,
        )
        if self._gap_since == gap:
            self._gap_since = None  # covered (unless the connection dropped again meanwhile)
        self.reconciliations += 1
        for item in items:
            self._emit(item)

    async def _trades_since(self, symbol: str, since: int) -> list[UserTrade]:
        page = await self.client.user_trades(symbol=symbol, start_time=since, limit=_TRADES_PAGE)
        out = list(page)
        while len(page) == _TRADES_PAGE:  # more than a page: continue by trade id
            page = await self.client.user_trades(symbol=symbol, from_id=page[-1].id + 1, limit=_TRADES_PAGE)
            out.extend(page)
        return out

    # -- output --------------------------------------------------------------------------------------

    def _emit(self, item: Any) -> None:
        self._items.put_nowait(item)
        for callback in tuple(self._event_callbacks):
            try:
                callback(item)
            except Exception:  # a consumer's bug must not kill the stream
                _log.exception("user-stream callback failed")

    def _status(self, kind: str, *, key: str = "", detail: str = "") -> None:
        status = UserStreamStatus(
            kind=kind, state=str(self.machine.state), time_ms=self._now_ms(), listen_key=key[:8], detail=detail
        )
        self.statuses.append(status)
        _log.debug("user stream %s %s %s", kind, status.listen_key, detail)
        if self.status_events:
            self._items.put_nowait(status)
        for callback in tuple(self._status_callbacks):
            try:
                callback(status)
            except Exception:
                _log.exception("user-stream status callback failed")

    def __repr__(self) -> str:
        return f"UserDataStream(state={self.state}, key={self.listen_key[:8]}…)"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class UserDataStreamThread:
    """A :class:`UserDataStream` in a background thread with its own event loop (blocking API).

    The thread is a :class:`~binfut.stream._loop.LoopThread`, the one under ``SyncStreamManager`` and
    ``LiveOrderBookThread`` too.

    Parameters
    ----------
    make_client : called inside the thread to build the :class:`~binfut.client.AsyncClient`
        (an aiohttp session belongs to the loop that created it)
    kwargs : passed to :class:`UserDataStream`

    Iterate it (``for item in stream_thread``) or call :meth:`get`; ``with`` starts and stops it.
    After :meth:`stop`, :meth:`get` answers None at once; :meth:`start` again opens a new stream,
    and items not read before the stop are still delivered first.
    """

    def __init__(self, make_client: Callable[[], AsyncClient], **kwargs: Any) -> None:
        self._make_client = make_client
        self._kwargs = kwargs
        self._items: queue.Queue[Any] = queue.Queue()
        self._runner = LoopThread("binfut-userstream", "UserDataStreamThread")
        self._client: AsyncClient | None = None
        self.stream: UserDataStream | None = None

    def start(self, timeout: float = 30.0) -> UserDataStreamThread:
        """Start the thread; returns once the stream is connected and reconciled (idempotent).

        Raises
        ------
        RuntimeError
            The stream did not become ready in ``timeout`` seconds, or failed to start.
        """
        if self._runner.running:
            return self
        self._reopen_queue()
        self._runner.start(timeout)
        try:
            # The stream bounds its own wait by ``timeout``; the margin is for building the client.
            self._runner.call(self._open(timeout), timeout + 5)
        except BaseException as exc:
            self.stop()
            if isinstance(exc, Exception):
                raise RuntimeError("the user-data stream did not start") from exc
            raise
        return self

    def _reopen_queue(self) -> None:
        """A restart: drop the end marker of the last stop, keep the items not read yet."""
        old, self._items = self._items, queue.Queue()
        while True:
            try:
                item = old.get_nowait()
            except queue.Empty:
                return
            if item is not _END:
                self._items.put(item)

    async def _open(self, timeout: float) -> None:
        self._client = self._make_client()
        stream = self.stream = UserDataStream(self._client, **self._kwargs)
        stream.on_event(self._items.put)
        await stream.start(timeout=timeout)

    async def _close(self) -> None:
        stream, client, self._client = self.stream, self._client, None
        try:
            if stream is not None:
                await stream.aclose()
        finally:
            if client is not None:
                await client.aclose()

    def get(self, timeout: float | None = None) -> StreamItem | None:
        """The next item, or None after ``timeout`` seconds / once stopped."""
        try:
            item = self._items.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._items.put(_END)
            return None
        return item  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[StreamItem]:
        while (item := self.get()) is not None:
            yield item

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the stream, close its client and join the thread within ``timeout`` seconds (idempotent)."""
        if not self._runner.running:
            return
        if not self._runner.stop(timeout, self._close()):
            _log.warning("UserDataStreamThread: the loop thread did not end within %s s", timeout)
        self._items.put(_END)

    def __enter__(self) -> UserDataStreamThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
