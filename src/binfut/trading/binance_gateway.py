"""BinanceGateway: the :class:`~binfut.trading.gateway.OrderGateway` of live trading, over REST or the WebSocket API.

Each engine command maps one to one onto a Binance call (``NewOrder`` -> ``POST /fapi/v1/order``,
``NewAlgoOrder`` -> ``POST /fapi/v1/algoOrder``, ...); orders, amends and cancels go over the WebSocket
API (``order.place`` & co.) when a :class:`~binfut.stream.WsApiClient` is given, queries always over REST.

Rules kept here:

* a refused command is an ack with ``status="REJECTED"`` (Binance's code, or the local filter check's
  message), an undecidable one (``ExecutionStatusUnknown`` after the client's own resolution, a
  timeout) ``status="UNKNOWN"``, settled later by the OMS's reconciliation; nothing raises;
* fills and positions are never read from acks: the runner hands user-stream events to :meth:`deliver`;
* the gateway is blocking, like its protocol; over an ``AsyncClient`` or the WS API each call runs on
  the client's loop and is waited for from the calling thread, which must not be that loop's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from binfut.errors import (
    ApiError,
    BinfutError,
    ExecutionStatusUnknown,
    LocalProtocolError,
    TransportError,
    UnknownOrder,
)
from binfut.matching import ModifyOrder, NewAlgoOrder, NewOrder
from binfut.protocol.filters import FilterBook
from binfut.trading.gateway import (
    REJECTED,
    UNKNOWN,
    AlgoAck,
    AlgoInfo,
    EventListener,
    OrderAck,
    OrderInfo,
    PositionInfo,
)

__all__ = ["BinanceGateway"]

ZERO = Decimal(0)
_NO_CHANGE_MARGIN = -4046  # "No need to change margin type."
_NO_CHANGE_MODE = -4059  # "No need to change position side."


class BinanceGateway:
    """:class:`~binfut.trading.gateway.OrderGateway` over a Binance REST client (and optionally the WS API).

    Parameters
    ----------
    client : a :class:`~binfut.client.Client` (blocking) or :class:`~binfut.client.AsyncClient`
        with credentials; queries always use it
    ws_api : optional connected :class:`~binfut.stream.WsApiClient`: orders, amends and cancels go
        over the WebSocket API (``order.place``, ``order.modify``, ``order.cancel``,
        ``algoOrder.place``, ``algoOrder.cancel``)
    loop : the event loop the async client / WS API run on (default: the loop running when the
        gateway is built, if any); required for async targets
    call_timeout_s : real-time bound on one bridged call (the client's own timeouts normally fire first)

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-api-general-info
    """

    def __init__(self, client: Any, *, ws_api: Any = None, loop: asyncio.AbstractEventLoop | None = None,
                 call_timeout_s: float = 60.0) -> None:
        self.client = client
        self.ws_api = ws_api
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self.loop = loop
        self.call_timeout_s = call_timeout_s
        self._listener: EventListener | None = None
        self.calls = 0  # requests made (REST + WS API), for dashboards

    # --- plumbing -------------------------------------------------------------------------------

    def set_listener(self, listener: EventListener) -> None:
        self._listener = listener

    def deliver(self, event: Any) -> None:
        """Hand one user-data stream event to the listener (the live runner calls this)."""
        if self._listener is not None:
            self._listener(event)

    def _call(self, target: Any, name: str, **params: Any) -> Any:
        """Call ``target.name(**params)``; coroutine functions are run on :attr:`loop` and waited for."""
        fn: Callable[..., Any] = getattr(target, name)
        self.calls += 1
        if not inspect.iscoroutinefunction(fn):
            return fn(**params)
        loop = self.loop
        if loop is None or loop.is_closed():
            raise RuntimeError("BinanceGateway over an async client needs the client's event loop (loop=...)")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # checked before the coroutine exists, so none is left un-awaited
            raise RuntimeError("BinanceGateway is blocking: call it from a worker thread, not from its event loop")
        future = asyncio.run_coroutine_threadsafe(fn(**params), loop)
        try:
            return future.result(self.call_timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ExecutionStatusUnknown(-1007, f"no answer to {name} within {self.call_timeout_s} s") from None

    def _rest(self, name: str, **params: Any) -> Any:
        return self._call(self.client, name, **params)

    def _order_call(self, rest_name: str, ws_name: str, **params: Any) -> Any:
        if self.ws_api is not None:
            return self._call(self.ws_api, ws_name, **params)
        return self._rest(rest_name, **params)

    def filters(self) -> FilterBook:
        """exchangeInfo filters (loaded through the client the first time)."""
        if self.client.filters is None:
            self._rest("load_filters")
        filters: FilterBook = self.client.filters
        return filters

    # --- orders ---------------------------------------------------------------------------------

    def submit(self, order: NewOrder) -> OrderAck:
        """``POST /fapi/v1/order`` (``order.place``), with ``newOrderRespType=RESULT`` by default."""
        cid = order.new_client_order_id or ""
        try:
            o = self._order_call(
                "new_order", "order_place", symbol=order.symbol, side=order.side, type=order.type,
                position_side=order.position_side, time_in_force=order.time_in_force, reduce_only=order.reduce_only,
                quantity=order.quantity, price=order.price, new_client_order_id=order.new_client_order_id,
                new_order_resp_type=order.new_order_resp_type or "RESULT", price_match=order.price_match,
                self_trade_prevention_mode=order.self_trade_prevention_mode, good_till_date=order.good_till_date,
            )
        except BinfutError as exc:
            return _failed_ack(order.symbol, cid, None, exc)
        return OrderAck(symbol=o.symbol, client_order_id=o.client_order_id, status=str(o.status), order_id=o.order_id,
                        executed_qty=o.executed_qty, avg_price=o.avg_price)

    def cancel(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderAck:
        """``DELETE /fapi/v1/order`` (``order.cancel``)."""
        try:
            o = self._order_call("cancel_order", "order_cancel", symbol=symbol, order_id=order_id,
                                 orig_client_order_id=client_order_id)
        except BinfutError as exc:
            return _failed_ack(symbol, client_order_id or "", order_id, exc)
        return OrderAck(symbol=o.symbol, client_order_id=o.client_order_id, status=str(o.status), order_id=o.order_id,
                        executed_qty=o.executed_qty, avg_price=o.avg_price)

    def modify(self, order: ModifyOrder) -> OrderAck:
        """``PUT /fapi/v1/order`` (``order.modify``)."""
        try:
            o = self._order_call("modify_order", "order_modify", symbol=order.symbol, side=order.side,
                                 quantity=order.quantity, price=order.price, order_id=order.order_id,
                                 orig_client_order_id=order.orig_client_order_id, price_match=order.price_match)
        except BinfutError as exc:
            return _failed_ack(order.symbol, order.orig_client_order_id or "", order.order_id, exc)
        return OrderAck(symbol=o.symbol, client_order_id=o.client_order_id, status=str(o.status), order_id=o.order_id,
                        executed_qty=o.executed_qty, avg_price=o.avg_price)

    def submit_algo(self, order: NewAlgoOrder) -> AlgoAck:
        """``POST /fapi/v1/algoOrder`` (``algoOrder.place``)."""
        try:
            a = self._order_call(
                "new_algo_order", "algo_order_place", algo_type=order.algo_type, symbol=order.symbol, side=order.side,
                type=order.type, position_side=order.position_side, time_in_force=order.time_in_force,
                quantity=order.quantity, price=order.price, trigger_price=order.trigger_price,
                working_type=order.working_type, price_match=order.price_match, close_position=order.close_position,
                price_protect=order.price_protect, reduce_only=order.reduce_only, activate_price=order.activate_price,
                callback_rate=order.callback_rate, client_algo_id=order.client_algo_id,
                self_trade_prevention_mode=order.self_trade_prevention_mode, good_till_date=order.good_till_date,
            )
        except BinfutError as exc:
            status, code, reason = _classify(exc)
            return AlgoAck(symbol=order.symbol, client_algo_id=order.client_algo_id or "", status=status, code=code, reason=reason)
        return AlgoAck(symbol=a.symbol, client_algo_id=a.client_algo_id, algo_id=a.algo_id, status=str(a.algo_status))

    def cancel_algo(self, *, algo_id: int | None = None, client_algo_id: str | None = None) -> AlgoAck:
        """``DELETE /fapi/v1/algoOrder`` (``algoOrder.cancel``)."""
        try:
            r = self._order_call("cancel_algo_order", "algo_order_cancel", algo_id=algo_id, client_algo_id=client_algo_id)
        except BinfutError as exc:
            status, code, reason = _classify(exc)
            return AlgoAck(symbol="", client_algo_id=client_algo_id or "", algo_id=algo_id, status=status, code=code, reason=reason)
        return AlgoAck(symbol="", client_algo_id=r.client_algo_id or client_algo_id or "", algo_id=r.algo_id, status="CANCELED")

    def cancel_all(self, symbol: str) -> None:
        """``DELETE /fapi/v1/allOpenOrders`` then ``DELETE /fapi/v1/algoOpenOrders``."""
        self._rest("cancel_all_open_orders", symbol=symbol)
        self._rest("cancel_all_algo_open_orders", symbol=symbol)

    # --- account configuration ------------------------------------------------------------------

    def change_leverage(self, symbol: str, leverage: int) -> None:
        """``POST /fapi/v1/leverage`` (raises ``ApiError`` when refused)."""
        self._rest("change_leverage", symbol=symbol, leverage=leverage)

    def change_margin_type(self, symbol: str, margin_type: str) -> None:
        """``POST /fapi/v1/marginType`` (CROSSED / ISOLATED; no-op when already so)."""
        want = "CROSSED" if margin_type.upper() in ("CROSS", "CROSSED") else margin_type.upper()
        try:
            self._rest("change_margin_type", symbol=symbol, margin_type=want)
        except ApiError as exc:
            if exc.code != _NO_CHANGE_MARGIN:
                raise

    def change_position_mode(self, hedge: bool) -> None:
        """``POST /fapi/v1/positionSide/dual`` (no-op when already so)."""
        if self.hedge_mode() == hedge:
            return
        try:
            self._rest("change_position_mode", dual_side_position=hedge)
        except ApiError as exc:
            if exc.code != _NO_CHANGE_MODE:
                raise

    # --- queries --------------------------------------------------------------------------------

    def hedge_mode(self) -> bool:
        """Whether the account is in hedge (dual-side) mode (``GET /fapi/v1/positionSide/dual``)."""
        return bool(self._rest("position_mode").dual_side_position)

    def mark_price(self, symbol: str) -> Decimal:
        """The current mark price of ``symbol`` (``GET /fapi/v1/premiumIndex``)."""
        mark: Decimal = self._rest("mark_price", symbol=symbol).mark_price
        return mark

    def open_orders(self, symbol: str | None = None) -> list[OrderInfo]:
        """``GET /fapi/v1/openOrders``."""
        return [_order_info(o) for o in self._rest("open_orders", symbol=symbol)]

    def open_algo_orders(self, symbol: str | None = None) -> list[AlgoInfo]:
        """``GET /fapi/v1/openAlgoOrders``."""
        return [
            AlgoInfo(symbol=a.symbol, algo_id=a.algo_id, client_algo_id=a.client_algo_id, side=str(a.side),
                     order_type=str(a.order_type), status=str(a.algo_status), trigger_price=a.trigger_price,
                     quantity=a.quantity, reduce_only=a.reduce_only, close_position=a.close_position,
                     position_side=str(a.position_side), working_type=str(a.working_type))
            for a in self._rest("open_algo_orders", symbol=symbol)
        ]

    def order_status(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderInfo | None:
        """``GET /fapi/v1/order``; None when Binance does not know the order (-2013)."""
        try:
            return _order_info(self._rest("query_order", symbol=symbol, order_id=order_id, orig_client_order_id=client_order_id))
        except UnknownOrder:
            return None

    def positions(self, symbol: str | None = None) -> list[PositionInfo]:
        """``GET /fapi/v3/positionRisk`` (open positions), leverage and margin type from ``symbolConfig``."""
        rows = [r for r in self._rest("position_risk", symbol=symbol) if r.position_amt]
        if not rows:
            return []
        configs = {c.symbol: c for c in self._rest("symbol_config", symbol=symbol)}
        out = []
        for r in rows:
            cfg = configs.get(r.symbol)
            isolated = cfg is not None and cfg.margin_type.upper() == "ISOLATED"
            out.append(PositionInfo(
                symbol=r.symbol, position_side=str(r.position_side), amount=r.position_amt, entry_price=r.entry_price,
                mark_price=r.mark_price, unrealized_pnl=r.unrealized_profit, liquidation_price=r.liquidation_price,
                leverage=cfg.leverage if cfg is not None else 0, margin_type="isolated" if isolated else "cross",
                isolated_wallet=r.isolated_wallet,
            ))
        return out

    def balances(self) -> dict[str, Decimal]:
        """Wallet balance per asset (``GET /fapi/v3/balance``)."""
        return {b.asset: b.balance for b in self._rest("balance")}

    def __repr__(self) -> str:
        via = "ws-api" if self.ws_api is not None else "rest"
        return f"BinanceGateway({type(self.client).__name__}, orders via {via}, calls={self.calls})"


def _classify(exc: BaseException) -> tuple[str, int | None, str]:
    """(ack status, code, reason) of a failed command: REJECTED when refused, UNKNOWN when undecidable."""
    if isinstance(exc, ExecutionStatusUnknown):
        return UNKNOWN, exc.code, exc.msg
    if isinstance(exc, ApiError):
        return REJECTED, exc.code, exc.msg
    if isinstance(exc, LocalProtocolError):  # the client's exchangeInfo filter check: never sent
        return REJECTED, None, str(exc)
    if isinstance(exc, TransportError):  # sent or not, no answer: the OMS reconciles
        return UNKNOWN, None, f"{type(exc).__name__}: {exc}"
    return REJECTED, None, f"{type(exc).__name__}: {exc}"


def _failed_ack(symbol: str, cid: str, order_id: int | None, exc: BaseException) -> OrderAck:
    status, code, reason = _classify(exc)
    return OrderAck(symbol=symbol, client_order_id=cid, order_id=order_id, status=status, code=code, reason=reason)


def _order_info(o: Any) -> OrderInfo:
    return OrderInfo(
        symbol=o.symbol, order_id=o.order_id, client_order_id=o.client_order_id, side=str(o.side), type=str(o.type),
        status=str(o.status), price=o.price, orig_qty=o.orig_qty, executed_qty=o.executed_qty, avg_price=o.avg_price,
        reduce_only=o.reduce_only, position_side=str(o.position_side), time_in_force=str(o.time_in_force),
        update_time_ms=o.update_time_ms,
    )
