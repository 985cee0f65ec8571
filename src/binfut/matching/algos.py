"""Algo-order commands and the trigger cascade of the venue (mixed into ``SimulatedVenue``).

Owns ``NewAlgoOrder`` / ``CancelAlgoOrder`` / ``CancelAllAlgoOrders`` handling and what happens when a
condition is met: the algo order goes NEW -> TRIGGERING, the order it spawns is validated like any
new order (reduce-only, margin, post-only, FOK), then TRIGGERED (placed in the matching engine) and
FINISHED once that order is closed -- or REJECTED with Binance's message in ``rm``.  Every status
change goes through :func:`binfut.matching.lifecycle.advance_algo` and emits ALGO_UPDATE.
The conditions themselves live in :mod:`binfut.matching.triggers`.
"""

from __future__ import annotations

from abc import abstractmethod
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mypy_extensions import trait

from binfut.errors import ApiError
from binfut.matching import commands as c
from binfut.matching.account import Account, reject
from binfut.matching.filters import missing, not_required, to_lots, to_ticks
from binfut.matching.lifecycle import AlgoTransition, advance_algo
from binfut.matching.orderbook import Order
from binfut.matching.outputs import Envelope
from binfut.matching.triggers import (
    CONDITIONAL_TYPES,
    AlgoOrder,
    algo_event,
    algo_snapshot,
    immediate_trigger,
    should_trigger,
)

if TYPE_CHECKING:
    from binfut.matching.engine import SymbolEngine
    from binfut.matching.instruments import SymbolSpec
    from binfut.matching.outputs import Output

__all__ = ["AlgoOrders"]

_SIDES = frozenset({"BUY", "SELL"})
_TIFS = frozenset({"GTC", "IOC", "FOK", "GTX", "GTD"})
_STP = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})
_WORKING = frozenset({"MARK_PRICE", "CONTRACT_PRICE"})


@trait
class AlgoOrders:
    """Algo-order handlers; ``SimulatedVenue`` provides the state they use."""

    specs: dict[str, SymbolSpec]
    engines: dict[str, SymbolEngine]
    algos: dict[str, dict[int, AlgoOrder]]
    mark_prices: dict[str, Decimal]
    out: list[Output]
    now: int
    _algo_seq: int

    @abstractmethod
    def _spec(self, symbol: str) -> SymbolSpec:  # provided by SimulatedVenue
        ...

    @abstractmethod
    def mark(self, symbol: str) -> Decimal | None:  # provided by SimulatedVenue
        ...

    @abstractmethod
    def _new_client_id(self) -> str:  # provided by SimulatedVenue
        ...

    @abstractmethod
    def build_order(self, acct: Account, cmd: c.NewOrder, *, internal: bool = False) -> tuple[SymbolEngine, Order]:  # provided by SimulatedVenue
        ...

    fok_reject: bool

    # --- algo orders --------------------------------------------------------------------------

    def _new_algo(self, acct: Account, cmd: c.NewAlgoOrder) -> Any:
        spec = self._spec(cmd.symbol)
        if cmd.algo_type != "CONDITIONAL":
            raise reject(-1130, "Data sent for parameter 'algoType' is not valid.")
        if cmd.side not in _SIDES:
            raise reject(-1117)
        if cmd.type not in CONDITIONAL_TYPES:
            raise reject(-1116)
        ps = cmd.position_side or "BOTH"
        if ps not in ("BOTH", "LONG", "SHORT"):
            raise reject(-4060, "Invalid position side.")
        if (ps == "BOTH") == acct.hedge:
            raise reject(-4061)
        if acct.hedge and cmd.reduce_only is not None:
            raise not_required("reduceOnly")
        wt = cmd.working_type or "CONTRACT_PRICE"
        if wt not in _WORKING:
            raise reject(-4031, "Invalid workingType.")
        tif = cmd.time_in_force or "GTC"
        if tif not in _TIFS:
            raise reject(-1115)
        stp = cmd.self_trade_prevention_mode or "NONE"
        if stp not in _STP:
            raise reject(-5039, "Invalid self trade prevention mode.")
        close = bool(cmd.close_position)
        if close:
            if cmd.type not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                raise not_required("closePosition")
            if cmd.quantity is not None:
                raise reject(-4137, "Quantity can not be sent with closePosition.")
            if cmd.reduce_only:
                raise not_required("reduceOnly")
        elif cmd.quantity is None:
            raise missing("quantity")
        lots = 0 if close else to_lots(spec, cmd.quantity, cmd.type.endswith("MARKET"))  # type: ignore[arg-type]
        ticks = 0
        if cmd.type in ("STOP", "TAKE_PROFIT"):
            if cmd.price is None:
                raise missing("price")
            ticks = to_ticks(spec, cmd.price)
        trailing = cmd.type == "TRAILING_STOP_MARKET"
        st = acct.states[spec.symbol]
        if st.algo_count >= spec.max_num_algo_orders:
            raise reject(-4045, "Reach max stop order limit.")
        cid = cmd.client_algo_id
        if cid is not None and cid in acct.algo_cids:
            raise reject(-4116)
        algo = AlgoOrder(self._algo_seq + 1, cid or self._new_client_id(), acct, spec.symbol, self.now)
        algo.side, algo.position_side, algo.type, algo.tif = cmd.side, ps, cmd.type, tif
        algo.qty, algo.price, algo.working_type, algo.stp = lots, ticks, wt, stp
        algo.price_protect = bool(cmd.price_protect)
        algo.reduce_only = bool(cmd.reduce_only)
        algo.close_position = close
        algo.price_match = cmd.price_match or "NONE"
        algo.good_till_date = cmd.good_till_date or 0
        current = self._working_price(spec.symbol, wt)
        if trailing:
            if cmd.callback_rate is None:
                raise missing("callbackRate")
            if not Decimal("0.1") <= cmd.callback_rate <= Decimal(10):
                raise reject(-1130, "Data sent for parameter 'callbackRate' is not valid.")
            algo.callback_rate = cmd.callback_rate
            if cmd.activate_price is not None:
                to_ticks(spec, cmd.activate_price, "activatePrice")
            algo.activate_price = cmd.activate_price if cmd.activate_price is not None else current
        else:
            if cmd.trigger_price is None:
                raise missing("triggerPrice")
            to_ticks(spec, cmd.trigger_price, "stopPrice")
            algo.trigger_price = cmd.trigger_price
        if immediate_trigger(algo, current):
            raise reject(-2021)
        # committed from here on
        self._algo_seq += 1
        algo.status = advance_algo(None, AlgoTransition.ACCEPT)
        acct.algos[algo.algo_id] = algo
        acct.algo_cids[algo.client_algo_id] = algo
        st.algo_count += 1
        self.algos[spec.symbol][algo.algo_id] = algo
        if trailing and current is not None:
            should_trigger(algo, current)  # activates at once when the activation price is reached
        self._emit_algo(algo)
        return algo_snapshot(algo, spec)

    def _working_price(self, symbol: str, working_type: str) -> Decimal | None:
        if working_type == "MARK_PRICE":
            return self.mark(symbol)
        e = self.engines[symbol]
        return e.spec.price(e.last_ticks) if e.last_ticks else None

    def _emit_algo(self, algo: AlgoOrder) -> None:
        if algo.account.emit:
            self.out.append(Envelope(account_id=algo.account.id, event=algo_event(algo, self.specs[algo.symbol], self.now)))

    def _algo_done(self, algo: AlgoOrder, transition: AlgoTransition) -> None:
        algo.status = advance_algo(algo.status, transition)
        algo.update_time = self.now
        acct = algo.account
        if acct.algos.pop(algo.algo_id, None) is not None:
            acct.states[algo.symbol].algo_count -= 1
        if acct.algo_cids.get(algo.client_algo_id) is algo:
            del acct.algo_cids[algo.client_algo_id]
        self.algos[algo.symbol].pop(algo.algo_id, None)
        acct.algos_closed[algo.algo_id] = algo
        if len(acct.algos_closed) > acct.history:
            acct.algos_closed.popitem(last=False)
        self._emit_algo(algo)

    def _cancel_algo(self, acct: Account, cmd: c.CancelAlgoOrder) -> Any:
        if cmd.algo_id is None and cmd.client_algo_id is None:
            raise missing("algoId")
        algo = acct.algos.get(cmd.algo_id) if cmd.algo_id is not None else acct.algo_cids.get(cmd.client_algo_id or "")
        if algo is None or algo.status != "NEW":
            raise reject(-4129, "Algo order does not exist.")
        self._algo_done(algo, AlgoTransition.CANCEL)
        return algo_snapshot(algo, self.specs[algo.symbol])

    def _cancel_all_algos(self, acct: Account, cmd: c.CancelAllAlgoOrders) -> Any:
        self._spec(cmd.symbol)
        for algo in [a for a in acct.algos.values() if a.symbol == cmd.symbol and a.status == "NEW"]:
            self._algo_done(algo, AlgoTransition.CANCEL)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _evaluate_triggers(self, symbol: str, working_type: str, price: Decimal) -> None:
        algos = self.algos[symbol]
        if not algos:
            return
        fired = [a for a in list(algos.values()) if a.status == "NEW" and a.working_type == working_type and should_trigger(a, price)]
        for algo in fired:
            if algo.price_protect and not self._protected(symbol):
                continue
            self._trigger(algo)

    def _protected(self, symbol: str) -> bool:
        """priceProtect: mark and last price may not diverge more than triggerProtect."""
        mark = self.mark_prices.get(symbol)
        e = self.engines[symbol]
        if mark is None or not e.last_ticks:
            return True
        return abs(mark - e.spec.price(e.last_ticks)) / mark <= e.spec.trigger_protect

    def _trigger(self, algo: AlgoOrder) -> None:
        """Turn a triggered algo order into a regular order (TRIGGERING -> TRIGGERED or REJECTED)."""
        acct = algo.account
        spec = self.specs[algo.symbol]
        algo.status = advance_algo(algo.status, AlgoTransition.TRIGGER)
        algo.trigger_time = algo.update_time = self.now
        self._emit_algo(algo)
        engine = self.engines[algo.symbol]
        try:
            lots = algo.qty
            if algo.close_position:
                pos = acct.positions.get((algo.symbol, algo.position_side))
                amt = pos.amount if pos is not None else 0
                lots = (-amt if amt < 0 else 0) if algo.is_buy else (amt if amt > 0 else 0)
                if not lots:
                    raise reject(-2022)
            market = algo.market
            cmd = c.NewOrder(
                symbol=algo.symbol, side=algo.side, type="MARKET" if market else "LIMIT",
                quantity=spec.qty(lots), price=None if market else spec.price(algo.price),
                time_in_force=None if market else algo.tif,
                position_side=algo.position_side,
                reduce_only=(algo.reduce_only or algo.close_position) if not acct.hedge else None,
                self_trade_prevention_mode=algo.stp,
                price_match=None if market or algo.price_match == "NONE" else algo.price_match,
            )
            _, order = self.build_order(acct, cmd, internal=True)
            order.client_order_id = algo.client_algo_id
            order.orig_type = algo.type
            order.stop_price = algo.trigger_price if algo.trigger_price is not None else spec.zero_price
            order.working_type = algo.working_type
            order.price_protect = algo.price_protect
            order.close_position = algo.close_position
            if algo.is_trailing:
                order.activate_price = algo.activate_price
                order.callback_rate = algo.callback_rate
            if order.tif == "GTX" and engine.crosses(order.is_buy, order.price):
                raise reject(-5022)
            if order.tif == "FOK" and not engine.fillable(order.is_buy, order.price, order.qty):
                raise reject(-5021)
        except ApiError as exc:
            algo.reject_reason = exc.msg
            self._algo_done(algo, AlgoTransition.REJECT)
            return
        order.algo = algo
        algo.order = order
        algo.status = advance_algo(algo.status, AlgoTransition.PLACED)
        self._emit_algo(algo)
        engine.submit(order, self.fok_reject)

    def on_order_closed(self, order: Order) -> None:
        """Engine hook: the order spawned by an algo order is closed, so the algo order FINISHED."""
        algo = order.algo
        if algo is not None and algo.status == "TRIGGERED":
            self._algo_done(algo, AlgoTransition.FINISH)
