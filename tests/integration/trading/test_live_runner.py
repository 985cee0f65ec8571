"""Live trading against the local exchange (sped up 300x): real orders, real user stream, real reconciliation.

* The MA crossover places orders through REST, learns its fills only from the user-data stream, ends
  with a Portfolio equal to the exchange's positionRisk and balance, and sends the same orders as a
  backtest over the REST klines of the bars it saw.
* The kill switch (orders over the WebSocket API here) leaves no open order, algo order or position.
* A restart reconciles: open orders of a previous session are adopted, positions and wallet read back;
  a normal stop cancels our orders only; fills hidden by a user-stream gap are read back through REST.
* Mainnet is refused without the explicit confirmation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio

from binfut.client import AsyncClient
from binfut.emulator import EmulatorConfig, RunningEmulator, start_emulator
from binfut.emulator.ws import WS_HUB_KEY
from binfut.errors import ConfigError
from binfut.matching import NewOrder
from binfut.strategy import Bar, Context, MACross, MACrossConfig, Strategy
from binfut.trading import BacktestConfig, BarGap, run_backtest
from binfut.trading.live import MAINNET_REFUSAL, LiveConfig, LiveRunner, check_mainnet
from binfut.trading.runner import RunSummary
from integration.trading.runner_support import SkipClosedBars, exchange_feed, run_until, run_until_orders

D = Decimal
KEY, SECRET = "liveRunnerKey0001", "liveRunnerSecret0001"
BOUND = 30.0


@dataclass
class Venue:
    emulator: RunningEmulator
    client: AsyncClient


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[Venue]:
    config = EmulatorConfig(symbols=("BTCUSDT",), speed=300, seed=4, api_keys={KEY: SECRET})
    async with (
        start_emulator(config) as emu,
        AsyncClient(KEY, SECRET, env="local", base_url=emu.rest_url, clock=emu.exchange.clock) as client,
    ):
        yield Venue(emu, client)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")


async def exchange_state(client: AsyncClient) -> tuple[dict[str, Decimal], Decimal, int, int]:
    """(positions, USDT wallet, open orders, open algo orders) as the exchange reports them over REST."""
    async with asyncio.timeout(BOUND):
        positions = {p.symbol: p.position_amt for p in await client.position_risk() if p.position_amt}
        wallet = next(b.balance for b in await client.balance() if b.asset == "USDT")
        return positions, wallet, len(await client.open_orders()), len(await client.open_algo_orders())


@pytest.mark.asyncio
async def test_live_ma_cross_trades_for_real_and_its_portfolio_is_the_exchanges(venue: Venue) -> None:
    strategy = MACross(MACrossConfig(short_window=2, long_window=4, quantity=D("0.01")))
    runner = LiveRunner(strategy, venue.client, config=LiveConfig(seed=1, cancel_on_stop=True))

    result = await asyncio.wait_for(run_until_orders(runner, 3), BOUND)

    positions, wallet, open_orders, open_algos = await exchange_state(venue.client)
    assert len(result.orders) >= 3 and all(o.status == "FILLED" for o in result.orders)
    assert len(result.fills) == len(result.orders)  # every fill arrived through the user-data stream
    assert result.positions == positions and result.final_wallet == wallet
    assert result.open_orders == open_orders == 0 and open_algos == 0
    assert result.fees > 0 and result.extra["resyncs"] == 0
    assert result.initial_balance == D("100000")  # the emulator's default balance, read back at start
    assert result.final_wallet == result.initial_balance + result.realized_pnl - result.fees + result.funding
    assert all(o.client_order_id.startswith("lv") for o in result.orders)
    # the same orders as a backtest over the exchange's klines of the bars the live run saw
    feed = await exchange_feed(venue.emulator.rest_url, venue.client.clock, result)
    backtest = run_backtest(MACross(strategy.config), feed, BacktestConfig(engine="events"))
    assert list(feed.open_ms) == result.bar_open_times  # the live run saw every bar the exchange made in that span
    assert [(o.bar_time_ms, o.side, o.quantity, o.type) for o in result.orders] == [
        (f.time_ms, f.side, f.qty, f.order_type) for f in backtest.fills]


class SkippingLiveRunner(SkipClosedBars, LiveRunner):
    """A live runner whose kline stream loses two bars."""


@pytest.mark.asyncio
async def test_bars_the_stream_skipped_are_read_back_and_traded_on_as_in_a_backtest(venue: Venue) -> None:
    strategy = MACross(MACrossConfig(short_window=2, long_window=3, quantity=D("0.01")))
    runner = SkippingLiveRunner(strategy, venue.client, config=LiveConfig(seed=2, warmup_bars=0, flatten_on_stop=True))

    result = await run_until(runner, lambda status: status.bars >= 8)

    feed = await exchange_feed(venue.emulator.rest_url, venue.client.clock, result)
    backtest = run_backtest(MACross(strategy.config), feed, BacktestConfig(engine="events"))
    dropped = runner.dropped
    assert len(dropped) == 2 and result.gaps == [BarGap(symbol="BTCUSDT", first_open_ms=dropped[0],
                                                        next_open_ms=dropped[1] + 60_000, filled=2)]
    assert list(feed.open_ms) == result.bar_open_times and set(dropped) <= set(result.bar_open_times)
    # the strategy traded on the bars read back as on streamed ones, waiting for each order's events
    entries = [o for o in result.orders if o.tag != "flatten"]
    assert [(o.bar_time_ms, o.side, o.quantity) for o in entries] == [(f.time_ms, f.side, f.qty) for f in backtest.fills]
    assert all(o.status == "FILLED" for o in result.orders) and result.extra["resyncs"] == 0


class OpenEverything(Strategy):
    """On the first bar: a filled MARKET entry with a stop-loss (algo order) and a resting LIMIT bid."""

    name = "open_everything"
    symbols = ("BTCUSDT",)

    def __init__(self) -> None:
        self.done = False

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        if self.done:
            return
        self.done = True
        ctx.bracket("BTCUSDT", "BUY", D("0.02"), stop_loss=bar.close * D("0.97"))
        ctx.buy("BTCUSDT", D("0.01"), bar.close * D("0.98"))


async def wait_for(predicate: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_the_kill_switch_leaves_no_open_order_or_position_on_the_exchange(venue: Venue) -> None:
    runner = LiveRunner(OpenEverything(), venue.client, config=LiveConfig(ws_api=True, cancel_on_stop=False))
    task = asyncio.ensure_future(runner.run(duration_s=20.0))

    def armed() -> bool:
        s = runner.status()
        return s is not None and bool(s.positions) and len(s.open_orders) == 1 and s.open_algos == 1

    await wait_for(armed)
    before = await exchange_state(venue.client)
    runner.request_kill("test kill")
    result = await asyncio.wait_for(task, BOUND)

    assert before[0] == {"BTCUSDT": D("0.020")} and before[2:] == (1, 1)
    assert await exchange_state(venue.client) == ({}, result.final_wallet, 0, 0)
    assert result.kill_reason == "test kill" and "kill switch" in (result.stop_reason or "")
    assert result.positions == {} and result.open_orders == 0 and runner.portfolio.algos == {}
    assert [o.tag for o in result.orders] == ["entry", "", "flatten"]
    assert runner.gateway.ws_api is not None and runner.gateway.ws_api.connects >= 1  # orders went over ws-fapi


@pytest.mark.asyncio
async def test_a_restart_reconciles_and_a_normal_stop_leaves_foreign_orders_alone(venue: Venue) -> None:
    first = LiveRunner(OpenEverything(), venue.client, config=LiveConfig(seed=5, cancel_on_stop=False))
    await asyncio.wait_for(first.run(duration_s=1.5), BOUND)
    async with asyncio.timeout(BOUND):
        mark = (await venue.client.mark_price(symbol="BTCUSDT")).mark_price
        await venue.client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=D("0.01"), time_in_force="GTC",
                                     price=(mark * D("0.97")).quantize(D("0.1"), ROUND_HALF_EVEN), new_client_order_id="manual-1")

    again = LiveRunner(Strategy(), venue.client, symbols=("BTCUSDT",),
                       config=LiveConfig(seed=6, cancel_on_stop=True, flatten_on_stop=True))
    result = await asyncio.wait_for(again.run(duration_s=0.5), BOUND)

    report = result.extra["reconcile"]
    assert report.positions == {"BTCUSDT:BOTH": D("0.020")} and report.open_orders == 2 and report.open_algo_orders == 1
    assert len(report.adopted) == 1 and report.foreign == ["manual-1"]  # same prefix: ours, from another session
    assert report.relinked_brackets == 1
    # cancel + flatten on stop: our orders and the position are gone, the foreign order stays
    assert await exchange_state(venue.client) == ({}, result.final_wallet, 1, 0)
    assert [o.client_order_id for o in await asyncio.wait_for(venue.client.open_orders(), BOUND)] == ["manual-1"]


class SellThenStop(Strategy):
    """On the first bar: a MARKET sell, then the run's stop event is set (as a user's Ctrl-C right after an order)."""

    name = "sell_then_stop"
    symbols = ("BTCUSDT",)

    def __init__(self, before_order: Callable[[], None], stop: Callable[[], None]) -> None:
        self.before_order, self.request_stop, self.done = before_order, stop, False

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        if not self.done:
            self.done = True
            self.before_order()
            ctx.sell("BTCUSDT", D("0.01"))
            self.request_stop()


class LateUserEvents(LiveRunner):
    """A user stream slower than REST: events after ``hold()`` arrive 0.3 s into the wind-down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holding = False
        self.held: list[Any] = []

    def hold(self) -> None:
        self.holding = True

    def _post_user(self, item: Any) -> None:
        if self.holding:
            self.held.append(item)
        else:
            super()._post_user(item)

    def _release(self) -> None:
        self.holding = False
        for item in self.held:
            super()._post_user(item)

    async def _wind_down(self, reason: str) -> RunSummary:
        asyncio.get_running_loop().call_later(0.3, self._release)
        return await super()._wind_down(reason)


@pytest.mark.asyncio
async def test_a_stop_that_flattens_waits_for_the_fill_of_an_order_sent_just_before(venue: Venue) -> None:
    loop, stop = asyncio.get_running_loop(), asyncio.Event()
    runner: LateUserEvents
    strategy = SellThenStop(lambda: runner.hold(), lambda: loop.call_soon_threadsafe(stop.set))
    runner = LateUserEvents(strategy, venue.client, config=LiveConfig(seed=7, warmup_bars=0, flatten_on_stop=True))

    result = await asyncio.wait_for(runner.run(duration_s=20.0, stop=stop), BOUND)

    assert runner.held and not runner.holding  # the sell's events were late, and came during the wind-down
    assert [(o.side, o.tag, o.status) for o in result.orders] == [("SELL", "", "FILLED"), ("BUY", "flatten", "FILLED")]
    assert result.positions == {} and result.extra["resyncs"] == 0
    assert (await exchange_state(venue.client))[0] == {}


@pytest.mark.asyncio
async def test_fills_hidden_by_a_user_stream_gap_are_read_back_through_rest(venue: Venue) -> None:
    runner = LiveRunner(Strategy(), venue.client, symbols=("BTCUSDT",), config=LiveConfig(cancel_on_stop=False))
    task = asyncio.ensure_future(runner.run(duration_s=20.0))
    await wait_for(lambda: runner.status() is not None and runner.user_stream is not None
                   and runner.user_stream.reconciliations >= 1)
    exchange = venue.emulator.exchange
    account = exchange.accounts.by_api_key(KEY)
    assert account is not None

    for session in list(venue.emulator.runner.app[WS_HUB_KEY].sessions):  # every socket, the user stream's too
        session.abort("test: drop")
    exchange.execute(account.account_id, NewOrder(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.03")))
    await wait_for(lambda: runner.resyncs >= 1)  # the stream's reconciliation after the gap made the runner re-read
    task.cancel()  # an abrupt end: no wind-down, the state is what the runner folded
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, BOUND)

    positions, wallet, _, _ = await exchange_state(venue.client)
    assert positions == {"BTCUSDT": D("-0.030")}
    assert runner.portfolio.position("BTCUSDT") == D("-0.030") and runner.portfolio.wallet == wallet


def test_mainnet_is_refused_without_the_explicit_confirmation() -> None:
    client = SimpleNamespace(env="mainnet", clock=None, urls=None)

    with pytest.raises(ConfigError) as refused:
        LiveRunner(MACross(), client)

    assert str(refused.value) == MAINNET_REFUSAL and "--i-understand-this-is-real-money" in MAINNET_REFUSAL
    check_mainnet("mainnet", True)  # confirmed: allowed
    check_mainnet("testnet", False)
