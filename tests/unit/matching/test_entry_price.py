"""A position's entry price and realized PnL, kept in integers, against exact fractions.

The rule (``binfut.matching.instruments.ENTRY_SUB``): at each increase the size-weighted average entry is
rounded half to even to 1E-8 of a tick; a reduction realizes ``(price - entry) x lots x step`` (the
opposite for a short), rounded half to even to 1E-8 USDT; a flip opens the excess at the fill's price.
The model below says that with Python's fractions, which cannot overflow or round by accident.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as hst

from binfut.matching import default_specs
from binfut.matching.account import ZERO, Account, apply_fill
from binfut.matching.instruments import ENTRY_SUB, SymbolSpec

BTC = default_specs()["BTCUSDT"]  # tick 0.1 x step 0.001: a unit of 1/10 000
# a tick of 2.5 and a step of 1: a unit of 5/2, whose numerator is not 1 (the other branch of the PnL)
COARSE = dataclasses.replace(BTC, symbol="COARSEUSDT", tick_size=D("2.5"), min_price=D("2.5"), step_size=D(1), min_qty=D(1),
                             market_step_size=D(1), market_min_qty=D(1))

Fill = tuple[bool, int, int]  # (is_buy, lots, ticks)


def model(spec: SymbolSpec, fills: list[Fill]) -> list[tuple[int, Fraction, int]]:
    """(amount, entry in ticks, realized PnL in 1E-8 USDT) after each fill."""
    unit = Fraction(spec.unit)
    amount, entry = 0, Fraction(0)
    out = []
    for is_buy, lots, ticks in fills:
        new = amount + (lots if is_buy else -lots)
        realized = 0
        if amount and (amount > 0) != is_buy:
            closing = min(lots, abs(amount))
            direction = 1 if amount > 0 else -1
            realized = round((ticks - entry) * closing * unit * 10**8 * direction)  # round(): half to even
            if new == 0:
                entry = Fraction(0)
            elif (new > 0) != (amount > 0):
                entry = Fraction(ticks)
        elif amount:
            entry = Fraction(round((entry * abs(amount) + ticks * lots) / abs(new) * ENTRY_SUB), ENTRY_SUB)
        else:
            entry = Fraction(ticks)
        amount = new
        out.append((amount, entry, realized))
    return out


def run(spec: SymbolSpec, fills: list[Fill]) -> list[tuple[int, Fraction, int]]:
    acct = Account("a", {"USDT": D(10) ** 12}, unlimited=True)
    st = acct.state(spec.symbol)
    pos = acct.position(spec, "BOTH")
    out = []
    for is_buy, lots, ticks in fills:
        realized = apply_fill(acct, st, pos, is_buy, lots, ticks, spec.price(ticks), ZERO, 0)
        assert 0 <= pos.entry_frac < ENTRY_SUB
        entry = pos.entry
        assert "E" not in str(entry) and -entry.as_tuple().exponent <= -spec.tick_size.as_tuple().exponent + 8  # type: ignore[operator]
        out.append((pos.amount, Fraction(entry) / Fraction(spec.tick_size), int(realized.scaleb(8))))
    return out


fills = hst.lists(
    hst.tuples(hst.booleans(), hst.one_of(hst.integers(1, 500), hst.integers(1, 10**12)), hst.integers(1, 10**7)),
    min_size=1, max_size=30,
)


@pytest.mark.parametrize("spec", [BTC, COARSE], ids=["unit 1/10000", "unit 5/2"])
@given(fills=fills)
@example(fills=[(True, 4, 300000), (True, 11, 300002), (True, 4, 300001)])  # the scenario's average: ...36842106
@example(fills=[(True, 1, 10), (True, 1, 11), (True, 1, 12)])  # 32 // 3 = 10 ticks, then (2 + 0.5 x 2) / 3: a carry to 11
@example(fills=[(True, 3, 100), (False, 5, 90), (True, 7, 95)])  # a long flipped short, then flipped long
def test_entry_and_realized_pnl_follow_the_rounding_rule(spec: SymbolSpec, fills: list[Fill]) -> None:
    assert run(spec, fills) == model(spec, fills)


def test_the_entry_prints_with_the_places_it_needs() -> None:
    acct = Account("a", {"USDT": D(10) ** 9}, unlimited=True)
    st = acct.state("BTCUSDT")
    pos = acct.position(BTC, "BOTH")
    apply_fill(acct, st, pos, True, 1, 300000, BTC.price(300000), ZERO, 0)
    assert str(pos.entry) == str(BTC.price(300000)) == "30000.00"  # on the grid: the tick's own spelling (0.10)
    apply_fill(acct, st, pos, True, 1, 300001, BTC.price(300001), ZERO, 0)
    assert str(pos.entry) == "30000.05"  # 300 000.5 ticks: one more place, no trailing zero
    apply_fill(acct, st, pos, True, 1, 300001, BTC.price(300001), ZERO, 0)
    assert str(pos.entry) == "30000.066666667"  # 300 000.66666667 ticks
    apply_fill(acct, st, pos, False, 3, 300002, BTC.price(300002), ZERO, 0)
    assert (pos.amount, pos.entry, pos.entry_ticks, pos.entry_frac) == (0, 0, 0, 0)


def test_a_fill_off_the_tick_grid_may_only_reduce() -> None:
    acct = Account("a", {"USDT": D(10) ** 9}, unlimited=True)
    st = acct.state("BTCUSDT")
    pos = acct.position(BTC, "BOTH")
    with pytest.raises(ValueError, match="may only reduce"):
        apply_fill(acct, st, pos, True, 1, -1, D("30000.123"), ZERO, 0)
    apply_fill(acct, st, pos, True, 2, 300000, BTC.price(300000), ZERO, 0)
    with pytest.raises(ValueError, match="may only reduce"):
        apply_fill(acct, st, pos, False, 3, -1, D("29000.123"), ZERO, 0)
    assert (pos.amount, pos.entry) == (2, D("30000"))  # nothing changed
    # a liquidation at 29 000.12345678 closes 0.002: (29 000.12345678 - 30 000) x 0.002 = -1.99975308644 -> -1.99975309
    realized = apply_fill(acct, st, pos, False, 2, -1, D("29000.12345678"), ZERO, 0)
    assert (realized, pos.amount, pos.entry) == (D("-1.99975309"), 0, 0)
