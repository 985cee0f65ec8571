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

from binfut._format import amount, utc_time
from binfut._money import MONEY, fmt
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


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float | Decimal):
        return True
    text = str(value).replace(",", "").removesuffix("%").removesuffix("x")
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return text not in ("", "NaN", "Infinity")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table; columns whose every cell is a number are right-aligned. No header when all are blank."""
    t = Table(title=title, title_justify="left", show_header=any(columns))
    for i, c in enumerate(columns):
        cells = [r[i] for r in rows]
        numeric = bool(cells) and all(_is_number(v) for v in cells)
        t.add_column(c, justify="right" if numeric else "left")
    for r in rows:
        t.add_row(*(str(v) for v in r))
    console.print(t)


def plain(value: Any) -> str:
    """A decimal as Binance would print it without the padding zeros: ``0.0100`` -> ``0.01``, never ``1E+1``."""
    if value is None or value == "":
        return "-"
    return format(Decimal(value).normalize(MONEY), "f")


# The demo's former names for the shared formatters, kept for code that imports them from here.
usd = amount
utc = utc_time


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
    console.print(
        f"server time {utc_time(server.server_time_ms)} UTC ({server.server_time_ms} ms), clock offset {offset:+d} ms"
    )

    step("2. Exchange information")
    info = client.exchange_info()
    rows = []
    for s in info.symbols[:6]:
        pf, lot = s.price_filter, s.lot_size
        rows.append(
            [
                s.symbol,
                s.status,
                plain(pf.tick_size) if pf else "-",
                plain(lot.step_size) if lot else "-",
                plain(lot.min_qty) if lot else "-",
            ]
        )
    shown = f" (first 6 of {len(info.symbols)})" if len(info.symbols) > 6 else ""
    table(f"symbols and filters{shown}", ["symbol", "status", "tickSize", "stepSize", "minQty"], rows)
    limits = [[r.rate_limit_type, f"{r.interval_num} {r.interval}", r.limit] for r in info.rate_limits]
    table("rate limits", ["type", "window", "limit"], limits)

    step("3. Market data")
    wait_for_market(client, 8)
    book = client.depth(symbol=SYMBOL, limit=5)
    table(
        f"{SYMBOL} order book (lastUpdateId {book.last_update_id})",
        ["bid qty", "bid", "ask", "ask qty"],
        [[b[1], amount(b[0]), amount(a[0]), a[1]] for b, a in zip(book.bids, book.asks)],
    )
    frame = client.klines_df(symbol=SYMBOL, interval="1m", limit=500)
    console.print(
        f"klines_df: pandas DataFrame, {len(frame)} 1m bars × {len(frame.columns)} columns, UTC open-time index"
    )
    table(
        f"{SYMBOL} klines_df.tail(5), main columns",
        ["open time (UTC)", "open", "high", "low", "close", "volume"],
        [
            [
                r.Index.strftime("%Y-%m-%d %H:%M"),
                amount(r.open),
                amount(r.high),
                amount(r.low),
                amount(r.close),
                amount(r.volume, 3),
            ]
            for r in frame.tail(5).itertuples()
        ],
    )
    mark = client.mark_price(symbol=SYMBOL)
    funding = "-" if mark.last_funding_rate is None else fmt(mark.last_funding_rate * 100, ".4f") + "%"
    next_funding = ""
    if mark.next_funding_time_ms:
        next_funding = f" (next at {utc_time(mark.next_funding_time_ms, date=False, seconds=False)} UTC)"
    console.print(
        f"mark price {amount(mark.mark_price)}, index {amount(mark.index_price)}, funding rate {funding}{next_funding}"
    )

    if not trade:
        return

    step("4. Orders: post-only limit, query, cancel")
    leverage = client.change_leverage(symbol=SYMBOL, leverage=5).leverage
    bid = book.bids[0][0]
    client.load_filters()
    tick = client.symbol_filters(SYMBOL).tick_size
    price = client.round_price(SYMBOL, bid * Decimal("0.99"))
    order = client.new_order(
        symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTX", quantity="0.010", price=price
    )
    console.print(
        f"placed {order.side} {order.orig_qty} @ {amount(order.price)} → {order.status} "
        f"(clientOrderId {order.client_order_id})"
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
    console.print(f"market buy → {filled.status}, executed {filled.executed_qty} @ avg {amount(filled.avg_price)}")
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
    console.print(f"stop-market (algo {algo.algo_id}) at {amount(stop_price)} on MARK_PRICE → {algo.algo_status}")
    positions = [p for p in client.position_risk(symbol=SYMBOL) if p.position_amt]
    table(
        "position",
        ["symbol", "amount", "entry", "mark", "uPnL", "liq. price", "leverage"],
        [
            [
                p.symbol,
                str(p.position_amt),
                amount(p.entry_price),
                amount(p.mark_price),
                amount(p.unrealized_profit),
                # Binance sends 0 when the margin covers any move (no liquidation price)
                amount(p.liquidation_price) if p.liquidation_price else "none",
                f"{leverage}x",
            ]
            for p in positions
        ],
    )
    balances = [b for b in client.balance() if b.asset == "USDT"]
    table(
        "USDT balance",
        ["wallet", "available", "unrealized PnL"],
        [[amount(b.balance), amount(b.available_balance), amount(b.cross_un_pnl)] for b in balances],
    )

    step("7. Close everything")
    client.cancel_all_algo_open_orders(symbol=SYMBOL)
    closed = client.new_order(
        symbol=SYMBOL, side="SELL", type="MARKET", quantity="0.050", reduce_only=True, new_order_resp_type="RESULT"
    )
    console.print(f"reduce-only market sell → {closed.status} @ avg {amount(closed.avg_price)}")
    income = client.income(symbol=SYMBOL, limit=20)
    table(
        "income history",
        ["time (UTC)", "type", "amount", "asset"],
        [[utc_time(i.time_ms, date=False), i.income_type, amount(i.income), i.asset] for i in income],
    )


async def run_async(venue: Venue) -> None:
    step("8. Async client: 50 requests in flight")
    async with venue.async_client() as client:
        started = time.perf_counter()
        prices = await asyncio.gather(*(client.ticker_price(symbol=SYMBOL) for _ in range(50)))
        elapsed = time.perf_counter() - started
        console.print(f"50 ticker requests in {elapsed * 1000:.0f} ms; last price {amount(prices[-1].price)}")
        usage = client.rate_limit_usage()
        windows = ", ".join(f"{used:,} of {limit:,} per {window}" for window, (used, limit) in usage["weight"].items())
        console.print(f"request weight used: {windows or 'n/a'}")


def run_download(venue: Venue, out: Path, days: float) -> Path:
    """Phase 3: the history into the Parquet dataset, with progress bars; a DuckDB summary."""
    from binfut.data import DownloadSpec, Store, download, open_client
    from binfut.data.cli import RichProgress

    step("9. History into the data store (Parquet + DuckDB)")
    console.print(
        f"{days:g} day{'' if days == 1 else 's'} of 1m klines, mark-price klines and funding rates "
        f"for {SYMBOL} and ETHUSDT"
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
    limited, gaps = report.rate_limited, len(report.gaps)
    console.print(
        f"{report.rows:,} rows, {report.requests} requests, weight {report.weight}/{report.weight_limit:,} per "
        f"minute, {limited or 'no'} 429/418, {gaps or 'no'} gap{'' if gaps == 1 else 's'}"
    )
    summary = store.sql(
        "select symbol, count(*) as bars, min(open_time) as first, max(open_time) as last, "
        "avg(close) as avg_close from klines group by symbol order by symbol"
    )
    table(
        "DuckDB: select ... from klines group by symbol",
        ["symbol", "bars", "first (UTC)", "last (UTC)", "avg close"],
        [
            [
                r["symbol"],
                f"{r['bars']:,}",
                r["first"].strftime("%Y-%m-%d %H:%M"),
                r["last"].strftime("%Y-%m-%d %H:%M"),
                amount(r["avg_close"]),
            ]
            for r in summary.to_pylist()
        ],
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
        ["bars", f"{m.bars:,} one-minute bars, {m.engine} engine"],
        ["period (UTC)", f"{m.start} → {m.end}"],
        ["equity", f"{amount(m.initial_balance)} → {amount(m.final_equity)} USDT ({m.total_return:+.2%})"],
        ["Sharpe / Sortino", f"{m.sharpe:.2f} / {m.sortino:.2f}"],
        ["max drawdown", f"{m.max_drawdown:.2%}"],
        ["fills / round trips / win rate", f"{m.fills} / {m.round_trips} / {m.win_rate:.0%}"],
        ["fees paid / funding", f"{amount(m.fees)} / {amount(m.funding)} USDT"],
        ["exposure / liquidations", f"{m.exposure:.0%} / {m.liquidations}"],
    ]
    table(f"backtest: {m.strategy} 20/60 on {SYMBOL} 1m", ["", ""], rows)
    console.print(f"report: [bold]{files.html}[/]")
    console.print(f"        with {len(files.pngs)} PNG charts, fills.csv and summary.json beside it")
    return files


#: The live phase's moving averages: short, so that the 30 s default run on the local exchange (a bar
#: closes every 2 s at the default speed) shows several crossovers.
LIVE_SHORT, LIVE_LONG = 2, 4


def run_live_phase(venue: Venue, seconds: float) -> Any:
    """Phase 5: the same strategy live on ``venue`` (REST orders, user-data stream, risk on)."""
    from binfut.strategy import MACross, MACrossConfig
    from binfut.trading import LiveConfig, LiveRunner, RiskConfig
    from binfut.trading.dashboard import run_live_with_dashboard

    step(f"11. Live: MA crossover {LIVE_SHORT}/{LIVE_LONG} on {venue.name} for {seconds:g} s")
    bar_s = 60 / getattr(venue.clock, "speed", 1.0)  # the accelerated local exchange closes a 1m bar every 60/speed s
    console.print(
        f"Orders go over REST, prices and fills come over WebSocket, the risk manager is on. The strategy is "
        f"warmed up with the last {LIVE_LONG - 1} closed bars over REST (no orders for them), so it can act on "
        f"the first live bar; a one-minute bar closes every {_duration(bar_s)} here. Market orders; the "
        f"position is flattened at the end."
    )
    if seconds < 3 * bar_s:
        console.print(
            f"[yellow]{seconds:g} s is too short to see a crossover: expect few or no orders "
            f"(--live-seconds {int(10 * bar_s)} or more shows trades)"
        )

    async def go() -> Any:
        async with venue.async_client() as client:
            strategy = MACross(
                MACrossConfig(
                    symbol=SYMBOL, short_window=LIVE_SHORT, long_window=LIVE_LONG, quantity=Decimal("0.02"), leverage=5
                )
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
    if summary.orders:
        table(
            "orders sent live",
            ["time (UTC)", "side", "type", "qty", "avg fill", "realized PnL", "why"],
            _order_rows(summary),
        )
    positions = ", ".join(f"{symbol} {plain(qty)}" for symbol, qty in summary.positions.items()) or "none"
    change = summary.final_wallet - summary.initial_balance
    table(
        "live run",
        ["", ""],
        [
            ["closed bars seen", summary.bars_text()],
            ["orders sent / fills", f"{len(summary.orders)} / {len(summary.fills)}"],
            ["wallet", f"{amount(summary.initial_balance)} → {amount(summary.final_wallet)} USDT ({amount(change)})"],
            ["realized PnL / fees", f"{amount(summary.realized_pnl)} / {amount(summary.fees)} USDT"],
            ["open orders / positions at the end", f"{summary.open_orders} / {positions}"],
            ["risk refusals", len(summary.refusals)],
        ],
    )
    return summary


def _duration(seconds: float) -> str:
    return f"{round(seconds, 1):g} s" if seconds < 120 else f"{round(seconds / 60, 1):g} min"


def _order_rows(summary: Any, last: int = 10) -> list[list[Any]]:
    """One row per order of the run (the last ``last``): its fills folded into an average price and a PnL."""
    rows = []
    for order in summary.orders[-last:]:
        fills = [f for f in summary.fills if f.client_order_id == order.client_order_id]
        qty = sum((f.qty for f in fills), Decimal(0))
        avg = sum((f.price * f.qty for f in fills), Decimal(0)) / qty if qty else None
        if order.tag == "flatten":
            why = "kill switch" if summary.kill_reason else "end of run"
        else:
            why = "crossover"
        if order.status in ("REJECTED", "EXPIRED"):
            why += f" ({order.status.lower()}{': ' + order.reason if order.reason else ''})"
        rows.append(
            [
                utc_time(order.time_ms, date=False),
                order.side,
                order.type,
                "-" if order.quantity is None else str(order.quantity),
                amount(avg),
                amount(sum((f.realized_pnl for f in fills), Decimal(0))),
                why,
            ]
        )
    return rows


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
