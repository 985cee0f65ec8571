"""Backtest reports: metrics, PNG charts and one self-contained HTML file.

:func:`compute_metrics` summarises a :class:`~binfut.trading.backtest.BacktestResult`: return, Sharpe and
Sortino (annualised from bar returns, 365-day crypto year), maximum drawdown and its length, exposure,
gross leverage, fills and round trips, fees, funding, liquidations.  :func:`write_report` writes
``equity.png``, ``drawdown.png``, ``position.png``, ``fills.csv``, ``summary.json`` and ``report.html``
(the PNGs embedded as base64, so the HTML travels alone).

Rules kept here: accounting figures are the result's ``Decimal`` values, untouched; ratios are floats;
matplotlib runs on the Agg backend and is imported only when a report is written.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from binfut._format import utc_time
from binfut.trading.feed import INTERVAL_MS

if TYPE_CHECKING:
    from binfut.trading.backtest import BacktestResult

__all__ = ["Metrics", "ReportFiles", "compute_metrics", "round_trips", "write_report"]

_YEAR_MS = 365 * 86_400_000


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    """Summary figures of one backtest (``funding`` is income: negative when paid)."""

    strategy: str
    symbols: list[str]
    interval: str
    engine: str
    start: str
    end: str
    bars: int
    initial_balance: Decimal
    final_equity: Decimal
    final_wallet: Decimal
    total_return: float
    annual_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_bars: int
    exposure: float
    avg_gross_leverage: float
    fills: int
    round_trips: int
    win_rate: float
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    other_charges: Decimal
    liquidations: int
    refusals: int
    kill_reason: str | None
    elapsed_s: float
    bars_per_second: float


def round_trips(result: BacktestResult) -> list[dict[str, Any]]:
    """Positions from opening to flat (or a flip), with their net PnL (realized - fees of their fills)."""
    trips: list[dict[str, Any]] = []
    pos: dict[str, Decimal] = {}
    open_trip: dict[str, dict[str, Any]] = {}
    for f in result.fills:
        key = f"{f.symbol}:{f.position_side}"
        before = pos.get(key, Decimal(0))
        signed = f.qty if f.side == "BUY" else -f.qty
        after = before + signed
        trip = open_trip.get(key)
        if trip is None:
            trip = open_trip[key] = {"symbol": f.symbol, "open_ms": f.time_ms, "side": "LONG" if signed > 0 else "SHORT",
                                     "pnl": Decimal(0)}
        trip["pnl"] += f.realized_pnl - f.commission
        if before and (after == 0 or (after > 0) != (before > 0)):
            trip["close_ms"] = f.time_ms
            trips.append(trip)
            del open_trip[key]
            if after:  # a flip opens the next trip at the same fill (its fee went to the closed one)
                open_trip[key] = {"symbol": f.symbol, "open_ms": f.time_ms, "side": "LONG" if after > 0 else "SHORT",
                                  "pnl": Decimal(0)}
        pos[key] = after
    return trips


def compute_metrics(result: BacktestResult) -> Metrics:
    """The :class:`Metrics` of ``result``."""
    equity = np.concatenate([[float(result.initial_balance)], result.equity])
    returns = np.diff(equity) / np.where(equity[:-1] != 0, equity[:-1], np.nan)
    returns = returns[np.isfinite(returns)]
    per_year = _YEAR_MS / INTERVAL_MS.get(result.interval, 60_000)
    sharpe = sortino = 0.0
    if len(returns) > 1:
        sd = float(np.std(returns, ddof=1))
        mean = float(np.mean(returns))
        sharpe = mean / sd * math.sqrt(per_year) if sd > 0 else 0.0
        downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
        sortino = mean / downside * math.sqrt(per_year) if downside > 0 else 0.0
    peaks = np.maximum.accumulate(equity)
    dd = np.where(peaks > 0, (peaks - equity) / peaks, 0.0)
    under = dd > 0
    longest = run = 0
    for flag in under:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    gross = np.zeros(len(result.equity))
    in_market = np.zeros(len(result.equity), dtype=bool)
    for pos in result.positions.values():
        gross += np.abs(pos) * result.close
        in_market |= pos != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = np.where(result.equity > 0, gross / result.equity, 0.0)
    total = float(result.final_equity / result.initial_balance - 1) if result.initial_balance else 0.0
    years = len(result.equity) / per_year if per_year else 0.0
    annual = (1 + total) ** (1 / years) - 1 if years > 0 and total > -1 else -1.0 if total <= -1 else 0.0
    trips = round_trips(result)
    wins = sum(1 for t in trips if t["pnl"] > 0)
    times = result.times_ms
    return Metrics(
        strategy=result.strategy, symbols=list(result.symbols), interval=result.interval, engine=result.engine,
        start=utc_time(int(times[0]) - INTERVAL_MS.get(result.interval, 0), seconds=False) if len(times) else "", end=utc_time(int(times[-1]), seconds=False) if len(times) else "",
        bars=result.bars, initial_balance=result.initial_balance, final_equity=result.final_equity,
        final_wallet=result.final_wallet, total_return=total, annual_return=float(annual), sharpe=sharpe, sortino=sortino,
        max_drawdown=float(dd.max()) if len(dd) else 0.0, max_drawdown_bars=longest,
        exposure=float(in_market.mean()) if len(in_market) else 0.0,
        avg_gross_leverage=float(lev[in_market].mean()) if in_market.any() else 0.0,
        fills=len(result.fills), round_trips=len(trips), win_rate=wins / len(trips) if trips else 0.0,
        realized_pnl=result.realized_pnl, fees=result.fees, funding=result.funding, other_charges=result.other_charges,
        liquidations=result.liquidations, refusals=len(result.refusals) + len(result.rejections),
        kill_reason=result.kill_reason, elapsed_s=result.elapsed_s,
        bars_per_second=result.bars / result.elapsed_s if result.elapsed_s > 0 else 0.0,
    )


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`."""

    html: Path
    pngs: tuple[Path, ...]
    fills_csv: Path
    summary_json: Path


def _figures(result: BacktestResult) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    times = result.times_ms.astype("datetime64[ms]")
    figs: dict[str, Any] = {}
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.plot(times, result.equity, lw=1.0, color="#1f77b4")
    ax.axhline(float(result.initial_balance), color="grey", lw=0.6, ls="--")
    ax.set_title("Equity (USDT, marked to market at each bar's close)")
    ax.grid(alpha=0.3)
    figs["equity"] = fig
    equity = np.concatenate([[float(result.initial_balance)], result.equity])
    peaks = np.maximum.accumulate(equity)
    dd = np.where(peaks > 0, (equity - peaks) / peaks, 0.0)[1:]
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.fill_between(times, dd * 100, 0, color="#d62728", alpha=0.4, lw=0)
    ax.set_title("Drawdown (%)")
    ax.grid(alpha=0.3)
    figs["drawdown"] = fig
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 4.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax1.plot(times, result.close, lw=0.8, color="black")
    for f in result.fills:
        if f.symbol != result.symbols[0]:
            continue
        color = "#d62728" if f.liquidation else ("#2ca02c" if f.side == "BUY" else "#ff7f0e")
        ax1.scatter([np.datetime64(f.time_ms, "ms")], [float(f.price)], s=14, color=color, marker="^" if f.side == "BUY" else "v", zorder=3)
    ax1.set_title(f"{result.symbols[0]} close with fills (green buy, orange sell, red liquidation)")
    ax1.grid(alpha=0.3)
    pos = result.positions[result.symbols[0]]
    ax2.step(times, pos, where="post", lw=0.8)
    ax2.set_title("Position (base asset)")
    ax2.grid(alpha=0.3)
    figs["position"] = fig
    for f in figs.values():
        f.tight_layout()
    return figs


def write_report(result: BacktestResult, out_dir: str | Path, *, title: str | None = None) -> ReportFiles:
    """Write the charts, tables and ``report.html`` of ``result`` into ``out_dir`` (created if needed)."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = compute_metrics(result)
    pngs = []
    embedded = {}
    for name, fig in _figures(result).items():
        path = out / f"{name}.png"
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        path.write_bytes(buf.getvalue())
        pngs.append(path)
        embedded[name] = base64.b64encode(buf.getvalue()).decode("ascii")
    fills_csv = out / "fills.csv"
    cols = ["time_ms", "symbol", "side", "position_side", "order_type", "price", "qty", "commission", "realized_pnl", "is_maker",
            "liquidation", "client_order_id", "order_id", "trade_id"]
    lines = [",".join(cols)]
    lines += [",".join(str(getattr(f, c)) for c in cols) for f in result.fills]
    fills_csv.write_text("\n".join(lines) + "\n")
    summary_json = out / "summary.json"
    summary_json.write_bytes(msgspec.json.format(msgspec.json.encode(metrics), indent=2))
    html_path = out / "report.html"
    html_path.write_text(_html(result, metrics, embedded, title or f"{metrics.strategy} on {', '.join(metrics.symbols)} {metrics.interval}"))
    return ReportFiles(html=html_path, pngs=tuple(pngs), fills_csv=fills_csv, summary_json=summary_json)


def _html(result: BacktestResult, m: Metrics, pngs: dict[str, str], title: str) -> str:
    rows = json.loads(msgspec.json.encode(m))
    table = "".join(f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows.items())
    fills = "".join(
        f"<tr><td>{utc_time(f.time_ms, seconds=False)}</td><td>{f.symbol}</td><td>{f.side}</td><td>{f.order_type}</td><td>{f.price}</td>"
        f"<td>{f.qty}</td><td>{f.commission}</td><td>{f.realized_pnl}</td><td>{'yes' if f.liquidation else ''}</td></tr>"
        for f in result.fills[:500]
    )
    more = f"<p>{len(result.fills) - 500} more fills in fills.csv</p>" if len(result.fills) > 500 else ""
    funding = "".join(f"<tr><td>{utc_time(p.time_ms, seconds=False)}</td><td>{', '.join(p.symbols)}</td><td>{p.amount}</td></tr>" for p in result.funding_payments[:500])
    images = "".join(f'<h2>{name.title()}</h2><img alt="{name}" src="data:image/png;base64,{data}">' for name, data in pngs.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
th,td{{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}}th{{text-align:left;background:#f4f4f4}}
img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Summary</h2><table>{table}</table>
{images}
<h2>Fills</h2><table><tr><th>time</th><th>symbol</th><th>side</th><th>type</th><th>price</th><th>qty</th><th>fee</th>
<th>realized</th><th>liquidation</th></tr>{fills}</table>{more}
<h2>Funding</h2><table><tr><th>time</th><th>symbols</th><th>amount</th></tr>{funding}</table>
</body></html>
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return "" if v is None else str(v)
