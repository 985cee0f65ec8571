"""Funding settlement, margin calls and liquidation, executed against the venue's accounts.

The formulas live in :mod:`binfut.matching.account`; this module applies them.  Rules kept here:

* funding: at each funding time every open position pays ``position notional at mark x rate``
  (longs pay shorts when the rate is positive), recorded as FUNDING_FEE income and pushed as an
  ACCOUNT_UPDATE with reason FUNDING_FEE;
* a position is liquidated when its margin balance falls to its maintenance margin or below --
  per position for isolated margin (isolated wallet + uPnL), account-wide for cross margin (cross
  wallet + cross uPnL against the total cross maintenance margin); MARGIN_CALL is pushed once when
  maintenance margin / margin balance first reaches ``venue.margin_call_ratio``;
* the liquidation closes the whole position with a LIQUIDATION order (ORDER_TRADE_UPDATE execution
  type CALCULATED, client id ``autoclose-<time>``) filled at the position's liquidation price
  against the insurance fund, cancels the account's open orders in that symbol first, and charges
  the liquidation clearance fee (notional x liquidationFee, capped at the margin left) to the
  insurance fund as INSURANCE_CLEAR income.  Accounts flagged ``unlimited`` are never liquidated.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from binfut._money import E8
from binfut.matching.account import (
    ZERO,
    Account,
    Position,
    apply_fill,
    cross_totals,
    liquidation_price,
    maint_margin,
)
from binfut.matching.builders import wire
from binfut.matching.lifecycle import Transition, advance
from binfut.matching.orderbook import Order
from binfut.matching.outputs import Envelope, ForceOrder
from binfut.matching.records import IncomeRecord, TradeRecord
from binfut.protocol.userevents import MarginCall, MarginCallPosition, OrderTradeUpdate, OrderUpdate

if TYPE_CHECKING:
    from binfut.matching.venue import SimulatedVenue

__all__ = ["check_risk", "liquidate", "settle_funding"]


def settle_funding(venue: SimulatedVenue, symbol: str, rate: Decimal, mark: Decimal) -> None:
    """Pay / charge funding on every open position in ``symbol``."""
    now = venue.now
    for acct in venue.accounts.values():
        changed = []
        for (sym, _), pos in acct.positions.items():
            if sym != symbol or not pos.amount:
                continue
            amount = -(Decimal(pos.amount) * pos.spec.step_size * mark * rate).quantize(E8, ROUND_HALF_EVEN)
            if not amount:
                continue
            acct.balances["USDT"] = acct.balances.get("USDT", ZERO) + amount
            if acct.states[symbol].isolated:
                pos.isolated_wallet += amount
            acct.income.append(IncomeRecord(now, symbol, "FUNDING_FEE", amount, "USDT", "", venue.next_tran_id()))
            changed.append(pos)
        if changed and acct.emit:
            venue.out.append(Envelope(account_id=acct.id, event=venue.account_update(acct, changed, "FUNDING_FEE", venue.marks())))


def _margin_call(venue: SimulatedVenue, acct: Account, positions: list[Position], marks: dict[str, Decimal], cross_wallet: Decimal | None) -> None:
    rows = []
    for pos in positions:
        mark = marks.get(pos.spec.symbol) or pos.entry
        isolated = acct.states[pos.spec.symbol].isolated
        rows.append(
            MarginCallPosition(
                symbol=pos.spec.symbol, position_side=pos.side, position_amount=pos.spec.qty(pos.amount),
                margin_type="ISOLATED" if isolated else "CROSSED", isolated_wallet=wire(pos.isolated_wallet),
                mark_price=mark, unrealized_pnl=wire(pos.unrealized(mark).quantize(E8, ROUND_HALF_EVEN)),
                maintenance_margin=wire(maint_margin(pos, mark)[0].quantize(E8, ROUND_HALF_EVEN)),
            )
        )
    if acct.emit:
        venue.out.append(Envelope(account_id=acct.id, event=MarginCall(
            event_time_ms=venue.now, cross_wallet_balance=wire(cross_wallet) if cross_wallet is not None else None, positions=rows)))


def check_risk(venue: SimulatedVenue, symbols: list[str]) -> None:
    """Margin calls and liquidations for accounts holding positions in ``symbols``."""
    marks: dict[str, Decimal] | None = None
    for acct in list(venue.accounts.values()):
        if acct.unlimited or not acct.positions:
            continue
        held = [p for p in acct.positions.values() if p.amount]
        for p in held:
            if p.spec.symbol in symbols:
                break
        else:
            continue  # no open position in these symbols (or none at all)
        if marks is None:
            marks = venue.marks()
        ratio_hit = False
        # isolated positions, one by one
        for pos in held:
            if not acct.states[pos.spec.symbol].isolated:
                continue
            mark = marks.get(pos.spec.symbol) or pos.entry
            balance = pos.isolated_wallet + pos.unrealized(mark)
            mm = maint_margin(pos, mark)[0]
            if balance <= mm:
                liquidate(venue, acct, pos)
            elif mm >= balance * venue.margin_call_ratio:
                ratio_hit = True
                if not acct.margin_call:
                    _margin_call(venue, acct, [pos], marks, None)
        # cross margin, account-wide: close the worst position until healthy
        for _ in range(len(held) + 1):
            cross = [p for p in acct.positions.values() if p.amount and not acct.states[p.spec.symbol].isolated]
            if not cross:
                break
            wallet, upnl, _, mm = cross_totals(acct, marks, with_im=False)
            balance = wallet + upnl
            if balance <= mm:
                at = marks
                worst = min(cross, key=lambda p: p.unrealized(at.get(p.spec.symbol) or p.entry))
                liquidate(venue, acct, worst)
                marks = venue.marks()
                continue
            if mm >= balance * venue.margin_call_ratio:
                ratio_hit = True
                if not acct.margin_call:
                    _margin_call(venue, acct, cross, marks, wallet)
            break
        acct.margin_call = ratio_hit


def liquidate(venue: SimulatedVenue, acct: Account, pos: Position) -> None:
    """Close ``pos`` at its liquidation price with a LIQUIDATION order (see module docstring)."""
    spec = pos.spec
    symbol = spec.symbol
    engine = venue.engines[symbol]
    engine.cancel_all(acct)
    marks = venue.marks()
    mark = marks.get(symbol) or pos.entry
    price = liquidation_price(acct, spec, pos.side, marks) or mark
    st = acct.states[symbol]
    now = venue.now
    lots = abs(pos.amount)
    is_buy = pos.amount < 0
    iso_before = pos.isolated_wallet
    realized = apply_fill(acct, st, pos, is_buy, lots, -1, price, ZERO, now)
    notional = price * Decimal(lots) * spec.step_size
    if st.isolated:
        left = iso_before + realized
    else:
        wallet, upnl, _, mm = cross_totals(acct, marks, with_im=False)
        left = wallet + upnl - mm
    fee = min(max(left, ZERO), (notional * spec.liquidation_fee).quantize(E8, ROUND_HALF_EVEN))
    acct.balances["USDT"] -= fee
    venue.insurance_fund += fee
    # the order record (kept in history like any other order)
    venue._order_seq += 1
    ticks = int((price * spec.inv_tick).to_integral_value(ROUND_HALF_EVEN))
    order = Order(venue._order_seq, f"autoclose-{now}", acct, symbol, "BUY" if is_buy else "SELL", pos.side,
                  "LIQUIDATION", "IOC", ticks, lots, not acct.hedge, "NONE", now)
    order.filled = lots
    order.cum_quote = ticks * lots
    order.status, exec_type = advance(None, Transition.LIQUIDATE)
    acct.remember_closed(order)
    engine.trade_seq += 1
    tid = engine.trade_seq
    # the liquidation's income rows are explicit (INSURANCE_CLEAR is not a commission): none derived
    acct.trades.append(TradeRecord(tid, symbol, order.order_id, order.side, ticks, lots, realized, ZERO, now, pos.side, False, 0))
    if realized:
        acct.income.append(IncomeRecord(now, symbol, "REALIZED_PNL", realized, "USDT", str(tid), venue.next_tran_id()))
    if fee:
        acct.income.append(IncomeRecord(now, symbol, "INSURANCE_CLEAR", -fee, "USDT", str(tid), venue.next_tran_id()))
    qty = spec.qty(lots)
    if acct.emit:
        venue.out.append(Envelope(account_id=acct.id, event=_liquidation_event(spec, order, exec_type, price, qty, realized, tid, now)))
    venue.touch(acct, pos)
    venue.out.append(ForceOrder(
        symbol=symbol, side=order.side, order_type="LIMIT", time_in_force="IOC", quantity=qty, price=wire(price),
        average_price=wire(price), status="FILLED", last_filled_quantity=qty, filled_accumulated_quantity=qty, trade_time_ms=now))


def _liquidation_event(spec: Any, order: Order, exec_type: str, price: Decimal, qty: Decimal, realized: Decimal, tid: int, now: int) -> OrderTradeUpdate:
    zero = spec.zero_price
    return OrderTradeUpdate(
        event_time_ms=now, transaction_time_ms=now,
        order=OrderUpdate(
            symbol=spec.symbol, client_order_id=order.client_order_id, side=order.side, order_type="LIQUIDATION",
            time_in_force="IOC", original_quantity=qty, original_price=wire(price), average_price=wire(price),
            stop_price=zero, execution_type=exec_type, order_status=order.status,  # type: ignore[arg-type]
            order_id=order.order_id, last_filled_quantity=qty, filled_accumulated_quantity=qty,
            last_filled_price=wire(price), commission_asset=spec.margin_asset, commission=ZERO,
            order_trade_time_ms=now, trade_id=tid, bids_notional=ZERO, asks_notional=ZERO, is_maker=False,
            is_reduce_only=order.reduce_only, working_type="CONTRACT_PRICE", original_order_type="LIQUIDATION",
            position_side=order.position_side, close_position=False, price_protect=False, strategy_id=0,
            strategy_sub_id=0, realized_profit=wire(realized), stp_mode="NONE", price_match="NONE", good_till_date_ms=0,
        ),
    )
