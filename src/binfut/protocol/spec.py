"""The vocabulary of the endpoint table: :class:`Param`, :class:`Endpoint` and weight rules.

An endpoint is data, not code: method, path, security, request weight (a constant or a rule over the
parameters), parameters with their wire kind and whether they are mandatory, and the response type.
The client's generated methods, the request builder, the local exchange's routes and its parameter
validation are all derived from these records, so a fact about an endpoint is written once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from binfut.enums import SecurityType

__all__ = [
    "Endpoint",
    "Kind",
    "Param",
    "WeightRule",
    "by_limit",
    "by_symbol",
    "snake",
]


class Kind(StrEnum):
    """How a parameter travels on the wire (and how the local exchange validates it)."""

    STR = "str"  # free text (symbol, client ids, ...)
    INT = "int"  # integer (ids, limit, leverage)
    MILLIS = "millis"  # integer epoch milliseconds
    DECIMAL = "decimal"  # price / quantity: plain decimal string, never scientific notation
    BOOL = "bool"  # "true" / "false"
    ENUM = "enum"  # one of ``Param.enum``'s values
    JSON = "json"  # a list sent as compact JSON (batchOrders, orderIdList, ...)


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    """``newClientOrderId`` -> ``new_client_order_id`` (the Python spelling of a wire name)."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


@dataclass(frozen=True, slots=True)
class Param:
    """One request parameter.

    Parameters
    ----------
    name : the wire name, exactly as Binance spells it (``newClientOrderId``)
    kind : how it is encoded and validated
    required : Binance marks it MANDATORY
    enum : the StrEnum of allowed values when ``kind`` is ENUM
    doc : one line for the generated docstring
    """

    name: str
    kind: Kind = Kind.STR
    required: bool = False
    enum: type[Enum] | None = None
    doc: str = ""

    @property
    def py_name(self) -> str:
        return snake(self.name)


WeightRule = Callable[[Mapping[str, Any]], int]


def by_limit(table: tuple[tuple[int, int], ...], *, default_limit: int) -> WeightRule:
    """Weight by ``limit``: ``table`` holds ``(upper_bound_inclusive, weight)`` pairs, ascending.

    A limit above the last bound takes the last weight.
    """

    def rule(params: Mapping[str, Any]) -> int:
        raw = params.get("limit")
        limit = default_limit if raw is None or raw == "" else int(raw)
        for upper, weight in table:
            if limit <= upper:
                return weight
        return table[-1][1]

    rule.__doc__ = f"weight by limit {table} (default limit {default_limit})"
    return rule


def by_symbol(with_symbol: int, without_symbol: int, key: str = "symbol") -> WeightRule:
    """Weight that depends on whether ``symbol`` (or ``key``) is sent."""

    def rule(params: Mapping[str, Any]) -> int:
        return with_symbol if params.get(key) not in (None, "") else without_symbol

    rule.__doc__ = f"{with_symbol} with {key}, {without_symbol} without"
    return rule


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One REST operation of the USD-M API.

    Parameters
    ----------
    name : the Python method name (``new_order``)
    method, path : HTTP method and full path (``/fapi/v1/order``, ``/futures/data/basis``)
    security : what the request must carry
    weight : request weight, a constant or a rule over the (wire-named) parameters
    params : parameters in Binance's documented order (``timestamp``/``recvWindow``/``signature``
        are added by the signer and are not listed)
    returns : the type the body decodes into (a Struct, ``list[Struct]``, ...)
    returns_all : the type when no ``symbol`` is sent, for endpoints that then return a list
    orders : how many orders the call counts toward X-MBX-ORDER-COUNT (0 for non-order calls)
    idempotent : safe to send again after a transport failure (GET, cancel by id)
    frame : name of the DataFrame converter in ``protocol.frames`` for series endpoints
    summary : the Binance page title
    doc : the Binance documentation page
    """

    name: str
    method: str
    path: str
    security: SecurityType
    weight: int | WeightRule
    params: tuple[Param, ...]
    returns: Any
    returns_all: Any = None
    orders: int = 0
    idempotent: bool | None = None
    frame: str | None = None
    summary: str = ""
    doc: str = ""
    _by_name: dict[str, Param] = field(default_factory=dict, repr=False, compare=False)
    param_names: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name: p for p in self.params})
        object.__setattr__(self, "param_names", frozenset(self._by_name))
        if self.idempotent is None:
            object.__setattr__(self, "idempotent", self.method == "GET")

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def param(self, name: str) -> Param | None:
        return self._by_name.get(name)

    def weight_for(self, params: Mapping[str, Any]) -> int:
        """The request weight this call costs with these (wire-named) parameters."""
        return self.weight if isinstance(self.weight, int) else self.weight(params)

    def returns_for(self, params: Mapping[str, Any]) -> Any:
        """The decode type for this call (``returns_all`` when no symbol was sent and one exists)."""
        if self.returns_all is not None and params.get("symbol") in (None, ""):
            return self.returns_all
        return self.returns
