"""Replay mode: recorded Binance data (shared/realdata) drives the same engine the users trade on."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from binfut.clock import ManualClock
from binfut.emulator import EmulatorConfig, LocalExchange, build_exchange
from binfut.emulator.replay import ReplayDriver, open_replay
from binfut.matching import commands as c
from integration.emulator.conftest import serve
from integration.emulator.support import Api, make_key

REAL = Path("/work/shared/realdata")
HFT = REAL / "btcusdt_20240718.gz"
CRYPTOFEED = REAL / "BINANCE_FUTURES.ws.1.0"
KEY = make_key("HMAC", 77)

pytestmark = pytest.mark.skipif(not HFT.is_file() or not CRYPTOFEED.is_file(), reason="shared/realdata not present")


def replay(path: Path, ms: int) -> tuple[LocalExchange, ReplayDriver]:
    start = open_replay(path).start_ms
    ex = build_exchange(
        EmulatorConfig(replay_file=str(path), api_keys={KEY.api_key: KEY.material}),
        clock=ManualClock(start * 1_000_000),
    )
    ex.advance(ex.clock.time_ms())
    ex.run_for(ms, step_ms=100)
    driver = ex.simulator
    assert isinstance(driver, ReplayDriver)
    return ex, driver


def test_hftbacktest_recording_rebuilds_the_book_and_the_tape() -> None:
    ex, driver = replay(HFT, 60_000)
    assert ex.symbols == ("BTCUSDT",)
    st = driver.state["BTCUSDT"]
    assert st.synced and st.last_update_id >= 4984028384061  # synchronised past the REST snapshot
    bid, _, ask, _ = ex.venue.best_bid_ask("BTCUSDT")
    assert bid == max(st.levels_bid) and ask == min(st.levels_ask)  # the engine book is the recorded one
    _, bids, asks = ex.venue.depth("BTCUSDT", 5)
    assert [(p, q) for p, q in bids] == sorted(((p, q) for p, q in st.levels_bid.items()), reverse=True)[:5]
    assert [(p, q) for p, q in asks] == sorted(st.levels_ask.items())[:5]
    tape = ex.market.recent_trades("BTCUSDT", 10_000)
    assert len(tape) == driver.trades > 100
    assert tape[0].trade_id == 5182005737 and tape[0].price == Decimal("63943.90")  # the first recorded trade
    mark = ex.market.mark("BTCUSDT")
    assert mark is not None and mark.mark_price == ((bid + ask) / 2).quantize(Decimal("0.00000001"), ROUND_HALF_EVEN)
    assert ex.market.klines("BTCUSDT", "1m")


def test_a_user_order_fills_against_the_replayed_book() -> None:
    ex, _ = replay(HFT, 30_000)
    account = ex.accounts.by_api_key(KEY.api_key)
    assert account is not None
    _, _, ask, ask_qty = ex.venue.best_bid_ask("BTCUSDT")
    assert ask is not None and ask_qty >= Decimal("0.01")
    order = ex.execute(account.account_id, c.NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"),
                                                      new_order_resp_type="RESULT"))  # fmt: skip
    assert order.status == "FILLED" and order.avg_price == ask
    assert ex.venue.position_risk(account.account_id, "BTCUSDT")[0].position_amt == Decimal("0.010")


def test_cryptofeed_capture_with_its_snapshots_and_exchange_info() -> None:
    ex, driver = replay(CRYPTOFEED, 40_000)
    assert set(ex.symbols) == {"SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"}
    assert ex.venue.specs["SUSHIUSDT"].tick_size == Decimal("0.001")  # from the recorded exchangeInfo
    assert driver.finished and driver.trades == 91
    for symbol, st in driver.state.items():
        assert st.synced, symbol
        bid, _, ask, _ = ex.venue.best_bid_ask(symbol)
        assert bid == max(st.levels_bid) and ask == min(st.levels_ask), symbol


@pytest.mark.asyncio
async def test_replayed_book_over_http() -> None:
    ex, driver = replay(HFT, 10_000)
    async for s in serve(ex):
        api = Api(s.rest_url, s.http, KEY, ex.server_time_ms)
        depth = (await api.call("depth", {"symbol": "BTCUSDT", "limit": 5})).json
        st = driver.state["BTCUSDT"]
        assert Decimal(depth["bids"][0][0]) == max(st.levels_bid)
        trades = (await api.call("trades", {"symbol": "BTCUSDT", "limit": 5})).json
        assert len(trades) == 5 and trades[-1]["id"] > trades[0]["id"]
