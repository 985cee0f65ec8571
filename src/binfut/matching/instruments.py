"""Instrument facts: one frozen :class:`SymbolSpec` per symbol, and a realistic default set.

Owns every exchangeInfo filter value the engine enforces (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE,
MIN_NOTIONAL, PERCENT_PRICE, MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS), the price/quantity precision, the
leverage brackets (``GET /fapi/v1/leverageBracket``) and the liquidation clearance fee.  Rule kept here:
facts are data, never code; the book works in integer ticks (price / tickSize) and lots
(quantity / stepSize), and the conversions between those and ``Decimal`` live on the spec.

References: "Exchange Information" and "Notional and Leverage Brackets" on the USD-M API docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from binfut._money import MONEY

__all__ = ["DEFAULT_SYMBOLS", "ENTRY_SUB", "Bracket", "SymbolSpec", "default_specs", "make_brackets"]

# A position's average entry price is kept as whole ticks and a fraction of ENTRY_SUB sub-ticks, rounded
# half to even to 8 decimal places of a tick at each increase (Binance's documented examples print entry
# prices with a few places more than the tick, "ep":"6563.66500", not 28 digits).  A realized PnL, (price
# - entry) x lots x tick x step, is then an integer ratio rounded once to 8 decimal places of USDT, whatever
# the decimal context.
ENTRY_DIGITS: Final = 8
ENTRY_SUB: Final = 10**ENTRY_DIGITS
_POW10: Final = tuple(10**k for k in range(ENTRY_DIGITS + 1))


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional bracket: leverage cap, maintenance margin rate and amount ("cum").

    ``maint_amount`` is Binance's ``cum``: the maintenance amount that makes the piecewise MM
    continuous, ``cum_n = cum_{n-1} + floor_n * (mmr_n - mmr_{n-1})``.
    """

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    maint_amount: Decimal


def make_brackets(rows: list[tuple[int, int, str]]) -> tuple[Bracket, ...]:
    """Build brackets from ``(initial_leverage, notional_cap, mmr)`` rows, deriving floors and cum.

    Parameters
    ----------
    rows : ascending by notional cap.

    Returns
    -------
    tuple[Bracket, ...]
    """
    out: list[Bracket] = []
    floor = Decimal(0)
    cum = Decimal(0)
    prev_rate = Decimal(0)
    for i, (lev, cap, rate_s) in enumerate(rows, start=1):
        rate = Decimal(rate_s)
        cum = cum + floor * (rate - prev_rate)
        out.append(Bracket(i, lev, floor, Decimal(cap), rate, cum))
        floor = Decimal(cap)
        prev_rate = rate
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Trading rules of one USD-M perpetual symbol (the exchangeInfo ``symbols[]`` entry).

    Parameters
    ----------
    symbol, base_asset, quote_asset, margin_asset : names as Binance spells them
    price_precision, quantity_precision : digits allowed in price / quantity (-1111 beyond)
    tick_size, min_price, max_price : PRICE_FILTER
    step_size, min_qty, max_qty : LOT_SIZE (limit orders)
    market_step_size, market_min_qty, market_max_qty : MARKET_LOT_SIZE (market orders)
    min_notional : MIN_NOTIONAL ``notional`` (-4164; not applied to reduceOnly)
    multiplier_up, multiplier_down : PERCENT_PRICE bounds relative to the mark price (-4016/-4024)
    max_num_orders, max_num_algo_orders : MAX_NUM_ORDERS (-2025) / MAX_NUM_ALGO_ORDERS (-4045)
    brackets : leverage brackets, ascending
    liquidation_fee : liquidation clearance fee rate charged to the insurance fund
    trigger_protect : priceProtect threshold |mark - last| / mark for conditional triggers
    """

    symbol: str
    base_asset: str
    quote_asset: str
    price_precision: int
    quantity_precision: int
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    multiplier_up: Decimal
    multiplier_down: Decimal
    max_num_orders: int
    max_num_algo_orders: int
    brackets: tuple[Bracket, ...]
    liquidation_fee: Decimal = Decimal("0.0125")
    trigger_protect: Decimal = Decimal("0.05")
    margin_asset: str = "USDT"
    # derived, filled in __post_init__
    unit: Decimal = field(init=False)  # value of one tick x one lot, the integer notional unit
    inv_tick: Decimal = field(init=False)
    inv_step: Decimal = field(init=False)
    zero_price: Decimal = field(init=False)
    # an average price is kept to 4 more decimal places than the tick: avg_quantum x round(tick x quote
    # / filled / avg_quantum), where tick / avg_quantum = avg_steps (the tick's coefficient x 10 000)
    avg_quantum: Decimal = field(init=False)
    avg_steps: int = field(init=False)
    zero_qty: Decimal = field(init=False)
    max_leverage: int = field(init=False)
    min_notional_units: int = field(init=False)  # MIN_NOTIONAL in ticks x lots, rounded up
    # unit and step_size as exact integer ratios (numerator, denominator), for integer margin bounds
    unit_ratio: tuple[int, int] = field(init=False)
    step_ratio: tuple[int, int] = field(init=False)
    tick_ratio: tuple[int, int] = field(init=False)
    # tick_size = tick_coefficient x 10 ** tick_exponent, its trailing zeros stripped
    tick_coefficient: int = field(init=False)
    tick_exponent: int = field(init=False)
    # whether the tick, so every price and entry price (and break-even price) of the symbol, has an exponent
    # that is not positive: such a value prints plainly unless it is below 1E-6 (builders.wire_e8)
    plain_prices: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", self.tick_size * self.step_size)
        object.__setattr__(self, "inv_tick", Decimal(1) / self.tick_size)
        object.__setattr__(self, "inv_step", Decimal(1) / self.step_size)
        object.__setattr__(self, "zero_price", Decimal(0) * self.tick_size)
        tick = self.tick_size.as_tuple()
        object.__setattr__(self, "avg_quantum", Decimal((0, (1,), int(tick.exponent) - 4)))
        object.__setattr__(self, "avg_steps", int("".join(map(str, tick.digits))) * 10_000)
        object.__setattr__(self, "zero_qty", Decimal(0) * self.step_size)
        object.__setattr__(self, "max_leverage", max(b.initial_leverage for b in self.brackets))
        object.__setattr__(self, "min_notional_units", int(-(-self.min_notional // self.unit)))
        object.__setattr__(self, "unit_ratio", self.unit.as_integer_ratio())
        object.__setattr__(self, "step_ratio", self.step_size.as_integer_ratio())
        object.__setattr__(self, "tick_ratio", self.tick_size.as_integer_ratio())
        coefficient, exponent = int("".join(map(str, tick.digits))), int(tick.exponent)
        while not coefficient % 10:
            coefficient //= 10
            exponent += 1
        object.__setattr__(self, "tick_coefficient", coefficient)
        object.__setattr__(self, "tick_exponent", exponent)
        object.__setattr__(self, "plain_prices", int(tick.exponent) <= 0)
        if self.inv_tick * self.tick_size != 1 or self.inv_step * self.step_size != 1:
            raise ValueError(f"{self.symbol}: tick and step sizes must have exact inverses")

    # --- conversions (the only place Decimal <-> integer ticks/lots happens) -------------------

    def price(self, ticks: int) -> Decimal:
        """Decimal price of ``ticks`` (keeps the tick's exponent, so it prints plainly)."""
        return self.tick_size * ticks

    def entry_price(self, ticks: int, frac: int) -> Decimal:
        """Decimal price of ``ticks + frac / ENTRY_SUB`` ticks (a position's entry): the tick's own
        spelling on the grid, else as many decimal places as the fraction needs."""
        if not frac:
            return self.price(ticks)
        places = ENTRY_DIGITS
        while not frac % 10:
            frac //= 10
            places -= 1
        n = ticks * _POW10[places] + frac
        if self.tick_coefficient != 1:
            n *= self.tick_coefficient
        return Decimal(n).scaleb(self.tick_exponent - places, MONEY)  # exact whatever the caller's context

    def qty(self, lots: int) -> Decimal:
        """Decimal quantity of ``lots``."""
        return self.step_size * lots

    def notional(self, units: int) -> Decimal:
        """Decimal notional of ``units`` (ticks x lots)."""
        return self.unit * units

    def bracket_for(self, notional: Decimal) -> Bracket:
        """The bracket whose [floor, cap) holds ``notional`` (the last one beyond the caps)."""
        for b in self.brackets:
            if notional < b.notional_cap:
                return b
        return self.brackets[-1]

    def max_notional(self, leverage: int) -> Decimal:
        """Largest position notional allowed at ``leverage`` (``maxNotionalValue``)."""
        cap = Decimal(0)
        for b in self.brackets:
            if b.initial_leverage >= leverage:
                cap = b.notional_cap
        return cap


def _spec(
    symbol: str,
    base: str,
    pp: int,
    qp: int,
    tick: str,
    min_price: str,
    max_price: str,
    step: str,
    min_qty: str,
    max_qty: str,
    market_max: str,
    min_notional: str,
    brackets: list[tuple[int, int, str]],
    liq_fee: str,
    max_orders: int = 200,
) -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        base_asset=base,
        quote_asset="USDT",
        price_precision=pp,
        quantity_precision=qp,
        tick_size=Decimal(tick),
        min_price=Decimal(min_price),
        max_price=Decimal(max_price),
        step_size=Decimal(step),
        min_qty=Decimal(min_qty),
        max_qty=Decimal(max_qty),
        market_step_size=Decimal(step),
        market_min_qty=Decimal(min_qty),
        market_max_qty=Decimal(market_max),
        min_notional=Decimal(min_notional),
        multiplier_up=Decimal("1.0500"),
        multiplier_down=Decimal("0.9500"),
        max_num_orders=max_orders,
        max_num_algo_orders=10,
        brackets=make_brackets(brackets),
        liquidation_fee=Decimal(liq_fee),
    )


# Values modelled on Binance's published exchangeInfo / leverageBracket answers (2024-2025).
DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    _spec(
        "BTCUSDT", "BTC", 2, 3, "0.10", "556.80", "4529764", "0.001", "0.001", "1000", "120", "100",
        [
            (125, 50_000, "0.004"), (100, 250_000, "0.005"), (50, 3_000_000, "0.01"),
            (20, 15_000_000, "0.025"), (10, 30_000_000, "0.05"), (5, 80_000_000, "0.1"),
            (4, 100_000_000, "0.125"), (3, 200_000_000, "0.15"), (2, 300_000_000, "0.25"),
            (1, 500_000_000, "0.5"),
        ],
        "0.0125",
    ),
    _spec(
        "ETHUSDT", "ETH", 2, 3, "0.01", "39.86", "306177", "0.001", "0.001", "10000", "2000", "20",
        [
            (125, 50_000, "0.004"), (100, 250_000, "0.005"), (75, 1_000_000, "0.0065"),
            (50, 5_000_000, "0.01"), (25, 20_000_000, "0.02"), (10, 50_000_000, "0.05"),
            (5, 100_000_000, "0.1"), (4, 150_000_000, "0.125"), (3, 200_000_000, "0.15"),
            (2, 300_000_000, "0.25"), (1, 500_000_000, "0.5"),
        ],
        "0.0125",
    ),
    _spec(
        "SOLUSDT", "SOL", 4, 0, "0.0100", "0.4200", "6857", "1", "1", "1000000", "5000", "5",
        [
            (100, 5_000, "0.005"), (75, 50_000, "0.0065"), (50, 600_000, "0.01"),
            (25, 3_000_000, "0.02"), (20, 6_000_000, "0.025"), (10, 15_000_000, "0.05"),
            (5, 30_000_000, "0.1"), (4, 40_000_000, "0.125"), (2, 80_000_000, "0.25"),
            (1, 120_000_000, "0.5"),
        ],
        "0.015",
    ),
    _spec(
        "BNBUSDT", "BNB", 3, 2, "0.010", "6.600", "100000", "0.01", "0.01", "100000", "2000", "5",
        [
            (75, 10_000, "0.005"), (50, 100_000, "0.01"), (25, 500_000, "0.02"),
            (20, 1_000_000, "0.025"), (10, 2_000_000, "0.05"), (5, 5_000_000, "0.1"),
            (4, 10_000_000, "0.125"), (3, 20_000_000, "0.15"), (2, 30_000_000, "0.25"),
            (1, 50_000_000, "0.5"),
        ],
        "0.015",
    ),
    _spec(
        "XRPUSDT", "XRP", 4, 1, "0.0001", "0.0143", "100000", "0.1", "0.1", "10000000", "2000000", "5",
        [
            (75, 10_000, "0.005"), (50, 100_000, "0.0065"), (40, 500_000, "0.01"),
            (25, 1_000_000, "0.02"), (20, 2_000_000, "0.025"), (10, 5_000_000, "0.05"),
            (5, 10_000_000, "0.1"), (4, 20_000_000, "0.125"), (2, 50_000_000, "0.25"),
            (1, 100_000_000, "0.5"),
        ],
        "0.015",
    ),
)


def default_specs() -> dict[str, SymbolSpec]:
    """A fresh ``{symbol: spec}`` mapping of :data:`DEFAULT_SYMBOLS` (the venue's default)."""
    return {s.symbol: s for s in DEFAULT_SYMBOLS}
