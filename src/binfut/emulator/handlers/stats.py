"""Open interest and the ``/futures/data`` statistics, computed from the simulated positions.

Rules kept here ("Open Interest Statistics", "Long/Short Ratio", "Top Trader Long/Short Ratio",
"Taker Buy/Sell Volume", "Basis"):
- open interest is the sum of long position sizes over every venue account (each contract has one
  long and one short side, so this counts every open contract once);
- every 5 minutes of simulated time one sample is taken; coarser periods read the samples on their
  own grid; only the last 30 days are kept, as on Binance; default limit 30, max 500;
- long / short *account* ratios count accounts holding a long vs a short position, leaving out the
  simulated market makers (they hold the other side of everyone); *top traders* are the top 20 % of
  those accounts by position notional; the *position* ratio compares their long vs short notional;
- taker buy / sell volume and basis read the trade, mark and index klines of the same period.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from binfut._money import E8
from binfut.emulator.handlers.market import limit_param
from binfut.emulator.marketdata import PositionSample
from binfut.emulator.validate import Params
from binfut.errors import InvalidRequest

if TYPE_CHECKING:
    from binfut.emulator.accounts import ApiAccount
    from binfut.emulator.exchange import LocalExchange

__all__ = ["HANDLERS", "MAKER_PREFIX", "current_open_interest", "take_samples"]

ZERO = Decimal(0)
MAKER_PREFIX = "sim-mm-"  # account ids of the simulator's liquidity providers
_SAMPLE_MS = 300_000
_R = Decimal("0.0001")


def _positions(ex: LocalExchange, symbol: str) -> list[tuple[str, Decimal]]:
    """(account id, signed size) of every open position in ``symbol``."""
    spec = ex.venue.specs[symbol]
    rows: list[tuple[str, Decimal]] = []
    for acct_id, acct in ex.venue.accounts.items():
        for (sym, _side), pos in acct.positions.items():
            if sym == symbol and pos.amount:
                rows.append((acct_id, spec.qty(pos.amount)))
    return rows


def current_open_interest(ex: LocalExchange, symbol: str) -> Decimal:
    """Open contracts of ``symbol`` (sum of long sizes)."""
    spec = ex.venue.specs[symbol]
    return sum((q for _, q in _positions(ex, symbol) if q > 0), spec.zero_qty)


def take_samples(ex: LocalExchange, now_ms: int) -> None:
    """Record one 5-minute sample per symbol at the grid time at or before ``now_ms``."""
    at = now_ms - now_ms % _SAMPLE_MS
    for symbol in ex.symbols:
        rows = _positions(ex, symbol)
        oi = sum((q for _, q in rows if q > 0), ex.venue.specs[symbol].zero_qty)
        mark = ex.venue.mark(symbol) or ZERO
        traders: dict[str, Decimal] = {}
        for acct_id, q in rows:
            if not acct_id.startswith(MAKER_PREFIX):
                traders[acct_id] = traders.get(acct_id, ZERO) + q
        longs = [q for q in traders.values() if q > 0]
        shorts = [-q for q in traders.values() if q < 0]
        ranked = sorted(traders.values(), key=abs, reverse=True)
        top = ranked[: max(1, len(ranked) // 5)] if ranked else []
        ex.market.add_sample(
            symbol,
            PositionSample(
                time_ms=at,
                open_interest=oi,
                open_interest_value=(oi * mark).quantize(E8, ROUND_HALF_EVEN),
                long_accounts=len(longs),
                short_accounts=len(shorts),
                top_long_position=sum((q for q in top if q > 0), ZERO),
                top_short_position=sum((-q for q in top if q < 0), ZERO),
                top_long_accounts=sum(1 for q in top if q > 0),
                top_short_accounts=sum(1 for q in top if q < 0),
            ),
        )


def _window(p: Params) -> tuple[int | None, int | None, int]:
    start, end = p.get("startTime"), p.get("endTime")
    if start is not None and end is not None and start > end:
        raise InvalidRequest(-1023, "Start time is greater than end time.")
    return start, end, limit_param(p, 30, 500)


def _samples(ex: LocalExchange, p: Params) -> list[PositionSample]:
    start, end, limit = _window(p)
    return ex.market.samples(p["symbol"], p["period"], start_ms=start, end_ms=end, limit=limit)


def _ratio(long_: Decimal, short: Decimal) -> tuple[str, str, str]:
    total = long_ + short
    if not total:
        return "1.0000", "0.5000", "0.5000"
    la, sa = (long_ / total).quantize(_R, ROUND_HALF_EVEN), (short / total).quantize(_R, ROUND_HALF_EVEN)
    ratio = (long_ / short).quantize(_R, ROUND_HALF_EVEN) if short else (long_ / total * 100).quantize(_R, ROUND_HALF_EVEN)
    return str(ratio), str(la), str(sa)


def open_interest_hist(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return [
        {
            "symbol": p["symbol"],
            "sumOpenInterest": format(s.open_interest, "f"),
            "sumOpenInterestValue": format(s.open_interest_value, "f"),
            "CMCCirculatingSupply": "0",
            "timestamp": s.time_ms,
        }
        for s in _samples(ex, p)
    ]


def _ratio_rows(ex: LocalExchange, p: Params, pick: Any) -> list[dict[str, Any]]:
    rows = []
    for s in _samples(ex, p):
        ratio, la, sa = _ratio(*pick(s))
        rows.append(
            {
                "symbol": p["symbol"],
                "longShortRatio": ratio,
                "longAccount": la,
                "shortAccount": sa,
                "timestamp": s.time_ms,
            }
        )
    return rows


def global_long_short_account_ratio(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _ratio_rows(ex, p, lambda s: (Decimal(s.long_accounts), Decimal(s.short_accounts)))


def top_long_short_account_ratio(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _ratio_rows(ex, p, lambda s: (Decimal(s.top_long_accounts), Decimal(s.top_short_accounts)))


def top_long_short_position_ratio(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _ratio_rows(ex, p, lambda s: (s.top_long_position, s.top_short_position))


def taker_long_short_ratio(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    start, end, limit = _window(p)
    bars = ex.market.period_bars(p["symbol"], p["period"], "trade", limit=10_000)
    rows = []
    for b in bars:
        if (start is not None and b.open_time_ms < start) or (end is not None and b.open_time_ms > end):
            continue
        buy = b.taker_buy_base
        sell = b.volume - buy
        ratio = (buy / sell).quantize(_R, ROUND_HALF_EVEN) if sell else Decimal("0.0000")
        rows.append(
            {
                "buySellRatio": str(ratio),
                "buyVol": format(buy, "f"),
                "sellVol": format(sell, "f"),
                "timestamp": b.open_time_ms,
            }
        )
    return rows[:limit] if start is not None and end is None else rows[-limit:]


def basis(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    pair = p["pair"]
    if pair not in ex.symbol_set:
        raise InvalidRequest(-1121, "Invalid symbol.")
    start, end, limit = _window(p)
    if p["contractType"] != "PERPETUAL":
        return []
    index = {b.open_time_ms: b.close for b in ex.market.period_bars(pair, p["period"], "index", limit=10_000)}
    rows = []
    for b in ex.market.period_bars(pair, p["period"], "trade", limit=10_000):
        idx = index.get(b.open_time_ms)
        if (
            idx is None
            or not idx
            or (start is not None and b.open_time_ms < start)
            or (end is not None and b.open_time_ms > end)
        ):
            continue
        diff = b.close - idx
        rows.append(
            {
                "indexPrice": format(idx.quantize(E8, ROUND_HALF_EVEN), "f"),
                "contractType": "PERPETUAL",
                "basisRate": str((diff / idx).quantize(_R, ROUND_HALF_EVEN)),
                "futuresPrice": str(b.close),
                "annualizedBasisRate": "",
                "basis": format(diff.quantize(E8, ROUND_HALF_EVEN), "f"),
                "pair": pair,
                "timestamp": b.open_time_ms,
            }
        )
    return rows[:limit] if start is not None and end is None else rows[-limit:]


HANDLERS: dict[str, Any] = {
    "open_interest_hist": open_interest_hist,
    "global_long_short_account_ratio": global_long_short_account_ratio,
    "top_long_short_account_ratio": top_long_short_account_ratio,
    "top_long_short_position_ratio": top_long_short_position_ratio,
    "taker_long_short_ratio": taker_long_short_ratio,
    "basis": basis,
}
