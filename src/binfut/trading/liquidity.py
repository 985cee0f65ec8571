"""Simulated book liquidity for bar-driven runs: a liquidity-provider account that quotes on demand.

Bar data carries no order book, yet the engine fills a MARKET order only against resting orders.
:class:`BookLiquidity` owns one ``unlimited`` venue account (no margin checks, never liquidated, no
commission, no user events) that places limit quotes around a reference price just before a
marketable order arrives, so every fill still goes through the engine's matching, fees and margin.

Rules kept here:

* slippage is a price ladder: level ``k`` (0-based) sits ``slippage_bps + k x level_bps`` from the
  reference price on the taker's adverse side, rounded to the tick away from the taker; each level
  holds ``level_qty`` (None: the first level holds the whole order, i.e. no market impact);
* quotes placed for one order are cancelled right after it, so nothing of ours rests between orders;
* *standing* quotes (for stop / take-profit orders that trigger inside a bar) sit at least
  ``standing_offset_ticks`` beyond the print, so the bar's own trade prints never fill them.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from binfut.errors import ApiError
from binfut.matching import CancelOrder, ModifyOrder, NewOrder, SimulatedVenue

__all__ = ["LIQUIDITY_ACCOUNT", "BookLiquidity", "LiquidityConfig"]

LIQUIDITY_ACCOUNT = "__liquidity__"
_BP = Decimal("0.0001")
_ZERO = Decimal(0)


class LiquidityConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the simulated book answers marketable orders.

    Parameters
    ----------
    slippage_bps : distance of the first level from the reference price, in basis points (0: fill at
        the reference price, the usual "fill at the bar's close" convention)
    levels : number of price levels quoted per order
    level_bps : distance between two levels, in basis points
    level_qty : quantity per level (None: unlimited first level); a MARKET order larger than
        ``levels x level_qty`` is filled only partly and the rest expires, as on a thin book
    standing_offset_ticks : minimum distance, in ticks, of standing quotes from the bar's prints
    """

    slippage_bps: Decimal = _ZERO
    levels: int = 1
    level_bps: Decimal = _ZERO
    level_qty: Decimal | None = None
    standing_offset_ticks: int = 1


class BookLiquidity:
    """Quotes of one liquidity-provider account on a :class:`~binfut.matching.SimulatedVenue`.

    Parameters
    ----------
    config : the slippage ladder
    account_id : the provider's venue account (opened by :meth:`attach`)
    """

    def __init__(self, config: LiquidityConfig | None = None, account_id: str = LIQUIDITY_ACCOUNT) -> None:
        self.config = config or LiquidityConfig()
        self.account_id = account_id
        self.reference: dict[str, Decimal] = {}
        self._standing: dict[str, dict[str, int]] = {}  # symbol -> side -> order id
        self._last_bid: dict[str, Decimal] = {}  # symbol -> price of the standing bid
        self.placed_qty = _ZERO  # quantity quoted by the last provide() call

    def attach(self, venue: SimulatedVenue) -> None:
        """Open the provider's account on ``venue`` (unlimited, commission-free, silent)."""
        if self.account_id not in venue.accounts:
            venue.open_account(self.account_id, {"USDT": _ZERO}, unlimited=True, emit_events=False, maker_rate=_ZERO, taker_rate=_ZERO)

    def set_reference(self, symbol: str, price: Decimal) -> None:
        """The price quotes are built around (the bar's close at decision time; the last trade live)."""
        self.reference[symbol] = price

    # --- quotes for one order -----------------------------------------------------------------

    def _price(self, venue: SimulatedVenue, symbol: str, ref: Decimal, bps: Decimal, taker_buys: bool) -> Decimal:
        spec = venue.specs[symbol]
        raw = ref * (1 + bps * _BP) if taker_buys else ref * (1 - bps * _BP)
        rounding = ROUND_CEILING if taker_buys else ROUND_FLOOR  # away from the taker
        return (raw / spec.tick_size).to_integral_value(rounding) * spec.tick_size

    def provide(self, venue: SimulatedVenue, order: NewOrder) -> list[int]:
        """Place the quotes ``order`` needs if it is marketable; returns their order ids.

        Parameters
        ----------
        venue : the engine
        order : the incoming MARKET or LIMIT order (anything else, or no reference price: nothing)
        """
        symbol = order.symbol
        ref = self.reference.get(symbol)
        qty = order.quantity
        if ref is None or qty is None or qty <= 0 or order.type not in ("MARKET", "LIMIT"):
            return []
        cfg = self.config
        spec = venue.specs[symbol]
        taker_buys = str(order.side) == "BUY"
        ids: list[int] = []
        left = qty
        self.placed_qty = _ZERO
        for k in range(max(cfg.levels, 1)):
            if left <= 0:
                break
            price = self._price(venue, symbol, ref, cfg.slippage_bps + k * cfg.level_bps, taker_buys)
            if order.type == "LIMIT" and order.price is not None and (price > order.price if taker_buys else price < order.price):
                break  # the limit order does not reach this level: it rests instead
            level = left if cfg.level_qty is None else min(left, cfg.level_qty)
            # MIN_NOTIONAL applies to the provider's limit orders too: quote at least that much
            floor = (spec.min_notional / price / spec.step_size).to_integral_value(ROUND_CEILING) * spec.step_size
            level = max(level, floor, spec.min_qty)
            while level > 0:
                part = min(level, spec.max_qty)
                try:
                    result = venue.execute(self.account_id, NewOrder(
                        symbol=symbol, side="SELL" if taker_buys else "BUY", type="LIMIT", time_in_force="GTC",
                        quantity=part, price=price))
                except ApiError:  # outside PERCENT_PRICE of a stale mark, ...: the order meets no quote
                    return ids
                ids.append(result.value.order_id)
                self.placed_qty += part
                level -= part
                left -= part
        return ids

    def withdraw_quotes(self, venue: SimulatedVenue, symbol: str, ids: list[int], filled: Decimal | None = None) -> None:
        """Cancel what is left of the quotes ``ids`` (placed by :meth:`provide`).

        ``filled`` is what the taker order executed: when it equals the quoted quantity and no
        standing quote could have been hit first, nothing is left and the venue is not asked.
        """
        if filled is not None and filled == self.placed_qty and not self._standing.get(symbol):
            return
        open_ids = {o.order_id for o in venue.open_orders(self.account_id, symbol)}
        for oid in ids:
            if oid in open_ids:
                venue.execute(self.account_id, CancelOrder(symbol=symbol, order_id=oid))

    # --- standing quotes ----------------------------------------------------------------------

    def refresh(self, venue: SimulatedVenue, symbol: str, price: Decimal) -> None:
        """Keep one deep bid and one deep ask around ``price`` for orders triggered by the next print."""
        cfg = self.config
        spec = venue.specs[symbol]
        gap = spec.tick_size * max(cfg.standing_offset_ticks, 1)
        bid = min(self._price(venue, symbol, price, cfg.slippage_bps, False), price - gap)
        ask = max(self._price(venue, symbol, price, cfg.slippage_bps, True), price + gap)
        book = self._standing.setdefault(symbol, {})
        open_ids = {o.order_id for o in venue.open_orders(self.account_id, symbol)} if book else set()
        # Move the side that moves away first: after a rise larger than the spread the new bid would
        # otherwise cross the provider's own old ask and both quotes would vanish (self-trade).
        rising = bid > self._last_bid.get(symbol, bid)
        self._last_bid[symbol] = bid
        sides = (("SELL", ask), ("BUY", bid)) if rising else (("BUY", bid), ("SELL", ask))
        for side, px in sides:
            oid = book.get(side)
            try:
                if oid is not None and oid in open_ids:
                    try:
                        venue.execute(self.account_id, ModifyOrder(symbol=symbol, side=side, order_id=oid, quantity=spec.max_qty, price=px))
                    except ApiError as exc:
                        if exc.code != -5027:  # -5027: nothing to change
                            raise
                    continue
                result = venue.execute(self.account_id, NewOrder(
                    symbol=symbol, side=side, type="LIMIT", time_in_force="GTC", quantity=spec.max_qty, price=px))
                book[side] = result.value.order_id
            except ApiError:  # a price outside the PERCENT_PRICE band of the current mark: no quote
                book.pop(side, None)

    def withdraw(self, venue: SimulatedVenue, symbol: str) -> None:
        """Cancel the standing quotes of ``symbol``."""
        book = self._standing.pop(symbol, None)
        if not book:
            return
        open_ids = {o.order_id for o in venue.open_orders(self.account_id, symbol)}
        for oid in book.values():
            if oid in open_ids:
                venue.execute(self.account_id, CancelOrder(symbol=symbol, order_id=oid))

    def has_standing(self, symbol: str) -> bool:
        return bool(self._standing.get(symbol))
