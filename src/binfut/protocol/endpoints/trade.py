"""Endpoint records of Binance's "Trade" and "Portfolio Margin Endpoints" sections (:data:`TRADE`).

Parameter lists follow the Postman collection (official, 2026) in Binance's documented order;
``timestamp`` / ``recvWindow`` / ``signature`` are added by the signer and never listed.
Weights follow the Binance USD-M docs (``shared/seeds/002``); endpoints missing from that snapshot
(algo orders, TradFi agreement) take the official SDK 18.0.1 docstrings.
Rules kept here:
- ``orders`` is what one call adds to X-MBX-ORDER-COUNT-10S (placing / modifying count, cancels
  and queries do not; a batch counts 5 on the 10 s window whatever its size);
- ``idempotent`` (the flow may resend blindly) is True for GETs, cancels by id and calls whose
  repeat is documented harmless (countdown heartbeat, test order). Setting calls (leverage, margin
  type, modes) are False: a repeat after a lost success answers -4046 / -4059 / -4171 instead.
- Conditional types (STOP*, TAKE_PROFIT*, TRAILING_STOP_MARKET) are placed through ``new_algo_order``
  since the 2025 migration; ``new_order`` only takes LIMIT / MARKET.
"""

from __future__ import annotations

from binfut.enums import (
    AlgoType,
    AutoCloseType,
    MarginType,
    NewOrderRespType,
    OrderType,
    PositionSide,
    PriceMatch,
    SecurityType,
    SelfTradePreventionMode,
    Side,
    TimeInForce,
    WorkingType,
)
from binfut.protocol.models.account import PmAccountInfo
from binfut.protocol.models.trade import (
    AdlQuantile,
    AlgoCancelResult,
    AlgoOrder,
    BatchOrderResult,
    CodeMsg,
    CountdownCancelAll,
    ForceOrder,
    LeverageChange,
    Order,
    OrderAmendment,
    PositionMarginChange,
    PositionMarginHistory,
    PositionRisk,
    PositionRiskV2,
    UserTrade,
)
from binfut.protocol.spec import Endpoint, Kind, Param, by_symbol

__all__ = ["TRADE"]

_DOC = "https://developers.binance.com/en/docs/catalog/core-trading-derivatives-trading-usd-s-m-futures/api/rest-api/"
_TRADE = SecurityType.TRADE
_USER = SecurityType.USER_DATA

# --- shared parameters --------------------------------------------------------------------------
_SYMBOL = Param("symbol", required=True)
_SYMBOL_OPT = Param("symbol", doc="omit for every symbol (costs more weight)")
_SIDE = Param("side", Kind.ENUM, required=True, enum=Side)
_POSITION_SIDE = Param(
    "positionSide", Kind.ENUM, enum=PositionSide, doc="BOTH in one-way mode; LONG or SHORT must be sent in hedge mode"
)
_TYPE = Param("type", Kind.ENUM, required=True, enum=OrderType)
_TIF = Param("timeInForce", Kind.ENUM, enum=TimeInForce)
_QUANTITY = Param("quantity", Kind.DECIMAL, doc="cannot be sent with closePosition=true")
_PRICE = Param("price", Kind.DECIMAL)
_REDUCE_ONLY = Param("reduceOnly", Kind.BOOL, doc="cannot be sent in hedge mode or with closePosition=true")
_CLOSE_POSITION = Param("closePosition", Kind.BOOL, doc="close-all; STOP_MARKET / TAKE_PROFIT_MARKET only")
_WORKING_TYPE = Param(
    "workingType", Kind.ENUM, enum=WorkingType, doc="trigger on MARK_PRICE or CONTRACT_PRICE (default)"
)
_PRICE_PROTECT = Param("priceProtect", Kind.BOOL, doc="reject the trigger if mark and last price diverge too far")
_CALLBACK_RATE = Param("callbackRate", Kind.DECIMAL, doc="trailing stop callback in percent (1 = 1 %)")
_RESP_TYPE = Param("newOrderRespType", Kind.ENUM, enum=NewOrderRespType, doc="ACK (default) or RESULT")
_PRICE_MATCH = Param("priceMatch", Kind.ENUM, enum=PriceMatch, doc="cannot be sent together with price")
_STP = Param("selfTradePreventionMode", Kind.ENUM, enum=SelfTradePreventionMode)
_GTD = Param("goodTillDate", Kind.MILLIS, doc="mandatory for timeInForce=GTD; second precision, > now + 600 s")
_ORDER_ID = Param("orderId", Kind.INT, doc="either orderId or origClientOrderId must be sent")
_ORIG_CLIENT_ID = Param("origClientOrderId", doc="either orderId or origClientOrderId must be sent")
_ALGO_ID = Param("algoId", Kind.INT, doc="either algoId or clientAlgoId must be sent")
_CLIENT_ALGO_ID = Param("clientAlgoId", doc="either algoId or clientAlgoId must be sent")
_START = Param("startTime", Kind.MILLIS)
_END = Param("endTime", Kind.MILLIS)
_LIMIT = Param("limit", Kind.INT)


TRADE: tuple[Endpoint, ...] = (
    # --- orders -----------------------------------------------------------------------------------
    Endpoint(
        name="new_order",
        method="POST",
        path="/fapi/v1/order",
        security=_TRADE,
        weight=0,  # 0 on the IP limit; 1 on each order-count window
        orders=1,
        idempotent=False,
        params=(
            _SYMBOL,
            _SIDE,
            _POSITION_SIDE,
            Param(
                "type",
                Kind.ENUM,
                required=True,
                enum=OrderType,
                doc="LIMIT or MARKET; conditional types use new_algo_order",
            ),
            _TIF,
            _REDUCE_ONLY,
            _QUANTITY,
            _PRICE,
            Param("newClientOrderId", doc="unique among open orders, ^[.A-Z:/a-z0-9_-]{1,36}$"),
            _RESP_TYPE,
            _PRICE_MATCH,
            _STP,
            _GTD,
        ),
        returns=Order,
        summary="New Order (TRADE)",
        doc=_DOC + "trade#new-order",
    ),
    Endpoint(
        name="test_order",
        method="POST",
        path="/fapi/v1/order/test",
        security=_TRADE,
        # Binance documents no weight; 1 is the conservative guess (never reaches the engine).
        weight=1,
        orders=0,
        idempotent=True,  # validated only, nothing is created
        params=(
            _SYMBOL,
            _SIDE,
            _POSITION_SIDE,
            _TYPE,
            _REDUCE_ONLY,
            _QUANTITY,
            _PRICE,
            Param("newClientOrderId"),
            # The test endpoint still takes the pre-2025 conditional parameters.
            Param("stopPrice", Kind.DECIMAL, doc="trigger price of STOP / TAKE_PROFIT (*_MARKET) orders"),
            _CLOSE_POSITION,
            Param("activationPrice", Kind.DECIMAL, doc="trailing stop activation price"),
            _CALLBACK_RATE,
            _TIF,
            _WORKING_TYPE,
            _PRICE_PROTECT,
            _RESP_TYPE,
            _PRICE_MATCH,
            _STP,
            _GTD,
        ),
        returns=Order,
        summary="Test Order (TRADE)",
        doc=_DOC + "trade#test-order",
    ),
    Endpoint(
        name="modify_order",
        method="PUT",
        path="/fapi/v1/order",
        security=_TRADE,
        weight=1,  # docs snapshot: 1 on the IP limit (SDK 18.0.1 says 0)
        orders=1,
        idempotent=False,  # each modify re-queues the order and counts toward its 10 000 modifications
        params=(
            _ORDER_ID,
            _ORIG_CLIENT_ID,
            _SYMBOL,
            Param("side", Kind.ENUM, required=True, enum=Side, doc="must equal the original order's side"),
            Param("quantity", Kind.DECIMAL, required=True),
            Param("price", Kind.DECIMAL, required=True),
            _PRICE_MATCH,
            Param("modifyId", Kind.INT, doc="caller's modification id, echoed back"),
            # Not in the Postman collection, documented by SDK 18.0.1: validation only (-5047).
            Param("reduceOnly", Kind.BOOL, doc="assert the original order is reduce-only (skips min notional)"),
        ),
        returns=Order,
        summary="Modify Order (TRADE)",
        doc=_DOC + "trade#modify-order",
    ),
    Endpoint(
        name="place_batch_orders",
        method="POST",
        path="/fapi/v1/batchOrders",
        security=_TRADE,
        weight=5,
        orders=5,  # flat 5 on the 10 s order window (1 on the 1 min window), whatever the batch size
        idempotent=False,
        params=(Param("batchOrders", Kind.JSON, required=True, doc="list of new_order parameter dicts, max 5"),),
        returns=list[BatchOrderResult],
        summary="Place Multiple Orders (TRADE)",
        doc=_DOC + "trade#place-multiple-orders",
    ),
    Endpoint(
        name="modify_batch_orders",
        method="PUT",
        path="/fapi/v1/batchOrders",
        security=_TRADE,
        weight=5,
        orders=5,  # as place_batch_orders
        idempotent=False,
        params=(Param("batchOrders", Kind.JSON, required=True, doc="list of modify_order parameter dicts, max 5"),),
        returns=list[BatchOrderResult],
        summary="Modify Multiple Orders (TRADE)",
        doc=_DOC + "trade#modify-multiple-orders",
    ),
    Endpoint(
        name="cancel_order",
        method="DELETE",
        path="/fapi/v1/order",
        security=_TRADE,
        weight=1,
        idempotent=True,  # by id: a repeat answers -2011 "Unknown order" at worst
        params=(_SYMBOL, _ORDER_ID, _ORIG_CLIENT_ID),
        returns=Order,
        summary="Cancel Order (TRADE)",
        doc=_DOC + "trade#cancel-order",
    ),
    Endpoint(
        name="cancel_batch_orders",
        method="DELETE",
        path="/fapi/v1/batchOrders",
        security=_TRADE,
        weight=1,
        idempotent=True,
        params=(
            _SYMBOL,
            Param("orderIdList", Kind.JSON, doc="max 10 ids; either list must be sent"),
            Param("origClientOrderIdList", Kind.JSON, doc="max 10 client ids; either list must be sent"),
        ),
        returns=list[BatchOrderResult],
        summary="Cancel Multiple Orders (TRADE)",
        doc=_DOC + "trade#cancel-multiple-orders",
    ),
    Endpoint(
        name="cancel_all_open_orders",
        method="DELETE",
        path="/fapi/v1/allOpenOrders",
        security=_TRADE,
        weight=1,
        idempotent=True,
        params=(_SYMBOL,),
        returns=CodeMsg,
        summary="Cancel All Open Orders (TRADE)",
        doc=_DOC + "trade#cancel-all-open-orders",
    ),
    Endpoint(
        name="countdown_cancel_all",
        method="POST",
        path="/fapi/v1/countdownCancelAll",
        security=_TRADE,
        weight=10,
        idempotent=True,  # a heartbeat that re-arms a timer: meant to be sent again and again
        params=(
            _SYMBOL,
            Param("countdownTime", Kind.INT, required=True, doc="milliseconds until cancel-all; 0 stops the timer"),
        ),
        returns=CountdownCancelAll,
        summary="Auto-Cancel All Open Orders (TRADE)",
        doc=_DOC + "trade#auto-cancel-all-open-orders",
    ),
    Endpoint(
        name="query_order",
        method="GET",
        path="/fapi/v1/order",
        security=_USER,
        weight=1,
        params=(_SYMBOL, _ORDER_ID, _ORIG_CLIENT_ID),
        returns=Order,
        summary="Query Order (USER_DATA)",
        doc=_DOC + "trade#query-order",
    ),
    Endpoint(
        name="open_order",
        method="GET",
        path="/fapi/v1/openOrder",
        security=_USER,
        weight=1,
        params=(_SYMBOL, _ORDER_ID, _ORIG_CLIENT_ID),
        returns=Order,
        summary="Query Current Open Order (USER_DATA)",
        doc=_DOC + "trade#query-current-open-order",
    ),
    Endpoint(
        name="open_orders",
        method="GET",
        path="/fapi/v1/openOrders",
        security=_USER,
        weight=by_symbol(1, 40),
        params=(_SYMBOL_OPT,),
        returns=list[Order],
        summary="Current All Open Orders (USER_DATA)",
        doc=_DOC + "trade#current-all-open-orders",
    ),
    Endpoint(
        name="all_orders",
        method="GET",
        path="/fapi/v1/allOrders",
        security=_USER,
        weight=5,
        params=(
            _SYMBOL,
            Param("orderId", Kind.INT, doc="return orders >= this id"),
            _START,
            _END,
            Param("limit", Kind.INT, doc="default 500, max 1000"),
        ),
        returns=list[Order],
        summary="All Orders (USER_DATA)",
        doc=_DOC + "trade#all-orders",
    ),
    Endpoint(
        name="order_amendments",
        method="GET",
        path="/fapi/v1/orderAmendment",
        security=_USER,
        weight=1,
        params=(
            _SYMBOL,
            _ORDER_ID,
            _ORIG_CLIENT_ID,
            _START,
            _END,
            Param("limit", Kind.INT, doc="default 1000, max 1000"),
        ),
        returns=list[OrderAmendment],
        summary="Get Order Modify History (USER_DATA)",
        doc=_DOC + "trade#get-order-modify-history",
    ),
    Endpoint(
        name="force_orders",
        method="GET",
        path="/fapi/v1/forceOrders",
        security=_USER,
        weight=by_symbol(20, 50),
        params=(
            _SYMBOL_OPT,
            Param("autoCloseType", Kind.ENUM, enum=AutoCloseType, doc="LIQUIDATION or ADL; both when omitted"),
            _START,
            _END,
            Param("limit", Kind.INT, doc="default 50, max 100"),
        ),
        returns=list[ForceOrder],
        summary="User's Force Orders (USER_DATA)",
        doc=_DOC + "trade#users-force-orders",
    ),
    # --- algo (conditional) orders ----------------------------------------------------------------
    Endpoint(
        name="new_algo_order",
        method="POST",
        path="/fapi/v1/algoOrder",
        security=_TRADE,
        weight=0,  # 0 on the IP limit; 1 on each order-count window (SDK 18.0.1)
        orders=1,
        idempotent=False,
        params=(
            Param("algoType", Kind.ENUM, required=True, enum=AlgoType, doc="CONDITIONAL"),
            _SYMBOL,
            _SIDE,
            _POSITION_SIDE,
            Param(
                "type",
                Kind.ENUM,
                required=True,
                enum=OrderType,
                doc="STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET or TRAILING_STOP_MARKET",
            ),
            _TIF,
            _QUANTITY,
            _PRICE,
            Param("triggerPrice", Kind.DECIMAL, doc="price that triggers the order (was stopPrice)"),
            _WORKING_TYPE,
            _PRICE_MATCH,
            _CLOSE_POSITION,
            _PRICE_PROTECT,
            _REDUCE_ONLY,
            # The algo endpoint spells it "activatePrice" (the legacy order endpoint: "activationPrice").
            Param("activatePrice", Kind.DECIMAL, doc="trailing stop activation price"),
            _CALLBACK_RATE,
            Param("clientAlgoId", doc="unique among open algo orders, ^[.A-Z:/a-z0-9_-]{1,36}$"),
            _RESP_TYPE,
            _STP,
            _GTD,
        ),
        returns=AlgoOrder,
        summary="New Algo Order (TRADE)",
        doc=_DOC + "trade#new-algo-order",
    ),
    Endpoint(
        name="cancel_algo_order",
        method="DELETE",
        path="/fapi/v1/algoOrder",
        security=_TRADE,
        weight=1,
        idempotent=True,
        params=(_ALGO_ID, _CLIENT_ALGO_ID),
        returns=AlgoCancelResult,
        summary="Cancel Algo Order (TRADE)",
        doc=_DOC + "trade#cancel-algo-order",
    ),
    Endpoint(
        name="cancel_all_algo_open_orders",
        method="DELETE",
        path="/fapi/v1/algoOpenOrders",
        security=_TRADE,
        weight=1,
        idempotent=True,
        params=(_SYMBOL,),
        returns=CodeMsg,
        summary="Cancel All Algo Open Orders (TRADE)",
        doc=_DOC + "trade#cancel-all-algo-open-orders",
    ),
    Endpoint(
        name="query_algo_order",
        method="GET",
        path="/fapi/v1/algoOrder",
        security=_USER,
        weight=1,
        params=(_ALGO_ID, _CLIENT_ALGO_ID),
        returns=AlgoOrder,
        summary="Query Algo Order (USER_DATA)",
        doc=_DOC + "trade#query-algo-order",
    ),
    Endpoint(
        name="open_algo_orders",
        method="GET",
        path="/fapi/v1/openAlgoOrders",
        security=_USER,
        weight=by_symbol(1, 40),
        params=(Param("algoType", Kind.ENUM, enum=AlgoType), _SYMBOL_OPT, Param("algoId", Kind.INT)),
        returns=list[AlgoOrder],
        summary="Current All Algo Open Orders (USER_DATA)",
        doc=_DOC + "trade#current-all-algo-open-orders",
    ),
    Endpoint(
        name="all_algo_orders",
        method="GET",
        path="/fapi/v1/allAlgoOrders",
        security=_USER,
        weight=5,
        params=(_SYMBOL, Param("algoId", Kind.INT, doc="return algo orders >= this id"), _START, _END, _LIMIT),
        returns=list[AlgoOrder],
        summary="Query All Algo Orders (USER_DATA)",
        doc=_DOC + "trade#query-all-algo-orders",
    ),
    # --- positions, leverage, margin ----------------------------------------------------------
    Endpoint(
        name="change_leverage",
        method="POST",
        path="/fapi/v1/leverage",
        security=_TRADE,
        weight=1,
        # Sets an absolute value, yet not resent blindly: Binance documents no repeat behaviour and
        # the sibling mode changes answer an error on a repeat (see below).
        idempotent=False,
        params=(
            _SYMBOL,
            Param("leverage", Kind.INT, required=True, doc="target initial leverage, 1 .. bracket-1 max"),
        ),
        returns=LeverageChange,
        summary="Change Initial Leverage (TRADE)",
        doc=_DOC + "trade#change-initial-leverage",
    ),
    Endpoint(
        name="change_margin_type",
        method="POST",
        path="/fapi/v1/marginType",
        security=_TRADE,
        weight=1,
        # Sets an absolute state, but a repeat after a lost success answers -4046 "No need to change
        # margin type": resending would turn a success into an error, so the caller decides.
        idempotent=False,
        params=(_SYMBOL, Param("marginType", Kind.ENUM, required=True, enum=MarginType)),
        returns=CodeMsg,
        summary="Change Margin Type (TRADE)",
        doc=_DOC + "trade#change-margin-type",
    ),
    Endpoint(
        name="change_position_mode",
        method="POST",
        path="/fapi/v1/positionSide/dual",
        security=_TRADE,
        weight=1,
        idempotent=False,  # a repeat after a lost success answers -4059 "No need to change position side"
        params=(Param("dualSidePosition", Kind.BOOL, required=True, doc="true: hedge mode; false: one-way mode"),),
        returns=CodeMsg,
        summary="Change Position Mode (TRADE)",
        doc=_DOC + "trade#change-position-mode",
    ),
    Endpoint(
        name="change_multi_assets_mode",
        method="POST",
        path="/fapi/v1/multiAssetsMargin",
        security=_TRADE,
        weight=1,
        idempotent=False,  # a repeat after a lost success answers -4171 NO_NEED_TO_CHANGE_JOINT_MARGIN
        params=(
            Param("multiAssetsMargin", Kind.BOOL, required=True, doc="true: multi-assets mode; false: single-asset"),
        ),
        returns=CodeMsg,
        summary="Change Multi-Assets Mode (TRADE)",
        doc=_DOC + "trade#change-multi-assets-mode",
    ),
    Endpoint(
        name="modify_position_margin",
        method="POST",
        path="/fapi/v1/positionMargin",
        security=_TRADE,
        weight=1,
        idempotent=False,  # a delta: sending it twice moves the margin twice
        params=(
            _SYMBOL,
            _POSITION_SIDE,
            Param("amount", Kind.DECIMAL, required=True),
            Param("type", Kind.INT, required=True, doc="1: add position margin, 2: reduce position margin"),
        ),
        returns=PositionMarginChange,
        summary="Modify Isolated Position Margin (TRADE)",
        doc=_DOC + "trade#modify-isolated-position-margin",
    ),
    Endpoint(
        name="position_margin_history",
        method="GET",
        path="/fapi/v1/positionMargin/history",
        security=_TRADE,  # a read, but Binance classifies it TRADE
        weight=1,
        params=(
            _SYMBOL,
            Param("type", Kind.INT, doc="1: add, 2: reduce"),
            _START,
            _END,
            Param("limit", Kind.INT, doc="default 500"),
        ),
        returns=list[PositionMarginHistory],
        summary="Get Position Margin Change History (TRADE)",
        doc=_DOC + "trade#get-position-margin-change-history",
    ),
    Endpoint(
        name="position_risk",
        method="GET",
        path="/fapi/v3/positionRisk",
        security=_USER,
        weight=5,
        params=(_SYMBOL_OPT,),
        returns=list[PositionRisk],
        summary="Position Information V3 (USER_DATA)",
        doc=_DOC + "trade#position-information-v3",
    ),
    Endpoint(
        name="position_risk_v2",
        method="GET",
        path="/fapi/v2/positionRisk",
        security=_USER,
        weight=5,
        params=(_SYMBOL_OPT,),
        returns=list[PositionRiskV2],
        summary="Position Information V2 (USER_DATA)",
        doc=_DOC + "trade#position-information-v2",
    ),
    Endpoint(
        name="adl_quantile",
        method="GET",
        path="/fapi/v1/adlQuantile",
        security=_USER,
        weight=5,
        params=(_SYMBOL_OPT,),
        returns=list[AdlQuantile],
        summary="Position ADL Quantile Estimation (USER_DATA)",
        doc=_DOC + "trade#position-adl-quantile-estimation",
    ),
    Endpoint(
        name="user_trades",
        method="GET",
        path="/fapi/v1/userTrades",
        security=_USER,
        weight=5,
        params=(
            _SYMBOL,
            Param("orderId", Kind.INT, doc="only trades of this order"),
            _START,
            _END,
            Param("fromId", Kind.INT, doc="trade id to fetch from; cannot be sent with startTime/endTime"),
            Param("limit", Kind.INT, doc="default 500, max 1000"),
        ),
        returns=list[UserTrade],
        summary="Account Trade List (USER_DATA)",
        doc=_DOC + "trade#account-trade-list",
    ),
    Endpoint(
        name="sign_tradfi_perps_contract",
        method="POST",
        path="/fapi/v1/stock/contract",
        security=_USER,
        weight=50,  # SDK 18.0.1
        idempotent=False,  # repeat behaviour undocumented
        params=(),
        returns=CodeMsg,
        summary="Futures TradFi Perps Contract (USER_DATA)",
        doc=_DOC + "trade#futures-tradfi-perps-contract",
    ),
    # --- portfolio margin -------------------------------------------------------------------------
    Endpoint(
        name="pm_account_info",
        method="GET",
        path="/fapi/v1/pmAccountInfo",
        security=_USER,
        weight=5,
        params=(Param("asset", required=True),),
        returns=PmAccountInfo,
        summary="Classic Portfolio Margin Account Information (USER_DATA)",
        doc=_DOC + "portfolio-margin-endpoints#classic-portfolio-margin-account-information",
    ),
)
