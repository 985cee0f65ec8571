"""LocalExchange: the whole state of one local exchange and its single request entry point.

:class:`LocalExchange` holds the clock, the matching venue, market data, the event bus, the fault
injector, API keys, listenKeys and rate-limit state; :meth:`LocalExchange.dispatch` answers any
endpoint of the table for the REST handlers and the WebSocket API alike. Rules kept here:
- every request is validated against the endpoint table before a handler runs, and a handler either
  returns the body or raises an ``ApiError``, which becomes ``{"code","msg"}`` with Binance's status;
- the venue is reached only through its two entry points (``execute``, ``on_market``); every output
  they return is routed here: public outputs into :class:`MarketData` (which publishes them), user
  events to the bus for the account's streams;
- orders are counted per account before they reach the engine (-1015 over the limit);
- time is the injected clock's; server time adds the ``clock_skew`` fault's offset;
  :meth:`LocalExchange.advance` is the one place simulated time moves the market (simulator steps,
  GTD / countdown expiry, funding, listenKey expiry, 5-minute statistics samples);
- ``dispatch_now``, ``advance``, ``execute`` and ``on_market`` compute in binfut's decimal context
  (:func:`binfut._money.pinned`), so a client sharing the server's thread (ccxt sets ``ROUND_HALF_UP``
  there) cannot change the answers.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from binfut._money import pinned
from binfut.clock import Clock, ManualClock, ScaledClock
from binfut.emulator._http import error_body, error_headers, status_for
from binfut.emulator.accounts import AccountRegistry, ApiAccount, ListenKeyRegistry
from binfut.emulator.bus import EventBus
from binfut.emulator.config import EmulatorConfig
from binfut.emulator.faults import FaultInjector
from binfut.emulator.marketdata import MarketData
from binfut.emulator.ratelimit import OrderCounter, RateLimitState
from binfut.emulator.validate import Params, validate_params
from binfut.enums import SecurityType
from binfut.errors import ApiError, AuthenticationError, ConfigError
from binfut.matching import commands as c
from binfut.matching.instruments import SymbolSpec, default_specs
from binfut.matching.outputs import Envelope, Output
from binfut.matching.venue import SimulatedVenue
from binfut.protocol.endpoints import BY_ROUTE
from binfut.protocol.spec import Endpoint

__all__ = ["EXTRA_ENDPOINTS", "Handler", "LocalExchange", "build_exchange"]

Handler = Callable[["LocalExchange", Params, "ApiAccount | None"], Any]

# Spot connectivity probes some clients send to the futures host.
EXTRA_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        name="spot_ping",
        method="GET",
        path="/api/v3/ping",
        security=SecurityType.NONE,
        weight=1,
        params=(),
        returns=dict,
    ),
    Endpoint(
        name="spot_time",
        method="GET",
        path="/api/v3/time",
        security=SecurityType.NONE,
        weight=1,
        params=(),
        returns=dict,
    ),
)


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, ApiError):  # per-order errors inside batch answers
        return obj.to_payload()
    if isinstance(obj, Decimal):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


class LocalExchange:
    """One local exchange. Build it with :func:`build_exchange`.

    Attributes
    ----------
    config : the settings
    clock : simulated time (ScaledClock for ``--speed``, ManualClock in tests)
    venue : the matching engine (:class:`~binfut.matching.venue.SimulatedVenue`)
    market : public market data (:class:`~binfut.emulator.marketdata.MarketData`)
    bus : market and user events for the WebSocket side
    faults : the fault injector
    accounts : API key -> account
    listen_keys : user-data stream keys
    weights, orders : request-weight and order-count limits
    simulator : the synthetic market or replay driver (None: order-vs-order only)
    """

    def __init__(
        self,
        *,
        config: EmulatorConfig,
        clock: Clock,
        venue: SimulatedVenue,
        market: MarketData,
        bus: EventBus,
        faults: FaultInjector,
        accounts: AccountRegistry,
        listen_keys: ListenKeyRegistry,
        rng: random.Random,
        log: logging.Logger | None = None,
    ) -> None:
        from binfut.emulator.handlers import HANDLERS  # the handler modules import this one

        self.config = config
        self.clock = clock
        self.venue = venue
        self.market = market
        self.bus = bus
        self.faults = faults
        self.accounts = accounts
        self.listen_keys = listen_keys
        self.rng = rng
        self.log = log or logging.getLogger("binfut.emulator")
        self.weights = RateLimitState(
            config.weight_limit_1m, ban_after=config.ban_after, ban_seconds=config.ban_seconds
        )
        self.orders = OrderCounter(config.order_limit_10s, config.order_limit_1m)
        self.symbols: tuple[str, ...] = tuple(s for s in config.symbols if s in venue.specs)
        self.symbol_set = frozenset(self.symbols)
        self.routes: dict[tuple[str, str], Endpoint] = {**BY_ROUTE, **{e.key: e for e in EXTRA_ENDPOINTS}}
        self.endpoints: dict[str, Endpoint] = {e.name: e for e in self.routes.values()}
        self.handlers: dict[str, Handler] = dict(HANDLERS)
        self.simulator: Any = None
        self.started_ms = clock.time_ms()
        self.speed = clock.speed if isinstance(clock, ScaledClock) else 1.0
        self._encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")
        self._last_advance_ms = 0
        self._next_sample_ms = 0
        self.extra: dict[str, Any] = {}  # handler-owned state (download ids, convert quotes, ...)
        listen_keys.on_expire(self._on_listen_key_expired)

    # --- time -----------------------------------------------------------------------------------

    def server_time_ms(self) -> int:
        """Server time: the clock plus any ``clock_skew`` fault offset."""
        now = self.clock.time_ms()
        return now + self.faults.clock_offset_ms(now) if self.faults.rules else now

    @pinned
    def advance(self, now_ms: int) -> None:
        """Bring the exchange up to ``now_ms``: simulator, timers, listenKeys, statistics samples."""
        if now_ms <= self._last_advance_ms:
            return
        self._last_advance_ms = now_ms
        if self.simulator is not None:
            self.simulator.step(now_ms)
        self.route(self.venue.on_market(c.Tick(time_ms=now_ms)))
        self.listen_keys.expire_due(now_ms)
        if now_ms >= self._next_sample_ms:
            from binfut.emulator.handlers.stats import take_samples

            take_samples(self, now_ms)
            self._next_sample_ms = now_ms - now_ms % 300_000 + 300_000

    def run_for(self, ms: int, step_ms: int | None = None) -> None:
        """Advance a ManualClock by ``ms`` in simulator steps (tests and benchmarks).

        Raises
        ------
        TypeError
            The exchange does not run on a ManualClock.
        """
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("run_for needs a ManualClock; a ScaledClock moves by itself")
        step = step_ms or self.config.sim_step_ms
        end = clock.time_ms() + ms
        while clock.time_ms() < end:
            clock.advance(min(step, end - clock.time_ms()) * 1_000_000)
            self.advance(clock.time_ms())

    # --- engine plumbing ------------------------------------------------------------------------

    @pinned
    def execute(self, account_id: str, command: c.Command) -> Any:
        """Run ``command`` on the venue, route its outputs, return the REST value."""
        result = self.venue.execute(account_id, command)
        if result.outputs:
            self.route(result.outputs)
        return result.value

    @pinned
    def on_market(self, event: c.MarketEvent) -> None:
        """Apply a market event on the venue and route its outputs."""
        self.route(self.venue.on_market(event))

    def route(self, outputs: list[Output]) -> None:
        """User events to the bus (per account), public outputs into market data."""
        market, bus = self.market, self.bus
        for out in outputs:
            if isinstance(out, Envelope):
                bus.publish_user(out.account_id, out.event)
            else:
                market.ingest(out)

    def _on_listen_key_expired(self, key: str, account_id: str) -> None:
        self.log.debug("listenKey of %s expired", account_id)

    # --- requests -------------------------------------------------------------------------------

    async def dispatch(
        self, name: str, params: dict[str, str], account: ApiAccount | None
    ) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request (the single entry point of REST handlers and the WebSocket API).

        Parameters
        ----------
        name : endpoint-table name (``new_order``)
        params : wire parameters as strings (already authenticated by the caller)
        account : the caller's account (None for anonymous public calls)

        Returns
        -------
        tuple[int, bytes, dict[str, str]]
            HTTP status, JSON body, extra headers (``X-MBX-ORDER-COUNT-*`` on order endpoints).
        """
        return self.dispatch_now(name, params, account)

    @pinned
    def dispatch_now(
        self, name: str, params: dict[str, str], account: ApiAccount | None
    ) -> tuple[int, bytes, dict[str, str]]:
        """:meth:`dispatch` without the coroutine (benchmarks, synchronous callers)."""
        headers: dict[str, str] = {}
        try:
            endpoint = self.endpoints.get(name)
            if endpoint is None:
                raise ApiError(-1099, "Not found, unauthenticated, or unauthorized.", status=404)
            if endpoint.security.needs_key and account is None:
                raise AuthenticationError(-2015, "Invalid API-key, IP, or permissions for action.")
            typed = validate_params(endpoint, params, self.symbol_set)
            if endpoint.orders and account is not None:
                n10, n60, err = self.orders.charge(account.account_id, endpoint.orders, self.clock.time_ms())
                headers["X-MBX-ORDER-COUNT-10S"] = str(n10)
                headers["X-MBX-ORDER-COUNT-1M"] = str(n60)
                if err is not None:
                    raise err
            handler = self.handlers.get(name)
            if handler is None:  # pragma: no cover - the handler tables cover the endpoint table
                raise ApiError(-1020, "This operation is not supported.")
            value = handler(self, typed, account)
            return 200, self._encoder.encode(value), headers
        except ApiError as err:
            headers.update(error_headers(err))
            return status_for(err), error_body(err), headers

    def missing_handlers(self) -> list[str]:
        """Endpoint-table names without a handler (must be empty)."""
        return [name for name in self.endpoints if name not in self.handlers]

    # --- users ------------------------------------------------------------------------------------

    def add_api_key(self, api_key: str, material: str, balance: Decimal | None = None) -> ApiAccount:
        """Register an API key with a fresh engine account funded with ``balance`` USDT."""
        account = self.accounts.add(api_key, material)
        if account.account_id not in self.venue.accounts:
            amount = self.config.balance if balance is None else balance
            self.venue.open_account(account.account_id, {"USDT": amount})
        return account

    def __repr__(self) -> str:
        return f"LocalExchange(symbols={list(self.symbols)}, accounts={len(self.accounts)})"


def _market_with_history(specs: dict[str, SymbolSpec], bus: EventBus, config: EmulatorConfig, now_ms: int) -> MarketData:
    """Market data holding ``config.history_days`` of generated history that ends at ``now_ms``."""
    from binfut.emulator.history import generate_history
    from binfut.emulator.simulator import default_profiles

    minutes = int(config.history_days * 1440)
    market = MarketData(specs, bus, kline_limit=max(1500, minutes + 10))
    end_ms = now_ms - now_ms % 60_000
    profiles = default_profiles()
    for symbol, spec in specs.items():
        profile = profiles.get(symbol)
        if profile is None:  # a symbol the simulator has no profile for gets no history
            continue
        generate_history(
            market,
            spec,
            start_price=profile.start_price,
            annual_vol=profile.annual_vol,
            start_ms=end_ms - minutes * 60_000,
            end_ms=end_ms,
            rng=random.Random(f"{config.seed}-history-{symbol}"),
        )
    return market


def build_exchange(
    config: EmulatorConfig | None = None,
    *,
    clock: Clock | None = None,
    specs: dict[str, SymbolSpec] | None = None,
    log: logging.Logger | None = None,
) -> LocalExchange:
    """Build a :class:`LocalExchange` and its collaborators from ``config`` (the runtime factory).

    Parameters
    ----------
    config : settings (default :class:`EmulatorConfig`)
    clock : default ``ScaledClock(config.speed, start_time_ms)``; pass a ManualClock in tests
    specs : instrument specs (default: the engine's defaults, or those of the replay file)
    log : where unexpected errors are logged

    Raises
    ------
    ConfigError
        An unknown symbol, unusable API key material or an unreadable fault / replay file.
    """
    config = config or EmulatorConfig()
    replay = None
    if config.replay_file:
        from binfut.emulator.replay import open_replay

        replay = open_replay(config.replay_file)
        specs = {**(specs or default_specs()), **replay.specs}
        config = msgspec.structs.replace(config, symbols=tuple(replay.specs), simulate=False)
        if clock is None and config.start_time_ms is None:
            clock = ScaledClock(config.speed, start_ns=replay.start_ms * 1_000_000)
    all_specs = specs if specs is not None else default_specs()
    unknown = [s for s in config.symbols if s not in all_specs]
    if unknown:
        raise ConfigError(f"unknown symbols {unknown}; known: {sorted(all_specs)}")
    listed = {s: all_specs[s] for s in config.symbols}
    if clock is None:
        start_ns = config.start_time_ms * 1_000_000 if config.start_time_ms is not None else None
        clock = ScaledClock(config.speed, start_ns=start_ns)
    seed = config.seed
    venue = SimulatedVenue(clock, random.Random(seed * 7919 + 1), specs=listed)
    bus = EventBus()
    if config.history_days > 0 and replay is None:
        market = _market_with_history(listed, bus, config, clock.time_ns() // 1_000_000)
    else:
        market = MarketData(listed, bus)
    faults = FaultInjector(rng=random.Random(seed * 7919 + 2), log_path=config.faults_log)
    if config.faults_file:
        faults.load(config.faults_file)
    exchange = LocalExchange(
        config=config,
        clock=clock,
        venue=venue,
        market=market,
        bus=bus,
        faults=faults,
        accounts=AccountRegistry(),
        listen_keys=ListenKeyRegistry(random.Random(seed * 7919 + 3), config.listen_key_ttl_ms),
        rng=random.Random(seed * 7919 + 4),
        log=log,
    )
    for api_key, material in config.api_keys.items():
        exchange.add_api_key(api_key, material)
    if replay is not None:
        from binfut.emulator.replay import ReplayDriver

        exchange.simulator = ReplayDriver(exchange, replay)
    elif config.simulate:
        from binfut.emulator.simulator import MarketSimulator

        exchange.simulator = MarketSimulator(exchange, random.Random(seed))
    return exchange
