"""Every endpoint of the table answers 2xx with a body that decodes into the table's response type.

The cases are parametrized over ``binfut.protocol.endpoints.ENDPOINTS`` itself: an endpoint added to
the table without an example here, or without a handler in the exchange, fails its case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from binfut.emulator import LocalExchange
from binfut.protocol.endpoints import ENDPOINTS
from integration.emulator.conftest import Served, make_exchange, serve

SYM = "BTCUSDT"

Example = Callable[["Ctx"], Awaitable[dict[str, Any]]]


class Ctx:
    """Prerequisites for the examples (orders to cancel, quotes to accept, ...)."""

    def __init__(self, served: Served) -> None:
        self.s = served
        self.api = served.api

    def price(self, frac: str, symbol: str = SYM) -> str:
        bid, _, ask, _ = self.s.exchange.venue.best_bid_ask(symbol)
        assert bid is not None and ask is not None
        tick = self.s.exchange.venue.specs[symbol].tick_size
        return str(((bid + ask) / 2 * Decimal(frac) / tick).to_integral_value() * tick)

    async def order(self, symbol: str = SYM) -> dict[str, Any]:
        r = await self.api.call("new_order", {"symbol": symbol, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                              "quantity": "0.01", "price": self.price("0.97")})  # fmt: skip
        assert r.status == 200, r.body
        return r.json  # type: ignore[no-any-return]

    async def algo(self) -> dict[str, Any]:
        r = await self.api.call("new_algo_order", {"algoType": "CONDITIONAL", "symbol": SYM, "side": "SELL", "type": "STOP_MARKET",
                                                   "quantity": "0.01", "triggerPrice": self.price("0.9")})  # fmt: skip
        assert r.status == 200, r.body
        return r.json  # type: ignore[no-any-return]

    async def get(self, name: str, params: dict[str, Any], field: str) -> Any:
        r = await self.api.call(name, params)
        assert r.status == 200, r.body
        return r.json[field]


def _const(params: dict[str, Any]) -> Example:
    async def make(ctx: Ctx) -> dict[str, Any]:
        return dict(params)

    return make


async def _modify(ctx: Ctx) -> dict[str, Any]:
    o = await ctx.order()
    return {"symbol": SYM, "orderId": o["orderId"], "side": "BUY", "quantity": "0.02", "price": o["price"]}


async def _modify_batch(ctx: Ctx) -> dict[str, Any]:
    o = await ctx.order()
    item = {"symbol": SYM, "orderId": o["orderId"], "side": "BUY", "quantity": "0.03", "price": o["price"]}
    return {"batchOrders": [item]}


async def _batch(ctx: Ctx) -> dict[str, Any]:
    item = {
        "symbol": SYM,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": ctx.price("0.96"),
    }
    return {"batchOrders": [item, {**item, "price": ctx.price("0.965")}]}


async def _by_order(ctx: Ctx) -> dict[str, Any]:
    return {"symbol": SYM, "orderId": (await ctx.order())["orderId"]}


async def _cancel_batch(ctx: Ctx) -> dict[str, Any]:
    return {"symbol": SYM, "orderIdList": [(await ctx.order())["orderId"]]}


async def _by_algo(ctx: Ctx) -> dict[str, Any]:
    return {"algoId": (await ctx.algo())["algoId"]}


async def _isolated_margin(ctx: Ctx) -> dict[str, Any]:
    api = ctx.s.with_key("RSA")
    r = await api.call("change_margin_type", {"symbol": "BNBUSDT", "marginType": "ISOLATED"})
    assert r.status == 200 or r.json["code"] == -4046, r.body
    r = await api.call("new_order", {"symbol": "BNBUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"})
    assert r.status == 200, r.body
    return {"symbol": "BNBUSDT", "amount": "10", "type": 1}


async def _keepalive(ctx: Ctx) -> dict[str, Any]:
    assert (await ctx.api.call("start_user_stream")).status == 200
    return {}


def _download(kind: str) -> Example:
    async def make(ctx: Ctx) -> dict[str, Any]:
        now = ctx.s.exchange.server_time_ms()
        return {
            "downloadId": await ctx.get(
                f"{kind}_download_id", {"startTime": now - 86_400_000, "endTime": now}, "downloadId"
            )
        }

    return make


async def _window(ctx: Ctx) -> dict[str, Any]:
    now = ctx.s.exchange.server_time_ms()
    return {"startTime": now - 86_400_000, "endTime": now}


async def _quote(ctx: Ctx) -> dict[str, Any]:
    return {
        "quoteId": await ctx.get(
            "convert_request_quote", {"fromAsset": "USDT", "toAsset": "BTC", "fromAmount": "100"}, "quoteId"
        )
    }


async def _convert_status(ctx: Ctx) -> dict[str, Any]:
    quote = await _quote(ctx)
    return {"orderId": await ctx.get("convert_accept_quote", quote, "orderId")}


async def _multi_assets(ctx: Ctx) -> dict[str, Any]:
    current = await ctx.get("multi_assets_mode", {}, "multiAssetsMargin")
    return {"multiAssetsMargin": not current}


_KLINE = {"interval": "1m", "limit": 10}
_STATS = {"symbol": SYM, "period": "5m"}

EXAMPLES: dict[str, Example] = {
    # market data
    "ping": _const({}),
    "server_time": _const({}),
    "exchange_info": _const({}),
    "depth": _const({"symbol": SYM, "limit": 5}),
    "rpi_depth": _const({"symbol": SYM}),
    "trades": _const({"symbol": SYM, "limit": 10}),
    "historical_trades": _const({"symbol": SYM, "limit": 10}),
    "agg_trades": _const({"symbol": SYM, "limit": 10}),
    "klines": _const({"symbol": SYM, **_KLINE}),
    "continuous_klines": _const({"pair": SYM, "contractType": "PERPETUAL", **_KLINE}),
    "index_price_klines": _const({"pair": SYM, **_KLINE}),
    "mark_price_klines": _const({"symbol": SYM, **_KLINE}),
    "premium_index_klines": _const({"symbol": SYM, **_KLINE}),
    "mark_price": _const({"symbol": SYM}),
    "funding_rate_history": _const({"symbol": SYM}),
    "funding_info": _const({}),
    "ticker_24hr": _const({"symbol": SYM}),
    "ticker_price": _const({"symbol": SYM}),
    "ticker_price_v2": _const({}),
    "book_ticker": _const({"symbol": SYM}),
    "open_interest": _const({"symbol": SYM}),
    "delivery_price": _const({"pair": SYM}),
    "open_interest_hist": _const(_STATS),
    "top_long_short_position_ratio": _const(_STATS),
    "top_long_short_account_ratio": _const(_STATS),
    "global_long_short_account_ratio": _const(_STATS),
    "taker_long_short_ratio": _const(_STATS),
    "basis": _const({"pair": SYM, "contractType": "PERPETUAL", "period": "5m", "limit": 30}),
    "index_info": _const({}),
    "asset_index": _const({}),
    "index_constituents": _const({"symbol": SYM}),
    "insurance_balance": _const({}),
    "adl_risk": _const({}),
    "trading_schedule": _const({}),
    # trade
    "new_order": lambda ctx: _const(
        {
            "symbol": SYM,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.01",
            "price": ctx.price("0.98"),
        }
    )(ctx),  # fmt: skip
    "test_order": lambda ctx: _const(
        {
            "symbol": SYM,
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.01",
            "price": ctx.price("1.02"),
        }
    )(ctx),  # fmt: skip
    "modify_order": _modify,
    "place_batch_orders": _batch,
    "modify_batch_orders": _modify_batch,
    "cancel_order": _by_order,
    "cancel_batch_orders": _cancel_batch,
    "cancel_all_open_orders": _const({"symbol": "ETHUSDT"}),
    "countdown_cancel_all": _const({"symbol": SYM, "countdownTime": 120_000}),
    "query_order": _by_order,
    "open_order": _by_order,
    "open_orders": _const({}),
    "all_orders": _const({"symbol": SYM}),
    "order_amendments": _const({"symbol": SYM}),
    "force_orders": _const({}),
    "new_algo_order": lambda ctx: _const(
        {
            "algoType": "CONDITIONAL",
            "symbol": SYM,
            "side": "SELL",
            "type": "STOP_MARKET",
            "quantity": "0.01",
            "triggerPrice": ctx.price("0.9"),
        }
    )(ctx),  # fmt: skip
    "cancel_algo_order": _by_algo,
    "cancel_all_algo_open_orders": _const({"symbol": SYM}),
    "query_algo_order": _by_algo,
    "open_algo_orders": _const({}),
    "all_algo_orders": _const({"symbol": SYM}),
    "change_leverage": _const({"symbol": SYM, "leverage": 10}),
    "change_margin_type": _const({"symbol": "SOLUSDT", "marginType": "ISOLATED"}),
    "change_position_mode": _const({"dualSidePosition": True}),
    "change_multi_assets_mode": _multi_assets,
    "modify_position_margin": _isolated_margin,
    "position_margin_history": _const({"symbol": "BNBUSDT"}),
    "position_risk": _const({}),
    "position_risk_v2": _const({"symbol": SYM}),
    "adl_quantile": _const({}),
    "user_trades": _const({"symbol": SYM}),
    "sign_tradfi_perps_contract": _const({}),
    "pm_account_info": _const({"asset": "USDT"}),
    # account
    "account": _const({}),
    "account_v2": _const({}),
    "balance": _const({}),
    "balance_v2": _const({}),
    "account_config": _const({}),
    "symbol_config": _const({}),
    "income": _const({}),
    "leverage_bracket": _const({"symbol": SYM}),
    "commission_rate": _const({"symbol": SYM}),
    "api_trading_status": _const({}),
    "order_rate_limit": _const({}),
    "position_mode": _const({}),
    "multi_assets_mode": _const({}),
    "fee_burn": _const({}),
    "change_fee_burn": _const({"feeBurn": True}),
    "income_download_id": _window,
    "income_download_link": _download("income"),
    "order_download_id": _window,
    "order_download_link": _download("order"),
    "trade_download_id": _window,
    "trade_download_link": _download("trade"),
    "start_user_stream": _const({}),
    "keepalive_user_stream": _keepalive,
    "close_user_stream": _const({}),
    "convert_pairs": _const({}),
    "convert_request_quote": _const({"fromAsset": "USDT", "toAsset": "BTC", "fromAmount": "100"}),
    "convert_accept_quote": _quote,
    "convert_order_status": _convert_status,
}

# Examples that must use a clean account (they change account-wide modes).
KEY_FOR = {"change_position_mode": "ED25519", "modify_position_margin": "RSA", "position_margin_history": "RSA"}
# Endpoints whose answer must not be empty after a minute of simulated market.
NON_EMPTY = {
    "trades", "historical_trades", "agg_trades", "klines", "continuous_klines", "index_price_klines", "mark_price_klines",
    "premium_index_klines", "open_interest_hist", "global_long_short_account_ratio", "top_long_short_account_ratio",
    "top_long_short_position_ratio", "taker_long_short_ratio", "basis", "open_orders", "all_orders", "position_risk",
    "user_trades", "income", "convert_pairs", "funding_info", "symbol_config", "leverage_bracket",
}  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared() -> AsyncIterator[Served]:
    ex = make_exchange(warmup_ms=60_000, weight_limit_1m=10**9)  # rate limits have their own tests
    async for s in serve(ex):
        # a position and a fill of our own, so account answers have something in them
        r = await s.api.call("new_order", {"symbol": SYM, "side": "BUY", "type": "MARKET", "quantity": "0.01"})
        assert r.status == 200, r.body
        yield s


def test_every_endpoint_has_an_example_and_a_handler() -> None:
    names = {ep.name for ep in ENDPOINTS}
    assert sorted(names - EXAMPLES.keys()) == []
    ex = make_exchange(warmup_ms=0, simulate=False)
    assert ex.missing_handlers() == []
    assert isinstance(ex, LocalExchange)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", [ep.name for ep in ENDPOINTS])
async def test_endpoint_answers_with_plausible_shape(shared: Served, name: str) -> None:
    example = EXAMPLES.get(name)
    assert example is not None, f"no example for endpoint {name!r}: add one to EXAMPLES"
    ep = next(e for e in ENDPOINTS if e.name == name)
    params = await example(Ctx(shared))
    api = shared.with_key(KEY_FOR[name]) if name in KEY_FOR else shared.api
    reply = await api.call(name, params)
    assert 200 <= reply.status < 300, (name, reply.status, reply.body[:300])
    assert reply.headers["content-type"].startswith("application/json")
    assert "x-mbx-used-weight-1m" in reply.headers
    value = msgspec.json.decode(reply.body, type=ep.returns_for({k: str(v) for k, v in params.items()}))
    if name in NON_EMPTY:
        assert value, f"{name} answered an empty body"
    if ep.orders:
        assert "x-mbx-order-count-10s" in reply.headers and "x-mbx-order-count-1m" in reply.headers


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("path", ["/api/v3/ping", "/api/v3/time"])
async def test_spot_probes(shared: Served, path: str) -> None:
    reply = await shared.api.raw("GET", path, key=None)
    assert reply.status == 200
    assert reply.json == {} if path.endswith("ping") else reply.json["serverTime"] == shared.exchange.server_time_ms()


@pytest.mark.asyncio(loop_scope="module")
async def test_exchange_info_matches_the_engine_filters(shared: Served) -> None:
    info = (await shared.api.call("exchange_info")).json
    specs = shared.exchange.venue.specs
    assert [s["symbol"] for s in info["symbols"]] == list(shared.exchange.symbols)
    needed = {"contractType", "deliveryDate", "onboardDate", "status", "baseAsset", "quoteAsset", "marginAsset", "pricePrecision",
              "quantityPrecision", "baseAssetPrecision", "quotePrecision", "underlyingType", "settlePlan", "triggerProtect",
              "orderTypes", "timeInForce", "liquidationFee", "marketTakeBound", "requiredMarginPercent", "maintMarginPercent"}  # fmt: skip
    for sym in info["symbols"]:
        assert needed <= sym.keys(), needed - sym.keys()
        spec = specs[sym["symbol"]]
        f = {x["filterType"]: x for x in sym["filters"]}
        assert set(f) == {
            "PRICE_FILTER",
            "LOT_SIZE",
            "MARKET_LOT_SIZE",
            "MAX_NUM_ORDERS",
            "MAX_NUM_ALGO_ORDERS",
            "MIN_NOTIONAL",
            "PERCENT_PRICE",
        }
        assert Decimal(f["PRICE_FILTER"]["tickSize"]) == spec.tick_size
        assert Decimal(f["LOT_SIZE"]["stepSize"]) == spec.step_size
        assert Decimal(f["MIN_NOTIONAL"]["notional"]) == spec.min_notional
    limits = {(r["rateLimitType"], r["interval"], r["intervalNum"]): r["limit"] for r in info["rateLimits"]}
    cfg = shared.exchange.config
    assert limits == {
        ("REQUEST_WEIGHT", "MINUTE", 1): cfg.weight_limit_1m,
        ("ORDERS", "MINUTE", 1): 1200,
        ("ORDERS", "SECOND", 10): 300,
    }


@pytest.mark.asyncio(loop_scope="module")
async def test_depth_snapshot_is_consistent_with_the_book_update_ids(shared: Served) -> None:
    seen: list[Any] = []
    remove = shared.exchange.bus.add_market_listener(
        lambda kind, sym, p: seen.append(p) if kind == "depth" and sym == SYM else None
    )
    try:
        shared.run(2_000)
    finally:
        remove()
    snap = (await shared.api.call("depth", {"symbol": SYM, "limit": 1000})).json
    assert seen, "the simulated market changed no level in 2 s"
    assert snap["lastUpdateId"] == seen[-1].last_update_id
    for a, b in zip(seen, seen[1:], strict=False):
        assert b.prev_update_id == a.last_update_id  # a continuous pu chain
    bids = [Decimal(p) for p, _ in snap["bids"]]
    asks = [Decimal(p) for p, _ in snap["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
