"""What a strategy may touch: the clock, the portfolio, the order manager, timers and a logger.

:class:`Context` is handed to every hook.  It is the same class in a backtest, paper and live trading;
only what is behind it changes (a ``ManualClock`` or ``SystemClock``, a simulated or Binance gateway).
:class:`StrategyDriver` is the runners' side: it calls the hooks, fires timers and delivers order
updates, so every mode keeps the same ordering rules.

Rules kept here:

* time is read only from the injected clock; timers are fired by the driver when the runner moves
  time (``fire_timers``), in due-time order, ties in the order they were set;
* order updates (OrderTradeUpdate, AlgoUpdate) are queued while a hook runs and delivered when it
  returns, one hook at a time;
* once stopped (by the strategy, the data's end or the kill switch) no hook but ``on_stop`` runs again;
* ``warming_up`` is True while a paper / live runner replays history through ``on_kline`` (see
  :attr:`~binfut.strategy.base.Strategy.warmup_bars`): every order is refused then, whatever the hook does.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from binfut.protocol.userevents import AlgoUpdate, OrderTradeUpdate

if TYPE_CHECKING:
    from binfut.clock import Clock
    from binfut.matching import Trade
    from binfut.strategy.base import Bar, BookTop, Strategy
    from binfut.trading.gateway import OrderAck
    from binfut.trading.oms import BracketOrder, OrderManager
    from binfut.trading.portfolio import Portfolio
    from binfut.trading.risk import RiskManager

__all__ = ["Context", "StrategyDriver"]


class Context:
    """A strategy's handle on time, account state and order entry.

    Parameters
    ----------
    clock : the runner's clock (``ManualClock`` in a backtest)
    portfolio : the folded account state
    orders : the order manager (validation, rounding, risk, client ids, brackets)
    risk : the risk manager (None: no limits)
    log : the strategy's logger
    mode : ``"backtest"``, ``"paper"`` or ``"live"`` (informational; behaviour must not depend on it)

    Attributes
    ----------
    warming_up : True while the runner replays history before going live (orders are refused then;
        a strategy may skip work it only needs for live decisions)
    """

    def __init__(
        self,
        *,
        clock: Clock,
        portfolio: Portfolio,
        orders: OrderManager,
        risk: RiskManager | None = None,
        log: logging.Logger | None = None,
        mode: str = "backtest",
    ) -> None:
        self.clock = clock
        self.portfolio = portfolio
        self.orders = orders
        self.risk = risk
        self.log = log or logging.getLogger("binfut.strategy")
        self.mode = mode
        self.state: dict[str, Any] = {}  # free-form strategy state
        self.stopped: str | None = None
        self.warming_up = False
        self._timers: list[tuple[int, int, str, int]] = []  # (due ms, seq, name, repeat ms or 0)
        self._seq = itertools.count()
        if risk is not None and risk.on_trip is None:
            risk.on_trip = self.kill

    # --- time and timers -------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.time_ms()

    def set_timer(self, name: str, at_ms: int) -> None:
        """Call ``on_timer(ctx, name, at_ms)`` once the clock reaches ``at_ms``."""
        heapq.heappush(self._timers, (at_ms, next(self._seq), name, 0))

    def every(self, name: str, interval_ms: int, start_ms: int | None = None) -> None:
        """Call ``on_timer`` every ``interval_ms`` from ``start_ms`` (default: one interval from now)."""
        if interval_ms <= 0:
            raise ValueError("interval_ms must be > 0")
        first = start_ms if start_ms is not None else self.now_ms() + interval_ms
        heapq.heappush(self._timers, (first, next(self._seq), name, interval_ms))

    def cancel_timer(self, name: str) -> None:
        self._timers = [t for t in self._timers if t[2] != name]
        heapq.heapify(self._timers)

    def due_timers(self, now_ms: int) -> list[tuple[str, int]]:
        """Pop the timers due at ``now_ms`` (re-arming repeating ones), in due order."""
        due = []
        timers = self._timers
        while timers and timers[0][0] <= now_ms:
            at, _, name, repeat = heapq.heappop(timers)
            due.append((name, at))
            if repeat:
                heapq.heappush(timers, (at + repeat, next(self._seq), name, repeat))
        return due

    @property
    def has_timers(self) -> bool:
        return bool(self._timers)

    # --- account shortcuts -----------------------------------------------------------------------

    def position(self, symbol: str) -> Decimal:
        """Net signed position of ``symbol`` (hedge mode: LONG + SHORT)."""
        return self.portfolio.net_position(symbol)

    def equity(self) -> Decimal:
        return self.portfolio.equity()

    def buy(self, symbol: str, quantity: Decimal, price: Decimal | None = None, **kw: Any) -> OrderAck:
        """A MARKET buy, or a LIMIT buy at ``price``."""
        if price is None:
            return self.orders.market(symbol, "BUY", quantity, **kw)
        return self.orders.limit(symbol, "BUY", quantity, price, **kw)

    def sell(self, symbol: str, quantity: Decimal, price: Decimal | None = None, **kw: Any) -> OrderAck:
        """A MARKET sell, or a LIMIT sell at ``price``."""
        if price is None:
            return self.orders.market(symbol, "SELL", quantity, **kw)
        return self.orders.limit(symbol, "SELL", quantity, price, **kw)

    def target_position(self, symbol: str, amount: Decimal) -> list[OrderAck]:
        """Trade towards a signed position (see :meth:`OrderManager.target`)."""
        return self.orders.target(symbol, amount)

    def close(self, symbol: str) -> list[OrderAck]:
        return self.orders.flatten(symbol)

    def bracket(self, symbol: str, side: str, quantity: Decimal, **kw: Any) -> BracketOrder:
        """Entry plus stop-loss / take-profit exits (see :meth:`OrderManager.bracket`)."""
        return self.orders.bracket(symbol, side, quantity, **kw)

    def cancel_all(self, symbol: str | None = None) -> None:
        self.orders.cancel_all(symbol)

    # --- stopping --------------------------------------------------------------------------------

    def stop(self, reason: str = "stopped by the strategy") -> None:
        """Ask the runner to stop calling the strategy (``on_stop`` still runs)."""
        if self.stopped is None:
            self.stopped = reason
            self.log.info("strategy stopping: %s", reason)

    def kill(self, reason: str) -> None:
        """The kill switch: cancel every order, flatten every position (unless configured not to), stop."""
        flatten = self.risk.config.flatten_on_kill if self.risk is not None else True
        self.orders.kill(reason, flatten=flatten)
        self.stop(f"kill switch: {reason}")


class StrategyDriver:
    """Calls a strategy's hooks for a runner and delivers its order updates in order.

    Parameters
    ----------
    strategy : the strategy
    ctx : its context (the driver subscribes to the portfolio's events)
    """

    def __init__(self, strategy: Strategy, ctx: Context) -> None:
        self.strategy = strategy
        self.ctx = ctx
        self._updates: deque[Any] = deque()
        self._busy = False
        self.started = False
        self.finished = False
        ctx.portfolio.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        if type(event) is OrderTradeUpdate or type(event) is AlgoUpdate:
            self._updates.append(event)
            if not self._busy:
                self._drain()

    def _drain(self) -> None:
        strategy, ctx = self.strategy, self.ctx
        while self._updates:
            event = self._updates.popleft()
            if ctx.stopped is None:
                self._busy = True
                try:
                    strategy.on_order_update(ctx, event)
                finally:
                    self._busy = False

    def invoke(self, hook: Any, *args: Any) -> None:
        """Call ``hook(ctx, *args)`` like a hook (skipped once stopped; order updates delivered after)."""
        self._call(hook, *args)

    def _call(self, hook: Any, *args: Any) -> None:
        if self.ctx.stopped is not None:
            return
        self._busy = True
        try:
            hook(self.ctx, *args)
        finally:
            self._busy = False
        self._drain()

    @property
    def running(self) -> bool:
        return self.started and self.ctx.stopped is None

    def start(self) -> None:
        self.started = True
        self._call(self.strategy.on_start)

    def kline(self, bar: Bar) -> None:
        self._call(self.strategy.on_kline, bar)

    def trade(self, trade: Trade) -> None:
        self._call(self.strategy.on_trade, trade)

    def book(self, book: BookTop) -> None:
        self._call(self.strategy.on_book, book)

    def fire_timers(self, now_ms: int) -> None:
        """Run the timers due at ``now_ms``."""
        if not self.ctx.has_timers:
            return
        for name, at in self.ctx.due_timers(now_ms):
            self._call(self.strategy.on_timer, name, at)

    def stop(self, reason: str = "end of data") -> None:
        """Call ``on_stop`` once (even after the kill switch)."""
        if self.finished:
            return
        self.finished = True
        self.ctx.stop(reason)
        self._busy = True
        try:
            self.strategy.on_stop(self.ctx)
        finally:
            self._busy = False
        self._updates.clear()
