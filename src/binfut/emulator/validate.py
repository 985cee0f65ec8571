"""Binance-style parameter validation, driven by the endpoint table (wire strings -> typed values).

Rules kept here (the messages are Binance's, word for word):
- a mandatory parameter that is absent or empty: -1102 "Mandatory parameter 'x' was not sent, was
  empty/null, or malformed.";
- integers and epoch milliseconds must match ``^[0-9]{1,20}$``, decimals
  ``^([0-9]{1,20})(\\.[0-9]{1,20})?$``: else -1100 "Illegal characters found in parameter 'x'; legal
  range is '<regex>'.";
- booleans are ``true`` / ``false`` (any case), JSON lists must parse to lists: else -1130 "Data sent
  for parameter 'x' is not valid.";
- enum values: side -1117, type -1116, timeInForce -1115, interval -1120, newOrderRespType -1136,
  positionSide -4060, anything else -1130;
- ``symbol`` must be listed: -1121 "Invalid symbol.";
- parameters the table does not know are ignored (third-party clients add their own), and the
  signing parameters (``timestamp``, ``recvWindow``, ``signature``) are the auth layer's business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Mapping
from decimal import Decimal
from typing import Any

from binfut.errors import ApiError, InvalidRequest, OrderRejected
from binfut.protocol.spec import Endpoint, Kind

__all__ = ["Params", "invalid", "validate_params"]

_INT = re.compile(r"^[0-9]{1,20}$")
_DEC = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INT_RANGE = "^[0-9]{1,20}$"
_DEC_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"

_ENUM_ERRORS: dict[str, tuple[int, str]] = {
    "side": (-1117, "Invalid side."),
    "type": (-1116, "Invalid orderType."),
    "timeInForce": (-1115, "Invalid timeInForce."),
    "interval": (-1120, "Invalid interval."),
    "newOrderRespType": (-1136, "Invalid newOrderRespType."),
    "positionSide": (-4060, "Invalid position side."),
}
_SYMBOL_PARAMS = frozenset({"symbol"})


class Params(dict[str, Any]):
    """Validated parameters by wire name (absent ones are simply missing)."""

    def get_int(self, name: str, default: int) -> int:
        value = self.get(name)
        return default if value is None else int(value)

    def get_str(self, name: str, default: str = "") -> str:
        value = self.get(name)
        return default if value is None else str(value)


def _missing(name: str) -> InvalidRequest:
    return InvalidRequest(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _illegal(name: str, legal: str) -> InvalidRequest:
    return InvalidRequest(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def invalid(name: str) -> InvalidRequest:
    """-1130 for parameter ``name``."""
    return InvalidRequest(-1130, f"Data sent for parameter '{name}' is not valid.")


def _enum_error(name: str) -> ApiError:
    code, msg = _ENUM_ERRORS.get(name, (-1130, f"Data sent for parameter '{name}' is not valid."))
    return (OrderRejected if code <= -2000 else InvalidRequest)(code, msg)


def validate_params(endpoint: Endpoint, wire: Mapping[str, str], symbols: Container[str]) -> Params:
    """Check ``wire`` against ``endpoint``'s parameters and convert the values.

    Returns
    -------
    Params
        INT / MILLIS as ``int``, DECIMAL as ``Decimal``, BOOL as ``bool``, JSON as the parsed list,
        STR and ENUM as ``str``.

    Raises
    ------
    ApiError
        The first problem found, in the table's parameter order (see the module rules).
    """
    out = Params()
    for param in endpoint.params:
        name = param.name
        raw = wire.get(name)
        if raw is None or raw == "":
            if param.required:
                raise _missing(name)
            continue
        kind = param.kind
        if kind is Kind.STR:
            if name in _SYMBOL_PARAMS and raw not in symbols:
                raise InvalidRequest(-1121, "Invalid symbol.")
            out[name] = raw
        elif kind is Kind.INT or kind is Kind.MILLIS:
            if not _INT.match(raw):
                raise _illegal(name, _INT_RANGE)
            out[name] = int(raw)
        elif kind is Kind.DECIMAL:
            if not _DEC.match(raw):
                raise _illegal(name, _DEC_RANGE)
            out[name] = Decimal(raw)
        elif kind is Kind.BOOL:
            low = raw.lower()
            if low not in ("true", "false"):
                raise invalid(name)
            out[name] = low == "true"
        elif kind is Kind.ENUM:
            if param.enum is not None and raw not in param.enum._value2member_map_:
                raise _enum_error(name)
            out[name] = raw
        else:  # JSON list parameters (batchOrders, orderIdList, ...)
            try:
                value = json.loads(raw)
            except ValueError:
                raise invalid(name) from None
            if not isinstance(value, list):
                raise invalid(name)
            out[name] = value
    return out
