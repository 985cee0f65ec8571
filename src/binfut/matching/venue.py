"""SimulatedVenue: the single entry point of the matching package.

``execute(account_id, command) -> Result`` runs one account command; ``on_market(event) -> list``
applies one market event.  The local exchange, the backtester and paper trading all call these two
methods, so no caller keeps a dispatch chain of its own (STYLE section 7).  Read-only queries for the
REST layer live in :mod:`binfut.matching.queries` (mixed in); liquidation and funding in
:mod:`binfut.matching.risk`.

Rules kept here: time comes from the injected clock (``clock.time_ms()``) for commands and from the
event for market events; randomness only from the injected ``random.Random``; validation finishes
before the first mutation (check-then-commit), so a command that raises leaves books, balances and
positions exactly as they were; after every command or event the venue runs the trigger cascade
(CONTRACT_PRICE algo orders), then emits ACCOUNT_UPDATEs and one BookDelta per changed book.
Commands, events and queries compute under :data:`binfut._money.MONEY` whatever decimal context the
caller's thread has (see :mod:`binfut._money` and :mod:`binfut.matching`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Final

from msgspec.structs import astuple as _astuple

from binfut._money import E8, MONEY, foreign
from binfut.clock import Clock
from binfut.enums import PositionSide
from binfut.errors import ApiError
from binfut.matching import commands as c
from binfut.matching.account import (
    BUY_BOTH,
    BUY_LONG,
    NO_MARGIN,
    SELL_BOTH,
    SELL_SHORT,
    ZERO,
    Account,
    Position,
    available_balance,
    check_order_margin,
    reject,
)
from binfut.matching.algos import AlgoOrders
from binfut.matching.builders import Lazy, LazyOrder, Result, wire, wire_e8
from binfut.matching.engine import SymbolEngine
from binfut.matching.filters import check_min_notional, check_percent_price, missing, not_required, to_lots, to_ticks
from binfut.matching.instruments import SymbolSpec, default_specs
from binfut.matching.lifecycle import Transition
from binfut.matching.models import DefaultFeeModel, DefaultFillModel, FeeModel, FillModel
from binfut.matching.orderbook import Order
from binfut.matching.outputs import BookDelta, Envelope, Output
from binfut.matching.queries import VenueQueries
from binfut.matching.records import IncomeRecord, TradeRecord
from binfut.matching.risk import check_risk, settle_funding
from binfut.matching.triggers import (
    CONDITIONAL_TYPES,
    AlgoOrder,
)
from binfut.protocol.userevents import (
    AccountConfigUpdate,
    AccountUpdate,
    AccountUpdateData,
    BalanceUpdate,
    LeverageConfig,
    PositionUpdate,
)

__all__ = ["SimulatedVenue"]

# What account_update / build_order build or call, as module constants: compiled, a Final name is a C
# static, where an imported name is a dictionary lookup at every use.
_Envelope: Final = Envelope
_AccountUpdate: Final = AccountUpdate
_AccountUpdateData: Final = AccountUpdateData
_BalanceUpdate: Final = BalanceUpdate
_PositionUpdate: Final = PositionUpdate
_struct_astuple: Final = _astuple
_bytes_hex: Final = bytes.hex  # called as a function: compiled, a method call looks the name up each time
# NewOrder's fields by position, for build_order's single msgspec.structs.astuple call
_FIELDS: Final = {name: i for i, name in enumerate(c.NewOrder.__struct_fields__)}
_I_SYMBOL: Final = _FIELDS["symbol"]
_I_SIDE: Final = _FIELDS["side"]
_I_TYPE: Final = _FIELDS["type"]
_I_QUANTITY: Final = _FIELDS["quantity"]
_I_PRICE: Final = _FIELDS["price"]
_I_TIME_IN_FORCE: Final = _FIELDS["time_in_force"]
_I_POSITION_SIDE: Final = _FIELDS["position_side"]
_I_REDUCE_ONLY: Final = _FIELDS["reduce_only"]
_I_CLIENT_ORDER_ID: Final = _FIELDS["new_client_order_id"]
_I_PRICE_MATCH: Final = _FIELDS["price_match"]
_I_STP: Final = _FIELDS["self_trade_prevention_mode"]
_I_GOOD_TILL_DATE: Final = _FIELDS["good_till_date"]
_I_CLOSE_POSITION: Final = _FIELDS["close_position"]

_SIDES: Final = frozenset({"BUY", "SELL"})
_TIFS: Final = frozenset({"GTC", "IOC", "FOK", "GTX", "GTD"})
_STP: Final = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})
_PRICE_MATCH: Final = frozenset({"NONE", "OPPONENT", "OPPONENT_5", "OPPONENT_10", "OPPONENT_20", "QUEUE", "QUEUE_5", "QUEUE_10", "QUEUE_20"})
_WORKING: Final = frozenset({"MARK_PRICE", "CONTRACT_PRICE"})
_CID: Final = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_GTD_MIN_AHEAD_MS: Final = 600_000  # goodTillDate must be > now + 600 s
_GTD_MAX_MS: Final = 253_402_300_799_000
_CASCADE_LIMIT: Final = 1_000


class SimulatedVenue(VenueQueries, AlgoOrders):
    """A sans-IO Binance USD-M futures venue: books, accounts, margin, algo orders, funding, liquidation.

    Parameters
    ----------
    clock : time source; commands are stamped with ``clock.time_ms()``
    rng : the only randomness (client order ids, fill model)
    specs : tradable symbols (default :func:`~binfut.matching.instruments.default_specs`)
    fee_model, fill_model : see :mod:`binfut.matching.models`
    fok_reject : True (Binance today) rejects an unfillable FOK with -5021; False accepts it and
        expires it (status EXPIRED, nothing filled), the pre-2023 behaviour
    publish : produce PublicTrade and BookDelta outputs (the emulator wants them; a backtest may not)
    margin_call_ratio : maintenance margin / margin balance at which MARGIN_CALL is sent
    history : closed orders, trades and income rows kept per account
    """

    def __init__(
        self,
        clock: Clock,
        rng: random.Random,
        *,
        specs: dict[str, SymbolSpec] | None = None,
        fee_model: FeeModel | None = None,
        fill_model: FillModel | None = None,
        fok_reject: bool = True,
        publish: bool = True,
        margin_call_ratio: Decimal = Decimal("0.8"),
        history: int = 10_000,
    ) -> None:
        # both fixed at construction; the methods called per command are bound once (compiled, a method
        # call on an object of a type it cannot see looks the name up at each call)
        self._clock = clock
        self._time_ms = clock.time_ms
        self._rng = rng
        self._getrandbits = rng.getrandbits
        self.specs: dict[str, SymbolSpec] = specs if specs is not None else default_specs()
        self.fee_model: FeeModel = fee_model if fee_model is not None else DefaultFeeModel()
        self.fill_model: FillModel = fill_model if fill_model is not None else DefaultFillModel()
        self.fok_reject = fok_reject
        self._publish = bool(publish)
        self.margin_call_ratio = margin_call_ratio
        self.history = history
        self.engines: dict[str, SymbolEngine] = {s: SymbolEngine(spec, self) for s, spec in self.specs.items()}
        self.accounts: dict[str, Account] = {}
        self.mark_prices: dict[str, Decimal] = {}
        self.index_prices: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal] = {}
        self.algos: dict[str, dict[int, AlgoOrder]] = {s: {} for s in self.specs}
        # commission collected: the default fee model's in units of E8 (the engine adds its integers), other models'
        self.fees_e8 = 0
        self.fees_other = ZERO
        self.insurance_fund = ZERO
        self.now = clock.time_ms()
        self.out: list[Output] = []
        self.touched: dict[Account, dict[int, Position]] = {}
        self._marks: dict[str, Decimal] | None = None
        self.active: dict[SymbolEngine, None] = {}  # engines touched during the current step, in order
        self._order_seq = 8_000_000_000
        self._algo_seq = 1_000_000
        self._tran_seq = 9_000_000_000
        self._handlers: dict[type, Callable[[Account, Any], Any]] = {
            c.NewOrder: self._new_order,
            c.CancelOrder: self._cancel_order,
            c.ModifyOrder: self._modify_order,
            c.BatchNewOrders: self._batch_new,
            c.BatchModifyOrders: self._batch_modify,
            c.BatchCancelOrders: self._batch_cancel,
            c.CancelAllOrders: self._cancel_all,
            c.CountdownCancelAll: self._countdown,
            c.NewAlgoOrder: self._new_algo,
            c.CancelAlgoOrder: self._cancel_algo,
            c.CancelAllAlgoOrders: self._cancel_all_algos,
            c.ChangeLeverage: self._change_leverage,
            c.ChangeMarginType: self._change_margin_type,
            c.ChangePositionMode: self._change_position_mode,
            c.ChangeMultiAssetsMode: self._change_multi_assets,
            c.ModifyIsolatedMargin: self._modify_isolated_margin,
            c.Deposit: self._deposit,
            c.Withdraw: self._withdraw,
        }

    @property
    def clock(self) -> Clock:
        """The venue's time source (fixed at construction)."""
        return self._clock

    @property
    def rng(self) -> random.Random:
        """The venue's only randomness (fixed at construction)."""
        return self._rng

    @property
    def publish(self) -> bool:
        """Whether PublicTrade and BookDelta outputs are produced (settable)."""
        return self._publish

    @publish.setter
    def publish(self, value: bool) -> None:
        self._publish = bool(value)
        for e in self.engines.values():
            e.book.track = self._publish  # depth changes are recorded only for the deltas

    # --- accounts -----------------------------------------------------------------------------

    def open_account(
        self,
        account_id: str,
        balances: dict[str, Decimal] | None = None,
        *,
        unlimited: bool = False,
        emit_events: bool = True,
        maker_rate: Decimal = Decimal("0.0002"),
        taker_rate: Decimal = Decimal("0.0005"),
        default_leverage: int = 20,
    ) -> Account:
        """Create an account (a user or a simulated participant).

        Parameters
        ----------
        account_id : key for :meth:`execute` and the queries (the emulator maps API keys to it)
        balances : starting wallet per asset, e.g. ``{"USDT": Decimal(10_000)}``
        unlimited : no margin check and never liquidated (market-maker bots)
        emit_events : build user-data events for it
        maker_rate, taker_rate : commission rates
        default_leverage : leverage of every symbol until ChangeLeverage

        Raises
        ------
        ValueError
            The id is taken.
        """
        if account_id in self.accounts:
            raise ValueError(f"account {account_id!r} exists")
        acct = Account(
            account_id, balances, unlimited=unlimited, emit_events=emit_events, maker_rate=maker_rate,
            taker_rate=taker_rate, default_leverage=default_leverage, history=self.history,
        )
        for symbol in self.specs:
            acct.state(symbol)
        self.accounts[account_id] = acct
        return acct

    def account(self, account_id: str) -> Account:
        """The :class:`Account` (-2015 if unknown, as Binance answers an unknown API key)."""
        acct = self.accounts.get(account_id)
        if acct is None:
            raise reject(-2015)
        return acct

    # --- the two entry points -----------------------------------------------------------------

    def execute(self, account_id: str, command: c.Command) -> Result:
        """Run one command for ``account_id``.

        Parameters
        ----------
        account_id : an account from :meth:`open_account`
        command : any :data:`binfut.matching.commands.Command`

        Returns
        -------
        Result
            ``value`` is the REST answer (an :class:`OrderSnapshot`, :class:`AlgoOrderSnapshot`, a list
            of those or of :class:`ApiError` for batches, or a dict for account commands); ``outputs``
            are the user events (in :class:`Envelope`) and public outputs it caused, in order.

        Raises
        ------
        ApiError
            ``OrderRejected`` / ``InvalidRequest`` / ``UnknownOrder`` with Binance's code and message;
            nothing changed.
        """
        if foreign():  # the caller's decimal context is not the one binfut computes in (binfut._money)
            with localcontext(MONEY):
                return self.execute(account_id, command)
        acct = self.accounts.get(account_id)
        if acct is None:
            raise reject(-2015)
        handler = self._handlers.get(type(command))
        if handler is None:
            raise reject(-1014)
        self.now = self._time_ms()
        out: list[Output] = []
        self.out = out
        try:
            value = handler(acct, command)
        except ApiError:
            self.out = []
            self.active = {}
            raise
        self._settle()
        return Result(value, out)

    def on_market(self, event: c.MarketEvent) -> list[Output]:
        """Apply one market event and return the outputs it caused.

        ``Tick`` expires GTD orders, fires countdown cancel-all and re-checks margin; ``MarkPrice``
        moves the mark (MARK_PRICE triggers, margin calls, liquidations); ``Funding`` settles funding;
        ``Trade`` moves the last price (CONTRACT_PRICE triggers) and lets the fill model fill resting
        orders the real market traded through.
        """
        if foreign():
            with localcontext(MONEY):
                return self.on_market(event)
        self.now = event.time_ms
        out: list[Output] = []
        self.out = out
        if isinstance(event, c.Tick):
            self._tick(event.time_ms)
        elif isinstance(event, c.MarkPrice):
            self._spec(event.symbol)
            self.mark_prices[event.symbol] = event.mark_price
            self._marks = None
            if event.index_price is not None:
                self.index_prices[event.symbol] = event.index_price
            self._evaluate_triggers(event.symbol, "MARK_PRICE", event.mark_price)
            check_risk(self, [event.symbol])
        elif isinstance(event, c.Funding):
            self._spec(event.symbol)
            self.mark_prices[event.symbol] = event.mark_price
            self._marks = None
            self.funding_rates[event.symbol] = event.funding_rate
            settle_funding(self, event.symbol, event.funding_rate, event.mark_price)
            check_risk(self, [event.symbol])
        elif isinstance(event, c.Trade):
            self._external_trade(event)
        else:
            raise TypeError(f"not a market event: {event!r}")
        self._settle()
        return out

    # --- shared plumbing ----------------------------------------------------------------------

    @property
    def fees_collected(self) -> Decimal:
        """Commission collected by the venue (exact; the integers of the default fee model as E8)."""
        return self.fees_other + E8 * self.fees_e8

    def _spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            raise reject(-1121)
        return spec

    def marks(self) -> dict[str, Decimal]:
        """Effective mark price per symbol: the last MarkPrice event, else the last trade price.

        Cached until the next trade or mark price (do not mutate the returned dict).
        """
        out = self._marks
        if out is None:
            out = {s: e.spec.price(e.last_ticks) for s, e in self.engines.items() if e.last_ticks}
            out.update(self.mark_prices)
            self._marks = out
        return out

    def mark(self, symbol: str) -> Decimal | None:
        m = self.mark_prices.get(symbol)
        if m is not None:
            return m
        e = self.engines[symbol]
        return e.spec.price(e.last_ticks) if e.last_ticks else None

    def last_price_moved(self, symbol: str, price: Decimal) -> None:
        """A trade moved ``symbol``'s last price: keep :meth:`marks` current (copy on write)."""
        marks = self._marks
        if marks is not None and symbol not in self.mark_prices:
            marks = dict(marks)
            marks[symbol] = price
            self._marks = marks

    def next_tran_id(self) -> int:
        self._tran_seq += 1
        return self._tran_seq

    def touch(self, acct: Account, pos: Position) -> None:
        """Note that ``acct`` needs an ACCOUNT_UPDATE for ``pos`` at the end of this step."""
        if acct.emit:
            d = self.touched.get(acct)
            if d is None:
                d = self.touched[acct] = {}
            d[id(pos)] = pos

    def record_fill(
        self, acct: Account, order: Order, spec: SymbolSpec, trade_id: int, ticks: int, lots: int,
        fee: Decimal, realized: Decimal, is_maker: bool,
    ) -> None:
        """Keep the trade; its income rows are numbered here and made when read (``Account.income_records``)."""
        acct.trades.append(TradeRecord(trade_id, spec.symbol, order.order_id, order.side, ticks, lots, realized, fee, self.now,
                                       order.position_side, is_maker, self.fill_tran_id(realized, fee)))

    def fill_tran_id(self, realized: Decimal, fee: Decimal) -> int:
        """The transaction id of a fill's first income row, one id taken per row; 0 when it has none.

        The rows are the fill's REALIZED_PNL and COMMISSION, each only when not zero, in that order, as
        :meth:`~binfut.matching.records.TradeRecord.income_rows` makes them.
        """
        if not realized and not fee:
            return 0
        first = self._tran_seq + 1
        self._tran_seq += 2 if realized and fee else 1
        return first

    def _settle(self) -> None:
        """After a step: trigger cascade, ACCOUNT_UPDATEs, book deltas."""
        active = self.active
        if not active:
            if self.touched:
                self._account_updates("ORDER")
            return
        algos = self.algos
        for e in active:
            if e.price_moved:
                if algos[e.symbol]:
                    self._cascade()
                    active = self.active
                    break
                e.price_moved = False  # no algo order watches this symbol's last price
        if self.touched:
            self._account_updates("ORDER")
        if self._publish:
            now = self.now
            for e in active:
                book = e.book
                if book.update_id != e.prev_update_id:
                    bids, asks = book.take_changes()
                    price = e.price  # level prices repeat (cached); level quantities hardly do
                    step = e.spec.step_size
                    self.out.append(
                        BookDelta(
                            symbol=e.symbol, first_update_id=e.prev_update_id + 1, last_update_id=book.update_id,
                            prev_update_id=e.prev_update_id, event_time_ms=now, transact_time_ms=now,
                            bids=[(price(p), step * q) for p, q in bids],
                            asks=[(price(p), step * q) for p, q in asks],
                        )
                    )
                    e.prev_update_id = book.update_id
        else:
            for e in active:
                book = e.book
                if book.changed_bids or book.changed_asks:
                    book.changed_bids.clear()
                    book.changed_asks.clear()
                e.prev_update_id = book.update_id
        active.clear()

    def _cascade(self) -> None:
        """CONTRACT_PRICE triggers of every engine whose last price moved, until nothing moves."""
        active = self.active
        for _ in range(_CASCADE_LIMIT):
            moved = [e for e in active if e.price_moved]
            if not moved:
                break
            for e in moved:
                e.price_moved = False
                if self.algos[e.spec.symbol]:
                    self._evaluate_triggers(e.spec.symbol, "CONTRACT_PRICE", e.spec.price(e.last_ticks))
            active = self.active

    def _account_updates(self, reason: str, balance_change: Decimal = ZERO) -> None:
        marks = self.marks()
        for acct, positions in self.touched.items():
            self.out.append(_Envelope(account_id=acct.id, event=self.account_update(acct, list(positions.values()), reason, marks, balance_change)))
        self.touched = {}

    def account_update(
        self, acct: Account, positions: list[Position], reason: str, marks: dict[str, Decimal], balance_change: Decimal = ZERO
    ) -> AccountUpdate:
        """ACCOUNT_UPDATE of ``acct`` with the margin-asset balance and ``positions``."""
        now = self.now
        wallet = acct.balances.get("USDT", ZERO)
        # Account.cross_wallet, inlined.  A position that never held isolated margin has the ZERO
        # object itself, whose addition changes neither the sum nor its exponent: skipped, and
        # without any, the cross wallet is the wallet (wire() spells both alike).
        iso = ZERO
        for p in acct.positions.values():
            w = p.isolated_wallet
            if w is not ZERO:
                iso += w
        wallet_wire = wire(wallet)
        cross_wire = wire(wallet - iso) if iso is not ZERO else wallet_wire
        rows = []
        for pos in positions:
            spec = pos.spec
            symbol = spec.symbol
            amt = pos.amount
            entry = pos.entry
            if amt:
                mark = marks.get(symbol) or entry
                step = spec.step_size
                upnl = ((mark - entry) * amt * step).quantize(E8, ROUND_HALF_EVEN)  # Position.unrealized
                per_unit = pos.fees / (step * (amt if amt > 0 else -amt))  # Position.breakeven
                be = entry + per_unit if amt > 0 else entry - per_unit
            else:
                upnl = be = ZERO
            rows.append(
                _PositionUpdate(
                    symbol=symbol, position_amount=spec.step_size * amt,  # spec.qty (not cached: it moves)
                    # the entry and break-even: the tick's exponent or a smaller one (a sum takes the smaller)
                    entry_price=wire_e8(entry) if spec.plain_prices else wire(entry),
                    breakeven_price=wire_e8(be) if spec.plain_prices else wire(be), accumulated_realized=wire_e8(pos.realized),
                    unrealized_pnl=wire_e8(upnl), margin_type="isolated" if acct.states[symbol].isolated else "cross",
                    isolated_wallet=wire(pos.isolated_wallet), position_side=pos.side,
                )
            )
        return _AccountUpdate(
            event_time_ms=now, transaction_time_ms=now,
            data=_AccountUpdateData(
                reason=reason,
                balances=[_BalanceUpdate(
                    asset="USDT", wallet_balance=wallet_wire, cross_wallet_balance=cross_wire, balance_change=wire(balance_change),
                )],
                positions=rows,
            ),
        )

    # --- new orders ---------------------------------------------------------------------------

    def _new_client_id(self) -> str:
        return "sim_" + _bytes_hex(self._getrandbits(72).to_bytes(9, "big"))  # 18 hex digits, zero-padded

    def build_order(self, acct: Account, cmd: c.NewOrder, *, internal: bool = False) -> tuple[SymbolEngine, Order]:
        """Validate a LIMIT / MARKET order and build it (no state is changed here).

        ``internal`` orders (spawned by triggered algo orders) skip the client-id and open-order
        limit checks, which Binance applies to the algo order itself.  The checks run in Binance's
        order; the common case (no optional parameter) takes the shortest way through them.
        """
        f = _struct_astuple(cmd)  # one call instead of a dozen attribute reads on a non-native object
        symbol: str = f[_I_SYMBOL]
        spec = self.specs.get(symbol)
        if spec is None:
            raise reject(-1121)
        engine = self.engines[symbol]
        side: str = f[_I_SIDE]
        if side != "BUY" and side != "SELL":
            raise reject(-1117)
        otype: str = f[_I_TYPE]
        if otype != "LIMIT" and otype != "MARKET":
            if otype in CONDITIONAL_TYPES and not internal:
                raise reject(-4120)  # conditional types moved to the Algo Order API
            raise reject(-1116)
        is_buy = side == "BUY"
        hedge = acct.hedge
        ps: str = f[_I_POSITION_SIDE] or "BOTH"
        if hedge or ps != "BOTH":
            if ps not in ("BOTH", "LONG", "SHORT"):
                raise reject(-4060, "Invalid position side.")
            if hedge:
                if ps == "BOTH":
                    raise reject(-4061)
                if f[_I_REDUCE_ONLY] is not None and not internal:
                    raise not_required("reduceOnly")  # hedge mode: the position side says it all
            else:
                raise reject(-4061)
        if f[_I_CLOSE_POSITION] and not internal:
            raise not_required("closePosition")
        market = otype == "MARKET"
        tif: str | None = f[_I_TIME_IN_FORCE]
        if market:
            tif = "GTC"  # Binance reports MARKET orders with timeInForce GTC
        elif tif is None:
            raise missing("timeInForce")
        elif tif != "GTC" and tif not in _TIFS:
            raise reject(-1115)
        stp: str = f[_I_STP] or "NONE"
        if stp != "NONE" and stp not in _STP:
            raise reject(-5039, "Invalid self trade prevention mode.")
        pm: str = f[_I_PRICE_MATCH] or "NONE"
        if pm != "NONE" and pm not in _PRICE_MATCH:
            raise reject(-5037, "Invalid price match.")
        quantity: Decimal | None = f[_I_QUANTITY]
        if quantity is None:
            raise missing("quantity")
        lots = engine.lots(quantity, market)
        price: Decimal | None = f[_I_PRICE]
        ticks = 0
        if not market:
            if pm != "NONE":
                if price is not None:
                    raise not_required("price")
                ticks = self._match_price(engine, is_buy, pm)
            elif price is None:
                raise missing("price")
            else:
                ticks = engine.ticks(price)
        elif pm != "NONE":
            raise reject(-5038, "This order type does not support price match.")
        gtd = 0
        if tif == "GTD":
            good_till: int | None = f[_I_GOOD_TILL_DATE]
            if good_till is None:
                raise missing("goodTillDate")
            gtd = good_till // 1000 * 1000  # only second precision is kept
            if gtd <= self.now + _GTD_MIN_AHEAD_MS or gtd >= _GTD_MAX_MS:
                raise reject(-5040, "goodTillDate timestamp must be greater than the current time plus 600 seconds and smaller than 253402300799000")
        st = acct.states[symbol]
        cid: str | None = f[_I_CLIENT_ORDER_ID]
        if not internal:
            if cid is not None:
                if not _CID.match(cid):
                    raise reject(-4015, "Client order id is not valid.")
                if cid in acct.open_cids:
                    raise reject(-4116)
            if st.open_count >= spec.max_num_orders:
                raise reject(-2025)
        # reduce-only, and hedge-mode closing orders, must have a position to reduce (-2022)
        closing = (ps == "LONG" and not is_buy) or (ps == "SHORT" and is_buy)
        reduce_only = bool(f[_I_REDUCE_ONLY]) and not hedge
        if reduce_only or closing:
            pos = acct.positions.get((symbol, ps))
            amt = pos.amount if pos is not None else 0
            if (amt >= 0) if is_buy else (amt <= 0):
                raise reject(-2022)
        explicit = self.mark_prices.get(symbol)
        if not market:
            band = engine.band.get(explicit) if explicit is not None else engine.band_last.get(engine.last_ticks)
            if band is None:
                band = engine.price_band(explicit)
            if band is not None and not band[0] <= ticks <= band[1]:
                check_percent_price(spec, ticks, self.mark(symbol))  # raises with Binance's text
        if reduce_only or closing:
            bucket = NO_MARGIN
        else:
            ref_ticks = ticks
            if market:
                book = engine.book
                prices = book.ask_prices if is_buy else book.bid_prices
                if prices:
                    ref_ticks = prices[-1]  # the best opposite price
                else:
                    mark = self.mark(symbol)
                    ref_ticks = int(mark * spec.inv_tick) if mark is not None else 0
            if ref_ticks and ref_ticks * lots < spec.min_notional_units:
                check_min_notional(spec, spec.price(ref_ticks), lots)  # raises -4164
            if hedge:
                bucket = BUY_LONG if is_buy else SELL_SHORT
            else:
                bucket = BUY_BOTH if is_buy else SELL_BOTH
            if ref_ticks and not acct.unlimited:
                check_order_margin(acct, spec, st, bucket, lots, lots * ref_ticks, self.specs, self.marks(), 0 if explicit is not None else engine.last_ticks)
        self._order_seq += 1
        if cid is None:
            cid = "sim_" + _bytes_hex(self._getrandbits(72).to_bytes(9, "big"))  # _new_client_id, inlined
        order = Order(self._order_seq, cid, acct, symbol, side, ps, otype, tif, ticks, lots, reduce_only, stp, self.now)
        order.margin_key = bucket
        if pm != "NONE":
            order.price_match = pm
        if gtd:
            order.good_till_date = gtd
        return engine, order

    def _match_price(self, engine: SymbolEngine, is_buy: bool, pm: str) -> int:
        """priceMatch: OPPONENT[_N] = the N-th best opposite level, QUEUE[_N] = the N-th best own side."""
        book = engine.book
        opponent = pm.startswith("OPPONENT")
        n = int(pm.rsplit("_", 1)[1]) if "_" in pm else 1
        own_bids = is_buy != opponent  # the side whose levels we read
        prices = book.bid_prices if own_bids else book.ask_prices
        if not prices:
            raise reject(-5037, "Invalid price match.")
        idx = min(n, len(prices)) - 1
        return prices[-1 - idx]  # each side's best price is last

    def _new_order(self, acct: Account, cmd: c.NewOrder) -> Any:
        engine, order = self.build_order(acct, cmd)
        engine.submit(order, self.fok_reject)
        return LazyOrder(engine.spec, order, cmd.new_order_resp_type != "RESULT")

    # --- cancel / modify ----------------------------------------------------------------------

    def _find_open(self, acct: Account, symbol: str, order_id: int | None, cid: str | None, code: int) -> Order:
        if order_id is None and cid is None:
            raise missing("orderId")
        order = acct.open_orders.get(order_id) if order_id is not None else acct.open_cids.get(cid or "")
        if order is None or order.symbol != symbol:
            raise reject(code)
        return order

    def _cancel_order(self, acct: Account, cmd: c.CancelOrder) -> Any:
        symbol = cmd.symbol
        spec = self.specs.get(symbol)
        if spec is None:
            raise reject(-1121)
        oid = cmd.order_id
        if oid is not None:
            order = acct.open_orders.get(oid)
            if order is None or order.symbol != symbol:
                raise reject(-2011)  # _find_open's answer, without its frame in the traceback
        else:
            order = self._find_open(acct, symbol, None, cmd.orig_client_order_id, -2011)
        self.engines[symbol].close(order, Transition.CANCEL)
        return LazyOrder(spec, order)

    def _modify_order(self, acct: Account, cmd: c.ModifyOrder) -> Any:
        spec = self._spec(cmd.symbol)
        engine = self.engines[cmd.symbol]
        order = self._find_open(acct, cmd.symbol, cmd.order_id, cmd.orig_client_order_id, -2013)
        if order.type != "LIMIT":
            raise reject(-5025, "Only limit order is supported.")
        if cmd.side not in _SIDES:
            raise reject(-1117)
        if cmd.side != order.side:
            raise reject(-1130, "Data sent for parameter 'side' is not valid.")
        if cmd.quantity is None:
            raise missing("quantity")
        lots = to_lots(spec, cmd.quantity)
        pm = cmd.price_match or "NONE"
        if pm not in _PRICE_MATCH:
            raise reject(-5037, "Invalid price match.")
        if pm != "NONE":
            if cmd.price is not None:
                raise not_required("price")
            ticks = self._match_price(engine, order.is_buy, pm)
        elif cmd.price is None:
            raise missing("price")
        else:
            ticks = to_ticks(spec, cmd.price)
        if ticks == order.price and lots == order.qty:
            raise reject(-5027)
        check_percent_price(spec, ticks, self.mark(spec.symbol))
        if order.margin_key and lots * ticks > order.qty * order.price and lots > order.filled:
            st = acct.states[spec.symbol]
            extra_lots = (lots - order.qty)
            extra_units = lots * ticks - order.qty * order.price
            check_order_margin(acct, spec, st, order.margin_key, max(extra_lots, 0), extra_units, self.specs, self.marks())
        engine.amend(order, ticks, lots)
        return LazyOrder(spec, order)

    def _batch(self, acct: Account, items: list[Any], handler: Callable[[Account, Any], Any], limit: int) -> list[Any]:
        if not items or len(items) > limit:
            raise reject(-4082 if handler == self._new_order else -1130, "Invalid number of batch place orders.")
        results: list[Any] = []
        for item in items:
            mark = len(self.out)
            try:
                value = handler(acct, item)
                results.append(value.build() if isinstance(value, (Lazy, LazyOrder)) else value)
            except ApiError as exc:
                del self.out[mark:]
                results.append(exc)
        return results

    def _batch_new(self, acct: Account, cmd: c.BatchNewOrders) -> list[Any]:
        return self._batch(acct, cmd.orders, self._new_order, 5)

    def _batch_modify(self, acct: Account, cmd: c.BatchModifyOrders) -> list[Any]:
        return self._batch(acct, cmd.orders, self._modify_order, 5)

    def _batch_cancel(self, acct: Account, cmd: c.BatchCancelOrders) -> list[Any]:
        self._spec(cmd.symbol)
        ids: list[c.CancelOrder] = [c.CancelOrder(symbol=cmd.symbol, order_id=i) for i in cmd.order_id_list or ()]
        ids += [c.CancelOrder(symbol=cmd.symbol, orig_client_order_id=s) for s in cmd.orig_client_order_id_list or ()]
        if not ids:
            raise missing("orderIdList")
        return self._batch(acct, ids, self._cancel_order, 10)

    def _cancel_all(self, acct: Account, cmd: c.CancelAllOrders) -> Any:
        self._spec(cmd.symbol)
        self.engines[cmd.symbol].cancel_all(acct)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _countdown(self, acct: Account, cmd: c.CountdownCancelAll) -> Any:
        self._spec(cmd.symbol)
        if cmd.countdown_time < 0:
            raise reject(-1130, "Data sent for parameter 'countdownTime' is not valid.")
        if cmd.countdown_time == 0:
            acct.countdowns.pop(cmd.symbol, None)
        else:
            acct.countdowns[cmd.symbol] = (cmd.countdown_time, self.now + cmd.countdown_time)
        return {"symbol": cmd.symbol, "countdownTime": str(cmd.countdown_time)}

    # --- account commands ---------------------------------------------------------------------

    def _change_leverage(self, acct: Account, cmd: c.ChangeLeverage) -> Any:
        spec = self._spec(cmd.symbol)
        if not 1 <= cmd.leverage <= spec.max_leverage:
            raise reject(-4028, f"Leverage {cmd.leverage} is not valid")
        cap = spec.max_notional(cmd.leverage)
        mark = self.mark(spec.symbol)
        for side in (PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT):
            pos = acct.positions.get((spec.symbol, side))
            if pos is not None and pos.amount and pos.size * (mark or pos.entry) > cap:
                raise reject(-2027)
        st = acct.states[spec.symbol]
        st.leverage = cmd.leverage
        if acct.emit:
            self.out.append(Envelope(account_id=acct.id, event=AccountConfigUpdate(
                event_time_ms=self.now, transaction_time_ms=self.now,
                leverage=LeverageConfig(symbol=spec.symbol, leverage=cmd.leverage))))
        return {"leverage": cmd.leverage, "maxNotionalValue": str(cap), "symbol": spec.symbol}

    def _change_margin_type(self, acct: Account, cmd: c.ChangeMarginType) -> Any:
        spec = self._spec(cmd.symbol)
        mt = str(cmd.margin_type).upper()
        if mt == "CROSS":
            mt = "CROSSED"
        if mt not in ("ISOLATED", "CROSSED"):
            raise reject(-1130, "Data sent for parameter 'marginType' is not valid.")
        st = acct.states[spec.symbol]
        if st.isolated == (mt == "ISOLATED"):
            raise reject(-4046)
        if st.open_count or any(a.symbol == spec.symbol for a in acct.algos.values()):
            raise reject(-4047)
        if any(p.amount for (s, _), p in acct.positions.items() if s == spec.symbol):
            raise reject(-4048)
        st.isolated = mt == "ISOLATED"
        return {"code": 200, "msg": "success"}

    def _change_position_mode(self, acct: Account, cmd: c.ChangePositionMode) -> Any:
        if acct.hedge == cmd.dual_side_position:
            raise reject(-4059)
        if acct.open_orders or acct.algos:
            raise reject(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p.amount for p in acct.positions.values()):
            raise reject(-4068, "Position side cannot be changed if there exists position.")
        acct.hedge = cmd.dual_side_position
        return {"code": 200, "msg": "success"}

    def _change_multi_assets(self, acct: Account, cmd: c.ChangeMultiAssetsMode) -> Any:
        if not cmd.multi_assets_margin:
            raise reject(-4171, "Adjusted multi-assets mode is same as current multi-assets mode.")
        raise reject(-1020, "This operation is not supported.")  # the simulator is single-asset margin

    def _modify_isolated_margin(self, acct: Account, cmd: c.ModifyIsolatedMargin) -> Any:
        spec = self._spec(cmd.symbol)
        st = acct.states[spec.symbol]
        ps = cmd.position_side or "BOTH"
        if (ps == "BOTH") == acct.hedge:
            raise reject(-4061)
        if cmd.type not in (1, 2):
            raise reject(-1130, "Data sent for parameter 'type' is not valid.")
        if cmd.amount <= 0:
            raise reject(-4055, "Amount must be positive.")
        if not st.isolated:
            raise reject(-4049, "Add margin only support for isolated position.")
        pos = acct.positions.get((spec.symbol, ps))
        if pos is None or not pos.amount:
            raise reject(-4054, "Cannot add position margin: position is 0.")
        marks = self.marks()
        if cmd.type == 1:
            if cmd.amount > available_balance(acct, self.specs, marks):
                raise reject(-4050, "Cross balance insufficient.")
            pos.isolated_wallet += cmd.amount
        else:
            mark = marks.get(spec.symbol) or pos.entry
            # what may leave: isolated wallet + uPnL above the position's initial margin
            free = pos.isolated_wallet + min(pos.unrealized(mark), ZERO) - pos.size * mark / st.leverage
            if cmd.amount > free:
                raise reject(-4051, "Isolated balance insufficient.")
            pos.isolated_wallet -= cmd.amount
        if acct.emit:
            self.out.append(Envelope(account_id=acct.id, event=self.account_update(acct, [pos], "MARGIN_TRANSFER", marks)))
        return {"amount": float(cmd.amount), "code": 200, "msg": "Successfully modify position margin.", "type": cmd.type}

    def _deposit(self, acct: Account, cmd: c.Deposit) -> Any:
        if cmd.amount <= 0:
            raise reject(-4055, "Amount must be positive.")
        acct.balances[cmd.asset] = acct.balances.get(cmd.asset, ZERO) + cmd.amount
        acct.income.append(IncomeRecord(self.now, "", "TRANSFER", cmd.amount, cmd.asset, "DEPOSIT", self.next_tran_id()))
        if acct.emit:
            self.out.append(Envelope(account_id=acct.id, event=self.account_update(acct, [], "DEPOSIT", self.marks(), cmd.amount)))
        return {"tranId": self._tran_seq}

    def _withdraw(self, acct: Account, cmd: c.Withdraw) -> Any:
        if cmd.amount <= 0:
            raise reject(-4055, "Amount must be positive.")
        if cmd.asset == "USDT":
            limit = min(available_balance(acct, self.specs, self.marks()), acct.cross_wallet())
        else:
            limit = acct.balances.get(cmd.asset, ZERO)
        if cmd.amount > limit:
            raise reject(-2018)
        acct.balances[cmd.asset] = acct.balances.get(cmd.asset, ZERO) - cmd.amount
        acct.income.append(IncomeRecord(self.now, "", "TRANSFER", -cmd.amount, cmd.asset, "WITHDRAW", self.next_tran_id()))
        if acct.emit:
            self.out.append(Envelope(account_id=acct.id, event=self.account_update(acct, [], "WITHDRAW", self.marks(), -cmd.amount)))
        return {"tranId": self._tran_seq}

    # --- market events ------------------------------------------------------------------------

    def _tick(self, now: int) -> None:
        for e in self.engines.values():
            if e.gtd:
                e.expire_gtd(now)
        for acct in self.accounts.values():
            if acct.countdowns:
                for symbol, (_, deadline) in list(acct.countdowns.items()):
                    if deadline <= now:
                        del acct.countdowns[symbol]
                        self.engines[symbol].cancel_all(acct)
        check_risk(self, list(self.specs))

    def _external_trade(self, ev: c.Trade) -> None:
        """A real-market print: last price, CONTRACT_PRICE triggers, fills of resting orders."""
        spec = self._spec(ev.symbol)
        engine = self.engines[ev.symbol]
        ticks = int((ev.price * spec.inv_tick).to_integral_value(ROUND_HALF_EVEN))
        available = int(ev.quantity * spec.inv_step)
        # The aggressor sold into bids (buyer is maker) or bought from asks.
        hits_bids = ev.buyer_is_maker
        book = engine.book
        prices = book.bid_prices if hits_bids else book.ask_prices
        levels = book.bids if hits_bids else book.asks
        for p in list(reversed(prices)):  # best first
            if (p < ticks) if hits_bids else (p > ticks):
                break
            through = p != ticks
            lvl = levels.get(p)
            if lvl is None:  # emptied by an earlier fill of this trade (reduce-only sweep)
                continue
            for order in list(lvl.orders):
                if available <= 0:
                    break
                if not order.in_book:
                    continue
                lots = self.fill_model.fill_on_trade(order.qty - order.filled, through, available, self._rng)
                if order.reduce_only or (order.margin_key == 0 and order.account.hedge):
                    lots = min(lots, engine.reduce_cap(order))
                if lots > 0:
                    engine.fill_external(order, lots)
                    available -= lots
        engine.last_ticks = ticks
        engine.price_moved = True
        self._marks = None
        self.active[engine] = None
