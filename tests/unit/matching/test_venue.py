"""Public outputs (trades, depth deltas with U / u / pu), snapshots and fuzzed invariants."""

from __future__ import annotations

import random
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from binfut.clock import ManualClock
from binfut.errors import ApiError
from binfut.matching import (
    BookDelta,
    CancelOrder,
    Funding,
    MarkPrice,
    ModifyOrder,
    NewOrder,
    PublicTrade,
    SimulatedVenue,
)
from helpers.venues import alice_buys, mm_and_alice


def test_book_deltas_chain_and_match_the_snapshot(venue: SimulatedVenue, h: Any) -> None:
    book: dict[tuple[str, D], D] = {}
    last_u = venue.depth("BTCUSDT")[0]
    for side, qty, price in [("SELL", "0.5", "30000"), ("SELL", "0.2", "30010"), ("BUY", "0.3", "29990"), ("BUY", "0.6", "30000")]:
        out = h.place(venue, "mm" if side == "SELL" else "alice", side, qty, price).outputs
        (delta,) = [o for o in out if isinstance(o, BookDelta)]
        assert delta.prev_update_id == last_u and delta.first_update_id == last_u + 1
        assert delta.last_update_id >= delta.first_update_id
        last_u = delta.last_update_id
        for p, q in delta.bids:
            book[("b", p)] = q
        for p, q in delta.asks:
            book[("a", p)] = q
    u, bids, asks = venue.depth("BTCUSDT")
    assert u == last_u
    assert {("b", p): q for p, q in bids} | {("a", p): q for p, q in asks} == {k: q for k, q in book.items() if q}
    assert [(str(p), str(q)) for p, q in asks] == [("30010.00", "0.200")]
    assert venue.best_bid_ask("BTCUSDT") == (D("30000"), D("0.1"), D("30010"), D("0.2"))


def test_public_trades(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "0.5", "30000")
    out = h.place(venue, "alice", "BUY", "0.2", "30000").outputs
    (t,) = [o for o in out if isinstance(o, PublicTrade)]
    assert (t.price, t.qty, t.buyer_is_maker, t.trade_id) == (D("30000"), D("0.2"), False, 1)
    assert venue.last_price("BTCUSDT") == D("30000")


def test_order_history_queries(venue: SimulatedVenue, h: Any) -> None:
    a = h.place(venue, "alice", "BUY", "0.01", "29000", new_client_order_id="keep").value.order_id
    venue.execute("alice", CancelOrder(symbol="BTCUSDT", order_id=a))
    assert venue.get_order("alice", "BTCUSDT", orig_client_order_id="keep").status == "CANCELED"
    h.place(venue, "alice", "BUY", "0.01", "29001")
    assert [o.status for o in venue.all_orders("alice", "BTCUSDT")] == ["CANCELED", "NEW"]
    assert len(venue.open_orders("alice")) == 1 and len(venue.open_orders("alice", "ETHUSDT")) == 0


# --- fuzzing ------------------------------------------------------------------------------------

QTYS = [D(q) for q in ("0.01", "0.05", "0.1", "0.3", "1", "2.5", "0", "0.001", "0.0105")]


def random_commands(rng: random.Random, n: int) -> list[tuple[Any, ...]]:
    """A seeded mixed load: mostly limits near the mark so that books cross and positions build."""
    out: list[tuple[Any, ...]] = []
    for _ in range(n):
        a = rng.choice(["alice", "bob", "carol", "mm", "mm"])
        side = rng.choice(["BUY", "SELL"])
        qty = rng.choice(QTYS)
        price = D(rng.randint(29_980, 30_020))
        ro = rng.random() < 0.2
        r = rng.random()
        if r < 0.45:
            out.append(("limit", a, side, qty, price, rng.choice(["GTC", "GTC", "IOC", "FOK", "GTX"]), ro))
        elif r < 0.6:
            out.append(("market", a, side, qty, ro))
        elif r < 0.75:
            out.append(("cancel", a, rng.randint(0, 40)))
        elif r < 0.85:
            out.append(("modify", a, rng.randint(0, 40), qty, price))
        elif r < 0.97:
            out.append(("mark", D(rng.randint(26_000, 34_000))))
        else:
            out.append(("funding", rng.choice([D("0.0001"), D("-0.0003")])))
    return out


def snapshot(v: SimulatedVenue) -> Any:
    accts = {
        a: (dict(x.balances), {k: (p.amount, p.entry, p.isolated_wallet) for k, p in x.positions.items()}, sorted(x.open_orders))
        for a, x in v.accounts.items()
    }
    return accts, v.depth("BTCUSDT"), v.fees_collected, v.insurance_fund


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=150))
def test_fuzzed_commands_keep_invariants(seed: int, n: int) -> None:
    cmds = random_commands(random.Random(seed), n)
    v = SimulatedVenue(ManualClock(), random.Random(3))
    start = {"alice": D(3000), "bob": D(3000), "carol": D(500), "mm": D(10**6)}
    for a, bal in start.items():
        v.open_account(a, {"USDT": bal}, unlimited=a == "mm")
    v.on_market(MarkPrice(symbol="BTCUSDT", mark_price=D(30_000), time_ms=v.now))
    ids: list[tuple[str, int]] = []
    for cmd in cmds:
        kind = cmd[0]
        before = snapshot(v)
        try:
            if kind == "limit":
                _, a, side, qty, price, tif, ro = cmd
                r = v.execute(a, NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=qty, price=price, time_in_force=tif, reduce_only=ro or None))
                ids.append((a, r.value.order_id))
            elif kind == "market":
                _, a, side, qty, ro = cmd
                v.execute(a, NewOrder(symbol="BTCUSDT", side=side, type="MARKET", quantity=qty, reduce_only=ro or None))
            elif kind == "cancel" and ids:
                a, oid = ids[cmd[2] % len(ids)]
                v.execute(a, CancelOrder(symbol="BTCUSDT", order_id=oid))
            elif kind == "modify" and ids:
                a, oid = ids[cmd[2] % len(ids)]
                side = v.accounts[a].open_orders[oid].side if oid in v.accounts[a].open_orders else "BUY"
                v.execute(a, ModifyOrder(symbol="BTCUSDT", side=side, order_id=oid, quantity=cmd[3], price=cmd[4]))
            elif kind == "mark":
                v.on_market(MarkPrice(symbol="BTCUSDT", mark_price=cmd[1], time_ms=v.now))
            elif kind == "funding":
                v.on_market(Funding(symbol="BTCUSDT", funding_rate=cmd[1], mark_price=v.mark("BTCUSDT") or D(30000), time_ms=v.now))
        except ApiError:
            # a rejected command changes nothing at all
            assert snapshot(v) == before
        book = v.engines["BTCUSDT"].book
        assert not book.crossed()
        # level quantities equal the live orders resting on them
        for levels in (book.bids, book.asks):
            for price, lvl in levels.items():
                assert lvl.qty == sum(o.qty - o.filled for o in lvl.orders if o.in_book) > 0
                assert all(o.price == price for o in lvl.orders if o.in_book)
        # conservation: every wallet = start + its income rows; fees and insurance balance the books
        fees = D(0)
        for a, acct in v.accounts.items():
            income = sum((row.amount for row in acct.income_records()), D(0))
            assert acct.balances["USDT"] == start[a] + income, a
            fees += -sum((row.amount for row in acct.income_records() if row.kind == "COMMISSION"), D(0))
            assert acct.balances["USDT"] >= 0 or acct.unlimited
        assert fees == v.fees_collected
        # every open position has an entry price
        for a in ("alice", "bob", "carol"):
            for (_, _), pos in v.accounts[a].positions.items():
                if pos.amount:
                    assert pos.entry > 0
    trades = sum(len(a.trades) for a in v.accounts.values())
    event("trades: none" if not trades else "trades: some")
    event("liquidations" if v.insurance_fund else "no liquidation")


class FlatFee:
    """A custom fee model: 0.5 USDT a fill for takers, a 0.1 USDT rebate for makers."""

    def commission(self, account: Any, spec: Any, notional: D, is_maker: bool) -> D:
        return D("-0.1") if is_maker else D("0.5")


def test_a_custom_fee_model_charges_the_accounts_and_the_venue_counts_its_fees() -> None:
    v = mm_and_alice(2, fee_model=FlatFee())
    for _ in range(3):  # three fills: alice takes 0.01 BTC each time
        alice_buys(v, "0.01", "30000")
    assert [t.fee for t in v.accounts["alice"].trades] == [D("0.5")] * 3
    assert [t.fee for t in v.accounts["mm"].trades] == [D("-0.1")] * 3
    assert v.accounts["alice"].balances["USDT"] == D(10_000) - D("1.5")
    assert v.fees_collected == D("1.2")  # 3 x (0.5 - 0.1)


def test_the_default_fee_model_s_fees_are_counted_exactly() -> None:
    v = mm_and_alice(2)
    alice_buys(v, "0.005", "30000.1")
    # notional 150.0005: taker 0.05 % = 0.075000250, maker 0.02 % = 0.030000100
    assert [t.fee for a in ("alice", "mm") for t in v.accounts[a].trades] == [D("0.07500025"), D("0.03000010")]
    assert v.fees_collected == D("0.10500035")
