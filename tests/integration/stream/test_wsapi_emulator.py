"""WsApiClient against the local exchange over real sockets: HMAC / RSA / Ed25519-session requests,
REST error classes, timeouts, many concurrent requests, reconnect + re-logon."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from binfut.client import AsyncClient
from binfut.clock import ManualClock
from binfut.config import ClientConfig
from binfut.credentials import Credentials
from binfut.emulator.config import EmulatorConfig, GeneratedKey, generate_api_key
from binfut.emulator.exchange import LocalExchange, build_exchange
from binfut.emulator.server import start_emulator
from binfut.emulator.ws import WS_HUB_KEY
from binfut.emulator.ws.api import WsApiConnection
from binfut.errors import ApiError, InvalidRequest, OrderRejected, ReadTimeout, UnknownOrder
from binfut.matching import NewOrder
from binfut.stream.wsapi import WsApiClient, WsApiConfig

BOUND = 15.0
KEYS: dict[str, GeneratedKey] = {
    kind: generate_api_key(kind, rng=random.Random(seed)) for seed, kind in enumerate(("HMAC", "RSA", "ED25519"))
}


@dataclass
class Env:
    exchange: LocalExchange
    clock: ManualClock
    rest_url: str
    ws_api_url: str
    hub: Any

    def creds(self, kind: str) -> Credentials:
        return Credentials(KEYS[kind].api_key, KEYS[kind].client_secret)

    def api(self, kind: str, **kwargs: Any) -> WsApiClient:
        return WsApiClient(self.ws_api_url, credentials=self.creds(kind), clock=self.clock, **kwargs)

    def rest(self, kind: str = "HMAC") -> AsyncClient:
        return AsyncClient(credentials=self.creds(kind), env="local", base_url=self.rest_url, clock=self.clock,
                           config=ClientConfig(validate_filters=False))  # fmt: skip


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock(1_700_000_000_000_000_000)
    config = EmulatorConfig(
        simulate=False,
        symbols=("BTCUSDT",),
        api_keys={k.api_key: k.server_material for k in KEYS.values()},
        weight_limit_1m=1800,  # not Binance's defaults: the client must adopt the reported limits
        order_limit_10s=250,
    )
    exchange = build_exchange(config, clock=clock)
    exchange.venue.open_account("mm", {"USDT": Decimal(10_000_000)}, unlimited=True)
    async with start_emulator(exchange=exchange) as running:
        yield Env(exchange, clock, running.rest_url, running.ws_url + "/ws-fapi/v1", running.runner.app[WS_HUB_KEY])


class Recorder:
    """Keeps every request frame the exchange received (to check what went on the wire)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[dict[str, Any]] = []
        real = WsApiConnection.handle

        async def handle(conn: WsApiConnection, text: str | bytes) -> bytes:
            self.sent.append(msgspec.json.decode(text))
            return await real(conn, text)

        monkeypatch.setattr(WsApiConnection, "handle", handle)


async def place_status_cancel(api: WsApiClient, client_id: str) -> None:
    placed = await api.order_place(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.010", price="49000",
                                   time_in_force="GTC", new_client_order_id=client_id)  # fmt: skip
    assert (placed.status, placed.client_order_id, placed.price) == ("NEW", client_id, Decimal("49000"))
    status = await api.order_status(symbol="BTCUSDT", orig_client_order_id=client_id)
    assert (status.order_id, status.status) == (placed.order_id, "NEW")
    cancelled = await api.order_cancel(symbol="BTCUSDT", order_id=placed.order_id)
    assert cancelled.status == "CANCELED"


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["HMAC", "RSA"])
async def test_place_status_cancel_with_per_request_signatures(env: Env, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(monkeypatch)
    async with env.api(kind) as api, asyncio.timeout(BOUND):
        await place_status_cancel(api, f"ws-{kind.lower()}-1")

        # Every order request carried its own key and signature; the replies' rateLimits fed the limiter.
        orders = [f for f in recorder.sent if f["method"].startswith("order.")]
        assert len(orders) == 3 and all({"apiKey", "signature", "timestamp"} <= set(f["params"]) for f in orders)
        assert api.limiter.weight[60_000].limit == 1800 and api.limiter.orders[10_000].limit == 250
        assert api.limiter.last.weight["1m"] == env.exchange.weights.charge("127.0.0.1", 0, env.clock.time_ms()).used


@pytest.mark.asyncio
async def test_ed25519_session_logon_then_unsigned_requests_and_relogon_after_a_drop(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(monkeypatch)
    async with env.api("ED25519") as api, asyncio.timeout(BOUND):
        # Act 1: log on; requests go without apiKey / signature
        status = await api.session_logon()
        assert status.api_key == KEYS["ED25519"].api_key and status.authorized_since_ms is not None
        await place_status_cancel(api, "ws-ed-1")
        unsigned = [f for f in recorder.sent if f["method"].startswith("order.")]
        assert unsigned and all("signature" not in f["params"] and "apiKey" not in f["params"] for f in unsigned)

        # Act 2: the exchange drops every connection; the client reconnects and logs on again
        for session in list(env.hub.sessions):
            session.abort("test: drop")
        while api.connects < 2 or not api.connected:
            env.clock.advance(250_000_000)  # the reconnect backoff runs on the (manual) clock
            await asyncio.sleep(0.01)
        assert (await api.session_status()).api_key == KEYS["ED25519"].api_key
        await place_status_cancel(api, "ws-ed-2")
        assert [f["method"] for f in recorder.sent].count("session.logon") == 2

        # Act 3: after logout, requests are signed per request again
        await api.session_logout()
        await place_status_cancel(api, "ws-ed-3")
        assert "signature" in recorder.sent[-1]["params"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("params", "cls", "code"),
    [
        ({"symbol": "BTCUSDT", "quantity": "100", "price": "49000"}, OrderRejected, -2019),  # margin
        ({"symbol": "NOPEUSDT", "quantity": "1", "price": "49000"}, InvalidRequest, -1121),  # symbol
    ],
)
async def test_order_errors_are_the_rest_classes_and_codes(env: Env, params: dict, cls: type, code: int) -> None:
    async with env.api("HMAC") as api, env.rest() as rest, asyncio.timeout(BOUND):
        with pytest.raises(ApiError) as over_ws:
            await api.order_place(side="BUY", type="LIMIT", time_in_force="GTC", **params)
        with pytest.raises(ApiError) as over_rest:
            await rest.new_order(side="BUY", type="LIMIT", time_in_force="GTC", **params)
    assert type(over_ws.value) is type(over_rest.value) is cls
    assert over_ws.value.code == over_rest.value.code == code
    assert over_ws.value.endpoint == "order.place"


@pytest.mark.asyncio
async def test_unknown_orders_raise_unknown_order(env: Env) -> None:
    async with env.api("HMAC") as api, asyncio.timeout(BOUND):
        with pytest.raises(UnknownOrder) as status:
            await api.order_status(symbol="BTCUSDT", order_id=123456)
        with pytest.raises(UnknownOrder) as cancel:
            await api.order_cancel(symbol="BTCUSDT", order_id=123456)
    assert (status.value.code, cancel.value.code) == (-2013, -2011)


@pytest.mark.asyncio
async def test_a_reply_that_never_comes_raises_read_timeout(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: the exchange stalls every request until released (bounded)
    release = asyncio.Event()
    real = env.exchange.dispatch

    async def stalled(*args: Any) -> Any:
        await asyncio.wait_for(release.wait(), BOUND)
        return await real(*args)

    monkeypatch.setattr(env.exchange, "dispatch", stalled)
    try:
        async with env.api("HMAC", config=WsApiConfig(timeout_s=0.3, sync_time=False)) as api, asyncio.timeout(BOUND):
            # Act / Assert
            with pytest.raises(ReadTimeout, match="order.status .* no reply within 0.3 s"):
                await api.order_status(symbol="BTCUSDT", order_id=1)
            release.set()
            with pytest.raises(UnknownOrder):  # the stalled one is answered late and dropped; this one works
                await api.order_status(symbol="BTCUSDT", order_id=2)
    finally:
        release.set()


@pytest.mark.asyncio
async def test_many_concurrent_requests_are_correlated_by_id(env: Env) -> None:
    env.exchange.execute("mm", NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=Decimal(5),
                                        price=Decimal(50_000), time_in_force="GTC"))  # fmt: skip
    async with env.api("HMAC") as api, asyncio.timeout(BOUND):
        # Act: 60 placements (some fill, some rest) and 60 public calls, all in flight together
        ids = [f"conc-{i}" for i in range(60)]
        placed = asyncio.gather(*(
            api.order_place(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.003",
                            price="50000" if i % 2 else "49000", time_in_force="GTC", new_client_order_id=cid)
            for i, cid in enumerate(ids)
        ))  # fmt: skip
        books = asyncio.gather(*(api.depth(symbol="BTCUSDT", limit=5) for _ in range(60)))
        orders, depths = await asyncio.gather(placed, books)

        # Assert: every caller got its own answer
        assert [o.client_order_id for o in orders] == ids
        assert len({o.order_id for o in orders}) == 60 and all(d.last_update_id > 0 for d in depths)
        statuses = await asyncio.gather(*(api.order_status(symbol="BTCUSDT", order_id=o.order_id) for o in orders))
        assert [s.order_id for s in statuses] == [o.order_id for o in orders]
        assert {s.status for i, s in enumerate(statuses) if i % 2} == {"FILLED"}
