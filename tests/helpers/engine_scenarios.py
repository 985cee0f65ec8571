"""Seeded engine scenarios that record everything the venue answered, for byte-for-byte comparisons.

``scenario()`` hits the half-way rounding cases (fees, funding, realized and unrealized PnL, an average
entry rounded at each increase, an isolated liquidation) and runs every query; ``random_load()`` is a seeded mixed load of
order types, times in force, cancels, amendments, algo orders, leverage changes, mark prices and funding
over several accounts.  ``encode()`` turns what they saw into bytes.  Run as a script, it writes those bytes
for both scenarios to the file named on the command line (the compiled-engine test compares two builds).
"""

from __future__ import annotations

import random
import sys
from decimal import Decimal
from typing import Any

import msgspec

from binfut.clock import ManualClock
from binfut.errors import ApiError
from binfut.matching import (
    CancelAlgoOrder,
    CancelOrder,
    ChangeLeverage,
    ChangeMarginType,
    Funding,
    MarkPrice,
    ModifyOrder,
    NewAlgoOrder,
    NewOrder,
    SimulatedVenue,
)

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

    # BTCUSDT: carol's average entry (0.004 x 30 000 + 0.011 x 30 000.2 + 0.004 x 30 000.1) / 0.019 is 30 000.1368421052...
    # exactly; rounded to 8 decimal places of the tick at each increase, it is 300 001.46666667 ticks after the second
    # buy and (300 001.46666667 x 15 + 300 001 x 4) / 19 = 300 001.36842106 ticks after the third
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


def random_load(seed: int = 11, n: int = 3_000) -> tuple[SimulatedVenue, list[Any]]:
    """A seeded mixed load on BTCUSDT and ETHUSDT; every answer, rejection and event is recorded."""
    rng = random.Random(seed)
    clock = ManualClock(START_NS)
    venue = SimulatedVenue(clock, random.Random(seed))
    venue.open_account("mm", {"USDT": D(10_000_000)}, unlimited=True)
    for name in ("a", "b", "c"):
        venue.open_account(name, {"USDT": D(20_000)})
    seen: list[Any] = []
    # mid price, tick, and the quantity of one unit of order size (about 30 USDT: minimum notional is 20)
    mids = {"BTCUSDT": (D("30000.0"), D("0.1"), D("0.001")), "ETHUSDT": (D("2000.00"), D("0.01"), D("0.015"))}
    for symbol, (mid, tick, step) in mids.items():  # a resting book on both sides
        for i in range(1, 41):
            for side, sign in (("BUY", -1), ("SELL", 1)):
                venue.execute("mm", _order(symbol, side, str(step * rng.randrange(5, 60)), str(mid + sign * tick * i * 3)))
    for _ in range(n):
        clock.advance(rng.randrange(1, 3_000_000_000))
        symbol = rng.choice(("BTCUSDT", "ETHUSDT"))
        mid, tick, step = mids[symbol]
        who = rng.choice(("mm", "a", "b", "c"))
        side = rng.choice(("BUY", "SELL"))
        price = mid + tick * rng.randrange(-60, 61)
        qty = step * rng.randrange(1, 80)
        r = rng.random()
        command: Any
        if r < 0.45:
            tif = rng.choice(("GTC", "GTC", "IOC", "FOK", "GTX"))
            command = NewOrder(symbol=symbol, side=side, type="LIMIT", quantity=qty, price=price, time_in_force=tif,
                               reduce_only=rng.random() < 0.1 or None, new_order_resp_type="RESULT")
        elif r < 0.6:
            command = NewOrder(symbol=symbol, side=side, type="MARKET", quantity=qty, new_order_resp_type="RESULT")
        elif r < 0.75:
            open_ids = [o for o, order in venue.accounts[who].open_orders.items() if order.symbol == symbol]
            command = CancelOrder(symbol=symbol, order_id=rng.choice(open_ids) if open_ids else 1)
        elif r < 0.82:
            open_orders = [o for o in venue.accounts[who].open_orders.values() if o.symbol == symbol]
            if not open_orders:
                continue
            order = rng.choice(open_orders)
            command = ModifyOrder(symbol=symbol, side=order.side, order_id=order.order_id, quantity=qty, price=price)
        elif r < 0.88:
            kind = rng.choice(("STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"))
            trigger = mid + tick * rng.randrange(-40, 41)
            command = NewAlgoOrder(
                symbol=symbol, side=side, type=kind, quantity=qty,
                trigger_price=None if kind == "TRAILING_STOP_MARKET" else trigger,
                callback_rate=D("0.5") if kind == "TRAILING_STOP_MARKET" else None,
                working_type=rng.choice(("MARK_PRICE", "CONTRACT_PRICE")),
            )
        elif r < 0.9:
            algos = list(venue.accounts[who].algos)
            command = CancelAlgoOrder(algo_id=rng.choice(algos) if algos else 1)
        elif r < 0.92:
            command = ChangeLeverage(symbol=symbol, leverage=rng.choice((5, 10, 20, 50)))
        elif r < 0.98:
            seen.append(venue.on_market(MarkPrice(symbol=symbol, mark_price=price, time_ms=venue.now + 1)))
            continue
        else:
            seen.append(venue.on_market(Funding(
                symbol=symbol, funding_rate=D("0.0001") * rng.randrange(-3, 4), mark_price=price, time_ms=venue.now + 1,
            )))
            continue
        try:
            result = venue.execute(who, command)
            seen.append((result.value, result.outputs))
        except ApiError as exc:
            seen.append(("rejected", exc.code, exc.msg))
    for name in ("mm", "a", "b", "c"):
        seen.append(venue.position_risk(name, include_empty=True))
        seen.append(venue.account_info(name))
        seen.append(venue.income(name))
        for symbol in mids:
            seen.append(venue.user_trades(name, symbol))
            seen.append(venue.all_orders(name, symbol))
    seen.append(venue.depth("BTCUSDT"))
    seen.append(venue.depth("ETHUSDT"))
    return venue, seen


def encode(seen: list[Any]) -> bytes:
    return msgspec.json.encode(seen, enc_hook=repr)


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as out:
        out.write(encode(scenario()[1]) + b"\n" + encode(random_load()[1]))
