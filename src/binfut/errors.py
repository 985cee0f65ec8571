"""The whole binfut exception tree and the table that maps Binance error codes to it.

::

    BinfutError
    ├── TransportError (+ ConnectionError)          no response arrived
    │   ├── ConnectError > ConnectTimeout          never sent: safe to resend
    │   ├── ReadTimeout (+ TimeoutError)            sent, no answer: outcome unknown
    │   └── WebSocketClosed
    ├── ApiError(status, code, msg, endpoint)       Binance answered with {"code", "msg"}
    │   ├── RateLimited(retry_after)                HTTP 429, code -1003
    │   ├── IpBanned(retry_after)                   HTTP 418 (BanInForce: refused locally while banned)
    │   ├── TimestampOutOfWindow                    -1021
    │   ├── AuthenticationError                     -1002, -1022 (BadSignature), -2014, -2015
    │   ├── InvalidRequest                          -11xx parameter problems
    │   ├── OrderRejected                           -2010, -2019..-2028, -4xxx, -5xxx
    │   ├── UnknownOrder                            -2011, -2013
    │   └── ExecutionStatusUnknown                  5xx, -1000, -1001, -1006, -1007 (may or may not exist)
    ├── ProtocolError
    │   ├── LocalProtocolError                      we were about to send something Binance forbids
    │   │   └── FilterViolation(field, value, rule) exchangeInfo filter refused locally
    │   └── RemoteProtocolError                     the peer sent something we cannot decode
    ├── SubscriptionError(code, msg)                a stream control request (SUBSCRIBE, ...) was refused
    ├── ConsumerOverflow                            a stream consumer with the ``raise`` policy fell behind
    ├── RiskRefused(reason)                         the risk manager refused an order or a setting
    ├── DataError                                   a data-store problem (nothing sent to Binance)
    │   ├── StoreWriteError (+ OSError)             the disk refused a write (path, errno): full, read-only, ...
    │   ├── ChecksumMismatch(path, ...)             a bulk archive does not match its .CHECKSUM
    │   └── ArchiveFormatError(path)                not data.binance.vision's file names or columns
    └── ConfigError

Rules kept here: every binfut exception is defined in this module (the modules that raise one
re-export it: ``binfut.stream``, ``binfut.trading.risk``, ``binfut.data.errors``), and this module
imports no other binfut module; the code is parsed once, when the error is built
(``error_from_payload``), never re-parsed from text; the client raises with :data:`API_ERRORS` and the
local exchange answers with the same table (``http_status_for``), so both sides agree on every code.
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

__all__ = [
    "API_ERRORS",
    "ERROR_NAMES",
    "ApiError",
    "ArchiveFormatError",
    "AuthenticationError",
    "BadSignature",
    "BanInForce",
    "BinfutError",
    "ChecksumMismatch",
    "ConfigError",
    "ConnectError",
    "ConnectTimeout",
    "ConsumerOverflow",
    "DataError",
    "ExecutionStatusUnknown",
    "FilterViolation",
    "InvalidRequest",
    "IpBanned",
    "LocalProtocolError",
    "OrderRejected",
    "ProtocolError",
    "RateLimited",
    "ReadTimeout",
    "RemoteProtocolError",
    "RiskRefused",
    "StoreWriteError",
    "SubscriptionError",
    "TimestampOutOfWindow",
    "TransportError",
    "UnknownOrder",
    "WebSocketClosed",
    "default_message",
    "error_from_payload",
    "http_status_for",
]


class BinfutError(Exception):
    """Root of every error binfut raises.

    A copy or a pickle (another process's result) is the same class with the same ``args`` and
    attributes: it is rebuilt from them without calling ``__init__`` again, whose parameters differ by
    class.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args), self.__dict__ or None


def _rebuild(cls: type[BinfutError], args: tuple[Any, ...]) -> BinfutError:
    """``cls`` with ``args``, not initialised (``__reduce__``'s state then restores the attributes)."""
    error = cls.__new__(cls, *args)
    if isinstance(error, OSError):  # errno / strerror are slots that OSError.__init__ fills from args
        OSError.__init__(error, *args)
    return error


class ConfigError(BinfutError):
    """A configuration or credential problem found before anything was sent."""


# --- transport: no response arrived --------------------------------------------------------------


class TransportError(BinfutError, ConnectionError):
    """The request or connection failed before a response arrived."""


class ConnectError(TransportError):
    """The connection could not be opened: the request was certainly not sent (safe to resend)."""


class ConnectTimeout(ConnectError, TimeoutError):
    """The connection could not be opened in time (the request was certainly not sent)."""


class ReadTimeout(TransportError, TimeoutError):
    """The request was sent but no response arrived in time (it may have been executed)."""


class WebSocketClosed(TransportError):
    """A WebSocket connection closed while a caller was waiting on it."""

    def __init__(self, message: str = "WebSocket closed", *, code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = code


# --- protocol ------------------------------------------------------------------------------------


class ProtocolError(BinfutError):
    """Something on the wire does not follow the Binance protocol."""


class LocalProtocolError(ProtocolError, ValueError):
    """We were about to send something Binance forbids; nothing was sent."""


class FilterViolation(LocalProtocolError):
    """An order value breaks an exchangeInfo filter; refused locally, nothing was sent.

    Attributes
    ----------
    field : the parameter name (``price``, ``quantity``, ...)
    value : the offending value
    rule : the filter and its bound, e.g. ``PRICE_FILTER tickSize=0.10``
    """

    def __init__(self, field: str, value: Decimal | str | None, rule: str, *, symbol: str = "") -> None:
        where = f" for {symbol}" if symbol else ""
        super().__init__(f"{field}={value}{where} violates {rule}")
        self.field = field
        self.value = value
        self.rule = rule
        self.symbol = symbol


class RemoteProtocolError(ProtocolError):
    """The peer sent something we cannot decode (``path`` is msgspec's location of the problem)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


# --- streams ---------------------------------------------------------------------------------------


class SubscriptionError(BinfutError):
    """The server rejected a control request (``{"error":{"code","msg"}}``, codes 0-3)."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"control request rejected: {msg} (code {code})")
        self.code = code
        self.msg = msg


class ConsumerOverflow(BinfutError):
    """A consumer with the ``raise`` policy fell ``maxsize`` messages behind; it is closed."""


# --- trading -------------------------------------------------------------------------------------


class RiskRefused(BinfutError):
    """An order or a setting refused by the risk manager (``reason`` says which limit)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- market-data store (nothing sent to Binance) -------------------------------------------------


class DataError(BinfutError):
    """A problem of the local market-data store (reading, writing or importing files)."""


class StoreWriteError(DataError, OSError):
    """The file system refused a write; what was written before is intact.

    Attributes
    ----------
    path : the file or directory being written
    errno : the OS error number (``errno.ENOSPC`` for a full disk, ``EACCES``/``EROFS`` ...)
    """

    def __init__(self, path: str | os.PathLike[str], err: OSError, *, doing: str = "write") -> None:
        self.path = os.fspath(path)
        code = err.errno if err.errno is not None else 0
        super().__init__(code, _explain_write(code, err, doing, self.path))
        self.errno = code

    def __str__(self) -> str:
        return str(self.args[1])


def _explain_write(code: int, err: OSError, doing: str, path: str) -> str:
    reason = {
        _errno.ENOSPC: "the disk is full",
        _errno.EDQUOT: "the disk quota is exceeded",
        _errno.EACCES: "permission denied",
        _errno.EPERM: "operation not permitted",
        _errno.EROFS: "the file system is read-only",
    }.get(code, err.strerror or type(err).__name__)
    return f"cannot {doing} {path}: {reason} (errno {code}); data written before this point is intact"


class ChecksumMismatch(DataError):
    """A bulk archive's SHA-256 differs from its ``.CHECKSUM`` file; nothing was imported."""

    def __init__(self, path: str | os.PathLike[str], expected: str, actual: str) -> None:
        self.path, self.expected, self.actual = os.fspath(path), expected, actual
        super().__init__(
            f"checksum mismatch for {self.path}: .CHECKSUM says sha256 {expected}, the file hashes to {actual}; "
            "nothing was imported (download the file again)"
        )


class ArchiveFormatError(DataError):
    """A file that does not follow the data.binance.vision naming or column layout."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {problem}")


# --- API errors: Binance answered {"code", "msg"} -------------------------------------------------

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class ApiError(BinfutError):
    """Binance (or the local exchange) answered with an error payload.

    Attributes
    ----------
    status : HTTP status (0 for WebSocket API answers)
    code : Binance error code, e.g. -2019
    msg : Binance's message text
    endpoint : ``"POST /fapi/v1/order"`` or the WebSocket API method
    headers : response headers (never request headers, which carry the API key)
    """

    default_status = 400
    headers: Mapping[str, str] = _NO_HEADERS

    def __init__(
        self,
        code: int,
        msg: str,
        *,
        status: int | None = None,
        endpoint: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # No BaseException.__init__ and no text until str(): the local exchange builds one of these for
        # every refused command, and most are answered with code and msg only.
        self.args = (code, msg)
        self.code = code
        self.msg = msg
        self.status = self.default_status if status is None else status
        self.endpoint = endpoint
        if headers:
            self.headers = headers

    def __str__(self) -> str:
        return self._text()

    def _text(self) -> str:
        where = f" ({self.endpoint}, HTTP {self.status})" if self.endpoint else f" (HTTP {self.status})"
        return f"[{self.code}] {self.msg}{where}"

    @property
    def name(self) -> str:
        """Binance's symbolic name for the code, e.g. ``MARGIN_NOT_SUFFICIEN``."""
        return ERROR_NAMES.get(self.code, "UNKNOWN_CODE")

    def to_payload(self) -> dict[str, Any]:
        """The JSON body Binance sends for this error."""
        return {"code": self.code, "msg": self.msg}


class RateLimited(ApiError):
    """HTTP 429: the request weight or order rate was exceeded; back off for ``retry_after`` s."""

    default_status = 429

    def __init__(self, code: int = -1003, msg: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(code, msg or default_message(code), **kw)


class IpBanned(ApiError):
    """HTTP 418: the IP is banned for ``retry_after`` seconds after ignoring 429s."""

    default_status = 418

    def __init__(self, code: int = -1003, msg: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(code, msg or default_message(code), **kw)


class BanInForce(IpBanned):
    """Refused locally: a 418 ban is still in force, so nothing was sent."""

    def __init__(self, retry_after: float, *, endpoint: str = "") -> None:
        super().__init__(
            -1003,
            f"IP ban in force for another {retry_after:.1f}s; request not sent",
            retry_after=retry_after,
            endpoint=endpoint,
        )


class TimestampOutOfWindow(ApiError):
    """-1021: the request's timestamp is outside the recvWindow (or ahead of server time)."""


class AuthenticationError(ApiError):
    """The API key or signature was refused."""

    default_status = 401


class BadSignature(AuthenticationError):
    """-1022: the signature does not match the payload."""

    default_status = 400


class InvalidRequest(ApiError):
    """A parameter was missing, malformed or not allowed (-11xx)."""


class OrderRejected(ApiError):
    """The order or position command was rejected (margin, filters, time in force, ...)."""


class UnknownOrder(ApiError):
    """-2011 / -2013: the order does not exist (or is no longer open)."""


class ExecutionStatusUnknown(ApiError):
    """The outcome is unknown: the order may or may not have been executed.

    ``client_order_id`` names the order so the caller can query it; the client already tried.
    """

    default_status = 503

    def __init__(self, code: int = -1006, msg: str = "", *, client_order_id: str | None = None, **kw: Any) -> None:
        self.client_order_id = client_order_id
        super().__init__(code, msg or default_message(code), **kw)

    def _text(self) -> str:
        base = super()._text()
        return f"{base}; clientOrderId={self.client_order_id}" if self.client_order_id else base


# Every code in the USD-M "Error Codes" page (plus newer ones seen in today's API), with Binance's name.
_CODES: tuple[tuple[int, str], ...] = (
    (-1000, "UNKNOWN"),
    (-1001, "DISCONNECTED"),
    (-1002, "UNAUTHORIZED"),
    (-1003, "TOO_MANY_REQUESTS"),
    (-1004, "DUPLICATE_IP"),
    (-1005, "NO_SUCH_IP"),
    (-1006, "UNEXPECTED_RESP"),
    (-1007, "TIMEOUT"),
    (-1008, "SERVER_BUSY"),
    (-1010, "ERROR_MSG_RECEIVED"),
    (-1011, "NON_WHITE_LIST"),
    (-1013, "INVALID_MESSAGE"),
    (-1014, "UNKNOWN_ORDER_COMPOSITION"),
    (-1015, "TOO_MANY_ORDERS"),
    (-1016, "SERVICE_SHUTTING_DOWN"),
    (-1020, "UNSUPPORTED_OPERATION"),
    (-1021, "INVALID_TIMESTAMP"),
    (-1022, "INVALID_SIGNATURE"),
    (-1023, "START_TIME_GREATER_THAN_END_TIME"),
    (-1099, "NOT_FOUND"),
    (-1100, "ILLEGAL_CHARS"),
    (-1101, "TOO_MANY_PARAMETERS"),
    (-1102, "MANDATORY_PARAM_EMPTY_OR_MALFORMED"),
    (-1103, "UNKNOWN_PARAM"),
    (-1104, "UNREAD_PARAMETERS"),
    (-1105, "PARAM_EMPTY"),
    (-1106, "PARAM_NOT_REQUIRED"),
    (-1108, "BAD_ASSET"),
    (-1109, "BAD_ACCOUNT"),
    (-1110, "BAD_INSTRUMENT_TYPE"),
    (-1111, "BAD_PRECISION"),
    (-1112, "NO_DEPTH"),
    (-1113, "WITHDRAW_NOT_NEGATIVE"),
    (-1114, "TIF_NOT_REQUIRED"),
    (-1115, "INVALID_TIF"),
    (-1116, "INVALID_ORDER_TYPE"),
    (-1117, "INVALID_SIDE"),
    (-1118, "EMPTY_NEW_CL_ORD_ID"),
    (-1119, "EMPTY_ORG_CL_ORD_ID"),
    (-1120, "BAD_INTERVAL"),
    (-1121, "BAD_SYMBOL"),
    (-1122, "INVALID_SYMBOL_STATUS"),
    (-1125, "INVALID_LISTEN_KEY"),
    (-1126, "ASSET_NOT_SUPPORTED"),
    (-1127, "MORE_THAN_XX_HOURS"),
    (-1128, "OPTIONAL_PARAMS_BAD_COMBO"),
    (-1130, "INVALID_PARAMETER"),
    (-1136, "INVALID_NEW_ORDER_RESP_TYPE"),
    (-2010, "NEW_ORDER_REJECTED"),
    (-2011, "CANCEL_REJECTED"),
    (-2012, "CANCEL_ALL_FAIL"),
    (-2013, "NO_SUCH_ORDER"),
    (-2014, "BAD_API_KEY_FMT"),
    (-2015, "REJECTED_MBX_KEY"),
    (-2016, "NO_TRADING_WINDOW"),
    (-2017, "API_KEYS_LOCKED"),
    (-2018, "BALANCE_NOT_SUFFICIENT"),
    (-2019, "MARGIN_NOT_SUFFICIEN"),
    (-2020, "UNABLE_TO_FILL"),
    (-2021, "ORDER_WOULD_IMMEDIATELY_TRIGGER"),
    (-2022, "REDUCE_ONLY_REJECT"),
    (-2023, "USER_IN_LIQUIDATION"),
    (-2024, "POSITION_NOT_SUFFICIENT"),
    (-2025, "MAX_OPEN_ORDER_EXCEEDED"),
    (-2026, "REDUCE_ONLY_ORDER_TYPE_NOT_SUPPORTED"),
    (-2027, "MAX_LEVERAGE_RATIO"),
    (-2028, "MIN_LEVERAGE_RATIO"),
    (-4000, "INVALID_ORDER_STATUS"),
    (-4001, "PRICE_LESS_THAN_ZERO"),
    (-4002, "PRICE_GREATER_THAN_MAX_PRICE"),
    (-4003, "QTY_LESS_THAN_ZERO"),
    (-4004, "QTY_LESS_THAN_MIN_QTY"),
    (-4005, "QTY_GREATER_THAN_MAX_QTY"),
    (-4006, "STOP_PRICE_LESS_THAN_ZERO"),
    (-4007, "STOP_PRICE_GREATER_THAN_MAX_PRICE"),
    (-4008, "TICK_SIZE_LESS_THAN_ZERO"),
    (-4009, "MAX_PRICE_LESS_THAN_MIN_PRICE"),
    (-4010, "MAX_QTY_LESS_THAN_MIN_QTY"),
    (-4011, "STEP_SIZE_LESS_THAN_ZERO"),
    (-4012, "MAX_NUM_ORDERS_LESS_THAN_ZERO"),
    (-4013, "PRICE_LESS_THAN_MIN_PRICE"),
    (-4014, "PRICE_NOT_INCREASED_BY_TICK_SIZE"),
    (-4015, "INVALID_CL_ORD_ID_LEN"),
    (-4016, "PRICE_HIGHTER_THAN_MULTIPLIER_UP"),
    (-4017, "MULTIPLIER_UP_LESS_THAN_ZERO"),
    (-4018, "MULTIPLIER_DOWN_LESS_THAN_ZERO"),
    (-4019, "COMPOSITE_SCALE_OVERFLOW"),
    (-4020, "TARGET_STRATEGY_INVALID"),
    (-4021, "INVALID_DEPTH_LIMIT"),
    (-4022, "WRONG_MARKET_STATUS"),
    (-4023, "QTY_NOT_INCREASED_BY_STEP_SIZE"),
    (-4024, "PRICE_LOWER_THAN_MULTIPLIER_DOWN"),
    (-4025, "MULTIPLIER_DECIMAL_LESS_THAN_ZERO"),
    (-4026, "COMMISSION_INVALID"),
    (-4027, "INVALID_ACCOUNT_TYPE"),
    (-4028, "INVALID_LEVERAGE"),
    (-4029, "INVALID_TICK_SIZE_PRECISION"),
    (-4030, "INVALID_STEP_SIZE_PRECISION"),
    (-4031, "INVALID_WORKING_TYPE"),
    (-4032, "EXCEED_MAX_CANCEL_ORDER_SIZE"),
    (-4033, "INSURANCE_ACCOUNT_NOT_FOUND"),
    (-4044, "INVALID_BALANCE_TYPE"),
    (-4045, "MAX_STOP_ORDER_EXCEEDED"),
    (-4046, "NO_NEED_TO_CHANGE_MARGIN_TYPE"),
    (-4047, "THERE_EXISTS_OPEN_ORDERS"),
    (-4048, "THERE_EXISTS_QUANTITY"),
    (-4049, "ADD_ISOLATED_MARGIN_REJECT"),
    (-4050, "CROSS_BALANCE_INSUFFICIENT"),
    (-4051, "ISOLATED_BALANCE_INSUFFICIENT"),
    (-4052, "NO_NEED_TO_CHANGE_AUTO_ADD_MARGIN"),
    (-4053, "AUTO_ADD_CROSSED_MARGIN_REJECT"),
    (-4054, "ADD_ISOLATED_MARGIN_NO_POSITION_REJECT"),
    (-4055, "AMOUNT_MUST_BE_POSITIVE"),
    (-4056, "INVALID_API_KEY_TYPE"),
    (-4057, "INVALID_RSA_PUBLIC_KEY"),
    (-4058, "MAX_PRICE_TOO_LARGE"),
    (-4059, "NO_NEED_TO_CHANGE_POSITION_SIDE"),
    (-4060, "INVALID_POSITION_SIDE"),
    (-4061, "POSITION_SIDE_NOT_MATCH"),
    (-4062, "REDUCE_ONLY_CONFLICT"),
    (-4063, "INVALID_OPTIONS_REQUEST_TYPE"),
    (-4064, "INVALID_OPTIONS_TIME_FRAME"),
    (-4065, "INVALID_OPTIONS_AMOUNT"),
    (-4066, "INVALID_OPTIONS_EVENT_TYPE"),
    (-4067, "POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS"),
    (-4068, "POSITION_SIDE_CHANGE_EXISTS_QUANTITY"),
    (-4069, "INVALID_OPTIONS_PREMIUM_FEE"),
    (-4070, "INVALID_CL_OPTIONS_ID_LEN"),
    (-4071, "INVALID_OPTIONS_DIRECTION"),
    (-4072, "OPTIONS_PREMIUM_NOT_UPDATE"),
    (-4073, "OPTIONS_PREMIUM_INPUT_LESS_THAN_ZERO"),
    (-4074, "OPTIONS_AMOUNT_BIGGER_THAN_UPPER"),
    (-4075, "OPTIONS_PREMIUM_OUTPUT_ZERO"),
    (-4076, "OPTIONS_PREMIUM_TOO_DIFF"),
    (-4077, "OPTIONS_PREMIUM_REACH_LIMIT"),
    (-4078, "OPTIONS_COMMON_ERROR"),
    (-4079, "INVALID_OPTIONS_ID"),
    (-4080, "OPTIONS_USER_NOT_FOUND"),
    (-4081, "OPTIONS_NOT_FOUND"),
    (-4082, "INVALID_BATCH_PLACE_ORDER_SIZE"),
    (-4083, "PLACE_BATCH_ORDERS_FAIL"),
    (-4084, "UPCOMING_METHOD"),
    (-4085, "INVALID_NOTIONAL_LIMIT_COEF"),
    (-4086, "INVALID_PRICE_SPREAD_THRESHOLD"),
    (-4087, "REDUCE_ONLY_ORDER_PERMISSION"),
    (-4088, "NO_PLACE_ORDER_PERMISSION"),
    (-4104, "INVALID_CONTRACT_TYPE"),
    (-4114, "INVALID_CLIENT_TRAN_ID_LEN"),
    (-4115, "DUPLICATED_CLIENT_TRAN_ID"),
    (-4118, "REDUCE_ONLY_MARGIN_CHECK_FAILED"),
    (-4131, "MARKET_ORDER_REJECT"),
    (-4135, "INVALID_ACTIVATION_PRICE"),
    (-4137, "QUANTITY_EXISTS_WITH_CLOSE_POSITION"),
    (-4138, "REDUCE_ONLY_MUST_BE_TRUE"),
    (-4139, "ORDER_TYPE_CANNOT_BE_MKT"),
    (-4140, "INVALID_OPENING_POSITION_STATUS"),
    (-4141, "SYMBOL_ALREADY_CLOSED"),
    (-4142, "STRATEGY_INVALID_TRIGGER_PRICE"),
    (-4144, "INVALID_PAIR"),
    (-4161, "ISOLATED_LEVERAGE_REJECT_WITH_POSITION"),
    (-4164, "MIN_NOTIONAL"),
    (-4165, "INVALID_TIME_INTERVAL"),
    (-4167, "ISOLATED_REJECT_WITH_JOINT_MARGIN"),
    (-4168, "JOINT_MARGIN_REJECT_WITH_ISOLATED"),
    (-4169, "JOINT_MARGIN_REJECT_WITH_MB"),
    (-4170, "JOINT_MARGIN_REJECT_WITH_OPEN_ORDER"),
    (-4171, "NO_NEED_TO_CHANGE_JOINT_MARGIN"),
    (-4172, "JOINT_MARGIN_REJECT_WITH_NEGATIVE_BALANCE"),
    (-4183, "ISOLATED_REJECT_WITH_JOINT_MARGIN"),
    (-4184, "PRICE_LOWER_THAN_STOP_MULTIPLIER_DOWN"),
    (-4192, "COOLING_OFF_PERIOD"),
    (-4202, "ADJUST_LEVERAGE_KYC_FAILED"),
    (-4203, "ADJUST_LEVERAGE_ONE_MONTH_FAILED"),
    (-4205, "ADJUST_LEVERAGE_X_DAYS_FAILED"),
    (-4206, "ADJUST_LEVERAGE_KYC_LIMIT"),
    (-4208, "ADJUST_LEVERAGE_ACCOUNT_SYMBOL_FAILED"),
    (-4209, "ADJUST_LEVERAGE_SYMBOL_FAILED"),
    (-4210, "STOP_PRICE_HIGHER_THAN_PRICE_MULTIPLIER_LIMIT"),
    (-4211, "STOP_PRICE_LOWER_THAN_PRICE_MULTIPLIER_LIMIT"),
    (-4400, "TRADING_QUANTITATIVE_RULE"),
    (-4401, "COMPLIANCE_RESTRICTION"),
    (-4402, "COMPLIANCE_BLACK_SYMBOL_RESTRICTION"),
    (-4403, "ADJUST_LEVERAGE_COMPLIANCE_FAILED"),
    (-5021, "FOK_ORDER_REJECT"),
    (-5022, "GTX_ORDER_REJECT"),
    (-5024, "MOVE_ORDER_NOT_ALLOWED_SYMBOL_REASON"),
    (-5025, "LIMIT_ORDER_ONLY"),
    (-5026, "Exceed_Maximum_Modify_Order_Limit"),
    (-5027, "SAME_ORDER"),
    (-5028, "ME_RECVWINDOW_REJECT"),
    (-5037, "INVALID_PRICE_MATCH"),
    (-5038, "UNSUPPORTED_ORDER_TYPE_PRICE_MATCH"),
    (-5039, "INVALID_SELF_TRADE_PREVENTION_MODE"),
    (-5040, "FUTURE_GOOD_TILL_DATE"),
    (-5041, "BBO_ORDER_REJECT"),
    (-4116, "DUPLICATED_CLIENT_ORDER_ID"),
    (-4120, "STOP_ORDER_SWITCH_ALGO"),
    (-4129, "ALGO_ORDER_NOT_EXIST"),
    (-4130, "OPEN_STOP_ORDER_WITH_CLOSE_POSITION_EXISTS"),
)

ERROR_NAMES: dict[int, str] = dict(_CODES)

# The messages Binance sends for the codes the local exchange answers with most (spelt as Binance does).
_MESSAGES: dict[int, str] = {
    -1000: "An unknown error occurred while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1002: "You are not authorized to execute this request.",
    -1003: "Too many requests; current limit is %s requests per minute. Please use the websocket for live updates to avoid polling the API.",
    -1006: "An unexpected response was received from the message bus. Execution status unknown.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
    -1014: "Unsupported order combination.",
    -1015: "Too many new orders.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1023: "Start time is greater than end time.",
    -1100: "Illegal characters found in a parameter.",
    -1101: "Too many parameters sent for this endpoint.",
    -1102: "A mandatory parameter was not sent, was empty/null, or malformed.",
    -1103: "An unknown parameter was sent.",
    -1106: "A parameter was sent when not required.",
    -1111: "Precision is over the maximum defined for this asset.",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1117: "Invalid side.",
    -1120: "Invalid interval.",
    -1121: "Invalid symbol.",
    -1125: "This listenKey does not exist.",
    -1130: "Data sent for parameter is not valid.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2018: "Balance is insufficient.",
    -2019: "Margin is insufficient.",
    -2020: "Unable to fill.",
    -2021: "Order would immediately trigger.",
    -2022: "ReduceOnly Order is rejected.",
    -2024: "Position is not sufficient.",
    -2025: "Reach max open order limit.",
    -2027: "Exceeded the maximum allowable position at current leverage.",
    -4003: "Quantity less than or equal to zero.",
    -4014: "Price not increased by tick size.",
    -4023: "Quantity not increased by step size.",
    -4028: "Leverage is not valid.",
    -4046: "No need to change margin type.",
    -4047: "Margin type cannot be changed if there exists open orders.",
    -4048: "Margin type cannot be changed if there exists position.",
    -4059: "No need to change position side.",
    -4061: "Order's position side does not match user's setting.",
    -4116: "ClientOrderId is duplicated.",
    -4120: "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    -4164: "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    -5021: "Due to the order could not be filled immediately, the FOK order has been rejected.",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    -5027: "No need to modify the order.",
}

# Category by code; anything not listed falls back by range in :func:`_class_for`.
_BY_CODE: dict[int, type[ApiError]] = {
    -1000: ExecutionStatusUnknown,
    -1001: ExecutionStatusUnknown,
    -1006: ExecutionStatusUnknown,
    -1007: ExecutionStatusUnknown,
    -1008: ExecutionStatusUnknown,
    -1002: AuthenticationError,
    -1022: BadSignature,
    -2014: AuthenticationError,
    -2015: AuthenticationError,
    -1003: RateLimited,
    -1015: RateLimited,
    -1021: TimestampOutOfWindow,
    -2011: UnknownOrder,
    -2013: UnknownOrder,
    -4129: UnknownOrder,
}


def _class_for(code: int) -> type[ApiError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if -1199 <= code <= -1100 or code in (-1013, -1014, -1020, -1023, -1099):
        return InvalidRequest
    if code <= -2000:
        return OrderRejected
    return ApiError


API_ERRORS: dict[int, type[ApiError]] = {code: _class_for(code) for code in ERROR_NAMES}

_STATUS_OVERRIDES: dict[int, int] = {-1099: 404, -1008: 503, -1016: 503}


def default_message(code: int) -> str:
    """Binance's usual message for ``code`` (its symbolic name when we know no text)."""
    return _MESSAGES.get(code) or ERROR_NAMES.get(code, "Unknown error.")


def http_status_for(code: int) -> int:
    """The HTTP status Binance pairs with ``code`` (used by the local exchange to answer)."""
    return _STATUS_OVERRIDES.get(code, API_ERRORS.get(code, ApiError).default_status)


def error_from_payload(
    status: int,
    payload: Mapping[str, Any] | None,
    *,
    endpoint: str = "",
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
    client_order_id: str | None = None,
) -> ApiError:
    """Build the right :class:`ApiError` subclass for an error response.

    The HTTP status wins over the code for 429 and 418 (Binance sends -1003 for both), and any 5xx
    means the execution status is unknown whatever the body says.
    """
    code = int(payload.get("code", 0)) if payload else 0
    msg = str(payload.get("msg", "")) if payload else ""
    if not msg:
        msg = default_message(code) if code else f"HTTP {status}"
    common: dict[str, Any] = {"status": status, "endpoint": endpoint, "headers": headers}
    if status == 418:
        return IpBanned(code or -1003, msg, retry_after=retry_after, **common)
    if status == 429:
        return RateLimited(code or -1003, msg, retry_after=retry_after, **common)
    if status >= 500:
        return ExecutionStatusUnknown(code or -1006, msg, client_order_id=client_order_id, **common)
    cls = API_ERRORS.get(code, ApiError)
    if cls is ExecutionStatusUnknown:
        return ExecutionStatusUnknown(code, msg, client_order_id=client_order_id, **common)
    if cls in (RateLimited, IpBanned):
        return cls(code, msg, retry_after=retry_after, **common)
    return cls(code, msg, **common)
