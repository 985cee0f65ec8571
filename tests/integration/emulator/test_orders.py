"""Order flows over HTTP against the simulated market: limit lifecycle, market fills, batches, timers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
import pytest_asyncio

from integration.emulator.conftest import Served, make_exchange, serve
from integration.emulator.support import assert_error

SYM = "BTCUSDT"


def limit_price(served: Served, frac: str, symbol: str = SYM) -> str:
    bid, _, ask, _ = served.exchange.venue.best_bid_ask(symbol)
    assert bid is not None and ask is not None
    tick = served.exchange.venue.specs[symbol].tick_size
    return str(((bid + ask) / 2 * Decimal(frac) / tick).to_integral_value() * tick)


@pytest_asyncio.fixture
async def quiet() -> AsyncIterator[Served]:
    """No simulator: only timers move (fast to run for an hour of simulated time)."""
    async for s in serve(make_exchange(warmup_ms=0, simulate=False)):
        yield s


@pytest.mark.asyncio
async def test_limit_order_place_query_cancel(served: Served) -> None:
    api = served.api
    price = limit_price(served, "0.98")
    placed = await api.call("new_order", {"symbol": SYM, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                          "quantity": "0.010", "price": price, "newClientOrderId": "flow-1"})  # fmt: skip
    assert placed.status == 200, placed.body
    order = placed.json
    assert order["status"] == "NEW" and order["clientOrderId"] == "flow-1" and Decimal(order["price"]) == Decimal(price)
    queried = (await api.call("query_order", {"symbol": SYM, "orderId": order["orderId"]})).json
    assert queried["status"] == "NEW" and queried["origQty"] == "0.010" and queried["time"] > 0
    by_cid = (await api.call("open_order", {"symbol": SYM, "origClientOrderId": "flow-1"})).json
    assert by_cid["orderId"] == order["orderId"]
    assert [o["orderId"] for o in (await api.call("open_orders", {"symbol": SYM})).json] == [order["orderId"]]
    canceled = (await api.call("cancel_order", {"symbol": SYM, "orderId": order["orderId"]})).json
    assert canceled["status"] == "CANCELED"
    assert (await api.call("query_order", {"symbol": SYM, "orderId": order["orderId"]})).json["status"] == "CANCELED"
    assert_error(await api.call("open_order", {"symbol": SYM, "orderId": order["orderId"]}), -2013, 400)
    assert_error(await api.call("cancel_order", {"symbol": SYM, "orderId": order["orderId"]}), -2011, 400)
    assert (await api.call("open_orders", {"symbol": SYM})).json == []


@pytest.mark.asyncio
async def test_market_order_fills_and_shows_in_position_and_balance(served: Served) -> None:
    api = served.api
    before = {b["asset"]: b for b in (await api.call("balance")).json}["USDT"]
    bought = await api.call(
        "new_order", {"symbol": SYM, "side": "BUY", "type": "MARKET", "quantity": "0.050", "newOrderRespType": "RESULT"}
    )
    assert bought.status == 200, bought.body
    order = bought.json
    assert order["status"] == "FILLED" and order["executedQty"] == "0.050" and Decimal(order["avgPrice"]) > 0
    risk = (await api.call("position_risk", {"symbol": SYM})).json
    assert len(risk) == 1 and risk[0]["positionAmt"] == "0.050"
    assert (
        Decimal(risk[0]["entryPrice"]) == Decimal(order["avgPrice"]).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        or Decimal(risk[0]["entryPrice"]) > 0
    )
    after = {b["asset"]: b for b in (await api.call("balance")).json}["USDT"]
    fee = Decimal(before["balance"]) - Decimal(after["balance"])
    notional = Decimal(order["cumQuote"])
    assert fee == (notional * Decimal("0.0005")).quantize(Decimal("0.00000001"), ROUND_HALF_EVEN)  # taker commission
    assert Decimal(after["availableBalance"]) < Decimal(before["availableBalance"])  # margin in use
    account = (await api.call("account")).json
    assert [p["symbol"] for p in account["positions"]] == [SYM]
    trades = (await api.call("user_trades", {"symbol": SYM})).json
    assert sum(Decimal(t["qty"]) for t in trades) == Decimal("0.050") and all(t["buyer"] for t in trades)
    income = (await api.call("income", {"incomeType": "COMMISSION"})).json
    assert income and all(Decimal(r["income"]) < 0 for r in income)
    # close it again
    sold = await api.call(
        "new_order", {"symbol": SYM, "side": "SELL", "type": "MARKET", "quantity": "0.050", "reduceOnly": "true"}
    )
    assert sold.status == 200, sold.body
    assert (await api.call("position_risk", {"symbol": SYM})).json == []


@pytest.mark.asyncio
async def test_engine_rejections_keep_binance_codes(served: Served) -> None:
    api = served.api
    base = {"symbol": SYM, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01"}
    assert_error(await api.call("new_order", {**base, "price": limit_price(served, "0.98") + "1"}), -1111)  # 3 decimals
    assert_error(await api.call("new_order", {**base, "price": "63000.05"}), -4014)
    assert_error(await api.call("new_order", {**base, "price": limit_price(served, "0.5")}), -4024)
    assert_error(
        await api.call("new_order", {**base, "quantity": "0.0001", "price": limit_price(served, "0.98")}), -1111
    )
    assert_error(
        await api.call("new_order", {**base, "quantity": "0.001", "price": limit_price(served, "0.98")}), -4164
    )
    assert_error(
        await api.call("new_order", {**base, "type": "STOP_MARKET", "price": limit_price(served, "0.98")}), -4120
    )
    assert_error(await api.call("new_order", {**base, "side": "BUY", "type": "MARKET", "quantity": "50"}), -2019)
    assert_error(
        await api.call(
            "new_order", {"symbol": SYM, "side": "SELL", "type": "MARKET", "quantity": "0.01", "reduceOnly": "true"}
        ),
        -2022,
    )
    algo = {"algoType": "CONDITIONAL", "symbol": SYM, "side": "BUY", "type": "STOP_MARKET", "quantity": "0.01",
            "triggerPrice": limit_price(served, "0.98")}  # fmt: skip
    assert_error(await api.call("new_algo_order", algo), -2021)  # a buy stop below the market triggers at once
    assert_error(await api.call("new_order", {**base, "side": "BUSY", "price": "1"}), -1117)
    assert_error(await api.call("new_order", {**base, "type": "LIMITED", "price": "1"}), -1116)
    assert_error(await api.call("new_order", {**base, "timeInForce": "GTT", "price": "1"}), -1115)
    assert_error(await api.call("new_order", {**base, "symbol": "DOGEUSDT", "price": "1"}), -1121)
    body = assert_error(await api.call("new_order", {**base, "price": "1.2.3"}), -1100)
    assert (
        body["msg"]
        == "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."
    )
    body = assert_error(await api.call("new_order", {k: v for k, v in base.items() if k != "side"}), -1102)
    assert body["msg"] == "Mandatory parameter 'side' was not sent, was empty/null, or malformed."


@pytest.mark.asyncio
async def test_batch_modify_and_algo_orders(served: Served) -> None:
    api = served.api
    good = {
        "symbol": SYM,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": limit_price(served, "0.97"),
    }
    batch = (
        await api.call("place_batch_orders", {"batchOrders": [good, {**good, "side": "NOPE"}, {**good, "price": "1"}]})
    ).json
    assert batch[0]["status"] == "NEW"
    assert batch[1] == {"code": -1117, "msg": "Invalid side."}
    assert batch[2]["code"] == -4013  # below minPrice
    oid = batch[0]["orderId"]
    modified = (await api.call("modify_order", {"symbol": SYM, "orderId": oid, "side": "BUY", "quantity": "0.02",
                                               "price": good["price"]})).json  # fmt: skip
    assert modified["origQty"] == "0.020"
    history = (await api.call("order_amendments", {"symbol": SYM, "orderId": oid})).json
    assert history[0]["amendment"]["origQty"] == {"before": "0.010", "after": "0.020"}
    assert_error(await api.call("place_batch_orders", {"batchOrders": [good] * 6}), -4082)
    cancel = (await api.call("cancel_batch_orders", {"symbol": SYM, "orderIdList": [oid, 1]})).json
    assert cancel[0]["status"] == "CANCELED" and cancel[1]["code"] == -2011
    algo = (await api.call("new_algo_order", {"algoType": "CONDITIONAL", "symbol": SYM, "side": "SELL", "type": "STOP_MARKET",
                                              "quantity": "0.01", "triggerPrice": limit_price(served, "0.9")})).json  # fmt: skip
    assert algo["algoStatus"] == "NEW"
    assert [a["algoId"] for a in (await api.call("open_algo_orders")).json] == [algo["algoId"]]
    gone = (await api.call("cancel_algo_order", {"algoId": algo["algoId"]})).json
    assert gone == {"algoId": algo["algoId"], "clientAlgoId": algo["clientAlgoId"], "code": "200", "msg": "success"}
    assert (await api.call("query_algo_order", {"algoId": algo["algoId"]})).json["algoStatus"] == "CANCELED"


@pytest.mark.asyncio
async def test_countdown_and_gtd_expiry_run_on_the_clock(quiet: Served) -> None:
    api, ex = quiet.api, quiet.exchange
    now = ex.server_time_ms()
    base = {"symbol": SYM, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000"}
    gtc = (await api.call("new_order", {**base, "timeInForce": "GTC"})).json
    gtd = (await api.call("new_order", {**base, "timeInForce": "GTD", "goodTillDate": now + 700_000})).json
    assert gtd["timeInForce"] == "GTD" and gtd["goodTillDate"] == (now + 700_000) // 1000 * 1000
    assert (await api.call("countdown_cancel_all", {"symbol": SYM, "countdownTime": 900_000})).json[
        "countdownTime"
    ] == "900000"
    quiet.run(701_000)
    statuses = {o["orderId"]: o["status"] for o in (await api.call("all_orders", {"symbol": SYM})).json}
    assert statuses == {gtc["orderId"]: "NEW", gtd["orderId"]: "EXPIRED"}
    quiet.run(200_000)
    assert (await api.call("query_order", {"symbol": SYM, "orderId": gtc["orderId"]})).json["status"] == "CANCELED"


@pytest.mark.asyncio
async def test_listen_key_lifecycle_and_expiry(quiet: Served) -> None:
    api, ex = quiet.api, quiet.exchange
    expired: list[Any] = []
    ex.listen_keys.on_expire(lambda key, acct: expired.append((key, acct)))
    key = (await api.call("start_user_stream")).json["listenKey"]
    assert (await api.call("start_user_stream")).json["listenKey"] == key  # same key while it lives
    quiet.run(50 * 60_000)
    assert (await api.call("keepalive_user_stream")).json == {"listenKey": key}
    quiet.run(50 * 60_000)
    assert ex.listen_keys.account_for(key, ex.clock.time_ms()) is not None  # kept alive
    quiet.run(11 * 60_000)
    assert expired and expired[0][0] == key
    assert_error(await api.call("keepalive_user_stream"), -1125, 400)
    fresh = (await api.call("start_user_stream")).json["listenKey"]
    assert fresh != key
    assert (await api.call("close_user_stream")).json == {}
    assert_error(await api.call("keepalive_user_stream"), -1125)


@pytest.mark.asyncio
async def test_user_events_reach_the_bus(served: Served) -> None:
    api, ex = served.api, served.exchange
    account = ex.accounts.by_api_key(api.key.api_key)
    assert account is not None
    events: list[Any] = []
    ex.bus.add_user_listener(account.account_id, events.append)
    reply = await api.call("new_order", {"symbol": SYM, "side": "SELL", "type": "MARKET", "quantity": "0.01"})
    assert reply.status == 200
    kinds = [type(e).__name__ for e in events]
    assert "OrderTradeUpdate" in kinds and "AccountUpdate" in kinds and "TradeLite" in kinds
