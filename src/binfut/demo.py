"""``make demo``: binfut end to end on the local exchange, offline, in about two minutes.

1. starts the local exchange in-process (accelerated synthetic market with generated history);
2. tours the REST client over loopback (time, filters, book, klines, orders, a stop, margin, PnL);
3. downloads the history into the Parquet data store with progress bars and queries it with DuckDB;
4. backtests the moving-average crossover on that data on the same matching engine and writes an
   HTML / PNG report;
5. runs the same strategy live against the local exchange through the real REST and WebSocket
   protocol with the risk manager on, showing a live terminal dashboard, and ends by itself.

``--env testnet`` (or ``demo``) runs the same phases 2-5 against Binance's testnet (demo trading),
writing to OUT/testnet. The orders of the tour and the live phase need ``--trade`` and keys in
BINFUT_API_KEY / BINFUT_API_SECRET (or BINFUT_API_KEY_FILE); the read-only rest needs no keys.
Every phase takes a :class:`Venue`, so the local and the remote runs share all their code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from binfut.client import AsyncClient, Client
from binfut.clock import Clock, SystemClock
from binfut.config import load_env
from binfut.credentials import Credentials
from binfut.errors import BinfutError, ConfigError, FilterViolation

console = Console()

DEMO_KEY = "binfut-demo-key"
DEMO_SECRET = "binfut-demo-secret-do-not-use-anywhere-else"
SYMBOL = "BTCUSDT"
_EPILOG = (
    "--env testnet / demo runs the same phases against Binance: read-only without --trade; --trade adds "
    "orders and the live phase and needs BINFUT_API_KEY and BINFUT_API_SECRET (or BINFUT_API_KEY_FILE)."
)


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(v) for v in r))
    console.print(t)


@dataclass(frozen=True, slots=True)
class Venue:
    """Where the phases run: an environment, its REST URL (None: the environment's own), keys, a clock."""

    env: str
    base_url: str | None
    credentials: Credentials | None
    clock: Clock

    @property
    def name(self) -> str:
        return {"local": "the local exchange", "testnet": "Binance testnet", "demo": "Binance demo trading"}[self.env]

    def client(self) -> Client:
        return Client(env=self.env, base_url=self.base_url, credentials=self.credentials, clock=self.clock, environ={})

    def async_client(self) -> AsyncClient:
        return AsyncClient(
            env=self.env, base_url=self.base_url, credentials=self.credentials, clock=self.clock, environ={}
        )


def remote_venue(env: str, trade: bool) -> Venue:
    """Binance's ``env`` with the keys of BINFUT_API_KEY / BINFUT_API_SECRET (required for ``trade``).

    Raises
    ------
    ConfigError
        The keys are missing (with ``trade``) or incomplete.
    """
    credentials = Credentials.from_env(load_env())
    if credentials is None and trade:
        raise ConfigError(
            f"--env {env} --trade needs API keys: set BINFUT_API_KEY and BINFUT_API_SECRET "
            "(or BINFUT_API_KEY_FILE for an RSA / Ed25519 key)"
        )
    return Venue(env, None, credentials, SystemClock())


@contextmanager
def local_exchange(speed: float, seed: int, history_days: float) -> Iterator[Venue]:
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
        credentials = Credentials(DEMO_KEY, DEMO_SECRET)
        yield Venue("local", emu.running.rest_url, credentials, emu.running.exchange.clock)
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
        rows.append(
            [s.symbol, s.status, pf.tick_size if pf else "", lot.step_size if lot else "", lot.min_qty if lot else ""]
        )
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
    order = client.new_order(
        symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTX", quantity="0.010", price=price
    )
    console.print(
        f"placed {order.side} {order.orig_qty} @ {order.price} → {order.status} (clientOrderId {order.client_order_id})"
    )
    queried = client.query_order(symbol=SYMBOL, orig_client_order_id=order.client_order_id)
    console.print(f"queried by client id → status {queried.status}")
    cancelled = client.cancel_order(symbol=SYMBOL, order_id=order.order_id)
    console.print(f"cancelled → {cancelled.status}")

    step("5. Local protection: an off-tick price never leaves the machine")
    try:
        client.new_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.010", price=price + tick / 2
        )
    except FilterViolation as exc:
        console.print(f"[yellow]refused locally:[/] {exc}")

    step("6. A market order opens a position; a stop-loss guards it")
    filled = client.new_order(symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.050", new_order_resp_type="RESULT")
    console.print(f"market buy → {filled.status}, executed {filled.executed_qty} @ avg {filled.avg_price}")
    stop_price = client.round_price(SYMBOL, Decimal(filled.avg_price or bid) * Decimal("0.95"))
    algo = client.new_algo_order(
        algo_type="CONDITIONAL",
        symbol=SYMBOL,
        side="SELL",
        type="STOP_MARKET",
        trigger_price=stop_price,
        close_position=True,
        working_type="MARK_PRICE",
    )
    console.print(f"stop-market (algo {algo.algo_id}) at {stop_price} on MARK_PRICE → {algo.algo_status}")
    positions = [p for p in client.position_risk(symbol=SYMBOL) if p.position_amt]
    table(
        "position",
        ["symbol", "amount", "entry", "mark", "uPnL", "liq. price", "leverage"],
        [
            [
                p.symbol,
                p.position_amt,
                p.entry_price,
                p.mark_price,
                p.unrealized_profit,
                p.liquidation_price,
                getattr(p, "leverage", ""),
            ]
            for p in positions
        ],
    )
    balances = [b for b in client.balance() if b.asset == "USDT"]
    table(
        "USDT",
        ["wallet", "available", "cross uPnL"],
        [[b.balance, b.available_balance, b.cross_un_pnl] for b in balances],
    )

    step("7. Close everything")
    client.cancel_all_algo_open_orders(symbol=SYMBOL)
    closed = client.new_order(
        symbol=SYMBOL, side="SELL", type="MARKET", quantity="0.050", reduce_only=True, new_order_resp_type="RESULT"
    )
    console.print(f"reduce-only market sell → {closed.status} @ {closed.avg_price}")
    income = client.income(symbol=SYMBOL, limit=20)
    table("income", ["type", "amount", "asset"], [[i.income_type, i.income, i.asset] for i in income])


async def run_async(venue: Venue) -> None:
    step("8. Async client: 50 requests in flight")
    async with venue.async_client() as client:
        started = time.perf_counter()
        prices = await asyncio.gather(*(client.ticker_price(symbol=SYMBOL) for _ in range(50)))
        elapsed = time.perf_counter() - started
        console.print(f"50 ticker requests in {elapsed * 1000:.0f} ms; last price {prices[-1].price}")
        usage = client.rate_limit_usage()
        console.print(f"request weight used / allowed per window: {usage['weight']}")


def run_download(venue: Venue, out: Path, days: float) -> Path:
    """Phase 3: the history into the Parquet dataset, with progress bars; a DuckDB summary."""
    from binfut.data import DownloadSpec, Store, download, open_client
    from binfut.data.cli import RichProgress

    step("9. History into the data store (Parquet + DuckDB)")
    console.print(
        f"the last {days:g} day{'' if days == 1 else 's'} of 1m klines, mark-price klines and funding from {venue.name}"
    )
    store = Store(out / "data")
    progress = RichProgress()

    async def fetch() -> Any:
        client = open_client(venue.env, venue.base_url, clock=venue.clock)
        try:
            now_ms = (await client.server_time()).server_time_ms
            spec = DownloadSpec(
                kinds=("klines", "mark_price_klines", "funding_rate"),
                symbols=(SYMBOL, "ETHUSDT"),
                start_ms=now_ms - now_ms % 60_000 - int(days * 86_400_000),
                interval="1m",
            )
            with progress.bars:
                return await download(spec, store, client=client, progress=progress)
        finally:
            await client.aclose()

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
    table(
        "DuckDB: select ... from klines group by symbol",
        table_.column_names,
        [list(r.values()) for r in table_.to_pylist()],
    )
    return out / "data"


def run_backtest_phase(venue: Venue, data_dir: Path, out: Path) -> Any:
    """Phase 4: the MA crossover over the downloaded bars, on the same engine; the report."""
    from binfut.matching import default_specs
    from binfut.strategy import MACross, MACrossConfig
    from binfut.trading import BacktestConfig, RiskConfig, load_feed, run_backtest, write_report

    step("10. Backtest: moving-average crossover on the same matching engine")
    feed = load_feed(data_dir, SYMBOL, "1m", None, None, default_specs()[SYMBOL])
    strategy = MACross(
        MACrossConfig(symbol=SYMBOL, short_window=20, long_window=60, quantity=Decimal("0.05"), leverage=5)
    )
    risk = RiskConfig(max_leverage=Decimal("10"), max_drawdown=Decimal("0.5"))
    result = run_backtest(strategy, feed, BacktestConfig(initial_balance=Decimal("10000")), risk)
    files = write_report(result, out / "report", title=f"MA crossover 20/60 on {SYMBOL} 1m ({venue.name} history)")
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


def run_live_phase(venue: Venue, seconds: float) -> Any:
    """Phase 5: the same strategy live on ``venue`` (REST orders, user-data stream, risk on)."""
    from binfut.strategy import MACross, MACrossConfig
    from binfut.trading import LiveConfig, LiveRunner, RiskConfig
    from binfut.trading.dashboard import run_live_with_dashboard

    step(f"11. Live: the MA crossover on {venue.name} for {seconds:g} s (REST + WebSocket, risk manager on)")
    if venue.env != "local":
        # Binance's bars close once a real minute; the accelerated local exchange closes one every 2 s.
        console.print(
            "bars close once a minute here and the strategy waits for 8 of them: expect no trades in a short run"
        )

    async def go() -> Any:
        async with venue.async_client() as client:
            strategy = MACross(
                MACrossConfig(symbol=SYMBOL, short_window=3, long_window=8, quantity=Decimal("0.02"), leverage=5)
            )
            risk = RiskConfig(
                max_leverage=Decimal("10"), max_position_notional=Decimal("5000"), max_drawdown=Decimal("0.2")
            )
            runner = LiveRunner(
                strategy, client, config=LiveConfig(cancel_on_stop=True, flatten_on_stop=True), risk=risk
            )
            return await run_live_with_dashboard(runner, duration_s=seconds, console=console)

    summary = asyncio.run(go())
    if not console.is_terminal:
        console.line()  # rich ends a live display without a newline when the output is not a terminal
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
    parser = argparse.ArgumentParser(
        prog="binfut-demo", description=__doc__.splitlines()[0] if __doc__ else None, epilog=_EPILOG
    )
    parser.add_argument(
        "--env",
        default="local",
        choices=["local", "testnet", "demo"],
        help="local: the offline local exchange; testnet / demo: Binance's (default: local)",
    )
    parser.add_argument("--speed", type=float, default=30.0, help="local exchange clock speed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--trade",
        action="store_true",
        help="testnet/demo: place orders in the tour and run the live phase; needs BINFUT_API_KEY and "
        "BINFUT_API_SECRET (always on locally)",
    )
    parser.add_argument(
        "--history-days",
        type=float,
        default=None,
        help="days of history to download and backtest (default: 3 locally, where the exchange "
        "generates them first; 1 on testnet/demo)",
    )
    parser.add_argument(
        "--out", default="demo-out", help="where the dataset and the report go (testnet/demo: its OUT/ENV subdirectory)"
    )
    parser.add_argument(
        "--live-seconds",
        type=float,
        default=30.0,
        help="length of the live run in seconds (0: skip it); Binance closes a bar a minute, "
        "so a short testnet run shows the streams and the dashboard rather than trades",
    )
    args = parser.parse_args(argv)
    remote = args.env != "local"
    days = args.history_days if args.history_days is not None else (1.0 if remote else 3.0)
    # A separate directory per environment: the local exchange's synthetic bars must never merge with Binance's.
    out = Path(args.out) / args.env if remote else Path(args.out)
    trade = args.trade or not remote
    try:
        remote_target = remote_venue(args.env, trade) if remote else None
    except ConfigError as exc:
        print(f"binfut-demo: error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    console.print("[bold]binfut demo[/] — Binance USD-M Futures, end to end")
    opened = local_exchange(args.speed, args.seed, days) if remote_target is None else nullcontext(remote_target)
    try:
        with opened as venue:
            if remote and not trade:
                console.print(f"read-only on {venue.name}: add --trade (with API keys) for orders and the live phase")
            with venue.client() as client:
                run_sync(client, trade=trade)
            asyncio.run(run_async(venue))
            data_dir = run_download(venue, out, days)
            files = run_backtest_phase(venue, data_dir, out)
            if args.live_seconds > 0 and trade:
                run_live_phase(venue, args.live_seconds)
            elif args.live_seconds > 0:
                step("11. Live: skipped")
                console.print(f"the live phase places orders on {venue.name}, so it runs only with --trade")
        console.print(f"\n[bold]report written:[/] {files.html.resolve()}")
    except BinfutError as exc:
        console.print(f"[red]error:[/] {type(exc).__name__}: {exc}")
        return 1
    console.rule(f"[bold green]done in {time.perf_counter() - started:.1f} s")
    return 0


def _entry() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    _entry()
