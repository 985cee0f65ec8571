"""Request parameters and authentication of the local exchange's REST side (aiohttp middleware).

Rules kept here (Binance "Endpoint Security Type" and "SIGNED Endpoint Security"):
- parameters come from the query string AND a form-encoded body (third-party clients send POST
  parameters in the body); the same name in both: the body wins;
- the signed payload is the exact received query string concatenated with the exact body
  ("totalParams", no ``&`` between them), with the ``signature`` parameter removed;
- MARKET_DATA / USER_STREAM need ``X-MBX-APIKEY``; TRADE / USER_DATA also need ``timestamp`` and
  ``signature``: -2014 bad key format, -2015 unknown key, -1102 missing timestamp / signature,
  -1130 recvWindow above 60000, -1021 outside the window, -1022 bad signature;
- the timing rule is exactly Binance's: accept when
  ``timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow`` (recvWindow default 5000);
  both windows are real time (they absorb network latency), so on a clock sped up ``speed`` times
  they are ``speed`` times as many simulated ms: a request 20 ms in transit is 6 s late in simulated
  time at speed 300, and must still pass;
- server time is the exchange's clock plus any ``clock_skew`` fault; nothing here reads wall time.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web

from binfut.emulator._http import EXCHANGE_KEY
from binfut.emulator.accounts import API_KEY_FORMAT, AccountRegistry, ApiAccount
from binfut.errors import AuthenticationError, BadSignature, InvalidRequest, TimestampOutOfWindow
from binfut.protocol.spec import Endpoint

__all__ = [
    "PARSED_KEY",
    "ParsedRequest",
    "auth_middleware",
    "authenticate",
    "check_timestamp",
    "parse_request",
    "request_account",
    "signed_payload",
]

_DIGITS = re.compile(r"^[0-9]{1,20}$")
_FORM = "application/x-www-form-urlencoded"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class ParsedRequest:
    """One request's endpoint, merged parameters and the raw text that was signed.

    Attributes
    ----------
    endpoint : the table record of the route (None for a path the table does not know)
    params : query and body parameters merged (strings)
    query, body : the raw query string and the raw form body exactly as received
    """

    endpoint: Endpoint | None
    params: dict[str, str]
    query: str
    body: str


PARSED_KEY = web.RequestKey("parsed", ParsedRequest)
ACCOUNT_KEY: web.RequestKey[ApiAccount] = web.RequestKey("account", ApiAccount)


async def parse_request(request: web.Request, routes: Mapping[tuple[str, str], Endpoint]) -> ParsedRequest:
    """Parse once per request (the result is cached on the request for the other middlewares)."""
    if PARSED_KEY in request:
        return request[PARSED_KEY]
    query = request.rel_url.raw_query_string
    body = ""
    if request.body_exists:
        raw = await request.read()
        ctype = request.content_type
        # Anything that is not JSON is read as a form (curl -d sends the form type; some clients none).
        if raw and ctype != "application/json" and (ctype == _FORM or b"=" in raw):
            body = raw.decode("utf-8", errors="replace")
    params = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        params.update(parse_qsl(body, keep_blank_values=True))
    parsed = ParsedRequest(routes.get((request.method, request.path)), params, query, body)
    request[PARSED_KEY] = parsed
    return parsed


def _without_signature(text: str) -> str:
    if "signature=" not in text:
        return text
    return "&".join(part for part in text.split("&") if not part.startswith("signature="))


def signed_payload(query: str, body: str) -> bytes:
    """Binance's ``totalParams``: the query string then the body, ``signature`` removed."""
    return (_without_signature(query) + _without_signature(body)).encode()


def check_timestamp(
    params: Mapping[str, str], server_time_ms: int, max_recv_window_ms: int = 60_000, *, speed: float = 1.0
) -> None:
    """Apply the timing-security rule to ``timestamp`` / ``recvWindow`` (``speed``: the clock's, see the module rules).

    Raises
    ------
    InvalidRequest
        -1102 no timestamp, -1100 a non-numeric one, -1130 a recvWindow above the maximum.
    TimestampOutOfWindow
        -1021: ``timestamp >= serverTime + 1000`` or ``serverTime - timestamp > recvWindow`` (each
        window times ``speed``).
    """
    raw_ts = params.get("timestamp")
    if not raw_ts:
        raise InvalidRequest(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    if not _DIGITS.match(raw_ts):
        raise InvalidRequest(
            -1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'."
        )
    raw_rw = params.get("recvWindow") or "5000"
    # recvWindow may carry microseconds as a fraction on newer APIs ("5000.5"); whole ms here.
    if not _DIGITS.match(raw_rw.split(".", 1)[0]):
        raise InvalidRequest(
            -1100, "Illegal characters found in parameter 'recvWindow'; legal range is '^[0-9]{1,20}$'."
        )
    recv_window = int(raw_rw.split(".", 1)[0])
    if recv_window > max_recv_window_ms or recv_window <= 0:
        raise InvalidRequest(-1130, "Data sent for parameter 'recvWindow' is not valid.")
    timestamp = int(raw_ts)
    if not (timestamp < server_time_ms + 1000 * speed and server_time_ms - timestamp <= recv_window * speed):
        raise TimestampOutOfWindow(-1021, "Timestamp for this request is outside of the recvWindow.")


def authenticate(
    accounts: AccountRegistry,
    endpoint: Endpoint,
    api_key: str | None,
    parsed: ParsedRequest,
    server_time_ms: int,
    max_recv_window_ms: int = 60_000,
    *,
    speed: float = 1.0,
) -> ApiAccount | None:
    """Check the API key, and for signed endpoints the timestamp and the signature.

    Returns
    -------
    ApiAccount | None
        The caller's account (None for NONE-security endpoints without a key).

    Raises
    ------
    ApiError
        -2014, -2015, -1102, -1100, -1130, -1021 or -1022 (see the module rules).
    """
    security = endpoint.security
    if not security.needs_key:
        # Public endpoints ignore the key, but a known one still identifies the caller.
        return accounts.by_api_key(api_key) if api_key else None
    if not api_key or not API_KEY_FORMAT.match(api_key):
        raise AuthenticationError(-2014, "API-key format invalid.")
    account = accounts.by_api_key(api_key)
    if account is None:
        raise AuthenticationError(-2015, "Invalid API-key, IP, or permissions for action.")
    if not security.signed:
        return account
    signature = parsed.params.get("signature")
    if not signature:
        raise InvalidRequest(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    check_timestamp(parsed.params, server_time_ms, max_recv_window_ms, speed=speed)
    if account.verify(signed_payload(parsed.query, parsed.body), signature):
        return account
    # The official SDK signs the merged parameters and sends them all in the query string, then
    # repeats the body: the query alone is then the signed text.
    if parsed.body and account.verify(signed_payload(parsed.query, ""), signature):
        return account
    raise BadSignature(-1022, "Signature for this request is not valid.")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp middleware: authenticate and leave the account on the request for the handler.

    The exchange is ``request.app[EXCHANGE_KEY]`` (see :mod:`binfut.emulator._http`).
    """
    exchange = request.app[EXCHANGE_KEY]
    parsed = await parse_request(request, exchange.routes)
    if parsed.endpoint is not None:
        account = authenticate(
            exchange.accounts,
            parsed.endpoint,
            request.headers.get("X-MBX-APIKEY"),
            parsed,
            exchange.server_time_ms(),
            exchange.config.max_recv_window_ms,
            speed=exchange.config.speed,
        )
        if account is not None:
            request[ACCOUNT_KEY] = account
    return await handler(request)


def request_account(request: web.Request) -> ApiAccount | None:
    """The account the auth middleware found (None for anonymous public calls)."""
    return request.get(ACCOUNT_KEY)
