"""``make demo``: binfut end to end on the local exchange, offline, in about two minutes.

1. starts the local exchange in-process (accelerated synthetic market with generated history);
2. tours the REST client over loopback (time, filters, book, klines, orders, a stop, margin, PnL);
3. downloads the history into the Parquet data store with progress bars and queries it with DuckDB;
4. backtests the moving-average crossover on that data on the same matching engine and writes an
   HTML / PNG report;
5. runs the same strategy live against the local exchange through the real REST and WebSocket
   protocol with the risk manager on, showing a live terminal dashboard, and ends by itself.

``--env testnet`` (with BINFUT_API_KEY / BINFUT_API_SECRET) runs the client tour against Binance's
testnet instead; orders only with ``--trade``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
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
def local_exchange(speed: float, seed: int, history_days: float) -> Iterator[tuple[str, Any]]:
    from binfut.emulator.config import EmulatorConfig
    from binfut.emulator.server import EmulatorThread

    config = EmulatorConfig(
        api_keys={DEMO_KEY: DEMO_SECRET}, speed=speed, seed=seed, balance=Decimal("10000"), history_days=history_days
    )
    with console.status(f"starting the local exchange with {history_days:g} days of generated history..."):
        emu = EmulatorThread(config).start()
    try:
        assert emu.running is not None
        console.print(f"local exchange listening at [bold]{emu.running.rest_url}[/] (speed x{speed:g}, seed {seed})")
        yield emu.running.rest_url, emu.running.exchange.clock
    finally:
        emu.stop()


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


def run_download(url: str, out: Path, days: float) -> Path:
    """Phase 3: the history into the Parquet dataset, with progress bars; a DuckDB summary."""
    from binfut.data import DownloadSpec, Store, download
    from binfut.data.cli import RichProgress

    step("9. History into the data store (Parquet + DuckDB)")
    store = Store(out / "data")
    with Client(env="local", base_url=url, environ={}) as probe:
        now_ms = probe.server_time().server_time_ms
    spec = DownloadSpec(
        kinds=("klines", "mark_price_klines", "funding_rate"),
        symbols=(SYMBOL, "ETHUSDT"),
        start_ms=now_ms - now_ms % 60_000 - int(days * 86_400_000),
        interval="1m",
    )
    progress = RichProgress()

    async def fetch() -> Any:
        with progress.bars:
            return await download(spec, store, env="local", base_url=url, progress=progress)

    report = asyncio.run(fetch())
    rows = sum(r.rows for r in report.series)
    console.print(
        f"{rows:,} rows in {report.requests} requests ({report.weight} weight of {report.weight_limit}/min), "
        f"HTTP statuses {report.statuses}, gaps reported {len(report.gaps)}"
    )
    table_ = store.sql(
        "select symbol, count(*) as bars, min(open_time) as first, max(open_time) as last, "
        "round(avg(close), 2) as avg_close from klines group by symbol order by symbol"
    )
    table("DuckDB: select ... from klines group by symbol", table_.column_names, [list(r.values()) for r in table_.to_pylist()])
    return out / "data"


def run_backtest_phase(data_dir: Path, out: Path) -> Any:
    """Phase 4: the MA crossover over the downloaded bars, on the same engine; the report."""
    from binfut.matching import default_specs
    from binfut.strategy import MACross, MACrossConfig
    from binfut.trading import BacktestConfig, RiskConfig, load_feed, run_backtest, write_report

    step("10. Backtest: moving-average crossover on the same matching engine")
    feed = load_feed(data_dir, SYMBOL, "1m", None, None, default_specs()[SYMBOL])
    strategy = MACross(MACrossConfig(symbol=SYMBOL, short_window=20, long_window=60, quantity=Decimal("0.05"), leverage=5))
    risk = RiskConfig(max_leverage=Decimal("10"), max_drawdown=Decimal("0.5"))
    result = run_backtest(strategy, feed, BacktestConfig(initial_balance=Decimal("10000")), risk)
    files = write_report(result, out / "report", title=f"MA crossover 20/60 on {SYMBOL} 1m (local exchange history)")
    from binfut.trading.report import compute_metrics

    m = compute_metrics(result)
    rows = [
        ["bars", f"{m.bars:,} ({m.start} → {m.end}), engine {m.engine}"],
        ["equity", f"{m.initial_balance} → {m.final_equity} USDT ({m.total_return:+.2%})"],
        ["Sharpe / Sortino", f"{m.sharpe:.2f} / {m.sortino:.2f}"],
        ["max drawdown", f"{m.max_drawdown:.2%}"],
        ["fills / round trips / win rate", f"{m.fills} / {m.round_trips} / {m.win_rate:.0%}"],
        ["fees paid / funding", f"{m.fees} / {m.funding} USDT"],
        ["exposure / liquidations", f"{m.exposure:.0%} / {m.liquidations}"],
    ]
    table(f"{m.strategy} on {SYMBOL}", ["", ""], rows)
    console.print(f"report: [bold]{files.html}[/] (+ {len(files.pngs)} PNG charts, fills.csv, summary.json)")
    return files


def run_live_phase(url: str, exchange_clock: Any, seconds: float) -> Any:
    """Phase 5: the same strategy live on the local exchange (REST orders, user-data stream, risk on)."""
    from binfut.strategy import MACross, MACrossConfig
    from binfut.trading import LiveConfig, LiveRunner, RiskConfig
    from binfut.trading.dashboard import run_live_with_dashboard

    step(f"11. Live: the MA crossover on the local exchange for {seconds:g} s (REST + WebSocket, risk manager on)")

    async def go() -> Any:
        async with AsyncClient(DEMO_KEY, DEMO_SECRET, env="local", base_url=url, clock=exchange_clock) as client:
            strategy = MACross(MACrossConfig(symbol=SYMBOL, short_window=3, long_window=8, quantity=Decimal("0.02"), leverage=5))
            risk = RiskConfig(max_leverage=Decimal("10"), max_position_notional=Decimal("5000"), max_drawdown=Decimal("0.2"))
            runner = LiveRunner(strategy, client, config=LiveConfig(cancel_on_stop=True, flatten_on_stop=True), risk=risk)
            return await run_live_with_dashboard(runner, duration_s=seconds, console=console)

    summary = asyncio.run(go())
    table(
        "live run",
        ["", ""],
        [
            ["closed bars seen", summary.bars],
            ["orders sent / fills", f"{len(summary.orders)} / {len(summary.fills)}"],
            ["wallet", f"{summary.initial_balance} → {summary.final_wallet} USDT"],
            ["realized PnL / fees", f"{summary.realized_pnl} / {summary.fees}"],
            ["open orders / positions at the end", f"{summary.open_orders} / {summary.positions}"],
            ["risk refusals", len(summary.refusals)],
        ],
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="binfut-demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--env", default="local", choices=["local", "testnet", "demo"])
    parser.add_argument("--speed", type=float, default=30.0, help="local exchange clock speed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--trade", action="store_true", help="place orders on testnet/demo too (always on locally)")
    parser.add_argument("--history-days", type=float, default=3.0, help="generated history on the local exchange")
    parser.add_argument("--out", default="demo-out", help="where the dataset and the report go")
    parser.add_argument("--live-seconds", type=float, default=30.0, help="length of the live run (0: skip it)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    console.print("[bold]binfut demo[/] — Binance USD-M Futures, end to end")
    try:
        if args.env == "local":
            out = Path(args.out)
            with local_exchange(args.speed, args.seed, args.history_days) as (url, exchange_clock):
                with Client(DEMO_KEY, DEMO_SECRET, env="local", base_url=url, config=ClientConfig()) as client:
                    run_sync(client, trade=True)
                asyncio.run(run_async(url, DEMO_KEY, DEMO_SECRET, "local"))
                data_dir = run_download(url, out, args.history_days)
                files = run_backtest_phase(data_dir, out)
                if args.live_seconds > 0:
                    run_live_phase(url, exchange_clock, args.live_seconds)
            console.print(f"\n[bold]report written:[/] {files.html.resolve()}")
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
