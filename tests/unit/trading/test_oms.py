"""Order management: rounding and filter checks, client ids, bracket exits (OCO), reconciliation."""

from __future__ import annotations

import logging
import random
import re
from decimal import Decimal

import pytest

from binfut.matching import NewOrder
from binfut.trading import ClientIdGenerator, OrderManager, Portfolio
from binfut.trading.oms import TrackedOrder
from unit.trading.support import new_session

D = Decimal


def test_quantities_round_down_and_prices_round_away_from_aggression() -> None:
    s, _ = new_session()

    buy = s.orders.limit("BTCUSDT", "BUY", D("0.12345"), D("64000.07"))
    sell = s.orders.limit("BTCUSDT", "SELL", D("0.0109"), D("66000.01"))

    assert buy.accepted and sell.accepted
    rows = {o.side: (o.orig_qty, o.price) for o in s.gateway.open_orders()}
    assert rows == {"BUY": (D("0.123"), D("64000.0")), "SELL": (D("0.010"), D("66000.1"))}


@pytest.mark.parametrize(("qty", "price", "reason"), [
    (D("0.0004"), None, "quantity rounds to zero"),
    (D("0.001"), D("64000"), "MIN_NOTIONAL"),
    (D("0.01"), D("70000"), "PERCENT_PRICE"),
    (D("2000"), D("65000"), "LOT_SIZE maxQty"),
])
def test_filter_violations_are_refused_with_the_reason_logged(qty: Decimal, price: Decimal | None, reason: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    s, _ = new_session()

    with caplog.at_level(logging.WARNING):
        ack = s.orders.market("BTCUSDT", "BUY", qty) if price is None else s.orders.limit("BTCUSDT", "BUY", qty, price)

    assert ack.status == "REJECTED" and reason in ack.reason
    assert reason in caplog.text
    assert s.gateway.open_orders() == [] and s.orders.rejections == [ack]


def test_client_ids_are_unique_valid_and_recognisable() -> None:
    ids = ClientIdGenerator("ma", random.Random(3))
    other = ClientIdGenerator("ma", random.Random(4))

    made = [ids.next() for _ in range(2000)] + [other.next() for _ in range(10)]

    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[\.A-Z\:/a-z0-9_-]{1,36}", m) for m in made)
    assert all(ids.owns(m) for m in made) and not ids.owns("web_123") and not ids.owns("mango")
    with pytest.raises(ValueError):
        ClientIdGenerator("bad prefix!")


def test_bracket_exits_are_armed_on_the_fill_and_cancel_each_other() -> None:
    s, _ = new_session()

    b = s.orders.bracket("BTCUSDT", "BUY", D("0.1"), stop_loss=D("63000"), take_profit=D("66000"))

    assert b.state == "ACTIVE" and s.portfolio.position("BTCUSDT") == D("0.100")
    exits = {a.order_type: a for a in s.portfolio.algos.values()}
    assert set(exits) == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
    assert exits["STOP_MARKET"].trigger_price == D("63000") and exits["STOP_MARKET"].reduce_only
    s.liquidity.refresh(s.venue, "BTCUSDT", D("66000"))
    s.mark("BTCUSDT", D("66000"), s.clock.time_ms())  # MARK_PRICE take-profit triggers

    assert s.portfolio.position("BTCUSDT") == 0
    assert not s.portfolio.algos and s.gateway.open_algo_orders() == []  # the stop was cancelled (OCO)
    assert b.state == "DONE"


def test_a_refused_bracket_entry_arms_nothing() -> None:
    s, _ = new_session()

    b = s.orders.bracket("BTCUSDT", "BUY", D("50"), stop_loss=D("63000"))

    assert b.state == "DONE" and not b.acks[0].accepted and s.gateway.open_algo_orders() == []


def test_reconcile_after_a_restart_adopts_settles_and_relinks() -> None:
    s, _ = new_session()
    before = s.orders
    resting = before.limit("BTCUSDT", "BUY", D("0.01"), D("64000"))
    before.bracket("BTCUSDT", "BUY", D("0.1"), stop_loss=D("63000"), take_profit=D("66000"))
    # an order whose answer was lost: it did reach the exchange and filled
    lost = before.ids.next()
    s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.01"), new_client_order_id=lost))
    foreign = s.gateway.submit(NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", time_in_force="GTC", quantity=D("0.01"),
                                        price=D("66500"), new_client_order_id="web_manual_1"))
    # the restarted process: a fresh portfolio and OMS (new id session, same prefix) over the same account
    portfolio = Portfolio()
    after = OrderManager(s.gateway, portfolio, s.clock, ids=ClientIdGenerator("bt", random.Random(99)))
    after.tracked[lost] = TrackedOrder("BTCUSDT", lost, "BUY", "MARKET", D("0.01"), "UNKNOWN")
    never = after.ids.next()
    after.tracked[never] = TrackedOrder("BTCUSDT", never, "BUY", "MARKET", D("0.01"), "UNKNOWN")

    report = after.reconcile()

    assert report.adopted == [resting.client_order_id]
    assert report.settled == {lost: "FILLED", never: "REJECTED"}
    assert report.foreign == [foreign.client_order_id]
    assert report.relinked_brackets == 1 and report.open_algo_orders == 2
    assert report.positions == {"BTCUSDT:BOTH": D("0.110")}
    assert portfolio.position("BTCUSDT") == D("0.110") and len(portfolio.orders) == 2
    bracket = next(iter(after.brackets.values()))
    assert (bracket.stop_loss, bracket.take_profit) == (D("63000.0"), D("66000.0"))


def test_reconcile_cancels_exits_left_without_a_position() -> None:
    s, _ = new_session()
    s.orders.bracket("BTCUSDT", "SELL", D("0.1"), stop_loss=D("66000"), take_profit=D("64000"))
    s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.1"), reduce_only=True))  # closed elsewhere

    report = OrderManager(s.gateway, Portfolio(), s.clock, ids=ClientIdGenerator("bt")).reconcile()

    assert len(report.cancelled_orphans) == 2 and s.gateway.open_algo_orders() == []


def test_target_and_flatten_in_one_way_and_hedge_mode() -> None:
    from binfut.trading import BacktestConfig

    for hedge in (False, True):
        s, _ = new_session(config=BacktestConfig(hedge_mode=hedge))
        s.orders.target("BTCUSDT", D("0.2"))
        s.orders.target("BTCUSDT", D("-0.1"))
        assert s.portfolio.net_position("BTCUSDT") == D("-0.1")
        s.orders.flatten()
        assert s.portfolio.net_position("BTCUSDT") == 0 and s.gateway.positions() == []
