"""SimulatedGateway: refusals become acks, queries answer in mode-neutral records."""

from __future__ import annotations

from decimal import Decimal

from binfut.matching import ModifyOrder, NewAlgoOrder, NewOrder
from binfut.trading import OrderGateway, SimulatedGateway
from unit.trading.support import new_session

D = Decimal


def test_it_is_an_order_gateway() -> None:
    s, _ = new_session()
    assert isinstance(s.gateway, SimulatedGateway) and isinstance(s.gateway, OrderGateway)


def test_exchange_refusals_come_back_as_rejected_acks_with_binance_codes() -> None:
    s, _ = new_session()
    gw = s.gateway

    too_big = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("100")))
    off_tick = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=D("0.01"), price=D("64000.05")))
    unknown = gw.cancel("BTCUSDT", order_id=42)
    algo = gw.cancel_algo(algo_id=42)

    assert (too_big.status, too_big.code) == ("REJECTED", -2019) and not too_big.accepted
    assert off_tick.code == -4014
    assert unknown.code == -2011 and algo.status == "REJECTED"
    assert not s.portfolio.orders and not s.portfolio.fills


def test_orders_modify_cancel_and_queries() -> None:
    s, _ = new_session()
    gw = s.gateway

    ack = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=D("0.01"),
                             price=D("64000"), new_client_order_id="mine-1"))
    moved = gw.modify(ModifyOrder(symbol="BTCUSDT", side="BUY", order_id=ack.order_id, quantity=D("0.02"), price=D("64100")))
    stop = gw.submit_algo(NewAlgoOrder(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=D("0.01"),
                                       trigger_price=D("60000"), reduce_only=True, client_algo_id="mine-sl"))

    assert ack.accepted and moved.accepted and stop.accepted
    [order] = gw.open_orders("BTCUSDT")
    assert (order.client_order_id, order.price, order.orig_qty) == ("mine-1", D("64100.0"), D("0.020"))
    assert gw.order_status("BTCUSDT", client_order_id="mine-1") == order
    assert gw.order_status("BTCUSDT", client_order_id="nope") is None
    assert [a.client_algo_id for a in gw.open_algo_orders()] == ["mine-sl"]
    gw.cancel_all("BTCUSDT")
    assert gw.open_orders() == [] and gw.open_algo_orders() == []
    assert gw.balances()["USDT"] == D("10000") and gw.positions() == []


def test_account_configuration_is_idempotent() -> None:
    s, _ = new_session()
    gw = s.gateway

    gw.change_margin_type("BTCUSDT", "CROSSED")
    gw.change_margin_type("BTCUSDT", "ISOLATED")
    gw.change_margin_type("BTCUSDT", "ISOLATED")
    gw.change_position_mode(True)
    gw.change_position_mode(True)
    gw.change_leverage("BTCUSDT", 7)

    assert s.venue.position_mode("backtest") == {"dualSidePosition": True}
    assert s.venue.leverage("backtest", "BTCUSDT") == 7 and s.portfolio.leverage["BTCUSDT"] == 7
