"""Endpoint records of Binance's "Account", "User Data Streams" and "Convert" sections (:data:`ACCOUNT`).

Parameter lists follow the Postman collection (official, 2026) in Binance's documented order;
``timestamp`` / ``recvWindow`` / ``signature`` are added by the signer and never listed.
Weights follow the Binance USD-M docs (``shared/seeds/002``); endpoints missing from that snapshot
(convert) take the official SDK 18.0.1 docstrings.
Rules kept here:
- nothing in this section places orders, so ``orders`` is 0 everywhere;
- ``idempotent`` (the flow may resend blindly) is True for reads, the listenKey calls (Binance
  hands back the same key) and quote requests (nothing moves). It is False for the ``*/asyn``
  download requests although they are GETs: each starts a server-side job and spends a monthly
  quota (5 to 100 requests). Accepting a quote moves funds and toggling fee burn sets state: False.
"""

from __future__ import annotations

from binfut.enums import IncomeType, SecurityType
from binfut.protocol.models.account import (
    AccountConfig,
    AccountInfo,
    AccountInfoV2,
    ApiTradingStatus,
    Balance,
    CommissionRate,
    ConvertAcceptResult,
    ConvertOrderStatus,
    ConvertPair,
    ConvertQuote,
    DownloadId,
    DownloadLink,
    Empty,
    FeeBurn,
    Income,
    LeverageBracket,
    ListenKey,
    MultiAssetsMode,
    PositionMode,
    RateLimitInfo,
    SymbolConfig,
)
from binfut.protocol.models.trade import CodeMsg
from binfut.protocol.spec import Endpoint, Kind, Param, by_symbol

__all__ = ["ACCOUNT"]

_DOC = "https://developers.binance.com/en/docs/catalog/core-trading-derivatives-trading-usd-s-m-futures/api/rest-api/"
_USER = SecurityType.USER_DATA
_SYMBOL_OPT = Param("symbol", doc="omit for every symbol")

# Binance docs snapshot: 1500 (SDK 18.0.1 and ccxt now say 1000). On top of the weight, each
# download kind has a monthly quota: transactions 100, orders 10, trades 5.
_DOWNLOAD_ID_WEIGHT = 1500


def _download_id(name: str, path: str, summary: str, anchor: str, quota: str) -> Endpoint:
    """``GET */asyn``: ask Binance to prepare a CSV of at most one year of history."""
    return Endpoint(
        name=name,
        method="GET",
        path=path,
        security=_USER,
        weight=_DOWNLOAD_ID_WEIGHT,
        idempotent=False,
        params=(
            Param("startTime", Kind.MILLIS, required=True),
            Param("endTime", Kind.MILLIS, required=True, doc=f"at most one year after startTime; {quota}"),
        ),
        returns=DownloadId,
        summary=summary,
        doc=_DOC + anchor,
    )


def _download_link(name: str, path: str, summary: str, anchor: str) -> Endpoint:
    """``GET */asyn/id``: poll a prepared download (``status`` processing / completed)."""
    return Endpoint(
        name=name,
        method="GET",
        path=path,
        security=_USER,
        weight=10,
        params=(Param("downloadId", required=True, doc="from the matching *_download_id call"),),
        returns=DownloadLink,
        summary=summary,
        doc=_DOC + anchor,
    )


ACCOUNT: tuple[Endpoint, ...] = (
    # --- account and balances ---------------------------------------------------------------------
    Endpoint(
        name="account",
        method="GET",
        path="/fapi/v3/account",
        security=_USER,
        weight=5,
        params=(),
        returns=AccountInfo,
        summary="Account Information V3 (USER_DATA)",
        doc=_DOC + "account#account-information-v3",
    ),
    Endpoint(
        name="account_v2",
        method="GET",
        path="/fapi/v2/account",
        security=_USER,
        weight=5,
        params=(),
        returns=AccountInfoV2,
        summary="Account Information V2 (USER_DATA)",
        doc=_DOC + "account#account-information-v2",
    ),
    Endpoint(
        name="balance",
        method="GET",
        path="/fapi/v3/balance",
        security=_USER,
        weight=5,
        params=(),
        returns=list[Balance],
        summary="Futures Account Balance V3 (USER_DATA)",
        doc=_DOC + "account#futures-account-balance-v3",
    ),
    Endpoint(
        name="balance_v2",
        method="GET",
        path="/fapi/v2/balance",
        security=_USER,
        weight=5,
        params=(),
        returns=list[Balance],
        summary="Futures Account Balance V2 (USER_DATA)",
        doc=_DOC + "account#futures-account-balance-v2",
    ),
    Endpoint(
        name="account_config",
        method="GET",
        path="/fapi/v1/accountConfig",
        security=_USER,
        weight=5,
        params=(),
        returns=AccountConfig,
        summary="Futures Account Configuration (USER_DATA)",
        doc=_DOC + "account#futures-account-configuration",
    ),
    Endpoint(
        name="symbol_config",
        method="GET",
        path="/fapi/v1/symbolConfig",
        security=_USER,
        weight=5,
        params=(_SYMBOL_OPT,),
        returns=list[SymbolConfig],  # a list even when symbol is sent
        summary="Symbol Configuration (USER_DATA)",
        doc=_DOC + "account#symbol-configuration",
    ),
    Endpoint(
        name="income",
        method="GET",
        path="/fapi/v1/income",
        security=_USER,
        weight=30,
        params=(
            Param("symbol"),
            Param("incomeType", Kind.ENUM, enum=IncomeType, doc="every type when omitted"),
            Param("startTime", Kind.MILLIS, doc="inclusive; last 7 days when start and end are omitted"),
            Param("endTime", Kind.MILLIS, doc="inclusive"),
            Param("page", Kind.INT),
            Param("limit", Kind.INT, doc="default 100, max 1000"),
        ),
        returns=list[Income],
        summary="Get Income History (USER_DATA)",
        doc=_DOC + "account#get-income-history",
    ),
    Endpoint(
        name="leverage_bracket",
        method="GET",
        path="/fapi/v1/leverageBracket",
        security=_USER,
        weight=1,
        params=(_SYMBOL_OPT,),
        # Documented: one object when symbol is sent, a list otherwise. With a symbol we also accept
        # a list (the official SDK models both shapes for this route), so decoding never hinges on it.
        returns=LeverageBracket | list[LeverageBracket],
        returns_all=list[LeverageBracket],
        summary="Notional and Leverage Brackets (USER_DATA)",
        doc=_DOC + "account#notional-and-leverage-brackets",
    ),
    Endpoint(
        name="commission_rate",
        method="GET",
        path="/fapi/v1/commissionRate",
        security=_USER,
        weight=20,
        params=(Param("symbol", required=True),),
        returns=CommissionRate,
        summary="User Commission Rate (USER_DATA)",
        doc=_DOC + "account#user-commission-rate",
    ),
    Endpoint(
        name="api_trading_status",
        method="GET",
        path="/fapi/v1/apiTradingStatus",
        security=_USER,
        # Blank in the docs snapshot; SDK 18.0.1: 1 for a single symbol, 10 without.
        weight=by_symbol(1, 10),
        params=(_SYMBOL_OPT,),
        returns=ApiTradingStatus,
        summary="Futures Trading Quantitative Rules Indicators (USER_DATA)",
        doc=_DOC + "account#futures-trading-quantitative-rules-indicators",
    ),
    Endpoint(
        name="order_rate_limit",
        method="GET",
        path="/fapi/v1/rateLimit/order",
        security=_USER,
        weight=1,
        params=(),
        returns=list[RateLimitInfo],
        summary="Query User Rate Limit (USER_DATA)",
        doc=_DOC + "account#query-user-rate-limit",
    ),
    # --- account-wide modes -----------------------------------------------------------------------
    Endpoint(
        name="position_mode",
        method="GET",
        path="/fapi/v1/positionSide/dual",
        security=_USER,
        weight=30,
        params=(),
        returns=PositionMode,
        summary="Get Current Position Mode (USER_DATA)",
        doc=_DOC + "account#get-current-position-mode",
    ),
    Endpoint(
        name="multi_assets_mode",
        method="GET",
        path="/fapi/v1/multiAssetsMargin",
        security=_USER,
        weight=30,
        params=(),
        returns=MultiAssetsMode,
        summary="Get Current Multi-Assets Mode (USER_DATA)",
        doc=_DOC + "account#get-current-multi-assets-mode",
    ),
    Endpoint(
        name="fee_burn",
        method="GET",
        path="/fapi/v1/feeBurn",
        security=_USER,
        weight=30,
        params=(),
        returns=FeeBurn,
        summary="Get BNB Burn Status (USER_DATA)",
        doc=_DOC + "account#get-bnb-burn-status",
    ),
    Endpoint(
        name="change_fee_burn",
        method="POST",
        path="/fapi/v1/feeBurn",
        security=SecurityType.TRADE,
        weight=1,
        idempotent=False,  # sets state; repeat behaviour undocumented, so never resent blindly
        params=(Param("feeBurn", Kind.BOOL, required=True, doc="true: BNB fee discount on; false: off"),),
        returns=CodeMsg,
        summary="Toggle BNB Burn On Futures Trade (TRADE)",
        doc=_DOC + "account#toggle-bnb-burn-on-futures-trade",
    ),
    # --- history downloads ------------------------------------------------------------------------
    _download_id(
        "income_download_id",
        "/fapi/v1/income/asyn",
        "Get Download Id For Futures Transaction History (USER_DATA)",
        "account#get-download-id-for-futures-transaction-history",
        "100 requests a month",
    ),
    _download_link(
        "income_download_link",
        "/fapi/v1/income/asyn/id",
        "Get Futures Transaction History Download Link by Id (USER_DATA)",
        "account#get-futures-transaction-history-download-link-by-id",
    ),
    _download_id(
        "order_download_id",
        "/fapi/v1/order/asyn",
        "Get Download Id For Futures Order History (USER_DATA)",
        "account#get-download-id-for-futures-order-history",
        "10 requests a month",
    ),
    _download_link(
        "order_download_link",
        "/fapi/v1/order/asyn/id",
        "Get Futures Order History Download Link by Id (USER_DATA)",
        "account#get-futures-order-history-download-link-by-id",
    ),
    _download_id(
        "trade_download_id",
        "/fapi/v1/trade/asyn",
        "Get Download Id For Futures Trade History (USER_DATA)",
        "account#get-download-id-for-futures-trade-history",
        "5 requests a month",
    ),
    _download_link(
        "trade_download_link",
        "/fapi/v1/trade/asyn/id",
        "Get Futures Trade Download Link by Id (USER_DATA)",
        "account#get-futures-trade-download-link-by-id",
    ),
    # --- user data stream (API key only, no signature) --------------------------------------------
    Endpoint(
        name="start_user_stream",
        method="POST",
        path="/fapi/v1/listenKey",
        security=SecurityType.USER_STREAM,
        weight=1,
        idempotent=True,  # an active key is returned again (and extended), not duplicated
        params=(),
        returns=ListenKey,
        summary="Start User Data Stream (USER_STREAM)",
        doc=_DOC + "user-data-streams#start-user-data-stream",
    ),
    Endpoint(
        name="keepalive_user_stream",
        method="PUT",
        path="/fapi/v1/listenKey",
        security=SecurityType.USER_STREAM,
        weight=1,
        idempotent=True,  # -1125 "This listenKey does not exist" means: start a new stream
        params=(),
        returns=ListenKey,
        summary="Keepalive User Data Stream (USER_STREAM)",
        doc=_DOC + "user-data-streams#keepalive-user-data-stream",
    ),
    Endpoint(
        name="close_user_stream",
        method="DELETE",
        path="/fapi/v1/listenKey",
        security=SecurityType.USER_STREAM,
        weight=1,
        idempotent=True,
        params=(),
        returns=Empty,
        summary="Close User Data Stream (USER_STREAM)",
        doc=_DOC + "user-data-streams#close-user-data-stream",
    ),
    # --- convert ----------------------------------------------------------------------------------
    Endpoint(
        name="convert_pairs",
        method="GET",
        path="/fapi/v1/convert/exchangeInfo",
        security=SecurityType.NONE,  # public, unlike the rest of the section
        weight=20,
        params=(
            Param("fromAsset", doc="either or both assets should be sent"),
            Param("toAsset", doc="either or both assets should be sent"),
        ),
        returns=list[ConvertPair],
        summary="List All Convert Pairs",
        doc=_DOC + "convert#list-all-convert-pairs",
    ),
    Endpoint(
        name="convert_request_quote",
        method="POST",
        path="/fapi/v1/convert/getQuote",
        security=_USER,
        weight=50,  # plus 360 quotes an hour, 500 a day
        idempotent=True,  # a quote moves nothing; a lost one is simply replaced
        params=(
            Param("fromAsset", required=True),
            Param("toAsset", required=True),
            Param("fromAmount", Kind.DECIMAL, doc="amount debited; send fromAmount or toAmount"),
            Param("toAmount", Kind.DECIMAL, doc="amount credited; send fromAmount or toAmount"),
            Param("validTime", doc="quote validity, 10s (default)"),
        ),
        returns=ConvertQuote,
        summary="Send Quote Request (USER_DATA)",
        doc=_DOC + "convert#send-quote-request",
    ),
    Endpoint(
        name="convert_accept_quote",
        method="POST",
        path="/fapi/v1/convert/acceptQuote",
        security=_USER,
        weight=200,
        idempotent=False,  # executes the conversion: an unknown outcome must reach the caller
        params=(Param("quoteId", required=True),),
        returns=ConvertAcceptResult,
        summary="Accept the offered quote (USER_DATA)",
        doc=_DOC + "convert#accept-the-offered-quote",
    ),
    Endpoint(
        name="convert_order_status",
        method="GET",
        path="/fapi/v1/convert/orderStatus",
        security=_USER,
        weight=50,
        params=(
            # A convert order id exceeds 2**53: sent as text so no float ever touches it.
            Param("orderId", doc="either orderId or quoteId is required"),
            Param("quoteId", doc="either orderId or quoteId is required"),
        ),
        returns=ConvertOrderStatus,
        summary="Order status (USER_DATA)",
        doc=_DOC + "convert#order-status",
    ),
)
