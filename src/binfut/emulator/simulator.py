"""A seeded synthetic market: index random walk, liquidity providers, takers, mark price and funding.

Every participant is an engine account sending engine commands through the exchange (the venue entry
point users reach), so trades, depth changes and fills are real engine outputs. Rules kept here:
- time advances on a fixed ``sim_step_ms`` grid; only the injected ``random.Random`` is drawn from,
  so the same seed and the same grid give the same trades;
- the index is a geometric random walk; per symbol a liquidity provider quotes a ladder snapped to a
  level grid around ``fair = index x (1 + basis)`` (basis: an Ornstein-Uhlenbeck process) and refills
  taken levels; takers arrive as a Poisson process and send MARKET orders leaning against the gap
  between mid and fair and against their own inventory;
- each simulated second: Binance's premium index from impact prices, a mark price by Binance's
  formula with the 30-minute basis average replaced by a 5-minute EMA, and the predicted funding rate
  F = P + clamp(I - P, +-0.05 %) (see :meth:`MarketSimulator._marks`); funding settles at 00:00, 08:00
  and 16:00 UTC through the engine's ``Funding`` market event.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from binfut._money import E8
from binfut.emulator.handlers.stats import MAKER_PREFIX
from binfut.emulator.marketdata import MarkPriceUpdate
from binfut.errors import ApiError
from binfut.matching import commands as c

if TYPE_CHECKING:
    from binfut.emulator.exchange import LocalExchange
    from binfut.matching.instruments import SymbolSpec

__all__ = ["FUNDING_INTERVAL_MS", "MarketSimulator", "SymbolProfile", "default_profiles"]

FUNDING_INTERVAL_MS = 8 * 3_600_000
_MARK_PERIOD_MS = 1000
_EMA_TAU_MS = 300_000
_INTEREST = Decimal("0.0001")  # 0.03 % a day in three settlements
_CLAMP = Decimal("0.0005")
_CAP = Decimal("0.02")
_YEAR_S = 365 * 86_400
_TAKERS = 8
_MAX_STEPS_PER_CALL = 40  # grid points run per step() call; beyond that time is skipped


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    """How one symbol's synthetic market behaves.

    Parameters
    ----------
    start_price : initial index price
    annual_vol : volatility of the index random walk (0.6 = 60 % a year)
    levels : quoted levels per side
    level_bp : level spacing in basis points of the price
    level_notional : USDT per quoted level (randomised +-50 %)
    taker_rate : taker orders per simulated second
    taker_notional : median USDT of a taker order (log-normal)
    basis_vol : volatility of the basis (premium) process per sqrt(second)
    basis_mean : long-run mean of the basis
    """

    start_price: Decimal
    annual_vol: float = 0.6
    levels: int = 20
    level_bp: float = 0.5
    level_notional: float = 25_000.0
    taker_rate: float = 1.5
    taker_notional: float = 4_000.0
    basis_vol: float = 0.00002
    basis_mean: float = 0.0001


def default_profiles() -> dict[str, SymbolProfile]:
    """Profiles of the five default symbols (prices of mid-2024)."""
    return {
        "BTCUSDT": SymbolProfile(Decimal("65000"), annual_vol=0.55, level_notional=60_000, taker_notional=8_000),
        "ETHUSDT": SymbolProfile(Decimal("3400"), annual_vol=0.65, level_notional=40_000, taker_notional=5_000),
        "SOLUSDT": SymbolProfile(Decimal("150"), annual_vol=0.85, level_bp=1.0, taker_notional=2_500),
        "BNBUSDT": SymbolProfile(Decimal("600"), annual_vol=0.5, level_bp=1.0, taker_notional=2_000),
        "XRPUSDT": SymbolProfile(Decimal("0.6"), annual_vol=0.7, level_bp=2.0, taker_notional=1_500),
    }


@dataclass(slots=True)
class _Book:
    """Simulator state of one symbol."""

    spec: SymbolSpec
    profile: SymbolProfile
    maker: str
    index: float
    basis: float
    spacing: int  # ticks between quoted levels
    bids: dict[int, int] = field(default_factory=dict)  # price ticks -> order id
    asks: dict[int, int] = field(default_factory=dict)
    ema_basis: float = 0.0
    premium_samples: list[float] = field(default_factory=list)  # one per minute since the last funding
    last_minute: int = -1
    inventory: dict[str, float] = field(default_factory=dict)  # taker -> signed base quantity
    funding_rate: Decimal = _INTEREST


class MarketSimulator:
    """Drives the synthetic market of every listed symbol.

    Parameters
    ----------
    exchange : the local exchange (its venue, market data and clock)
    rng : the only randomness (seed it for reproducible markets)
    profiles : per-symbol behaviour (default :func:`default_profiles`; unknown symbols get a generic one)
    """

    def __init__(
        self, exchange: LocalExchange, rng: random.Random, profiles: dict[str, SymbolProfile] | None = None
    ) -> None:
        self.ex = exchange
        self.rng = rng
        self.step_ms = exchange.config.sim_step_ms
        profiles = profiles or default_profiles()
        self.takers = [f"sim-taker-{i:02d}" for i in range(1, _TAKERS + 1)]
        venue = exchange.venue
        for taker in self.takers:
            venue.open_account(taker, {"USDT": Decimal(10**9)}, unlimited=True, emit_events=False)
        self.books: dict[str, _Book] = {}
        for symbol in exchange.symbols:
            spec = venue.specs[symbol]
            prof = profiles.get(symbol) or SymbolProfile(spec.min_price * 100)
            maker = MAKER_PREFIX + symbol
            venue.open_account(maker, {"USDT": Decimal(10**9)}, unlimited=True, emit_events=False)
            price = float(prof.start_price)
            spacing = max(1, round(price * prof.level_bp / 10_000 / float(spec.tick_size)))
            self.books[symbol] = _Book(spec, prof, maker, price, prof.basis_mean, spacing)
        self.t = -1  # last simulated grid time (ms); -1 before the first step

    # --- time -------------------------------------------------------------------------------------

    def step(self, now_ms: int) -> None:
        """Run every grid point up to ``now_ms``.

        When the clock runs ahead of what the simulator can follow (a very high ``--speed``, or a
        test jumping a ManualClock), at most ``_MAX_STEPS_PER_CALL`` grid points run per call: the
        stretch before them is skipped in one move (the index walks the whole gap in one draw, the
        marks and any funding settlement in the gap are still published), so the event loop is
        never blocked replaying hours of market. ``LocalExchange.run_for`` steps one point a call.
        """
        step = self.step_ms
        if self.t < 0:
            self.t = now_ms - now_ms % step
            for book in self.books.values():
                self._quote(book)
            self._marks(self.t)
            return
        skip_to = now_ms - now_ms % step - step * _MAX_STEPS_PER_CALL
        if skip_to > self.t:
            prev, self.t = self.t, skip_to
            for book in self.books.values():
                self._walk(book, (skip_to - prev) / 1000)
            if skip_to // FUNDING_INTERVAL_MS != prev // FUNDING_INTERVAL_MS:
                self._funding(skip_to - skip_to % FUNDING_INTERVAL_MS)
            self._marks(skip_to)
        while self.t + step <= now_ms:
            prev = self.t
            self.t += step
            self._tick(prev, self.t)

    def _tick(self, prev: int, t: int) -> None:
        dt_s = (t - prev) / 1000
        for book in self.books.values():
            self._walk(book, dt_s)
            self._quote(book)
            self._takers(book, dt_s)
        if t // _MARK_PERIOD_MS != prev // _MARK_PERIOD_MS:
            self._marks(t - t % _MARK_PERIOD_MS)
        if t // FUNDING_INTERVAL_MS != prev // FUNDING_INTERVAL_MS:
            self._funding(t - t % FUNDING_INTERVAL_MS)

    # --- index and basis ---------------------------------------------------------------------------

    def _walk(self, book: _Book, dt_s: float) -> None:
        prof = book.profile
        sigma = prof.annual_vol / math.sqrt(_YEAR_S)
        book.index *= math.exp(sigma * math.sqrt(dt_s) * self.rng.gauss(0.0, 1.0) - 0.5 * sigma * sigma * dt_s)
        theta = 1 / 600  # basis mean reversion: ~10 minutes
        book.basis += theta * (prof.basis_mean - book.basis) * dt_s + prof.basis_vol * math.sqrt(dt_s) * self.rng.gauss(
            0.0, 1.0
        )

    # --- liquidity provider -----------------------------------------------------------------------

    def _quote(self, book: _Book) -> None:
        spec, prof, sp = book.spec, book.profile, book.spacing
        fair_ticks = book.index * (1 + book.basis) / float(spec.tick_size)
        top_bid = (math.floor(fair_ticks / sp) - 0) * sp
        if top_bid >= fair_ticks:
            top_bid -= sp
        top_ask = math.ceil(fair_ticks / sp) * sp
        if top_ask <= fair_ticks:
            top_ask += sp
        want_bids = {top_bid - k * sp for k in range(prof.levels) if top_bid - k * sp > 0}
        want_asks = {top_ask + k * sp for k in range(prof.levels)}
        open_orders = self.ex.venue.accounts[book.maker].open_orders
        for side, have, want in (("BUY", book.bids, want_bids), ("SELL", book.asks, want_asks)):
            for ticks in [t for t, oid in have.items() if t not in want or oid not in open_orders]:
                oid = have.pop(ticks)
                if oid in open_orders and ticks not in want:
                    self._send(book.maker, c.CancelOrder(symbol=spec.symbol, order_id=oid))
            # Nearest levels first, so the inside of the book refills before the tail.
            for ticks in sorted(want - have.keys(), reverse=side == "BUY"):
                qty = self._qty(spec, prof.level_notional * self.rng.uniform(0.5, 1.5), ticks)
                snap = self._send(
                    book.maker,
                    c.NewOrder(symbol=spec.symbol, side=side, type="LIMIT", time_in_force="GTC",
                               quantity=qty, price=spec.price(ticks)),
                )  # fmt: skip
                if snap is not None and snap.status in ("NEW", "PARTIALLY_FILLED"):
                    have[ticks] = snap.order_id

    @staticmethod
    def _qty(spec: SymbolSpec, notional: float, ticks: int) -> Decimal:
        price = float(spec.price(ticks)) or 1.0
        lots = max(1, int(notional / price / float(spec.step_size)))
        min_lots = int(spec.min_qty / spec.step_size)
        need = int(float(spec.min_notional) / price / float(spec.step_size)) + 1
        return spec.qty(min(max(lots, min_lots, need), int(spec.max_qty / spec.step_size)))

    # --- takers -----------------------------------------------------------------------------------

    def _takers(self, book: _Book, dt_s: float) -> None:
        prof, spec, rng = book.profile, book.spec, self.rng
        arrivals = _poisson(rng, prof.taker_rate * dt_s)
        for _ in range(arrivals):
            bid, _, ask, _ = self.ex.venue.best_bid_ask(spec.symbol)
            if bid is None or ask is None:
                return
            mid = (float(bid) + float(ask)) / 2
            fair = book.index * (1 + book.basis)
            taker = self.takers[rng.randrange(len(self.takers))]
            inv = book.inventory.get(taker, 0.0) * mid / (prof.taker_notional * 10)
            gap = (fair - mid) / (book.spacing * float(spec.tick_size))
            p_buy = 0.5 + 0.25 * math.tanh(gap) - 0.2 * math.tanh(inv)
            side = "BUY" if rng.random() < p_buy else "SELL"
            notional = prof.taker_notional * math.exp(0.8 * rng.gauss(0.0, 1.0) - 0.32)
            qty = self._taker_qty(spec, notional, mid)
            snap = self._send(
                taker,
                c.NewOrder(symbol=spec.symbol, side=side, type="MARKET", quantity=qty, new_order_resp_type="RESULT"),
            )
            if snap is not None:
                filled = float(snap.executed_qty)
                book.inventory[taker] = book.inventory.get(taker, 0.0) + (filled if side == "BUY" else -filled)

    @staticmethod
    def _taker_qty(spec: SymbolSpec, notional: float, price: float) -> Decimal:
        lots = int(notional / price / float(spec.step_size))
        min_lots = max(
            int(spec.market_min_qty / spec.step_size),
            int(float(spec.min_notional) * 1.05 / price / float(spec.step_size)) + 1,
        )
        max_lots = int(spec.market_max_qty / spec.step_size)
        return spec.qty(min(max(lots, min_lots), max_lots))

    # --- mark price, premium, funding ----------------------------------------------------------------

    def _impact(self, symbol: str, notional: float) -> tuple[float | None, float | None]:
        """Average fill prices of selling / buying ``notional`` USDT against the book."""
        _, bids, asks = self.ex.venue.depth(symbol, 100)
        out: list[float | None] = []
        for levels in (bids, asks):
            left, cost, qty = notional, 0.0, 0.0
            for price, size in levels:
                p, q = float(price), float(size)
                take = min(q, left / p)
                cost += take * p
                qty += take
                left -= take * p
                if left <= 1e-9:
                    break
            out.append(cost / qty if qty and left <= 1e-9 else None)
        return out[0], out[1]

    def _marks(self, t: int) -> None:
        """Publish mark, index, premium and predicted funding of every symbol at ``t``.

        premium index = (max(0, impact bid - index) - max(0, index - impact ask)) / index, impact
        prices for Binance's impact notional (200 USDT x max leverage); mark = median(index x (1 +
        funding rate x time to funding / 8 h), index + EMA(mid - index, 5 min), last price); the
        funding rate F = P + clamp(I - P, -0.05 %, +0.05 %), P the minute-sampled premium averaged
        with weights 1..n since the last settlement, I = 0.01 % per 8 h, |F| capped at 2 %.
        """
        venue, market = self.ex.venue, self.ex.market
        stamp = max(t, self.ex.clock.time_ms())
        next_funding = t - t % FUNDING_INTERVAL_MS + FUNDING_INTERVAL_MS
        for symbol, book in self.books.items():
            spec = book.spec
            index = book.index
            bid, _, ask, _ = venue.best_bid_ask(symbol)
            mid = (float(bid) + float(ask)) / 2 if bid is not None and ask is not None else index
            impact_notional = 200.0 * spec.max_leverage
            ib, ia = self._impact(symbol, impact_notional)
            ib = ib if ib is not None else mid
            ia = ia if ia is not None else mid
            premium = (max(0.0, ib - index) - max(0.0, index - ia)) / index
            alpha = 1 - math.exp(-_MARK_PERIOD_MS / _EMA_TAU_MS)
            book.ema_basis += alpha * ((mid - index) - book.ema_basis)
            minute = t // 60_000
            if minute != book.last_minute:
                book.last_minute = minute
                book.premium_samples.append(premium)
            book.funding_rate = _funding_rate(book.premium_samples)
            last = market.last_price(symbol)
            price1 = index * (1 + float(book.funding_rate) * (next_funding - t) / FUNDING_INTERVAL_MS)
            price2 = index + book.ema_basis
            mark = sorted((price1, price2, float(last) if last is not None else price2))[1]
            mark_d = _price8(mark)
            index_d = _price8(index)
            self._market_event(c.MarkPrice(symbol=symbol, mark_price=mark_d, time_ms=stamp, index_price=index_d))
            market.on_mark(
                MarkPriceUpdate(
                    symbol=symbol, mark_price=mark_d, index_price=index_d, estimated_settle_price=index_d,
                    premium_index=Decimal(repr(round(premium, 8))), funding_rate=book.funding_rate,
                    interest_rate=_INTEREST, next_funding_time_ms=next_funding, time_ms=stamp,
                )
            )  # fmt: skip

    def _funding(self, funding_time: int) -> None:
        stamp = max(funding_time, self.ex.clock.time_ms())
        for symbol, book in self.books.items():
            rate = _funding_rate(book.premium_samples)
            mark = self.ex.market.mark(symbol)
            mark_price = mark.mark_price if mark is not None else _price8(book.index)
            self._market_event(c.Funding(symbol=symbol, funding_rate=rate, mark_price=mark_price, time_ms=stamp))
            self.ex.market.on_funding(symbol, funding_time, rate, mark_price)
            book.premium_samples = []
            book.funding_rate = _INTEREST

    # --- plumbing -----------------------------------------------------------------------------------

    def _send(self, account_id: str, command: c.Command) -> Any:
        try:
            return self.ex.execute(account_id, command)
        except ApiError as err:  # a rejected quote is skipped (e.g. PERCENT_PRICE after a jump)
            self.ex.log.debug("simulator command refused: %s %s", err.code, err.msg)
            return None

    def _market_event(self, event: c.MarketEvent) -> None:
        try:
            self.ex.on_market(event)
        except ApiError as err:
            self.ex.log.debug("simulator market event refused: %s %s", err.code, err.msg)


def _funding_rate(samples: list[float]) -> Decimal:
    """F = P + clamp(I - P, +-0.05 %), P the weighted (1..n) average premium; capped at +-2 %."""
    if not samples:
        return _INTEREST
    weights = range(1, len(samples) + 1)
    p = Decimal(repr(sum(w * s for w, s in zip(weights, samples, strict=True)) / sum(weights)))
    rate = p + min(_CLAMP, max(-_CLAMP, _INTEREST - p))
    return max(-_CAP, min(_CAP, rate)).quantize(E8, rounding=ROUND_DOWN)


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (lam is small: a few arrivals per step)."""
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _price8(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(E8, ROUND_HALF_EVEN)
