"""Handlers of the "Trade" endpoints: wire parameters -> engine commands -> the engine's REST answers.

Rules kept here:
- every command goes through :meth:`LocalExchange.execute` (the venue's single command entry point),
  so its outputs reach market data and the user streams; queries use the venue's read-only queries;
- batch elements are validated one by one against the single-order endpoint's parameters, and each
  element answers for itself (an order, or ``{"code","msg"}``) in request order; a batch holds 1-5
  orders (-4082 otherwise), a cancel batch at most 10 ids;
- ``openOrder`` answers only open orders (-2013 once an order is filled or cancelled), ``order``
  also recently closed ones; list limits follow Binance's defaults and maxima (-1130 beyond);
- what the engine does not record (modify history, margin-change history) is recorded here when the
  command succeeds.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from binfut.emulator.handlers.market import limit_param
from binfut.emulator.validate import Params, invalid, validate_params
from binfut.errors import ApiError, InvalidRequest, OrderRejected
from binfut.matching import commands as c
from binfut.matching.builders import order_snapshot
from binfut.matching.filters import to_lots, to_ticks
from binfut.protocol.endpoints import BY_NAME

if TYPE_CHECKING:
    from binfut.emulator.accounts import ApiAccount
    from binfut.emulator.exchange import LocalExchange

__all__ = ["HANDLERS"]

_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_CONDITIONAL = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})


def _aid(a: ApiAccount | None) -> str:
    if a is None:  # dispatch refuses keyed endpoints without an account; this is a safety net
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    return a.account_id


def _new_order_cmd(p: Params) -> c.NewOrder:
    return c.NewOrder(
        symbol=p["symbol"],
        side=p["side"],
        type=p["type"],
        quantity=p.get("quantity"),
        price=p.get("price"),
        time_in_force=p.get("timeInForce"),
        position_side=p.get("positionSide"),
        reduce_only=p.get("reduceOnly"),
        new_client_order_id=p.get("newClientOrderId"),
        price_match=p.get("priceMatch"),
        self_trade_prevention_mode=p.get("selfTradePreventionMode"),
        good_till_date=p.get("goodTillDate"),
        new_order_resp_type=p.get("newOrderRespType"),
    )


def _modify_cmd(p: Params) -> c.ModifyOrder:
    return c.ModifyOrder(
        symbol=p["symbol"],
        side=p["side"],
        quantity=p.get("quantity"),
        price=p.get("price"),
        order_id=p.get("orderId"),
        orig_client_order_id=p.get("origClientOrderId"),
        price_match=p.get("priceMatch"),
    )


# --- orders ----------------------------------------------------------------------------------------


def new_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(_aid(a), _new_order_cmd(p))


def test_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    """Validate as ``new_order`` would, change nothing, answer an order-shaped body."""
    acct = ex.venue.account(_aid(a))
    otype = p["type"]
    spec = ex.venue.specs[p["symbol"]]
    if otype not in _CONDITIONAL:
        _engine, order = ex.venue.build_order(acct, _new_order_cmd(p))
        return order_snapshot(spec, order, ack=True)
    # The test endpoint still takes the pre-2025 conditional types: check their numbers only.
    qty = to_lots(spec, p["quantity"], otype.endswith("MARKET")) if p.get("quantity") is not None else 0
    for name in ("price", "stopPrice", "activationPrice"):
        if p.get(name) is not None:
            to_ticks(spec, p[name], name)
    now = ex.clock.time_ms()
    return {
        "orderId": 0, "symbol": spec.symbol, "status": "NEW", "clientOrderId": p.get("newClientOrderId") or "test",
        "price": str(p.get("price") or spec.zero_price), "avgPrice": "0", "origQty": str(spec.qty(qty)),
        "executedQty": "0", "cumQty": "0", "cumQuote": "0", "timeInForce": p.get("timeInForce") or "GTC", "type": otype,
        "reduceOnly": bool(p.get("reduceOnly")), "closePosition": bool(p.get("closePosition")), "side": p["side"],
        "positionSide": p.get("positionSide") or "BOTH", "stopPrice": str(p.get("stopPrice") or spec.zero_price),
        "workingType": p.get("workingType") or "CONTRACT_PRICE", "priceProtect": bool(p.get("priceProtect")),
        "origType": otype, "priceMatch": p.get("priceMatch") or "NONE",
        "selfTradePreventionMode": p.get("selfTradePreventionMode") or "NONE", "goodTillDate": 0, "updateTime": now,
    }  # fmt: skip


def _items(raw: list[Any], name: str, limit: int, code: int) -> list[dict[str, str]]:
    if not raw or len(raw) > limit:
        raise OrderRejected(
            code, "Invalid number of batch place orders." if code == -4082 else f"Invalid number of {name}."
        )
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise invalid("batchOrders")
        out.append({str(k): _wire(v) for k, v in item.items()})
    return out


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _batch(ex: LocalExchange, a: ApiAccount | None, p: Params, endpoint: str, make: Any, batch_cls: Any) -> list[Any]:
    items = _items(p["batchOrders"], "batchOrders", 5, -4082)
    results: list[Any] = [None] * len(items)
    cmds: list[Any] = []
    where: list[int] = []
    for i, wire in enumerate(items):
        try:
            cmds.append(make(validate_params(BY_NAME[endpoint], wire, ex.symbol_set)))
            where.append(i)
        except ApiError as err:
            results[i] = err
    if cmds:
        for i, value in zip(where, ex.execute(_aid(a), batch_cls(orders=cmds)), strict=True):
            results[i] = value
    return results


def place_batch_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return _batch(ex, a, p, "new_order", _new_order_cmd, c.BatchNewOrders)


def modify_batch_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    results = _batch(ex, a, p, "modify_order", _modify_cmd, c.BatchModifyOrders)
    return results


def _modify_record(ex: LocalExchange, account_id: str, before: Any, after: Any, now: int) -> None:
    log = ex.extra.setdefault("amendments", {}).setdefault(account_id, [])
    count = sum(1 for r in log if r["orderId"] == after.order_id) + 1
    log.append(
        {
            "amendmentId": len(log) + 1,
            "symbol": after.symbol,
            "pair": after.symbol,
            "orderId": after.order_id,
            "clientOrderId": after.client_order_id,
            "time": now,
            "amendment": {
                "price": {"before": str(before.price), "after": str(after.price)},
                "origQty": {"before": str(before.orig_qty), "after": str(after.orig_qty)},
                "count": count,
            },
            "priceMatch": after.price_match,
        }
    )


def modify_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    aid = _aid(a)
    cmd = _modify_cmd(p)
    try:
        before = ex.venue.get_order(aid, cmd.symbol, cmd.order_id, cmd.orig_client_order_id)
    except ApiError:
        before = None
    after = ex.execute(aid, cmd)
    if before is not None:
        _modify_record(ex, aid, before, after, ex.venue.now)
    return after


def cancel_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(
        _aid(a),
        c.CancelOrder(symbol=p["symbol"], order_id=p.get("orderId"), orig_client_order_id=p.get("origClientOrderId")),
    )


def _id_list(raw: list[Any] | None, name: str, as_int: bool) -> list[Any] | None:
    if raw is None:
        return None
    out: list[Any] = []
    for item in raw:
        text = str(item)
        if as_int:
            if isinstance(item, bool) or not text.isdigit():
                raise invalid(name)
            out.append(int(text))
        else:
            out.append(text)
    return out


def cancel_batch_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    ids = _id_list(p.get("orderIdList"), "orderIdList", True)
    cids = _id_list(p.get("origClientOrderIdList"), "origClientOrderIdList", False)
    if len(ids or ()) + len(cids or ()) > 10:
        raise InvalidRequest(-4032, "Exceed maximum cancel order size.")
    return ex.execute(
        _aid(a), c.BatchCancelOrders(symbol=p["symbol"], order_id_list=ids, orig_client_order_id_list=cids)
    )


def cancel_all_open_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(_aid(a), c.CancelAllOrders(symbol=p["symbol"]))


def countdown_cancel_all(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(_aid(a), c.CountdownCancelAll(symbol=p["symbol"], countdown_time=p["countdownTime"]))


def query_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.get_order(_aid(a), p["symbol"], p.get("orderId"), p.get("origClientOrderId"))


def open_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    snap = query_order(ex, p, a)
    if snap.status not in ("NEW", "PARTIALLY_FILLED"):
        raise ApiError(-2013, "Order does not exist.")
    return snap


def open_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.open_orders(_aid(a), p.get("symbol"))


def _in_window(t: int, p: Params) -> bool:
    start, end = p.get("startTime"), p.get("endTime")
    return (start is None or t >= start) and (end is None or t <= end)


def all_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    limit = limit_param(p, 500, 1000)
    rows = ex.venue.all_orders(_aid(a), p["symbol"], limit=ex.venue.history)
    rows = [r for r in rows if (p.get("orderId") is None or r.order_id >= p["orderId"]) and _in_window(r.time, p)]
    return rows[:limit] if p.get("orderId") is not None or p.get("startTime") is not None else rows[-limit:]


def order_amendments(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    limit = limit_param(p, 50, 100)
    rows = [
        r
        for r in ex.extra.get("amendments", {}).get(_aid(a), [])
        if r["symbol"] == p["symbol"]
        and (p.get("orderId") is None or r["orderId"] == p["orderId"])
        and (p.get("origClientOrderId") is None or r["clientOrderId"] == p["origClientOrderId"])
        and _in_window(r["time"], p)
    ]
    return rows[-limit:]


def force_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    limit = limit_param(p, 50, 100)
    if p.get("autoCloseType") == "ADL":
        return []  # the simulator never auto-deleverages
    aid = _aid(a)
    rows = []
    for symbol in [p["symbol"]] if p.get("symbol") else list(ex.symbols):
        rows += [
            r
            for r in ex.venue.all_orders(aid, symbol, limit=ex.venue.history)
            if r.type == "LIQUIDATION" and _in_window(r.time, p)
        ]
    rows.sort(key=lambda r: r.time)
    return rows[-limit:]


# --- algo orders -----------------------------------------------------------------------------------


def new_algo_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    # Binance holds clientAlgoId to the client-order-id pattern; the engine checks only newClientOrderId.
    cid = p.get("clientAlgoId")
    if cid is not None and not _CID.match(cid):
        raise OrderRejected(-4015, "Client order id is not valid.")
    cmd = c.NewAlgoOrder(
        symbol=p["symbol"],
        side=p["side"],
        type=p["type"],
        algo_type=p["algoType"],
        quantity=p.get("quantity"),
        price=p.get("price"),
        trigger_price=p.get("triggerPrice"),
        time_in_force=p.get("timeInForce"),
        working_type=p.get("workingType"),
        price_protect=p.get("priceProtect"),
        activate_price=p.get("activatePrice"),
        callback_rate=p.get("callbackRate"),
        close_position=p.get("closePosition"),
        reduce_only=p.get("reduceOnly"),
        position_side=p.get("positionSide"),
        client_algo_id=p.get("clientAlgoId"),
        self_trade_prevention_mode=p.get("selfTradePreventionMode"),
        price_match=p.get("priceMatch"),
        good_till_date=p.get("goodTillDate"),
    )
    return ex.execute(_aid(a), cmd)


def cancel_algo_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    snap = ex.execute(_aid(a), c.CancelAlgoOrder(algo_id=p.get("algoId"), client_algo_id=p.get("clientAlgoId")))
    # Binance sends the code as a string here.
    return {"algoId": snap.algo_id, "clientAlgoId": snap.client_algo_id, "code": "200", "msg": "success"}


def cancel_all_algo_open_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(_aid(a), c.CancelAllAlgoOrders(symbol=p["symbol"]))


def query_algo_order(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    if p.get("algoId") is None and p.get("clientAlgoId") is None:
        raise InvalidRequest(-1102, "Mandatory parameter 'algoId' was not sent, was empty/null, or malformed.")
    return ex.venue.get_algo_order(_aid(a), p.get("algoId"), p.get("clientAlgoId"))


def open_algo_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    rows = ex.venue.open_algo_orders(_aid(a), p.get("symbol"))
    if p.get("algoId") is not None:
        rows = [r for r in rows if r.algo_id == p["algoId"]]
    return rows


def all_algo_orders(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    limit = limit_param(p, 500, 1000)
    rows = ex.venue.all_algo_orders(_aid(a), p["symbol"], limit=ex.venue.history)
    rows = [r for r in rows if (p.get("algoId") is None or r.algo_id >= p["algoId"]) and _in_window(r.create_time, p)]
    return rows[-limit:]


# --- positions, leverage, margin -------------------------------------------------------------------


def change_leverage(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(_aid(a), c.ChangeLeverage(symbol=p["symbol"], leverage=p["leverage"]))


def change_margin_type(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(_aid(a), c.ChangeMarginType(symbol=p["symbol"], margin_type=p["marginType"]))


def change_position_mode(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.execute(_aid(a), c.ChangePositionMode(dual_side_position=p["dualSidePosition"]))


def change_multi_assets_mode(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    # The engine margins in USDT only (it answers -1020 to multi-assets mode): the flag is kept here
    # and reported back, margin stays single-asset.
    aid = _aid(a)
    flags = ex.extra.setdefault("multi_assets", {})
    if bool(flags.get(aid, False)) == p["multiAssetsMargin"]:
        raise OrderRejected(-4171, "Adjusted multi-assets mode is same as current multi-assets mode.")
    flags[aid] = p["multiAssetsMargin"]
    return {"code": 200, "msg": "success"}


def modify_position_margin(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    aid = _aid(a)
    value = ex.execute(
        aid,
        c.ModifyIsolatedMargin(
            symbol=p["symbol"], amount=p["amount"], type=p["type"], position_side=p.get("positionSide")
        ),
    )
    ex.extra.setdefault("margin_history", {}).setdefault(aid, []).append(
        {
            "symbol": p["symbol"],
            "type": p["type"],
            "deltaType": "USER_ADJUST",
            "amount": str(p["amount"]),
            "asset": "USDT",
            "time": ex.venue.now,
            "positionSide": p.get("positionSide") or "BOTH",
        }
    )
    return value


def position_margin_history(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    limit = limit_param(p, 500, 500)
    rows = [
        r
        for r in ex.extra.get("margin_history", {}).get(_aid(a), [])
        if r["symbol"] == p["symbol"] and (p.get("type") is None or r["type"] == p["type"]) and _in_window(r["time"], p)
    ]
    return rows[-limit:]


def position_risk(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.position_risk(_aid(a), p.get("symbol"))


def position_risk_v2(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    return ex.venue.position_risk(_aid(a), p.get("symbol"), include_empty=True)


def adl_quantile(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    out: dict[str, dict[str, int]] = {}
    for row in ex.venue.position_risk(_aid(a), p.get("symbol")):
        q = out.setdefault(row.symbol, {"LONG": 0, "SHORT": 0} if row.position_side != "BOTH" else {"BOTH": 0})
        # The quantile grows with leverage-weighted profit; a simple stand-in: 1 in profit, 0 otherwise.
        q[str(row.position_side)] = 1 if row.un_realized_profit > 0 else 0
    return [{"symbol": s, "adlQuantile": q} for s, q in out.items()]


def user_trades(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    limit = limit_param(p, 500, 1000)
    if p.get("fromId") is not None and (p.get("startTime") is not None or p.get("endTime") is not None):
        raise InvalidRequest(-1128, "Combination of optional parameters invalid.")
    rows = ex.venue.user_trades(
        _aid(a),
        p["symbol"],
        limit=ex.venue.history,
        start_time=p.get("startTime"),
        end_time=p.get("endTime"),
        from_id=p.get("fromId"),
    )
    if p.get("orderId") is not None:
        rows = [r for r in rows if r.order_id == p["orderId"]]
    return rows[:limit] if p.get("fromId") is not None else rows[-limit:]


def sign_tradfi_perps_contract(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    ex.extra.setdefault("tradfi_signed", set()).add(_aid(a))
    return {"code": 200, "msg": "success"}


def pm_account_info(ex: LocalExchange, p: Params, a: ApiAccount | None) -> Any:
    acct = ex.venue.account(_aid(a))
    amount = acct.balances.get(str(p["asset"]), Decimal(0))
    return {"maxWithdrawAmountUSD": str(amount), "asset": p["asset"], "maxWithdrawAmount": str(amount)}


HANDLERS: dict[str, Any] = {
    "new_order": new_order,
    "test_order": test_order,
    "modify_order": modify_order,
    "place_batch_orders": place_batch_orders,
    "modify_batch_orders": modify_batch_orders,
    "cancel_order": cancel_order,
    "cancel_batch_orders": cancel_batch_orders,
    "cancel_all_open_orders": cancel_all_open_orders,
    "countdown_cancel_all": countdown_cancel_all,
    "query_order": query_order,
    "open_order": open_order,
    "open_orders": open_orders,
    "all_orders": all_orders,
    "order_amendments": order_amendments,
    "force_orders": force_orders,
    "new_algo_order": new_algo_order,
    "cancel_algo_order": cancel_algo_order,
    "cancel_all_algo_open_orders": cancel_all_algo_open_orders,
    "query_algo_order": query_algo_order,
    "open_algo_orders": open_algo_orders,
    "all_algo_orders": all_algo_orders,
    "change_leverage": change_leverage,
    "change_margin_type": change_margin_type,
    "change_position_mode": change_position_mode,
    "change_multi_assets_mode": change_multi_assets_mode,
    "modify_position_margin": modify_position_margin,
    "position_margin_history": position_margin_history,
    "position_risk": position_risk,
    "position_risk_v2": position_risk_v2,
    "adl_quantile": adl_quantile,
    "user_trades": user_trades,
    "sign_tradfi_perps_contract": sign_tradfi_perps_contract,
    "pm_account_info": pm_account_info,
}
