"""The listenKey transition table (walked entry by entry) and the reconciliation tracker, without I/O."""

from __future__ import annotations

import random
from collections import deque
from decimal import Decimal

import msgspec
import pytest

from binfut.errors import ConfigError
from binfut.protocol.models.trade import AlgoOrder, Order, PositionRisk, UserTrade
from binfut.protocol.userevents import AccountUpdate, OrderTradeUpdate, TradeLite, decode_user_event
from binfut.protocol.userstream import (
    TRANSITIONS,
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

T0 = 1_700_000_000_000
MIN = 60_000


def machine(state: KeyState = KeyState.NONE, key: str = "k1") -> ListenKeyMachine:
    m = ListenKeyMachine(UserStreamConfig(), random.Random(7))
    m.state, m.listen_key = state, key
    return m


# --- the table ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pair", "entry"), list(TRANSITIONS.items()), ids=[f"{s}-{i}" for s, i in TRANSITIONS])
def test_every_table_entry_is_what_feed_does(pair, entry) -> None:
    # Arrange
    state, event = pair
    m = machine(state)

    # Act
    actions = m.feed(event, T0, listen_key="k1")

    # Assert
    assert m.state is entry[0]
    assert tuple(a.kind for a in actions) == entry[1]
    assert m.history == [(state, event, entry[0])]


def test_pairs_missing_from_the_table_change_nothing() -> None:
    for state in KeyState:
        for event in KeyInput:
            if (state, event) in TRANSITIONS:
                continue
            m = machine(state)
            assert m.feed(event, T0, listen_key="k1") == []
            assert m.state is state and m.history == []


def test_every_state_is_reachable_and_every_live_state_can_stop() -> None:
    # Arrange: breadth-first over the table from NONE
    seen, todo = {KeyState.NONE}, deque([KeyState.NONE])
    while todo:
        state = todo.popleft()
        for (src, _), (dst, _) in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                todo.append(dst)

    # Assert
    assert seen == set(KeyState)
    for state in KeyState:
        if state is not KeyState.CLOSED:
            assert TRANSITIONS[(state, KeyInput.STOP)][0] is KeyState.CLOSED


def test_a_full_life_create_keepalive_expire_renew_reconcile() -> None:
    m = machine(KeyState.NONE, key="")

    assert [a.kind for a in m.feed(KeyInput.START, T0)] == [ActionKind.CREATE]
    connect, arm = m.feed(KeyInput.CREATED, T0, listen_key="k1")
    assert (connect.kind, connect.listen_key) == (ActionKind.CONNECT, "k1")
    # Keepalive well inside the 60-minute expiry: 30 min shortened by up to 10 % jitter.
    assert T0 + 27 * MIN <= arm.at_ms <= T0 + 30 * MIN and m.timer_at_ms == arm.at_ms
    (first,) = m.feed(KeyInput.CONNECTED, T0, listen_key="k1")
    assert (first.kind, first.reason) == (ActionKind.RECONCILE, "initial")

    assert m.fire_timer(arm.at_ms - 1) == []  # not due yet
    assert [a.kind for a in m.fire_timer(arm.at_ms)] == [ActionKind.KEEPALIVE]
    assert m.state is KeyState.KEEPALIVE_DUE and m.timer_at_ms is None
    assert [a.kind for a in m.feed(KeyInput.KEEPALIVE_OK, arm.at_ms)] == [ActionKind.ARM_KEEPALIVE]

    assert [a.kind for a in m.feed(KeyInput.EXPIRED_EVENT, T0, listen_key="k1")] == [ActionKind.CREATE]
    assert m.state is KeyState.RENEWING and m.timer_at_ms is None
    m.feed(KeyInput.CREATED, T0, listen_key="k2")
    assert m.feed(KeyInput.CONNECTED, T0, listen_key="k1") == []  # the old key's connection: ignored
    (again,) = m.feed(KeyInput.CONNECTED, T0, listen_key="k2")
    assert (again.kind, again.reason) == (ActionKind.RECONCILE, "reconnect")


def test_minus_1125_recreates_and_other_keepalive_errors_retry_soon() -> None:
    m = machine(KeyState.KEEPALIVE_DUE)
    (retry,) = m.feed(KeyInput.KEEPALIVE_FAILED, T0)
    assert m.state is KeyState.ACTIVE and retry.at_ms == T0 + 60_000

    m.fire_timer(retry.at_ms)
    assert [a.kind for a in m.feed(KeyInput.KEEPALIVE_UNKNOWN_KEY, T0)] == [ActionKind.CREATE]
    assert m.state is KeyState.RENEWING


def test_failed_creations_back_off_exponentially_up_to_the_cap() -> None:
    m = machine(KeyState.CREATING, key="")
    delays = []
    for _ in range(10):
        (arm,) = m.feed(KeyInput.CREATE_FAILED, T0)
        delays.append(arm.at_ms - T0)
        assert [a.kind for a in m.fire_timer(arm.at_ms)] == [ActionKind.CREATE]
    assert delays[0] <= 1000 and delays[3] >= 4000 and max(delays) <= 60_000
    m.feed(KeyInput.CREATED, T0, listen_key="k9")
    assert m.create_failures == 0 and m.state is KeyState.ACTIVE


def test_keepalive_interval_stays_inside_the_expiry_for_any_jitter() -> None:
    for seed in range(200):
        m = ListenKeyMachine(UserStreamConfig(keepalive_jitter=0.5), random.Random(seed))
        m.state = KeyState.KEEPALIVE_DUE
        (arm,) = m.feed(KeyInput.KEEPALIVE_OK, 0)
        assert 15 * MIN <= arm.at_ms <= 30 * MIN


@pytest.mark.parametrize("bad", [{"keepalive_interval_s": 3600}, {"keepalive_jitter": 1.0}, {"url_style": "x"}])
def test_config_refuses_schedules_that_let_the_key_expire(bad) -> None:
    with pytest.raises(ConfigError):
        UserStreamConfig(**bad)


# --- the tracker ----------------------------------------------------------------------------------


def otu(order_id: int, x: str, status: str, z: str, trade_id: int = 0, t: int = T0) -> OrderTradeUpdate:
    body = {
        "s": "BTCUSDT", "c": f"c{order_id}", "S": "BUY", "o": "LIMIT", "f": "GTC", "q": "1", "p": "100",
        "ap": "0", "sp": "0", "x": x, "X": status, "i": order_id, "l": "0", "z": z, "L": "0", "T": t,
        "t": trade_id, "b": "0", "a": "0", "m": False, "R": False, "wt": "CONTRACT_PRICE", "ot": "LIMIT",
        "ps": "BOTH", "cp": False, "pP": False, "si": 0, "ss": 0, "rp": "0", "V": "NONE", "pm": "NONE", "gtd": 0,
    }  # fmt: skip
    event = decode_user_event(msgspec.json.encode({"e": "ORDER_TRADE_UPDATE", "E": t, "T": t, "o": body}))
    assert isinstance(event, OrderTradeUpdate)
    return event


def order(order_id: int, status: str, executed: str, symbol: str = "BTCUSDT") -> Order:
    return Order(
        order_id=order_id, symbol=symbol, status=status, client_order_id=f"c{order_id}", side="BUY", type="LIMIT",
        orig_qty=Decimal(1), executed_qty=Decimal(executed), update_time_ms=T0,
    )  # fmt: skip


def trade(trade_id: int, order_id: int, qty: str) -> UserTrade:
    return UserTrade(id=trade_id, symbol="BTCUSDT", order_id=order_id, side="BUY", price=Decimal(100), qty=Decimal(qty))


def test_live_events_are_tracked_and_stale_or_duplicate_ones_suppressed() -> None:
    tr = UserStateTracker()
    assert tr.apply(otu(1, "NEW", "NEW", "0"))
    assert tr.apply(otu(1, "TRADE", "PARTIALLY_FILLED", "0.4", trade_id=11, t=T0 + 5))
    assert not tr.apply(otu(1, "TRADE", "PARTIALLY_FILLED", "0.4", trade_id=11))  # same fill twice
    assert not tr.apply(otu(1, "NEW", "NEW", "0"))  # older than what we know
    assert tr.open_order_ids() == {1: "BTCUSDT"} and tr.watermark_ms == T0 + 5
    assert tr.since_ms(1000) == T0 + 5 - 1000


def test_reconcile_emits_missed_fills_then_the_order_then_algos_positions_and_a_summary() -> None:
    # Arrange: order 1 was NEW when the connection dropped; it filled (2 fills) and order 2 was
    # created and cancelled during the gap; a position opened.
    tr = UserStateTracker(["BTCUSDT"])
    tr.apply(otu(1, "NEW", "NEW", "0"))
    rows = [order(1, "FILLED", "1"), order(2, "CANCELED", "0"), order(1, "NEW", "0")]  # a stale duplicate too
    fills = [trade(12, 1, "0.6"), trade(11, 1, "0.4")]
    algo = AlgoOrder(algo_id=5, client_algo_id="a5", algo_type="CONDITIONAL", order_type="STOP_MARKET",
                     symbol="BTCUSDT", side="SELL", algo_status="NEW")  # fmt: skip
    position = PositionRisk(symbol="BTCUSDT", position_amt=Decimal(1), entry_price=Decimal(100))
    assert tr.uncovered(rows, fills) == {}
    assert tr.uncovered(rows, fills[:1]) == {1: "BTCUSDT"}

    # Act
    items = tr.reconcile(reason="reconnect", since_ms=T0, orders=rows, trades=fills, algo_orders=[algo], positions=[position])

    # Assert
    kinds = [type(i) for i in items]
    assert kinds == [MissedTrade, MissedTrade, ReconciledOrder, ReconciledOrder, ReconciledAlgoOrder, ReconciledPosition, ReconcileSummary]
    assert [i.trade.id for i in items[:2]] == [11, 12]
    filled = next(i for i in items if isinstance(i, ReconciledOrder) and i.order.order_id == 1)
    assert (filled.previous_status, filled.previous_executed_qty, filled.order.status) == ("NEW", 0, "FILLED")
    created = next(i for i in items if isinstance(i, ReconciledOrder) and i.order.order_id == 2)
    assert created.previous_status is None
    summary = items[-1]
    assert (summary.orders, summary.trades, summary.algo_orders, summary.positions) == (2, 2, 1, 1)

    # The same snapshot again changes nothing; late live copies of reconciled fills are suppressed.
    again = tr.reconcile(reason="reconnect", since_ms=T0, orders=rows, trades=fills, algo_orders=[algo], positions=[position])
    assert [type(i) for i in again] == [ReconcileSummary]
    assert not tr.apply(otu(1, "TRADE", "FILLED", "1", trade_id=12))
    lite = TradeLite(event_time_ms=T0, transaction_time_ms=T0, symbol="BTCUSDT", original_quantity=Decimal(1),
                     original_price=Decimal(100), is_maker=False, client_order_id="c1", side="BUY",
                     last_filled_price=Decimal(100), last_filled_quantity=Decimal("0.6"), trade_id=12, order_id=1)  # fmt: skip
    assert not tr.apply(lite)


def test_fills_found_after_a_stale_snapshot_make_the_order_fetched_again() -> None:
    # Arrange: order 1 was NEW in the open-orders snapshot, then filled before the trades query (its live
    # events lost); order 2's copy already shows its fill; order 3 has a fill and no copy at all.
    tr = UserStateTracker(["BTCUSDT"])
    tr.apply(otu(1, "NEW", "NEW", "0"))
    tr.apply(otu(2, "NEW", "NEW", "0"))
    snapshot = [order(1, "NEW", "0"), order(2, "FILLED", "1")]
    fills = [trade(21, 1, "1"), trade(22, 2, "1"), trade(23, 3, "0.5"), trade(21, 1, "1")]  # a duplicate row too

    # Act / Assert: only the copies older than the fills are fetched again
    assert tr.outrun(snapshot, fills) == {1: "BTCUSDT", 3: "BTCUSDT"}
    self_trade = [trade(24, 4, "0.5"), trade(24, 5, "0.5")]  # both sides ours: one trade id, two fills
    assert tr.outrun([order(4, "FILLED", "0.5")], self_trade) == {5: "BTCUSDT"}
    assert tr.uncovered([order(4, "FILLED", "0.5"), order(5, "FILLED", "0.5")], self_trade) == {}
    assert tr.outrun([*snapshot, order(1, "FILLED", "1"), order(3, "FILLED", "0.5")], fills) == {}
    # without the fresh copy the fill is handed out and order 1 stays NEW: the status the rule is for
    items = tr.reconcile(reason="reconnect", since_ms=T0, orders=snapshot[:1], trades=fills[:1])
    assert [type(i) for i in items] == [MissedTrade, ReconcileSummary] and 1 in tr.open_order_ids()
    assert tr.outrun(snapshot[:1], fills[:1]) == {}  # the fill is reported now; the tracker's view is what lags
    items = tr.reconcile(reason="reconnect", since_ms=T0, orders=[order(1, "FILLED", "1")], trades=fills[:1])
    assert [type(i) for i in items] == [ReconciledOrder, ReconcileSummary] and 1 not in tr.open_order_ids()


def test_a_fill_returned_by_both_trade_queries_is_handed_out_once() -> None:
    # userTrades since the gap found one fill of order 1; the query by orderId returned it again with the other
    tr = UserStateTracker(["BTCUSDT"])
    tr.apply(otu(1, "NEW", "NEW", "0"))
    fills = [trade(11, 1, "0.4"), trade(11, 1, "0.4"), trade(12, 1, "0.6")]

    items = tr.reconcile(reason="reconnect", since_ms=T0, orders=[order(1, "FILLED", "1")], trades=fills)

    assert [(type(i), getattr(getattr(i, "trade", None), "id", None)) for i in items] == [
        (MissedTrade, 11), (MissedTrade, 12), (ReconciledOrder, None), (ReconcileSummary, None)]


def test_a_closed_position_is_reported_with_amount_zero() -> None:
    tr = UserStateTracker()
    event = decode_user_event(
        '{"e":"ACCOUNT_UPDATE","E":1,"T":1,"a":{"m":"ORDER","B":[],"P":[{"s":"ETHUSDT","pa":"2","ep":"10",'
        '"bep":"10","cr":"0","up":"0","mt":"cross","iw":"0","ps":"BOTH"}]}}'
    )
    assert isinstance(event, AccountUpdate) and tr.apply(event)

    items = tr.reconcile(reason="reconnect", since_ms=0, orders=[], positions=[])

    (closed, _) = items
    assert isinstance(closed, ReconciledPosition)
    assert (closed.symbol, closed.position_amt, closed.previous_amt, closed.position) == ("ETHUSDT", 0, 2, None)
