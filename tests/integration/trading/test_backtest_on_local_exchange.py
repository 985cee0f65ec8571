"""MA crossover backtests on klines served by the local exchange, checked by hand in Decimal.

The local exchange runs its seeded synthetic market on a ManualClock through a funding settlement, then
serves ``/fapi/v1/klines``, ``/fapi/v1/markPriceKlines`` and ``/fapi/v1/fundingRate`` on loopback; the
backtest fetches them with the REST client.  The test recomputes every fee, funding payment, realized
PnL and the final equity from the fills with plain Decimal arithmetic, independently of the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import msgspec
import pytest

from binfut.client import Client
from binfut.clock import ManualClock
from binfut.emulator import EmulatorConfig, EmulatorThread, build_exchange
from binfut.matching import default_specs
from binfut.strategy import MACross, MACrossConfig
from binfut.trading import BacktestConfig, BarFeed, LiquidityConfig, run_backtest
from binfut.trading.feed import fetch_feed

D = Decimal
E8 = D("0.00000001")
FUNDING_MS = 8 * 3_600_000
START_MS = 1_700_006_400_000 - 90 * 60_000  # 90 minutes before a funding settlement (00:00 UTC)
BARS = 150
TAKER = D("0.0005")
TICK = default_specs()["BTCUSDT"].tick_size


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The local exchange after 150 simulated minutes of its synthetic market, serving on loopback."""
    config = EmulatorConfig(seed=21, symbols=("BTCUSDT",), sim_step_ms=5000)
    exchange = build_exchange(config, clock=ManualClock(START_MS * 1_000_000))
    exchange.advance(exchange.clock.time_ms())
    exchange.run_for(BARS * 60_000)
    with EmulatorThread(exchange=exchange) as emu:
        yield emu.rest_url


@pytest.fixture(scope="module")
def feed(served: str) -> BarFeed:
    with Client(env="local", base_url=served) as client:
        return fetch_feed(client, "BTCUSDT", "1m", START_MS, START_MS + BARS * 60_000, default_specs()["BTCUSDT"])


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")  # restored after the test


def strategy() -> MACross:
    return MACross(MACrossConfig(short_window=5, long_window=15, quantity=D("0.05")))


def hand_check(feed: BarFeed, result, initial: Decimal) -> None:  # noqa: ANN001 - a BacktestResult
    """Recompute fees, realized PnL, funding and the final equity from the fills (average-entry accounting)."""
    closes = {int(t): feed.price(c) for t, c in zip(feed.decision_ms, feed.close, strict=True)}
    pos, entry = D(0), D(0)
    fees = realized = funding = D(0)
    fills = list(result.fills)
    k = 0
    for ev in feed.funding:  # settle funding between the fills, in time order
        while k < len(fills) and fills[k].time_ms < ev.time_ms:
            pos, entry, fee, pnl = apply(fills[k], pos, entry, closes)
            fees += fee
            realized += pnl
            k += 1
        mark = ev.mark_price if ev.mark_price is not None else feed.mark_close_dec(ev.bar)
        funding += -(pos * mark * ev.rate).quantize(E8, ROUND_HALF_EVEN)
    for f in fills[k:]:
        pos, entry, fee, pnl = apply(f, pos, entry, closes)
        fees += fee
        realized += pnl
    last_mark = feed.mark_close_dec(len(feed) - 1)
    equity = initial + realized - fees + funding + (last_mark - entry) * pos

    assert result.fees == fees
    assert result.realized_pnl == realized
    assert result.funding == funding
    assert result.final_equity == equity
    assert result.final_wallet == initial + realized - fees + funding


def apply(f, pos: Decimal, entry: Decimal, closes: dict[int, Decimal]) -> tuple[Decimal, Decimal, Decimal, Decimal]:  # noqa: ANN001
    """One fill: price at the bar's close (no slippage), taker fee, PnL of the closed part."""
    assert f.price == closes[f.time_ms], "MARKET orders fill at the close of the bar they were decided on"
    fee = (f.price * f.qty * TAKER).quantize(E8, ROUND_HALF_EVEN)
    assert f.commission == fee
    signed = f.qty if f.side == "BUY" else -f.qty
    pnl = D(0)
    if pos and (pos > 0) != (signed > 0):  # reducing or flipping
        closed = min(abs(signed), abs(pos))
        pnl = ((f.price - entry) * closed if pos > 0 else (entry - f.price) * closed).quantize(E8, ROUND_HALF_EVEN)
        rest = pos + signed
        entry = f.price if rest and (rest > 0) != (pos > 0) else (entry if rest else D(0))
        pos = rest
    else:  # the size-weighted average, rounded half to even to 1E-8 of a tick (ENTRY_SUB)
        size, lots = Fraction(abs(pos)), Fraction(abs(signed))
        ticks = (Fraction(entry) * size + Fraction(f.price) * lots) / (size + lots) / Fraction(TICK)
        entry = D(round(ticks * 10**8)).scaleb(-8) * TICK
        pos = pos + signed
    assert f.realized_pnl == pnl
    return pos, entry, fee, pnl


def test_the_local_exchange_served_klines_marks_and_a_funding_settlement(feed: BarFeed) -> None:
    assert len(feed) == BARS
    assert feed.mark_close is not None
    assert len(feed.funding) == 1 and feed.funding[0].time_ms == START_MS + 90 * 60_000
    assert feed.funding[0].rate != 0


@pytest.mark.parametrize("engine", ["events", "vectorized"])
def test_ma_cross_fees_funding_and_pnl_match_a_hand_check(feed: BarFeed, engine: str) -> None:
    config = BacktestConfig(initial_balance=D("10000"), taker_rate=TAKER, leverage=10, engine=engine)

    result = run_backtest(strategy(), feed, config)

    assert result.engine == engine
    assert len(result.fills) >= 4 and result.funding != 0
    hand_check(feed, result, D("10000"))


def test_both_engines_and_hedge_mode_agree_exactly(feed: BarFeed) -> None:
    base = BacktestConfig(initial_balance=D("10000"), leverage=10)

    events = run_backtest(strategy(), feed, msgspec.structs.replace(base, engine="events"))
    fast = run_backtest(strategy(), feed, msgspec.structs.replace(base, engine="vectorized"))
    hedge = run_backtest(strategy(), feed, msgspec.structs.replace(base, hedge_mode=True))

    assert events.fills == fast.fills
    assert (events.fees, events.funding, events.final_equity) == (fast.fees, fast.funding, fast.final_equity)
    # hedge mode closes LONG then opens SHORT in two orders: same quantities, fees and PnL
    assert hedge.engine == "events"
    assert {f.position_side for f in hedge.fills} == {"LONG", "SHORT"}
    assert (hedge.fees, hedge.funding, hedge.realized_pnl, hedge.final_equity) == (
        events.fees, events.funding, events.realized_pnl, events.final_equity)


def test_slippage_moves_every_fill_by_the_configured_basis_points(feed: BarFeed) -> None:
    config = BacktestConfig(liquidity=LiquidityConfig(slippage_bps=D("5")), engine="vectorized")

    result = run_backtest(strategy(), feed, config)

    closes = {int(t): feed.price(c) for t, c in zip(feed.decision_ms, feed.close, strict=True)}
    tick = feed.spec.tick_size
    for f in result.fills:
        ref = closes[f.time_ms]
        if f.side == "BUY":  # rounded to the tick away from the taker
            assert f.price == (ref * D("1.0005") / tick).to_integral_value(ROUND_CEILING) * tick
        else:
            assert f.price == (ref * D("0.9995") / tick).to_integral_value(ROUND_FLOOR) * tick


def test_the_cli_backtests_klines_fetched_from_the_local_exchange(served: str, feed: BarFeed, tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from binfut.cli import app

    config = tmp_path / "ma.json"  # the file paper and live use too: their tables are ignored here
    config.write_text('{"strategy": {"short_window": 5, "long_window": 15, "quantity": "0.05"}, "backtest": {"leverage": 10},'
                      ' "paper": {"initial_balance": "5000"}, "live": {"leverage": 3}}')

    out = CliRunner().invoke(app, ["--url", served, "backtest", "--config", str(config),  # binfut's --url, not backtest's
                                   "--start", str(START_MS), "--end", str(START_MS + BARS * 60_000),
                                   "--out", str(tmp_path / "report")])

    assert out.exit_code == 0, out.output
    assert out.stderr == f"backtest: klines from the local exchange at {served}\n"
    summary = msgspec.json.decode((tmp_path / "report" / "summary.json").read_bytes())
    expected = run_backtest(strategy(), feed, BacktestConfig(leverage=10))
    assert summary["bars"] == BARS and D(summary["fees"]) == expected.fees and D(summary["funding"]) == expected.funding
    assert D(summary["final_equity"]) == expected.final_equity

