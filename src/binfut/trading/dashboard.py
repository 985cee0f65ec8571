"""A terminal dashboard for paper and live runs: a rich ``Live`` panel refreshed a few times a second.

:func:`render_status` draws one :class:`~binfut.trading.paper.RunnerStatus` (top of book, positions and
PnL, open orders, request-weight use, stream health); :func:`run_live_with_dashboard` runs a
:class:`~binfut.trading.paper.PaperRunner` or :class:`~binfut.trading.live.LiveRunner` for a bounded
time under that panel and returns the run's summary.  :func:`status_line` is the one-line form.

Rules kept here: the dashboard only reads immutable snapshots (``runner.status()``), on the event loop,
and never blocks it (rich's own refresh thread is off; the loop redraws between waits).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from binfut.trading.paper import RunnerStatus, RunSummary

__all__ = ["render_status", "run_live_with_dashboard", "status_line"]


def _t(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S")


def _d(value: Decimal | None, places: int = 2) -> str:
    return "-" if value is None else f"{value:,.{places}f}"


def status_line(status: RunnerStatus | None) -> str:
    """One compact line: time, position, equity, PnL, orders, fills, bars, stop reason."""
    if status is None:
        return "starting..."
    pos = " ".join(f"{p.symbol}:{p.amount}" for p in status.positions) or "flat"
    line = (f"{status.mode} {_t(status.time_ms)} | {pos} | equity {_d(status.equity)} | uPnL {_d(status.unrealized_pnl)}"
            f" | rPnL {_d(status.realized_pnl)} | fees {_d(status.fees)} | orders {status.orders_sent}"
            f" open {len(status.open_orders)} | fills {status.fills} | bars {status.bars}")
    if status.kill_reason:
        line += f" | KILLED: {status.kill_reason}"
    elif status.stop_reason:
        line += f" | stopped: {status.stop_reason}"
    return line


def _weight(usage: dict[str, Any] | None) -> str:
    if not usage:
        return "-"
    parts = [f"weight {k} {u}/{lim}" for k, (u, lim) in usage.get("weight", {}).items()]
    parts += [f"orders {k} {u}/{lim}" for k, (u, lim) in usage.get("orders", {}).items()]
    return ", ".join(parts) or "-"


def render_status(status: RunnerStatus | None) -> Panel:
    """The dashboard panel for one snapshot."""
    if status is None:
        return Panel(Text("connecting..."), title="binfut")
    market = Table(expand=True, title="market")
    for col in ("symbol", "bid", "ask", "last", "mark"):
        market.add_column(col, justify="right" if col != "symbol" else "left")
    for symbol in status.symbols:
        book = status.books.get(symbol)
        market.add_row(symbol, _d(book.bid_price if book else None), _d(book.ask_price if book else None),
                       _d(status.last_prices.get(symbol)), _d(status.marks.get(symbol)))
    account = Table(expand=True, title="account")
    for col in ("position", "amount", "entry", "uPnL"):
        account.add_column(col, justify="right" if col != "position" else "left")
    for p in status.positions:
        account.add_row(f"{p.symbol} {p.position_side}", str(p.amount), _d(p.entry_price), _d(p.unrealized_pnl))
    if not status.positions:
        account.add_row("flat", "0", "-", "-")
    account.add_row("wallet / equity", _d(status.wallet), "", _d(status.equity))
    account.add_row("realized / fees / funding", _d(status.realized_pnl), _d(status.fees), _d(status.funding))
    orders = Table(expand=True, title=f"open orders ({len(status.open_orders)}, algo {status.open_algos})")
    for col in ("symbol", "side", "type", "price", "qty", "filled"):
        orders.add_column(col)
    for o in status.open_orders[:8]:
        orders.add_row(o.symbol, o.side, o.type, _d(o.price), str(o.quantity), str(o.filled))
    health = Table(expand=True, title="connections")
    for col in ("connection", "state", "streams", "messages", "reconnects", "last msg"):
        health.add_column(col)
    for h in status.streams:  # ConnectionHealth
        age = h.last_message_age_s
        health.add_row(h.label, str(h.state), str(h.streams), str(h.messages), str(h.reconnects),
                       "-" if age is None else f"{age:.1f}s")
    stats = status.stream_stats
    if stats is not None:
        health.add_row("total", "", str(stats.streams), str(stats.messages), str(stats.reconnects), f"dropped {stats.dropped}")
    footer = Text(
        f"bars {status.bars} (last {_t(status.last_bar_ms)})  orders {status.orders_sent}  fills {status.fills}  "
        f"rejections {status.rejections}  user stream {status.user_stream or '-'}  rate {_weight(status.rate_limit)}"
    )
    if status.kill_reason:
        footer.append(f"\nKILL SWITCH: {status.kill_reason}", style="bold red")
    elif status.stop_reason:
        footer.append(f"\nstopped: {status.stop_reason}", style="yellow")
    title = f"binfut {status.mode} · {status.strategy} · {_t(status.time_ms)} UTC"
    return Panel(Group(market, account, orders, health, footer), title=title)


async def run_live_with_dashboard(runner: Any, *, duration_s: float, refresh_per_second: float = 4.0,
                                  console: Console | None = None, stop: asyncio.Event | None = None) -> RunSummary:
    """Run ``runner`` (paper or live) for at most ``duration_s`` real seconds under a live panel.

    Parameters
    ----------
    runner : a :class:`~binfut.trading.paper.PaperRunner` or :class:`~binfut.trading.live.LiveRunner`
    duration_s : the run's bound
    refresh_per_second : redraws per second
    console : where to draw (default: a new rich Console on stdout)
    stop : set it to end the run early

    Returns
    -------
    RunSummary
        The runner's summary (the last panel stays on screen).
    """
    task = asyncio.ensure_future(runner.run(duration_s, stop=stop))
    period = 1.0 / max(refresh_per_second, 0.1)
    with Live(render_status(runner.status()), console=console or Console(), auto_refresh=False, transient=False) as live:
        while not task.done():
            await asyncio.wait({task}, timeout=period)
            live.update(render_status(runner.status()), refresh=True)
    summary: RunSummary = task.result()
    return summary
