"""The runner base that paper and live trading share: market stream messages to strategy hooks.

:class:`MarketRunner` turns the klines, trades, mark prices and book tickers of a
:class:`~binfut.stream.StreamManager` into the strategy's hooks, runs the processing loop and the
warm-up, journals every order sent (:class:`JournalingOrderManager`, :class:`OrderRecord`) and reports
:class:`RunnerStatus` snapshots and a :class:`RunSummary`.  Subclasses wire a gateway and a portfolio and
add the market step (:mod:`binfut.trading.paper`: the simulated venue) or the user stream
(:mod:`binfut.trading.live`).  Rules kept here:

* messages are handled one at a time, in order, on one worker thread (``asyncio.to_thread``): the event
  loop only reads sockets; hooks, OMS and portfolio are never touched concurrently;
* a closed kline is the backtest's bar step at ``close_time + 1``: market step, risk mark-to-market,
  timers, ``on_kline``; a bar of another symbol or interval, a repeat or an out-of-order bar is dropped;
* time comes from the injected clock (a ManualClock follows the events);
* warm-up (:mod:`binfut.trading.warmup`): once the streams are subscribed and ``on_start`` ran, the latest
  closed bars are fetched over REST and replayed through ``on_kline`` with the order path closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from binfut.clock import Clock, ManualClock, SystemClock
from binfut.config import Urls
from binfut.errors import ConfigError
from binfut.matching import NewOrder, Trade
from binfut.protocol import events as ev
from binfut.protocol import streams as names
from binfut.protocol.events import StreamMessage
from binfut.strategy.base import Bar, BookTop, Strategy
from binfut.strategy.context import Context, StrategyDriver
from binfut.trading.feed import INTERVAL_MS
from binfut.trading.gateway import OrderAck, OrderGateway
from binfut.trading.oms import ClientIdGenerator, OrderManager
from binfut.trading.portfolio import Fill, Portfolio
from binfut.trading.risk import Refusal, RiskConfig, RiskManager
from binfut.trading.warmup import (
    MAX_PAGE,
    WarmupGate,
    WarmupReport,
    ask,
    bar_of_row,
    fetch_warmup,
    public_client,
    resolve_warmup,
)

__all__ = [
    "DEFAULT_STREAMS",
    "BarGap",
    "JournalingOrderManager",
    "MarketRunner",
    "OrderRecord",
    "OrderView",
    "PositionView",
    "RunSummary",
    "RunnerStatus",
]

DEFAULT_STREAMS = ("kline", "aggTrade", "markPrice", "bookTicker")
GAP_READ_TIMEOUT_S = 30.0  # real seconds a read-back of skipped bars may take


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One order the strategy (or the kill switch) sent, as the OMS sent it, with the outcome of the ack.

    ``bar_time_ms`` is the decision time (open + interval) of the last bar handed to the strategy.
    """

    time_ms: int
    bar_time_ms: int | None
    symbol: str
    side: str
    type: str
    quantity: Decimal | None
    price: Decimal | None
    reduce_only: bool
    position_side: str | None
    client_order_id: str
    status: str
    tag: str = ""
    reason: str = ""


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    """A position in a status snapshot."""

    symbol: str
    position_side: str
    amount: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    """An open order in a status snapshot."""

    symbol: str
    side: str
    type: str
    price: Decimal
    quantity: Decimal
    filled: Decimal
    client_order_id: str


class BarGap(msgspec.Struct, frozen=True, kw_only=True):
    """Closed bars the kline stream skipped (a reconnect across a bar close, a venue that stalled).

    The runner reads them back over REST and replays them, in order, before the bar that revealed
    the gap, so the strategy still sees every bar once (``RunSummary.gaps``).

    Parameters
    ----------
    symbol : the series
    first_open_ms : open time of the first skipped bar
    next_open_ms : open time of the streamed bar that came after the gap
    filled : skipped bars read back and replayed
    error : why none could be read back (None: the fill worked)
    """

    symbol: str
    first_open_ms: int
    next_open_ms: int
    filled: int
    error: str | None = None


class RunnerStatus(msgspec.Struct, frozen=True, kw_only=True):
    """An immutable snapshot of a running paper / live runner (what the dashboard draws)."""

    mode: str
    strategy: str
    symbols: tuple[str, ...]
    time_ms: int
    running: bool
    books: dict[str, BookTop]
    last_prices: dict[str, Decimal]
    marks: dict[str, Decimal]
    positions: list[PositionView]
    open_orders: list[OrderView]
    open_algos: int
    wallet: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    bars: int
    last_bar_ms: int | None
    orders_sent: int
    fills: int
    rejections: int
    stop_reason: str | None
    kill_reason: str | None
    rate_limit: dict[str, Any] | None = None
    streams: list[Any] = []
    stream_stats: Any = None
    user_stream: str | None = None
    held_messages: int = 0
    warmup_bars: int = 0  # bars replayed before going live (included in ``bars``)
    bar_gaps: int = 0  # kline-stream gaps met (see :class:`BarGap`)


@dataclass
class RunSummary:
    """What a paper or live run produced (``Decimal`` for the accounting).

    ``bars`` and ``bar_open_times`` count every bar the strategy saw, the warm-up's first (``warmup``
    says how many; None when the run started cold), and bars read back after a stream gap (``gaps``).
    """

    mode: str
    strategy: str
    symbols: tuple[str, ...]
    interval: str
    started_ms: int
    ended_ms: int
    bars: int
    bar_open_times: list[int]
    orders: list[OrderRecord]
    fills: list[Fill]
    initial_balance: Decimal
    final_wallet: Decimal
    final_equity: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    positions: dict[str, Decimal]
    open_orders: int
    rejections: list[OrderAck]
    refusals: list[Refusal]
    stop_reason: str | None
    kill_reason: str | None
    stream_stats: Any = None
    warmup: WarmupReport | None = None
    gaps: list[BarGap] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def bars_text(self) -> str:
        """``18 (3 warm-up)``: the bars the strategy saw, and how many of them were replayed from history."""
        warm = self.warmup.bars if self.warmup is not None else 0
        return f"{self.bars} ({warm} warm-up)" if warm else str(self.bars)


class JournalingOrderManager(OrderManager):
    """An :class:`~binfut.trading.oms.OrderManager` that keeps an :class:`OrderRecord` of every order sent.

    Parameters
    ----------
    *args, **kwargs : those of :class:`OrderManager`
    bar_time : returns the decision time of the bar being handled (None before the first bar)
    """

    def __init__(self, *args: Any, bar_time: Callable[[], int | None] = lambda: None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.journal: list[OrderRecord] = []
        self._bar_time = bar_time

    def submit(self, order: NewOrder, *, tag: str = "", internal: bool = False) -> OrderAck:
        gate = self.gateway
        if isinstance(gate, WarmupGate) and gate.closed:
            # before rounding, risk checks and the journal: nothing is sent, nothing is counted
            return gate.refuse_order(order)
        order = self.round_order(order)  # idempotent: the record shows what was sent
        ack = super().submit(order, tag=tag, internal=internal)
        self.journal.append(OrderRecord(
            time_ms=self.clock.time_ms(), bar_time_ms=self._bar_time(), symbol=order.symbol, side=str(order.side),
            type=str(order.type), quantity=order.quantity, price=order.price, reduce_only=bool(order.reduce_only),
            position_side=order.position_side, client_order_id=order.new_client_order_id or "", status=ack.status,
            tag=tag, reason=ack.reason,
        ))
        return ack

    def set_leverage(self, symbol: str, leverage: int) -> bool:
        gate = self.gateway
        if isinstance(gate, WarmupGate) and gate.closed:
            gate.change_leverage(symbol, leverage)  # refused and recorded by the gate
            return False
        return super().set_leverage(symbol, leverage)


def bar_of(event: ev.Kline) -> Bar:
    """The :class:`~binfut.strategy.base.Bar` of a (closed) kline stream event."""
    k = event.kline
    return Bar(symbol=event.symbol, interval=k.interval, open_time_ms=k.start_time_ms, close_time_ms=k.close_time_ms,
               open=k.open, high=k.high, low=k.low, close=k.close, volume=k.volume)


class MarketRunner:
    """What paper and live runners share: stream messages to hooks, the processing loop, journal, status.

    Subclasses wire a gateway and a portfolio (:meth:`wire`) and may override the ``_market_*`` hooks
    (paper: into the venue), :meth:`_on_user` (live: user events) and :meth:`_settled` (live: wait for
    the events of sent orders before the next market message).

    Parameters
    ----------
    strategy : the strategy (runs unchanged in backtest, paper and live)
    symbols : traded symbols (default ``strategy.symbols``)
    interval : kline interval (default ``strategy.interval``)
    clock : time (default :class:`~binfut.clock.SystemClock`)
    streams : a started or unstarted :class:`~binfut.stream.StreamManager` (None: one is made from ``urls``)
    urls : the environment's URLs for a new manager
    client : an ``AsyncClient`` (or ``Client``) of that environment, for the warm-up's klines (None: a
        public client over ``urls.rest`` is made for the warm-up and closed after it)
    risk : risk limits (None: none; the kill switch is always available)
    log : logger
    """

    mode = "paper"

    def __init__(self, strategy: Strategy, *, symbols: Iterable[str] | None = None, interval: str | None = None,
                 clock: Clock | None = None, streams: Any = None, urls: Urls | None = None, client: Any = None,
                 risk: RiskConfig | None = None, log: logging.Logger | None = None) -> None:
        self.strategy = strategy
        self.symbols: tuple[str, ...] = tuple(symbols or strategy.symbols)
        if not self.symbols:
            raise ValueError("no symbols: the strategy declares none and none were given")
        self.interval = interval or strategy.interval
        if self.interval not in INTERVAL_MS:
            raise ValueError(f"unknown interval {self.interval!r}")
        self.clock: Clock = clock or SystemClock()
        self.streams = streams
        self.urls = urls
        self.client = client
        self.log = log or logging.getLogger(f"binfut.trading.{self.mode}")
        self.risk = RiskManager(risk, log=self.log.getChild("risk"))
        self._symbol_set = frozenset(self.symbols)
        self.books: dict[str, BookTop] = {}
        self.last_prices: dict[str, Decimal] = {}
        self.bar_open_times: deque[int] = deque(maxlen=100_000)  # the latest bars' open times
        self.bars = 0
        self.bar_time_ms: int | None = None
        self.started_ms = self.clock.time_ms()
        self._last_bar: dict[str, int] = {}  # per symbol: open and close time of the latest bar seen
        self._last_close: dict[str, int] = {}
        self.gaps: list[BarGap] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # while the pump runs: where REST reads are made
        self._gap_client: Any = None  # a public client made for gap fills when no client was given
        self.warmup_report: WarmupReport | None = None
        self._warm_last: dict[str, int] = {}  # per symbol: the last bar the warm-up replayed
        self._overlap = 0
        self._inbox: deque[tuple[str, Any]] = deque()
        self._held: deque[Any] = deque()
        self._wake: asyncio.Event | None = None
        self._snapshot: RunnerStatus | None = None
        self._summary: RunSummary | None = None
        self._stream_stats: Any = None  # the manager's totals when the run stopped reading
        self.config: Any = None
        self.gateway: Any = None
        self.gate: WarmupGate
        self.portfolio: Portfolio
        self.orders: JournalingOrderManager
        self.ctx: Context
        self.driver: StrategyDriver

    # --- wiring ---------------------------------------------------------------------------------

    def wire(self, gateway: OrderGateway, portfolio: Portfolio, *, prefix: str, rng: random.Random, hedge: bool) -> None:
        """Build the order manager, context and driver over ``gateway`` / ``portfolio``.

        The order manager reaches ``gateway`` through a :class:`~binfut.trading.warmup.WarmupGate`,
        closed while a warm-up replays history.
        """
        self.gateway, self.portfolio = gateway, portfolio
        self.gate = WarmupGate(gateway, log=self.log.getChild("warmup"))
        self.orders = JournalingOrderManager(self.gate, portfolio, self.clock, risk=self.risk, ids=ClientIdGenerator(prefix, rng),
                                             hedge=hedge, log=self.log.getChild("oms"), bar_time=lambda: self.bar_time_ms)
        self.ctx = Context(clock=self.clock, portfolio=portfolio, orders=self.orders, risk=self.risk,
                           log=self.log.getChild(self.strategy.name), mode=self.mode)
        self.driver = StrategyDriver(self.strategy, self.ctx)

    def stream_names(self) -> list[str]:
        """The market streams this runner subscribes."""
        out = []
        for s in self.symbols:
            for kind in self.config.streams:
                if kind == "kline":
                    out.append(names.kline(s, self.interval))
                elif kind == "aggTrade":
                    out.append(names.agg_trade(s))
                elif kind == "trade":
                    out.append(names.trade(s))
                elif kind == "markPrice":
                    out.append(names.mark_price(s, every_second=True))
                elif kind == "bookTicker":
                    out.append(names.book_ticker(s))
                else:
                    raise ValueError(f"unknown stream kind {kind!r}: use kline, aggTrade, trade, markPrice, bookTicker")
        return out

    # --- market data: one message -----------------------------------------------------------------

    def process(self, message: StreamMessage | Bar) -> None:
        """Handle one market stream message (klines, trades, mark prices, book tickers of our symbols)."""
        if isinstance(message, Bar):  # a bar read back after a stream gap, queued by _fill_gap
            self.on_bar(message)
            return
        data = message.data
        batch: list[Any] | tuple[Any, ...] = data if isinstance(data, list) else (data,)
        for event in batch:
            kind = type(event)
            if kind is ev.Kline:
                if event.kline.is_closed:
                    bar = bar_of(event)
                    if not self._fill_gap(bar):
                        self.on_bar(bar)
            elif kind is ev.AggTrade or kind is ev.Trade:
                if event.symbol in self._symbol_set:
                    self.on_trade(Trade(symbol=event.symbol, price=Decimal(event.price), quantity=Decimal(event.quantity),
                                        time_ms=event.trade_time_ms, buyer_is_maker=event.buyer_is_maker))
            elif kind is ev.MarkPriceUpdate:
                if event.symbol in self._symbol_set:
                    self.on_mark(event.symbol, event.mark_price, event.event_time_ms, index_price=event.index_price,
                                 funding_rate=event.funding_rate, next_funding_ms=event.next_funding_time_ms)
            elif kind is ev.BookTicker and event.symbol in self._symbol_set:
                self.on_book(BookTop(symbol=event.symbol, bid_price=Decimal(event.bid_price), bid_qty=Decimal(event.bid_qty),
                                     ask_price=Decimal(event.ask_price), ask_qty=Decimal(event.ask_qty),
                                     time_ms=event.transaction_time_ms))

    def on_bar(self, bar: Bar) -> None:
        """A closed bar: the market step, risk mark-to-market, due timers, then ``on_kline``."""
        if not self._accept_bar(bar):
            if bar.open_time_ms <= self._warm_last.get(bar.symbol, -1) and bar.interval == self.interval:
                self._overlap += 1  # closed while the warm-up was fetched: replayed already
            return
        decision = bar.close_time_ms + 1
        self._market_bar(bar, decision)
        self.advance_to(decision)
        self.last_prices[bar.symbol] = bar.close
        mark = self.portfolio.marks.get(bar.symbol)
        if bar.mark_price is None and mark is not None:
            bar = msgspec.structs.replace(bar, mark_price=mark)
        self.bar_open_times.append(bar.open_time_ms)
        self.bars += 1
        self.bar_time_ms = decision
        self.mark_to_market(decision)
        if self.driver.running:
            self.driver.fire_timers(decision)
            self.driver.kline(bar)

    def _accept_bar(self, bar: Bar) -> bool:
        """Whether ``bar`` is a new bar of ours (not another symbol or interval, a repeat or out of order)."""
        if bar.symbol not in self._symbol_set or bar.interval != self.interval:
            return False
        last = self._last_bar.get(bar.symbol)
        if last is not None and bar.open_time_ms <= last:
            return False  # a repeat (reconnect, or a bar the warm-up replayed) or an out-of-order bar
        self._last_bar[bar.symbol] = bar.open_time_ms
        self._last_close[bar.symbol] = bar.close_time_ms
        return True

    # --- stream gaps ----------------------------------------------------------------------------

    def _fill_gap(self, bar: Bar) -> bool:
        """If the stream skipped closed bars before ``bar``, read them back and put them in line before it.

        Returns True when ``bar`` went back in line behind the bars read back (the processing loop
        then handles them one by one, with the live runner's settling between them); False when
        there is no gap, or it is outside the processing loop (the caller handles ``bar`` now).
        """
        last_close = self._last_close.get(bar.symbol)
        if last_close is None or bar.interval != self.interval or bar.open_time_ms <= last_close + 1:
            return False
        first = last_close + 1
        filled: list[Bar] = []
        error = None
        try:
            filled = [b for b in self._read_back(bar.symbol, first, bar.open_time_ms - 1)
                      if first <= b.open_time_ms < bar.open_time_ms]
        except Exception as exc:  # noqa: BLE001 - a failed read-back costs the bars, never the run
            error = f"{type(exc).__name__}: {exc}"
        self.gaps.append(BarGap(symbol=bar.symbol, first_open_ms=first, next_open_ms=bar.open_time_ms,
                                filled=len(filled), error=error))
        if error is None:
            self.log.warning("the %s stream of %s skipped closed bars from %d to %d: %d read back over REST",
                             self.interval, bar.symbol, first, bar.open_time_ms, len(filled))
        else:
            self.log.error("the %s stream of %s skipped closed bars from %d to %d and reading them back failed (%s)",
                           self.interval, bar.symbol, first, bar.open_time_ms, error)
        if not filled:
            return False
        self._held.extendleft(reversed([*filled, bar]))
        return True

    def _read_back(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        """Closed bars of ``symbol`` opening in [start_ms, end_ms], over REST (processing thread; blocks).

        At most one klines page (1500 bars, the newest of the span); the client's limiter applies.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("bars are read back only while the runner's processing loop runs")
        step = INTERVAL_MS.get(self.interval)
        span = (end_ms - start_ms) // step + 1 if step else MAX_PAGE + 1
        params: dict[str, Any] = {"symbol": symbol, "interval": self.interval, "end_time": end_ms,
                                  "limit": min(span, MAX_PAGE)}
        if span <= MAX_PAGE:
            params["start_time"] = start_ms

        async def read() -> Any:
            client = self.client
            if client is None:
                client = self._gap_client = self._gap_client or self._public_client("reading skipped bars back")
            return await ask(client.klines, **params)

        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False  # the processing thread: no loop runs here
        if on_loop:
            raise RuntimeError("bars are read back from the processing thread, never on the event loop")
        future = asyncio.run_coroutine_threadsafe(read(), loop)
        try:
            rows = future.result(GAP_READ_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            raise
        return [bar_of_row(symbol, self.interval, row) for row in rows]

    def warmup(self, bars: Iterable[Bar], *, requested: int | None = None, cutoff_ms: int | None = None,
               requests: int = 0) -> WarmupReport:
        """Replay closed historical ``bars`` through ``on_kline`` with the order path closed (processing thread).

        Nothing reaches the venue meanwhile (``ctx.warming_up`` is True; see
        :class:`~binfut.trading.warmup.WarmupGate`); no venue step, timer or risk check runs for a
        historical bar.  Bars of other symbols or intervals and repeats are skipped.  Live bars then
        continue each symbol's series: a streamed bar at or before the last replayed one is dropped.

        Parameters
        ----------
        bars : closed bars, oldest first (e.g. :func:`~binfut.trading.warmup.fetch_warmup`'s)
        requested, cutoff_ms, requests : what the fetch asked for, for the report

        Raises
        ------
        RuntimeError
            ``on_start`` has not run yet (the strategy sees its bars after it).
        """
        if not self.driver.started:
            raise RuntimeError("warm up after on_start: call start() first")
        gate, ctx = self.gate, self.ctx
        refused = len(gate.refused)
        replayed: list[int] = []
        gate.closed = ctx.warming_up = True
        try:
            for bar in sorted(bars, key=lambda b: b.open_time_ms):  # stable: symbol order kept on ties
                if not self.driver.running or not self._accept_bar(bar):
                    continue
                self._warm_last[bar.symbol] = bar.open_time_ms
                self.last_prices[bar.symbol] = bar.close
                self.bar_open_times.append(bar.open_time_ms)
                self.bars += 1
                self.bar_time_ms = bar.close_time_ms + 1
                replayed.append(bar.open_time_ms)
                self.driver.kline(bar)
        finally:
            gate.closed = ctx.warming_up = False
        report = self.warmup_report = WarmupReport(
            requested=len(replayed) if requested is None else requested, bars=len(replayed),
            first_open_ms=replayed[0] if replayed else None, last_open_ms=replayed[-1] if replayed else None,
            cutoff_ms=cutoff_ms, requests=requests, refused=len(gate.refused) - refused,
        )
        self.log.info("warm-up: replayed %d closed %s bars of %s (%d asked per symbol, %d refused commands)",
                      report.bars, self.interval, ",".join(self.symbols), report.requested, report.refused)
        self._snapshot = self.snapshot()
        return report

    def _public_client(self, purpose: str, *alternatives: str) -> Any:
        """A credential-less client over the runner's REST URL, for ``purpose`` when no client was given (the
        caller closes it).

        Raises
        ------
        ConfigError
            Neither ``urls`` nor a stream manager with URLs to find REST by.
        """
        urls = self.urls or getattr(self.streams, "urls", None)
        if urls is None:
            way = ", or ".join(("pass client=... or urls=...", *alternatives))
            raise ConfigError(f"{purpose} needs REST: {way}")
        return public_client(urls, self.clock)

    async def _warm_up(self) -> WarmupReport | None:
        """Fetch and replay the warm-up: both runners call it after ``on_start``, with the streams subscribed."""
        count = resolve_warmup(getattr(self.config, "warmup_bars", None), self.strategy)
        if count == 0:
            return None
        client, own = self.client, self.client is None
        if client is None:
            client = self._public_client("the warm-up", "set warmup_bars=0")
        try:
            history = await fetch_warmup(client, self.symbols, self.interval, count)
        finally:
            if own:
                await client.aclose()
        return await asyncio.to_thread(self.warmup, history.bars, requested=count, cutoff_ms=history.cutoff_ms,
                                       requests=history.requests)

    def on_trade(self, trade: Trade) -> None:
        self.advance_to(trade.time_ms)
        self._market_trade(trade)
        self.last_prices[trade.symbol] = trade.price
        if self.config.trades_to_strategy and self.driver.running:
            self.driver.trade(trade)

    def on_mark(self, symbol: str, mark: Decimal, time_ms: int, *, index_price: Decimal | None = None,
                funding_rate: Decimal | None = None, next_funding_ms: int | None = None) -> None:
        self.advance_to(time_ms)
        self._market_mark(symbol, mark, time_ms, index_price, funding_rate, next_funding_ms)
        self.portfolio.on_mark(symbol, mark)
        self.mark_to_market(time_ms)

    def on_book(self, top: BookTop) -> None:
        self.books[top.symbol] = top
        if self.driver.running:
            self.driver.book(top)

    def mark_to_market(self, time_ms: int) -> None:
        """The risk manager's continuous check (may trip the kill switch)."""
        risk = self.risk
        if risk.watches_equity and risk.tripped is None:
            risk.on_equity(time_ms, self.portfolio.equity())

    def tick(self) -> None:
        """Housekeeping at clock time: the venue's ``Tick`` (paper) and due timers."""
        now = self.clock.time_ms()
        self._market_tick(now)
        if self.driver.running:
            self.driver.fire_timers(now)

    def advance_to(self, time_ms: int) -> None:
        """Move a ManualClock (replay) forward to ``time_ms``; other clocks move by themselves."""
        clock = self.clock
        if isinstance(clock, ManualClock) and time_ms * 1_000_000 > clock.time_ns():
            clock.set(time_ms * 1_000_000)

    # hooks of the market step (paper: the venue; live: nothing, the exchange has them)
    def _market_bar(self, bar: Bar, decision_ms: int) -> None:
        return None

    def _market_trade(self, trade: Trade) -> None:
        return None

    def _market_mark(self, symbol: str, mark: Decimal, time_ms: int, index_price: Decimal | None,
                     funding_rate: Decimal | None, next_funding_ms: int | None) -> None:
        return None

    def _market_tick(self, now_ms: int) -> None:
        return None

    # --- control --------------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self.ctx.stopped is not None

    def kill(self, reason: str = "manual kill switch") -> None:
        """The kill switch: cancel every order, flatten every position, stop (call on the processing thread;
        from elsewhere use :meth:`request_kill`)."""
        if self.risk.tripped is None:
            self.risk.trip(self.clock.time_ms(), reason)  # the context's on_trip: orders.kill + stop
        else:
            self.ctx.kill(reason)

    def request_kill(self, reason: str = "manual kill switch") -> None:
        """Ask the processing loop to run the kill switch next (safe from the event loop)."""
        self._post("kill", reason)

    def _post(self, kind: str, item: Any) -> None:
        self._inbox.append((kind, item))
        if self._wake is not None:
            self._wake.set()

    def _post_market(self, message: Any) -> None:
        self._post("market", message)

    # --- the processing loop --------------------------------------------------------------------

    def _process_batch(self, items: list[tuple[str, Any]], real_now: float) -> None:
        """Run on the worker thread: user events first, then market messages while settled, then a tick."""
        for kind, item in items:
            if kind == "market":
                self._held.append(item)
            elif kind == "user":
                self._on_user(item)
            elif kind == "kill":
                self.kill(str(item))
        held = self._held
        while held and not self.stopped and self._settled(real_now):
            self.process(held.popleft())
        if not self.stopped:
            self.tick()
        self._snapshot = self.snapshot()

    def _on_user(self, item: Any) -> None:
        return None

    def _settled(self, real_now: float) -> bool:
        return True

    async def _pump(self, duration_s: float | None, stop: asyncio.Event | None) -> str:
        """Feed the inbox to the worker until the duration ends, ``stop`` is set or the strategy stops."""
        loop = self._loop = asyncio.get_running_loop()
        try:
            return await self._pump_loop(loop, duration_s, stop)
        finally:
            self._loop = None
            if self._gap_client is not None:
                await self._gap_client.aclose()
                self._gap_client = None

    async def _pump_loop(self, loop: asyncio.AbstractEventLoop, duration_s: float | None,
                         stop: asyncio.Event | None) -> str:
        deadline = None if duration_s is None else loop.time() + duration_s
        wake = self._wake
        assert wake is not None
        tick_s = float(self.config.tick_s)
        while True:
            if self.stopped:
                return str(self.ctx.stopped)
            if stop is not None and stop.is_set():
                return "stopped"
            timeout = tick_s
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    return "duration reached"
                timeout = min(timeout, left)
            if not self._inbox:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands as the
                # wake-up does, and the run would go on to its deadline.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await wake.wait()
            wake.clear()
            items = list(self._inbox)
            self._inbox.clear()
            await asyncio.to_thread(self._process_batch, items, loop.time())

    # --- reading --------------------------------------------------------------------------------

    def snapshot(self) -> RunnerStatus:
        """The runner's state now (call on the processing thread; :meth:`status` from the event loop)."""
        p = self.portfolio
        positions = [
            PositionView(symbol=pos.symbol, position_side=pos.position_side, amount=pos.amount, entry_price=pos.entry_price,
                         mark_price=p.marks.get(pos.symbol),
                         unrealized_pnl=pos.unrealized(p.marks.get(pos.symbol, pos.entry_price)))
            for pos in p.open_positions()
        ]
        orders = [OrderView(symbol=o.symbol, side=o.side, type=o.order_type, price=o.price, quantity=o.orig_qty,
                            filled=o.filled_qty, client_order_id=o.client_order_id) for o in p.open_orders()]
        return RunnerStatus(
            mode=self.mode, strategy=self.strategy.name, symbols=self.symbols, time_ms=self.clock.time_ms(),
            running=self.driver.running, books=dict(self.books), last_prices=dict(self.last_prices), marks=dict(p.marks),
            positions=positions, open_orders=orders, open_algos=len(p.algos), wallet=p.wallet, equity=p.equity(),
            unrealized_pnl=p.unrealized(), realized_pnl=p.realized_pnl, fees=p.fees_paid, funding=p.funding,
            bars=self.bars, last_bar_ms=self.bar_open_times[-1] if self.bar_open_times else None,
            orders_sent=len(self.orders.journal), fills=len(p.fills), rejections=len(self.orders.rejections),
            stop_reason=self.ctx.stopped, kill_reason=self.risk.tripped, held_messages=len(self._held),
            warmup_bars=self.warmup_report.bars if self.warmup_report is not None else 0, bar_gaps=len(self.gaps),
        )

    def status(self) -> RunnerStatus | None:
        """The latest snapshot plus stream health (call from the event loop, e.g. a dashboard)."""
        snap = self._snapshot
        if snap is None:
            return None
        manager = self.streams
        if manager is None:
            return snap
        return msgspec.structs.replace(snap, streams=manager.health(), stream_stats=manager.stats())

    def summary(self, **extra: Any) -> RunSummary:
        """What the run produced so far."""
        p = self.portfolio
        positions: dict[str, Decimal] = {}
        for pos in p.open_positions():
            key = pos.symbol if pos.position_side == "BOTH" else f"{pos.symbol}:{pos.position_side}"
            positions[key] = pos.amount
        stats = self._stream_stats
        if stats is None and self.streams is not None and hasattr(self.streams, "stats"):
            stats = self.streams.stats()
        warmup = self.warmup_report
        if warmup is not None:
            warmup = msgspec.structs.replace(warmup, overlap=self._overlap)
        return RunSummary(
            mode=self.mode, strategy=self.strategy.name, symbols=self.symbols, interval=self.interval,
            started_ms=self.started_ms, ended_ms=self.clock.time_ms(), bars=self.bars,
            bar_open_times=list(self.bar_open_times), orders=list(self.orders.journal), fills=list(p.fills),
            initial_balance=p.initial_balance, final_wallet=p.wallet, final_equity=p.equity(), realized_pnl=p.realized_pnl,
            fees=p.fees_paid, funding=p.funding, positions=positions, open_orders=len(p.orders),
            rejections=list(self.orders.rejections), refusals=list(self.risk.refusals), stop_reason=self.ctx.stopped,
            kill_reason=self.risk.tripped, stream_stats=stats, warmup=warmup,
            gaps=list(self.gaps), extra=dict(extra),
        )
