"""Building requests: wire parameters + credentials + the time -> a :class:`PreparedRequest`.

All parameters travel in the query string, for every method (Binance accepts that everywhere, and
one place to sign keeps it simple). Signed endpoints get ``recvWindow`` and ``timestamp`` appended and
then ``signature`` computed over the exact query text that is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from binfut.credentials import Credentials
from binfut.errors import ConfigError
from binfut.protocol.spec import Endpoint

__all__ = ["PreparedRequest", "RawResponse", "build_request", "encode_query"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]")


def _quote(value: str) -> str:
    # The common case (symbols, numbers, ids) needs no escaping; skip quote()'s overhead then.
    return value if _UNSAFE.search(value) is None else quote(value, safe="")


def encode_query(params: Mapping[str, str]) -> str:
    """``k=v&k=v`` with values percent-encoded where needed, in the mapping's order."""
    return "&".join(f"{k}={_quote(v)}" for k, v in params.items())


@dataclass(slots=True)
class PreparedRequest:
    """A request ready for any transport: nothing here needs a socket.

    ``headers`` carries the API key; it is never included in errors or logs (see ``__repr__``).
    """

    method: str
    base: str  # scheme://host:port
    target: str  # path?query, exactly as signed
    headers: dict[str, str]
    endpoint: Endpoint
    weight: int
    body: bytes | None = None
    client_order_id: str | None = field(default=None)

    @property
    def url(self) -> str:
        return self.base + self.target

    def __repr__(self) -> str:
        path = self.target.split("?", 1)[0]
        return f"PreparedRequest({self.method} {path}, weight={self.weight})"


@dataclass(slots=True)
class RawResponse:
    """What came back: status, headers (a case-insensitive mapping, or one with lower-case names)
    and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def build_request(
    endpoint: Endpoint,
    wire: Mapping[str, str],
    *,
    base_url: str,
    credentials: Credentials | None,
    now_ms: int,
    recv_window: int,
) -> PreparedRequest:
    """Assemble (and sign, when the endpoint is signed) one request.

    Parameters
    ----------
    wire : already-encoded parameters (see :func:`binfut.protocol.codec.encode_params`)
    now_ms : the server-aligned time to stamp into ``timestamp``

    Raises
    ------
    ConfigError
        The endpoint needs an API key and no credentials were given.
    """
    headers: dict[str, str] = {}
    security = endpoint.security
    query = encode_query(wire)
    if security.needs_key:
        if credentials is None:
            raise ConfigError(f"{endpoint.label} needs an API key ({security.value}); pass credentials")
        headers["X-MBX-APIKEY"] = credentials.api_key
        if security.signed:
            tail = f"recvWindow={recv_window}&timestamp={now_ms}"
            query = f"{query}&{tail}" if query else tail
            query = f"{query}&signature={_quote(credentials.sign(query.encode()))}"
    return PreparedRequest(
        method=endpoint.method,
        base=base_url,
        target=f"{endpoint.path}?{query}" if query else endpoint.path,
        headers=headers,
        endpoint=endpoint,
        weight=endpoint.weight_for(wire),
        client_order_id=wire.get("newClientOrderId") or wire.get("clientAlgoId"),
    )
