"""Parameter encoding: Python values to the exact strings Binance expects.

Rules kept here: decimals and floats go out in plain positional notation, never scientific
(``0.00001`` stays ``0.00001``, ``1E+3`` becomes ``1000``), trailing zeros dropped; booleans are
``true``/``false``; enums by their Binance spelling; list parameters (``batchOrders``,
``orderIdList``, ...) as compact JSON whose nested scalars follow the same rules. A value of the
wrong kind raises :class:`~binfut.errors.LocalProtocolError` naming the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

import msgspec

from binfut.errors import LocalProtocolError
from binfut.protocol.spec import Endpoint, Kind, Param

__all__ = ["encode_params", "encode_value", "plain_decimal"]

_json_encode = msgspec.json.Encoder().encode


_PLAIN = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")


def plain_decimal(value: Decimal | float | int | str, field: str = "value") -> str:
    """``value`` as a plain decimal string: no exponent, no trailing zeros, no ``-0``.

    Floats go through ``repr`` (the shortest round-tripping text) so ``0.1`` is ``0.1``, not the
    binary expansion.
    """
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return value  # already canonical: the common case of prices typed as strings
    if isinstance(value, bool):
        raise LocalProtocolError(f"{field}: expected a number, got a bool")
    if isinstance(value, int):
        return str(value)
    try:
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise LocalProtocolError(f"{field}={value!r} is not a decimal number") from None
    if not dec.is_finite():
        raise LocalProtocolError(f"{field}={value!r} must be a finite number")
    text = format(dec, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _scalar(value: Any, field: str) -> Any:
    """A nested JSON element (inside batchOrders) in Binance's preferred form: strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal | float):
        return plain_decimal(value, field)
    if isinstance(value, int):
        return str(value)
    return value


def _json_list(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value  # already JSON: trust the caller
    if not isinstance(value, list | tuple):
        raise LocalProtocolError(f"{field}: expected a list, got {type(value).__name__}")
    items: list[Any] = []
    for item in value:
        if isinstance(item, Mapping):
            items.append({str(k): _scalar(v, f"{field}.{k}") for k, v in item.items() if v is not None})
        elif isinstance(item, msgspec.Struct):
            raw = msgspec.structs.asdict(item)
            items.append({k: _scalar(v, f"{field}.{k}") for k, v in raw.items() if v is not None})
        else:
            # orderIdList keeps integers as JSON numbers; client ids stay strings.
            items.append(item.value if isinstance(item, Enum) else item)
    return _json_encode(items).decode()


def encode_value(param: Param, value: Any) -> str:
    """One parameter value as its wire string (see the module rules)."""
    kind = param.kind
    if kind is Kind.STR:
        if isinstance(value, Enum):
            return str(value.value)
        return value if isinstance(value, str) else str(value)
    if kind is Kind.DECIMAL:
        return plain_decimal(value, param.name)
    if kind is Kind.INT or kind is Kind.MILLIS:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.lstrip("-").isdigit():
                return value
            raise LocalProtocolError(f"{param.name}={value!r}: expected an integer")
        return str(value)
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower()
        raise LocalProtocolError(f"{param.name}={value!r}: expected true or false")
    if kind is Kind.ENUM:
        text = str(value.value) if isinstance(value, Enum) else str(value)
        if param.enum is not None and text not in param.enum._value2member_map_:
            allowed = ", ".join(str(m.value) for m in param.enum)
            raise LocalProtocolError(f"{param.name}={text!r} is not one of: {allowed}")
        return text
    return _json_list(value, param.name)


def encode_params(endpoint: Endpoint, params: Mapping[str, Any]) -> dict[str, str]:
    """Encode wire-named ``params`` for ``endpoint`` in the table's order; ``None`` means absent.

    Raises
    ------
    LocalProtocolError
        An unknown parameter, a missing mandatory one, or a value of the wrong kind.
    """
    if not endpoint.param_names.issuperset(params):
        unknown = sorted(set(params) - endpoint.param_names)
        raise LocalProtocolError(f"{endpoint.label} takes no parameter {unknown[0]!r}")
    out: dict[str, str] = {}
    for param in endpoint.params:
        value = params.get(param.name)
        if value is None or value == "":
            if param.required:
                raise LocalProtocolError(f"{endpoint.label}: mandatory parameter {param.name!r} is missing")
            continue
        out[param.name] = encode_value(param, value)
    return out
