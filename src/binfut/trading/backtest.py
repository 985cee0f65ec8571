"""The backtester: bars replayed into the one matching engine on a ManualClock, a strategy on top.

:func:`run_backtest` builds a :class:`Session` (venue, liquidity provider, gateway, portfolio, risk, OMS,
context) and runs the event-driven loop below, or :mod:`binfut.trading.vectorized` for
:class:`~binfut.strategy.base.Vectorized` strategies (same fills, fees, funding and equity, far faster).
Per bar (open ``o``, interval ``iv``), in this order:

1. four prints at ``o``, ``o + iv/3``, ``o + 2iv/3``, ``o + iv - 1``: open, low and high (low first on a
   rising bar), close; each a ``Trade`` (fills resting orders, CONTRACT_PRICE triggers) then a
   ``MarkPrice`` (MARK_PRICE triggers, margin calls, liquidation);
2. the funding settlements in ``(o, o + iv]``;
3. at ``o + iv``: ``Tick``, the risk manager's mark-to-market, due timers, ``on_kline``.

Rules kept here: time moves only through the ManualClock; the venue is reached only through its two
entry points; every output reaches the portfolio through the gateway.
"""


from __future__ import annotations

import copy
import logging
import random
import time as _time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from binfut._gc import engine_gc
from binfut.clock import ManualClock
from binfut.matching import DefaultFillModel, Funding, MarkPrice, SimulatedVenue, Tick, Trade
from binfut.strategy.base import Bar, Strategy, Vectorized
from binfut.strategy.context import Context, StrategyDriver
from binfut.trading.feed import BarFeed
from binfut.trading.gateway import SimulatedGateway
from binfut.trading.liquidity import BookLiquidity, LiquidityConfig
from binfut.trading.oms import ClientIdGenerator, OrderManager
from binfut.trading.portfolio import Fill, FundingPayment, Portfolio
from binfut.trading.risk import Refusal, RiskConfig, RiskManager

__all__ = ["ACCOUNT", "BacktestConfig", "BacktestResult", "Session", "build_session", "run_backtest", "run_events"]

ACCOUNT = "backtest"
ZERO = Decimal(0)


class BacktestConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the simulated account and venue are set up.

    Parameters
    ----------
    initial_balance : starting USDT wallet
    maker_rate, taker_rate : commission rates (Binance's defaults: 0.02 % / 0.05 %)
    leverage : initial leverage of every symbol
    margin_type : ``CROSSED`` or ``ISOLATED``
    hedge_mode : dual-side positions (LONG / SHORT) instead of one-way
    liquidity : the simulated book's slippage ladder
    at_price_fill_probability : chance a resting order exactly at a print's price is filled by it
    seed : seed of the venue's and the client ids' random generators
    trade_prints_to_strategy : call ``on_trade`` with each synthetic intrabar print
    client_id_prefix : prefix of the strategy's client order ids
    engine : ``auto`` (vectorised when the strategy allows it), ``events`` or ``vectorized``
    """

    initial_balance: Decimal = Decimal("10000")
    maker_rate: Decimal = Decimal("0.0002")
    taker_rate: Decimal = Decimal("0.0005")
    leverage: int = 20
    margin_type: str = "CROSSED"
    hedge_mode: bool = False
    liquidity: LiquidityConfig = LiquidityConfig()
    at_price_fill_probability: float = 0.5
    seed: int = 0
    trade_prints_to_strategy: bool = False
    client_id_prefix: str = "bt"
    engine: str = "auto"


@dataclass
class BacktestResult:
    """What a backtest produced (floats for the curves, ``Decimal`` for the accounting)."""

    strategy: str
    symbols: tuple[str, ...]
    interval: str
    engine: str
    times_ms: np.ndarray
    close: np.ndarray
    equity: np.ndarray
    positions: dict[str, np.ndarray]
    fills: list[Fill]
    funding_payments: list[FundingPayment]
    initial_balance: Decimal
    final_wallet: Decimal
    final_equity: Decimal
    fees: Decimal
    funding: Decimal
    realized_pnl: Decimal
    liquidations: int
    refusals: list[Refusal]
    rejections: list[Any]
    stop_reason: str | None
    kill_reason: str | None
    bars: int
    elapsed_s: float
    config: BacktestConfig = field(default_factory=BacktestConfig)
    strategy_object: Any = None  # the strategy that ran (a copy when ``auto`` had to restart event by event)

    @property
    def other_charges(self) -> Decimal:
        """Wallet changes not explained by PnL, fees and funding (liquidation clearance fees)."""
        value = self.initial_balance + self.realized_pnl - self.fees + self.funding - self.final_wallet
        return value if value else ZERO


@dataclass
class Session:
    """Everything one backtest wires together (built by :func:`build_session`)."""

    clock: ManualClock
    venue: SimulatedVenue
    liquidity: BookLiquidity
    gateway: SimulatedGateway
    portfolio: Portfolio
    risk: RiskManager
    orders: OrderManager
    ctx: Context
    driver: StrategyDriver
    feeds: list[BarFeed]
    config: BacktestConfig
    log: logging.Logger

    def deliver(self, outputs: list[Any]) -> None:
        """Route venue outputs to the portfolio (and through it the OMS and the strategy), batched."""
        if outputs:
            with self.orders.batch():
                self.gateway.deliver(outputs)

    def set_time(self, time_ms: int) -> None:
        ns = time_ms * 1_000_000
        if ns > self.clock.time_ns():
            self.clock.set(ns)

    def mark(self, symbol: str, price: Decimal, time_ms: int) -> None:
        self.deliver(self.venue.on_market(MarkPrice(symbol=symbol, mark_price=price, time_ms=time_ms)))
        self.portfolio.on_mark(symbol, price)


def build_session(strategy: Strategy, feeds: list[BarFeed], config: BacktestConfig, risk: RiskConfig | None = None,
                  log: logging.Logger | None = None) -> Session:
    """Create the venue, accounts and the strategy's context for ``feeds`` (nothing runs yet)."""
    log = log or logging.getLogger("binfut.trading.backtest")
    start_ms = int(min(int(f.open_ms[0]) for f in feeds if len(f))) if any(len(f) for f in feeds) else 0
    clock = ManualClock(start_ms * 1_000_000)
    venue = SimulatedVenue(clock, random.Random(config.seed), specs={f.symbol: f.spec for f in feeds},
                           fill_model=DefaultFillModel(config.at_price_fill_probability), publish=False)
    venue.open_account(ACCOUNT, {"USDT": config.initial_balance}, maker_rate=config.maker_rate,
                       taker_rate=config.taker_rate, default_leverage=config.leverage)
    liquidity = BookLiquidity(config.liquidity)
    liquidity.attach(venue)
    gateway = SimulatedGateway(venue, ACCOUNT, liquidity=liquidity)
    portfolio = Portfolio({"USDT": config.initial_balance})
    gateway.set_listener(portfolio.apply)
    risk_manager = RiskManager(risk, log=log.getChild("risk"))
    orders = OrderManager(gateway, portfolio, clock, risk=risk_manager,
                          ids=ClientIdGenerator(config.client_id_prefix, random.Random(config.seed + 1)),
                          hedge=config.hedge_mode, log=log.getChild("oms"))
    if config.hedge_mode:
        gateway.change_position_mode(True)
    for f in feeds:
        portfolio.leverage[f.symbol] = config.leverage
        gateway.change_margin_type(f.symbol, config.margin_type)
    ctx = Context(clock=clock, portfolio=portfolio, orders=orders, risk=risk_manager, log=log.getChild(strategy.name))
    driver = StrategyDriver(strategy, ctx)
    return Session(clock, venue, liquidity, gateway, portfolio, risk_manager, orders, ctx, driver, feeds, config, log)


# --- the event-driven loop ------------------------------------------------------------------------


def bar_of(feed: BarFeed, i: int) -> Bar:
    """Bar ``i`` of ``feed`` with exact prices."""
    return Bar(
        symbol=feed.symbol, interval=feed.interval, open_time_ms=int(feed.open_ms[i]),
        close_time_ms=int(feed.open_ms[i]) + feed.interval_ms - 1, open=feed.price(feed.open[i]),
        high=feed.price(feed.high[i]), low=feed.price(feed.low[i]), close=feed.price(feed.close[i]),
        volume=Decimal(repr(float(feed.volume[i]))), mark_price=feed.mark_close_dec(i),
    )


def path_points(feed: BarFeed, i: int) -> list[tuple[int, int, Decimal]]:
    """The four intrabar prints of bar ``i``: ``(time ms, trade ticks, mark price)``."""
    o = int(feed.open_ms[i])
    iv = feed.interval_ms
    times = (o, o + iv // 3, o + 2 * iv // 3, o + iv - 1)
    rising = feed.close[i] >= feed.open[i]
    ticks = [int(feed.open[i]), int(feed.low[i]), int(feed.high[i]), int(feed.close[i])]
    if not rising:
        ticks[1], ticks[2] = ticks[2], ticks[1]
    if feed.mark_open is not None:
        assert feed.mark_low is not None and feed.mark_high is not None and feed.mark_close is not None
        lo, hi = float(feed.mark_low[i]), float(feed.mark_high[i])
        raw = [float(feed.mark_open[i]), lo, hi, float(feed.mark_close[i])] if rising else [float(feed.mark_open[i]), hi, lo, float(feed.mark_close[i])]
        marks = [feed.mark(v) for v in raw]
    else:
        marks = [feed.price(t) for t in ticks]
        if feed.mark_close is not None:
            marks[3] = feed.mark(float(feed.mark_close[i]))
    return [(times[k], ticks[k], marks[k]) for k in range(4)]


def publish_path(s: Session, feed: BarFeed, i: int) -> None:
    """Step 1 of a bar (see the module docstring): prints and marks into the venue."""
    symbol = feed.symbol
    venue = s.venue
    liquidity = s.liquidity
    qty = feed.spec.max_qty  # a print fills everything it goes through (bars carry no queue data)
    prev = int(feed.close[i - 1]) if i > 0 else int(feed.open[i])
    prints = s.config.trade_prints_to_strategy
    for t, ticks, mark in path_points(feed, i):
        s.set_time(t)
        price = feed.price(ticks)
        if any(a.symbol == symbol for a in s.portfolio.algos.values()):
            liquidity.refresh(venue, symbol, price)  # a stop triggered by this print needs a book
        elif liquidity.has_standing(symbol):
            liquidity.withdraw(venue, symbol)
        trade = Trade(symbol=symbol, price=price, quantity=qty, time_ms=t, buyer_is_maker=ticks < prev)
        s.deliver(venue.on_market(trade))
        s.mark(symbol, mark, t)
        prev = ticks
        if prints:
            s.driver.trade(trade)


def settle_funding(s: Session, feed: BarFeed, i: int, events: list[Any]) -> None:
    """Step 2: bar ``i``'s funding settlements (mark: the event's, else the mark at the bar's close)."""
    for f in events:
        s.set_time(f.time_ms)
        mark = f.mark_price if f.mark_price is not None else feed.mark_close_dec(i)
        s.deliver(s.venue.on_market(Funding(symbol=feed.symbol, funding_rate=f.rate, mark_price=mark, time_ms=f.time_ms)))
        s.portfolio.on_mark(feed.symbol, mark)


def funding_by_bar(feed: BarFeed) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for ev in feed.funding:
        out.setdefault(ev.bar, []).append(ev)
    return out


def run_events(s: Session) -> BacktestResult:
    """The event-driven loop over every bar of every feed (same open times required).

    Runs under :func:`binfut._gc.engine_gc`: the collector leaves the engine's long-lived state alone.
    """
    with engine_gc():
        return _run_events(s)


def _run_events(s: Session) -> BacktestResult:
    feeds = s.feeds
    n = len(feeds[0])
    for f in feeds[1:]:
        if len(f) != n or not np.array_equal(f.open_ms, feeds[0].open_ms):
            raise ValueError("all feeds of one backtest need the same bar open times")
    started = _time.perf_counter()
    funding = [funding_by_bar(f) for f in feeds]
    equity = np.empty(n)
    positions = {f.symbol: np.zeros(n) for f in feeds}
    driver, portfolio, risk = s.driver, s.portfolio, s.risk
    driver.start()
    decision = feeds[0].decision_ms
    for i in range(n):
        for f in feeds:
            publish_path(s, f, i)
        for k, f in enumerate(feeds):
            events = funding[k].get(i)
            if events:
                settle_funding(s, f, i, events)
        now = int(decision[i])
        s.set_time(now)
        s.deliver(s.venue.on_market(Tick(time_ms=now)))
        for f in feeds:
            s.liquidity.set_reference(f.symbol, f.price(f.close[i]))
        if risk.watches_equity and risk.tripped is None:
            risk.on_equity(now, portfolio.equity())
        if driver.running:
            driver.fire_timers(now)
            for f in feeds:
                driver.kline(bar_of(f, i))
        equity[i] = float(portfolio.equity())
        for f in feeds:
            positions[f.symbol][i] = float(portfolio.net_position(f.symbol))
    return finish(s, "events", equity, positions, started)


def finish(s: Session, engine: str, equity: np.ndarray, positions: dict[str, np.ndarray], started: float) -> BacktestResult:
    """Stop the strategy and collect the result."""
    stop_reason = s.ctx.stopped
    s.driver.stop("end of data")
    p = s.portfolio
    feed = s.feeds[0]
    return BacktestResult(
        strategy=s.driver.strategy.name, symbols=tuple(f.symbol for f in s.feeds), interval=feed.interval, engine=engine,
        times_ms=feed.decision_ms.copy(), close=feed.close * float(feed.spec.tick_size), equity=equity, positions=positions,
        fills=list(p.fills), funding_payments=list(p.funding_payments), initial_balance=s.config.initial_balance,
        final_wallet=p.wallet, final_equity=p.equity(), fees=p.fees_paid, funding=p.funding, realized_pnl=p.realized_pnl,
        liquidations=p.liquidations, refusals=list(s.risk.refusals), rejections=list(s.orders.rejections),
        stop_reason=stop_reason, kill_reason=s.risk.tripped, bars=len(feed), elapsed_s=_time.perf_counter() - started,
        config=s.config, strategy_object=s.driver.strategy,
    )


def vectorizable(strategy: Strategy, feeds: list[BarFeed], config: BacktestConfig) -> str | None:
    """Why the vectorised engine cannot run this backtest exactly, or None when it can."""
    if len(feeds) != 1:
        return "more than one symbol"
    if not isinstance(strategy, Vectorized):
        return "the strategy does not implement Vectorized (signals + act)"
    if config.hedge_mode:
        return "hedge mode"
    if config.trade_prints_to_strategy:
        return "on_trade wants the intrabar prints"
    return None


def run_backtest(
    strategy: Strategy,
    data: BarFeed | list[BarFeed],
    config: BacktestConfig | None = None,
    risk: RiskConfig | None = None,
    *,
    log: logging.Logger | None = None,
) -> BacktestResult:
    """Run ``strategy`` over ``data`` and return the result.

    Parameters
    ----------
    strategy : any :class:`~binfut.strategy.base.Strategy`
    data : one feed per symbol (see :func:`~binfut.trading.feed.prepare_feed`)
    config : account and venue settings (``engine`` picks the loop)
    risk : risk limits (None: none)
    log : logger for refusals, trips and the strategy

    Raises
    ------
    ValueError
        ``engine="vectorized"`` for a backtest it cannot run exactly (the reason is in the message).
    """
    config = config or BacktestConfig()
    feeds = [data] if isinstance(data, BarFeed) else list(data)
    if not feeds or not len(feeds[0]):
        raise ValueError("no bars to backtest")
    why = vectorizable(strategy, feeds, config)
    engine = config.engine
    if engine == "vectorized" and why is not None:
        raise ValueError(f"the vectorized engine cannot run this backtest: {why}")
    if engine in ("vectorized", "auto") and why is None:
        from binfut.trading.vectorized import VectorizedUnsupported, run_vectorized

        # a strategy the vectorised loop cannot follow is rerun from scratch: keep a pristine copy
        pristine = copy.deepcopy(strategy) if engine == "auto" else None
        try:
            return run_vectorized(build_session(strategy, feeds, config, risk, log))
        except VectorizedUnsupported as exc:
            if pristine is None:
                raise ValueError(f"the vectorized engine cannot run this backtest: {exc}") from None
            (log or logging.getLogger("binfut.trading.backtest")).info("vectorized engine gave up (%s): rerunning event by event", exc)
            result = run_events(build_session(pristine, feeds, config, risk, log))
            result.strategy_object = pristine
            return result
    return run_events(build_session(strategy, feeds, config, risk, log))
