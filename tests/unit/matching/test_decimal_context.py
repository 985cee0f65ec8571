"""The venue's money does not depend on the caller's decimal context.

ccxt sets ``ROUND_HALF_UP`` and the Underflow trap on the calling thread's context and leaves them
there; a user may lower (or raise) ``prec``.  The same seeded scenario -- fees, realized PnL on an
averaged entry, funding, unrealized PnL, isolated margin, a liquidation and every query -- must give
byte-identical answers, events and queries whatever context it runs in.  The amounts are chosen so that
commission, funding, uPnL and realized PnL all fall exactly half-way at the 9th decimal, where
``ROUND_HALF_UP`` and the default ``ROUND_HALF_EVEN`` disagree, and so that an average entry price is
rounded half-way at its 28th digit (which no ``quantize`` covers: the venue's own context does).
"""

from __future__ import annotations

import decimal
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from binfut.clock import ManualClock
from binfut.matching import (
    ChangeLeverage,
    ChangeMarginType,
    Funding,
    MarkPrice,
    NewOrder,
    SimulatedVenue,
)
from helpers.decimal_context import FOREIGN_CONTEXTS

D = Decimal
START_NS = 1_700_000_000_000_000_000


def _order(symbol: str, side: str, qty: str, price: str | None = None, **kw: Any) -> NewOrder:
    return NewOrder(
        symbol=symbol, side=side, type="LIMIT" if price else "MARKET", quantity=D(qty), price=D(price) if price else None,
        time_in_force="GTC" if price else None, new_order_resp_type="RESULT", **kw,
    )


def scenario() -> tuple[SimulatedVenue, list[Any]]:
    """Run the scenario in the current context; return the venue and everything it answered, in order."""
    clock = ManualClock(START_NS)
    venue = SimulatedVenue(clock, random.Random(7))
    venue.open_account("mm", {"USDT": D(1_000_000)}, unlimited=True, maker_rate=D("0.00025"))
    venue.open_account("alice", {"USDT": D(10_000)}, maker_rate=D("0.00018"), taker_rate=D("0.00045"))
    venue.open_account("bob", {"USDT": D(1_000)})
    venue.open_account("carol", {"USDT": D(10_000)})
    seen: list[Any] = []

    def run(account: str, command: Any) -> None:
        clock.advance(1_000_000_000)
        result = venue.execute(account, command)
        seen.append((result.value, result.outputs))

    def market(event: Any) -> None:
        seen.append(venue.on_market(event))

    def queries() -> None:
        for a in ("mm", "alice", "bob", "carol"):
            seen.append(venue.position_risk(a, include_empty=True))
            seen.append(venue.account_info(a))
            seen.append(venue.balances(a))
            seen.append(venue.open_orders(a))
            seen.append(venue.income(a))
            for symbol in ("BTCUSDT", "XRPUSDT", "ETHUSDT"):
                seen.append(venue.user_trades(a, symbol))
                seen.append(venue.all_orders(a, symbol))
        seen.append(venue.depth("BTCUSDT"))
        seen.append(venue.best_bid_ask("XRPUSDT"))

    # BTCUSDT: carol's average entry (0.004 x 30 000 + 0.011 x 30 000.2 + 0.004 x 30 000.1) / 0.019 has 28 digits, and
    # the product entry x lots inside it is rounded exactly half-way at the 29th
    for qty, price in (("0.004", "30000.0"), ("0.011", "30000.2"), ("0.004", "30000.1")):
        run("mm", _order("BTCUSDT", "SELL", qty, price))
        run("carol", _order("BTCUSDT", "BUY", qty))
    # BTCUSDT: alice takes 0.005 at 30 000.1 -> notional 150.0005; taker fee 0.067500225, mm's maker fee 0.037500125
    run("mm", _order("BTCUSDT", "SELL", "0.010", "30000.1"))
    run("alice", _order("BTCUSDT", "BUY", "0.005"))
    # uPnL at mark 30 000.100001: 0.000001 x 0.005 = 0.000000005
    market(MarkPrice(symbol="BTCUSDT", mark_price=D("30000.100001"), time_ms=venue.now + 1))
    queries()
    # funding 0.005 x 30 000.3 x 0.00015 = 0.022500225
    market(Funding(symbol="BTCUSDT", funding_rate=D("0.00015"), mark_price=D("30000.3"), time_ms=venue.now + 2))
    # XRPUSDT: entry (150 x 0.5 + 10 x 0.5001) / 160 = 0.50000625; closing 0.1 at 0.5 realizes -0.000000625
    run("mm", _order("XRPUSDT", "SELL", "200", "0.5001"))
    run("mm", _order("XRPUSDT", "SELL", "150", "0.5000"))
    run("alice", _order("XRPUSDT", "BUY", "160"))
    run("mm", _order("XRPUSDT", "BUY", "100", "0.5000"))
    run("alice", _order("XRPUSDT", "SELL", "0.1", reduce_only=True))
    # ETHUSDT, isolated at 75x for bob; the mark falls until he is liquidated
    run("bob", ChangeMarginType(symbol="ETHUSDT", margin_type="ISOLATED"))
    run("bob", ChangeLeverage(symbol="ETHUSDT", leverage=75))
    run("mm", _order("ETHUSDT", "SELL", "1", "2000.07"))
    run("bob", _order("ETHUSDT", "BUY", "0.7", "2000.07"))
    market(MarkPrice(symbol="ETHUSDT", mark_price=D("1999.123456789"), time_ms=venue.now + 3))
    queries()
    market(MarkPrice(symbol="ETHUSDT", mark_price=D("1977.3"), time_ms=venue.now + 4))
    queries()
    return venue, seen


def _encode(seen: list[Any]) -> bytes:
    return msgspec.json.encode(seen, enc_hook=repr)


def test_the_scenario_hits_half_way_cases_under_the_default_context() -> None:
    with decimal.localcontext(decimal.Context()):
        venue, _ = scenario()
    alice, mm = venue.accounts["alice"], venue.accounts["mm"]

    fees = [t[7] for t in alice.trades]
    assert fees[0] == D("0.06750022")  # 0.067500225, half to even
    assert next(t[7] for t in mm.trades if t[4:6] == (300001, 5)) == D("0.03750012")  # 0.037500125
    funding = [row[3] for row in alice.income if row[2] == "FUNDING_FEE"]
    assert funding == [D("-0.02250022")]  # 0.022500225
    realized = [row[3] for row in alice.income if row[2] == "REALIZED_PNL"]
    assert realized == [D("-0.00000062")]  # -0.000000625
    assert any(row[2] == "INSURANCE_CLEAR" for row in venue.accounts["bob"].income)  # bob was liquidated
    assert venue.accounts["carol"].positions[("BTCUSDT", "BOTH")].entry == D("30000.13684210526315789473684")


@pytest.mark.parametrize("make_context", list(FOREIGN_CONTEXTS.values()), ids=list(FOREIGN_CONTEXTS))
def test_every_answer_is_the_same_under_a_foreign_context(make_context: Callable[[], decimal.Context]) -> None:
    with decimal.localcontext(decimal.Context()):
        _, expected = scenario()

    with decimal.localcontext(make_context()):
        _, got = scenario()
        encoded = _encode(got)

    assert encoded == _encode(expected)
