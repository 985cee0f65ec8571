"""USD-M WebSocket stream names, URL routing, control frames and connection planning (sans-IO).

Owns every fact about *which* streams exist and *where* they go; nothing here opens a socket or reads a
clock (time comes in as ``now_ms``). Rules kept here (Binance "Websocket Market Streams"):

- a name is ``<symbol>@<suffix>``: the symbol part is case-insensitive and sent lower-case, the suffix is
  case-sensitive (``kline_1m`` is a minute, ``kline_1M`` a month); all-market streams start with ``!``;
  a name without ``@`` is a listenKey (a user-data stream);
- routing of Binance's 2025 URL split: book streams (``depth*``, ``bookTicker``, ``!bookTicker``) go to
  ``/public``, every other market stream to ``/market``, listenKeys to ``/private``;
- at most 1024 streams per connection, and at most 10 incoming messages per second per connection (a
  SUBSCRIBE frame is one message however many streams it carries, so streams are batched per frame);
- a control request is ``{"method","params","id"}`` and its reply ``{"result"|"error","id"}``;
- a connection moves through :data:`STATE_TRANSITIONS` only; :class:`StreamConfig` holds its timings
  (Binance: a connection lives at most 24 hours).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

import msgspec

from binfut.enums import ContractType, KlineInterval
from binfut.errors import LocalProtocolError

__all__ = [
    "ALL_BOOK_TICKER",
    "ALL_FORCE_ORDER",
    "ALL_MINI_TICKER",
    "ALL_TICKER",
    "MAX_INCOMING_PER_SECOND",
    "MAX_STREAMS_PER_CONNECTION",
    "STATE_TRANSITIONS",
    "ConnectionHealth",
    "ConnectionState",
    "ControlError",
    "ControlReply",
    "LifecycleEvent",
    "LifecycleKind",
    "MessagePacer",
    "Route",
    "ShardKey",
    "StreamConfig",
    "StreamPlanner",
    "agg_trade",
    "all_mark_price",
    "batched",
    "book_ticker",
    "combined_url",
    "continuous_kline",
    "control_frame",
    "diff_depth",
    "force_order",
    "is_stream_data",
    "kline",
    "mark_price",
    "mini_ticker",
    "normalize_stream",
    "parse_control_reply",
    "partial_depth",
    "plan_shards",
    "route_of",
    "split_url_streams",
    "ticker",
    "trade",
]

MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_PER_SECOND = 10

ALL_TICKER = "!ticker@arr"
ALL_MINI_TICKER = "!miniTicker@arr"
ALL_BOOK_TICKER = "!bookTicker"
ALL_FORCE_ORDER = "!forceOrder@arr"

# Stream parameters Binance accepts (names are checked before anything is sent: a bad name in a SUBSCRIBE
# makes the server reject the whole frame).
_DIFF_SPEEDS = {None: "", "250ms": "", "100ms": "@100ms", "500ms": "@500ms", "0ms": "@0ms"}
_PARTIAL_SPEEDS = {None: "", "250ms": "", "100ms": "@100ms", "500ms": "@500ms"}
_LEVELS = (5, 10, 20)
_INTERVALS = frozenset(i.value for i in KlineInterval)
_SYMBOL = re.compile(r"[A-Za-z0-9]{2,30}")
_NAME = re.compile(r"[A-Za-z0-9!@._]+")  # the character set of the asyncapi "params" pattern
# Suffixes carried by /public: the order book (diff, partial, RPI) and the best bid/ask.
_PUBLIC_SUFFIXES = ("depth", "rpiDepth", "bookTicker")


class Route(StrEnum):
    """Which of Binance's stream endpoints (``/public``, ``/market``, ``/private``) carries a stream."""

    PUBLIC = "public"
    MARKET = "market"
    PRIVATE = "private"


# ---------------------------------------------------------------------------------------------- names


def _symbol(symbol: str) -> str:
    if not _SYMBOL.fullmatch(symbol):
        raise LocalProtocolError(f"not a symbol: {symbol!r}")
    return symbol.lower()


def _interval(interval: str | KlineInterval) -> str:
    value = str(interval.value if isinstance(interval, KlineInterval) else interval)
    if value not in _INTERVALS:
        raise LocalProtocolError(f"not a kline interval: {value!r}; one of {sorted(_INTERVALS)}")
    return value


def agg_trade(symbol: str) -> str:
    """``<symbol>@aggTrade``: trades aggregated by price and taker side, pushed every 100 ms."""
    return f"{_symbol(symbol)}@aggTrade"


def trade(symbol: str) -> str:
    """``<symbol>@trade``: every trade as it happens."""
    return f"{_symbol(symbol)}@trade"


def mark_price(symbol: str, *, every_second: bool = False) -> str:
    """``<symbol>@markPrice`` (every 3 s) or ``<symbol>@markPrice@1s``."""
    return f"{_symbol(symbol)}@markPrice{'@1s' if every_second else ''}"


def all_mark_price(*, every_second: bool = False) -> str:
    """``!markPrice@arr`` (every 3 s) or ``!markPrice@arr@1s``: mark prices of all symbols."""
    return "!markPrice@arr@1s" if every_second else "!markPrice@arr"


def kline(symbol: str, interval: str | KlineInterval) -> str:
    """``<symbol>@kline_<interval>``, pushed every 250 ms while the bar changes.

    Raises
    ------
    LocalProtocolError
        If ``interval`` is not one of Binance's (``1m`` ... ``1M``).
    """
    return f"{_symbol(symbol)}@kline_{_interval(interval)}"


def continuous_kline(pair: str, contract_type: str | ContractType, interval: str | KlineInterval) -> str:
    """``<pair>_<contractType>@continuousKline_<interval>`` (contract type lower-case on the wire).

    Raises
    ------
    LocalProtocolError
        If the contract type or the interval is not one Binance has.
    """
    kind = str(contract_type.value if isinstance(contract_type, ContractType) else contract_type).upper()
    if kind not in ContractType._value2member_map_:
        raise LocalProtocolError(f"not a contract type: {contract_type!r}")
    return f"{_symbol(pair)}_{kind.lower()}@continuousKline_{_interval(interval)}"


def mini_ticker(symbol: str) -> str:
    """``<symbol>@miniTicker``: 24 h rolling statistics, pushed every 500 ms."""
    return f"{_symbol(symbol)}@miniTicker"


def ticker(symbol: str) -> str:
    """``<symbol>@ticker``: full 24 h rolling statistics, pushed every 2 s."""
    return f"{_symbol(symbol)}@ticker"


def book_ticker(symbol: str) -> str:
    """``<symbol>@bookTicker``: best bid / ask price and quantity, in real time."""
    return f"{_symbol(symbol)}@bookTicker"


def force_order(symbol: str) -> str:
    """``<symbol>@forceOrder``: the latest liquidation order of the symbol within each 1000 ms."""
    return f"{_symbol(symbol)}@forceOrder"


def partial_depth(symbol: str, levels: int, speed: str | None = None) -> str:
    """``<symbol>@depth<levels>[@100ms|@500ms]``: the top 5, 10 or 20 levels (default speed 250 ms).

    Raises
    ------
    LocalProtocolError
        If ``levels`` is not 5, 10 or 20 or ``speed`` is not ``"100ms"``, ``"250ms"`` or ``"500ms"``.
    """
    if levels not in _LEVELS:
        raise LocalProtocolError(f"partial depth levels must be one of {_LEVELS}, got {levels!r}")
    if speed not in _PARTIAL_SPEEDS:
        raise LocalProtocolError(f"partial depth speed must be one of 100ms, 250ms, 500ms, got {speed!r}")
    return f"{_symbol(symbol)}@depth{levels}{_PARTIAL_SPEEDS[speed]}"


def diff_depth(symbol: str, speed: str | None = None) -> str:
    """``<symbol>@depth[@100ms|@500ms|@0ms]``: diff depth for a local book (default speed 250 ms).

    Raises
    ------
    LocalProtocolError
        If ``speed`` is not ``"0ms"``, ``"100ms"``, ``"250ms"`` or ``"500ms"``.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Diff-Book-Depth-Streams
    """
    if speed not in _DIFF_SPEEDS:
        raise LocalProtocolError(f"diff depth speed must be one of 0ms, 100ms, 250ms, 500ms, got {speed!r}")
    return f"{_symbol(symbol)}@depth{_DIFF_SPEEDS[speed]}"


def normalize_stream(name: str) -> str:
    """A stream name as Binance writes it in combined frames: the symbol part lower-case.

    listenKeys and ``!`` streams are returned unchanged (a listenKey is case-sensitive).

    Raises
    ------
    LocalProtocolError
        If the name is empty or holds characters no stream name has.
    """
    if not _NAME.fullmatch(name):
        raise LocalProtocolError(f"not a stream name: {name!r}")
    head, sep, suffix = name.partition("@")
    if not sep or name.startswith("!"):
        return name
    if not head or not suffix:
        raise LocalProtocolError(f"not a stream name: {name!r}")
    return f"{head.lower()}@{suffix}"


def route_of(stream: str) -> Route:
    """The endpoint that carries ``stream``: ``/public`` for book streams, ``/private`` for listenKeys.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
    """
    head, sep, suffix = stream.partition("@")
    if not sep:
        return Route.PUBLIC if stream == ALL_BOOK_TICKER else Route.PRIVATE
    return Route.PUBLIC if suffix.startswith(_PUBLIC_SUFFIXES) else Route.MARKET


# ---------------------------------------------------------------------------------------------- URLs


def combined_url(base: str, streams: Sequence[str] = ()) -> str:
    """``<base>/stream?streams=a/b`` (``<base>/stream`` when ``streams`` is empty)."""
    url = base.rstrip("/") + "/stream"
    return url + "?streams=" + "/".join(streams) if streams else url


def split_url_streams(base: str, streams: Sequence[str], max_length: int = 2000) -> tuple[str, list[str]]:
    """Put as many ``streams`` into the combined URL as fit in ``max_length`` characters.

    Streams in the URL are subscribed by the handshake itself, which saves control messages (each one
    counts against the 10 messages/s limit); the rest must follow as SUBSCRIBE frames.

    Returns
    -------
    tuple[str, list[str]]
        The URL and the streams left for SUBSCRIBE frames, in order.
    """
    url = combined_url(base)
    length = len(url) + len("?streams=")
    taken = 0
    for name in streams:
        length += len(name) + (1 if taken else 0)
        if length > max_length:
            break
        taken += 1
    return combined_url(base, streams[:taken]), list(streams[taken:])


def batched(items: Sequence[str], size: int) -> list[list[str]]:
    """``items`` in consecutive chunks of at most ``size`` (one SUBSCRIBE frame each)."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------------------------- control frames


class ControlError(msgspec.Struct, frozen=True):
    """The ``error`` object of a rejected control request (code 0-3, see "Error Messages")."""

    code: int
    msg: str


class ControlReply(msgspec.Struct, frozen=True):
    """The answer to a control request: ``result`` on success, ``error`` otherwise."""

    id: int | str | None = None
    result: Any = None
    error: ControlError | None = None


class _Request(msgspec.Struct, frozen=True, omit_defaults=True):
    method: str
    params: list[str | bool] | None = None
    id: int | str = 0


_encode = msgspec.json.Encoder().encode
_reply_decoder = msgspec.json.Decoder(ControlReply)
_REPLY_PREFIXES = ('{"result"', '{"id"', '{"error"')
_REPLY_PREFIXES_B = tuple(p.encode() for p in _REPLY_PREFIXES)


def control_frame(method: str, request_id: int | str, params: Sequence[str | bool] | None = None) -> str:
    """One control request as JSON text: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET/GET_PROPERTY.

    Parameters
    ----------
    method : str
        The method name, upper-case.
    request_id : int | str
        Echoed in the reply; Binance wants an unsigned integer.
    params : sequence of str or bool, optional
        Stream names (SUBSCRIBE / UNSUBSCRIBE) or ``["combined", true]`` (SET_PROPERTY).

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Live-Subscribing-or-Unsubscribing-to-streams
    """
    body = _Request(method=method, params=list(params) if params is not None else None, id=request_id)
    return _encode(body).decode()


def is_stream_data(frame: str | bytes) -> bool:
    """True for a combined-stream data frame (``{"stream":...``), the hot-path test."""
    return frame.startswith('{"stream"') if isinstance(frame, str) else frame.startswith(b'{"stream"')


def parse_control_reply(frame: str | bytes) -> ControlReply | None:
    """The control reply in ``frame``, or ``None`` when the frame is anything else (stream data, events).

    Only frames that start like a reply (``{"result"``, ``{"id"``, ``{"error"``) are decoded, so data
    frames cost one prefix test.
    """
    looks_like = frame.startswith(_REPLY_PREFIXES) if isinstance(frame, str) else frame.startswith(_REPLY_PREFIXES_B)
    if not looks_like:
        return None
    try:
        reply = _reply_decoder.decode(frame)
    except msgspec.DecodeError:
        return None
    return reply if reply.id is not None else None


# ---------------------------------------------------------------------------------------------- pacing


class MessagePacer:
    """The outgoing-message budget of one connection: at most ``limit`` messages in any ``window_ms``.

    Binance disconnects a connection that sends more than 10 messages per second; the default keeps
    half of that for pings and pongs.

    Parameters
    ----------
    limit : int
        Messages allowed per window.
    window_ms : int
        Length of the sliding window.
    """

    __slots__ = ("_sent", "limit", "window_ms")

    def __init__(self, limit: int = 5, window_ms: int = 1000) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.window_ms = window_ms
        self._sent: list[int] = []

    def delay_ms(self, now_ms: int) -> int:
        """How long to wait before the next message may go (0: now)."""
        sent = self._sent
        cutoff = now_ms - self.window_ms
        while sent and sent[0] <= cutoff:
            sent.pop(0)
        if len(sent) < self.limit:
            return 0
        return sent[0] + self.window_ms - now_ms + 1

    def record(self, now_ms: int) -> None:
        """Count one message sent at ``now_ms``."""
        self._sent.append(now_ms)


# ---------------------------------------------------------------------------------------------- sharding


class ShardKey(NamedTuple):
    """One planned connection: its route and its number among that route's connections."""

    route: Route
    number: int

    @property
    def label(self) -> str:
        """``market-0``, ``public-1``, ...: a name for logs and health reports."""
        return f"{self.route.value}-{self.number}"


class StreamPlanner:
    """Assigns streams to connections: one route per connection, at most ``max_streams`` each.

    Incremental: :meth:`add` fills existing connections of the stream's route first (in index order) and
    opens a new one only when all are full; :meth:`remove` forgets streams and drops empty connections.

    Parameters
    ----------
    max_streams : int
        Streams per connection (Binance: 1024).
    """

    def __init__(self, max_streams: int = MAX_STREAMS_PER_CONNECTION) -> None:
        if not 1 <= max_streams <= MAX_STREAMS_PER_CONNECTION:
            raise ValueError(f"max_streams must be in 1..{MAX_STREAMS_PER_CONNECTION}, got {max_streams}")
        self.max_streams = max_streams
        self._shards: dict[ShardKey, dict[str, None]] = {}
        self._where: dict[str, ShardKey] = {}

    def add(self, streams: Iterable[str]) -> dict[ShardKey, list[str]]:
        """Plan new streams (already planned ones are skipped).

        Returns
        -------
        dict[ShardKey, list[str]]
            The streams each connection must add, new connections included.
        """
        added: dict[ShardKey, list[str]] = {}
        for stream in streams:
            if stream in self._where:
                continue
            key = self._room(route_of(stream))
            self._shards[key][stream] = None
            self._where[stream] = key
            added.setdefault(key, []).append(stream)
        return added

    def remove(self, streams: Iterable[str]) -> dict[ShardKey, list[str]]:
        """Forget streams; a connection left with none is dropped from the plan.

        Returns
        -------
        dict[ShardKey, list[str]]
            The streams each connection must drop.
        """
        removed: dict[ShardKey, list[str]] = {}
        for stream in streams:
            key = self._where.pop(stream, None)
            if key is None:
                continue
            shard = self._shards[key]
            del shard[stream]
            if not shard:
                del self._shards[key]
            removed.setdefault(key, []).append(stream)
        return removed

    def _room(self, route: Route) -> ShardKey:
        indexes = sorted(k.number for k in self._shards if k.route is route)
        for index in indexes:
            key = ShardKey(route, index)
            if len(self._shards[key]) < self.max_streams:
                return key
        free = next(i for i in range(len(indexes) + 1) if i not in indexes)  # reuse a dropped index
        key = ShardKey(route, free)
        self._shards[key] = {}
        return key

    def shard_of(self, stream: str) -> ShardKey | None:
        """The connection planned for ``stream``, or ``None``."""
        return self._where.get(stream)

    def shards(self) -> dict[ShardKey, list[str]]:
        """Every planned connection and its streams, in subscription order."""
        return {key: list(streams) for key, streams in sorted(self._shards.items())}

    def __contains__(self, stream: object) -> bool:
        return stream in self._where

    def __len__(self) -> int:
        return len(self._where)


def plan_shards(streams: Iterable[str], max_streams: int = MAX_STREAMS_PER_CONNECTION) -> dict[ShardKey, list[str]]:
    """One-shot plan: ``streams`` split by route into connections of at most ``max_streams``."""
    planner = StreamPlanner(max_streams)
    planner.add(streams)
    return planner.shards()


# ---------------------------------------------------------------------------------------------- connection facts


class StreamConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of stream connections (times in seconds of the injected clock unless noted).

    Parameters
    ----------
    watchdog_s : float | None
        Silence after which the connection is probed with a ping (``None``: no watchdog).
    probe_s : float
        How long a probed connection may stay silent before it is dropped (at least 0.5 s real time).
    backoff_base_s, backoff_cap_s, backoff_jitter : float
        Reconnect delay ``min(cap, base * 2**attempt)`` times a random factor in ``[1 - jitter, 1]``.
    stable_s : float
        A socket that lived this long resets the backoff to its first step.
    max_age_s : float | None
        Binance's connection lifetime (24 h); ``None`` disables rotation.
    rotate_before_s : float
        Rotate this long before ``max_age_s``.
    overlap_s : float
        Longest hand-over between the old and the new socket of a rotation.
    overlap_max_frames : int
        Frames held from the new socket before the hand-over is forced.
    connect_timeout_s, reply_timeout_s, close_timeout_s : float
        Real-time limits of the handshake, of a control reply, of a close handshake.
    messages_per_s : int
        Outgoing messages per second (Binance drops a connection above 10).
    streams_per_frame : int
        Streams per SUBSCRIBE frame.
    max_url_length : int
        Streams are put into the combined URL up to this length; the rest go as SUBSCRIBE frames.
    max_streams : int
        Streams per connection (Binance: 1024).
    max_message_bytes : int
        Largest frame accepted.
    """

    watchdog_s: float | None = 30.0
    probe_s: float = 5.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    backoff_jitter: float = 0.5
    stable_s: float = 30.0
    max_age_s: float | None = 86_400.0
    rotate_before_s: float = 1_800.0
    overlap_s: float = 10.0
    overlap_max_frames: int = 200_000
    connect_timeout_s: float = 10.0
    reply_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    messages_per_s: int = 5
    streams_per_frame: int = 200
    max_url_length: int = 2000
    max_streams: int = MAX_STREAMS_PER_CONNECTION
    max_message_bytes: int = 16 * 1024 * 1024

    def backoff_s(self, attempt: int, unit_random: float) -> float:
        """Delay before reconnect number ``attempt + 1`` (``attempt`` from 0) given a uniform [0, 1) draw."""
        raw = min(self.backoff_cap_s, self.backoff_base_s * float(2 ** min(attempt, 30)))
        return raw * (1.0 - self.backoff_jitter * unit_random)


class LifecycleKind(StrEnum):
    """What happened to a connection (``gap`` / ``resynced`` are a local book's, per symbol)."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTED = "reconnected"
    ROTATED = "rotated"
    GAP = "gap"
    RESYNCED = "resynced"
    CLOSED = "closed"


class LifecycleEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One lifecycle event.

    Attributes
    ----------
    kind : LifecycleKind
    connection : str
        The connection's label (``market-0``), or the local book's name.
    time_ms : int
        Clock time of the event.
    reason : str
        Why (close code, watchdog, error text, ...).
    attempt : int
        Reconnect attempts that failed before this ``reconnected``.
    streams : int
        Streams held by the connection.
    symbol : str
        The symbol of a ``gap`` / ``resynced``.
    """

    kind: LifecycleKind
    connection: str
    time_ms: int
    reason: str = ""
    attempt: int = 0
    streams: int = 0
    symbol: str = ""


class ConnectionState(StrEnum):
    """Where a connection stands; the legal moves are :data:`STATE_TRANSITIONS`."""

    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    BACKOFF = "backoff"
    CLOSED = "closed"


_C = ConnectionState

#: Every legal (from, to, why) move of :class:`ConnectionState`.
STATE_TRANSITIONS: tuple[tuple[ConnectionState, ConnectionState, str], ...] = (
    (_C.IDLE, _C.CONNECTING, "start()"),
    (_C.CONNECTING, _C.OPEN, "handshake done, every stream subscribed"),
    (_C.CONNECTING, _C.BACKOFF, "connect or subscribe failed"),
    (_C.OPEN, _C.BACKOFF, "socket closed, failed or silent (watchdog), or reconnect()"),
    (_C.BACKOFF, _C.CONNECTING, "backoff delay elapsed"),
    (_C.IDLE, _C.CLOSED, "close()"),
    (_C.CONNECTING, _C.CLOSED, "close()"),
    (_C.OPEN, _C.CLOSED, "close()"),
    (_C.BACKOFF, _C.CLOSED, "close()"),
)


class ConnectionHealth(msgspec.Struct, frozen=True, kw_only=True):
    """A connection's numbers for dashboards.

    Attributes
    ----------
    label, url : str
    state : ConnectionState
    streams : int
        Streams subscribed (or to be subscribed on connect).
    messages : int
        Data frames received over the connection's life.
    reconnects, rotations : int
    last_message_age_s : float | None
        Clock seconds since a frame was last seen (measured at watchdog ticks and health reads, so an
        upper bound); ``None`` before the first socket.
    connected_for_s : float | None
        Age of the current socket; ``None`` while not open.
    """

    label: str
    url: str
    state: ConnectionState
    streams: int
    messages: int
    reconnects: int
    rotations: int
    last_message_age_s: float | None
    connected_for_s: float | None
