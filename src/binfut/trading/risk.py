"""The risk manager: pre-trade limits on every order and continuous loss limits with a kill switch.

Pre-trade (:meth:`RiskManager.check_order`): position notional per symbol and in total after the
order, gross leverage (total notional / equity) after the order, and the order rate.  Continuous
(:meth:`RiskManager.on_equity`, called by the runner at every mark-to-market): the loss since the
start of the UTC day and the drawdown from the equity peak; crossing either trips the kill switch.

Rules kept here:

* an order that only reduces exposure (reduce-only, or shrinking the position it trades against) is
  never refused for notional or leverage: refusing it would keep the risk, not cut it;
* once tripped, the manager refuses every order that is not reducing, for good (a new run resets);
  the trip callback (wired by the context) cancels everything, flattens and stops the strategy;
* every refusal is logged with its reason and kept in :attr:`RiskManager.refusals`;
* limits are a frozen :class:`RiskConfig` (unknown fields are an error); money is ``Decimal``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from binfut._money import MONEY, fmt
from binfut.errors import RiskRefused

if TYPE_CHECKING:
    import numpy as np

    from binfut.matching import NewOrder
    from binfut.trading.portfolio import Portfolio

__all__ = ["DAY_MS", "Refusal", "RiskConfig", "RiskManager", "RiskRefused"]

DAY_MS = 86_400_000
ZERO = Decimal(0)


class RiskConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Risk limits; ``None`` disables a limit.

    Parameters
    ----------
    max_position_notional : largest absolute position notional per symbol (USDT, at the order price)
    symbol_max_notional : per-symbol overrides of ``max_position_notional``
    max_total_notional : largest sum of absolute position notionals over all symbols
    max_leverage : largest gross leverage (total notional / equity) after an order, and largest
        leverage setting accepted by :meth:`RiskManager.check_leverage`
    max_orders : most orders accepted within ``order_window_ms``
    order_window_ms : the rate-limit window
    max_daily_loss : loss (USDT) from the equity at the first mark-to-market of the UTC day that trips
        the kill switch
    max_drawdown : fall from the equity peak, as a fraction of the peak (0.2 = 20 %), that trips it
    flatten_on_kill : close every position when the kill switch trips (else only cancel orders)
    """

    max_position_notional: Decimal | None = None
    symbol_max_notional: dict[str, Decimal] = {}
    max_total_notional: Decimal | None = None
    max_leverage: Decimal | None = None
    max_orders: int | None = None
    order_window_ms: int = 1_000
    max_daily_loss: Decimal | None = None
    max_drawdown: Decimal | None = None
    flatten_on_kill: bool = True


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """One refused order or setting."""

    time_ms: int
    symbol: str
    reason: str
    client_order_id: str = ""


class RiskManager:
    """Pre-trade checks and the kill switch.

    Parameters
    ----------
    config : the limits
    log : where refusals and trips are logged (default ``logging.getLogger("binfut.trading.risk")``)
    on_trip : called once with the reason when the kill switch trips (the context wires the kill:
        cancel everything, flatten, stop the strategy)
    """

    def __init__(self, config: RiskConfig | None = None, *, log: logging.Logger | None = None,
                 on_trip: Callable[[str], None] | None = None) -> None:
        self.config = config or RiskConfig()
        self.log = log or logging.getLogger("binfut.trading.risk")
        self.on_trip = on_trip
        self.refusals: list[Refusal] = []
        self.tripped: str | None = None
        self.tripped_ms: int | None = None
        self.day: int | None = None
        self.day_start: Decimal | None = None
        self.peak: Decimal | None = None
        self._orders: deque[int] = deque()
        c = self.config
        self._pretrade = any(v is not None for v in (c.max_position_notional, c.max_total_notional, c.max_leverage, c.max_orders)) or bool(c.symbol_max_notional)

    # --- pre-trade -------------------------------------------------------------------------------

    def refuse(self, time_ms: int, symbol: str, reason: str, client_order_id: str = "") -> str:
        """Record and log one refusal; returns ``reason``."""
        self.refusals.append(Refusal(time_ms=time_ms, symbol=symbol, reason=reason, client_order_id=client_order_id))
        self.log.warning("risk refused %s %s: %s", symbol, client_order_id, reason)
        return reason

    def check_order(self, order: NewOrder, portfolio: Portfolio, price: Decimal, now_ms: int, *, hedge: bool = False) -> str | None:
        """The reason ``order`` must not be sent, or None (then the order is counted for the rate limit).

        Parameters
        ----------
        order : the order as it would be sent (quantity already rounded)
        portfolio : current positions, marks and equity
        price : the price the notional is valued at (the limit price, else the reference / mark)
        now_ms : clock time, for the rate window and the refusal record
        hedge : the account is in hedge mode (``position_side`` says which position the order trades)
        """
        cfg = self.config
        if self.tripped is None and not self._pretrade:
            return None  # no pre-trade limit configured
        symbol = order.symbol
        cid = order.new_client_order_id or ""
        qty = order.quantity or ZERO
        signed = qty if str(order.side) == "BUY" else -qty
        if hedge:
            side = str(order.position_side or "BOTH")
            current = portfolio.position(symbol, side)
        else:
            current = portfolio.position(symbol)
        after = current + signed
        reducing = bool(order.reduce_only) or (abs(after) < abs(current) and (after == 0 or (after > 0) == (current > 0)))
        if hedge and order.position_side is not None:
            # hedge mode: BUY on SHORT / SELL on LONG closes
            ps = str(order.position_side)
            reducing = (ps == "LONG" and signed < 0) or (ps == "SHORT" and signed > 0)
        if self.tripped is not None and not reducing:
            return self.refuse(now_ms, symbol, f"kill switch tripped ({self.tripped}): only reducing orders", cid)
        if cfg.max_orders is not None:
            window = self._orders
            while window and window[0] <= now_ms - cfg.order_window_ms:
                window.popleft()
            if len(window) >= cfg.max_orders:
                return self.refuse(now_ms, symbol, f"order rate above {cfg.max_orders} per {cfg.order_window_ms} ms", cid)
        if not reducing:
            before_notional = portfolio.notional(symbol)
            mark = portfolio.marks.get(symbol, price)
            if hedge:
                # the other hedge side keeps its notional; this side changes from |current| to |after|
                symbol_after = before_notional - abs(current) * mark + abs(after) * price
            else:
                symbol_after = abs(after) * price
            limit = cfg.symbol_max_notional.get(symbol, cfg.max_position_notional)
            if limit is not None and symbol_after > limit:
                return self.refuse(now_ms, symbol, f"position notional {fmt(symbol_after, '.2f')} above {limit} for {symbol}", cid)
            total_after = portfolio.total_notional() - before_notional + symbol_after
            if cfg.max_total_notional is not None and total_after > cfg.max_total_notional:
                return self.refuse(now_ms, symbol, f"total notional {fmt(total_after, '.2f')} above {cfg.max_total_notional}", cid)
            if cfg.max_leverage is not None:
                equity = portfolio.equity()
                if equity <= 0 or total_after > cfg.max_leverage * equity:
                    return self.refuse(now_ms, symbol, f"gross leverage {fmt(total_after, '.2f')}/{fmt(equity, '.2f')} above {cfg.max_leverage}x", cid)
        if cfg.max_orders is not None:
            self._orders.append(now_ms)
        return None

    def check_leverage(self, symbol: str, leverage: int, now_ms: int) -> str | None:
        """The reason a leverage setting must not be applied, or None."""
        cap = self.config.max_leverage
        if cap is not None and leverage > cap:
            return self.refuse(now_ms, symbol, f"leverage {leverage}x above the {cap}x limit")
        return None

    # --- continuous ------------------------------------------------------------------------------

    @property
    def watches_equity(self) -> bool:
        return self.config.max_daily_loss is not None or self.config.max_drawdown is not None

    def on_equity(self, time_ms: int, equity: Decimal) -> str | None:
        """Mark-to-market ``equity`` at ``time_ms``: update the day start and peak, trip if a limit is hit.

        Returns the trip reason when this call tripped the kill switch, else None.
        """
        day = time_ms // DAY_MS
        if day != self.day:
            self.day, self.day_start = day, equity
        if self.peak is None or equity > self.peak:
            self.peak = equity
        if self.tripped is not None:
            return None
        reason = self._breach(equity, self.day_start or equity, self.peak)
        if reason is not None:
            self.trip(time_ms, reason)
        return reason

    def _breach(self, equity: Decimal, day_start: Decimal, peak: Decimal) -> str | None:
        cfg = self.config
        if cfg.max_daily_loss is not None and day_start - equity >= cfg.max_daily_loss:
            return f"daily loss {fmt(day_start - equity, '.2f')} reached the {cfg.max_daily_loss} limit"
        if cfg.max_drawdown is not None and peak > 0 and peak - equity >= cfg.max_drawdown * peak:
            return f"drawdown {fmt(MONEY.divide(peak - equity, peak), '.2%')} reached the {cfg.max_drawdown:%} limit"
        return None

    def trip(self, time_ms: int, reason: str) -> None:
        """Trip the kill switch (idempotent): log, remember, call ``on_trip``."""
        if self.tripped is not None:
            return
        self.tripped, self.tripped_ms = reason, time_ms
        self.log.error("kill switch tripped at %d: %s", time_ms, reason)
        if self.on_trip is not None:
            self.on_trip(reason)

    def scan(self, times_ms: np.ndarray, equity: np.ndarray, exact: Callable[[int], Decimal]) -> tuple[int, str] | None:
        """:meth:`on_equity` over many bars at once, exactly (the vectorised backtest's path).

        ``equity`` is a float approximation of the bar equities; ``exact(j)`` returns the exact
        Decimal one.  Float tests only pick candidates (with a tolerance far above float error); every
        decision, day start and peak is taken from ``exact``, so the state and the first breaching bar
        are those of calling :meth:`on_equity` bar by bar.  Returns ``(index, reason)`` of the first
        breach without tripping (the caller first brings the session to that bar, then calls
        :meth:`trip`), or None.
        """
        import numpy as np

        n = len(equity)
        if n == 0 or not self.watches_equity or self.tripped is not None:
            return None
        cfg = self.config
        tol = 1e-6 + 1e-9 * float(np.max(np.abs(equity)))
        days = times_ms // DAY_MS
        starts = np.flatnonzero(np.diff(days)) + 1
        bounds = [0, *starts.tolist(), n]
        for a, b in zip(bounds[:-1], bounds[1:], strict=False):
            if int(days[a]) != self.day:
                self.day, self.day_start = int(days[a]), exact(a)
            seg = equity[a:b]
            prior = float(self.peak) if self.peak is not None else float(seg[0])
            peaks = np.maximum.accumulate(np.maximum(seg, prior))
            cond = np.zeros(len(seg), dtype=bool)
            if cfg.max_daily_loss is not None:
                cond |= (float(self.day_start or 0) - seg) >= float(cfg.max_daily_loss) - tol
            if cfg.max_drawdown is not None:
                cond |= (peaks - seg) >= float(cfg.max_drawdown) * peaks - tol
            for k in np.flatnonzero(cond).tolist():
                j = a + k
                peak = self._exact_peak(equity, a, j + 1, exact, tol)
                value = exact(j)
                reason = self._breach(value, self.day_start or value, peak)
                if reason is not None:
                    self.peak = peak
                    return j, reason
            self.peak = self._exact_peak(equity, a, b, exact, tol)
        return None

    def _exact_peak(self, equity: np.ndarray, a: int, b: int, exact: Callable[[int], Decimal], tol: float) -> Decimal:
        """max(current peak, exact equity of bars a..b-1), computing exact values only near the float max."""
        import numpy as np

        seg = equity[a:b]
        top = float(seg.max())
        peak = self.peak
        if peak is not None and top < float(peak) - tol:
            return peak
        for k in np.flatnonzero(seg >= top - tol).tolist():
            value = exact(a + k)
            if peak is None or value > peak:
                peak = value
        assert peak is not None
        return peak

    def __repr__(self) -> str:
        return f"RiskManager(tripped={self.tripped!r}, refusals={len(self.refusals)})"
