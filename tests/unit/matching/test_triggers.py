"""Algo (conditional) orders: trigger conditions, working types, trailing stops, status flow."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from binfut.errors import ApiError, OrderRejected
from binfut.matching import CancelAlgoOrder, NewAlgoOrder, SimulatedVenue, Trade
from binfut.protocol.userevents import AlgoUpdate, OrderTradeUpdate


def algo(v: SimulatedVenue, acct: str = "alice", **kw: Any) -> Any:
    params: dict[str, Any] = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": D("0.1")}
    params.update(kw)
    return v.execute(acct, NewAlgoOrder(**params))


def statuses(outputs: list[Any], h: Any, acct: str = "alice") -> list[str]:
    return [str(e.order.algo_status) for e in h.events(outputs, acct, AlgoUpdate)]


def trade_at(v: SimulatedVenue, h: Any, price: str) -> list[Any]:
    """Print a trade at ``price`` between the two bots (moves the CONTRACT_PRICE)."""
    h.place(v, "mm", "SELL", "0.01", price)
    v.open_account("bot2", {"USDT": D(10**6)}, unlimited=True) if "bot2" not in v.accounts else None
    return h.place(v, "bot2", "BUY", "0.01", price).outputs  # type: ignore[no-any-return]


@pytest.fixture
def long_position(venue: SimulatedVenue, h: Any) -> SimulatedVenue:
    h.place(venue, "mm", "SELL", "0.1", "30000")
    h.place(venue, "alice", "BUY", "0.1", "30000")
    return venue


def test_stop_market_on_contract_price(long_position: SimulatedVenue, h: Any) -> None:
    v = long_position
    r = algo(v, trigger_price=D("29000"), reduce_only=True)
    assert r.value.algo_status == "NEW" and statuses(r.outputs, h) == ["NEW"]
    h.place(v, "mm", "BUY", "1", "28900")  # liquidity for the stop
    assert statuses(trade_at(v, h, "29100"), h) == []
    out = trade_at(v, h, "29000")
    assert statuses(out, h) == ["TRIGGERING", "TRIGGERED", "FINISHED"]
    (spawned,) = [e.order for e in h.events(out, "alice", OrderTradeUpdate) if e.order.execution_type == "TRADE"]
    assert spawned.order_type == "MARKET" and spawned.original_order_type == "STOP_MARKET" and spawned.stop_price == D("29000")
    assert v.position_risk("alice") == []
    final = v.get_algo_order("alice", r.value.algo_id)
    assert final.algo_status == "FINISHED" and final.actual_order_id == str(spawned.order_id)


def test_stop_market_on_mark_price_ignores_trades(long_position: SimulatedVenue, h: Any) -> None:
    v = long_position
    algo(v, trigger_price=D("29000"), working_type="MARK_PRICE", reduce_only=True)
    h.place(v, "mm", "BUY", "1", "28900")
    h.mark(v, "29500")
    assert statuses(trade_at(v, h, "28950"), h) == []  # last price through the trigger: no effect
    out = h.mark(v, "28999")
    assert statuses(out, h) == ["TRIGGERING", "TRIGGERED", "FINISHED"]


def test_would_immediately_trigger_2021(long_position: SimulatedVenue) -> None:
    with pytest.raises(OrderRejected) as exc:
        algo(long_position, trigger_price=D("30100"))  # SELL stop above the last price
    assert exc.value.code == -2021
    with pytest.raises(OrderRejected) as tp:
        algo(long_position, type="TAKE_PROFIT_MARKET", trigger_price=D("29900"))
    assert tp.value.code == -2021
    assert long_position.open_algo_orders("alice") == []


def test_take_profit_limit_spawns_a_limit_order(long_position: SimulatedVenue, h: Any) -> None:
    v = long_position
    algo(v, type="TAKE_PROFIT", trigger_price=D("30500"), price=D("30600"), time_in_force="GTC")
    out = trade_at(v, h, "30500")
    assert statuses(out, h) == ["TRIGGERING", "TRIGGERED"]
    (o,) = v.open_orders("alice")
    assert o.type == "LIMIT" and o.orig_type == "TAKE_PROFIT" and o.price == D("30600")


def test_trailing_stop_activation_and_callback(long_position: SimulatedVenue, h: Any) -> None:
    v = long_position
    r = algo(v, type="TRAILING_STOP_MARKET", activate_price=D("31000"), callback_rate=D("1"), reduce_only=True)
    assert r.value.activate_price == D("31000")
    h.place(v, "mm", "BUY", "1", "30000")
    trade_at(v, h, "30800")  # below activation: not tracking yet
    trade_at(v, h, "30600")  # 1 % below 30 800, but not activated: nothing
    assert v.open_algo_orders("alice")
    trade_at(v, h, "31000")  # activated, extreme 31 000
    trade_at(v, h, "31500")  # new high
    assert statuses(trade_at(v, h, "31190"), h) == []  # 31 500 x 0.99 = 31 185 not reached
    out = trade_at(v, h, "31185")
    assert statuses(out, h) == ["TRIGGERING", "TRIGGERED", "FINISHED"]
    assert v.position_risk("alice") == []


def test_close_position_uses_position_size(long_position: SimulatedVenue, h: Any) -> None:
    v = long_position
    with pytest.raises(ApiError):
        algo(v, close_position=True, trigger_price=D("29000"))  # quantity sent too
    r = v.execute("alice", NewAlgoOrder(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", close_position=True, trigger_price=D("29000")))
    assert r.value.close_position
    h.place(v, "mm", "BUY", "1", "28900")
    out = trade_at(v, h, "29000")
    assert statuses(out, h)[-1] == "FINISHED"
    assert v.position_risk("alice") == []


def test_close_position_without_position_is_rejected_on_trigger(venue: SimulatedVenue, h: Any) -> None:
    trade_at(venue, h, "30000")
    venue.execute("alice", NewAlgoOrder(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", close_position=True, trigger_price=D("29000")))
    out = trade_at(venue, h, "29000")
    assert statuses(out, h) == ["TRIGGERING", "REJECTED"]
    assert h.events(out, "alice", AlgoUpdate)[-1].order.reject_reason == "ReduceOnly Order is rejected."


def test_plain_endpoint_refuses_conditional_types(venue: SimulatedVenue, h: Any) -> None:
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "alice", "SELL", "0.1", None, type="STOP_MARKET", stop_price=D("29000"))
    assert exc.value.code == -4120


def test_algo_validation_and_cancel(venue: SimulatedVenue, h: Any) -> None:
    with pytest.raises(ApiError) as missing:
        algo(venue)  # no triggerPrice
    assert missing.value.code == -1102
    with pytest.raises(ApiError) as wrong_type:
        algo(venue, type="LIMIT", trigger_price=D("29000"))
    assert wrong_type.value.code == -1116
    with pytest.raises(ApiError) as rate:
        algo(venue, type="TRAILING_STOP_MARKET", callback_rate=D("20"))
    assert rate.value.code == -1130
    r = algo(venue, trigger_price=D("29000"), client_algo_id="my-stop")
    out = venue.execute("alice", CancelAlgoOrder(client_algo_id="my-stop")).outputs
    assert statuses(out, h) == ["CANCELED"]
    with pytest.raises(ApiError) as gone:
        venue.execute("alice", CancelAlgoOrder(algo_id=r.value.algo_id))
    assert gone.value.code == -4129
    assert [a.algo_status for a in venue.all_algo_orders("alice", "BTCUSDT")] == ["CANCELED"]


def test_max_algo_orders(venue: SimulatedVenue) -> None:
    for i in range(10):
        algo(venue, trigger_price=D(29000 - i))
    with pytest.raises(OrderRejected) as exc:
        algo(venue, trigger_price=D("28000"))
    assert exc.value.code == -4045


def test_external_trade_moves_contract_price_and_fills_resting_orders(venue: SimulatedVenue, h: Any) -> None:
    oid = h.place(venue, "alice", "BUY", "0.1", "29900").value.order_id
    algo(venue, side="BUY", trigger_price=D("30500"))
    venue.on_market(Trade(symbol="BTCUSDT", price=D("29800"), quantity=D("1"), time_ms=venue.now, buyer_is_maker=True))
    assert venue.get_order("alice", "BTCUSDT", oid).status == "FILLED"  # traded through the bid
    assert venue.last_price("BTCUSDT") == D("29800")
