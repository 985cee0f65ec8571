"""The strategy interface: hooks a runner calls, the market-data types they receive.

A :class:`Strategy` acts only through a :class:`~binfut.strategy.context.Context`: it never builds a
client, reads the wall clock or touches a venue, so the same object runs unchanged in a backtest,
paper and live trading.

Rules kept here:

* hooks receive the context first and run one at a time: order updates caused inside a hook are
  delivered after it returns;
* :class:`Bar` is a *closed* kline with ``Decimal`` prices exactly as printed;
* :attr:`Strategy.warmup_bars` declares how much history the strategy needs: paper and live runners
  replay that many closed bars through ``on_kline`` before going live, with every order refused
  (``ctx.warming_up`` is True meanwhile);
* a :class:`Vectorized` strategy's ``act`` is called by the vectorised backtest only where signal and
  position disagree, so it must do nothing when they agree (the equivalence tests enforce it).
"""


from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

if TYPE_CHECKING:
    import numpy as np

    from binfut.matching import Trade
    from binfut.strategy.context import Context

__all__ = ["Bar", "BookTop", "Strategy", "Vectorized", "follow_signal"]


class Bar(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One closed kline of one symbol (``GET /fapi/v1/klines`` row, or a final ``kline`` stream event).

    ``mark_price`` is the mark price at the bar's close when the runner knows it.
    """

    symbol: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    mark_price: Decimal | None = None


class BookTop(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Best bid and ask of one symbol (``bookTicker`` stream, or the local book's top)."""

    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    time_ms: int


class Strategy:
    """Base class of strategies: override the hooks you need (each default does nothing).

    Attributes
    ----------
    name : a label for logs and reports
    symbols : the symbols the strategy trades (runners subscribe to their data)
    interval : the kline interval ``on_kline`` expects
    warmup_bars : closed bars of history needed before the strategy can act (a property; default 0)
    """

    name: str = "strategy"
    symbols: tuple[str, ...] = ()
    interval: str = "1m"

    @property
    def warmup_bars(self) -> int:
        """Closed bars (per symbol) the strategy must see before the bar on which it can first act.

        With this many bars of history replayed, the first live bar can already produce a decision.
        Paper and live runners replay them at start (``warmup_bars`` of their config overrides it);
        a backtest simply starts with them.  0 (the default): no warm-up.
        """
        return 0

    def on_start(self, ctx: Context) -> None:
        """Called once before any data (set leverage, schedule timers, load state)."""

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        """Called for each closed bar of each symbol, in time order."""

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        """Called for each market trade (paper / live; a bar backtest sends its synthetic prints when asked)."""

    def on_book(self, ctx: Context, book: BookTop) -> None:
        """Called on each best bid / ask change (paper / live; bar backtests have no book data)."""

    def on_order_update(self, ctx: Context, event: Any) -> None:
        """Called with each ``OrderTradeUpdate`` / ``AlgoUpdate`` of the account, after the portfolio folded it."""

    def on_timer(self, ctx: Context, name: str, time_ms: int) -> None:
        """Called when a timer set with :meth:`Context.set_timer` / :meth:`Context.every` comes due."""

    def on_stop(self, ctx: Context) -> None:
        """Called once at the end (data exhausted, :meth:`Context.stop`, or the kill switch)."""


@runtime_checkable
class Vectorized(Protocol):
    """A strategy whose signal can be computed for all bars at once (the vectorised backtest's contract).

    ``signals(closes)`` returns, for every bar, the target direction (-1, 0, 1) known at that bar's close
    from closes up to it (an int64 array of close prices in ticks).  ``act(ctx, bar, signal)`` is what
    the strategy does with a signal: it must be exactly what ``on_kline`` does after computing the
    signal, and must do nothing when the position already has the signal's direction.
    """

    def signals(self, closes: np.ndarray) -> np.ndarray:
        ...

    def act(self, ctx: Context, bar: Bar, signal: int) -> None:
        ...


def follow_signal(
    ctx: Context, symbol: str, signal: int, price: Decimal, *, quantity: Decimal | None = None,
    notional_fraction: Decimal | None = None,
) -> None:
    """Bring ``symbol``'s net position to the direction of ``signal`` (-1, 0, 1) with MARKET orders.

    Nothing happens when the position already has that direction.  A new position is ``quantity``,
    or ``notional_fraction`` of equity at ``price`` rounded down to the lot step; a flip is one order.
    """
    pos = ctx.position(symbol)
    if ((pos > 0) - (pos < 0)) == signal:
        return
    if signal == 0:
        ctx.target_position(symbol, Decimal(0))
        return
    if notional_fraction is not None:
        size = ctx.orders.symbol_filters(symbol).round_quantity(ctx.equity() * notional_fraction / price, market=True)
    else:
        size = quantity or Decimal(0)
    if size > 0:
        ctx.target_position(symbol, size if signal > 0 else -size)

