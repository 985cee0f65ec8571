"""The ACCOUNT endpoint table (account, user data streams, convert) against Postman, the docs and payloads.

Also checks that TRADE + ACCOUNT cover every non-market-data route of the Postman collection.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from binfut.protocol.endpoints import ENDPOINTS
from binfut.protocol.endpoints.account import ACCOUNT
from binfut.protocol.endpoints.trade import TRADE
from binfut.protocol.models.account import (
    AccountInfo,
    AccountInfoV2,
    ApiTradingStatus,
    DownloadLink,
    Income,
    LeverageBracket,
)
from binfut.protocol.spec import Endpoint, Kind

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
POSTMAN = ROOT.parent / "shared" / "reference" / "postman" / "Binance Derivatives Trading USDS Futures API.json"
SIGNER_PARAMS = {"timestamp", "recvWindow", "signature"}
MY_FOLDERS = {"Account", "User Data Streams", "Convert"}


BY_NAME = {ep.name: ep for ep in ACCOUNT}


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


def _fixtures(name: str) -> list[tuple[Path, dict[str, Any]]]:
    """The primary fixture of an endpoint and its ``__<variant>`` files, with the params to decode them under."""
    files = [FIXTURES / f"http_account_{name}.json", *sorted(FIXTURES.glob(f"http_account_{name}__*.json"))]
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


# --- coverage of the Postman collection -----------------------------------------------------------------


def test_account_routes_equal_postman_account_stream_and_convert_folders() -> None:
    # Arrange
    expected = {key for key, (folder, _, _) in _postman().items() if folder in MY_FOLDERS}

    # Act
    actual = {ep.key for ep in ACCOUNT}

    # Assert
    assert actual == expected, f"missing {expected - actual}, extra {actual - expected}"
    assert len(ACCOUNT) == len(actual) == 28


def test_trade_and_account_cover_every_non_market_route_once() -> None:
    # Arrange
    postman = _postman()
    non_market = {key for key, (folder, _, _) in postman.items() if folder != "Market Data"}
    market = set(postman) - non_market

    # Act
    ours = [ep.key for ep in TRADE + ACCOUNT]
    names = [ep.name for ep in TRADE + ACCOUNT]

    # Assert
    assert set(ours) == non_market
    assert len(ours) == len(set(ours)) == 61
    assert len(names) == len(set(names))
    assert len(market) + len(ours) == len(postman) == 95
    assert not market & set(ours)


def test_the_full_table_holds_exactly_the_postman_routes() -> None:
    assert {ep.key for ep in ENDPOINTS} == set(_postman())
    assert len(ENDPOINTS) == 95


@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda ep: ep.name)
def test_params_follow_postman_order_and_mandatory_flags(ep: Endpoint) -> None:
    # Arrange
    _, request_name, query = _postman()[ep.key]
    documented = [name for name, _ in query if name not in SIGNER_PARAMS]
    mandatory = {name for name, enabled in query if enabled and name not in SIGNER_PARAMS}

    # Act
    ours = [p.name for p in ep.params]

    # Assert
    assert ours == documented
    assert {p.name for p in ep.params if p.required} == mandatory
    assert ep.summary == request_name


# --- sane records -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda ep: ep.name)
def test_record_fields_are_sane(ep: Endpoint) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", ep.name)
    assert ep.method in {"GET", "POST", "PUT", "DELETE"}
    assert ep.path.startswith("/fapi/v")
    assert isinstance(ep.weight, int) or callable(ep.weight)
    assert ep.weight_for({}) > 0 and ep.weight_for({"symbol": "BTCUSDT"}) > 0
    assert ep.returns is not None
    assert isinstance(ep.idempotent, bool)
    assert ep.orders == 0, "nothing here places orders"
    assert ep.doc.startswith("https://developers.binance.com/")
    names = [p.name for p in ep.params]
    assert len(names) == len(set(names))
    assert not SIGNER_PARAMS & set(names), "the signer adds these"
    for p in ep.params:
        assert (p.kind is Kind.ENUM) == (p.enum is not None), p.name


def test_security_per_docs() -> None:
    by_security: dict[str, set[str]] = {}
    for ep in ACCOUNT:
        by_security.setdefault(ep.security.value, set()).add(ep.name)
    assert by_security["USER_STREAM"] == {"start_user_stream", "keepalive_user_stream", "close_user_stream"}
    assert by_security["NONE"] == {"convert_pairs"}
    assert by_security["TRADE"] == {"change_fee_burn"}
    assert len(by_security["USER_DATA"]) == len(ACCOUNT) - 5


def test_param_kinds() -> None:
    kinds = {(ep.name, p.name): p.kind for ep in ACCOUNT for p in ep.params}
    assert kinds[("income", "incomeType")] is Kind.ENUM
    assert kinds[("income", "startTime")] is Kind.MILLIS
    assert kinds[("income", "page")] is Kind.INT
    assert kinds[("change_fee_burn", "feeBurn")] is Kind.BOOL
    assert kinds[("convert_request_quote", "fromAmount")] is Kind.DECIMAL
    assert kinds[("income_download_id", "endTime")] is Kind.MILLIS
    assert kinds[("convert_order_status", "orderId")] is Kind.STR  # > 2**53, never a float


# --- weights and idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "weight"),
    [
        ("account", {}, 5),
        ("account_v2", {}, 5),
        ("balance", {}, 5),
        ("balance_v2", {}, 5),
        ("income", {"symbol": "BTCUSDT"}, 30),
        ("income", {}, 30),
        ("leverage_bracket", {"symbol": "BTCUSDT"}, 1),
        ("leverage_bracket", {}, 1),
        ("commission_rate", {"symbol": "BTCUSDT"}, 20),
        ("api_trading_status", {"symbol": "BTCUSDT"}, 1),
        ("api_trading_status", {}, 10),
        ("api_trading_status", {"symbol": ""}, 10),
        ("account_config", {}, 5),
        ("symbol_config", {}, 5),
        ("order_rate_limit", {}, 1),
        ("position_mode", {}, 30),
        ("multi_assets_mode", {}, 30),
        ("fee_burn", {}, 30),
        ("change_fee_burn", {"feeBurn": "true"}, 1),
        ("income_download_id", {}, 1500),
        ("order_download_id", {}, 1500),
        ("trade_download_id", {}, 1500),
        ("income_download_link", {}, 10),
        ("order_download_link", {}, 10),
        ("trade_download_link", {}, 10),
        ("start_user_stream", {}, 1),
        ("keepalive_user_stream", {}, 1),
        ("close_user_stream", {}, 1),
        ("convert_pairs", {}, 20),
        ("convert_request_quote", {}, 50),
        ("convert_accept_quote", {}, 200),
        ("convert_order_status", {}, 50),
    ],
)
def test_weight_per_docs(name: str, params: dict[str, Any], weight: int) -> None:
    assert BY_NAME[name].weight_for(params) == weight


def test_idempotency() -> None:
    not_idempotent = {ep.name for ep in ACCOUNT if not ep.idempotent}
    # Download requests are GETs but start a job and spend a monthly quota; accepting a quote moves funds.
    assert not_idempotent == {
        "income_download_id",
        "order_download_id",
        "trade_download_id",
        "convert_accept_quote",
        "change_fee_burn",
    }
    assert BY_NAME["start_user_stream"].idempotent  # an active key is handed back, not duplicated


# --- payloads ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda ep: ep.name)
def test_every_return_type_decodes_its_fixture(ep: Endpoint) -> None:
    cases = _fixtures(ep.name)
    assert cases[0][0].exists(), f"missing fixture {cases[0][0].name}"
    for path, params in cases:
        decoded = msgspec.json.decode(path.read_bytes(), type=ep.returns_for(params))
        assert decoded is not None, path.name


@pytest.mark.parametrize("ep", ACCOUNT, ids=lambda ep: ep.name)
def test_unknown_fields_do_not_break_decoding(ep: Endpoint) -> None:
    # Arrange
    raw = json.loads((FIXTURES / f"http_account_{ep.name}.json").read_text(encoding="utf-8"))
    noisy = msgspec.json.encode(_with_unknown_keys(raw))

    # Act
    decoded = msgspec.json.decode(noisy, type=ep.returns_for({}))

    # Assert
    assert decoded == msgspec.json.decode(msgspec.json.encode(raw), type=ep.returns_for({}))


def test_account_v3_and_v2_shapes() -> None:
    # Act
    v3 = msgspec.json.decode((FIXTURES / "http_account_account.json").read_bytes(), type=AccountInfo)
    v2 = msgspec.json.decode((FIXTURES / "http_account_account_v2.json").read_bytes(), type=AccountInfoV2)

    # Assert
    assert v3.total_wallet_balance == Decimal("103.12345678")
    assert [a.asset for a in v3.assets] == ["USDT", "USDC"] and v3.assets[0].margin_available is None
    assert v3.positions[0].position_amt == Decimal("1.000")
    assert v2.multi_assets_margin is True and v2.assets[1].margin_available is True
    assert v2.positions[0].leverage == Decimal("100") and v2.positions[0].isolated is True


def test_leverage_bracket_object_or_list() -> None:
    ep = BY_NAME["leverage_bracket"]
    one = msgspec.json.decode(
        (FIXTURES / "http_account_leverage_bracket__symbol.json").read_bytes(),
        type=ep.returns_for({"symbol": "ETHUSDT"}),
    )
    every = msgspec.json.decode((FIXTURES / "http_account_leverage_bracket.json").read_bytes(), type=ep.returns_for({}))
    listed = msgspec.json.decode(
        (FIXTURES / "http_account_leverage_bracket.json").read_bytes(), type=ep.returns_for({"symbol": "ETHUSDT"})
    )
    assert isinstance(one, LeverageBracket) and one.notional_coef == Decimal("1.5")
    assert one.brackets[0].maint_margin_ratio == Decimal("0.0065") and one.brackets[0].notional_cap == 10000
    assert isinstance(every, list) and every[0].symbol == "ETHUSDT"
    assert isinstance(listed, list)


def test_income_ids_keep_their_wire_type() -> None:
    rows = msgspec.json.decode((FIXTURES / "http_account_income.json").read_bytes(), type=list[Income])
    assert rows[0].tran_id == "9689322392" and rows[0].trade_id == "" and rows[0].symbol == ""
    assert rows[1].trade_id == 2059192 and rows[1].income == Decimal("-0.01000000")
    numeric = msgspec.json.decode(
        b'{"incomeType":"FUNDING_FEE","income":"1","asset":"USDT","tranId":9689322392,"time":1}', type=Income
    )
    assert numeric.tran_id == 9689322392 and numeric.time_ms == 1


def test_indicators_and_download_link_quirks() -> None:
    status = msgspec.json.decode(
        (FIXTURES / "http_account_api_trading_status__account.json").read_bytes(), type=ApiTradingStatus
    )
    processing = msgspec.json.decode(
        (FIXTURES / "http_account_income_download_link__processing.json").read_bytes(), type=DownloadLink
    )
    assert status.indicators["ACCOUNT"][0].indicator == "TMV" and status.update_time_ms == 1644913304748
    assert processing.status == "processing" and processing.expiration_timestamp_ms == -1
    assert processing.is_expired is None


def test_pm_and_convert_odd_keys() -> None:
    trade_table = {ep.name: ep for ep in TRADE}
    pm = msgspec.json.decode(
        (FIXTURES / "http_trade_pm_account_info.json").read_bytes(), type=trade_table["pm_account_info"].returns
    )
    status = msgspec.json.decode(
        (FIXTURES / "http_account_convert_order_status.json").read_bytes(), type=BY_NAME["convert_order_status"].returns
    )
    assert pm.max_withdraw_amount_usd == Decimal("1627523.32459208")
    assert status.order_id == 933256278426274426 and status.inverse_ratio == Decimal("0.00002721")
