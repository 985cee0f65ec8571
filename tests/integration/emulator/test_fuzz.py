"""Fuzzed invalid parameters get Binance-style ``{"code","msg"}`` 4xx answers and change nothing.

Runs the exchange in a thread (:class:`EmulatorThread`) and talks to it with ``urllib``: hypothesis
drives a synchronous test. Each example breaks one parameter of a valid request in a way that is
invalid by construction (missing mandatory value, illegal characters, unknown enum value, unknown
symbol, too many decimals, out-of-filter values) and checks the answer and the exchange state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binfut.clock import ManualClock
from binfut.emulator import EmulatorConfig, EmulatorThread, LocalExchange, build_exchange
from binfut.matching import commands as c
from binfut.protocol.endpoints import BY_NAME
from binfut.protocol.spec import Kind
from integration.emulator.support import START_NS

KEY, SECRET = "FuzzKey0000000000000000000000000000000000000000000000000000000001", "fuzz-secret"
_INT = re.compile(r"^[0-9]{1,20}$")
_DEC = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
D = Decimal


def _exchange() -> LocalExchange:
    cfg = EmulatorConfig(
        simulate=False, api_keys={KEY: SECRET}, weight_limit_1m=10**9, order_limit_10s=10**9, order_limit_1m=10**9
    )
    ex = build_exchange(cfg, clock=ManualClock(START_NS))
    ex.venue.open_account("maker", {"USDT": D(10**9)}, unlimited=True, emit_events=False)
    for symbol, mid in (("BTCUSDT", D("65000")), ("ETHUSDT", D("3400"))):
        spec = ex.venue.specs[symbol]
        ex.on_market(c.MarkPrice(symbol=symbol, mark_price=mid, time_ms=ex.clock.time_ms(), index_price=mid))
        for k in range(1, 6):
            for side, sign in (("BUY", -1), ("SELL", 1)):
                price = (mid * (1 + sign * D(k) / 1000)).quantize(spec.tick_size, ROUND_HALF_EVEN)
                ex.execute(
                    "maker",
                    c.NewOrder(
                        symbol=symbol, side=side, type="LIMIT", time_in_force="GTC", quantity=D("1"), price=price
                    ),
                )
    account = ex.accounts.by_api_key(KEY)
    assert account is not None
    ex.execute(account.account_id, c.NewOrder(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                              quantity=D("0.01"), price=D("64000"), new_client_order_id="resting"))  # fmt: skip
    return ex


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(exchange=_exchange()) as running:
        yield running


def _state(ex: LocalExchange) -> Any:
    account = ex.accounts.by_api_key(KEY)
    assert account is not None
    acct = ex.venue.accounts[account.account_id]
    return (
        dict(acct.balances),
        sorted((o.order_id, o.qty, o.price, o.status) for o in acct.open_orders.values()),
        sorted((k, p.amount) for k, p in acct.positions.items()),
        len(acct.algos),
        {s: e.book.update_id for s, e in ex.venue.engines.items()},
        {s: st_.leverage for s, st_ in acct.states.items()},
    )


def _call(emu: EmulatorThread, name: str, params: dict[str, str]) -> tuple[int, Any]:
    ep = BY_NAME[name]
    wire = dict(params)
    if ep.security.signed:
        wire["timestamp"] = str(emu.call(emu.exchange.server_time_ms))
    query = urlencode(wire)
    if ep.security.signed:
        query += "&signature=" + hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{emu.rest_url}{ep.path}?{query}", method=ep.method, headers={"X-MBX-APIKEY": KEY})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# Valid requests; each example breaks exactly one thing in one of them.
BASES: dict[str, dict[str, str]] = {
    "new_order": {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.010",
        "price": "64500",
    },
    "modify_order": {
        "symbol": "BTCUSDT",
        "origClientOrderId": "resting",
        "side": "BUY",
        "quantity": "0.02",
        "price": "64100",
    },
    "new_algo_order": {
        "algoType": "CONDITIONAL",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "STOP_MARKET",
        "quantity": "0.01",
        "triggerPrice": "60000",
    },  # fmt: skip
    "change_leverage": {"symbol": "BTCUSDT", "leverage": "10"},
    "cancel_order": {"symbol": "BTCUSDT", "origClientOrderId": "resting"},
    "test_order": {
        "symbol": "ETHUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.1",
        "price": "3410",
    },
}

_junk = st.text(min_size=1, max_size=12)
_SEMANTIC = {  # well-formed values the filters refuse
    "quantity": ["0.0001", "0", "100000", "0.0015"],
    "price": ["0.00001", "1", "9999999", "64500.05", "1000000000"],
    "triggerPrice": ["0.001", "5"],
    "leverage": ["0", "126", "99999999999999999999"],
}


def _invalid_value(kind: Kind, name: str, allowed: frozenset[str]) -> st.SearchStrategy[str]:
    if kind in (Kind.INT, Kind.MILLIS):
        return _junk.filter(lambda t: not _INT.match(t))
    if kind is Kind.DECIMAL:
        return _junk.filter(lambda t: not _DEC.match(t))
    if kind is Kind.BOOL:
        return _junk.filter(lambda t: t.lower() not in ("true", "false"))
    if kind is Kind.ENUM:
        return _junk.filter(lambda t: t not in allowed)
    if name == "symbol":
        return _junk.filter(lambda t: t not in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"))
    return _junk.filter(lambda t: not _CID.match(t))  # client ids


@st.composite
def broken_request(draw: st.DrawFn) -> tuple[str, dict[str, str], str]:
    name = draw(st.sampled_from(sorted(BASES)))
    ep = BY_NAME[name]
    params = dict(BASES[name])
    candidates = [
        p for p in ep.params if p.kind is not Kind.JSON and p.name not in ("origClientOrderId", "orderId", "pair")
    ]
    how = draw(st.sampled_from(["drop", "junk", "semantic"]))
    required = [p for p in candidates if p.required]
    if how == "drop" and required:
        param = draw(st.sampled_from(required))
        params.pop(param.name, None)
        return name, params, f"drop {param.name}"
    semantic = [p for p in candidates if p.name in _SEMANTIC and p.name in params]
    if how == "semantic" and semantic:
        param = draw(st.sampled_from(semantic))
        params[param.name] = draw(st.sampled_from(_SEMANTIC[param.name]))
        return name, params, f"{param.name}={params[param.name]}"
    param = draw(st.sampled_from(candidates))
    allowed = frozenset(param.enum._value2member_map_) if param.enum is not None else frozenset()
    params[param.name] = draw(_invalid_value(param.kind, param.name, allowed))
    extra = draw(
        st.dictionaries(st.sampled_from(["foo", "bar", "x-y"]), _junk, max_size=2)
    )  # unknown names are ignored
    params.update(extra)
    return name, params, f"{param.name}={params[param.name]!r}"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(case=broken_request())
def test_fuzzed_parameters_get_binance_errors_and_change_nothing(
    emu: EmulatorThread, case: tuple[str, dict[str, str], str]
) -> None:
    name, params, what = case
    before = emu.call(lambda: _state(emu.exchange))
    status, body = _call(emu, name, params)
    assert 400 <= status < 500, (name, what, status, body)
    assert isinstance(body, dict) and set(body) == {"code", "msg"}, (name, what, body)
    assert isinstance(body["code"], int) and body["code"] < 0 and body["msg"], (name, what, body)
    assert emu.call(lambda: _state(emu.exchange)) == before, (name, what, body)


def test_the_bases_are_valid(emu: EmulatorThread) -> None:
    """Guard: the unbroken requests succeed (so a 4xx above is the mutation's doing)."""
    status, body = _call(emu, "test_order", BASES["test_order"])
    assert status == 200, body
    status, body = _call(emu, "new_order", {**BASES["new_order"], "price": "64400"})
    assert status == 200, body
    status, body = _call(emu, "cancel_order", {"symbol": "BTCUSDT", "orderId": str(body["orderId"])})
    assert status == 200, body
