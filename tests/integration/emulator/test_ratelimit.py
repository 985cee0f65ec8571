"""Request weight per IP (headers, 429, escalating 418 bans) and order counts per account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from integration.emulator.conftest import Served, make_exchange, serve
from integration.emulator.support import assert_error


@pytest_asyncio.fixture
async def tight() -> AsyncIterator[Served]:
    ex = make_exchange(warmup_ms=0, simulate=False, weight_limit_1m=30, ban_after=2, ban_seconds=120, order_limit_10s=3)
    async for s in serve(ex):
        yield s


@pytest.mark.asyncio
async def test_weight_header_counts_every_answer(served: Served) -> None:
    api = served.api
    first = await api.raw("GET", "/fapi/v1/ping", key=None)
    used = int(first.headers["x-mbx-used-weight-1m"])
    deep = await api.raw("GET", "/fapi/v1/depth", "symbol=BTCUSDT&limit=1000", key=None)  # weight 20
    assert int(deep.headers["x-mbx-used-weight-1m"]) == used + 20
    error = await api.raw("GET", "/fapi/v1/depth", "symbol=NOPE", key=None)  # errors count too (limit 500: 10)
    assert_error(error, -1121)
    assert int(error.headers["x-mbx-used-weight-1m"]) == used + 30
    # a new minute starts from zero
    served.run(60_000)
    fresh = await api.raw("GET", "/fapi/v1/ping", key=None)
    assert fresh.headers["x-mbx-used-weight-1m"] == "1"


@pytest.mark.asyncio
async def test_429_then_418_ban_that_escalates(tight: Served) -> None:
    api, clock = tight.api, tight.exchange.clock
    for i in range(30):
        assert (await api.raw("GET", "/fapi/v1/ping", key=None)).status == 200, i
    over = await api.raw("GET", "/fapi/v1/ping", key=None)
    assert_error(over, -1003, 429)
    retry = int(over.headers["retry-after"])
    assert 1 <= retry <= 60
    assert over.headers["x-mbx-used-weight-1m"] == "31"
    assert_error(await api.raw("GET", "/fapi/v1/ping", key=None), -1003, 429)
    banned = await api.raw("GET", "/fapi/v1/ping", key=None)  # the third 429 in the window -> ban
    assert_error(banned, -1003, 418)
    assert int(banned.headers["retry-after"]) == 120
    clock.advance(60_000 * 1_000_000)  # a new weight window does not lift a ban
    still = await api.raw("GET", "/fapi/v1/ping", key=None)
    assert still.status == 418 and int(still.headers["retry-after"]) <= 60
    clock.advance(61_000 * 1_000_000)
    assert (await api.raw("GET", "/fapi/v1/ping", key=None)).status == 200
    # offend again: the second ban lasts twice as long
    for _ in range(40):
        reply = await api.raw("GET", "/fapi/v1/ping", key=None)
        if reply.status == 418:
            break
    assert reply.status == 418 and int(reply.headers["retry-after"]) == 240


@pytest.mark.asyncio
async def test_order_count_headers_and_limit(tight: Served) -> None:
    api = tight.api
    order = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "60000",
    }
    for n in (1, 2, 3):
        reply = await api.call("new_order", order)
        assert reply.status == 200, reply.body
        assert reply.headers["x-mbx-order-count-10s"] == str(n)
        assert reply.headers["x-mbx-order-count-1m"] == str(n)
    over = await api.call("new_order", order)
    body = assert_error(over, -1015, 429)
    assert "TEN_SECONDS" in body["msg"] and "retry-after" in over.headers
    assert (
        len((await api.call("open_orders", {"symbol": "BTCUSDT"})).json) == 3
    )  # the refused order never reached the engine
    tight.exchange.clock.advance(10_000 * 1_000_000)
    assert (await api.call("new_order", order)).status == 200
