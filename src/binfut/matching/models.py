"""Pluggable models of the simulated venue: commissions and fills against real-market trades.

Rule kept here: models are pure functions of their inputs plus an injected ``random.Random``; they
never read time or global state, so a seeded backtest is reproducible.

* :class:`FeeModel` - commission of one fill, in the quote (margin) asset.  The default charges the
  account's maker / taker rate (Binance's defaults are 0.02 % / 0.05 %) on the fill's notional.
* :class:`FillModel` - how much of a resting order a *real* market trade (``Trade`` event, replay or
  paper trading) fills.  The default fills orders priced strictly through the trade price, and orders
  at exactly the trade price with probability ``at_price_probability`` (queue position is unknown).
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Protocol

from binfut._money import E8

if TYPE_CHECKING:
    from binfut.matching.account import Account
    from binfut.matching.instruments import SymbolSpec

__all__ = ["DefaultFeeModel", "DefaultFillModel", "FeeModel", "FillModel"]



class FeeModel(Protocol):
    """Commission of one fill."""

    def commission(self, account: Account, spec: SymbolSpec, notional: Decimal, is_maker: bool) -> Decimal:
        """Commission (>= 0 charges the account, < 0 is a rebate), rounded to 8 decimals."""
        ...


class DefaultFeeModel:
    """``notional x rate`` with the account's maker or taker rate."""

    __slots__ = ()

    def commission(self, account: Account, spec: SymbolSpec, notional: Decimal, is_maker: bool) -> Decimal:
        rate = account.maker_rate if is_maker else account.taker_rate
        return (notional * rate).quantize(E8, ROUND_HALF_EVEN)


class FillModel(Protocol):
    """Fills of resting orders by trades printed on the real market."""

    def fill_on_trade(self, remaining: int, through: bool, available: int, rng: random.Random) -> int:
        """Lots of a resting order to fill.

        Parameters
        ----------
        remaining : lots the order still has
        through : the trade printed strictly through the order's price (else exactly at it)
        available : lots of the trade not yet given to earlier orders
        rng : the venue's random generator
        """
        ...


class DefaultFillModel:
    """Through the price: fill up to the trade's quantity; at the price: a coin flip per order.

    Parameters
    ----------
    at_price_probability : chance that an order resting exactly at the trade price is reached
    """

    __slots__ = ("at_price_probability",)

    def __init__(self, at_price_probability: float = 0.5) -> None:
        self.at_price_probability = at_price_probability

    def fill_on_trade(self, remaining: int, through: bool, available: int, rng: random.Random) -> int:
        if available <= 0:
            return 0
        if not through and rng.random() >= self.at_price_probability:
            return 0
        return remaining if remaining < available else available
