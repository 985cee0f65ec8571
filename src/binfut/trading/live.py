"""Live trading: live market data, orders to Binance through :class:`BinanceGateway`, fills from the user stream.

:class:`LiveRunner` runs a strategy unchanged (STYLE §7, row "live"): market data from a
:class:`~binfut.stream.StreamManager`, orders through a ``BinanceGateway`` (REST or the WebSocket API),
account state from the :class:`~binfut.stream.UserDataStream` folded into the backtest's ``Portfolio``,
orders and positions reconciled through REST at start, the risk manager and its kill switch on.

Rules kept here:

* mainnet is refused unless ``confirm_mainnet=True`` (CLI ``--i-understand-this-is-real-money``);
* hooks, OMS and portfolio run on one worker thread at a time; the event loop never blocks;
* after orders are sent, the next market message waits for their user events (acked-final orders
  reported, fills agreeing with ACCOUNT_UPDATE), so decisions see a backtest's state; after
  ``settle_timeout_s`` (or a user-stream gap) everything is re-read through REST instead;
* the kill switch cancels everything, flattens, stops; the wind-down checks REST and repeats it once;
* a stop that flattens cancels first, then waits for the events of every order sent (REST if they are
  late), then flattens: a fill still on its way when the run stopped is closed too;
* the warm-up (history replayed before going live) is :mod:`binfut.trading.runner`'s, from the same client: no
  order, cancel or leverage change reaches the exchange while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from binfut.config import Environment
from binfut.errors import ConfigError
from binfut.protocol.userevents import (
    AccountConfigUpdate,
    AccountUpdate,
    AlgoUpdate,
    MarginCall,
    OrderTradeUpdate,
    TradeLite,
)
from binfut.protocol.userstream import ReconcileSummary
from binfut.strategy.base import Strategy
from binfut.trading.binance_gateway import BinanceGateway
from binfut.trading.portfolio import Portfolio
from binfut.trading.runner import DEFAULT_STREAMS, MarketRunner, RunnerStatus, RunSummary

__all__ = ["MAINNET_REFUSAL", "LiveConfig", "LiveRunner", "check_mainnet"]

MAINNET_REFUSAL = (
    "refusing to trade on mainnet (real money) without an explicit confirmation: "
    "pass confirm_mainnet=True, or --i-understand-this-is-real-money on the command line"
)
_USER_EVENTS = frozenset({OrderTradeUpdate, AccountUpdate, AlgoUpdate, MarginCall, AccountConfigUpdate, TradeLite})
_FINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})
_WORKING = frozenset({"PENDING_NEW", "NEW", "PARTIALLY_FILLED"})


def check_mainnet(env: Environment | str, confirm_mainnet: bool) -> None:
    """Raise :class:`~binfut.errors.ConfigError` for mainnet without ``confirm_mainnet``."""
    if Environment(env) is Environment.MAINNET and not confirm_mainnet:
        raise ConfigError(MAINNET_REFUSAL)


class LiveConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the live runner sets up the account and runs.

    Parameters
    ----------
    streams : market streams per symbol (``kline`` required; ``aggTrade``, ``trade``, ``markPrice``, ``bookTicker``)
    client_id_prefix : prefix of the strategy's client order ids (reconciliation adopts open orders with it)
    leverage : set on every traded symbol at start (None: keep the account's)
    margin_type : ``CROSSED`` / ``ISOLATED`` set at start (None: keep)
    hedge_mode : set the position mode at start (None: keep the account's)
    ws_api : send orders over the WebSocket API instead of REST
    settle_timeout_s : real seconds to wait for the user events of sent orders before re-reading REST
    start_timeout_s : real seconds for the streams to connect and the user stream's first snapshot
    cancel_on_stop : cancel our open orders (client ids with our prefix) when the run ends without the kill switch
    flatten_on_stop : also close every position then, once the user events of every order sent have arrived (a
        fill still on its way is flattened too); the kill switch cancels and flattens everything
    trades_to_strategy : call ``on_trade`` for each trade
    tick_s : real seconds between housekeeping ticks
    seed : seed of the client-id session token (None: random)
    warmup_bars : closed bars per symbol replayed through the strategy before going live, fetched with
        the runner's client (None: the strategy's ``warmup_bars``; 0: start cold)
    """

    streams: tuple[str, ...] = DEFAULT_STREAMS
    client_id_prefix: str = "lv"
    leverage: int | None = None
    margin_type: str | None = None
    hedge_mode: bool | None = None
    ws_api: bool = False
    settle_timeout_s: float = 10.0
    start_timeout_s: float = 30.0
    cancel_on_stop: bool = True
    flatten_on_stop: bool = False
    trades_to_strategy: bool = True
    tick_s: float = 0.2
    seed: int | None = None
    warmup_bars: int | None = None

    def __post_init__(self) -> None:
        if self.warmup_bars is not None and self.warmup_bars < 0:
            raise ValueError("warmup_bars must be >= 0 (None: the strategy's own)")


class LiveRunner(MarketRunner):
    """Live trading on Binance (mainnet, testnet, demo) or the local exchange.

    Parameters
    ----------
    strategy : the strategy (runs unchanged in backtest, paper and live)
    client : an :class:`~binfut.client.AsyncClient` with credentials (user stream, reconciliation, the
        warm-up's klines, and orders unless ``gateway`` is given)
    config : account setup and run settings
    gateway : an order gateway to use instead of ``BinanceGateway(client)`` (e.g. over a blocking ``Client``)
    user_stream : a :class:`~binfut.stream.UserDataStream` to use (default: one over ``client``)
    confirm_mainnet : required to trade on mainnet
    **kwargs : those of :class:`~binfut.trading.runner.MarketRunner` (``symbols``, ``interval``, ``clock``
        (default ``client.clock``), ``streams``, ``urls`` (default ``client.urls``), ``risk``, ``log``)

    Raises
    ------
    ConfigError
        ``client`` points at mainnet and ``confirm_mainnet`` is not set.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams
    """

    mode = "live"

    def __init__(self, strategy: Strategy, client: Any, *, config: LiveConfig | None = None, gateway: Any = None,
                 user_stream: Any = None, confirm_mainnet: bool = False, **kwargs: Any) -> None:
        check_mainnet(client.env, confirm_mainnet)
        kwargs.setdefault("clock", client.clock)
        kwargs.setdefault("urls", client.urls)
        super().__init__(strategy, client=client, **kwargs)
        self.config = config or LiveConfig()
        if "kline" not in self.config.streams:
            raise ValueError("live trading needs the kline stream")
        self._gateway = gateway
        self.user_stream = user_stream
        self.reconcile_report: Any = None
        self.resyncs = 0
        self._fill_pos: dict[tuple[str, str], Decimal] = {}
        self._unsettled_since: float | None = None

    # --- setup (worker thread) ------------------------------------------------------------------

    def _setup(self, gateway: Any) -> None:
        cfg = self.config
        gateway.filters()  # exchangeInfo, before the OMS reads it
        if cfg.hedge_mode is not None:
            gateway.change_position_mode(cfg.hedge_mode)
            hedge = cfg.hedge_mode
        else:
            hedge = bool(gateway.hedge_mode()) if hasattr(gateway, "hedge_mode") else False
        portfolio = Portfolio()
        gateway.set_listener(portfolio.apply)
        self.wire(gateway, portfolio, prefix=cfg.client_id_prefix, rng=random.Random(cfg.seed), hedge=hedge)
        portfolio.subscribe(self._track_fill)
        now = self.clock.time_ms()
        for s in self.symbols:
            if cfg.margin_type is not None:
                gateway.change_margin_type(s, cfg.margin_type)
            if cfg.leverage is not None:
                reason = self.risk.check_leverage(s, cfg.leverage, now)
                if reason is not None:
                    raise ConfigError(f"leverage {cfg.leverage} for {s} refused by the risk limits: {reason}")
                gateway.change_leverage(s, cfg.leverage)
                portfolio.leverage[s] = cfg.leverage

    def _startup(self, marks: dict[str, Decimal]) -> None:
        """Reconcile orders and positions through REST, seed the marks, call ``on_start``."""
        with self.orders.batch():
            self.reconcile_report = self.orders.reconcile()
        self._rebase()
        self.portfolio.initial_balance = self.portfolio.wallet  # the run's starting point, as read from REST
        for symbol, mark in marks.items():
            self.portfolio.on_mark(symbol, mark)
        self.started_ms = self.clock.time_ms()
        self.driver.start()
        self._snapshot = self.snapshot()

    # --- user events and the settle barrier (worker thread) ------------------------------------

    def _post_user(self, item: Any) -> None:
        self._post("user", item)

    def _on_user(self, item: Any) -> None:
        kind = type(item)
        if kind in _USER_EVENTS:
            with self.orders.batch():
                self.portfolio.apply(item)
        elif kind is ReconcileSummary and item.reason != "initial":
            # the stream had a gap: what it replays is a partial picture, REST is the whole one
            self._resync(f"user stream reconciled after a gap ({item.reason})")

    def _track_fill(self, event: Any) -> None:
        """Positions implied by fills, to compare with the positions ACCOUNT_UPDATE reports."""
        if type(event) is not OrderTradeUpdate:
            return
        o = event.order
        if str(o.execution_type) in ("TRADE", "CALCULATED") and o.last_filled_quantity:
            key = (o.symbol, str(o.position_side))
            qty = o.last_filled_quantity if str(o.side) == "BUY" else -o.last_filled_quantity
            self._fill_pos[key] = self._fill_pos.get(key, Decimal(0)) + qty

    def _rebase(self) -> None:
        self._fill_pos = {key: pos.amount for key, pos in self.portfolio.positions.items()}
        self._unsettled_since = None

    def _resync(self, reason: str) -> None:
        self.log.warning("re-reading orders and positions through REST: %s", reason)
        with self.orders.batch():
            self.orders.reconcile()
        self._rebase()
        self.resyncs += 1

    def _in_sync(self) -> bool:
        """Every acked-final (or MARKET) order reported by the stream, fills and ACCOUNT_UPDATE agreeing."""
        for t in self.orders.tracked.values():
            if t.status in _FINAL or (t.order_type == "MARKET" and t.status in _WORKING):
                return False
        p = self.portfolio
        return all(p.position(symbol, side) == amount for (symbol, side), amount in self._fill_pos.items())

    def _settled(self, real_now: float) -> bool:
        if self.orders.unknown():
            self._resync("orders of unknown outcome")
        if self._in_sync():
            self._unsettled_since = None
            return True
        if self._unsettled_since is None:
            self._unsettled_since = real_now
        elif real_now - self._unsettled_since > self.config.settle_timeout_s:
            self._resync(f"order events missing after {self.config.settle_timeout_s} s")
            return True
        return False

    # --- stopping (worker thread) ---------------------------------------------------------------

    def _cancel_own(self) -> None:
        """End of a run without the kill switch: cancel our orders and algo orders (foreign ones stay)."""
        owns = self.orders.ids.owns
        with self.orders.batch():
            for o in list(self.portfolio.orders.values()):
                if owns(o.client_order_id):
                    self.orders.cancel(o.symbol, client_order_id=o.client_order_id)
            for a in list(self.portfolio.algos.values()):
                if owns(a.client_algo_id):
                    self.gateway.cancel_algo(client_algo_id=a.client_algo_id)

    def _leftovers(self) -> dict[str, int]:
        """What is still open on the exchange (REST), for the kill switch's check."""
        gw = self.gateway
        return {"orders": len(gw.open_orders()), "algo_orders": len(gw.open_algo_orders()), "positions": len(gw.positions())}

    def _kill_again(self, reason: str) -> None:
        self._resync("the kill switch left something open")
        self.orders.kill(reason, flatten=self.risk.config.flatten_on_kill)

    def _quiet(self) -> bool:
        """Settled, and nothing left open locally that the wind-down asked to close."""
        if not self._in_sync():
            return False
        p, cfg = self.portfolio, self.config
        killed = self.risk.tripped is not None
        if killed or cfg.cancel_on_stop or cfg.flatten_on_stop:
            mine = (lambda cid: True) if killed else self.orders.ids.owns  # the kill switch cancels everything
            if any(mine(o.client_order_id) for o in p.orders.values()) or any(mine(a.client_algo_id) for a in p.algos.values()):
                return False
        flattening = (killed and self.risk.config.flatten_on_kill) or cfg.flatten_on_stop
        return not (flattening and p.open_positions())

    def _user_batch(self, items: list[tuple[str, Any]], done: Callable[[], bool]) -> bool:
        for kind, item in items:
            if kind == "user":
                self._on_user(item)
            elif kind == "kill":  # requested while winding down: still honoured
                self.kill(str(item))
        self._snapshot = self.snapshot()
        return done()

    def _finish(self, reason: str) -> RunSummary:
        stop_reason = self.ctx.stopped
        self.driver.stop(reason)
        self._snapshot = self.snapshot()
        summary = self.summary(reconcile=self.reconcile_report, resyncs=self.resyncs)
        summary.stop_reason = stop_reason or reason
        return summary

    # --- running (event loop) -------------------------------------------------------------------

    async def _drain(self, timeout_s: float, done: Callable[[], bool] | None = None) -> bool:
        """Fold user events until ``done()`` (by default :meth:`_quiet`) or ``timeout_s`` real seconds; market
        data is ignored."""
        done = done or self._quiet
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        wake = self._wake
        assert wake is not None
        while True:
            items = list(self._inbox)
            self._inbox.clear()
            if await asyncio.to_thread(self._user_batch, items, done):
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            wake.clear()
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for can swallow a cancel on 3.11
                async with asyncio.timeout(min(left, 0.05)):
                    await wake.wait()

    async def _wind_down(self, reason: str) -> RunSummary:
        cfg = self.config
        if self.risk.tripped is None and (cfg.cancel_on_stop or cfg.flatten_on_stop):
            await asyncio.to_thread(self._cancel_own)
            if cfg.flatten_on_stop:
                # flatten what every order sent so far left: a fill still on its way through the user stream
                # (a MARKET order sent just before the stop, a fill racing a cancel) would otherwise stay open
                if not await self._drain(cfg.settle_timeout_s, self._in_sync):
                    await asyncio.to_thread(self._resync, "wind-down: events missing before flattening")
                if self.risk.tripped is None:  # a kill requested meanwhile has flattened (or chose not to)
                    await asyncio.to_thread(self.orders.flatten, internal=True)
        if not await self._drain(cfg.settle_timeout_s):
            await asyncio.to_thread(self._resync, "wind-down: events missing")
        if self.risk.tripped is not None:
            left = await asyncio.to_thread(self._leftovers)
            if any(left.values()):
                self.log.error("the kill switch left %s open: killing again", left)
                await asyncio.to_thread(self._kill_again, self.risk.tripped)
                if not await self._drain(cfg.settle_timeout_s):
                    await asyncio.to_thread(self._resync, "wind-down: events missing after the second kill")
        return await asyncio.to_thread(self._finish, reason)

    async def run(self, duration_s: float | None = None, *, stop: asyncio.Event | None = None) -> RunSummary:
        """Connect, reconcile, trade until ``duration_s`` (real seconds), ``stop``, the strategy's stop or the
        kill switch; then wind down (cancel / flatten per the config) and return the summary.

        The warm-up (``config.warmup_bars``, by default the strategy's) runs after ``on_start`` once the
        market streams are subscribed, before the first live message.

        Raises
        ------
        TimeoutError
            The user stream or the market streams did not connect within ``start_timeout_s``.
        """
        from binfut.stream import StreamManager, UserDataStream, WsApiClient

        cfg, client = self.config, self.client
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        own_streams = self.streams is None
        if own_streams:
            assert self.urls is not None
            self.streams = StreamManager(self.urls, clock=self.clock, rng=random.Random(cfg.seed))
        manager = self.streams
        user = self.user_stream = self.user_stream or UserDataStream(client, clock=self.clock, symbols=self.symbols)
        ws = None
        cleanup: list[Callable[[], Any]] = []
        try:
            if self._gateway is None and cfg.ws_api:
                assert self.urls is not None
                ws = WsApiClient(self.urls.ws_api, credentials=client.credentials, clock=self.clock,
                                 limiter=client.limiter, timesync=client.timesync)
                await ws.connect()
            gateway = self._gateway or BinanceGateway(client, ws_api=ws, loop=loop)
            await asyncio.to_thread(self._setup, gateway)
            cleanup.append(user.on_event(self._post_user))
            await user.start(timeout=cfg.start_timeout_s)
            marks = {s: (await client.mark_price(symbol=s)).mark_price for s in self.symbols}
            await asyncio.to_thread(self._startup, marks)
            await manager.start()
            cleanup.append(manager.on_event(self._post_market).close)
            await manager.subscribe(*self.stream_names())
            await manager.wait_ready(cfg.start_timeout_s)
            try:
                await self._warm_up()
                reason = await self._pump(duration_s, stop)
            except BaseException:
                # a failing strategy hook must not leave orders working on the exchange
                if cfg.cancel_on_stop and hasattr(self, "orders"):
                    await asyncio.wait_for(asyncio.to_thread(self.orders.cancel_all), cfg.settle_timeout_s)
                raise
            summary = self._summary = await self._wind_down(reason)
        finally:
            for undo in reversed(cleanup):
                undo()
            await user.aclose()
            if own_streams:
                await manager.close()
            if ws is not None:
                await ws.aclose()
        return summary

    def status(self) -> RunnerStatus | None:
        snap = super().status()
        if snap is None:
            return None
        user = self.user_stream
        return msgspec.structs.replace(snap, rate_limit=self.client.rate_limit_usage(),
                                       user_stream=None if user is None else str(user.state))

    def __repr__(self) -> str:
        return f"LiveRunner({self.strategy.name}, {','.join(self.symbols)} {self.interval}, env={self.client.env})"
