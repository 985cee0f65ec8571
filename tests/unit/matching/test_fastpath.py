"""The hot path's caches and shortcuts agree with the plain formulas; wire amounts never use exponents.

The engine keeps derived figures between commands (open-order margin per symbol, bid / ask
notionals, the mark-price map, Decimal conversions, PERCENT_PRICE bands) and takes shortcuts in the
margin check.  These tests recompute every such figure from scratch after random command sequences
and compare, and check the wire form of tiny amounts.
"""

from __future__ import annotations

import dataclasses
import json
import random
from decimal import Decimal as D
from fractions import Fraction
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hst

from binfut.clock import ManualClock
from binfut.enums import PositionSide
from binfut.errors import ApiError
from binfut.matching import (
    BatchNewOrders,
    BookDelta,
    CancelOrder,
    ChangeLeverage,
    ChangeMarginType,
    ChangePositionMode,
    Deposit,
    Envelope,
    Funding,
    MarkPrice,
    ModifyOrder,
    NewOrder,
    SimulatedVenue,
    Trade,
    default_specs,
)
from binfut.matching.account import (
    BUY_BOTH,
    BUY_LONG,
    SELL_BOTH,
    SELL_SHORT,
    ZERO,
    Account,
    SymbolState,
    _side_margin,
    available_balance,
    available_floor,
    check_order_margin,
    cross_totals,
)
from binfut.matching.builders import avg_price, plain, wire, wire_e8
from binfut.matching.instruments import ENTRY_SUB, SymbolSpec
from binfut.matching.orderbook import Order, add_price, drop_price
from binfut.protocol.userevents import OrderTradeUpdate, decode_user_event, encode_user_event
from helpers.venues import alice_buys, mm_and_alice

SYMBOLS = ("BTCUSDT", "ETHUSDT")
MID = {"BTCUSDT": 30_000, "ETHUSDT": 2_000}
ACCOUNTS = ("alice", "bob", "hedger", "mm")


# --- reference formulas (no caches) ---------------------------------------------------------------


def ref_order_total(acct: Account, spec: SymbolSpec, st: SymbolState, extra: tuple[int, int, int] | None = None) -> D:
    lots = list(st.lots)
    units = list(st.units)
    if extra is not None:
        lots[extra[0]] += extra[1]
        units[extra[0]] += extra[2]
    if acct.hedge:
        return D(units[BUY_LONG] + units[SELL_SHORT])
    pos = acct.positions.get((spec.symbol, PositionSide.BOTH))
    amt = pos.amount if pos is not None else 0
    buy = _side_margin(lots[BUY_BOTH], units[BUY_BOTH], -amt if amt < 0 else 0)
    sell = _side_margin(lots[SELL_BOTH], units[SELL_BOTH], amt if amt > 0 else 0)
    return buy if buy > sell else sell


def ref_order_margin(acct: Account, spec: SymbolSpec, st: SymbolState, extra: tuple[int, int, int] | None = None) -> D:
    total = ref_order_total(acct, spec, st, extra)
    return total * spec.unit / st.leverage if total else ZERO


def ref_available(acct: Account, specs: dict[str, SymbolSpec], marks: dict[str, D]) -> D:
    wallet, upnl, im, _ = cross_totals(acct, marks)
    orders = ZERO
    for symbol, st in acct.states.items():
        if st.open_count:
            orders += ref_order_margin(acct, specs[symbol], st)
    return wallet + upnl - im - orders


def ref_marks(v: SimulatedVenue) -> dict[str, D]:
    out = {s: e.spec.price(e.last_ticks) for s, e in v.engines.items() if e.last_ticks}
    out.update(v.mark_prices)
    return out


def ref_margin_check(acct: Account, spec: SymbolSpec, st: SymbolState, bucket: int, lots: int, units: int,
                     specs: dict[str, SymbolSpec], marks: dict[str, D]) -> int | None:
    """The -2027 / -2019 decision of check_order_margin, spelled out (None = accepted)."""
    mark = marks.get(spec.symbol)
    orders = D(st.units[bucket] + units) * spec.unit  # what the side's open orders would add
    if acct.hedge:  # both positions plus the side's orders
        held = [p for (sym, _), p in acct.positions.items() if sym == spec.symbol and p.amount]
        after = sum((p.size * (mark or p.entry) for p in held), ZERO) + orders
    else:  # the signed position the side's orders would lead to, counted in their direction
        both = acct.positions.get((spec.symbol, PositionSide.BOTH))
        signed = D(both.amount) * spec.step_size * (mark or both.entry) if both is not None and both.amount else ZERO
        after = signed + orders if bucket == BUY_BOTH else orders - signed
    if after > spec.max_notional(st.leverage):
        return -2027
    need = ref_order_margin(acct, spec, st, (bucket, lots, units)) - ref_order_margin(acct, spec, st)
    if need > 0 and need > ref_available(acct, specs, marks):
        return -2019
    return None


def assert_caches_agree(v: SimulatedVenue) -> None:
    marks = v.marks()
    assert marks == ref_marks(v)
    for acct in v.accounts.values():
        for symbol, st in acct.states.items():
            spec = v.specs[symbol]
            if st.om is not None and st.om[0] is acct.hedge:
                assert st.om[1] == ref_order_total(acct, spec, st), (acct.id, symbol)
            ub, ua, bids, asks = st.notionals
            if ub == st.units[1] + st.units[3] and ua == st.units[2] + st.units[4]:
                assert (bids, asks) == (D(ub) * spec.unit, D(ua) * spec.unit)
            for i, side in enumerate(("BOTH", "LONG", "SHORT")):
                assert st.sides[i] is acct.positions.get((symbol, side))
        assert available_balance(acct, v.specs, marks) == ref_available(acct, v.specs, marks), acct.id
        # the integer floor the margin check decides most orders with is more than a dollar below it
        assert available_floor(acct, v.specs, marks) < ref_available(acct, v.specs, marks) - 1, acct.id
        # ...and the int()s it keeps are those of the objects they were taken of
        kept = [acct.wallet_int, *(p.mark_int for p in acct.positions.values())]
        for p in acct.positions.values():  # the entry: normalised integers, and its Decimal made of them
            assert 0 <= p.entry_frac < ENTRY_SUB and p.entry_ticks >= 0, (acct.id, p.side)
            if not p.amount:
                assert (p.entry_ticks, p.entry_frac, p.entry) == (0, 0, 0), (acct.id, p.side)
            else:
                exact = Fraction(p.spec.tick_size) * (p.entry_ticks + Fraction(p.entry_frac, ENTRY_SUB))
                assert Fraction(p.entry) == exact, (acct.id, p.side)
        assert list(acct.closed) == list(acct.closed_ids) and len(acct.closed) <= acct.history, acct.id
        assert all(value == int(src) for src, value in kept), (acct.id, kept)
        # the risk check's form of the cross sums: the same figures, the IM left out
        wallet, upnl, _, mm = cross_totals(acct, marks)
        assert cross_totals(acct, marks, with_im=False) == (wallet, upnl, ZERO, mm), acct.id
        # open-order aggregates equal the open orders themselves
        for symbol, st in acct.states.items():
            lots = [0] * 5
            units = [0] * 5
            for o in acct.open_orders.values():
                if o.symbol == symbol and o.margin_key:
                    lots[o.margin_key] += o.qty - o.filled
                    units[o.margin_key] += (o.qty - o.filled) * o.price
            assert (lots, units) == (st.lots, st.units), (acct.id, symbol)
    for e in v.engines.values():
        prices = [*e.prices.items(), *((e.price_base + i, d) for i, d in enumerate(e.price_list) if d is not None)]
        qtys = [*e.qtys.items(), *((q, d) for q, d in enumerate(e.qty_list) if d is not None)]
        assert all(d == e.spec.price(t) and str(d) == str(e.spec.price(t)) for t, d in prices)
        assert all(d == e.spec.qty(q) and str(d) == str(e.spec.qty(q)) for q, d in qtys)
        if not v.publish:
            assert not e.book.changed_bids and not e.book.changed_asks


def run_random(seed: int, n: int, publish: bool) -> SimulatedVenue:
    rng = random.Random(seed)
    v = SimulatedVenue(ManualClock(), random.Random(seed), publish=publish)
    v.open_account("alice", {"USDT": D(4_000)})
    v.open_account("bob", {"USDT": D(2_500)}, emit_events=False)
    v.open_account("hedger", {"USDT": D(6_000)})
    v.open_account("mm", {"USDT": D(10**6)}, unlimited=True, emit_events=False)
    v.execute("hedger", ChangePositionMode(dual_side_position=True))
    v.execute("bob", ChangeMarginType(symbol="ETHUSDT", margin_type="ISOLATED"))
    ids: list[tuple[str, str, int]] = []
    for _ in range(n):
        a = rng.choice(ACCOUNTS)
        sym = rng.choice(SYMBOLS)
        tick = D("0.1") if sym == "BTCUSDT" else D("0.01")
        price = D(MID[sym]) + tick * rng.randint(-40, 40)
        qty = D("0.001") * rng.randint(5, 400 if sym == "BTCUSDT" else 4000)
        side = rng.choice(["BUY", "SELL"])
        kw: dict[str, Any] = {}
        if a == "hedger":
            kw["position_side"] = rng.choice(["LONG", "SHORT"])
        elif rng.random() < 0.15:
            kw["reduce_only"] = True
        r = rng.random()
        try:
            if r < 0.45:
                res = v.execute(a, NewOrder(symbol=sym, side=side, type="LIMIT", quantity=qty, price=price,
                                            time_in_force=rng.choice(["GTC", "GTC", "IOC", "GTX"]), **kw))
                ids.append((a, sym, res.value.order_id))
            elif r < 0.6:
                v.execute(a, NewOrder(symbol=sym, side=side, type="MARKET", quantity=qty, **kw))
            elif r < 0.72 and ids:
                a2, s2, oid = rng.choice(ids)
                v.execute(a2, CancelOrder(symbol=s2, order_id=oid))
            elif r < 0.8 and ids:
                a2, s2, oid = rng.choice(ids)
                order = v.accounts[a2].open_orders.get(oid)
                if order is not None:
                    t2 = D("0.1") if s2 == "BTCUSDT" else D("0.01")
                    v.execute(a2, ModifyOrder(symbol=s2, order_id=oid, side=order.side, quantity=qty,
                                              price=D(MID[s2]) + t2 * rng.randint(-40, 40)))
            elif r < 0.84:
                v.execute(a, ChangeLeverage(symbol=sym, leverage=rng.choice([2, 5, 10, 20, 50])))
            elif r < 0.9:
                v.on_market(MarkPrice(symbol=sym, mark_price=D(MID[sym]) + tick * rng.randint(-60, 60), time_ms=v.now))
            elif r < 0.95:
                v.on_market(Trade(symbol=sym, price=price, quantity=qty, time_ms=v.now, buyer_is_maker=rng.random() < 0.5))
            else:
                v.on_market(Funding(symbol=sym, funding_rate=D("0.0001"), mark_price=D(MID[sym]), time_ms=v.now))
        except ApiError:
            pass
        assert_caches_agree(v)
    return v


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hst.integers(min_value=0, max_value=2**32), hst.integers(min_value=1, max_value=120), hst.booleans())
def test_incremental_figures_equal_recomputed_ones(seed: int, n: int, publish: bool) -> None:
    run_random(seed, n, publish)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hst.integers(min_value=0, max_value=2**32), hst.integers(min_value=0, max_value=80))
def test_fast_margin_check_decides_like_the_formula(seed: int, n: int) -> None:
    # Arrange: some random history, then hypothetical orders of every size
    v = run_random(seed, n, publish=False)
    rng = random.Random(seed)
    if seed % 2:  # marks from the last trades only, as before any MarkPrice: the cap check's integer path
        v.mark_prices.clear()
        v._marks = None
    marks = v.marks()
    for _ in range(40):
        acct = v.accounts[rng.choice(("alice", "bob", "hedger"))]
        sym = rng.choice(SYMBOLS)
        spec = v.specs[sym]
        st_ = acct.states[sym]
        buy = rng.random() < 0.5
        bucket = (BUY_LONG if buy else SELL_SHORT) if acct.hedge else (BUY_BOTH if buy else SELL_BOTH)
        lots = rng.choice([1, 10, 100, 1000, 10_000, 100_000])
        ticks = int(D(MID[sym]) * spec.inv_tick) + rng.randint(-100, 100)
        # as build_order passes it: the mark in ticks when it is the last trade price, else 0 (Decimal path)
        mark_ticks = 0 if sym in v.mark_prices else v.engines[sym].last_ticks
        # Act
        codes = []
        for known in (0, mark_ticks):
            try:
                check_order_margin(acct, spec, st_, bucket, lots, lots * ticks, v.specs, marks, known)
                codes.append(None)
            except ApiError as exc:
                codes.append(exc.code)
        # Assert
        expected = ref_margin_check(acct, spec, st_, bucket, lots, lots * ticks, v.specs, marks)
        assert codes == [expected, expected]


# --- integer shortcuts -------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    units=hst.one_of(hst.integers(1, 100), hst.integers(1, 10**15)),
    rate=hst.decimals(min_value=D("-0.001"), max_value=D("0.001"), places=9),
    symbol=hst.sampled_from(("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")),
)
def test_fee_in_integers_is_the_decimal_formula_to_the_exponent(units: int, rate: D, symbol: str) -> None:
    engine = SimulatedVenue(ManualClock(), random.Random(1)).engines[symbol]
    expected = (engine.spec.unit * units * rate).quantize(D("1E-8"), "ROUND_HALF_EVEN")
    got = engine.fee(rate, units)
    assert got.as_tuple() == expected.as_tuple()  # value, exponent and the sign of a zero


@settings(max_examples=200, deadline=None)
@given(hst.lists(hst.one_of(hst.integers(0, 40), hst.integers(0, 10**7)), min_size=1, max_size=3000))
def test_price_and_quantity_caches_give_the_spec_s_decimals_in_and_beyond_their_lists(keys: list[int]) -> None:
    engine = SimulatedVenue(ManualClock(), random.Random(1)).engines["ETHUSDT"]
    spec = engine.spec
    for k in keys:  # far apart values move the price window (after enough misses) and fall back to the dicts
        p, q = engine.price(k), engine.qty(k)
        assert p.as_tuple() == spec.price(k).as_tuple() and q.as_tuple() == spec.qty(k).as_tuple(), k
        assert engine.price(k) is p and engine.qty(k) is q  # cached: the same object again
    assert len(engine.price_list) in (0, 1 << 14) and len(engine.qty_list) in (0, 1 << 14)


def test_price_window_follows_the_market_when_it_moves_away() -> None:
    engine = SimulatedVenue(ManualClock(), random.Random(1)).engines["BTCUSDT"]
    engine.price(300_000)
    base = engine.price_base
    assert base <= 300_000 < base + len(engine.price_list)
    for i in range(1 << 10):  # prices outside the window: the dict serves them, up to the limit
        engine.price(900_000 + i)
    assert engine.price_base == base and 900_000 in engine.prices
    engine.price(0)  # "no price" is not a miss
    assert engine.price_base == base
    engine.price(900_000)  # one more miss: the window moves there
    assert engine.price_base <= 900_000 < engine.price_base + len(engine.price_list)
    assert str(engine.price(900_001)) == str(engine.spec.price(900_001))


def test_fee_rounds_exact_halves_to_even_and_keeps_a_negative_zero() -> None:
    engine = SimulatedVenue(ManualClock(), random.Random(1)).engines["BTCUSDT"]  # unit 0.1 x 0.001
    half = D("0.00005")  # 1 unit x 0.0001 x 0.00005 = 0.5E-8
    assert [str(engine.fee(half, n)) for n in (1, 3, 5, 7)] == ["0E-8", "2E-8", "2E-8", "4E-8"]
    assert str(engine.fee(-half, 1)) == "-0E-8" and str(engine.fee(-half, 3)) == "-2E-8"
    assert str(engine.fee(D(0), 12345)) == "0E-8"
    assert str(engine.fee(D("-0"), 12345)) == "-0E-8"  # as (unit x units x -0).quantize(E8) gives it


@settings(max_examples=400, deadline=None)
@given(
    tick=hst.sampled_from(("0.10", "0.01", "0.0100", "0.0001", "0.5", "1", "1E+1")),
    filled=hst.one_of(hst.integers(1, 50), hst.integers(1, 10**12)),
    avg_ticks=hst.integers(1, 10**7),
    spread=hst.integers(0, 10**6),
)
def test_average_price_is_the_exact_quotient_rounded_once(tick: str, filled: int, avg_ticks: int, spread: int) -> None:
    spec = dataclasses.replace(default_specs()["BTCUSDT"], tick_size=D(tick))
    venue = SimulatedVenue(ManualClock(), random.Random(1))
    venue.open_account("a", {"USDT": D(1)})
    order = Order(1, "c", venue.accounts["a"], "BTCUSDT", "BUY", "BOTH", "LIMIT", "GTC", 0, filled, False, "NONE", 0)
    order.filled = filled
    order.cum_quote = avg_ticks * filled + spread % filled
    # reference: the exact rational, rounded half to even to 4 more decimal places than the tick has
    exp = int(D(tick).as_tuple().exponent) - 4
    exact = Fraction(D(tick)) * order.cum_quote / filled / Fraction(10) ** exp
    q = round(exact)  # Python rounds a Fraction half to even
    got = avg_price(spec, order)
    assert got.as_tuple() == D((0, tuple(int(c) for c in str(q)), exp)).as_tuple()


@given(hst.lists(hst.tuples(hst.booleans(), hst.integers(0, 400)), max_size=300), hst.booleans())
def test_book_price_lists_stay_sorted_best_last(steps: list[tuple[bool, int]], is_bid: bool) -> None:
    prices: list[int] = []
    live: set[int] = set()
    for add, ticks in steps:
        if add and ticks not in live:
            add_price(prices, ticks, is_bid)
            live.add(ticks)
        elif not add and live:
            gone = sorted(live)[ticks % len(live)]
            drop_price(prices, gone, is_bid)
            live.discard(gone)
        assert prices == sorted(live, reverse=not is_bid)


# --- wire form of tiny amounts --------------------------------------------------------------------


@given(hst.one_of(hst.integers(-10**6, 10**6), hst.integers(-10**20, 10**20)))
def test_wire_e8_spells_an_e8_amount_as_wire_does(units: int) -> None:
    value = D(units).scaleb(-8)  # an amount quantized to 8 places, as realized PnL and uPnL are
    for v in (value, ZERO + value):
        assert str(wire_e8(v)) == str(wire(v))
    assert wire_e8(ZERO) is wire(ZERO)


def test_wire_spells_tiny_amounts_plainly() -> None:
    assert wire(D("5.2E-7")) == "0.00000052"
    assert wire(D("-1E-8")) == "-0.00000001"
    assert wire(D("0E-8")) == ZERO and str(wire(D("0E-8"))) == "0"
    assert str(wire(D("1E+3"))) == "1000"
    assert wire(D("0.00000100")) == D("0.000001") and isinstance(wire(D("0.00000100")), D)
    assert str(plain(D("1E+3"))) == "1000" and plain(D("5.2E-7")) == D("5.2E-7")


def test_entry_and_break_even_prices_print_plainly_whatever_the_tick_s_exponent() -> None:
    # Arrange: a tick of 1E+1, whose multiples str() spells with an exponent (1E+1 x 3000 = 3.000E+4)
    spec = dataclasses.replace(default_specs()["BTCUSDT"], tick_size=D("1E+1"), min_price=D("1E+1"))
    assert not spec.plain_prices and str(spec.price(3000)) == "3.000E+4"
    v = mm_and_alice(specs={"BTCUSDT": spec})
    entries = []
    # Act: alice buys 0.005 at 30 000 (an entry on the grid), then 0.005 at 30 010 (30 005, between two ticks)
    for price in ("30000", "30010"):
        out = alice_buys(v, "0.005", price)
        updates = [json.loads(encode_user_event(o.event)) for o in out if isinstance(o, Envelope) and o.account_id == "alice"]
        entries += [(p["ep"], p["bep"]) for u in updates if u["e"] == "ACCOUNT_UPDATE" for p in u["a"]["P"]]
    # Assert: plain text, the values themselves
    assert [ep for ep, _ in entries] == ["30000", "30005"]
    assert all("E" not in bep and D(bep) > D(ep) for ep, bep in entries)  # the taker fee moves it up


def test_tiny_commission_and_pnl_are_never_in_scientific_notation() -> None:
    # Arrange: fee rates so small that a normal fill pays less than 1e-6 USDT
    v = SimulatedVenue(ManualClock(), random.Random(1))
    v.open_account("mm", {"USDT": D(10**6)}, unlimited=True, maker_rate=D("0.000000001"), taker_rate=D("0.000000001"))
    v.open_account("alice", {"USDT": D(10_000)}, maker_rate=D("0.000000001"), taker_rate=D("0.000000001"))
    out = []
    # Act: buy 0.005 BTC at 30 000 (fee 1.5e-7), sell 0.004 at 30 000.1 and the last 0.001 reduce-only (fee 3e-8)
    for side, price, qty, ro in [("SELL", "30000", "0.005", None), ("BUY", "30000.1", "0.004", None), ("BUY", "30000.0", "0.001", True)]:
        v.execute("mm", NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=max(D(qty), D("0.004")), price=D(price),
                                 time_in_force="GTC"))
        taker_side = "BUY" if side == "SELL" else "SELL"
        out += v.execute("alice", NewOrder(symbol="BTCUSDT", side=taker_side, type="MARKET", quantity=D(qty), reduce_only=ro)).outputs
    # Assert: the user events, the REST rows
    events = [o.event for o in out if isinstance(o, Envelope)]
    assert any(isinstance(e, OrderTradeUpdate) and e.order.commission == "0.00000015" for e in events)
    for e in events:
        text = encode_user_event(e).decode()
        assert "E-" not in text and "E+" not in text, text
        back = decode_user_event(text)  # a client decodes the plain text into Decimals again
        if isinstance(back, OrderTradeUpdate) and back.order.commission is not None:
            assert isinstance(back.order.commission, D) and back.order.commission == D(json.loads(text)["o"]["n"])
    rest = [v.user_trades("alice", "BTCUSDT"), v.income("alice"), v.account_info("alice"), v.balances("alice"),
            v.position_risk("alice", include_empty=True)]
    text = msgspec.json.encode(rest).decode()
    assert "E-" not in text and "E+" not in text, text
    commissions = {row["commission"] for row in json.loads(msgspec.json.encode(v.user_trades("alice", "BTCUSDT")))}
    assert "0.00000015" in commissions
    # the stored figures stay Decimal
    assert all(isinstance(row.amount, D) for row in v.accounts["alice"].income_records())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hst.integers(min_value=0, max_value=2**32))
@example(1283426)  # a history with a liquidation (its rows are explicit, its trade record has none)
def test_fill_income_rows_are_made_from_the_trades_in_transaction_order(seed: int) -> None:
    # Arrange: a random history with fills, funding and a transfer
    v = run_random(seed, 100, publish=False)
    v.execute("alice", Deposit(asset="USDT", amount=D(5)))
    for name, acct in v.accounts.items():
        # Act
        rows = v.income(name, limit=1_000_000)
        # Assert: one sequence in transaction order; each fill's rows match its trade record
        assert [r.tran_id for r in rows] == sorted({r.tran_id for r in rows})
        # the other movements (funding, transfers, a liquidation's PnL and insurance rows) are kept as they are
        explicit = {r.tran_id for r in acct.income}
        assert [(r.income_type, r.tran_id) for r in rows if r.tran_id in explicit] == [(r.kind, r.tran_id) for r in acct.income]
        by_kind: dict[str, list[tuple[str, D]]] = {}
        for r in rows:
            if r.tran_id not in explicit:
                by_kind.setdefault(r.income_type, []).append((r.trade_id, D(str(r.income))))
        assert set(by_kind) <= {"COMMISSION", "REALIZED_PNL"}
        trades = [t for t in acct.trades if t.tran_id]  # a liquidation's trade (0) has explicit rows
        assert by_kind.get("COMMISSION", []) == [(str(t.trade_id), -t.fee) for t in trades if t.fee]
        assert by_kind.get("REALIZED_PNL", []) == [(str(t.trade_id), t.realized) for t in trades if t.realized]


# --- regressions ------------------------------------------------------------------------------------


def test_external_trade_survives_levels_removed_by_the_reduce_only_sweep() -> None:
    # Arrange: alice long 0.01 with two reduce-only asks on two levels; a real trade lifts both levels
    v = mm_and_alice()
    alice_buys(v, "0.01", "30000")
    for price in ("30010", "30020"):
        v.execute("alice", NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=D("0.01"), price=D(price),
                                    time_in_force="GTC", reduce_only=True))
    # Act: the first fill flattens alice, the sweep expires (and removes) the second level mid-trade
    v.on_market(Trade(symbol="BTCUSDT", price=D("30020"), quantity=D("1"), time_ms=v.now, buyer_is_maker=False))
    # Assert
    assert v.accounts["alice"].positions[("BTCUSDT", "BOTH")].amount == 0
    assert not v.accounts["alice"].open_orders
    assert v.depth("BTCUSDT")[2] == []


def test_book_deltas_of_one_step_follow_the_order_the_books_changed_in(venue: SimulatedVenue) -> None:
    for first, second in (("ETHUSDT", "BTCUSDT"), ("BTCUSDT", "ETHUSDT")):
        orders = [NewOrder(symbol=s, side="BUY", type="LIMIT", quantity=D("0.01") if s == "BTCUSDT" else D("0.1"),
                           price=D("29000") if s == "BTCUSDT" else D("1900"), time_in_force="GTC") for s in (first, second)]
        out = venue.execute("mm", BatchNewOrders(orders=orders)).outputs
        assert [o.symbol for o in out if isinstance(o, BookDelta)] == [first, second]


def test_publishing_can_be_switched_on_later_and_the_deltas_chain() -> None:
    # Arrange: a venue that does not publish
    v = SimulatedVenue(ManualClock(), random.Random(1), publish=False)
    v.open_account("mm", {"USDT": D(10**6)}, unlimited=True)
    for p in ("29990", "29980"):
        out = v.execute("mm", NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"), price=D(p), time_in_force="GTC")).outputs
        assert not [o for o in out if isinstance(o, BookDelta)]
    u = v.depth("BTCUSDT")[0]
    # Act
    v.publish = True
    out = v.execute("mm", NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.02"), price=D("29970"), time_in_force="GTC")).outputs
    # Assert: one delta with only this step's level, chained to the snapshot id
    (delta,) = [o for o in out if isinstance(o, BookDelta)]
    assert delta.prev_update_id == u and delta.first_update_id == u + 1 and delta.last_update_id == v.depth("BTCUSDT")[0]
    assert delta.bids == [(D("29970.0"), D("0.020"))] and delta.asks == []


def test_closed_order_history_keeps_the_last_orders_and_forgets_the_oldest() -> None:
    v = SimulatedVenue(ManualClock(), random.Random(3))
    acct = v.open_account("alice", {"USDT": D(100_000)})
    acct.history = 3
    ids = []
    for i in range(5):
        placed = v.execute("alice", NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.010"),
                                            price=D(29_000 + i), time_in_force="GTC")).value
        v.execute("alice", CancelOrder(symbol="BTCUSDT", order_id=placed.order_id))
        ids.append(placed.order_id)
    assert list(acct.closed) == list(acct.closed_ids) == ids[2:]
    assert [o.order_id for o in v.all_orders("alice", "BTCUSDT")] == ids[2:]
    assert v.get_order("alice", "BTCUSDT", order_id=ids[4]).status == "CANCELED"
    with pytest.raises(ApiError) as err:
        v.get_order("alice", "BTCUSDT", order_id=ids[0])
    assert err.value.code == -2013
