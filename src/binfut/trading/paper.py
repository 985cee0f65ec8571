"""Paper trading: live market data into the one matching engine, the strategy on top (STYLE §7, row "paper").

:class:`PaperRunner` is a :class:`~binfut.trading.runner.MarketRunner` (hooks, loop, warm-up, journal,
status) whose market step feeds the klines, trades, mark prices and book tickers of a
:class:`~binfut.stream.StreamManager` (any environment) to a :class:`~binfut.matching.SimulatedVenue`
through its one market-event entry point (``Trade``, ``MarkPrice``, ``Funding``, ``Tick``); the strategy's
orders reach that venue through the backtester's :class:`~binfut.trading.gateway.SimulatedGateway`.
:class:`PaperConfig` is the simulated account; :func:`bar_messages` turns stored bars into the stream
messages :meth:`PaperRunner.run_replay` replays.  Rules kept here:

* the venue steps to each closed bar's ``close_time + 1`` before the strategy sees it; a MARKET order
  from ``on_kline`` fills at the close (unless a newer trade was seen); without a mark stream the mark
  is each bar's close;
* funding comes from the mark stream: the rate announced for a settlement is settled once it has passed;
* a stop waiting for the next event gets a simulated book to fill against (:mod:`binfut.trading.liquidity`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec

from binfut.matching import (
    DefaultFillModel,
    Funding,
    MarkPrice,
    SimulatedVenue,
    SymbolSpec,
    Tick,
    Trade,
    default_specs,
)
from binfut.protocol import events as ev
from binfut.protocol import streams as names
from binfut.protocol.events import StreamMessage
from binfut.strategy.base import Bar, Strategy
from binfut.trading.feed import BarFeed
from binfut.trading.gateway import SimulatedGateway
from binfut.trading.liquidity import BookLiquidity, LiquidityConfig
from binfut.trading.portfolio import Portfolio
from binfut.trading.runner import DEFAULT_STREAMS, MarketRunner, RunSummary

__all__ = [
    "PAPER_ACCOUNT",
    "PaperConfig",
    "PaperRunner",
    "bar_messages",
]

PAPER_ACCOUNT = "paper"
ZERO = Decimal(0)


class PaperConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The simulated account and what the paper runner subscribes (venue fields as in ``BacktestConfig``).

    Parameters
    ----------
    initial_balance : starting USDT wallet
    maker_rate, taker_rate : commission rates
    leverage : initial leverage of every symbol
    margin_type : ``CROSSED`` or ``ISOLATED``
    hedge_mode : dual-side positions
    liquidity : the simulated book's slippage ladder (MARKET orders fill around the reference price)
    at_price_fill_probability : chance a resting order exactly at a trade's price is filled by it
    seed : seed of the venue's and the client ids' random generators
    client_id_prefix : prefix of the strategy's client order ids
    streams : market streams per symbol: ``kline`` (required), ``aggTrade``, ``markPrice``, ``bookTicker``;
        without ``markPrice`` the mark is each bar's close
    bar_prints : publish each bar's open / low / high / close path as trades, like the backtest (for
        kline-only data, so resting orders and stops see the bar's range)
    trades_to_strategy : call ``on_trade`` for each trade
    tick_s : real seconds between housekeeping ticks (timers, GTD expiry, status)
    warmup_bars : closed bars per symbol replayed through the strategy before going live (None: the
        strategy's ``warmup_bars``; 0: start cold)
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
    client_id_prefix: str = "pp"
    streams: tuple[str, ...] = DEFAULT_STREAMS
    bar_prints: bool = False
    trades_to_strategy: bool = True
    tick_s: float = 0.2
    warmup_bars: int | None = None

    def __post_init__(self) -> None:
        if self.warmup_bars is not None and self.warmup_bars < 0:
            raise ValueError("warmup_bars must be >= 0 (None: the strategy's own)")


def bar_messages(feed: BarFeed) -> list[StreamMessage]:
    """Closed-kline stream messages of every bar of ``feed`` (replay stored bars through a runner).

    Each message is what ``<symbol>@kline_<interval>`` pushes when the bar closes (event time = the
    decision time, open + interval).
    """
    stream = names.kline(feed.symbol, feed.interval)
    out = []
    for i in range(len(feed)):
        open_ms = int(feed.open_ms[i])
        k = ev.KlineBar(
            start_time_ms=open_ms, close_time_ms=open_ms + feed.interval_ms - 1, symbol=feed.symbol, interval=feed.interval,
            first_trade_id=0, last_trade_id=0, open=feed.price(feed.open[i]), close=feed.price(feed.close[i]),
            high=feed.price(feed.high[i]), low=feed.price(feed.low[i]), volume=Decimal(repr(float(feed.volume[i]))),
            trades=0, is_closed=True, quote_volume=ZERO, taker_buy_volume=ZERO, taker_buy_quote_volume=ZERO,
        )
        out.append(StreamMessage(stream=stream, data=ev.Kline(event_time_ms=open_ms + feed.interval_ms, symbol=feed.symbol, kline=k)))
    return out


class PaperRunner(MarketRunner):
    """Paper trading: live market data, the strategy's orders filled by the local simulated venue.

    Parameters
    ----------
    strategy : the strategy
    config : the simulated account and subscriptions
    specs : instrument specs of the traded symbols (default: the engine's defaults)
    **kwargs : those of :class:`MarketRunner` (``symbols``, ``interval``, ``clock``, ``streams``, ``urls``,
        ``client``, ``risk``, ``log``)

    Examples
    --------
    ::

        runner = PaperRunner(MACross(), urls=urls_for("testnet"))
        summary = await runner.run(duration_s=600)
    """

    mode = "paper"

    def __init__(self, strategy: Strategy, *, config: PaperConfig | None = None, specs: dict[str, SymbolSpec] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(strategy, **kwargs)
        cfg = self.config = config or PaperConfig()
        if "kline" not in cfg.streams:
            raise ValueError("paper trading needs the kline stream")
        all_specs = specs if specs is not None else default_specs()
        missing = [s for s in self.symbols if s not in all_specs]
        if missing:
            raise ValueError(f"no instrument spec for {missing}: pass specs=...")
        self.venue = SimulatedVenue(self.clock, random.Random(cfg.seed), specs={s: all_specs[s] for s in self.symbols},
                                    fill_model=DefaultFillModel(cfg.at_price_fill_probability), publish=False)
        self.venue.open_account(PAPER_ACCOUNT, {"USDT": cfg.initial_balance}, maker_rate=cfg.maker_rate,
                                taker_rate=cfg.taker_rate, default_leverage=cfg.leverage)
        self.liquidity = BookLiquidity(cfg.liquidity)
        self.liquidity.attach(self.venue)
        gateway = SimulatedGateway(self.venue, PAPER_ACCOUNT, liquidity=self.liquidity)
        portfolio = Portfolio({"USDT": cfg.initial_balance})
        gateway.set_listener(portfolio.apply)
        self.wire(gateway, portfolio, prefix=cfg.client_id_prefix, rng=random.Random(cfg.seed + 1), hedge=cfg.hedge_mode)
        if cfg.hedge_mode:
            gateway.change_position_mode(True)
        for s in self.symbols:
            portfolio.leverage[s] = cfg.leverage
            gateway.change_margin_type(s, cfg.margin_type)
        self._marks_from_bars = "markPrice" not in cfg.streams
        self._last_trade_ms: dict[str, int] = {}
        self._prev_close: dict[str, Decimal] = {}
        self._funding: dict[str, tuple[Decimal, int]] = {}  # symbol -> (announced rate, next funding time)

    # --- the venue side of each market event ------------------------------------------------------

    def deliver(self, outputs: list[Any]) -> None:
        """Venue outputs to the portfolio (and through it the OMS and the strategy), batched."""
        if outputs:
            with self.orders.batch():
                self.gateway.deliver(outputs)

    def _book_for_triggers(self, symbol: str, price: Decimal) -> None:
        # a stop triggered by the next event becomes a MARKET order: it needs a book to fill against
        if any(a.symbol == symbol for a in self.portfolio.algos.values()):
            self.liquidity.refresh(self.venue, symbol, price)
        elif self.liquidity.has_standing(symbol):
            self.liquidity.withdraw(self.venue, symbol)

    def _market_trade(self, trade: Trade) -> None:
        self._book_for_triggers(trade.symbol, trade.price)
        self.deliver(self.venue.on_market(trade))
        self.liquidity.set_reference(trade.symbol, trade.price)
        self._last_trade_ms[trade.symbol] = trade.time_ms

    def _market_mark(self, symbol: str, mark: Decimal, time_ms: int, index_price: Decimal | None,
                     funding_rate: Decimal | None, next_funding_ms: int | None) -> None:
        announced = self._funding.get(symbol)
        if announced is not None and time_ms >= announced[1] and (next_funding_ms or 0) > announced[1]:
            # the settlement at announced[1] has passed: settle the rate announced for it
            self.deliver(self.venue.on_market(Funding(symbol=symbol, funding_rate=announced[0], mark_price=mark,
                                                      time_ms=announced[1])))
        if funding_rate is not None and next_funding_ms:
            self._funding[symbol] = (funding_rate, next_funding_ms)
        ref = self.liquidity.reference.get(symbol)
        if ref is not None:
            self._book_for_triggers(symbol, ref)
        self.deliver(self.venue.on_market(MarkPrice(symbol=symbol, mark_price=mark, time_ms=time_ms, index_price=index_price)))

    def _market_bar(self, bar: Bar, decision_ms: int) -> None:
        symbol = bar.symbol
        if self.config.bar_prints:
            self._publish_path(bar)
        self.advance_to(decision_ms)
        if self._marks_from_bars:
            self.deliver(self.venue.on_market(MarkPrice(symbol=symbol, mark_price=bar.close, time_ms=decision_ms)))
            self.portfolio.on_mark(symbol, bar.close)
        self.deliver(self.venue.on_market(Tick(time_ms=decision_ms)))
        if self._last_trade_ms.get(symbol, -1) <= bar.close_time_ms:
            self.liquidity.set_reference(symbol, bar.close)  # the backtest's "fill at the close"

    def _publish_path(self, bar: Bar) -> None:
        """The backtest's intrabar path: open, low / high (low first on a rising bar), close."""
        o, iv = bar.open_time_ms, bar.close_time_ms + 1 - bar.open_time_ms
        mid = (bar.low, bar.high) if bar.close >= bar.open else (bar.high, bar.low)
        qty = self.venue.specs[bar.symbol].max_qty  # a print fills everything it goes through
        prev = self._prev_close.get(bar.symbol, bar.open)  # the aggressor side follows the move from the last close
        for t, price in zip((o, o + iv // 3, o + 2 * iv // 3, o + iv - 1), (bar.open, *mid, bar.close), strict=True):
            self.advance_to(t)
            self._book_for_triggers(bar.symbol, price)
            self.deliver(self.venue.on_market(Trade(symbol=bar.symbol, price=price, quantity=qty, time_ms=t,
                                                    buyer_is_maker=price < prev)))
            if self._marks_from_bars:
                self.deliver(self.venue.on_market(MarkPrice(symbol=bar.symbol, mark_price=price, time_ms=t)))
                self.portfolio.on_mark(bar.symbol, price)
            prev = price
        self._prev_close[bar.symbol] = bar.close

    def _market_tick(self, now_ms: int) -> None:
        self.deliver(self.venue.on_market(Tick(time_ms=now_ms)))

    # --- running --------------------------------------------------------------------------------

    def start(self) -> None:
        """Call the strategy's ``on_start`` (once)."""
        if not self.driver.started:
            self.started_ms = self.clock.time_ms()
            self.driver.start()
            self._snapshot = self.snapshot()

    def finish(self, reason: str = "end of run") -> RunSummary:
        """Call ``on_stop`` and return the summary (idempotent)."""
        if self._summary is None:
            stop_reason = self.ctx.stopped
            self.driver.stop(reason)
            self._snapshot = self.snapshot()
            self._summary = self.summary()
            self._summary.stop_reason = stop_reason or reason
        return self._summary

    def run_replay(self, messages: Iterable[StreamMessage]) -> RunSummary:
        """Run over recorded stream messages, synchronously (with a ManualClock: deterministic).

        Parameters
        ----------
        messages : market stream messages in time order (e.g. :func:`bar_messages` of a feed)
        """
        self.start()
        for message in messages:
            if self.stopped:
                break
            self.process(message)
        if not self.stopped:
            self.tick()
        return self.finish("end of data")

    async def run(self, duration_s: float | None = None, *, stop: asyncio.Event | None = None,
                  ready_timeout_s: float = 30.0) -> RunSummary:
        """Subscribe the market streams and paper-trade until ``duration_s`` (real seconds), ``stop`` or a stop.

        Once the streams are subscribed: ``on_start``, then the warm-up (``config.warmup_bars``, by
        default the strategy's), then live messages (those that arrived meanwhile included).

        Raises
        ------
        TimeoutError
            The stream connections did not open within ``ready_timeout_s``.
        ConfigError
            A warm-up is due but there is no REST client, ``urls`` or stream manager URLs to fetch it with.
        """
        from binfut.stream import StreamManager

        own = self.streams is None
        if own:
            if self.urls is None:
                raise ValueError("PaperRunner needs streams=StreamManager(...) or urls=...")
            self.streams = StreamManager(self.urls, clock=self.clock, rng=random.Random(self.config.seed))
        manager = self.streams
        self._wake = asyncio.Event()
        reason = "end of run"
        try:
            await manager.start()
            consumer = manager.on_event(self._post_market)
            try:
                await manager.subscribe(*self.stream_names())
                await manager.wait_ready(ready_timeout_s)
                await asyncio.to_thread(self.start)
                await self._warm_up()
                reason = await self._pump(duration_s, stop)
            finally:
                consumer.close()
                self._stream_stats = manager.stats()
        finally:
            if own:
                await manager.close()
        return await asyncio.to_thread(self.finish, reason)

    def __repr__(self) -> str:
        return f"PaperRunner({self.strategy.name}, {','.join(self.symbols)} {self.interval}, bars={self.bars})"
