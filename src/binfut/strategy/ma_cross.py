"""Moving-average crossover: long when the short average is above the long one, short when below.

The seed bot's reference strategy, also :class:`~binfut.strategy.base.Vectorized` (so the vectorised
backtest can run it).

Rules kept here:

* the averages are compared **exactly** (``short_sum x long_window`` against ``long_sum x
  short_window``, on ``Decimal`` closes bar by bar, on integer ticks vectorised): both paths give the
  same signal on every bar, equal averages included (signal 0: flat);
* flat until ``long_window`` closes were seen (``warmup_bars`` is ``long_window - 1``: with that much
  history the first live close gives a signal); ``mode`` keeps ``long_short``, ``long_only`` or
  ``short_only`` signals;
* the position changes only when its direction differs from the signal, with one MARKET order (a flip
  is one order; going flat is reduce-only), sized by ``quantity`` or ``notional_fraction`` of equity.
"""


from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from binfut.strategy.base import Bar, Strategy, follow_signal

if TYPE_CHECKING:
    import numpy as np

    from binfut.strategy.context import Context

__all__ = ["MACross", "MACrossConfig", "ma_cross_signals"]

ZERO = Decimal(0)
_MODES = ("long_short", "long_only", "short_only")


class MACrossConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Parameters of :class:`MACross`.

    Parameters
    ----------
    symbol : the traded symbol
    short_window, long_window : moving-average lengths in bars (short < long)
    mode : ``long_short``, ``long_only`` or ``short_only``
    quantity : fixed position size in base asset (used when ``notional_fraction`` is None)
    notional_fraction : position notional as a fraction of equity at entry (1 = 1x equity)
    leverage : set on start (None: keep the account's)
    """

    symbol: str = "BTCUSDT"
    short_window: int = 20
    long_window: int = 50
    mode: str = "long_short"
    quantity: Decimal | None = Decimal("0.01")
    notional_fraction: Decimal | None = None
    leverage: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.short_window < self.long_window:
            raise ValueError("need 0 < short_window < long_window")
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}")
        if self.quantity is None and self.notional_fraction is None:
            raise ValueError("set quantity or notional_fraction")


def _filter(signal: int, mode: str) -> int:
    if mode == "long_only":
        return signal if signal > 0 else 0
    if mode == "short_only":
        return signal if signal < 0 else 0
    return signal


def ma_cross_signals(closes: np.ndarray, short_window: int, long_window: int, mode: str = "long_short") -> np.ndarray:
    """Signals of every bar (-1, 0, 1) from integer close prices (ticks), exactly.

    Parameters
    ----------
    closes : int64 close prices in ticks
    short_window, long_window : average lengths
    mode : direction filter

    Returns
    -------
    numpy.ndarray
        int8 signal per bar; 0 before ``long_window`` closes.
    """
    import numpy as np

    closes = np.asarray(closes, dtype=np.int64)
    n = len(closes)
    out = np.zeros(n, dtype=np.int8)
    if n < long_window:
        return out
    csum = np.empty(n + 1, dtype=np.int64)
    csum[0] = 0
    np.cumsum(closes, out=csum[1:])
    # bar t (t >= long_window - 1): sums of closes t-w+1..t = csum[t + 1] - csum[t + 1 - w]
    top = csum[long_window:]
    short_sum = top - csum[long_window - short_window:n + 1 - short_window]
    long_sum = top - csum[:n + 1 - long_window]
    out[long_window - 1:] = np.sign(short_sum * long_window - long_sum * short_window)
    if mode == "long_only":
        out[out < 0] = 0
    elif mode == "short_only":
        out[out > 0] = 0
    return out


class MACross(Strategy):
    """Moving-average crossover on one symbol (see the module docstring).

    Parameters
    ----------
    config : the parameters (default :class:`MACrossConfig`)
    """

    name = "ma_cross"

    def __init__(self, config: MACrossConfig | None = None) -> None:
        self.config = config or MACrossConfig()
        self.symbols = (self.config.symbol,)
        self._closes: deque[Decimal] = deque(maxlen=self.config.long_window)
        self._short_sum = ZERO
        self._long_sum = ZERO

    @property
    def warmup_bars(self) -> int:
        """``long_window - 1``: the next close completes the long average and gives the first signal."""
        return self.config.long_window - 1

    def on_start(self, ctx: Context) -> None:
        if self.config.leverage is not None:
            ctx.orders.set_leverage(self.config.symbol, self.config.leverage)

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        if bar.symbol != self.config.symbol:
            return
        self.act(ctx, bar, self.update(bar.close))

    def update(self, close: Decimal) -> int:
        """Add one close; return the signal at it (running sums: Decimal addition is exact here)."""
        cfg = self.config
        closes = self._closes
        if len(closes) == cfg.long_window:
            self._long_sum -= closes[0]
        closes.append(close)
        self._long_sum += close
        self._short_sum += close
        if len(closes) > cfg.short_window:
            self._short_sum -= closes[-1 - cfg.short_window]
        if len(closes) < cfg.long_window:
            return 0
        diff = self._short_sum * cfg.long_window - self._long_sum * cfg.short_window
        return _filter((diff > 0) - (diff < 0), cfg.mode)

    def signals(self, closes: np.ndarray) -> np.ndarray:
        cfg = self.config
        return ma_cross_signals(closes, cfg.short_window, cfg.long_window, cfg.mode)

    def act(self, ctx: Context, bar: Bar, signal: int) -> None:
        """Bring the position to the signal's direction (nothing when it already has it)."""
        cfg = self.config
        follow_signal(ctx, cfg.symbol, signal, bar.close, quantity=cfg.quantity, notional_fraction=cfg.notional_fraction)
