"""The portfolio folds the engine's user events into the same balances and positions the venue holds."""

from __future__ import annotations

from decimal import Decimal

from binfut.matching import Funding, MarkPrice, NewOrder
from binfut.protocol.userevents import decode_user_event, encode_user_event
from binfut.trading import Portfolio
from binfut.trading.backtest import ACCOUNT
from unit.trading.support import new_session

D = Decimal


def test_fills_funding_and_marks_agree_with_the_venue() -> None:
    s, _ = new_session()
    gw, venue, p = s.gateway, s.venue, s.portfolio

    gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.2")))
    s.deliver(venue.on_market(Funding(symbol="BTCUSDT", funding_rate=D("0.0001"), mark_price=D("65100"), time_ms=s.clock.time_ms())))
    s.mark("BTCUSDT", D("65500.5"), s.clock.time_ms())
    gw.submit(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.05")))

    info = venue.account_info(ACCOUNT)
    assert p.wallet == info.total_wallet_balance
    assert p.unrealized() == info.total_unrealized_profit
    assert p.position("BTCUSDT") == D("0.150")
    assert p.fees_paid == (D("65000") * D("0.2") + D("65000") * D("0.05")) * D("0.0005")
    assert p.funding == D("-1.302") and len(p.funding_payments) == 1  # 0.2 x 65100 x 0.0001 paid
    assert p.realized_pnl == D("0") and len(p.fills) == 2
    assert p.equity() == p.wallet + (D("65500.5") - D("65000")) * D("0.150")


def test_open_orders_and_algo_orders_are_tracked_until_closed() -> None:
    s, _ = new_session()
    gw, p = s.gateway, s.portfolio

    ack = gw.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=D("0.01"), price=D("64000")))
    algo = gw.submit_algo(__import__("binfut.matching", fromlist=["NewAlgoOrder"]).NewAlgoOrder(
        symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=D("0.01"), trigger_price=D("60000"), reduce_only=True))
    assert list(p.orders) == [ack.order_id] and list(p.algos) == [algo.algo_id]

    gw.cancel("BTCUSDT", order_id=ack.order_id)
    gw.cancel_algo(algo_id=algo.algo_id)

    assert not p.orders and not p.algos


def test_events_decoded_from_the_wire_fold_the_same_as_engine_structs() -> None:
    s, _ = new_session()
    wire = Portfolio({"USDT": D("10000")})
    s.gateway.on_outputs = lambda outs: [wire.apply(decode_user_event(encode_user_event(o.event)))
                                         for o in outs if getattr(o, "account_id", None) == ACCOUNT]

    s.gateway.submit(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.3")))
    s.deliver(s.venue.on_market(MarkPrice(symbol="BTCUSDT", mark_price=D("64000"), time_ms=s.clock.time_ms())))

    assert wire.positions == s.portfolio.positions
    assert (wire.wallet, wire.fees_paid, wire.fills) == (s.portfolio.wallet, s.portfolio.fees_paid, s.portfolio.fills)


def test_reset_from_query_answers() -> None:
    s, _ = new_session()
    s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.1")))
    fresh = Portfolio()

    fresh.reset_from(s.gateway.balances(), s.gateway.positions(), s.gateway.open_orders(), s.gateway.open_algo_orders())

    assert fresh.wallet == s.portfolio.wallet
    assert fresh.position("BTCUSDT") == D("0.100") and fresh.leverage["BTCUSDT"] == 20
