"""The user-data stream's decisions, without I/O: the listenKey lifecycle and gap reconciliation.

Two sans-IO pieces, driven by :mod:`binfut.stream.user` (which owns sockets, REST calls and timers):

- :data:`TRANSITIONS` is the listenKey lifecycle **as a table** ``(state, input) -> (state, actions)``;
  :class:`ListenKeyMachine` applies it and fills in the times (keepalive every ~30 min with jitter,
  well inside Binance's 60-minute expiry; exponential backoff for failed creations). A pair that is
  not in the table is ignored (the state stays, nothing is done).
- :class:`UserStateTracker` remembers what the stream reported (orders, fills, algo orders,
  positions), suppresses stale or duplicate live events, and turns REST snapshots taken after a
  reconnect into the synthetic ``Reconciled*`` / :class:`MissedTrade` events listed in
  :func:`UserStateTracker.reconcile` — so no fill is lost across a disconnect or a listenKey expiry.

Never reads a clock: every method takes ``now_ms``; jitter comes from an injected ``random.Random``.
References: Binance USD-M "User Data Streams" (start / keepalive / close, "Event: User Data Stream Expired").
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import msgspec

from binfut.errors import ConfigError
from binfut.protocol.models.trade import AlgoOrder, Order, PositionRisk, UserTrade
from binfut.protocol.userevents import AccountUpdate, AlgoUpdate, OrderTradeUpdate, TradeLite

__all__ = [
    "IGNORED",
    "TRANSITIONS",
    "Action",
    "ActionKind",
    "KeyInput",
    "KeyState",
    "ListenKeyMachine",
    "MissedTrade",
    "ReconcileSummary",
    "ReconciledAlgoOrder",
    "ReconciledOrder",
    "ReconciledPosition",
    "UserStateTracker",
    "UserStreamConfig",
]

_ZERO = Decimal(0)


class UserStreamConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of a user-data stream.

    Parameters
    ----------
    keepalive_interval_s : time between two keepalives. Binance expires a key 60 minutes after its
        creation or last keepalive and recommends a keepalive "about every 60 minutes"; 30 minutes
        leaves room for one failed attempt and its retry.
    keepalive_jitter : each interval is shortened by up to this fraction (spreads many clients)
    keepalive_retry_s : delay before another keepalive after a failed one (network error, 5xx)
    create_retry_base_s, create_retry_cap_s : exponential backoff of failed listenKey creations
    connect_check_s : a socket not open this long after a connect or a drop makes the key itself
        checked with a keepalive (Binance refuses connections for an unknown key instead of pushing
        an event); reconnect backoff itself is the connection's (``StreamConfig``)
    reconcile : run the REST reconciliation after every reconnect (and the initial snapshot)
    reconcile_retry_s : first delay before retrying a failed reconciliation (doubles, 3 attempts)
    reconcile_lookback_ms : orders and fills are fetched from this long before the last event seen
    url_style : ``"private"`` (``/private/ws?listenKey=KEY``, Binance's 2025 URL) or ``"ws"`` (``/ws/KEY``)
    close_key_on_exit : ``DELETE /fapi/v1/listenKey`` when the stream is closed
    """

    keepalive_interval_s: float = 30 * 60.0
    keepalive_jitter: float = 0.1
    keepalive_retry_s: float = 60.0
    create_retry_base_s: float = 1.0
    create_retry_cap_s: float = 60.0
    connect_check_s: float = 30.0
    reconcile: bool = True
    reconcile_retry_s: float = 1.0
    reconcile_lookback_ms: int = 5_000
    url_style: str = "private"
    close_key_on_exit: bool = True

    def __post_init__(self) -> None:
        # A keepalive scheduled at or beyond the expiry would let the key die between two of them.
        if not 0 < self.keepalive_interval_s < 59 * 60:
            raise ConfigError("keepalive_interval_s must be within (0, 3540): Binance expires keys after 60 minutes")
        if not 0 <= self.keepalive_jitter < 1:
            raise ConfigError("keepalive_jitter must be within [0, 1)")
        if self.url_style not in ("private", "ws"):
            raise ConfigError("url_style must be 'private' or 'ws'")


# --- the listenKey lifecycle -----------------------------------------------------------------------


class KeyState(StrEnum):
    """Where the listenKey is in its life."""

    NONE = "NONE"  # not started
    CREATING = "CREATING"  # first POST /fapi/v1/listenKey in flight
    ACTIVE = "ACTIVE"  # a live key; the keepalive timer is armed
    KEEPALIVE_DUE = "KEEPALIVE_DUE"  # the timer fired (or the key is in doubt): PUT in flight
    RENEWING = "RENEWING"  # the key expired or is unknown (-1125): POST for a new one in flight
    EXPIRED = "EXPIRED"  # no usable key and the last creation failed: waiting for the retry timer
    CLOSED = "CLOSED"  # stopped by the owner


class KeyInput(StrEnum):
    """What can happen to the stream."""

    START = "START"
    CREATED = "CREATED"  # POST answered with a key
    CREATE_FAILED = "CREATE_FAILED"  # POST failed (network, 5xx, rate limit)
    TIMER = "TIMER"  # the one timer of the machine came due
    KEEPALIVE_OK = "KEEPALIVE_OK"
    KEEPALIVE_UNKNOWN_KEY = "KEEPALIVE_UNKNOWN_KEY"  # -1125 "This listenKey does not exist."
    KEEPALIVE_FAILED = "KEEPALIVE_FAILED"  # any other failure: the key may still be alive
    EXPIRED_EVENT = "EXPIRED_EVENT"  # a listenKeyExpired event for the current key
    CONNECTED = "CONNECTED"  # the WebSocket of the current key is open (first time or reconnect)
    DISCONNECTED = "DISCONNECTED"  # it closed; the connection reconnects by itself
    CONNECT_FAILED = "CONNECT_FAILED"  # several reconnects failed in a row
    STOP = "STOP"


class ActionKind(StrEnum):
    """What the I/O layer must do."""

    CREATE = "CREATE"  # POST /fapi/v1/listenKey, then feed CREATED / CREATE_FAILED
    KEEPALIVE = "KEEPALIVE"  # PUT /fapi/v1/listenKey, then feed KEEPALIVE_*
    CONNECT = "CONNECT"  # (re)open the WebSocket on ``Action.listen_key`` (a no-op if already on it)
    ARM_KEEPALIVE = "ARM_KEEPALIVE"  # timer at the next keepalive time (interval with jitter)
    ARM_KEEPALIVE_RETRY = "ARM_KEEPALIVE_RETRY"  # timer after ``keepalive_retry_s``
    ARM_CREATE_RETRY = "ARM_CREATE_RETRY"  # timer after the creation backoff
    RECONCILE = "RECONCILE"  # fetch orders / algo orders / positions through REST and diff them
    DISCONNECT = "DISCONNECT"  # close the WebSocket
    CLOSE_KEY = "CLOSE_KEY"  # DELETE /fapi/v1/listenKey


_S, _I, _A = KeyState, KeyInput, ActionKind

TRANSITIONS: dict[tuple[KeyState, KeyInput], tuple[KeyState, tuple[ActionKind, ...]]] = {
    (_S.NONE, _I.START): (_S.CREATING, (_A.CREATE,)),
    (_S.NONE, _I.STOP): (_S.CLOSED, ()),
    # -- first key
    (_S.CREATING, _I.CREATED): (_S.ACTIVE, (_A.CONNECT, _A.ARM_KEEPALIVE)),
    (_S.CREATING, _I.CREATE_FAILED): (_S.EXPIRED, (_A.ARM_CREATE_RETRY,)),
    (_S.CREATING, _I.STOP): (_S.CLOSED, ()),
    # -- a live key
    (_S.ACTIVE, _I.TIMER): (_S.KEEPALIVE_DUE, (_A.KEEPALIVE,)),
    (_S.ACTIVE, _I.EXPIRED_EVENT): (_S.RENEWING, (_A.CREATE,)),
    # Every (re)connect may have lost events: reconcile (the first one takes the baseline snapshot).
    (_S.ACTIVE, _I.CONNECTED): (_S.ACTIVE, (_A.RECONCILE,)),
    # Binance refuses the connection of an unknown key without an event: ask with a keepalive.
    (_S.ACTIVE, _I.CONNECT_FAILED): (_S.KEEPALIVE_DUE, (_A.KEEPALIVE,)),
    (_S.ACTIVE, _I.STOP): (_S.CLOSED, (_A.DISCONNECT, _A.CLOSE_KEY)),
    # -- keepalive in flight
    (_S.KEEPALIVE_DUE, _I.KEEPALIVE_OK): (_S.ACTIVE, (_A.ARM_KEEPALIVE,)),
    (_S.KEEPALIVE_DUE, _I.KEEPALIVE_UNKNOWN_KEY): (_S.RENEWING, (_A.CREATE,)),
    # The key has ~30 minutes left: retry soon rather than recreate (which would change the key).
    (_S.KEEPALIVE_DUE, _I.KEEPALIVE_FAILED): (_S.ACTIVE, (_A.ARM_KEEPALIVE_RETRY,)),
    (_S.KEEPALIVE_DUE, _I.EXPIRED_EVENT): (_S.RENEWING, (_A.CREATE,)),
    (_S.KEEPALIVE_DUE, _I.CONNECTED): (_S.KEEPALIVE_DUE, (_A.RECONCILE,)),
    (_S.KEEPALIVE_DUE, _I.STOP): (_S.CLOSED, (_A.DISCONNECT, _A.CLOSE_KEY)),
    # -- replacing a dead key; the old key's connection is replaced on CREATED
    (_S.RENEWING, _I.CREATED): (_S.ACTIVE, (_A.CONNECT, _A.ARM_KEEPALIVE)),
    (_S.RENEWING, _I.CREATE_FAILED): (_S.EXPIRED, (_A.ARM_CREATE_RETRY,)),
    (_S.RENEWING, _I.STOP): (_S.CLOSED, (_A.DISCONNECT,)),
    # -- waiting to retry a creation
    (_S.EXPIRED, _I.TIMER): (_S.RENEWING, (_A.CREATE,)),
    (_S.EXPIRED, _I.STOP): (_S.CLOSED, (_A.DISCONNECT,)),
}
"""The listenKey lifecycle. Pairs not listed are ignored (see :data:`IGNORED`)."""

IGNORED: tuple[KeyState, tuple[ActionKind, ...]] | None = None
"""What :meth:`ListenKeyMachine.feed` does for a pair missing from the table: nothing."""

del _S, _I, _A


@dataclass(frozen=True, slots=True)
class Action:
    """One thing for the I/O layer to do (``at_ms`` for timers, ``listen_key`` for CONNECT / CLOSE_KEY,
    ``reason`` for RECONCILE: ``"initial"`` the first time, ``"reconnect"`` after that)."""

    kind: ActionKind
    at_ms: int = 0
    listen_key: str = ""
    reason: str = ""


class ListenKeyMachine:
    """Applies :data:`TRANSITIONS` and computes timer deadlines.

    Parameters
    ----------
    config : schedule settings
    rng : jitter source (inject a seeded ``random.Random`` in tests)

    Attributes
    ----------
    state : the current :class:`KeyState`
    listen_key : the current key ("" before the first creation)
    timer_at_ms : when the I/O layer must feed TIMER (None: no timer armed)
    history : every applied transition ``(state, input, next_state)``, for observability and tests
    """

    def __init__(self, config: UserStreamConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self.state = KeyState.NONE
        self.listen_key = ""
        self.timer_at_ms: int | None = None
        self.connected_once = False
        self.create_failures = 0
        self.history: list[tuple[KeyState, KeyInput, KeyState]] = []

    def feed(self, event: KeyInput, now_ms: int, *, listen_key: str = "") -> list[Action]:
        """Apply one input; returns the actions to perform, in order.

        ``listen_key`` goes with CREATED (the new key) and with EXPIRED_EVENT / CONNECTED /
        DISCONNECTED (the key they concern: inputs about an older key are ignored).
        """
        if listen_key and event in _KEYED_INPUTS and listen_key != self.listen_key:
            return []  # a late event of a key we already replaced
        entry = TRANSITIONS.get((self.state, event), IGNORED)
        if entry is None:
            return []
        next_state, kinds = entry
        self.history.append((self.state, event, next_state))
        self.state = next_state
        if event is KeyInput.CREATED:
            self.listen_key = listen_key
            self.create_failures = 0
        elif event is KeyInput.CREATE_FAILED:
            self.create_failures += 1
        if next_state is KeyState.CLOSED or kinds and self.timer_at_ms is not None and _disarms(kinds):
            self.timer_at_ms = None
        actions = [self._action(kind, now_ms) for kind in kinds]
        if event is KeyInput.CONNECTED:
            self.connected_once = True
        return actions

    def _action(self, kind: ActionKind, now_ms: int) -> Action:
        cfg = self.config
        if kind is ActionKind.ARM_KEEPALIVE:
            # Shorten (never lengthen) the interval by a random fraction: many clients started
            # together spread their keepalives, and none waits longer than configured.
            interval = cfg.keepalive_interval_s * (1.0 - cfg.keepalive_jitter * self._rng.random())
            return self._arm(kind, now_ms + int(interval * 1000))
        if kind is ActionKind.ARM_KEEPALIVE_RETRY:
            return self._arm(kind, now_ms + int(cfg.keepalive_retry_s * 1000))
        if kind is ActionKind.ARM_CREATE_RETRY:
            raw = min(cfg.create_retry_cap_s, cfg.create_retry_base_s * 2.0 ** max(0, self.create_failures - 1))
            return self._arm(kind, now_ms + int(raw * (0.5 + 0.5 * self._rng.random()) * 1000))
        if kind is ActionKind.RECONCILE:
            return Action(kind, reason="reconnect" if self.connected_once else "initial")
        return Action(kind, listen_key=self.listen_key)

    def _arm(self, kind: ActionKind, at_ms: int) -> Action:
        self.timer_at_ms = at_ms
        return Action(kind, at_ms=at_ms)

    def timer_due(self, now_ms: int) -> bool:
        """True when the armed timer has come due (the I/O layer then feeds TIMER)."""
        return self.timer_at_ms is not None and now_ms >= self.timer_at_ms

    def fire_timer(self, now_ms: int) -> list[Action]:
        """Feed TIMER if it is due (clears it first, so a TIMER is delivered once)."""
        if not self.timer_due(now_ms):
            return []
        self.timer_at_ms = None
        return self.feed(KeyInput.TIMER, now_ms)


_KEYED_INPUTS = frozenset({KeyInput.EXPIRED_EVENT, KeyInput.CONNECTED, KeyInput.DISCONNECTED, KeyInput.CONNECT_FAILED})
_TIMER_ACTIONS = frozenset({ActionKind.ARM_KEEPALIVE, ActionKind.ARM_KEEPALIVE_RETRY, ActionKind.ARM_CREATE_RETRY})


def _disarms(kinds: tuple[ActionKind, ...]) -> bool:
    """A transition that starts a REST call or re-arms replaces any pending timer."""
    return any(k in _TIMER_ACTIONS or k in (ActionKind.CREATE, ActionKind.KEEPALIVE) for k in kinds)


# --- synthetic events of the reconciliation -------------------------------------------------------


class MissedTrade(msgspec.Struct, frozen=True, kw_only=True):
    """A fill the stream never delivered, found in ``GET /fapi/v1/userTrades`` after a gap.

    Emitted before the :class:`ReconciledOrder` of its order, in trade-id order.
    """

    trade: UserTrade
    reason: str = "reconnect"


class ReconciledOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order whose REST state differs from what the stream reported.

    ``previous_status`` is None for an order the stream never reported (created during a gap, or
    open at the initial snapshot); ``previous_executed_qty`` is the cumulative fill reported so far.
    """

    order: Order
    previous_status: str | None
    previous_executed_qty: Decimal
    reason: str = "reconnect"


class ReconciledAlgoOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An algo (conditional) order whose REST state differs from the last ALGO_UPDATE."""

    algo_order: AlgoOrder
    previous_status: str | None
    reason: str = "reconnect"


class ReconciledPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A position whose REST amount differs from the last ACCOUNT_UPDATE.

    ``position`` is None when the position is closed (v3 positionRisk lists open positions only).
    """

    symbol: str
    position_side: str
    position_amt: Decimal
    entry_price: Decimal
    previous_amt: Decimal | None
    position: PositionRisk | None
    reason: str = "reconnect"


class ReconcileSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Last item of every reconciliation: what it found (counts of the events it emitted)."""

    reason: str
    since_ms: int
    orders: int = 0
    trades: int = 0
    algo_orders: int = 0
    positions: int = 0
    unresolved: tuple[int, ...] = ()  # tracked open orders REST could not find (-2013)


ReconcileItem = MissedTrade | ReconciledOrder | ReconciledAlgoOrder | ReconciledPosition | ReconcileSummary


# --- the tracker ----------------------------------------------------------------------------------

_RANK = {"NEW": 0, "PARTIALLY_FILLED": 1}  # every other status is terminal (rank 2)
_OPEN = frozenset({"NEW", "PARTIALLY_FILLED"})
_ALGO_OPEN = frozenset({"NEW", "TRIGGERING"})


def _rank(status: str) -> int:
    return _RANK.get(status, 2)


@dataclass(slots=True)
class _OrderView:
    symbol: str
    status: str
    executed_qty: Decimal  # cumulative fill as last reported (``z`` / REST ``executedQty``)
    filled_reported: Decimal = _ZERO  # sum of the fills actually handed out, one by one
    trades: set[int] = field(default_factory=set)  # trade ids reported (live or reconciled)
    reconciled_trades: set[int] = field(default_factory=set)  # ... of which by reconciliation

    @property
    def fill_gap(self) -> bool:
        """The cumulative fill is ahead of the fills handed out: some fill event was lost."""
        return self.executed_qty > self.filled_reported

    @property
    def key(self) -> tuple[Decimal, int]:
        # Order state only moves forward: cumulative fill first, then NEW < PARTIALLY < terminal.
        return (self.executed_qty, _rank(self.status))


class UserStateTracker:
    """What the stream has reported, and the diff against REST snapshots.

    Parameters
    ----------
    symbols : symbols always scanned for orders created during a gap (``all_orders``); symbols of
        orders and positions seen are added automatically
    max_done : finished orders remembered for duplicate suppression (oldest forgotten first)
    """

    def __init__(self, symbols: Iterable[str] = (), *, max_done: int = 10_000) -> None:
        self.orders: dict[int, _OrderView] = {}
        self.algo_orders: dict[int, str] = {}  # algo id -> status
        self.positions: dict[tuple[str, str], Decimal] = {}  # (symbol, position side) -> amount
        self.symbols: set[str] = set(symbols)
        self.watermark_ms = 0  # latest event / transaction time seen (server time)
        self.max_done = max_done
        self.fill_gaps: set[int] = set()  # orders whose cumulative fill is ahead of the fills reported
        self._done: list[int] = []

    # -- live events -------------------------------------------------------------------------------

    def apply(self, event: object) -> bool:
        """Fold a live event in; False when it is stale or a duplicate and should not be emitted."""
        if isinstance(event, OrderTradeUpdate):
            self._see_time(event.transaction_time_ms)
            return self._apply_order(event)
        if isinstance(event, TradeLite):
            self._see_time(event.transaction_time_ms)
            view = self.orders.get(event.order_id)
            # The fill was already handed out as a MissedTrade by a reconciliation.
            return view is None or event.trade_id not in view.reconciled_trades
        if isinstance(event, AlgoUpdate):
            self._see_time(event.transaction_time_ms)
            self.algo_orders[event.order.algo_id] = event.order.algo_status
            self.symbols.add(event.order.symbol)
            return True
        if isinstance(event, AccountUpdate):
            self._see_time(event.transaction_time_ms)
            for p in event.data.positions:
                self.positions[(p.symbol, p.position_side)] = p.position_amount
                self.symbols.add(p.symbol)
            return True
        return True

    def _see_time(self, t_ms: int) -> None:
        if t_ms > self.watermark_ms:
            self.watermark_ms = t_ms

    def _apply_order(self, event: OrderTradeUpdate) -> bool:
        o = event.order
        view = self.orders.get(o.order_id)
        if view is None:
            view = self.orders[o.order_id] = _OrderView(o.symbol, o.order_status, o.filled_accumulated_quantity)
            self.symbols.add(o.symbol)
        else:
            if o.execution_type == "TRADE" and o.trade_id in view.trades:
                return False  # this fill was reported already (by a reconciliation)
            if (o.filled_accumulated_quantity, _rank(o.order_status)) < view.key:
                return False  # older than what a reconciliation reported
            view.status, view.executed_qty = o.order_status, o.filled_accumulated_quantity
        if o.execution_type == "TRADE":
            view.trades.add(o.trade_id)
            view.filled_reported += o.last_filled_quantity
        if view.fill_gap:
            # ``z`` is cumulative: an event after a gap carries fills whose own events were lost.
            self.fill_gaps.add(o.order_id)
        if o.order_status not in _OPEN:
            self._finished(o.order_id)
        return True

    def _finished(self, order_id: int) -> None:
        self._done.append(order_id)
        if len(self._done) > self.max_done:
            self.orders.pop(self._done.pop(0), None)

    # -- what a reconciliation must fetch ---------------------------------------------------------

    def open_order_ids(self) -> dict[int, str]:
        """Orders the stream last reported open: id -> symbol."""
        return {oid: v.symbol for oid, v in self.orders.items() if v.status in _OPEN}

    def open_algo_ids(self) -> list[int]:
        return [aid for aid, status in self.algo_orders.items() if status in _ALGO_OPEN]

    def since_ms(self, lookback_ms: int) -> int:
        """Start of the window in which events may have been lost (server time)."""
        return max(0, self.watermark_ms - lookback_ms)

    def needs_trades(self, orders: Iterable[Order]) -> set[str]:
        """Symbols with fills the stream did not hand out: REST orders filled beyond the fills
        reported, and orders whose live cumulative fill ran ahead of them."""
        out: set[str] = set()
        for order in orders:
            if order.executed_qty > self._reported(order.order_id):
                out.add(order.symbol)
        for order_id in self.fill_gaps:
            view = self.orders.get(order_id)
            if view is not None:
                out.add(view.symbol)
        return out

    def _reported(self, order_id: int) -> Decimal:
        view = self.orders.get(order_id)
        return view.filled_reported if view is not None else _ZERO

    def uncovered(self, orders: Iterable[Order], trades: Iterable[UserTrade]) -> dict[int, str]:
        """Orders (id -> symbol) whose fill — by REST or by a live cumulative ``z`` — exceeds the fills
        handed out plus the unseen fills in ``trades``: their fills must be fetched by ``orderId``."""
        extra = self._unseen(trades)
        filled: dict[int, tuple[Decimal, str]] = {
            oid: (self.orders[oid].executed_qty, self.orders[oid].symbol) for oid in self.fill_gaps if oid in self.orders
        }
        for order in orders:
            known = filled.get(order.order_id, (_ZERO, order.symbol))[0]
            filled[order.order_id] = (max(order.executed_qty, known), order.symbol)
        return {
            oid: symbol
            for oid, (qty, symbol) in filled.items()
            if qty > self._reported(oid) + extra.get(oid, (_ZERO, ""))[0]
        }

    def outrun(self, orders: Iterable[Order], trades: Iterable[UserTrade]) -> dict[int, str]:
        """Orders (id -> symbol) whose fills in ``trades`` go beyond their REST copy in ``orders`` (or
        that have no copy): the copy was taken before those fills (the order filled between the
        open-orders snapshot and the trades query, its live events lost), so it must be fetched again,
        or its last status would be reported only at the next gap."""
        executed: dict[int, Decimal] = {}
        for order in orders:
            executed[order.order_id] = max(order.executed_qty, executed.get(order.order_id, _ZERO))
        return {
            oid: symbol
            for oid, (qty, symbol) in self._unseen(trades).items()
            if self._reported(oid) + qty > executed.get(oid, _ZERO)
        }

    def _unseen(self, trades: Iterable[UserTrade]) -> dict[int, tuple[Decimal, str]]:
        """Per order id: the quantity and symbol of the fills in ``trades`` not handed out yet (each
        fill counted once: pages by time and queries by order may return the same one; a self-trade
        is two fills with one trade id, one per order)."""
        unseen: dict[int, tuple[Decimal, str]] = {}
        counted: set[tuple[int, int]] = set()
        for trade in trades:
            view = self.orders.get(trade.order_id)
            key = (trade.order_id, trade.id)
            if key in counted or (view is not None and trade.id in view.trades):
                continue
            counted.add(key)
            qty = unseen.get(trade.order_id, (_ZERO, ""))[0]
            unseen[trade.order_id] = (qty + trade.qty, trade.symbol)
        return unseen

    # -- the diff ----------------------------------------------------------------------------------

    def reconcile(
        self,
        *,
        reason: str,
        since_ms: int,
        orders: Sequence[Order],
        trades: Sequence[UserTrade] = (),
        algo_orders: Sequence[AlgoOrder] = (),
        positions: Sequence[PositionRisk] | None = None,
        unresolved: Sequence[int] = (),
        now_ms: int = 0,
    ) -> list[ReconcileItem]:
        """Diff REST state against what was reported; returns the synthetic events to emit.

        Emitted, in this order (and folded into the tracker, so each is emitted once):

        1. per order whose REST state is ahead of the stream (more filled, or a later status), or
           that the stream never reported: one :class:`MissedTrade` per unseen fill in ``trades``
           (trade-id order), then one :class:`ReconciledOrder` with the REST order;
        2. one :class:`ReconciledAlgoOrder` per algo order whose status changed or is new;
        3. one :class:`ReconciledPosition` per (symbol, side) whose amount differs, including
           positions that closed (``position=None``, amount 0); skipped when ``positions`` is None;
        4. a :class:`ReconcileSummary`.

        REST states *behind* the stream (a live event arrived after the snapshot was taken) are
        skipped. ``orders`` may hold duplicates (open orders, queried orders, allOrders rows): the most
        advanced copy of each wins; so may ``trades`` (each fill is handed out once).
        """
        best: dict[int, Order] = {}
        for order in orders:
            seen = best.get(order.order_id)
            if seen is None or (order.executed_qty, _rank(order.status)) > (seen.executed_qty, _rank(seen.status)):
                best[order.order_id] = order
        fills: dict[int, list[UserTrade]] = {}
        listed: set[tuple[int, int]] = set()
        for trade in sorted(trades, key=lambda t: t.id):
            key = (trade.order_id, trade.id)
            if key not in listed:  # a page by time and a query by order may both return a fill
                listed.add(key)
                fills.setdefault(trade.order_id, []).append(trade)
        out: list[ReconcileItem] = []
        n_orders = n_trades = 0
        for order in sorted(best.values(), key=lambda o: (o.update_time_ms, o.order_id)):
            view = self.orders.get(order.order_id)
            status = str(order.status)
            previous = (view.status, view.executed_qty) if view is not None else (None, _ZERO)
            unseen = [t for t in fills.pop(order.order_id, ()) if view is None or t.id not in view.trades]
            ahead = view is None or (order.executed_qty, _rank(status)) > view.key
            if not unseen and not ahead:
                continue  # the stream already reported this state (or a later one) and every fill
            if view is None:
                view = self.orders[order.order_id] = _OrderView(order.symbol, status, _ZERO)
                self.symbols.add(order.symbol)
            for trade in unseen:
                view.trades.add(trade.id)
                view.reconciled_trades.add(trade.id)
                view.filled_reported += trade.qty
                out.append(MissedTrade(trade=trade, reason=reason))
                n_trades += 1
            if ahead:
                view.status, view.executed_qty = status, order.executed_qty
                out.append(
                    ReconciledOrder(
                        order=order, previous_status=previous[0], previous_executed_qty=previous[1], reason=reason
                    )
                )
                n_orders += 1
                if status not in _OPEN:
                    self._finished(order.order_id)
            if not view.fill_gap:
                self.fill_gaps.discard(order.order_id)
        # Fills of orders whose state was already current (a live event's cumulative ``z`` had run
        # ahead of the fills handed out): only the fills are missing.
        for order_id, rest in sorted(fills.items()):
            view = self.orders.get(order_id)
            for trade in rest:
                if view is None:
                    view = self.orders[order_id] = _OrderView(trade.symbol, "NEW", _ZERO)
                if trade.id in view.trades:
                    continue
                view.trades.add(trade.id)
                view.reconciled_trades.add(trade.id)
                view.filled_reported += trade.qty
                out.append(MissedTrade(trade=trade, reason=reason))
                n_trades += 1
            if view is not None and not view.fill_gap:
                self.fill_gaps.discard(order_id)
        n_algos = 0
        for algo in algo_orders:
            before = self.algo_orders.get(algo.algo_id)
            if before != algo.algo_status:
                self.algo_orders[algo.algo_id] = str(algo.algo_status)
                out.append(ReconciledAlgoOrder(algo_order=algo, previous_status=before, reason=reason))
                n_algos += 1
        n_positions = 0
        if positions is not None:
            n_positions = self._reconcile_positions(positions, reason, out)
        self._see_time(now_ms)
        out.append(
            ReconcileSummary(
                reason=reason,
                since_ms=since_ms,
                orders=n_orders,
                trades=n_trades,
                algo_orders=n_algos,
                positions=n_positions,
                unresolved=tuple(unresolved),
            )
        )
        return out

    def _reconcile_positions(self, positions: Sequence[PositionRisk], reason: str, out: list[ReconcileItem]) -> int:
        rest = {(p.symbol, str(p.position_side)): p for p in positions}
        count = 0
        for key in sorted(set(rest) | {k for k, amt in self.positions.items() if amt != 0}):
            row = rest.get(key)
            amount = row.position_amt if row is not None else _ZERO
            before = self.positions.get(key)
            if before is not None and before == amount or before is None and amount == 0:
                continue
            self.positions[key] = amount
            self.symbols.add(key[0])
            out.append(
                ReconciledPosition(
                    symbol=key[0],
                    position_side=key[1],
                    position_amt=amount,
                    entry_price=row.entry_price if row is not None else _ZERO,
                    previous_amt=before,
                    position=row,
                    reason=reason,
                )
            )
            count += 1
        return count
