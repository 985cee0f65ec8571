"""A terminal dashboard for paper and live runs: a rich ``Live`` panel refreshed a few times a second.

:func:`render_status` draws one :class:`~binfut.trading.runner.RunnerStatus` (top of book, positions and
PnL, open orders, request-weight use, stream health); :func:`run_live_with_dashboard` runs a
:class:`~binfut.trading.paper.PaperRunner` or :class:`~binfut.trading.live.LiveRunner` for a bounded
time under that panel and returns the run's summary.  :func:`status_line` is the one-line form.

Rules kept here: the dashboard only reads immutable snapshots (``runner.status()``), on the event loop,
and never blocks it (rich's own refresh thread is off; the loop redraws between waits).  The panel is at
most :data:`MAX_WIDTH` columns wide and fits 80; its columns have fixed shares so they never jump.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, Group, JustifyMethod
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from binfut._format import amount, utc_time
from binfut.trading.runner import RunnerStatus, RunSummary

__all__ = ["render_status", "run_live_with_dashboard", "status_line"]


def status_line(status: RunnerStatus | None) -> str:
    """One compact line: time, position, equity, PnL, orders, fills, bars, stop reason."""
    if status is None:
        return "starting..."
    pos = " ".join(f"{p.symbol}:{p.amount}" for p in status.positions) or "flat"
    line = (f"{status.mode} {utc_time(status.time_ms, date=False)} | {pos} | equity {amount(status.equity)}"
            f" | uPnL {amount(status.unrealized_pnl)} | rPnL {amount(status.realized_pnl)} | fees {amount(status.fees)}"
            f" | orders {status.orders_sent}"
            f" open {len(status.open_orders)} | fills {status.fills} | bars {status.bars}")
    if status.kill_reason:
        line += f" | KILLED: {status.kill_reason}"
    elif status.stop_reason:
        line += f" | stopped: {status.stop_reason}"
    return line


#: The panel's widest: a wide terminal gets a compact panel rather than tables stretched over 200 columns.
MAX_WIDTH = 100


def _p(value: Decimal | None) -> str:
    """A price with thousands separators and enough decimals for its size (BTC: 2, SUI: 4, XRP: 5)."""
    if value is None:
        return "-"
    size = abs(value)
    return amount(value, 2 if size >= 100 else 4 if size >= 1 else 5)


def _weight(usage: dict[str, Any] | None) -> str:
    if not usage:
        return "-"
    parts = [f"weight {u}/{lim} ({k})" for k, (u, lim) in usage.get("weight", {}).items()]
    orders = [f"{u}/{lim} ({k})" for k, (u, lim) in usage.get("orders", {}).items()]
    if orders:
        parts.append("orders " + ", ".join(orders))
    return " · ".join(parts) or "-"


def _table(title: str, columns: list[tuple[str, JustifyMethod, int]]) -> Table:
    """An expanding table of ``(name, justify, ratio)`` columns: fixed shares, so widths never jump between frames."""
    table = Table(expand=True, title=title, title_justify="left", title_style="bold cyan", box=box.SIMPLE_HEAD,
                  show_edge=False)  # no outer border: the panel keeps to ~27 rows
    for name, justify, ratio in columns:
        table.add_column(name, justify=justify, ratio=ratio, no_wrap=True, overflow="ellipsis")
    return table


def _side(p: Any) -> str:
    if p.position_side != "BOTH":  # hedge mode: the side is the position's own
        return str(p.position_side).lower()
    return "long" if p.amount > 0 else "short"


def render_status(status: RunnerStatus | None) -> Panel:
    """The dashboard panel for one snapshot (at most :data:`MAX_WIDTH` columns wide)."""
    if status is None:
        return Panel(Text("connecting..."), title="binfut", width=MAX_WIDTH)
    r: JustifyMethod = "right"
    left: JustifyMethod = "left"
    market = _table("market", [("symbol", left, 1), ("bid", r, 1), ("ask", r, 1), ("last", r, 1), ("mark", r, 1)])
    for symbol in status.symbols:
        book = status.books.get(symbol)
        market.add_row(symbol, _p(book.bid_price if book else None), _p(book.ask_price if book else None),
                       _p(status.last_prices.get(symbol)), _p(status.marks.get(symbol)))
    positions = _table(f"positions ({len(status.positions)})", [
        ("symbol", left, 1), ("side", left, 1), ("amount", r, 1), ("entry", r, 1), ("mark", r, 1), ("uPnL", r, 1)])
    for p in status.positions:
        positions.add_row(p.symbol, _side(p), str(p.amount), _p(p.entry_price), _p(p.mark_price),
                          amount(p.unrealized_pnl))
    if not status.positions:
        positions.add_row(Text("flat", style="dim"), "", "", "", "", "")
    account = _table("account", [("wallet", r, 1), ("equity", r, 1), ("uPnL", r, 1), ("realized", r, 1),
                                 ("fees", r, 1), ("funding", r, 1)])
    account.add_row(amount(status.wallet), amount(status.equity), amount(status.unrealized_pnl),
                    amount(status.realized_pnl), amount(status.fees), amount(status.funding))
    orders = _table(f"open orders ({len(status.open_orders)}, algo {status.open_algos})", [
        ("symbol", left, 1), ("side", left, 1), ("type", left, 1), ("price", r, 1), ("qty", r, 1), ("filled", r, 1)])
    for o in status.open_orders[:8]:
        orders.add_row(o.symbol, o.side, o.type, _p(o.price), str(o.quantity), str(o.filled))
    if not status.open_orders:
        orders.add_row(Text("none", style="dim"), "", "", "", "", "")
    # ratios ~ the widest cell of each column ("market total", "connecting", ...): all fit in 80 columns
    health = _table("connections", [("connection", left, 11), ("state", left, 10), ("streams", r, 7),
                                    ("messages", r, 8), ("reconnects", r, 10), ("last msg", r, 9)])
    for h in status.streams:  # ConnectionHealth
        age = h.last_message_age_s
        health.add_row(h.label, str(h.state), str(h.streams), f"{h.messages:,}", str(h.reconnects),
                       "-" if age is None else f"{age:.1f}s")
    stats = status.stream_stats
    if stats is not None:
        # After the run the manager has closed its connections: only the totals remain to show.
        state = "closed" if not status.streams and stats.connections == 0 else ""
        health.add_row("market total", state, str(stats.streams), f"{stats.messages:,}", str(stats.reconnects), "")
    if status.user_stream:  # live runs: the user data stream's listenKey state
        health.add_row("user data", status.user_stream.lower(), "", "", "", "")
    footer = Text(
        f"bars {status.bars} (last {utc_time(status.last_bar_ms, date=False, seconds=False)})  ·  "
        f"orders {status.orders_sent}  ·  "
        f"fills {status.fills}  ·  rejections {status.rejections}"
    )
    if status.bar_gaps:
        footer.append(f"\nkline stream gaps: {status.bar_gaps} (skipped bars read back over REST)", style="yellow")
    if status.rate_limit:
        footer.append(f"\nrate limits: {_weight(status.rate_limit)}")
    if stats is not None and stats.dropped:
        footer.append(f"\n{stats.dropped:,} stream messages dropped by slow consumers", style="yellow")
    if status.kill_reason:
        footer.append(f"\nKILL SWITCH: {status.kill_reason}", style="bold red")
    elif status.stop_reason:
        footer.append(f"\nstopped: {status.stop_reason}", style="yellow")
    title = f"binfut {status.mode} · {status.strategy} · {utc_time(status.time_ms, date=False)} UTC"
    return Panel(Group(market, positions, account, orders, health, footer), title=title, width=MAX_WIDTH)


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
