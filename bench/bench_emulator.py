"""Benchmark of the local exchange: engine commands/s through ``dispatch`` and REST orders/s over loopback.

Run: ``.venv/bin/python bench/bench_emulator.py [--seconds 5] [--concurrency 50] [--thread] [--no-uvloop]
[--build pure|compiled]``

Both measurements run on the pure-Python engine and then on its mypyc build (``make compiled``), each
in its own process; ``--build`` runs only one, in this process.

1. in-process: ``LocalExchange.dispatch_now`` (validation, order counting, engine, JSON encoding) for
   LIMIT IOC orders that expire unfilled, resting LIMIT place + cancel pairs, and MARKET fills;
2. REST: a server in a separate process (or a thread with ``--thread``), an aiohttp client with
   ``--concurrency`` requests in flight, each a signed ``POST /fapi/v1/order`` (LIMIT IOC, so the
   full order path runs and nothing piles up in the book). Order-rate limits are lifted for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import multiprocessing as mp
import sys
import time
from decimal import Decimal
from typing import Any

from _common import engine_build, run_on_build

KEY = "BenchKey00000000000000000000000000000000000000000000000000000001"
SECRET = "bench-secret"


def _config(**kw: Any) -> Any:
    from binfut.emulator import EmulatorConfig

    return EmulatorConfig(
        simulate=False,
        api_keys={KEY: SECRET},
        balance=Decimal(10**9),
        weight_limit_1m=10**9,
        order_limit_10s=10**9,
        order_limit_1m=10**9,
        **kw,
    )


def _seed_book(ex: Any) -> None:
    """A resting ladder from an unlimited maker, and a mark price."""
    from binfut.matching import commands as c

    ex.venue.open_account("bench-maker", {"USDT": Decimal(10**12)}, unlimited=True, emit_events=False)
    ex.on_market(
        c.MarkPrice(symbol="BTCUSDT", mark_price=Decimal(65000), time_ms=ex.clock.time_ms(), index_price=Decimal(65000))
    )
    for k in range(1, 51):
        for side, sign in (("BUY", -1), ("SELL", 1)):
            price = Decimal(65000) + sign * Decimal(k) * Decimal("0.5")
            ex.execute("bench-maker", c.NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", time_in_force="GTC",
                                                 quantity=Decimal(1000), price=price))  # fmt: skip


def bench_dispatch(seconds: float) -> dict[str, float]:
    from binfut.clock import ManualClock
    from binfut.emulator import build_exchange

    ex = build_exchange(_config(), clock=ManualClock())
    _seed_book(ex)
    account = ex.accounts.by_api_key(KEY)
    ioc = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "IOC",
        "quantity": "0.010",
        "price": "64000",
    }
    gtc = {**ioc, "timeInForce": "GTC", "newOrderRespType": "RESULT"}
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"}
    out: dict[str, float] = {}

    def run(label: str, step: Any) -> None:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            n += step()
        out[label] = n / (time.perf_counter() - start)

    def ioc_step() -> int:
        status, _, _ = ex.dispatch_now("new_order", ioc, account)
        assert status == 200
        return 1

    def place_cancel() -> int:
        status, body, _ = ex.dispatch_now("new_order", gtc, account)
        assert status == 200, body
        oid = body.split(b'"orderId":', 1)[1].split(b",", 1)[0].decode()
        status, _, _ = ex.dispatch_now("cancel_order", {"symbol": "BTCUSDT", "orderId": oid}, account)
        assert status == 200
        return 2

    flip = [0]

    def market_step() -> int:
        flip[0] ^= 1
        status, body, _ = ex.dispatch_now("new_order", {**market, "side": "BUY" if flip[0] else "SELL"}, account)
        assert status == 200, body
        return 1

    run("new_order LIMIT IOC (expires)", ioc_step)
    run("new_order GTC + cancel_order", place_cancel)
    run("new_order MARKET (fills)", market_step)
    return out


def _serve(port_queue: Any, use_uvloop: bool) -> None:
    if use_uvloop:
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            pass
    from binfut.emulator import build_exchange, start_emulator

    async def main() -> None:
        ex = build_exchange(_config())
        _seed_book(ex)
        async with start_emulator(exchange=ex) as emu:
            port_queue.put(emu.rest_url)
            await asyncio.Event().wait()

    asyncio.run(main())


async def _client(base: str, seconds: float, concurrency: int, server_time: Any) -> tuple[int, int, float]:
    import aiohttp
    from yarl import URL

    ok = errors = 0
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(base + "/fapi/v1/time") as resp:
            offset = (await resp.json())["serverTime"] - server_time()

        async def worker(i: int) -> None:
            nonlocal ok, errors
            n = 0
            while time.perf_counter() < stop_at:
                n += 1
                query = (
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.010&price=64000"
                    f"&newClientOrderId=b{i}-{n}&timestamp={server_time() + offset}"
                )
                sig = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
                url = URL(f"{base}/fapi/v1/order?{query}&signature={sig}", encoded=True)
                async with http.post(url, headers={"X-MBX-APIKEY": KEY}) as resp:
                    await resp.read()
                    if resp.status == 200:
                        ok += 1
                    else:
                        errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return ok, errors, time.perf_counter() - start


def bench_rest(seconds: float, concurrency: int, thread: bool, use_uvloop: bool) -> tuple[int, int, float]:
    now_ms = lambda: time.time_ns() // 1_000_000  # noqa: E731 - the client's own wall clock
    if thread:
        from binfut.emulator import EmulatorThread, build_exchange

        ex = build_exchange(_config())
        _seed_book(ex)
        with EmulatorThread(exchange=ex) as emu:
            return asyncio.run(_client(emu.rest_url, seconds, concurrency, now_ms))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(queue, use_uvloop), daemon=True)
    proc.start()
    try:
        base = queue.get(timeout=60)
        if use_uvloop:
            try:
                import uvloop

                return uvloop.run(_client(base, seconds, concurrency, now_ms))
            except ImportError:
                pass
        return asyncio.run(_client(base, seconds, concurrency, now_ms))
    finally:
        proc.terminate()
        proc.join(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument(
        "--thread", action="store_true", help="serve from a thread of this process instead of a child process"
    )
    p.add_argument("--no-uvloop", action="store_true")
    p.add_argument("--build", choices=("pure", "compiled"), default=None)
    args = p.parse_args(argv)
    if args.build is None:
        child = list(argv if argv is not None else sys.argv[1:])
        for which in ("pure", "compiled"):
            print(f"-- {which} engine", flush=True)
            proc = run_on_build(__file__, which, child)
            sys.stdout.write(proc.stdout)
            if proc.returncode:
                sys.stdout.write(proc.stderr)
                return proc.returncode
        return 0
    if engine_build() != args.build:
        sys.exit(f"asked for the {args.build} engine, but this process imports the {engine_build()} one")
    print(f"python {sys.version.split()[0]}, {mp.cpu_count()} CPUs")
    print("in-process dispatch (engine commands/s):")
    for label, rate in bench_dispatch(args.seconds).items():
        print(f"  {label:34s} {rate:10,.0f} /s")
    where = "thread" if args.thread else "separate process"
    ok, errors, elapsed = bench_rest(args.seconds, args.concurrency, args.thread, not args.no_uvloop)
    print(f"REST over loopback ({where}, {args.concurrency} in flight, signed POST /fapi/v1/order):")
    print(f"  {ok / elapsed:,.0f} orders/s  ({ok} ok, {errors} errors in {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
