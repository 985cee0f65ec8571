"""The simulated book: fills at the reference price or down a slippage ladder; nothing of ours rests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from binfut.matching import NewAlgoOrder, NewOrder, Trade
from binfut.trading import BacktestConfig, LiquidityConfig
from unit.trading.support import new_session

D = Decimal


def session(**liquidity: object):  # noqa: ANN201
    return new_session(config=BacktestConfig(liquidity=LiquidityConfig(**liquidity)))[0]


def test_a_market_order_fills_at_the_reference_price_and_leaves_no_quote() -> None:
    s = session()

    ack = s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.3")))

    assert ack.status == "FILLED" and ack.avg_price == D("65000")
    assert s.venue.open_orders(s.liquidity.account_id) == []


def test_a_ladder_gives_slippage_and_a_thin_book_fills_partly() -> None:
    s = session(slippage_bps=D("1"), levels=3, level_bps=D("2"), level_qty=D("0.1"))

    buy = s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.25")))
    sell = s.gateway.submit(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.5")))

    prices = [(f.side, f.price, f.qty) for f in s.portfolio.fills]
    assert prices[:3] == [("BUY", D("65006.50"), D("0.100")), ("BUY", D("65019.50"), D("0.100")), ("BUY", D("65032.50"), D("0.050"))]
    assert buy.executed_qty == D("0.250")
    assert sell.status == "EXPIRED" and sell.executed_qty == D("0.300")  # 3 levels x 0.1: the rest expires
    assert [p for _, p, _ in prices[3:]] == [D("64993.50"), D("64980.50"), D("64967.50")]
    assert s.venue.open_orders(s.liquidity.account_id) == []


def test_a_non_marketable_limit_rests_and_a_small_order_still_meets_min_notional() -> None:
    s = session()

    rest = s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=D("0.01"), price=D("64900")))
    s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.01")))
    tiny = s.gateway.submit(NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.001"), reduce_only=True))

    assert rest.status == "NEW"
    assert tiny.status == "FILLED"  # the quote was 0.002 (MIN_NOTIONAL 100); the rest was withdrawn
    assert s.venue.open_orders(s.liquidity.account_id) == []


@pytest.mark.parametrize("price", [D("64000"), D("66000")])
def test_standing_quotes_are_not_filled_by_prints_and_serve_triggered_stops(price: Decimal) -> None:
    s = session()
    s.gateway.submit(NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("0.1")))
    kind = "STOP_MARKET" if price < 65000 else "TAKE_PROFIT_MARKET"
    s.gateway.submit_algo(NewAlgoOrder(symbol="BTCUSDT", side="SELL", type=kind, quantity=D("0.1"), trigger_price=price,
                                       reduce_only=True))
    now = s.clock.time_ms()

    s.liquidity.refresh(s.venue, "BTCUSDT", price)
    s.deliver(s.venue.on_market(Trade(symbol="BTCUSDT", price=price, quantity=D("1000"), time_ms=now, buyer_is_maker=price < 65000)))

    assert s.portfolio.position("BTCUSDT") == 0
    assert s.portfolio.fills[-1].price == price - D("0.1")  # one tick beyond the print that triggered it
    s.liquidity.withdraw(s.venue, "BTCUSDT")
    assert s.venue.open_orders(s.liquidity.account_id) == []


@pytest.mark.parametrize("jump", [D("2000"), D("-2000")])
def test_standing_quotes_survive_a_jump_larger_than_their_spread(jump: Decimal) -> None:
    # Moving the near side first would cross the provider's own far quote and both would vanish,
    # leaving a triggered stop / take-profit nothing to fill against.
    s = session()
    s.liquidity.refresh(s.venue, "BTCUSDT", D("65000"))

    s.liquidity.refresh(s.venue, "BTCUSDT", D("65000") + jump)

    quotes = sorted((o.side, o.price) for o in s.venue.open_orders(s.liquidity.account_id, "BTCUSDT"))
    assert [side for side, _ in quotes] == ["BUY", "SELL"]
    assert quotes[0][1] < D("65000") + jump < quotes[1][1]
