"""Generated history: deterministic, on the filters' grids, continuous with the live market."""

from __future__ import annotations

from decimal import Decimal

from binfut import Client, EmulatorConfig, EmulatorThread
from binfut.clock import ManualClock
from binfut.emulator import build_exchange

START_NS = 1_767_225_600_000 * 1_000_000  # 2026-01-01 00:00 UTC


def history_of(seed: int) -> list[tuple[int, str, str]]:
    exchange = build_exchange(EmulatorConfig(history_days=1, seed=seed, simulate=False), clock=ManualClock(START_NS))
    bars = exchange.market.klines("BTCUSDT", "1h", "trade", limit=100)
    return [(b.open_time_ms, str(b.open), str(b.close)) for b in bars]


def test_history_is_deterministic_per_seed() -> None:
    assert history_of(1) == history_of(1)
    assert history_of(1) != history_of(2)
    assert len(history_of(1)) == 24


def test_history_is_served_and_joins_the_live_market() -> None:
    config = EmulatorConfig(api_keys={"k": "s"}, history_days=2, seed=4, speed=10)
    with EmulatorThread(config) as exchange:
        assert exchange.running is not None
        with Client("k", "s", env="local", base_url=exchange.running.rest_url) as client:
            client.load_filters()
            filters = client.symbol_filters("ETHUSDT")
            bars = client.klines(symbol="ETHUSDT", interval="1m", limit=1500)
            hours = client.klines(symbol="ETHUSDT", interval="1h", limit=100)
            funding = client.funding_rate_history(symbol="ETHUSDT", limit=100)
            stats = client.open_interest_hist(symbol="ETHUSDT", period="5m", limit=500)
            live = client.book_ticker(symbol="ETHUSDT")

    assert len(bars) == 1500 and 48 <= len(hours) <= 49
    assert all((b.close - filters.min_price) % filters.tick_size == 0 for b in bars)
    assert [b.open_time_ms for b in bars] == sorted(b.open_time_ms for b in bars)
    assert len(funding) == 6 and all(f.funding_time_ms % (8 * 3_600_000) == 0 for f in funding)
    history_end = hours[-1].open_time_ms  # generated samples lie before the live market's first hour
    generated = [s for s in stats if s.timestamp_ms < history_end]
    assert len(stats) == 500 and len(generated) >= 480 and all(s.sum_open_interest > 0 for s in generated)
    # The walk ends where the simulator starts (3400 for ETHUSDT): no jump into the live market.
    last_history_close = hours[-2].close
    assert abs(last_history_close - Decimal("3400")) / Decimal("3400") < Decimal("0.01")
    assert abs(live.bid_price - last_history_close) / last_history_close < Decimal("0.01")
