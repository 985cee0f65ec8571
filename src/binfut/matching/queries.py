"""Read-only queries of the simulated venue, for the REST layer (mixed into ``SimulatedVenue``).

Rule kept here: nothing in this module mutates state or emits outputs; every answer is built fresh
as the camelCase Structs of :mod:`binfut.matching.outputs`, so the REST layer encodes it as it is.
Every public query is :func:`~binfut._money.pinned`: it computes in binfut's decimal context, not the caller's.

References: "Query Order", "Current All Open Orders", "All Orders", "Position Information V2/V3",
"Account Information V2/V3", "Futures Account Balance V2/V3", "Account Trade List",
"Get Income History", "Notional and Leverage Brackets", "User Commission Rate",
"Order Book" in the USD-M API docs.
"""

from __future__ import annotations

from abc import abstractmethod
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from mypy_extensions import trait

from binfut._money import E8, pinned
from binfut.enums import PositionSide
from binfut.matching.account import (
    ZERO,
    Account,
    available_balance,
    cross_totals,
    liquidation_price,
    maint_margin,
    order_margin,
    reject,
)
from binfut.matching.builders import order_snapshot, plain, wire
from binfut.matching.outputs import (
    AccountAsset,
    AccountInfo,
    AccountPositionInfo,
    Balance,
    CommissionRate,
    Income,
    LeverageBracket,
    OrderSnapshot,
    PositionRisk,
    SymbolBrackets,
    UserTrade,
)
from binfut.matching.triggers import algo_snapshot

if TYPE_CHECKING:
    from binfut.matching.engine import SymbolEngine
    from binfut.matching.instruments import SymbolSpec
    from binfut.matching.orderbook import Order

__all__ = ["VenueQueries"]



@trait
class VenueQueries:
    """Query methods; ``SimulatedVenue`` provides the state they read."""

    accounts: dict[str, Account]
    specs: dict[str, SymbolSpec]
    engines: dict[str, SymbolEngine]
    now: int

    @abstractmethod
    def account(self, account_id: str) -> Account:  # provided by SimulatedVenue
        ...

    @abstractmethod
    def marks(self) -> dict[str, Decimal]:  # provided by SimulatedVenue
        ...

    @abstractmethod
    def _spec(self, symbol: str) -> SymbolSpec:  # provided by SimulatedVenue
        ...

    # --- orders -------------------------------------------------------------------------------

    @pinned
    def open_orders(self, account_id: str, symbol: str | None = None) -> list[OrderSnapshot]:
        """Open orders of the account (all symbols when ``symbol`` is None)."""
        acct = self.account(account_id)
        return [order_snapshot(self.specs[o.symbol], o) for o in acct.open_orders.values() if symbol is None or o.symbol == symbol]

    def _lookup(self, acct: Account, order_id: int | None, client_order_id: str | None) -> Order | None:
        if order_id is not None:
            return acct.open_orders.get(order_id) or acct.closed.get(order_id)
        if client_order_id is not None:
            o = acct.open_cids.get(client_order_id)
            if o is not None:
                return o
            for o in reversed(acct.closed.values()):
                if o.client_order_id == client_order_id:
                    return o
        return None

    @pinned
    def get_order(
        self, account_id: str, symbol: str, order_id: int | None = None, orig_client_order_id: str | None = None
    ) -> OrderSnapshot:
        """One order, open or recently closed (``GET /fapi/v1/order``).

        Raises
        ------
        UnknownOrder
            -2013 when no such order is known.
        InvalidRequest
            -1102 when neither id is given.
        """
        acct = self.account(account_id)
        if order_id is None and orig_client_order_id is None:
            raise reject(-1102, "Mandatory parameter 'orderId' was not sent, was empty/null, or malformed.")
        order = self._lookup(acct, order_id, orig_client_order_id)
        if order is None or order.symbol != symbol:
            raise reject(-2013)
        return order_snapshot(self.specs[symbol], order)

    @pinned
    def all_orders(self, account_id: str, symbol: str, limit: int = 500) -> list[OrderSnapshot]:
        """Open and kept closed orders of ``symbol``, oldest first (``GET /fapi/v1/allOrders``)."""
        acct = self.account(account_id)
        spec = self._spec(symbol)
        orders = [o for o in acct.closed.values() if o.symbol == symbol]
        orders += [o for o in acct.open_orders.values() if o.symbol == symbol]
        orders.sort(key=lambda o: o.order_id)
        return [order_snapshot(spec, o) for o in orders[-limit:]]

    @pinned
    def open_algo_orders(self, account_id: str, symbol: str | None = None) -> list[Any]:
        acct = self.account(account_id)
        return [algo_snapshot(a, self.specs[a.symbol]) for a in acct.algos.values() if symbol is None or a.symbol == symbol]

    @pinned
    def get_algo_order(self, account_id: str, algo_id: int | None = None, client_algo_id: str | None = None) -> Any:
        """One algo order, open or kept closed (-4129 if unknown)."""
        acct = self.account(account_id)
        algo = None
        if algo_id is not None:
            algo = acct.algos.get(algo_id) or acct.algos_closed.get(algo_id)
        elif client_algo_id is not None:
            algo = acct.algo_cids.get(client_algo_id) or next(
                (a for a in reversed(acct.algos_closed.values()) if a.client_algo_id == client_algo_id), None
            )
        if algo is None:
            raise reject(-4129, "Algo order does not exist.")
        return algo_snapshot(algo, self.specs[algo.symbol])

    @pinned
    def all_algo_orders(self, account_id: str, symbol: str, limit: int = 500) -> list[Any]:
        acct = self.account(account_id)
        algos = [a for a in acct.algos_closed.values() if a.symbol == symbol]
        algos += [a for a in acct.algos.values() if a.symbol == symbol]
        algos.sort(key=lambda a: a.algo_id)
        return [algo_snapshot(a, self.specs[symbol]) for a in algos[-limit:]]

    # --- positions and account ----------------------------------------------------------------

    @pinned
    def position_risk(self, account_id: str, symbol: str | None = None, include_empty: bool = False) -> list[PositionRisk]:
        """``positionRisk`` rows; v3 lists only open positions, v2 everything (``include_empty``)."""
        acct = self.account(account_id)
        marks = self.marks()
        sides = (PositionSide.LONG, PositionSide.SHORT) if acct.hedge else (PositionSide.BOTH,)
        out = []
        for sym, spec in self.specs.items():
            if symbol is not None and sym != symbol:
                continue
            st = acct.states[sym]
            for side in sides:
                pos = acct.positions.get((sym, side))
                if (pos is None or not pos.amount) and not include_empty:
                    continue
                pos = pos or acct.position(spec, side)
                mark = marks.get(sym) or pos.entry
                notional = Decimal(pos.amount) * spec.step_size * mark
                upnl = pos.unrealized(mark).quantize(E8, ROUND_HALF_EVEN)
                pim = (abs(notional) / st.leverage).quantize(E8, ROUND_HALF_EVEN)
                oim = order_margin(acct, spec, st).quantize(E8, ROUND_HALF_EVEN)
                u = st.units
                out.append(PositionRisk(
                    symbol=sym, position_side=side, position_amt=spec.qty(pos.amount), entry_price=wire(pos.entry),
                    break_even_price=wire(pos.breakeven()), mark_price=wire(mark), un_realized_profit=wire(upnl),
                    liquidation_price=wire(liquidation_price(acct, spec, side, marks)),
                    isolated_margin=wire((pos.isolated_wallet + upnl) if st.isolated else ZERO),
                    notional=wire(notional.quantize(E8, ROUND_HALF_EVEN)), margin_asset="USDT", isolated_wallet=wire(pos.isolated_wallet),
                    initial_margin=wire(pim + oim), maint_margin=wire(maint_margin(pos, mark)[0].quantize(E8, ROUND_HALF_EVEN)),
                    position_initial_margin=wire(pim), open_order_initial_margin=wire(oim), adl=0,
                    bid_notional=wire(Decimal(u[1] + u[3]) * spec.unit), ask_notional=wire(Decimal(u[2] + u[4]) * spec.unit),
                    update_time=pos.update_time, leverage=str(st.leverage), max_notional_value=spec.max_notional(st.leverage),
                    margin_type="isolated" if st.isolated else "cross", is_auto_add_margin="false",
                ))
        return out

    def _totals(self, acct: Account) -> dict[str, Decimal]:
        marks = self.marks()
        wallet, cross_upnl, cross_im, cross_mm = cross_totals(acct, marks)
        upnl = ZERO
        pos_im = ZERO
        mm = ZERO
        for (sym, _), pos in acct.positions.items():
            if not pos.amount:
                continue
            st = acct.states[sym]
            mark = marks.get(sym) or pos.entry
            upnl += pos.unrealized(mark)
            pos_im += pos.size * mark / st.leverage
            mm += maint_margin(pos, mark)[0]
        oim = sum((order_margin(acct, self.specs[s], st) for s, st in acct.states.items() if st.open_count), ZERO)
        avail = available_balance(acct, self.specs, marks)
        total_wallet = acct.balances.get("USDT", ZERO)
        return {
            "wallet": total_wallet, "cross_wallet": wallet, "cross_upnl": cross_upnl, "upnl": upnl,
            "pos_im": pos_im, "oim": oim, "mm": mm, "available": avail,
            "max_withdraw": max(ZERO, min(avail, wallet)),
        }

    @pinned
    def account_info(self, account_id: str) -> AccountInfo:
        """``GET /fapi/v2|v3/account`` (USDT is the only margin asset; others listed with wallet only)."""
        acct = self.account(account_id)
        t = {k: plain(v.quantize(E8, ROUND_HALF_EVEN)) for k, v in self._totals(acct).items()}
        marks = self.marks()
        assets = []
        for asset, bal in acct.balances.items():
            usdt = asset == "USDT"
            assets.append(AccountAsset(
                asset=asset, wallet_balance=wire(bal), unrealized_profit=wire(t["upnl"]) if usdt else ZERO,
                margin_balance=wire(bal + t["upnl"]) if usdt else wire(bal), maint_margin=wire(t["mm"]) if usdt else ZERO,
                initial_margin=wire(t["pos_im"] + t["oim"]) if usdt else ZERO,
                position_initial_margin=wire(t["pos_im"]) if usdt else ZERO, open_order_initial_margin=wire(t["oim"]) if usdt else ZERO,
                cross_wallet_balance=wire(t["cross_wallet"]) if usdt else wire(bal), cross_un_pnl=wire(t["cross_upnl"]) if usdt else ZERO,
                available_balance=wire(t["available"]) if usdt else wire(bal), max_withdraw_amount=wire(t["max_withdraw"]) if usdt else wire(bal),
                margin_available=usdt, update_time=self.now,
            ))
        positions = []
        for r in self.position_risk(account_id):
            st = acct.states[r.symbol]
            positions.append(AccountPositionInfo(
                symbol=r.symbol, position_side=r.position_side, position_amt=r.position_amt,
                unrealized_profit=r.un_realized_profit, isolated_margin=r.isolated_margin, notional=r.notional,
                isolated_wallet=r.isolated_wallet, initial_margin=r.initial_margin, maint_margin=r.maint_margin,
                update_time=r.update_time, leverage=str(st.leverage), isolated=st.isolated, entry_price=r.entry_price,
                break_even_price=r.break_even_price, max_notional=r.max_notional_value,
                position_initial_margin=r.position_initial_margin, open_order_initial_margin=r.open_order_initial_margin,
                bid_notional=r.bid_notional, ask_notional=r.ask_notional,
            ))
        del marks
        return AccountInfo(
            fee_tier=0, can_trade=True, can_deposit=True, can_withdraw=True, multi_assets_margin=False, trade_group_id=-1,
            update_time=0, total_initial_margin=wire(t["pos_im"] + t["oim"]), total_maint_margin=wire(t["mm"]),
            total_wallet_balance=wire(t["wallet"]), total_unrealized_profit=wire(t["upnl"]),
            total_margin_balance=wire(t["wallet"] + t["upnl"]), total_position_initial_margin=wire(t["pos_im"]),
            total_open_order_initial_margin=wire(t["oim"]), total_cross_wallet_balance=wire(t["cross_wallet"]),
            total_cross_un_pnl=wire(t["cross_upnl"]), available_balance=wire(t["available"]), max_withdraw_amount=wire(t["max_withdraw"]),
            assets=assets, positions=positions,
        )

    @pinned
    def balances(self, account_id: str) -> list[Balance]:
        """``GET /fapi/v2|v3/balance``."""
        acct = self.account(account_id)
        t = {k: plain(v.quantize(E8, ROUND_HALF_EVEN)) for k, v in self._totals(acct).items()}
        out = []
        for asset, bal in acct.balances.items():
            usdt = asset == "USDT"
            out.append(Balance(
                account_alias="SgsR", asset=asset, balance=wire(bal),
                cross_wallet_balance=wire(t["cross_wallet"]) if usdt else wire(bal), cross_un_pnl=wire(t["cross_upnl"]) if usdt else ZERO,
                available_balance=wire(t["available"]) if usdt else wire(bal), max_withdraw_amount=wire(t["max_withdraw"]) if usdt else wire(bal),
                margin_available=usdt, update_time=self.now,
            ))
        return out

    @pinned
    def user_trades(
        self, account_id: str, symbol: str, limit: int = 500, start_time: int | None = None,
        end_time: int | None = None, from_id: int | None = None,
    ) -> list[UserTrade]:
        """``GET /fapi/v1/userTrades`` rows, oldest first."""
        acct = self.account(account_id)
        spec = self.specs.get(symbol)
        rows = []
        for t in acct.trades:
            if t.symbol != symbol or spec is None or (from_id is not None and t.trade_id < from_id):
                continue
            time = t.time
            if (start_time is not None and time < start_time) or (end_time is not None and time > end_time):
                continue
            rows.append(UserTrade(
                buyer=t.side == "BUY", commission=wire(t.fee), commission_asset="USDT", id=t.trade_id, maker=t.is_maker,
                order_id=t.order_id, price=spec.price(t.ticks), qty=spec.qty(t.lots), quote_qty=spec.notional(t.ticks * t.lots),
                realized_pnl=wire(t.realized), side=t.side, position_side=t.position_side, symbol=symbol, time=time,
            ))
        return rows[:limit] if from_id is not None else rows[-limit:]

    @pinned
    def income(
        self, account_id: str, symbol: str | None = None, income_type: str | None = None,
        start_time: int | None = None, end_time: int | None = None, limit: int = 100,
    ) -> list[Income]:
        """``GET /fapi/v1/income`` rows, oldest first."""
        acct = self.account(account_id)
        rows = []
        for r in acct.income_records():
            kind = r.kind
            if (symbol is not None and r.symbol != symbol) or (income_type is not None and kind != income_type):
                continue
            time = r.time
            if (start_time is not None and time < start_time) or (end_time is not None and time > end_time):
                continue
            rows.append(Income(symbol=r.symbol, income_type=kind, income=wire(r.amount), asset=r.asset,
                               info=r.info if kind == "TRANSFER" else "", time=time, tran_id=r.tran_id,
                               trade_id=r.info if kind in ("REALIZED_PNL", "COMMISSION", "INSURANCE_CLEAR") else ""))
        return rows[-limit:]

    # --- reference data -----------------------------------------------------------------------

    @pinned
    def leverage_brackets(self, symbol: str | None = None) -> list[SymbolBrackets]:
        """``GET /fapi/v1/leverageBracket``."""
        specs = [self._spec(symbol)] if symbol is not None else list(self.specs.values())
        return [
            SymbolBrackets(symbol=s.symbol, brackets=[
                LeverageBracket(bracket=b.bracket, initial_leverage=b.initial_leverage, notional_cap=b.notional_cap,
                                notional_floor=b.notional_floor, maint_margin_ratio=b.maint_margin_ratio, cum=wire(b.maint_amount))
                for b in s.brackets])
            for s in specs
        ]

    @pinned
    def commission_rate(self, account_id: str, symbol: str) -> CommissionRate:
        acct = self.account(account_id)
        self._spec(symbol)
        return CommissionRate(symbol=symbol, maker_commission_rate=acct.maker_rate, taker_commission_rate=acct.taker_rate)

    @pinned
    def position_mode(self, account_id: str) -> dict[str, bool]:
        """``GET /fapi/v1/positionSide/dual``."""
        return {"dualSidePosition": self.account(account_id).hedge}

    @pinned
    def multi_assets_mode(self, account_id: str) -> dict[str, bool]:
        """``GET /fapi/v1/multiAssetsMargin`` (always false in the simulator)."""
        self.account(account_id)
        return {"multiAssetsMargin": False}

    @pinned
    def leverage(self, account_id: str, symbol: str) -> int:
        return self.account(account_id).states[self._spec(symbol).symbol].leverage

    # --- market data --------------------------------------------------------------------------

    @pinned
    def depth(self, symbol: str, limit: int = 1000) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """``(lastUpdateId, bids, asks)``: consistent with the BookDelta stream's update ids."""
        spec = self._spec(symbol)
        book = self.engines[symbol].book
        bids, asks = book.depth(limit)
        return (
            book.update_id,
            [(spec.price(p), spec.qty(q)) for p, q in bids],
            [(spec.price(p), spec.qty(q)) for p, q in asks],
        )

    @pinned
    def best_bid_ask(self, symbol: str) -> tuple[Decimal | None, Decimal, Decimal | None, Decimal]:
        """``(bid price, bid qty, ask price, ask qty)``; prices are None on an empty side."""
        spec = self._spec(symbol)
        book = self.engines[symbol].book
        b = book.best_bid()
        a = book.best_ask()
        return (
            spec.price(b) if b is not None else None, spec.qty(book.level_qty(True, b) if b is not None else 0),
            spec.price(a) if a is not None else None, spec.qty(book.level_qty(False, a) if a is not None else 0),
        )

    @pinned
    def last_price(self, symbol: str) -> Decimal | None:
        e = self.engines[self._spec(symbol).symbol]
        return e.spec.price(e.last_ticks) if e.last_ticks else None
