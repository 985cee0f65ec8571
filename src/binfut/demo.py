"""``make demo``: binfut end to end on the local exchange, offline, in about a minute.

It starts the local exchange in-process (accelerated synthetic market), then drives it through the
real REST protocol over loopback with the sync and async clients: server time and clock offset,
exchangeInfo filters, order book and klines as a DataFrame, leverage, a post-only order placed,
queried and cancelled, a market order that opens a position, a conditional (algo) stop, the margin
and PnL the exchange computes, local refusal of an off-tick price, and 50 concurrent async requests
paced by the request-weight budget. ``--env testnet`` runs the same client calls against Binance's
testnet with BINFUT_API_KEY / BINFUT_API_SECRET (orders only with ``--trade``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from binfut.client import AsyncClient, Client
from binfut.config import ClientConfig
from binfut.errors import BinfutError, FilterViolation

console = Console()

DEMO_KEY = "binfut-demo-key"
DEMO_SECRET = "binfut-demo-secret-do-not-use-anywhere-else"
SYMBOL = "BTCUSDT"


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(v) for v in r))
    console.print(t)


@contextmanager
def local_exchange(speed: float, seed: int) -> Iterator[str]:
    from binfut.emulator.config import EmulatorConfig
    from binfut.emulator.server import EmulatorThread

    config = EmulatorConfig(api_keys={DEMO_KEY: DEMO_SECRET}, speed=speed, seed=seed, balance=Decimal("10000"))
    with EmulatorThread(config) as emu:
        assert emu.running is not None
        console.print(f"local exchange listening at [bold]{emu.running.rest_url}[/] (speed x{speed:g}, seed {seed})")
        yield emu.running.rest_url


def wait_for_market(client: Client, seconds: float) -> None:
    """Give the synthetic market time to trade so klines and the book have content."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.ticker_24hr(symbol=SYMBOL).count > 20:
            return
        time.sleep(0.2)


def run_sync(client: Client, trade: bool) -> None:
    step("1. Connectivity and clock")
    server = client.server_time()
    offset = client.sync_time()
    console.print(f"server time {server.server_time_ms} ms, measured offset {offset:+d} ms")

    step("2. Exchange information")
    info = client.exchange_info()
    rows = []
    for s in info.symbols[:6]:
        pf, lot = s.price_filter, s.lot_size
        rows.append([s.symbol, s.status, pf.tick_size if pf else "", lot.step_size if lot else "", lot.min_qty if lot else ""])
    table("symbols and filters", ["symbol", "status", "tickSize", "stepSize", "minQty"], rows)
    limits = [[r.rate_limit_type, f"{r.interval_num} {r.interval}", r.limit] for r in info.rate_limits]
    table("rate limits", ["type", "window", "limit"], limits)

    step("3. Market data")
    wait_for_market(client, 8)
    book = client.depth(symbol=SYMBOL, limit=5)
    table(
        f"{SYMBOL} order book (lastUpdateId {book.last_update_id})",
        ["bid qty", "bid", "ask", "ask qty"],
        [[b[1], b[0], a[0], a[1]] for b, a in zip(book.bids, book.asks)],
    )
    frame = client.klines_df(symbol=SYMBOL, interval="1m", limit=500)
    console.print(f"klines_df: {len(frame)} one-minute bars, dtypes {dict(frame.dtypes.astype(str))}")
    console.print(frame.tail(5).to_string())
    mark = client.mark_price(symbol=SYMBOL)
    console.print(f"mark {mark.mark_price}  index {mark.index_price}  funding rate {mark.last_funding_rate}")

    if not trade:
        return

    step("4. Orders: post-only limit, query, cancel")
    client.change_leverage(symbol=SYMBOL, leverage=5)
    bid = book.bids[0][0]
    client.load_filters()
    tick = client.symbol_filters(SYMBOL).tick_size
    price = client.round_price(SYMBOL, bid * Decimal("0.99"))
    order = client.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTX", quantity="0.010", price=price)
    console.print(f"placed {order.side} {order.orig_qty} @ {order.price} → {order.status} (clientOrderId {order.client_order_id})")
    queried = client.query_order(symbol=SYMBOL, orig_client_order_id=order.client_order_id)
    console.print(f"queried by client id → status {queried.status}")
    cancelled = client.cancel_order(symbol=SYMBOL, order_id=order.order_id)
    console.print(f"cancelled → {cancelled.status}")

    step("5. Local protection: an off-tick price never leaves the machine")
    try:
        client.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.010", price=price + tick / 2)
    except FilterViolation as exc:
        console.print(f"[yellow]refused locally:[/] {exc}")

    step("6. A market order opens a position; a stop-loss guards it")
    filled = client.new_order(symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.050", new_order_resp_type="RESULT")
    console.print(f"market buy → {filled.status}, executed {filled.executed_qty} @ avg {filled.avg_price}")
    stop_price = client.round_price(SYMBOL, Decimal(filled.avg_price or bid) * Decimal("0.95"))
    algo = client.new_algo_order(
        algo_type="CONDITIONAL", symbol=SYMBOL, side="SELL", type="STOP_MARKET", trigger_price=stop_price, close_position=True, working_type="MARK_PRICE"
    )
    console.print(f"stop-market (algo {algo.algo_id}) at {stop_price} on MARK_PRICE → {algo.algo_status}")
    positions = [p for p in client.position_risk(symbol=SYMBOL) if p.position_amt]
    table(
        "position",
        ["symbol", "amount", "entry", "mark", "uPnL", "liq. price", "leverage"],
        [[p.symbol, p.position_amt, p.entry_price, p.mark_price, p.unrealized_profit, p.liquidation_price, getattr(p, "leverage", "")] for p in positions],
    )
    balances = [b for b in client.balance() if b.asset == "USDT"]
    table("USDT", ["wallet", "available", "cross uPnL"], [[b.balance, b.available_balance, b.cross_un_pnl] for b in balances])

    step("7. Close everything")
    client.cancel_all_algo_open_orders(symbol=SYMBOL)
    closed = client.new_order(symbol=SYMBOL, side="SELL", type="MARKET", quantity="0.050", reduce_only=True, new_order_resp_type="RESULT")
    console.print(f"reduce-only market sell → {closed.status} @ {closed.avg_price}")
    income = client.income(symbol=SYMBOL, limit=20)
    table("income", ["type", "amount", "asset"], [[i.income_type, i.income, i.asset] for i in income])


async def run_async(url: str, key: str | None, secret: str | None, env: str) -> None:
    step("8. Async client: 50 requests in flight")
    async with AsyncClient(key, secret, env=env, base_url=url) as client:
        started = time.perf_counter()
        prices = await asyncio.gather(*(client.ticker_price(symbol=SYMBOL) for _ in range(50)))
        elapsed = time.perf_counter() - started
        console.print(f"50 ticker requests in {elapsed * 1000:.0f} ms; last price {prices[-1].price}")
        usage = client.rate_limit_usage()
        console.print(f"request weight used / allowed per window: {usage['weight']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="binfut-demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--env", default="local", choices=["local", "testnet", "demo"])
    parser.add_argument("--speed", type=float, default=30.0, help="local exchange clock speed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--trade", action="store_true", help="place orders on testnet/demo too (always on locally)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    console.print("[bold]binfut demo[/] — Binance USD-M Futures, end to end")
    try:
        if args.env == "local":
            with local_exchange(args.speed, args.seed) as url:
                with Client(DEMO_KEY, DEMO_SECRET, env="local", base_url=url, config=ClientConfig()) as client:
                    run_sync(client, trade=True)
                asyncio.run(run_async(url, DEMO_KEY, DEMO_SECRET, "local"))
        else:
            with Client(env=args.env) as client:
                run_sync(client, trade=args.trade)
            asyncio.run(run_async(None, None, None, args.env))  # type: ignore[arg-type]
    except BinfutError as exc:
        console.print(f"[red]error:[/] {type(exc).__name__}: {exc}")
        return 1
    console.rule(f"[bold green]done in {time.perf_counter() - started:.1f} s")
    return 0


def _entry() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    _entry()
