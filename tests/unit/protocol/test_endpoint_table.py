"""The endpoint table covers every operation of Binance's Postman collection (95 method + path pairs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from binfut.enums import SecurityType
from binfut.protocol.endpoints import BY_ROUTE, ENDPOINTS
from binfut.protocol.spec import Kind

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
POSTMAN = SHARED / "postman" / "Binance Derivatives Trading USDS Futures API.json"


def postman_routes() -> set[tuple[str, str]]:
    data = json.loads(POSTMAN.read_text())
    routes: set[tuple[str, str]] = set()

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if "item" in item:
                walk(item["item"])
                continue
            request = item["request"]
            url = request["url"]
            routes.add((request["method"], "/" + "/".join(url["path"])))

    walk(data["item"])
    return routes


@pytest.fixture(scope="module")
def postman() -> set[tuple[str, str]]:
    if not POSTMAN.exists():
        pytest.skip("shared/reference is not beside the repo")
    return postman_routes()


def test_every_postman_operation_is_in_the_table(postman: set[tuple[str, str]]) -> None:
    assert len(postman) == 95
    missing = postman - set(BY_ROUTE)
    assert not missing, f"endpoints missing from the table: {sorted(missing)}"
    assert len(ENDPOINTS) >= 95


def test_signed_endpoints_never_list_the_signer_parameters() -> None:
    for ep in ENDPOINTS:
        names = {p.name for p in ep.params}
        assert not names & {"timestamp", "recvWindow", "signature"}, ep.label


def test_every_endpoint_is_complete() -> None:
    for ep in ENDPOINTS:
        assert ep.name.isidentifier() and ep.name.islower(), ep.name
        assert isinstance(ep.security, SecurityType)
        assert ep.weight_for({}) >= 0, ep.label
        assert ep.returns is not None, ep.label
        for p in ep.params:
            assert p.kind is not Kind.ENUM or p.enum is not None, (ep.label, p.name)


def test_param_dependent_weights() -> None:
    depth = BY_ROUTE[("GET", "/fapi/v1/depth")]
    assert [depth.weight_for({"limit": n}) for n in (5, 50, 100, 500, 1000)] == [2, 2, 5, 10, 20]
    klines = BY_ROUTE[("GET", "/fapi/v1/klines")]
    assert [klines.weight_for({"limit": n}) for n in (99, 100, 499, 500, 1000, 1500)] == [1, 2, 2, 5, 5, 10]
    ticker = BY_ROUTE[("GET", "/fapi/v1/ticker/24hr")]
    assert (ticker.weight_for({"symbol": "BTCUSDT"}), ticker.weight_for({})) == (1, 40)
    open_orders = BY_ROUTE[("GET", "/fapi/v1/openOrders")]
    assert (open_orders.weight_for({"symbol": "BTCUSDT"}), open_orders.weight_for({})) == (1, 40)
