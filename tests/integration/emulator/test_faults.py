"""Every fault kind fires on its schedule, is logged, and the client sees what the log says."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import aiohttp
import pytest

from binfut.emulator import FaultInjector, FaultKind, FaultRule
from binfut.emulator.faults import load_fault_file
from integration.emulator.conftest import Served, make_exchange
from integration.emulator.support import assert_error

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "price": "63000",
}


def kinds(served: Served) -> list[str]:
    return [r.kind for r in served.exchange.faults.log]


@pytest.mark.asyncio
async def test_latency(served: Served) -> None:
    served.exchange.faults.add(kind="latency", ms=250, endpoints=["ping"])
    start = time.perf_counter()
    assert (await served.api.raw("GET", "/fapi/v1/ping", key=None)).status == 200
    assert time.perf_counter() - start >= 0.25
    assert (await served.api.raw("GET", "/fapi/v1/time", key=None)).status == 200  # other endpoints untouched
    assert kinds(served) == ["latency"]
    assert served.exchange.faults.log[0].target == "ping" and "ms=250" in served.exchange.faults.log[0].detail


async def raw_http(served: Served, request: str) -> bytes:
    """Send one raw HTTP/1.1 request and return every byte the server sends before closing."""
    host, port = served.rest_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request.encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


@pytest.mark.asyncio
async def test_dropped_connection_without_and_with_execution(served: Served) -> None:
    faults = served.exchange.faults
    faults.add(kind="drop", at_requests=[2], endpoints=["ping"])
    ping = "GET /fapi/v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert (await raw_http(served, ping)).startswith(b"HTTP/1.1 200")
    assert await raw_http(served, ping) == b""  # closed without a single byte of answer
    assert (await raw_http(served, ping)).startswith(b"HTTP/1.1 200")
    # aiohttp's client resends an idempotent request once after a disconnect; a POST it does not
    faults.add(kind="drop", at_requests=[1], endpoints=["new_order"], execute=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await served.api.call("new_order", {**ORDER, "newClientOrderId": "dropped-1"})
    found = await served.api.call("query_order", {"symbol": "BTCUSDT", "origClientOrderId": "dropped-1"})
    assert found.status == 200 and found.json["status"] == "NEW"  # executed although unanswered
    assert kinds(served) == ["drop", "drop"]
    assert [r.detail for r in faults.log] == ["executed=false", "executed=true"]


@pytest.mark.asyncio
async def test_http_5xx_does_not_execute(served: Served) -> None:
    served.exchange.faults.add(kind="http_5xx", every=1, status=502, endpoints=["new_order"], max_fires=1)
    reply = await served.api.call("new_order", {**ORDER, "newClientOrderId": "five-oh-two"})
    assert_error(reply, -1001, 502)
    assert_error(await served.api.call("query_order", {"symbol": "BTCUSDT", "origClientOrderId": "five-oh-two"}), -2013)
    assert (await served.api.call("new_order", {**ORDER, "newClientOrderId": "five-oh-two"})).status == 200  # max_fires
    assert kinds(served) == ["http_5xx"]


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [-1006, -1007])
async def test_503_unknown_status_but_the_order_is_executed(served: Served, code: int) -> None:
    served.exchange.faults.add(kind="unknown_status", at_requests=[1], code=code, endpoints=["new_order"])
    reply = await served.api.call("new_order", {**ORDER, "newClientOrderId": "lost-answer"})
    body = assert_error(reply, code, 503)
    assert "unknown" in body["msg"].lower()
    found = await served.api.call("query_order", {"symbol": "BTCUSDT", "origClientOrderId": "lost-answer"})
    assert found.status == 200 and found.json["status"] == "NEW"
    log = served.exchange.faults.log
    assert [r.kind for r in log] == ["unknown_status"] and "executed=true" in log[0].detail


@pytest.mark.asyncio
async def test_429_storm_and_418(served: Served) -> None:
    faults = served.exchange.faults
    faults.add(kind="rate_limit", at_requests=[2], count=3, retry_after=7, endpoints=["ping"])
    statuses = []
    for _ in range(6):
        reply = await served.api.raw("GET", "/fapi/v1/ping", key=None)
        statuses.append(reply.status)
        if reply.status == 429:
            assert reply.headers["retry-after"] == "7"
            assert_error(reply, -1003)
    assert statuses == [200, 429, 429, 429, 200, 200]
    faults.add(kind="ban", at_requests=[1], retry_after=30, endpoints=["server_time"])
    banned = await served.api.raw("GET", "/fapi/v1/time", key=None)
    assert_error(banned, -1003, 418)
    assert banned.headers["retry-after"] == "30"
    assert (await served.api.raw("GET", "/fapi/v1/ping", key=None)).status == 418  # the ban covers the IP
    served.exchange.clock.advance(31_000 * 1_000_000)
    assert (await served.api.raw("GET", "/fapi/v1/ping", key=None)).status == 200
    assert kinds(served) == ["rate_limit"] * 3 + ["ban"]


@pytest.mark.asyncio
async def test_clock_skew(served: Served) -> None:
    ex = served.exchange
    ex.faults.add(kind="clock_skew", offset_ms=6_000)
    server = (await served.api.raw("GET", "/fapi/v1/time", key=None)).json["serverTime"]
    assert server == ex.clock.time_ms() + 6_000
    # a client that trusts its own clock (no time sync) is now 6 s behind: -1021
    assert_error(await served.api.call("balance", timestamp=ex.clock.time_ms()), -1021)
    assert (await served.api.call("balance", timestamp=server)).status == 200
    assert kinds(served) == ["clock_skew"]  # logged once, when it first applied


def test_websocket_side_predicates_fire_on_schedule_and_log() -> None:
    faults = FaultInjector(rng=random.Random(5))
    faults.add(FaultRule(kind=FaultKind.WS_DISCONNECT, every=3))
    faults.add(kind="depth_gap", at_requests=[2], endpoints=["btcusdt@depth@100ms"])
    faults.add(kind="listen_key_expiry", probability=1.0, max_fires=1)
    fired = [faults.should("ws_disconnect", t, "conn-1") for t in range(7)]
    assert fired == [False, False, True, False, False, True, False]
    assert [faults.should("depth_gap", 10, "btcusdt@depth@100ms") for _ in range(3)] == [False, True, False]
    assert not faults.should("depth_gap", 10, "ethusdt@depth")  # not a target of the rule
    assert [faults.should("listen_key_expiry", 20, "key") for _ in range(2)] == [True, False]
    assert [(r.kind, r.time_ms, r.target) for r in faults.log] == [
        ("ws_disconnect", 2, "conn-1"), ("ws_disconnect", 5, "conn-1"), ("depth_gap", 10, "btcusdt@depth@100ms"),
        ("listen_key_expiry", 20, "key"),
    ]  # fmt: skip


def test_probability_is_seeded() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = FaultInjector([FaultRule(kind=FaultKind.HTTP_5XX, probability=0.3)], rng=random.Random(seed))
        return [faults.should("http_5xx", i, "ping") for i in range(200)]

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)
    assert 30 < sum(pattern(1)) < 90


def test_fault_files_yaml_and_json_and_the_log_file(tmp_path: Path) -> None:
    yaml_file = tmp_path / "faults.yaml"
    yaml_file.write_text(
        "# chaos for the order path\n"
        "seed: 7\n"
        f"log: {tmp_path / 'fired.log'}\n"
        "rules:\n"
        "  - kind: latency\n"
        "    ms: 20\n"
        "    probability: 0.5\n"
        "    endpoints: [new_order, cancel_order]\n"
        "  - kind: unknown_status\n"
        "    at: [3]\n"
        "    code: -1007\n"
        "  - kind: clock_skew\n"
        "    offset_ms: -1500\n"
    )
    spec = load_fault_file(yaml_file)
    assert spec.seed == 7 and [r.kind for r in spec.rules] == ["latency", "unknown_status", "clock_skew"]
    assert spec.rules[0].endpoints == ["new_order", "cancel_order"] and spec.rules[1].at_requests == [3]
    json_file = tmp_path / "faults.json"
    json_file.write_text(
        json.dumps([{"kind": "drop", "every": 10}, {"kind": "ban", "at_requests": [1], "retry_after": 60}])
    )
    assert [r.kind for r in load_fault_file(json_file).rules] == ["drop", "ban"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"kind": "drop", "evry": 10}]))
    with pytest.raises(Exception, match="evry"):
        load_fault_file(bad)
    ex = make_exchange(warmup_ms=0, simulate=False, faults_file=str(yaml_file))
    assert len(ex.faults.rules) == 3
    assert ex.server_time_ms() == ex.clock.time_ms() - 1500
    lines = (tmp_path / "fired.log").read_text().splitlines()
    assert json.loads(lines[0]) == {"time_ms": ex.clock.time_ms(), "kind": "clock_skew", "target": "server_time",
                                    "detail": "offset_ms=-1500", "rule": 2}  # fmt: skip
