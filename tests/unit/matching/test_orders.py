"""Order types, time in force, filters, STP, amendments, batches and cancels (engine + venue)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from binfut.errors import ApiError, InvalidRequest, OrderRejected, UnknownOrder
from binfut.matching import (
    BatchCancelOrders,
    BatchModifyOrders,
    BatchNewOrders,
    CancelAllOrders,
    CancelOrder,
    ChangePositionMode,
    CountdownCancelAll,
    ModifyOrder,
    NewOrder,
    SimulatedVenue,
    Tick,
)


def code(exc: pytest.ExceptionInfo[ApiError]) -> int:
    return exc.value.code


def book(v: SimulatedVenue, limit: int = 10) -> tuple[list[Any], list[Any]]:
    _, bids, asks = v.depth("BTCUSDT", limit)
    return [(str(p), str(q)) for p, q in bids], [(str(p), str(q)) for p, q in asks]


# --- basic LIMIT / MARKET -----------------------------------------------------------------------


def test_limit_rests_then_fills_at_maker_price(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "1", "30000")
    r = h.place(venue, "alice", "BUY", "0.3", "30100")
    assert r.value.status == "FILLED" and r.value.avg_price == D("30000")
    assert book(venue)[1] == [("30000.00", "0.700")]
    assert h.order_events(r.outputs, "alice") == [("NEW", "NEW"), ("TRADE", "FILLED")]
    assert h.order_events(r.outputs, "mm") == [("TRADE", "PARTIALLY_FILLED")]


def test_price_time_priority(venue: SimulatedVenue, h: Any) -> None:
    first = h.place(venue, "mm", "SELL", "0.1", "30000").value.order_id
    better = h.place(venue, "bob", "SELL", "0.1", "29990").value.order_id
    h.place(venue, "mm", "SELL", "0.1", "30000")
    h.place(venue, "alice", "BUY", "0.15", "30000", tif="IOC")
    assert venue.get_order("bob", "BTCUSDT", better).status == "FILLED"
    assert venue.get_order("mm", "BTCUSDT", first).executed_qty == D("0.05")


def test_market_walks_levels_and_expires_remainder_without_liquidity(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "0.1", "30000")
    h.place(venue, "mm", "SELL", "0.1", "30010")
    r = h.place(venue, "alice", "BUY", "0.3")
    assert r.value.status == "EXPIRED" and r.value.executed_qty == D("0.2")
    assert r.value.avg_price == D("30005")
    assert h.order_events(r.outputs, "alice") == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "PARTIALLY_FILLED"), ("EXPIRED", "EXPIRED")]


def test_ack_answer_shows_acceptance_state(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "1", "30000")
    r = venue.execute("alice", NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.1")))
    assert r.value.status == "NEW" and r.value.executed_qty == 0


# --- time in force ------------------------------------------------------------------------------


def test_ioc_partial_fill_then_expired(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "0.1", "30000")
    r = h.place(venue, "alice", "BUY", "0.5", "30000", tif="IOC")
    assert r.value.status == "EXPIRED" and r.value.executed_qty == D("0.1")
    assert h.order_events(r.outputs, "alice") == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("EXPIRED", "EXPIRED")]
    assert book(venue) == ([], [])


def test_fok_that_cannot_fill_is_rejected_5021_and_changes_nothing(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "0.1", "30000")
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "BUY", "0.5", "30000", tif="FOK")
    assert code(exc) == -5021
    assert book(venue)[1] == [("30000.00", "0.100")]
    assert venue.position_risk("alice") == []


def test_fok_partial_expires_without_fill_in_legacy_mode(clock: Any, h: Any) -> None:
    import random

    v = SimulatedVenue(clock, random.Random(1), fok_reject=False)
    v.open_account("mm", {"USDT": D(10**6)}, unlimited=True)
    v.open_account("alice", {"USDT": D(10**4)})
    h.place(v, "mm", "SELL", "0.1", "30000")
    r = h.place(v, "alice", "BUY", "0.5", "30000", tif="FOK")
    assert r.value.status == "EXPIRED" and r.value.executed_qty == 0
    assert h.order_events(r.outputs, "alice") == [("NEW", "NEW"), ("EXPIRED", "EXPIRED")]
    assert book(v)[1] == [("30000.00", "0.100")]


def test_fok_that_can_fill_fills(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "0.3", "30000")
    h.place(venue, "mm", "SELL", "0.3", "30010")
    assert h.place(venue, "alice", "BUY", "0.5", "30010", tif="FOK").value.status == "FILLED"


def test_gtx_crossing_is_rejected_5022(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "0.1", "30000")
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "BUY", "0.1", "30000", tif="GTX")
    assert code(exc) == -5022
    assert h.place(venue, "alice", "BUY", "0.1", "29990", tif="GTX").value.status == "NEW"


def test_gtd_expires_on_tick(venue: SimulatedVenue, h: Any) -> None:
    gtd = venue.now + 3_600_000
    oid = h.place(venue, "alice", "BUY", "0.1", "29000", tif="GTD", good_till_date=gtd + 123).value.order_id
    assert venue.get_order("alice", "BTCUSDT", oid).good_till_date == gtd  # ms part dropped
    assert venue.on_market(Tick(time_ms=gtd - 1)) == [] or venue.get_order("alice", "BTCUSDT", oid).status == "NEW"
    out = venue.on_market(Tick(time_ms=gtd))
    assert h.order_events(out, "alice") == [("EXPIRED", "EXPIRED")]
    assert book(venue) == ([], [])


def test_gtd_must_be_600s_ahead(venue: SimulatedVenue, h: Any) -> None:
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "BUY", "0.1", "29000", tif="GTD", good_till_date=venue.now + 60_000)
    assert code(exc) == -5040
    with pytest.raises(InvalidRequest) as exc2:
        h.place(venue, "alice", "BUY", "0.1", "29000", tif="GTD")
    assert code(exc2) == -1102


# --- validation codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"side": "HOLD"}, -1117),
        ({"type": "ICEBERG"}, -1116),
        ({"time_in_force": "DAY"}, -1115),
        ({"time_in_force": None}, -1102),
        ({"quantity": None}, -1102),
        ({"price": None}, -1102),
        ({"type": "STOP_MARKET"}, -4120),
        ({"type": "TAKE_PROFIT"}, -4120),
        ({"type": "TRAILING_STOP_MARKET"}, -4120),
        ({"price": D("30000.05")}, -4014),
        ({"price": D("30000.001")}, -1111),
        ({"quantity": D("0.0015")}, -1111),
        ({"quantity": D("0")}, -4003),
        ({"quantity": D("1001")}, -4005),
        ({"price": D("10")}, -4013),
        ({"quantity": D("0.001")}, -4164),
        ({"symbol": "DOGEUSDT"}, -1121),
        ({"position_side": "LONG"}, -4061),
        ({"new_client_order_id": "bad id!"}, -4015),
    ],
)
def test_rejections_carry_binance_codes(venue: SimulatedVenue, kwargs: dict[str, Any], expected: int) -> None:
    params: dict[str, Any] = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": D("0.01"), "price": D("30000"), "time_in_force": "GTC"}
    params.update(kwargs)
    with pytest.raises(ApiError) as exc:
        venue.execute("alice", NewOrder(**params))
    assert exc.value.code == expected
    assert venue.open_orders("alice") == []


def test_market_quantity_uses_market_lot_size(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "500", "30000")
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "mm", "BUY", "121")  # MARKET_LOT_SIZE maxQty 120 < LOT_SIZE maxQty 1000
    assert code(exc) == -4005


def test_percent_price_against_mark(venue: SimulatedVenue, h: Any) -> None:
    h.mark(venue, "30000")
    with pytest.raises(OrderRejected) as up:
        h.place(venue, "alice", "BUY", "0.01", "31500.1")
    assert code(up) == -4016 and up.value.msg == "Limit price can't be higher than 31500.00."
    with pytest.raises(OrderRejected) as down:
        h.place(venue, "alice", "SELL", "0.01", "28499.9")
    assert code(down) == -4024
    assert h.place(venue, "alice", "BUY", "0.01", "31500").value.status == "NEW"


def test_min_notional_not_applied_to_reduce_only(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "1", "30000")
    h.place(venue, "alice", "BUY", "0.01", "30000")
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "SELL", "0.001", "31000")
    assert code(exc) == -4164
    assert h.place(venue, "alice", "SELL", "0.001", "31000", reduce_only=True).value.status == "NEW"


def test_max_open_orders(venue: SimulatedVenue, h: Any) -> None:
    for i in range(200):
        h.place(venue, "mm", "BUY", "0.01", str(20000 + i))
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "mm", "BUY", "0.01", "19000")
    assert code(exc) == -2025


def test_duplicate_client_order_id_of_open_order(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "alice", "BUY", "0.01", "29000", new_client_order_id="abc")
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "BUY", "0.01", "29000", new_client_order_id="abc")
    assert code(exc) == -4116
    venue.execute("alice", CancelOrder(symbol="BTCUSDT", orig_client_order_id="abc"))
    assert h.place(venue, "alice", "BUY", "0.01", "29000", new_client_order_id="abc").value.status == "NEW"


def test_unknown_orders(venue: SimulatedVenue) -> None:
    with pytest.raises(UnknownOrder) as cancel:
        venue.execute("alice", CancelOrder(symbol="BTCUSDT", order_id=1))
    assert code(cancel) == -2011
    with pytest.raises(UnknownOrder) as query:
        venue.get_order("alice", "BTCUSDT", 1)
    assert code(query) == -2013


# --- self-trade prevention ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "taker_status", "maker_status", "filled"),
    [
        ("NONE", "FILLED", "FILLED", "0.1"),
        ("EXPIRE_TAKER", "EXPIRED_IN_MATCH", "NEW", "0"),
        ("EXPIRE_MAKER", "NEW", "EXPIRED_IN_MATCH", "0"),
        ("EXPIRE_BOTH", "EXPIRED_IN_MATCH", "EXPIRED_IN_MATCH", "0"),
    ],
)
def test_self_trade_prevention(venue: SimulatedVenue, h: Any, mode: str, taker_status: str, maker_status: str, filled: str) -> None:
    maker = h.place(venue, "alice", "SELL", "0.1", "30000").value.order_id
    r = h.place(venue, "alice", "BUY", "0.1", "30000", self_trade_prevention_mode=mode)
    assert r.value.status == taker_status and r.value.executed_qty == D(filled)
    assert venue.get_order("alice", "BTCUSDT", maker).status == maker_status
    if mode != "NONE":
        assert ("EXPIRED", "EXPIRED_IN_MATCH") in h.order_events(r.outputs, "alice")
        assert not [t for t in venue.user_trades("alice", "BTCUSDT")]


def test_stp_expire_maker_continues_to_other_makers(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "alice", "SELL", "0.1", "30000")
    h.place(venue, "mm", "SELL", "0.1", "30000")
    r = h.place(venue, "alice", "BUY", "0.1", "30000", self_trade_prevention_mode="EXPIRE_MAKER")
    assert r.value.status == "FILLED"


# --- modify -------------------------------------------------------------------------------------


def test_modify_quantity_decrease_keeps_priority(venue: SimulatedVenue, h: Any) -> None:
    a = h.place(venue, "alice", "SELL", "0.2", "30000").value.order_id
    b = h.place(venue, "bob", "SELL", "0.2", "30000").value.order_id
    r = venue.execute("alice", ModifyOrder(symbol="BTCUSDT", side="SELL", order_id=a, quantity=D("0.1"), price=D("30000")))
    assert h.order_events(r.outputs, "alice") == [("AMENDMENT", "NEW")]
    h.place(venue, "mm", "BUY", "0.1", "30000")
    assert venue.get_order("alice", "BTCUSDT", a).status == "FILLED"
    assert venue.get_order("bob", "BTCUSDT", b).executed_qty == 0


@pytest.mark.parametrize(("qty", "price"), [("0.3", "30000"), ("0.2", "30000.1"), ("0.1", "30000.1")])
def test_modify_price_change_or_increase_loses_priority(venue: SimulatedVenue, h: Any, qty: str, price: str) -> None:
    a = h.place(venue, "alice", "SELL", "0.2", "30000").value.order_id
    b = h.place(venue, "bob", "SELL", "0.2", "30000.1").value.order_id
    venue.execute("alice", ModifyOrder(symbol="BTCUSDT", side="SELL", order_id=a, quantity=D(qty), price=D(price)))
    h.place(venue, "mm", "BUY", "0.1", "30000.1")
    if price == "30000":  # still the better price, but behind nobody at its level: check level order
        assert venue.get_order("alice", "BTCUSDT", a).executed_qty == D("0.1")
    else:  # same price as bob now, queued behind him
        assert venue.get_order("bob", "BTCUSDT", b).executed_qty == D("0.1")
        assert venue.get_order("alice", "BTCUSDT", a).executed_qty == 0


def test_modify_rules(venue: SimulatedVenue, h: Any) -> None:
    a = h.place(venue, "alice", "SELL", "0.2", "30000").value.order_id
    with pytest.raises(OrderRejected) as same:
        venue.execute("alice", ModifyOrder(symbol="BTCUSDT", side="SELL", order_id=a, quantity=D("0.2"), price=D("30000")))
    assert code(same) == -5027
    with pytest.raises(UnknownOrder) as unknown:
        venue.execute("alice", ModifyOrder(symbol="BTCUSDT", side="SELL", order_id=42, quantity=D("0.2"), price=D("1")))
    assert code(unknown) == -2013
    # partially filled, new quantity <= executed: the order is cancelled
    h.place(venue, "mm", "BUY", "0.15", "30000")
    r = venue.execute("alice", ModifyOrder(symbol="BTCUSDT", side="SELL", order_id=a, quantity=D("0.1"), price=D("30000")))
    assert r.value.status == "CANCELED"


def test_modify_to_crossing_price_trades(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "BUY", "0.1", "29900")
    a = h.place(venue, "alice", "SELL", "0.2", "30000").value.order_id
    r = venue.execute("alice", ModifyOrder(symbol="BTCUSDT", side="SELL", order_id=a, quantity=D("0.2"), price=D("29900")))
    assert r.value.status == "PARTIALLY_FILLED"
    assert book(venue) == ([], [("29900.00", "0.100")])


# --- batches, cancel-all, countdown -------------------------------------------------------------


def test_batch_place_partial_failure(venue: SimulatedVenue) -> None:
    good = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"), price=D("29000"), time_in_force="GTC")
    bad = NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"), price=D("29000.05"), time_in_force="GTC")
    r = venue.execute("alice", BatchNewOrders(orders=[good, bad, good]))
    assert [type(x).__name__ for x in r.value] == ["OrderSnapshot", "OrderRejected", "OrderSnapshot"]
    assert r.value[1].code == -4014
    assert len(venue.open_orders("alice")) == 2
    with pytest.raises(OrderRejected) as exc:
        venue.execute("alice", BatchNewOrders(orders=[good] * 6))
    assert code(exc) == -4082


def test_batch_modify_and_cancel(venue: SimulatedVenue, h: Any) -> None:
    a = h.place(venue, "alice", "BUY", "0.01", "29000").value.order_id
    r = venue.execute("alice", BatchModifyOrders(orders=[
        ModifyOrder(symbol="BTCUSDT", side="BUY", order_id=a, quantity=D("0.02"), price=D("29000")),
        ModifyOrder(symbol="BTCUSDT", side="BUY", order_id=999, quantity=D("0.02"), price=D("29000")),
    ]))
    assert r.value[0].orig_qty == D("0.02") and r.value[1].code == -2013
    r = venue.execute("alice", BatchCancelOrders(symbol="BTCUSDT", order_id_list=[a, 999]))
    assert r.value[0].status == "CANCELED" and r.value[1].code == -2011


def test_cancel_all(venue: SimulatedVenue, h: Any) -> None:
    for p in ("29000", "29001", "29002"):
        h.place(venue, "alice", "BUY", "0.01", p)
    h.place(venue, "alice", "BUY", "0.1", "3000", symbol="ETHUSDT")
    r = venue.execute("alice", CancelAllOrders(symbol="BTCUSDT"))
    assert h.order_events(r.outputs, "alice") == [("CANCELED", "CANCELED")] * 3
    assert [o.symbol for o in venue.open_orders("alice")] == ["ETHUSDT"]


def test_countdown_cancel_all(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "alice", "BUY", "0.01", "29000")
    now = venue.now
    venue.execute("alice", CountdownCancelAll(symbol="BTCUSDT", countdown_time=10_000))
    assert venue.on_market(Tick(time_ms=now + 5_000)) == []
    venue.execute("alice", CountdownCancelAll(symbol="BTCUSDT", countdown_time=10_000))  # heartbeat (clock unchanged)
    out = venue.on_market(Tick(time_ms=now + 10_000))
    assert h.order_events(out, "alice") == [("CANCELED", "CANCELED")]
    # 0 disables the timer
    h.place(venue, "alice", "BUY", "0.01", "29000")
    venue.execute("alice", CountdownCancelAll(symbol="BTCUSDT", countdown_time=1_000))
    venue.execute("alice", CountdownCancelAll(symbol="BTCUSDT", countdown_time=0))
    venue.on_market(Tick(time_ms=now + 60_000))
    assert len(venue.open_orders("alice")) == 1


def test_countdown_refresh_moves_deadline(venue: SimulatedVenue, h: Any, clock: Any) -> None:
    h.place(venue, "alice", "BUY", "0.01", "29000")
    venue.execute("alice", CountdownCancelAll(symbol="BTCUSDT", countdown_time=10_000))
    clock.advance(8_000 * 1_000_000)
    venue.execute("alice", CountdownCancelAll(symbol="BTCUSDT", countdown_time=10_000))
    venue.on_market(Tick(time_ms=venue.now + 5_000))  # 13 s after the first heartbeat, 5 s after the refresh
    assert len(venue.open_orders("alice")) == 1
    venue.on_market(Tick(time_ms=venue.now + 10_000))
    assert venue.open_orders("alice") == []


# --- reduce-only, hedge mode, priceMatch --------------------------------------------------------


def test_reduce_only_never_increases_and_expires_when_flat(venue: SimulatedVenue, h: Any) -> None:
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "SELL", "0.1", "31000", reduce_only=True)  # nothing to reduce
    assert code(exc) == -2022
    h.place(venue, "mm", "SELL", "1", "30000")
    h.place(venue, "alice", "BUY", "0.1", "30000")  # long 0.1
    with pytest.raises(OrderRejected):
        h.place(venue, "alice", "BUY", "0.1", "29000", reduce_only=True)  # would increase
    ro = h.place(venue, "alice", "SELL", "0.3", "30100", reduce_only=True).value.order_id
    h.place(venue, "mm", "BUY", "1", "30100")  # hits it: only 0.1 may fill
    assert venue.get_order("alice", "BTCUSDT", ro).executed_qty == D("0.1")
    assert venue.get_order("alice", "BTCUSDT", ro).status == "EXPIRED"
    assert venue.position_risk("alice") == []


def test_reduce_only_expires_when_position_closed_elsewhere(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "1", "30000")
    h.place(venue, "alice", "BUY", "0.1", "30000")
    ro = h.place(venue, "alice", "SELL", "0.1", "31000", reduce_only=True).value.order_id
    h.place(venue, "mm", "BUY", "1", "29000")
    r = h.place(venue, "alice", "SELL", "0.1")  # market close
    assert ("EXPIRED", "EXPIRED") in h.order_events(r.outputs, "alice")
    assert venue.get_order("alice", "BTCUSDT", ro).status == "EXPIRED"


def test_hedge_mode_long_and_short(venue: SimulatedVenue, h: Any) -> None:
    venue.execute("alice", ChangePositionMode(dual_side_position=True))
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "BUY", "0.1", "29000")  # BOTH in hedge mode
    assert code(exc) == -4061
    with pytest.raises(InvalidRequest):
        h.place(venue, "alice", "BUY", "0.1", "29000", position_side="LONG", reduce_only=True)
    h.place(venue, "mm", "SELL", "1", "30000")
    h.place(venue, "mm", "BUY", "1", "29990")
    h.place(venue, "alice", "BUY", "0.2", "30000", position_side="LONG")
    h.place(venue, "alice", "SELL", "0.1", "29990", position_side="SHORT")
    rows = {r.position_side: r.position_amt for r in venue.position_risk("alice")}
    assert rows == {"LONG": D("0.2"), "SHORT": D("-0.1")}
    # closing orders reduce only: BUY SHORT closes the short, then there is nothing left to close
    h.place(venue, "alice", "BUY", "0.1", "30000", position_side="SHORT")
    with pytest.raises(OrderRejected) as exc2:
        h.place(venue, "alice", "BUY", "0.1", "30000", position_side="SHORT")
    assert code(exc2) == -2022
    # SELL LONG larger than the long fills only the long's size
    r = h.place(venue, "alice", "SELL", "0.5", "29990", position_side="LONG")
    assert r.value.executed_qty == D("0.2") and r.value.status == "EXPIRED"
    assert venue.position_risk("alice") == []


def test_price_match_opponent_and_queue(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "0.1", "30010")
    h.place(venue, "mm", "SELL", "0.1", "30020")
    h.place(venue, "mm", "BUY", "0.1", "29990")
    q = h.place(venue, "alice", "BUY", "0.01", None, type="LIMIT", price_match="QUEUE").value
    assert q.price == D("29990") and q.status == "NEW"
    o = h.place(venue, "alice", "BUY", "0.01", None, type="LIMIT", price_match="OPPONENT_5").value
    assert o.price == D("30020") and o.status == "FILLED"
