"""The history an account keeps: one record per fill (``userTrades``) and per wallet movement (``income``).

A fill's own income rows (its REALIZED_PNL and COMMISSION) are not kept twice: its
:class:`TradeRecord` carries their transaction id and :meth:`TradeRecord.income_rows` makes them when
the income history is read (:meth:`binfut.matching.account.Account.income_records`).

Rule kept here: records are frozen msgspec Structs built positionally, once per fill or movement, and
never tracked by the garbage collector (``gc=False``: their fields are numbers, strings and Decimals,
so they cannot be part of a reference cycle).  A tuple in their place would be traversed by every
young collection of a long run before being found untrackable; these never are.  The queries in
:mod:`binfut.matching.queries` turn them into the REST rows.

This module stays interpreted in the compiled build (msgspec builds the classes itself).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

__all__ = ["IncomeRecord", "TradeRecord"]


class TradeRecord(msgspec.Struct, frozen=True, gc=False):
    """One fill of one account: price in ticks, size in lots, realized PnL and commission in USDT."""

    trade_id: int
    symbol: str
    order_id: int
    side: str
    ticks: int
    lots: int
    realized: Decimal
    fee: Decimal
    time: int
    position_side: str
    is_maker: bool
    tran_id: int  # transaction id of its first income row (REALIZED_PNL, then COMMISSION); 0: none made here

    def income_rows(self) -> list[IncomeRecord]:
        """The fill's REALIZED_PNL (when not zero) and COMMISSION (when not zero) rows, in that order."""
        tran = self.tran_id
        if not tran:
            return []
        rows = []
        info = str(self.trade_id)
        if self.realized:
            rows.append(IncomeRecord(self.time, self.symbol, "REALIZED_PNL", self.realized, "USDT", info, tran))
            tran += 1
        if self.fee:
            rows.append(IncomeRecord(self.time, self.symbol, "COMMISSION", -self.fee, "USDT", info, tran))
        return rows


class IncomeRecord(msgspec.Struct, frozen=True, gc=False):
    """One wallet movement: REALIZED_PNL, COMMISSION, FUNDING_FEE, TRANSFER, INSURANCE_CLEAR.

    Kept in ``Account.income`` for every movement but a fill's own rows (see the module docstring).

    ``info`` is the trade id of a fill's rows and DEPOSIT / WITHDRAW for a transfer; ``amount`` is
    signed (a commission is negative).
    """

    time: int
    symbol: str
    kind: str
    amount: Decimal
    asset: str
    info: str
    tran_id: int
