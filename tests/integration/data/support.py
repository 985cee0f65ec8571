"""A local exchange with weeks of deterministic history, built through the emulator's public Python API.

The emulator keeps 1,500 bars per series and fills its market by simulating in (scaled) real time,
so a month of 1-minute history would take hours to appear. Instead the tests build the exchange with
``build_exchange`` and give it a :class:`~binfut.emulator.MarketData` sized for the history (its
``kline_limit``), filled through ``MarketData.on_trade`` / ``on_mark`` / ``on_funding`` /
``add_sample`` with one seeded trade per minute: about 10 µs per trade, 2 s for 5 symbols × 30 days.
The exchange then serves it over HTTP with its real validation, weights and 429/418 limits.
(Proposed emulator hook, so tests need not swap ``exchange.market``: ``EmulatorConfig(history_days=N)``.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from binfut.clock import ScaledClock
from binfut.emulator import EmulatorConfig, LocalExchange, MarketData, MarkPriceUpdate, build_exchange
from binfut.emulator.marketdata import PositionSample

MINUTE = 60_000
DAY = 86_400_000
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
_BASE = {"BTCUSDT": "42000", "ETHUSDT": "2300", "SOLUSDT": "100", "BNBUSDT": "300", "XRPUSDT": "0.6"}


def fill_history(
    market: MarketData,
    symbol: str,
    start_ms: int,
    end_ms: int,
    *,
    seed: int = 7,
    trades_per_minute: int = 1,
    marks: bool = False,
    funding: bool = True,
    samples: bool = False,
) -> int:
    """Deterministic trades (and optionally marks, funding every 8 h, 5-minute samples); returns trades made."""
    rng = random.Random(f"{seed}-{symbol}")
    price = Decimal(_BASE.get(symbol, "100"))
    tick = Decimal("0.1") if price > 1000 else Decimal("0.01") if price > 10 else Decimal("0.0001")
    trade_id = 0
    step = MINUTE // trades_per_minute
    for t in range(start_ms, end_ms, step):
        price = max(tick, price + tick * rng.randint(-5, 5))
        trade_id += 1
        qty = Decimal(rng.randint(1, 500)) / 1000
        market.on_trade(symbol, trade_id, price, qty, t + rng.randint(0, step // 2), rng.random() < 0.5)
        if marks and (t - start_ms) % MINUTE == 0:
            market.on_mark(
                MarkPriceUpdate(
                    symbol=symbol, mark_price=price, index_price=price - tick, estimated_settle_price=price,
                    premium_index=tick / price, funding_rate=Decimal("0.0001"), interest_rate=Decimal("0.0001"),
                    next_funding_time_ms=t - t % 28_800_000 + 28_800_000, time_ms=t + 1,
                )
            )  # fmt: skip
        if funding and t % 28_800_000 == 0:
            rate = Decimal(rng.randint(-20, 40)) / 100_000
            market.on_funding(symbol, t, rate, price)
        if samples and t % 300_000 == 0:
            oi = Decimal(rng.randint(1000, 2000))
            market.add_sample(
                symbol,
                PositionSample(
                    time_ms=t, open_interest=oi, open_interest_value=oi * price, long_accounts=rng.randint(5, 20),
                    short_accounts=rng.randint(5, 20), top_long_position=oi / 3, top_short_position=oi / 4,
                    top_long_accounts=rng.randint(1, 4), top_short_accounts=rng.randint(1, 4),
                ),
            )  # fmt: skip
    return trade_id


def history_exchange(
    symbols: Sequence[str],
    days: float,
    *,
    start_ms: int = START_MS,
    now_after_ms: int = 30_000,
    weight_limit: int = 2400,
    trades_per_minute: int = 1,
    marks: bool = False,
    samples: bool = False,
    seed: int = 7,
    speed: float = 1.0,
) -> LocalExchange:
    """An exchange whose clock starts ``now_after_ms`` after ``days`` of history that begins at ``start_ms``
    and runs ``speed`` times faster than real time (its rate-limit minutes too)."""
    end_ms = start_ms + int(days * DAY)
    config = EmulatorConfig(symbols=tuple(symbols), simulate=False, seed=seed, weight_limit_1m=weight_limit)
    ex = build_exchange(config, clock=ScaledClock(speed, start_ns=(end_ms + now_after_ms) * 1_000_000))
    bars = int(days * 1440) + 10
    ex.market = MarketData(ex.symbols, ex.bus, kline_limit=bars, tape_size=max(20_000, bars * trades_per_minute + 10))
    for symbol in symbols:
        fill_history(
            ex.market,
            symbol,
            start_ms,
            end_ms,
            seed=seed,
            trades_per_minute=trades_per_minute,
            marks=marks,
            samples=samples,
        )
    return ex


def slow_down(ex: LocalExchange, names: Sequence[str], seconds: float) -> None:
    """Make the named endpoints take ``seconds`` each (the server thread sleeps): a download then lasts long
    enough to be killed midway. Uses the exchange's public handler table."""
    for name in names:
        handler = ex.handlers[name]

        def slow(exchange: Any, params: Any, account: Any, _h: Any = handler) -> Any:
            time.sleep(seconds)
            return _h(exchange, params, account)

        ex.handlers[name] = slow


def drop_bars(ex: LocalExchange, name: str, missing_open_ms: set[int]) -> None:
    """Serve ``name`` (a kline endpoint) without the bars opening at ``missing_open_ms`` (a Binance outage)."""
    handler = ex.handlers[name]

    def holes(exchange: Any, params: Any, account: Any) -> Any:
        return [row for row in handler(exchange, params, account) if row[0] not in missing_open_ms]

    ex.handlers[name] = holes
