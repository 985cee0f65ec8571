"""Benchmark of the market-data store: rows/s written, and bars/minute downloaded against the weight budget.

Run: ``.venv/bin/python bench/bench_data.py [--symbols 5] [--days 30] [--weight-limit 240] [--speed 10] [--skip-download]``

1. writes: a month of 1-minute klines for ``--symbols`` symbols through ``Store.write`` (one partition
   per symbol and day, fsync on), the same again (a rerun: merged, nothing rewritten), and one large
   partition (2 million aggregate trades in a day); rows/s and the DuckDB count over the result;
2. download: the same month from a local exchange in another process that serves pre-built history
   with a limit of ``--weight-limit`` request weight per minute of its clock, which runs ``--speed``
   times real time (the client's clock too). The default, 240 at 10x, sends requests as fast as
   Binance's 2400/min at 1x but spans ~4 budget minutes, so the rate is a sustained one (a run
   inside one minute could spend a whole minute's budget at once). The theoretical maximum is
   ``limit x best rows per weight`` bars a minute (klines pages of 499 bars weigh 2: 249.5 bars per
   weight); the downloader should reach >= 95 % of it with zero 429 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

MINUTE = 60_000
DAY = 86_400_000
START_MS = 1_704_067_200_000  # 2024-01-01
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")


def _serve(symbols: tuple[str, ...], days: int, weight_limit: int, speed: float, queue: Any, stop: Any) -> None:
    """The local exchange with ``days`` of one-trade-a-minute history, served until ``stop`` is set."""
    from binfut.clock import ScaledClock
    from binfut.emulator import EmulatorConfig, EmulatorThread, MarketData, build_exchange

    end = START_MS + days * DAY
    config = EmulatorConfig(symbols=symbols, simulate=False, weight_limit_1m=weight_limit)
    ex = build_exchange(config, clock=ScaledClock(speed, start_ns=(end + 30_000) * 1_000_000))
    ex.market = MarketData(ex.symbols, ex.bus, kline_limit=days * 1440 + 10, tape_size=20_000)
    for symbol in symbols:
        rng = random.Random(symbol)
        price = Decimal(100)
        for i, t in enumerate(range(START_MS, end, MINUTE)):
            price += Decimal(rng.randint(-5, 5)) / 10
            ex.market.on_trade(symbol, i + 1, price, Decimal("0.5"), t + 5, rng.random() < 0.5)
            if t % 28_800_000 == 0:
                ex.market.on_funding(symbol, t, Decimal("0.0001"), price)
    with EmulatorThread(exchange=ex) as emu:
        queue.put(emu.rest_url)
        stop.wait()


def bench_writes(root: Path, symbols: int, days: int) -> list[tuple[str, str]]:
    import numpy as np

    from binfut.data import Store
    from binfut.data.schema import kind, table_from_columns

    n = days * 1440
    opens = np.arange(START_MS, START_MS + n * MINUTE, MINUTE, dtype=np.int64)
    ones = np.ones(n)
    table = table_from_columns(
        kind("klines"),
        {"open_time": opens, "open": ones, "high": ones, "low": ones, "close": ones, "volume": ones,
         "close_time": opens + MINUTE - 1, "quote_volume": ones, "trades": np.ones(n, np.int64),
         "taker_buy_base_volume": ones, "taker_buy_quote_volume": ones},
    )  # fmt: skip
    store = Store(root)
    out = []
    t0 = time.perf_counter()
    for s in SYMBOLS[:symbols]:
        store.write("klines", table, symbol=s, series="1m")
    dt = time.perf_counter() - t0
    rows = n * symbols
    out.append(
        (
            f"klines 1m, {symbols} symbols x {days} days ({symbols * days} partitions, fsync)",
            f"{rows / dt:,.0f} rows/s ({dt:.2f} s)",
        )
    )
    t0 = time.perf_counter()
    for s in SYMBOLS[:symbols]:
        store.write("klines", table, symbol=s, series="1m")
    dt = time.perf_counter() - t0
    out.append(("the same rows again (merge, nothing rewritten)", f"{rows / dt:,.0f} rows/s ({dt:.2f} s)"))
    m = 2_000_000
    ids = np.arange(m, dtype=np.int64)
    agg = table_from_columns(
        kind("agg_trades"),
        {"agg_trade_id": ids, "price": np.full(m, 42000.1), "quantity": np.full(m, 0.01), "first_trade_id": ids,
         "last_trade_id": ids, "time": START_MS + ids * (DAY // m), "is_buyer_maker": ids % 2 == 0},
    )  # fmt: skip
    t0 = time.perf_counter()
    store.write("agg_trades", agg, symbol="BTCUSDT")
    dt = time.perf_counter() - t0
    out.append(("aggTrades, one day of 2,000,000 rows (one partition)", f"{m / dt:,.0f} rows/s ({dt:.2f} s)"))
    t0 = time.perf_counter()
    count = store.sql("select count(*) as n from klines").to_pylist()[0]["n"]
    dt = time.perf_counter() - t0
    out.append((f"DuckDB count(*) over the klines view ({count:,} rows)", f"{dt * 1000:.0f} ms"))
    return out


async def bench_download(url: str, root: Path, symbols: int, days: int, speed: float) -> list[tuple[str, str]]:
    from binfut.clock import ScaledClock
    from binfut.data import DownloadSpec, Store, best_limit, download, open_client
    from binfut.protocol.endpoints import BY_NAME

    spec = DownloadSpec(kinds=("klines",), symbols=SYMBOLS[:symbols], start_ms=START_MS, end_ms=START_MS + days * DAY)
    client = open_client("local", url, clock=ScaledClock(speed))
    try:
        report = await download(spec, Store(root), client=client, concurrency=symbols)
    finally:
        await client.aclose()
    limit = best_limit("klines")
    per_weight = limit / BY_NAME["klines"].weight_for({"limit": limit})
    theoretical = report.weight_limit * per_weight
    achieved = report.rows / (report.elapsed_s / 60)  # per minute of the exchange's clock
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted((report.statuses or {}).items()))
    return [
        (
            "bars downloaded",
            f"{report.rows:,} in {report.elapsed_s / 60:.2f} budget minutes ({report.elapsed_s / speed:.1f} s real), {report.requests} requests, weight {report.weight}",
        ),
        (
            "theoretical maximum",
            f"{theoretical:,.0f} bars/min ({report.weight_limit} weight/min x {per_weight} bars/weight, pages of {limit})",
        ),
        ("achieved", f"{achieved:,.0f} bars/min = {achieved / theoretical:.1%} of the maximum (target >= 95 %)"),
        ("HTTP statuses", f"{statuses}; 429/418 answers: {report.rate_limited}"),
        ("gaps", str(len(report.gaps))),
    ]


def _print(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(a) for a, _ in rows)
    print(f"\n{title}")
    for a, b in rows:
        print(f"  {a.ljust(width)}  {b}")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=5)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--weight-limit", type=int, default=240, help="REQUEST_WEIGHT per minute of the local exchange")
    ap.add_argument("--speed", type=float, default=10.0, help="clock speed of exchange and client (1 = real time)")
    ap.add_argument("--skip-download", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        _print(
            "writes (Store.write: merge on key, atomic, fsync)", bench_writes(tmp / "writes", args.symbols, args.days)
        )
        if args.skip_download:
            return 0
        ctx = mp.get_context("spawn")
        queue, stop = ctx.Queue(), ctx.Event()
        server = ctx.Process(
            target=_serve,
            args=(SYMBOLS[: args.symbols], args.days, args.weight_limit, args.speed, queue, stop),
            daemon=True,
        )
        server.start()
        try:
            url = queue.get(timeout=120)
            rows = asyncio.run(bench_download(url, tmp / "download", args.symbols, args.days, args.speed))
            title = f"download ({args.symbols} symbols x {args.days} days of 1m klines; exchange in another process, {args.weight_limit} weight/min at {args.speed:g}x)"
            _print(title, rows)
        finally:
            stop.set()
            server.join(10)
            if server.is_alive():
                server.kill()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
