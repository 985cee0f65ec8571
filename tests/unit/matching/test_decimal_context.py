"""The venue's money does not depend on the caller's decimal context.

ccxt sets ``ROUND_HALF_UP`` and the Underflow trap on the calling thread's context and leaves them
there; a user may lower (or raise) ``prec``.  The same seeded scenario -- fees, realized PnL on an
averaged entry, funding, unrealized PnL, isolated margin, a liquidation and every query -- must give
byte-identical answers, events and queries whatever context it runs in.  The amounts are chosen so that
commission, funding, uPnL and realized PnL all fall exactly half-way at the 9th decimal, where
``ROUND_HALF_UP`` and the default ``ROUND_HALF_EVEN`` disagree.  An average entry price is integer
arithmetic (whole ticks and 1E-8 of a tick, rounded at each increase): no context reaches it.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import pytest

from helpers.decimal_context import FOREIGN_CONTEXTS
from helpers.engine_scenarios import D, encode, scenario


def test_the_scenario_hits_half_way_cases_under_the_default_context() -> None:
    with decimal.localcontext(decimal.Context()):
        venue, _ = scenario()
    alice, mm = venue.accounts["alice"], venue.accounts["mm"]

    fees = [t.fee for t in alice.trades]
    assert fees[0] == D("0.06750022")  # 0.067500225, half to even
    assert next(t.fee for t in mm.trades if (t.ticks, t.lots) == (300001, 5)) == D("0.03750012")  # 0.037500125
    funding = [row.amount for row in alice.income_records() if row.kind == "FUNDING_FEE"]
    assert funding == [D("-0.02250022")]  # 0.022500225
    realized = [row.amount for row in alice.income_records() if row.kind == "REALIZED_PNL"]
    assert realized == [D("-0.00000062")]  # -0.000000625
    assert any(row.kind == "INSURANCE_CLEAR" for row in venue.accounts["bob"].income_records())  # bob was liquidated
    # the exact average is 30000.1368421052...; rounded at each increase (see the scenario) it ends in ...106
    carol = venue.accounts["carol"].positions[("BTCUSDT", "BOTH")]
    assert (carol.entry_ticks, carol.entry_frac, carol.entry) == (300001, 36842106, D("30000.136842106"))


@pytest.mark.parametrize("make_context", list(FOREIGN_CONTEXTS.values()), ids=list(FOREIGN_CONTEXTS))
def test_every_answer_is_the_same_under_a_foreign_context(make_context: Callable[[], decimal.Context]) -> None:
    with decimal.localcontext(decimal.Context()):
        _, expected = scenario()

    with decimal.localcontext(make_context()):
        _, got = scenario()
        encoded = encode(got)

    assert encoded == encode(expected)
