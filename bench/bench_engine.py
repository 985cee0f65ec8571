"""Throughput of the matching engine: commands per second for a seeded mixed load on one symbol.

Load: 60 % LIMIT (GTC, around the mid, about a third of them marketable), 20 % MARKET, 20 % cancel of
a random resting order, spread over a few accounts, on a BTCUSDT book pre-filled with a few thousand
resting orders.  Commands are built before the clock starts; only ``venue.execute`` is timed.

Two builds of the same engine are measured side by side: the pure-Python source (what an editable
install runs) and the mypyc-compiled copy in ``build/compiled`` (``make compiled``; ``make bench`` builds
it first).  Each build runs in its own process, one after the other.  Each load runs twice: under
CPython's default garbage-collector settings, and under ``binfut._gc.engine_gc`` (what the event-driven
backtest runs under: start-up heap frozen, rarer young collections); the line says how long the
collector took in each.

Run: ``.venv/bin/python bench/bench_engine.py [--commands N] [--profile] [--mode full|lean] [--repeat N]
[--build pure|compiled]``
  full: every account emits user events and the venue publishes trades / depth deltas (emulator)
  lean: bots emit no user events and nothing is published (backtest with market-maker bots)
  --repeat N: build and run N times (default 2), report the best run (the machine is shared: compare best runs)
  --build B: measure only that build, in this process (without it: both, each in a subprocess)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import gc
import json
import pstats
import random
import sys
import time
from decimal import Decimal

from _common import engine_build, machine_note, run_on_build

from binfut._gc import engine_gc
from binfut.clock import ManualClock
from binfut.errors import ApiError
from binfut.matching import CancelOrder, NewOrder, SimulatedVenue, default_specs

SYMBOL = "BTCUSDT"
MID = 300_000  # ticks of 0.10 -> 30 000.0
TARGET = 200_000  # commands/s, issue 3


def build(mode: str, seed: int, resting: int, n: int) -> tuple[SimulatedVenue, list[tuple[str, object]]]:
    rng = random.Random(seed)
    # Binance caps open orders at 200 per account and symbol; the bench needs deeper books.
    specs = {SYMBOL: dataclasses.replace(default_specs()[SYMBOL], max_num_orders=1_000_000)}
    venue = SimulatedVenue(ManualClock(), random.Random(seed), specs=specs, publish=(mode == "full"))
    accounts = [f"acct{i}" for i in range(4)]
    for i, a in enumerate(accounts):
        # two margin-checked traders and two unlimited market makers
        venue.open_account(a, {"USDT": Decimal(10_000_000)}, unlimited=i >= 2, emit_events=(mode == "full" or i < 2))
    tick = Decimal("0.1")
    step = Decimal("0.001")
    prices = [tick * p for p in range(MID - 3000, MID + 3001)]
    qtys = [step * q for q in range(4, 200)]  # >= MIN_NOTIONAL 100 at 30 000
    # pre-fill: non-crossing book, bids below MID, asks above
    for _ in range(resting):
        a = accounts[2 + rng.randrange(2)]
        buy = rng.random() < 0.5
        off = rng.randrange(1, 2000)
        p = prices[3000 - off] if buy else prices[3000 + off]
        venue.execute(a, NewOrder(symbol=SYMBOL, side="BUY" if buy else "SELL", type="LIMIT", quantity=rng.choice(qtys), price=p, time_in_force="GTC"))
    # the load; cancels target ids that are live at build time or will be created by this load
    open_ids = {a: list(venue.accounts[a].open_orders) for a in accounts}
    next_id = venue._order_seq
    cmds: list[tuple[str, object]] = []
    for _ in range(n):
        a = accounts[rng.randrange(4)]
        r = rng.random()
        buy = rng.random() < 0.5
        side = "BUY" if buy else "SELL"
        if r < 0.6:
            off = rng.randrange(-600, 2000)  # negative offset crosses the spread
            p = prices[3000 - off] if buy else prices[3000 + off]
            cmds.append((a, NewOrder(symbol=SYMBOL, side=side, type="LIMIT", quantity=rng.choice(qtys), price=p, time_in_force="GTC")))
            next_id += 1
            open_ids[a].append(next_id)
        elif r < 0.8:
            cmds.append((a, NewOrder(symbol=SYMBOL, side=side, type="MARKET", quantity=rng.choice(qtys[:50]))))
            next_id += 1
        else:
            ids = open_ids[a]
            oid = ids.pop(rng.randrange(len(ids))) if ids else 1
            cmds.append((a, CancelOrder(symbol=SYMBOL, order_id=oid)))
    return venue, cmds


def run(venue: SimulatedVenue, cmds: list[tuple[str, object]]) -> tuple[float, int, int, float]:
    """Execute ``cmds``; return (seconds, rejections, outputs, seconds the garbage collector took)."""
    execute = venue.execute
    errors = 0
    outputs = 0
    in_gc = 0.0
    started = 0.0

    def collector(phase: str, info: dict[str, int]) -> None:
        nonlocal in_gc, started
        if phase == "start":
            started = time.perf_counter()
        else:
            in_gc += time.perf_counter() - started

    gc.callbacks.append(collector)
    t0 = time.perf_counter()
    try:
        for a, cmd in cmds:
            try:
                outputs += len(execute(a, cmd).outputs)  # type: ignore[arg-type]
            except ApiError:
                errors += 1  # cancels of orders that already traded away (-2011)
        return time.perf_counter() - t0, errors, outputs, in_gc
    finally:
        gc.callbacks.remove(collector)


GC_SETTINGS = ("default", "engine_gc")


def measure(args: argparse.Namespace, modes: list[str]) -> dict[str, dict[str, float]]:
    """Run each mode under each GC setting in this process; print its line and return the best runs' figures."""
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        for setting in GC_SETTINGS:
            best: tuple[float, int, int, float] | None = None
            for _ in range(max(1, args.repeat)):
                venue, cmds = build(mode, args.seed, args.resting, args.commands)
                gc.collect()
                with engine_gc() if setting == "engine_gc" else contextlib.nullcontext():
                    if args.profile:
                        prof = cProfile.Profile()
                        prof.enable()
                        result = run(venue, cmds)
                        prof.disable()
                        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
                    else:
                        result = run(venue, cmds)
                if best is None or result[0] < best[0]:
                    best = result
            elapsed, errors, outputs, in_gc = best
            book = venue.engines[SYMBOL].book
            resting = sum(len(lvl.orders) for lvl in book.bids.values()) + sum(len(lvl.orders) for lvl in book.asks.values())
            print(
                f"{mode:>4}, {setting:<9} GC: {len(cmds):,} commands in {elapsed:.3f} s = {len(cmds) / elapsed:,.0f} commands/s, "
                f"{in_gc / elapsed:.0%} of it collecting ({errors:,} rejected, {outputs:,} outputs, ~{resting:,} resting at end)",
                flush=True,
            )
            results[f"{mode}/{setting}"] = {"rate": len(cmds) / elapsed, "outputs": outputs, "errors": errors}
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commands", type=int, default=200_000)
    ap.add_argument("--resting", type=int, default=4_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mode", choices=("full", "lean"), default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--build", choices=("pure", "compiled"), default=None)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one build's figures, for the parent
    args = ap.parse_args()
    modes = [args.mode] if args.mode else ["lean", "full"]
    if args.build is not None:
        found = engine_build()
        if found != args.build:
            sys.exit(f"asked for the {args.build} engine, but this process imports the {found} one")
        results = measure(args, modes)
        if args.json:
            print("JSON " + json.dumps(results))
        return
    print(machine_note(), flush=True)
    rates: dict[str, dict[str, dict[str, float]]] = {}
    for which in ("pure", "compiled"):
        print(f"-- {which} engine", flush=True)
        child = ["--json", "--commands", str(args.commands), "--resting", str(args.resting), "--seed", str(args.seed),
                 "--repeat", str(args.repeat)]
        if args.mode:
            child += ["--mode", args.mode]
        proc = run_on_build(__file__, which, child)
        sys.stdout.write("".join(line + "\n" for line in proc.stdout.splitlines() if not line.startswith("JSON ")))
        if proc.returncode:
            sys.exit(f"the {which} run failed:\n{proc.stderr}")
        rates[which] = json.loads(next(line[5:] for line in proc.stdout.splitlines() if line.startswith("JSON ")))
    print(f"\n{'mode':<6}{'GC':<11}{'pure':>10}{'compiled':>12}{'compiled/pure':>15}{'target':>10}  verdict")
    for mode in modes:
        for setting in GC_SETTINGS:
            key = f"{mode}/{setting}"
            pure = rates["pure"][key]["rate"]
            compiled = rates["compiled"][key]["rate"]
            if rates["pure"][key]["outputs"] != rates["compiled"][key]["outputs"]:
                sys.exit(f"{key}: the two builds produced different outputs: {rates}")
            verdict = "met" if compiled >= TARGET else f"MISSED ({compiled / TARGET:.0%} of the target)"
            print(f"{mode:<6}{setting:<11}{pure:>10,.0f}{compiled:>12,.0f}{compiled / pure:>14.2f}x{TARGET:>10,}  {verdict}")


if __name__ == "__main__":
    main()
