"""Shared helpers of the trading tests: synthetic bars, small test strategies, result comparison."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from binfut.matching import default_specs
from binfut.strategy import Bar, Context, Strategy, follow_signal
from binfut.trading import BarFeed, prepare_feed, synthetic_funding
from binfut.trading.backtest import BacktestResult

D = Decimal
BTC = default_specs()["BTCUSDT"]
FUNDING = D("0.0001")
QTY = D("0.1")


def make_bars(n: int, *, seed: int = 0, vol: float = 0.0015, start: str = "2024-01-01", price: float = 65000.0,
              wick: float = 0.0008, interval: str = "1min") -> pd.DataFrame:
    """A random walk of ``n`` klines, prices on BTCUSDT's 0.10 tick."""
    rng = np.random.default_rng(seed)
    close = np.round(price * np.exp(np.cumsum(rng.normal(0, vol, n))), 1)
    open_ = np.concatenate([[price], close[:-1]])
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, wick, n)), 1)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, wick, n)), 1)
    index = pd.date_range(start, periods=n, freq=interval, tz="UTC", name="open_time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(1, 10, n)}, index=index)


def make_marks(bars: pd.DataFrame, *, seed: int = 1, spread: float = 0.0002) -> pd.DataFrame:
    """Mark-price klines near the trade prices (8 decimals, like Binance's)."""
    rng = np.random.default_rng(seed)
    k = 1 + rng.uniform(-spread, spread, len(bars))
    out = pd.DataFrame({c: (bars[c] * k).round(8) for c in ("open", "high", "low", "close")}, index=bars.index)
    out["high"] = out[["open", "high", "close"]].max(axis=1) * (1 + spread / 2)
    out["low"] = out[["open", "low", "close"]].min(axis=1) * (1 - spread / 2)
    return out.round(8)


def make_feed(n: int = 2000, *, seed: int = 0, vol: float = 0.0015, marks: bool = True,
              funding_rate: Decimal | None = FUNDING) -> BarFeed:
    bars = make_bars(n, seed=seed, vol=vol)
    return prepare_feed(bars, BTC, interval="1m", mark=make_marks(bars, seed=seed + 1) if marks else None,
                        funding=synthetic_funding(bars, "1m", funding_rate) if funding_rate is not None else None)


def falling_bars(n: int, *, start_price: float = 60000.0, step: float = -100.0, flat: int = 5) -> pd.DataFrame:
    """``flat`` bars at ``start_price``, then a steady move of ``step`` per bar (wicks of 20 either side)."""
    closes = [start_price] * flat + [start_price + step * (k + 1) for k in range(n - flat)]
    opens = [start_price] + closes[:-1]
    highs = [max(o, c) + 20 for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) - 20 for o, c in zip(opens, closes, strict=True)]
    index = pd.date_range("2024-03-01", periods=n, freq="1min", tz="UTC", name="open_time")
    return pd.DataFrame({"open": opens, "high": highs, "low": lows, "close": closes, "volume": 1.0}, index=index)


class Scripted(Strategy):
    """Signals from a list (vectorisable): ``signals[i]`` at bar ``i``, fixed quantity."""

    name = "scripted"

    def __init__(self, signals: list[int] | np.ndarray, quantity: Decimal = QTY, symbol: str = "BTCUSDT",
                 on_bar: Callable[[Context, Bar, int], None] | None = None,
                 on_act: Callable[[Context, Bar, int], None] | None = None) -> None:
        self.sig = np.asarray(signals, dtype=np.int8)
        self.quantity = quantity
        self.symbols = (symbol,)
        self.i = -1
        self.on_bar = on_bar
        self.on_act = on_act
        self.timers: list[tuple[str, int]] = []
        self.stopped = False
        self.updates: list[Any] = []

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        self.i += 1
        if self.on_bar is not None:
            self.on_bar(ctx, bar, self.i)
        self.act(ctx, bar, int(self.sig[self.i]) if self.i < len(self.sig) else 0)

    def signals(self, closes: np.ndarray) -> np.ndarray:
        out = np.zeros(len(closes), dtype=np.int8)
        out[: len(self.sig)] = self.sig[: len(closes)]
        return out

    def act(self, ctx: Context, bar: Bar, signal: int) -> None:
        pos = ctx.position(self.symbols[0])
        if self.on_act is not None and ((pos > 0) - (pos < 0)) != signal:
            self.on_act(ctx, bar, signal)  # only when trading: act must do nothing otherwise
        follow_signal(ctx, self.symbols[0], signal, bar.close, quantity=self.quantity)

    def on_timer(self, ctx: Context, name: str, time_ms: int) -> None:
        self.timers.append((name, time_ms))

    def on_order_update(self, ctx: Context, event: Any) -> None:
        self.updates.append(event)

    def on_stop(self, ctx: Context) -> None:
        self.stopped = True


def assert_same(a: BacktestResult, b: BacktestResult) -> None:
    """Same fills, fees, funding, PnL and final equity (exactly); curves equal to float rounding."""
    assert a.fills == b.fills
    assert a.funding_payments == b.funding_payments
    assert (a.fees, a.funding, a.realized_pnl, a.liquidations) == (b.fees, b.funding, b.realized_pnl, b.liquidations)
    assert a.final_wallet == b.final_wallet
    assert a.final_equity == b.final_equity
    assert a.kill_reason == b.kill_reason
    np.testing.assert_allclose(a.equity, b.equity, rtol=0, atol=1e-6)
    for symbol in a.positions:
        np.testing.assert_array_equal(a.positions[symbol], b.positions[symbol])


def new_session(strategy: Strategy | None = None, *, bars: int = 20, config: Any = None, risk: Any = None,
                price: float = 65000.0) -> tuple[Any, BarFeed]:
    """A built (not run) backtest session on flat-ish bars, with marks and the liquidity reference at bar 0."""
    from binfut.trading import BacktestConfig
    from binfut.trading.backtest import build_session

    feed = prepare_feed(make_bars(bars, price=price, vol=0.0), BTC)
    s = build_session(strategy or Strategy(), [feed], config or BacktestConfig(), risk)
    p = feed.price(feed.close[0])
    s.mark("BTCUSDT", p, s.clock.time_ms())
    s.liquidity.set_reference("BTCUSDT", p)
    return s, feed
