"""Handlers of the "Account", "User Data Streams", "Convert" and download endpoints.

Rules kept here:
- account, balance, income, brackets and commission come from the venue's read-only queries;
- listenKeys: ``POST`` returns the account's live key (extended) or a new one, ``PUT`` extends it
  (-1125 "This listenKey does not exist." when there is none), ``DELETE`` removes it;
- what the simulator cannot really do answers with Binance's shapes: downloads are "completed" at
  once with a link that is never served, convert quotes price from the index with a 0.1 % spread and
  move no balance, the API trading-status indicators are empty (no rule breached).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from binfut._money import E8
from binfut.emulator.handlers.market import limit_param
from binfut.emulator.validate import Params, invalid
from binfut.errors import ApiError, InvalidRequest

if TYPE_CHECKING:
    from binfut.emulator.accounts import ApiAccount
    from binfut.emulator.exchange import LocalExchange

__all__ = ["HANDLERS"]



def _aid(a: ApiAccount | None) -> str:
    if a is None:
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    return a.account_id


def _state(ex: LocalExchange, key: str) -> dict[str, Any]:
    return ex.extra.setdefault(key, {})  # type: ignore[no-any-return]


def account(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.account_info(_aid(a))


def balance(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.balances(_aid(a))


def account_config(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    acct = ex.venue.account(_aid(a))
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "dualSidePosition": acct.hedge,
        "updateTime": 0,
        "multiAssetsMargin": _multi_assets(ex, acct.id),
        "tradeGroupId": -1,
    }


def symbol_config(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    acct = ex.venue.account(_aid(a))
    rows = []
    for symbol in [p["symbol"]] if p.get("symbol") else list(ex.symbols):
        st = acct.states[symbol]
        rows.append(
            {
                "symbol": symbol,
                "marginType": "ISOLATED" if st.isolated else "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": st.leverage,
                "maxNotionalValue": str(ex.venue.specs[symbol].max_notional(st.leverage)),
            }
        )
    return rows


def income(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    limit = limit_param(p, 100, 1000)
    start, end = p.get("startTime"), p.get("endTime")
    if start is None and end is None:  # Binance: the last 7 days by default
        start = ex.server_time_ms() - 7 * 86_400_000
    rows = ex.venue.income(_aid(a), p.get("symbol"), p.get("incomeType"), start, end, limit=ex.venue.history)
    page = p.get_int("page", 1)
    if page < 1:
        raise invalid("page")
    return rows[(page - 1) * limit : page * limit]


def leverage_bracket(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    _aid(a)
    return ex.venue.leverage_brackets(p.get("symbol"))


def commission_rate(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.commission_rate(_aid(a), p["symbol"])


def api_trading_status(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    _aid(a)
    return {"indicators": {}, "updateTime": ex.server_time_ms()}


def order_rate_limit(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    cfg = ex.config
    return [
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": cfg.order_limit_10s},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": cfg.order_limit_1m},
    ]


def position_mode(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.position_mode(_aid(a))


def _multi_assets(ex: LocalExchange, account_id: str) -> bool:
    return bool(ex.extra.get("multi_assets", {}).get(account_id, False))


def multi_assets_mode(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return {"multiAssetsMargin": _multi_assets(ex, _aid(a))}


def fee_burn(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return {"feeBurn": bool(_state(ex, "fee_burn").get(_aid(a), False))}


def change_fee_burn(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    _state(ex, "fee_burn")[_aid(a)] = p["feeBurn"]
    return {"code": 200, "msg": "success"}


# --- downloads -------------------------------------------------------------------------------------


def _download_id(kind: str) -> Any:
    def handler(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
        aid = _aid(a)
        start, end = p["startTime"], p["endTime"]
        if start > end:
            raise InvalidRequest(-1023, "Start time is greater than end time.")
        if end - start > 365 * 86_400_000:
            raise InvalidRequest(-1127, "More than 365 days between startTime and endTime.")
        ids = _state(ex, "downloads")
        download_id = str(546_975_389_218_332_672 + len(ids) * 7919 + ex.rng.randrange(7919))
        ids[download_id] = (aid, kind, ex.server_time_ms())
        return {"avgCostTimestampOfLast30d": 7241837, "downloadId": download_id}

    handler.__name__ = f"{kind}_download_id"
    return handler


def _download_link(kind: str) -> Any:
    def handler(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
        _aid(a)
        download_id = str(p["downloadId"])
        known = _state(ex, "downloads").get(download_id)
        if known is None or known[1] != kind:
            # An id still being prepared (or never issued) answers "processing", as Binance does.
            return {"downloadId": download_id, "status": "processing", "url": "", "notified": False,
                    "expirationTimestamp": -1, "isExpired": None}  # fmt: skip
        return {
            "downloadId": download_id,
            "status": "completed",
            "url": f"https://binfut-local.invalid/futures/{kind}/{download_id}.csv",
            "notified": True,
            "expirationTimestamp": known[2] + 7 * 86_400_000,
            "isExpired": None,
        }

    handler.__name__ = f"{kind}_download_link"
    return handler


# --- user data stream ----------------------------------------------------------------------------------


def start_user_stream(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return {"listenKey": ex.listen_keys.create(_aid(a), ex.clock.time_ms())}


def keepalive_user_stream(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    key = ex.listen_keys.keepalive(_aid(a), ex.clock.time_ms())
    if key is None:
        raise InvalidRequest(-1125, "This listenKey does not exist.")
    return {"listenKey": key}


def close_user_stream(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    ex.listen_keys.close(_aid(a))
    return {}


# --- convert ----------------------------------------------------------------------------------------


def _usd_value(ex: LocalExchange, asset: str) -> Decimal | None:
    """Index price of ``asset`` in USDT (1 for stablecoins); None when unknown."""
    if asset in ("USDT", "USDC", "FDUSD", "BFUSD"):
        return Decimal(1)
    for symbol in ex.symbols:
        spec = ex.venue.specs[symbol]
        if spec.base_asset == asset:
            m = ex.market.mark(symbol)
            price = m.index_price if m is not None else ex.venue.mark(symbol)
            return price if price else None
    return None


def convert_pairs(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    bases = [ex.venue.specs[s].base_asset for s in ex.symbols]
    rows = []
    for base in bases:
        for frm, to in (("USDT", base), (base, "USDT")):
            if (p.get("fromAsset") and p["fromAsset"] != frm) or (p.get("toAsset") and p["toAsset"] != to):
                continue
            rows.append(
                {"fromAsset": frm, "toAsset": to, "fromAssetMinAmount": "0.0004", "fromAssetMaxAmount": "50",
                 "toAssetMinAmount": "20", "toAssetMaxAmount": "2500000"}
            )  # fmt: skip
    return rows


def convert_request_quote(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    _aid(a)
    frm, to = str(p["fromAsset"]), str(p["toAsset"])
    v_from, v_to = _usd_value(ex, frm), _usd_value(ex, to)
    if v_from is None:
        raise invalid("fromAsset")
    if v_to is None or frm == to:
        raise invalid("toAsset")
    if (p.get("fromAmount") is None) == (p.get("toAmount") is None):
        raise InvalidRequest(-1102, "Mandatory parameter 'fromAmount' was not sent, was empty/null, or malformed.")
    ratio = (v_from / v_to * Decimal("0.999")).quantize(E8, ROUND_HALF_EVEN)  # 0.1 % spread against the taker
    if p.get("fromAmount") is not None:
        from_amount = p["fromAmount"]
        to_amount = (from_amount * ratio).quantize(E8, ROUND_HALF_EVEN)
    else:
        to_amount = p["toAmount"]
        from_amount = (to_amount / ratio).quantize(E8, ROUND_HALF_EVEN)
    quotes = _state(ex, "convert_quotes")
    quote_id = f"{ex.rng.getrandbits(64):016x}"
    now = ex.server_time_ms()
    quotes[quote_id] = {"fromAsset": frm, "toAsset": to, "fromAmount": str(from_amount), "toAmount": str(to_amount),
                        "ratio": str(ratio), "valid": now + 10_000}  # fmt: skip
    return {
        "quoteId": quote_id,
        "ratio": str(ratio),
        "inverseRatio": str((1 / ratio).quantize(E8, ROUND_HALF_EVEN)) if ratio else "0",
        "validTimestamp": now + 10_000,
        "toAmount": str(to_amount),
        "fromAmount": str(from_amount),
    }


def convert_accept_quote(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    _aid(a)
    quote = _state(ex, "convert_quotes").get(str(p["quoteId"]))
    now = ex.server_time_ms()
    if quote is None or quote["valid"] < now:
        raise invalid("quoteId")
    orders = _state(ex, "convert_orders")
    order_id = str(940_708_407_462_087_195 + len(orders))
    orders[order_id] = {**quote, "quoteId": p["quoteId"], "createTime": now}
    return {"orderId": order_id, "createTime": now, "orderStatus": "PROCESS"}


def convert_order_status(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    _aid(a)
    orders = _state(ex, "convert_orders")
    if p.get("orderId") is None and p.get("quoteId") is None:
        raise InvalidRequest(-1102, "Mandatory parameter 'orderId' was not sent, was empty/null, or malformed.")
    found = None
    for oid, order in orders.items():
        if oid == p.get("orderId") or order["quoteId"] == p.get("quoteId"):
            found = (oid, order)
            break
    if found is None:
        raise invalid("orderId" if p.get("orderId") is not None else "quoteId")
    oid, order = found
    return {
        "orderId": int(oid),
        "orderStatus": "SUCCESS",
        "fromAsset": order["fromAsset"],
        "fromAmount": order["fromAmount"],
        "toAsset": order["toAsset"],
        "toAmount": order["toAmount"],
        "ratio": order["ratio"],
        "inverseRatio": str((1 / Decimal(order["ratio"])).quantize(E8, ROUND_HALF_EVEN)),
        "createTime": order["createTime"],
    }


HANDLERS: dict[str, Any] = {
    "account": account,
    "account_v2": account,
    "balance": balance,
    "balance_v2": balance,
    "account_config": account_config,
    "symbol_config": symbol_config,
    "income": income,
    "leverage_bracket": leverage_bracket,
    "commission_rate": commission_rate,
    "api_trading_status": api_trading_status,
    "order_rate_limit": order_rate_limit,
    "position_mode": position_mode,
    "multi_assets_mode": multi_assets_mode,
    "fee_burn": fee_burn,
    "change_fee_burn": change_fee_burn,
    "income_download_id": _download_id("income"),
    "income_download_link": _download_link("income"),
    "order_download_id": _download_id("order"),
    "order_download_link": _download_link("order"),
    "trade_download_id": _download_id("trade"),
    "trade_download_link": _download_link("trade"),
    "start_user_stream": start_user_stream,
    "keepalive_user_stream": keepalive_user_stream,
    "close_user_stream": close_user_stream,
    "convert_pairs": convert_pairs,
    "convert_request_quote": convert_request_quote,
    "convert_accept_quote": convert_accept_quote,
    "convert_order_status": convert_order_status,
}
