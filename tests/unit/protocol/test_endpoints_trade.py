"""The TRADE endpoint table against the Postman collection, the docs' weights and the recorded payloads."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from binfut.enums import AlgoStatus, OrderStatus, OrderType, PositionSide, SecurityType, Side
from binfut.protocol.endpoints.trade import TRADE
from binfut.protocol.models.trade import AlgoOrder, BatchOrderResult, Order
from binfut.protocol.spec import Endpoint, Kind

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
POSTMAN = ROOT.parent / "shared" / "reference" / "postman" / "Binance Derivatives Trading USDS Futures API.json"
SIGNER_PARAMS = {"timestamp", "recvWindow", "signature"}
MY_FOLDERS = {"Trade", "Portfolio Margin Endpoints"}


BY_NAME = {ep.name: ep for ep in TRADE}


def _postman() -> dict[tuple[str, str], tuple[str, str, list[tuple[str, bool]]]]:
    """(method, path) -> (folder, request name, [(param, enabled)]) for every Postman request."""
    if not POSTMAN.exists():
        pytest.skip("shared Postman collection not available")
    out: dict[tuple[str, str], tuple[str, str, list[tuple[str, bool]]]] = {}

    def walk(items: list[dict[str, Any]], folder: str | None) -> None:
        for item in items:
            if "item" in item:
                walk(item["item"], folder or item["name"])
                continue
            request = item["request"]
            path = "/" + "/".join(request["url"]["path"])
            query = [(q["key"], not q.get("disabled", False)) for q in request["url"].get("query", [])]
            out[(request["method"], path)] = (folder or "", item["name"], query)

    walk(json.loads(POSTMAN.read_text(encoding="utf-8"))["item"], None)
    return out


def _fixtures(area: str, name: str) -> list[tuple[Path, dict[str, Any]]]:
    """The primary fixture of an endpoint and its ``__<variant>`` files, with the params to decode them under."""
    files = [FIXTURES / f"http_{area}_{name}.json", *sorted(FIXTURES.glob(f"http_{area}_{name}__*.json"))]
    return [(f, {"symbol": "BTCUSDT"} if f.stem.endswith("__symbol") else {}) for f in files]


MAP_KEYS = {"indicators"}  # JSON objects used as maps (keyed by symbol), not as records


def _with_unknown_keys(value: Any, *, is_map: bool = False) -> Any:
    """Add a never-seen key to every record object, recursively (Binance adds fields without notice)."""
    if isinstance(value, dict):
        inner = {k: _with_unknown_keys(v, is_map=k in MAP_KEYS) for k, v in value.items()}
        if is_map:
            return {k: _with_unknown_keys(v) for k, v in value.items()}
        return {**inner, "someNewBinanceField": {"x": [1, "2"]}}
    if isinstance(value, list):
        return [_with_unknown_keys(v) for v in value]
    return value


# --- the table against Postman ---------------------------------------------------------------------


def test_trade_routes_equal_postman_trade_and_portfolio_margin_folders() -> None:
    # Arrange
    postman = _postman()
    expected = {key for key, (folder, _, _) in postman.items() if folder in MY_FOLDERS}

    # Act
    actual = {ep.key for ep in TRADE}

    # Assert
    assert actual == expected, f"missing {expected - actual}, extra {actual - expected}"
    assert len(TRADE) == len(actual) == 33


@pytest.mark.parametrize("ep", TRADE, ids=lambda ep: ep.name)
def test_params_follow_postman_order_and_mandatory_flags(ep: Endpoint) -> None:
    # Arrange
    _, request_name, query = _postman()[ep.key]
    documented = [name for name, _ in query if name not in SIGNER_PARAMS]
    mandatory = {name for name, enabled in query if enabled and name not in SIGNER_PARAMS}

    # Act
    ours = [p.name for p in ep.params]
    ours_required = {p.name for p in ep.params if p.required}

    # Assert: Postman's params appear in the same order (extra documented ones may follow)
    assert ours[: len(documented)] == documented
    assert ours_required == mandatory
    assert ep.summary == request_name


# --- sane records ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ep", TRADE, ids=lambda ep: ep.name)
def test_record_fields_are_sane(ep: Endpoint) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", ep.name)
    assert ep.method in {"GET", "POST", "PUT", "DELETE"}
    assert ep.path.startswith("/fapi/v")
    assert ep.security in {SecurityType.TRADE, SecurityType.USER_DATA}
    assert isinstance(ep.weight, int) or callable(ep.weight)
    assert ep.weight_for({}) >= 0 and ep.weight_for({"symbol": "BTCUSDT"}) >= 0
    assert ep.returns is not None
    assert isinstance(ep.idempotent, bool)
    assert ep.orders >= 0
    assert ep.doc.startswith("https://developers.binance.com/")
    assert ep.summary
    names = [p.name for p in ep.params]
    assert len(names) == len(set(names)), "duplicate parameter"
    assert not SIGNER_PARAMS & set(names), "the signer adds these"


def test_names_are_unique() -> None:
    assert len(BY_NAME) == len(TRADE)


@pytest.mark.parametrize("ep", TRADE, ids=lambda ep: ep.name)
def test_enum_params_carry_their_enum_class(ep: Endpoint) -> None:
    for p in ep.params:
        if p.kind is Kind.ENUM:
            assert p.enum is not None, p.name
            assert len(list(p.enum)) > 0
        else:
            assert p.enum is None, p.name


_EXPECTED_KIND = {
    "quantity": Kind.DECIMAL,
    "price": Kind.DECIMAL,
    "stopPrice": Kind.DECIMAL,
    "activationPrice": Kind.DECIMAL,
    "activatePrice": Kind.DECIMAL,
    "callbackRate": Kind.DECIMAL,
    "triggerPrice": Kind.DECIMAL,
    "amount": Kind.DECIMAL,
    "orderId": Kind.INT,
    "algoId": Kind.INT,
    "leverage": Kind.INT,
    "limit": Kind.INT,
    "countdownTime": Kind.INT,
    "fromId": Kind.INT,
    "modifyId": Kind.INT,
    "startTime": Kind.MILLIS,
    "endTime": Kind.MILLIS,
    "goodTillDate": Kind.MILLIS,
    "reduceOnly": Kind.BOOL,
    "closePosition": Kind.BOOL,
    "priceProtect": Kind.BOOL,
    "dualSidePosition": Kind.BOOL,
    "multiAssetsMargin": Kind.BOOL,
    "side": Kind.ENUM,
    "positionSide": Kind.ENUM,
    "timeInForce": Kind.ENUM,
    "workingType": Kind.ENUM,
    "newOrderRespType": Kind.ENUM,
    "selfTradePreventionMode": Kind.ENUM,
    "priceMatch": Kind.ENUM,
    "marginType": Kind.ENUM,
    "algoType": Kind.ENUM,
    "autoCloseType": Kind.ENUM,
    "batchOrders": Kind.JSON,
    "orderIdList": Kind.JSON,
    "origClientOrderIdList": Kind.JSON,
    "symbol": Kind.STR,
    "newClientOrderId": Kind.STR,
    "origClientOrderId": Kind.STR,
    "clientAlgoId": Kind.STR,
    "asset": Kind.STR,
}


@pytest.mark.parametrize("ep", TRADE, ids=lambda ep: ep.name)
def test_param_kinds(ep: Endpoint) -> None:
    for p in ep.params:
        if p.name == "type":
            # order type on order routes, 1 = add / 2 = reduce on the position-margin routes
            expected = Kind.INT if "positionMargin" in ep.path else Kind.ENUM
        else:
            expected = _EXPECTED_KIND[p.name]
        assert p.kind is expected, f"{ep.name}.{p.name}"


# --- weights, order counts, idempotency -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "weight"),
    [
        ("open_orders", {"symbol": "BTCUSDT"}, 1),
        ("open_orders", {}, 40),
        ("open_orders", {"symbol": ""}, 40),
        ("open_orders", {"symbol": None}, 40),
        ("open_algo_orders", {"symbol": "BTCUSDT"}, 1),
        ("open_algo_orders", {"algoType": "CONDITIONAL"}, 40),
        ("force_orders", {"symbol": "BTCUSDT"}, 20),
        ("force_orders", {}, 50),
        ("all_orders", {"symbol": "BTCUSDT", "limit": 1000}, 5),
        ("user_trades", {"symbol": "BTCUSDT"}, 5),
        ("place_batch_orders", {"batchOrders": "[]"}, 5),
        ("modify_batch_orders", {"batchOrders": "[]"}, 5),
        ("cancel_batch_orders", {"symbol": "BTCUSDT"}, 1),
        ("new_order", {"symbol": "BTCUSDT"}, 0),
        ("new_algo_order", {"symbol": "BTCUSDT"}, 0),
        ("modify_order", {"symbol": "BTCUSDT"}, 1),
        ("countdown_cancel_all", {"symbol": "BTCUSDT"}, 10),
        ("position_risk", {}, 5),
        ("position_risk_v2", {"symbol": "BTCUSDT"}, 5),
        ("adl_quantile", {}, 5),
        ("all_algo_orders", {"symbol": "BTCUSDT"}, 5),
        ("sign_tradfi_perps_contract", {}, 50),
        ("pm_account_info", {"asset": "BTC"}, 5),
        ("change_leverage", {"symbol": "BTCUSDT", "leverage": 5}, 1),
    ],
)
def test_weight_per_docs(name: str, params: dict[str, Any], weight: int) -> None:
    assert BY_NAME[name].weight_for(params) == weight


def test_order_counts() -> None:
    # Arrange
    counting = {
        "new_order": 1,
        "modify_order": 1,
        "new_algo_order": 1,
        "place_batch_orders": 5,
        "modify_batch_orders": 5,
    }

    # Act
    actual = {ep.name: ep.orders for ep in TRADE if ep.orders}

    # Assert: cancels, queries and the test order never count
    assert actual == counting


def test_idempotency() -> None:
    not_idempotent = {ep.name for ep in TRADE if not ep.idempotent}
    assert not_idempotent == {
        "new_order",
        "modify_order",
        "place_batch_orders",
        "modify_batch_orders",
        "new_algo_order",
        "modify_position_margin",
        # setting calls: a repeat after a lost success answers -4046/-4059/-4171 (or is undocumented)
        "change_leverage",
        "change_margin_type",
        "change_position_mode",
        "change_multi_assets_mode",
        "sign_tradfi_perps_contract",
    }
    assert BY_NAME["countdown_cancel_all"].idempotent and BY_NAME["test_order"].idempotent
    assert all(ep.idempotent for ep in TRADE if ep.method == "GET")
    for name in ("cancel_order", "cancel_algo_order", "cancel_batch_orders", "cancel_all_open_orders",
                 "cancel_all_algo_open_orders"):  # fmt: skip
        assert BY_NAME[name].idempotent


def test_security_quirks() -> None:
    assert BY_NAME["position_margin_history"].security is SecurityType.TRADE  # a read classified TRADE
    assert BY_NAME["sign_tradfi_perps_contract"].security is SecurityType.USER_DATA
    assert {ep.security for ep in TRADE if ep.method == "GET"} - {SecurityType.USER_DATA} == {SecurityType.TRADE}


def test_conditional_orders_go_through_algo_endpoint() -> None:
    new_order_params = {p.name for p in BY_NAME["new_order"].params}
    algo_params = [p.name for p in BY_NAME["new_algo_order"].params]
    assert not {"stopPrice", "activationPrice", "callbackRate", "workingType", "closePosition"} & new_order_params
    assert {"triggerPrice", "activatePrice", "callbackRate", "workingType", "priceProtect", "closePosition",
            "clientAlgoId"} <= set(algo_params)  # fmt: skip
    assert algo_params[0] == "algoType"


# --- payloads ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ep", TRADE, ids=lambda ep: ep.name)
def test_every_return_type_decodes_its_fixture(ep: Endpoint) -> None:
    cases = _fixtures("trade", ep.name)
    assert cases[0][0].exists(), f"missing fixture {cases[0][0].name}"
    for path, params in cases:
        # Act
        decoded = msgspec.json.decode(path.read_bytes(), type=ep.returns_for(params))

        # Assert
        assert decoded is not None, path.name


@pytest.mark.parametrize("ep", TRADE, ids=lambda ep: ep.name)
def test_unknown_fields_do_not_break_decoding(ep: Endpoint) -> None:
    # Arrange
    raw = json.loads((FIXTURES / f"http_trade_{ep.name}.json").read_text(encoding="utf-8"))
    noisy = msgspec.json.encode(_with_unknown_keys(raw))

    # Act
    decoded = msgspec.json.decode(noisy, type=ep.returns_for({}))

    # Assert
    assert decoded == msgspec.json.decode(msgspec.json.encode(raw), type=ep.returns_for({}))


def test_batch_response_mixing_an_order_and_an_error_decodes() -> None:
    # Arrange
    raw = (FIXTURES / "http_trade_place_batch_orders.json").read_bytes()

    # Act
    first, second = msgspec.json.decode(raw, type=BY_NAME["place_batch_orders"].returns)

    # Assert
    assert first.ok and first.order_id == 22542179 and first.code is None
    assert first.status is OrderStatus.NEW and first.orig_qty == Decimal("10")
    assert not second.ok and second.code == -2022 and second.msg == "ReduceOnly Order is rejected."
    assert second.order_id is None
    order = msgspec.convert(msgspec.to_builtins(first), Order)
    assert order.order_id == 22542179 and order.price_rate == Decimal("0.3")


def test_batch_result_of_only_errors_and_an_empty_object() -> None:
    raw = b'[{"code":-2011,"msg":"Unknown order sent."},{}]'
    err, empty = msgspec.json.decode(raw, type=list[BatchOrderResult])
    assert not err.ok and err.code == -2011
    assert not empty.ok


def test_order_fields_map_to_binance_keys() -> None:
    # Act
    order = msgspec.json.decode((FIXTURES / "http_trade_query_order.json").read_bytes(), type=Order)

    # Assert
    assert order.order_id == 1917641
    assert order.client_order_id == "abc"
    assert order.side is Side.BUY and order.position_side is PositionSide.SHORT
    assert order.type is OrderType.TRAILING_STOP_MARKET and order.orig_type is OrderType.TRAILING_STOP_MARKET
    assert order.orig_qty == Decimal("0.40") and order.avg_price == Decimal("0")
    assert order.activate_price == Decimal("9020") and order.price_rate == Decimal("0.3")
    assert order.time_ms == 1579276756075 and order.update_time_ms == 1579276756075
    assert order.good_till_date_ms == 0
    assert order.cum_qty is None  # query answers carry cumQuote only


def test_order_keeps_unlisted_time_in_force_values() -> None:
    raw = b'{"orderId":1,"symbol":"BTCUSDT","status":"NEW","clientOrderId":"c","side":"SELL","type":"MARKET","timeInForce":"GTE_GTC"}'
    assert msgspec.json.decode(raw, type=Order).time_in_force == "GTE_GTC"


def test_algo_order_decodes_trailing_and_triggered_rows() -> None:
    # Act
    rows = msgspec.json.decode((FIXTURES / "http_trade_all_algo_orders.json").read_bytes(), type=list[AlgoOrder])

    # Assert
    cancelled, triggered, trailing = rows
    assert cancelled.algo_status is AlgoStatus.CANCELED and cancelled.actual_order_id == ""
    assert cancelled.iceberg_quantity is None
    assert triggered.algo_status is AlgoStatus.TRIGGERED and triggered.actual_price == Decimal("99950.10")
    assert trailing.order_type is OrderType.TRAILING_STOP_MARKET
    assert trailing.activate_price == Decimal("105000.00") and trailing.callback_rate == Decimal("1.0")
    assert trailing.create_time_ms == 1763458600000


def test_cancel_algo_order_accepts_string_code() -> None:
    raw = (FIXTURES / "http_trade_cancel_algo_order.json").read_bytes()
    result = msgspec.json.decode(raw, type=BY_NAME["cancel_algo_order"].returns)
    assert result.algo_id == 3358 and result.code == "200"


def test_position_and_adl_quirks() -> None:
    # Act
    v3 = msgspec.json.decode(
        (FIXTURES / "http_trade_position_risk.json").read_bytes(), type=BY_NAME["position_risk"].returns
    )
    v2 = msgspec.json.decode(
        (FIXTURES / "http_trade_position_risk_v2.json").read_bytes(), type=BY_NAME["position_risk_v2"].returns
    )
    adl = msgspec.json.decode(
        (FIXTURES / "http_trade_adl_quantile.json").read_bytes(), type=BY_NAME["adl_quantile"].returns
    )

    # Assert
    assert v3[0].unrealized_profit == Decimal("0.76427700") and v3[0].adl == 2
    assert v2[0].margin_type == "isolated" and v2[0].is_auto_add_margin == "false"
    assert v2[1].leverage == Decimal("4") and v2[1].position_side is PositionSide.LONG
    assert adl[0].adl_quantile.hedge == 0 and adl[0].adl_quantile.both is None
    assert adl[1].adl_quantile.both == 0 and adl[1].adl_quantile.short == 2
