"""The vectorised backtest: numpy between events, the real engine at every event, the same result.

For a :class:`~binfut.strategy.base.Vectorized` strategy on one symbol the signals of all bars are
computed at once and only the bars where something can happen are walked, with the session code the
event-driven loop (:func:`binfut.trading.backtest.run_events`) runs there: **decision** bars (signal and
position disagree: close mark into the venue, risk mark-to-market, ``act`` -> OMS -> risk -> gateway ->
engine), **funding** bars (the ``Funding`` event), **liquidation candidates** (the first bar whose adverse
mark extreme reaches the liquidation price, solved per leverage bracket in floats with a 1e-8 safety
margin, is replayed print by print and the engine decides) and **risk breaches** (float candidates
confirmed in ``Decimal`` by :meth:`~binfut.trading.risk.RiskManager.scan`).

Rule kept here: between events position, entry and wallet are constant, so no skipped bar could change
the account.  A strategy that sets timers or leaves resting orders needs every bar:
:class:`VectorizedUnsupported` is raised and ``run_backtest(engine="auto")`` reruns it event by event.
"""


from __future__ import annotations

import time as _time
from decimal import Decimal
from typing import Any

import numpy as np

from binfut.trading.backtest import (
    BacktestResult,
    Session,
    bar_of,
    finish,
    funding_by_bar,
    publish_path,
    settle_funding,
)

__all__ = ["VectorizedUnsupported", "liquidation_root", "run_vectorized"]

ZERO = Decimal(0)
_SAFETY = 1e-8  # relative margin on the float liquidation price: candidates are a superset


def liquidation_root(amount: float, entry: float, wallet: float, brackets: Any) -> float | None:
    """The mark at which ``wallet + uPnL = maintenance margin`` for one position, or None when flat.

    Health ``wallet + amount x (m - entry) - (|amount| x m x mmr_b - cum_b)`` is monotonic in ``m``
    (mmr < 1), so exactly one bracket ``b`` holds the root; for a long the position is liquidated at any
    mark at or below it, for a short at or above it (Binance's single-position formula, per bracket).
    ``brackets`` are :class:`~binfut.matching.Bracket` or ``(floor, cap, mmr, cum)`` float tuples.
    """
    size = abs(amount)
    if not size:
        return None
    rows: list[tuple[float, float, float, float]] = [b if isinstance(b, tuple) else _row(b) for b in brackets]
    root = 0.0
    for floor, cap, mmr, cum in rows:
        if amount > 0:
            root = (amount * entry - wallet - cum) / (size * (1.0 - mmr))
        else:
            root = (wallet + size * entry + cum) / (size * (1.0 + mmr))
        if floor <= size * root < cap:
            return root
    return root  # beyond the last cap the last bracket applies


def _row(b: Any) -> tuple[float, float, float, float]:
    return float(b.notional_floor), float(b.notional_cap), float(b.maint_margin_ratio), float(b.maint_amount)


class VectorizedUnsupported(Exception):
    """The strategy did something only the event-driven loop can follow (resting orders, timers)."""


class _State:
    """The account facts constant between events (from the portfolio, i.e. from ACCOUNT_UPDATEs)."""

    __slots__ = ("amount", "entry", "wallet", "margin_wallet")

    def __init__(self, s: Session, symbol: str) -> None:
        p = s.portfolio
        pos = p.positions.get((symbol, "BOTH"))
        self.amount = pos.amount if pos is not None else ZERO
        self.entry = pos.entry_price if pos is not None else ZERO
        self.wallet = p.wallet
        # the margin the position is measured against: its isolated wallet, or the cross wallet
        isolated = pos is not None and pos.margin_type == "isolated" and self.amount
        self.margin_wallet = pos.isolated_wallet if isolated and pos is not None else p.wallet

    @property
    def sign(self) -> int:
        a = self.amount
        return (a > 0) - (a < 0)


def run_vectorized(s: Session) -> BacktestResult:
    """Run the session's strategy with the vectorised loop (see the module docstring)."""
    started = _time.perf_counter()
    feed = s.feeds[0]
    symbol = feed.symbol
    n = len(feed)
    driver, portfolio, risk, strategy = s.driver, s.portfolio, s.risk, s.driver.strategy
    tick = float(feed.spec.tick_size)
    brackets = [_row(b) for b in feed.spec.brackets]
    decision = feed.decision_ms
    marks_f, mark_exact = feed.decision_marks()
    # adverse extremes over the four intrabar mark prints (see backtest.path_points)
    if feed.mark_low is not None and feed.mark_high is not None:
        lows, highs = feed.mark_low, feed.mark_high
    else:
        lows, highs = feed.low * tick, feed.high * tick
        if feed.mark_close is not None:
            lows, highs = np.minimum(lows, feed.mark_close), np.maximum(highs, feed.mark_close)
    funding = funding_by_bar(feed)
    fund_bars = np.array(sorted(funding), dtype=np.int64)

    driver.start()
    if s.ctx.has_timers or portfolio.orders or portfolio.algos:
        raise VectorizedUnsupported("the strategy set timers or resting orders in on_start")
    signals = np.asarray(strategy.signals(feed.close), dtype=np.int8)  # type: ignore[attr-defined]
    changes = np.flatnonzero(signals[1:] != signals[:-1]) + 1

    # equity / position curves: the state after bar j holds from j until the next recorded bar
    seg_bar: list[int] = [0]
    seg_wallet: list[float] = [float(portfolio.wallet)]
    seg_amount: list[float] = [0.0]
    seg_entry: list[float] = [0.0]

    def record(j: int, st: _State) -> None:
        seg_bar.append(j)
        seg_wallet.append(float(st.wallet))
        seg_amount.append(float(st.amount))
        seg_entry.append(float(st.entry))

    chg = changes.tolist()
    fund = fund_bars.tolist()
    ptr = [0, 0]  # next change point / funding bar not yet passed (both searches only move forward)

    def next_mismatch(start: int, sign: int) -> int:
        if start >= n:
            return n
        if signals[start] != sign:
            return start
        p = ptr[0]
        while p < len(chg) and chg[p] <= start:
            p += 1
        ptr[0] = p
        return chg[p] if p < len(chg) else n

    def next_funding(after: int) -> int:
        p = ptr[1]
        while p < len(fund) and fund[p] <= after:
            p += 1
        ptr[1] = p
        return fund[p] if p < len(fund) else n

    i = -1
    st = _State(s, symbol)
    if st.amount:
        record(0, st)
    while i < n - 1:
        running = driver.running
        if not running and not st.amount:
            break  # stopped and flat: nothing can happen any more
        k = next_mismatch(i + 1, st.sign) if running else n
        e = min(k, next_funding(i))
        last = min(e, n - 1)
        stop, candidate = e, False
        if st.amount and i + 1 <= last:
            root = liquidation_root(float(st.amount), float(st.entry), float(st.margin_wallet), brackets)
            if root is not None:
                if st.amount > 0:
                    hit = np.flatnonzero(lows[i + 1:last + 1] <= root * (1 + _SAFETY))
                else:
                    hit = np.flatnonzero(highs[i + 1:last + 1] >= root * (1 - _SAFETY))
                if len(hit):
                    stop, candidate = i + 1 + int(hit[0]), True
        if risk.watches_equity and risk.tripped is None and stop > i + 1:
            # mark-to-market of the bars in between, where the state is constant
            lo, hi = i + 1, min(stop, n)
            eq = float(st.wallet) + float(st.amount) * (marks_f[lo:hi] - float(st.entry))

            def exact(j: int, lo: int = lo, w: Decimal = st.wallet, a: Decimal = st.amount, en: Decimal = st.entry) -> Decimal:
                return w + (feed.decision_mark(lo + j, mark_exact) - en) * a

            breach = risk.scan(decision[lo:hi], eq, exact)
            if breach is not None:
                j = lo + breach[0]
                _mark_close(s, feed, j)
                _to_decision(s, feed, j)
                risk.trip(int(decision[j]), breach[1])  # the kill switch: cancel, flatten, stop
                st = _State(s, symbol)
                record(j, st)
                i = j
                continue
        if stop >= n:
            break
        j = stop
        if candidate:
            publish_path(s, feed, j)  # the engine decides whether the position is liquidated
        events = funding.get(j)
        if events:
            settle_funding(s, feed, j, events)
        st = _State(s, symbol)
        decide = driver.running and int(signals[j]) != st.sign
        if decide and not candidate and not events:
            _mark_close(s, feed, j)  # as the last print of the bar would have left it
        _to_decision(s, feed, j)
        if risk.watches_equity and risk.tripped is None:
            risk.on_equity(int(decision[j]), portfolio.equity())
        if decide and driver.running:
            driver.invoke(strategy.act, bar_of(feed, j), int(signals[j]))  # type: ignore[attr-defined]
        st = _State(s, symbol)
        record(j, st)
        i = j
        if portfolio.orders or portfolio.algos or s.ctx.has_timers:
            raise VectorizedUnsupported(f"the strategy left resting orders or set timers at bar {j}")
    equity, positions = _curves(n, seg_bar, seg_wallet, seg_amount, seg_entry, marks_f)
    if i < n - 1:
        # end where the event-driven loop ends: the last bar's close mark in venue and portfolio
        _mark_close(s, feed, n - 1)
        _to_decision(s, feed, n - 1)
    return finish(s, "vectorized", equity, {symbol: positions}, started)


def _mark_close(s: Session, feed: Any, j: int) -> None:
    """The close mark of bar ``j`` into the venue, at the time of the bar's last print."""
    close_ms = int(feed.open_ms[j]) + feed.interval_ms - 1
    s.set_time(close_ms)
    s.mark(feed.symbol, feed.mark_close_dec(j), close_ms)


def _to_decision(s: Session, feed: Any, j: int) -> None:
    """Clock and liquidity reference at bar ``j``'s decision time (the Tick there changes nothing)."""
    s.set_time(int(feed.decision_ms[j]))
    s.liquidity.set_reference(feed.symbol, feed.price(feed.close[j]))


def _curves(n: int, seg_bar: list[int], wallet: list[float], amount: list[float], entry: list[float],
            marks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bars = np.asarray(seg_bar, dtype=np.int64)
    # several records on one bar: the last one is the state after that bar
    keep = np.append(bars[1:] != bars[:-1], True)
    bars = bars[keep]
    lengths = np.diff(np.append(bars, n))
    w = np.repeat(np.asarray(wallet)[keep], lengths)
    a = np.repeat(np.asarray(amount)[keep], lengths)
    e = np.repeat(np.asarray(entry)[keep], lengths)
    return w + a * (marks - e), a
