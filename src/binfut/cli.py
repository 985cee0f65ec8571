"""The ``binfut`` command: everyday client commands and ``binfut exchange serve``.

The global options ``binfut --env local|testnet|demo|mainnet --url URL --json --debug`` reach every
command, the mounted ``data``, ``record``, ``backtest``, ``paper`` and ``live`` included (through
``ctx.obj``). One rule says where a command goes: its own ``--env`` / ``--url`` when given, else the
global ones, else ``local`` -- the offline local exchange (``binfut exchange serve``, by default at
http://127.0.0.1:8765) is the default everywhere; the long-running commands name their target on
stderr. Every command prints a table (or JSON with ``--json``) and turns a failure into one line on
stderr that says what failed (exit status 1; 2 when unexpected) -- a traceback only with ``--debug``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import msgspec
import typer

from binfut._cli import describe_target, run_guarded
from binfut.client import Client
from binfut.config import Environment
from binfut.errors import BinfutError

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Binance USD-M Futures toolkit. Every command goes to the offline local exchange (--env local, "
    "http://127.0.0.1:8765; start it with `binfut exchange serve`) unless --env / --url, given here or "
    "after the command, say otherwise.",
)
exchange_app = typer.Typer(no_args_is_help=True, help="The local exchange (offline testnet).")
order_app = typer.Typer(no_args_is_help=True, help="Place, cancel and inspect orders.")
app.add_typer(exchange_app, name="exchange")
app.add_typer(order_app, name="order")


def _mount_data() -> None:
    """``binfut data ...`` and ``binfut record ...`` (the data store's own Typer app)."""
    from binfut.data.cli import data_app, record_cmd

    app.add_typer(data_app, name="data", help="Bulk history into a Parquet dataset queried with DuckDB.")
    app.command("record")(record_cmd)


def _mount_trading() -> None:
    """``binfut backtest``, ``binfut paper`` and ``binfut live`` (heavy imports happen inside the commands)."""
    from binfut.trading.cli import backtest_cmd
    from binfut.trading.runner_cli import live_cmd, paper_cmd

    app.command("backtest")(backtest_cmd)
    app.command("paper")(paper_cmd)
    app.command("live")(live_cmd)



class State:
    """The global options; the root callback fills it and hands it to every subcommand as ``ctx.obj``."""

    env: str = "local"
    url: str | None = None
    as_json: bool = False
    debug: bool = False


STATE = State()


@app.callback()
def _global(
    ctx: typer.Context,
    env: str = typer.Option(
        "local",
        "--env",
        help="local (the default: the offline local exchange), testnet, demo or mainnet; "
        "every command uses it unless given its own --env",
    ),
    url: str = typer.Option(
        None,
        "--url",
        help="REST base URL (the local exchange's, by default http://127.0.0.1:8765); "
        "every command uses it unless given its own --url",
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
) -> None:
    STATE.env, STATE.url, STATE.as_json, STATE.debug = env, url, as_json, debug
    ctx.obj = STATE  # how the mounted sub-apps (data, record, backtest, paper, live) see these options


@contextmanager
def _client() -> Iterator[Client]:
    if STATE.env not in {e.value for e in Environment}:
        raise typer.BadParameter(f"--env must be one of local, testnet, demo, mainnet (got {STATE.env!r})")
    client = Client(env=STATE.env, base_url=STATE.url)
    try:
        yield client
    finally:
        client.close()


def _plain(value: Any) -> Any:
    """Wire-shaped builtins (Binance's own keys) for ``--json``."""
    return msgspec.to_builtins(value, enc_hook=lambda v: str(v) if isinstance(v, Decimal) else repr(v))


def _record(item: Any) -> dict[str, Any]:
    """A flat row with readable attribute names (Structs, array-like ones included, or dicts)."""
    if isinstance(item, msgspec.Struct):
        return {name: getattr(item, name) for name in item.__struct_fields__}
    return dict(item) if isinstance(item, dict) else {"value": item}


def _show(rows: Any, columns: list[str] | None = None, title: str | None = None) -> None:
    if STATE.as_json:
        typer.echo(json.dumps(_plain(rows), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    items = [_record(r) for r in (rows if isinstance(rows, list) else [rows])]
    if not items:
        typer.echo("(none)")
        return
    keys = columns or [k for k, v in items[0].items() if not isinstance(v, list | dict | tuple | msgspec.Struct)]
    table = Table(title=title)
    for key in keys:
        table.add_column(key, overflow="fold")
    for item in items:
        table.add_row(*("" if item.get(k) is None else str(item.get(k)) for k in keys))
    Console().print(table)


def _show_vertical(record: Any, title: str) -> None:
    """One record as key / value rows (wide objects such as a symbol's exchangeInfo)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in _record(record).items():
        if not isinstance(value, list | dict | tuple | msgspec.Struct):
            table.add_row(key, str(value))
    Console().print(table)


def _run(action: Callable[[], None]) -> None:
    """Run a command; any failure is one line on stderr naming what failed (a traceback only with --debug)."""
    run_guarded(action, debug=STATE.debug, target=describe_target(STATE.env, STATE.url))


@app.command("time")
def time_cmd() -> None:
    """Server time and the measured clock offset."""

    def go() -> None:
        with _client() as c:
            server = c.server_time()
            offset = c.sync_time()
            _show({"server_time_ms": server.server_time_ms, "offset_ms": offset})

    _run(go)


@app.command("price")
def price_cmd(symbol: str = typer.Argument(None, help="omit for every symbol")) -> None:
    """Last price of a symbol (or all)."""

    def go() -> None:
        with _client() as c:
            _show(c.ticker_price(symbol=symbol.upper()) if symbol else c.ticker_price(), ["symbol", "price", "time_ms"])

    _run(go)


@app.command("info")
def info_cmd(symbol: str) -> None:
    """Filters and leverage brackets of a symbol."""

    def go() -> None:
        with _client() as c:
            info = c.exchange_info()
            match = [s for s in info.symbols if s.symbol == symbol.upper()]
            if not match:
                raise BinfutError(f"symbol {symbol.upper()} is not listed")
            sym = match[0]
            if STATE.as_json:
                typer.echo(json.dumps(_plain(sym), indent=2))
                return
            _show_vertical(sym, symbol.upper())
            _show(sym.filters, ["filter_type", "tick_size", "min_price", "max_price", "step_size", "min_qty", "max_qty", "notional", "limit"], title="filters")
            brackets = c.leverage_bracket(symbol=symbol.upper()) if c.credentials else None
            if brackets is not None:
                first = brackets[0] if isinstance(brackets, list) else brackets
                _show(first.brackets, title="leverage brackets")

    _run(go)


@app.command("klines")
def klines_cmd(symbol: str, interval: str = typer.Argument("1m"), limit: int = typer.Option(20, "--limit")) -> None:
    """Recent klines."""

    def go() -> None:
        with _client() as c:
            _show(c.klines(symbol=symbol.upper(), interval=interval, limit=limit), ["open_time_ms", "open", "high", "low", "close", "volume", "trades"])

    _run(go)


@app.command("funding")
def funding_cmd(symbol: str, limit: int = typer.Option(10, "--limit")) -> None:
    """Funding rate history."""

    def go() -> None:
        with _client() as c:
            _show(c.funding_rate_history(symbol=symbol.upper(), limit=limit))

    _run(go)


@app.command("account")
def account_cmd() -> None:
    """Balances (needs API credentials: BINFUT_API_KEY / BINFUT_API_SECRET)."""

    def go() -> None:
        with _client() as c:
            _show([b for b in c.balance() if b.balance], ["asset", "balance", "available_balance", "cross_un_pnl", "cross_wallet_balance"])

    _run(go)


@app.command("positions")
def positions_cmd(symbol: str = typer.Argument(None)) -> None:
    """Open positions."""

    def go() -> None:
        with _client() as c:
            rows = [p for p in c.position_risk(symbol=symbol.upper() if symbol else None) if p.position_amt]
            _show(rows, ["symbol", "position_side", "position_amt", "entry_price", "mark_price", "unrealized_profit", "liquidation_price"])

    _run(go)


@order_app.command("new")
def order_new(
    symbol: str,
    side: str,
    quantity: str,
    price: str = typer.Option(None, "--price", help="omit for a MARKET order"),
    tif: str = typer.Option("GTC", "--tif"),
    reduce_only: bool = typer.Option(False, "--reduce-only"),
) -> None:
    """Place a LIMIT (with --price) or MARKET order."""

    def go() -> None:
        with _client() as c:
            kind = "LIMIT" if price else "MARKET"
            order = c.new_order(
                symbol=symbol.upper(),
                side=side.upper(),
                type=kind,
                quantity=quantity,
                price=price,
                time_in_force=tif if price else None,
                reduce_only=reduce_only or None,
                new_order_resp_type="RESULT",
            )
            _show(order, ["symbol", "order_id", "client_order_id", "side", "type", "status", "price", "orig_qty", "executed_qty", "avg_price"])

    _run(go)


@order_app.command("cancel")
def order_cancel(symbol: str, order_id: int = typer.Option(None, "--id"), client_id: str = typer.Option(None, "--client-id")) -> None:
    """Cancel one order by id or client id."""

    def go() -> None:
        with _client() as c:
            _show(c.cancel_order(symbol=symbol.upper(), order_id=order_id, orig_client_order_id=client_id), ["symbol", "order_id", "client_order_id", "status"])

    _run(go)


@order_app.command("status")
def order_status(symbol: str, order_id: int = typer.Option(None, "--id"), client_id: str = typer.Option(None, "--client-id")) -> None:
    """Query one order."""

    def go() -> None:
        with _client() as c:
            _show(c.query_order(symbol=symbol.upper(), order_id=order_id, orig_client_order_id=client_id))

    _run(go)


@order_app.command("open")
def order_open(symbol: str = typer.Argument(None)) -> None:
    """Open orders."""

    def go() -> None:
        with _client() as c:
            _show(
                c.open_orders(symbol=symbol.upper() if symbol else None),
                ["symbol", "order_id", "client_order_id", "side", "type", "price", "orig_qty", "executed_qty", "status"],
            )

    _run(go)


@app.command("book")
def book_cmd(
    symbol: str,
    depth: int = typer.Option(10, "--depth", help="levels per side"),
    seconds: float = typer.Option(0, "--seconds", help="stop after this long (0: until Ctrl-C)"),
    speed: str = typer.Option("100ms", "--speed", help="diff stream cadence: 0ms, 100ms, 250ms or 500ms"),
) -> None:
    """A live local order book, kept by Binance's diff-stream procedure."""
    _run(lambda: _watch_book(symbol.upper(), depth, seconds, None if speed == "250ms" else speed))


def _watch_book(symbol: str, depth: int, seconds: float, speed: str | None) -> None:
    import time

    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from binfut.client import AsyncClient
    from binfut.stream import BookLevels, BookStats, LiveOrderBookThread

    def render(levels: BookLevels, stats: BookStats) -> Table:
        table = Table(
            title=f"{symbol} · update {levels.update_id} · spread {levels.spread}"
            f" · gaps {stats.gaps} · resyncs {stats.resyncs}"
        )
        for column in ("bid qty", "bid", "ask", "ask qty"):
            table.add_column(column, justify="right")
        bids, asks = levels.bids, levels.asks
        for i in range(max(len(bids), len(asks))):
            bid = bids[i] if i < len(bids) else None
            ask = asks[i] if i < len(asks) else None
            table.add_row(
                str(bid.qty) if bid else "", str(bid.price) if bid else "", str(ask.price) if ask else "", str(ask.qty) if ask else ""
            )
        return table

    def make_client() -> AsyncClient:  # on the book's loop thread, which its aiohttp session belongs to
        return AsyncClient(env=STATE.env, base_url=STATE.url)

    with LiveOrderBookThread(make_client, [symbol], speed=speed) as books:
        books.wait_live(symbol, timeout=30)
        if STATE.as_json:
            levels = books.depth(symbol, depth)
            typer.echo(json.dumps(_plain({"bids": levels.bids, "asks": levels.asks})))
            return
        deadline = time.monotonic() + seconds if seconds else None
        with Live(render(books.depth(symbol, depth), books.stats()), console=Console(), refresh_per_second=4) as live:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.25)
                live.update(render(books.depth(symbol, depth), books.stats()))


@exchange_app.command(
    "serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def exchange_serve(ctx: typer.Context) -> None:
    """Run the local exchange: binfut exchange serve --port 8765 --api-key K --api-secret S ..."""
    from binfut.emulator.server import serve_main

    raise typer.Exit(serve_main(list(ctx.args)))


# The everyday commands above come first in --help; then the data store and the trading commands.
_mount_data()
_mount_trading()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``binfut`` script."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="binfut")


if __name__ == "__main__":
    main()
