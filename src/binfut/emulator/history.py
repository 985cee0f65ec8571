"""Pre-generated market history, so a fresh local exchange already has weeks of klines and funding.

``EmulatorConfig(history_days=N)`` fills the exchange's market data with ``N`` days ending at its
start: a seeded log-normal random walk per symbol (the simulator's volatility, one step a minute,
``trades_per_minute`` trades inside each minute), walked *backwards* from the simulator's start price
so the live market continues the history without a jump; a mark and index price each minute with a
small premium, a settled funding rate every 8 hours (00:00, 08:00, 16:00 UTC) and a positions sample
every 5 minutes for the ``/futures/data`` statistics. Pure and deterministic: same seed, same
history. Prices sit on the symbol's tick grid, quantities on its step grid.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_EVEN, Decimal

from binfut.emulator.marketdata import MarketData, MarkPriceUpdate, PositionSample
from binfut.matching import SymbolSpec

__all__ = ["FUNDING_INTERVAL_MS", "generate_history"]

MINUTE_MS = 60_000
FUNDING_INTERVAL_MS = 8 * 3_600_000
SAMPLE_MS = 300_000
_MINUTES_PER_YEAR = 525_600
_INTEREST = Decimal("0.0001")


def _on_grid(value: float, step: Decimal) -> Decimal:
    units = max(1, round(value / float(step)))
    return (step * units).quantize(step, ROUND_HALF_EVEN)


def generate_history(
    market: MarketData,
    spec: SymbolSpec,
    *,
    start_price: Decimal,
    annual_vol: float,
    start_ms: int,
    end_ms: int,
    rng: random.Random,
    trades_per_minute: int = 2,
    typical_notional: float = 5_000.0,
) -> int:
    """Fill ``market`` with history of ``spec.symbol`` over ``[start_ms, end_ms)``; returns trades made.

    Parameters
    ----------
    start_price : the price the history must end at (where the live simulator starts)
    annual_vol : volatility of the walk (0.6 = 60 % a year)
    rng : the only source of randomness
    """
    symbol = spec.symbol
    minutes = max(0, (end_ms - start_ms) // MINUTE_MS)
    if minutes == 0:
        return 0
    sigma = annual_vol / math.sqrt(_MINUTES_PER_YEAR)
    # Walk backwards from the live start so history and live market join seamlessly.
    closes = [0.0] * minutes
    price = float(start_price)
    for i in range(minutes - 1, -1, -1):
        closes[i] = price
        price /= math.exp(rng.gauss(0.0, sigma))
    tick, step = spec.tick_size, spec.step_size
    premium = 0.0
    trades = 0
    open_price = price
    for i, close in enumerate(closes):
        t = start_ms + i * MINUTE_MS
        for k in range(trades_per_minute):
            # Trades drift from the minute's open to its close with a little noise.
            frac = (k + 1) / trades_per_minute
            level = open_price + (close - open_price) * frac
            level *= 1.0 + rng.gauss(0.0, sigma / 3)
            qty = _on_grid(typical_notional * rng.uniform(0.2, 1.8) / max(level, 1e-12), step)
            when = t + int(MINUTE_MS * (k + rng.random()) / trades_per_minute)
            market.add_history_trade(symbol, _on_grid(level, tick), qty, min(when, t + MINUTE_MS - 1), rng.random() < 0.5)
            trades += 1
        open_price = close
        premium = 0.9 * premium + rng.gauss(0.0, 0.00005)
        index = _on_grid(close, tick)
        mark = _on_grid(close * (1.0 + premium), tick)
        rate = _INTEREST + Decimal(str(round(max(-0.0005, min(0.0005, premium)), 8)))
        next_funding = t - t % FUNDING_INTERVAL_MS + FUNDING_INTERVAL_MS
        market.on_mark(
            MarkPriceUpdate(
                symbol=symbol,
                mark_price=mark,
                index_price=index,
                estimated_settle_price=index,
                premium_index=Decimal(str(round(premium, 8))),
                funding_rate=rate,
                interest_rate=_INTEREST,
                next_funding_time_ms=next_funding,
                time_ms=t + MINUTE_MS - 1,
            )
        )
        if t % FUNDING_INTERVAL_MS == 0:
            market.on_funding(symbol, t, rate, mark)
        if t % SAMPLE_MS == 0:
            oi = _on_grid(2_000_000 / close * rng.uniform(0.8, 1.2), step)
            longs, shorts = rng.randint(40, 80), rng.randint(40, 80)
            market.add_sample(
                symbol,
                PositionSample(
                    time_ms=t,
                    open_interest=oi,
                    open_interest_value=oi * index,
                    long_accounts=longs,
                    short_accounts=shorts,
                    top_long_position=oi * Decimal(longs) / Decimal(longs + shorts),
                    top_short_position=oi * Decimal(shorts) / Decimal(longs + shorts),
                    top_long_accounts=max(1, longs // 10),
                    top_short_accounts=max(1, shorts // 10),
                ),
            )
    return trades
