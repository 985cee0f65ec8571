"""Rate limits of the local exchange: request weight per IP, order counts per account, 429 and 418.

Rules kept here (Binance "LIMITS"):
- weight is counted per client IP in fixed one-minute windows (aligned to the minute of the server
  clock) and reported on **every** response as ``X-MBX-USED-WEIGHT-1M``; a request that takes the
  window over the limit is refused with HTTP 429, code -1003, and ``Retry-After`` (seconds to the end
  of the window);
- an IP that keeps sending after ``ban_after`` 429s in one window is banned: HTTP 418 with
  ``Retry-After``; the first ban lasts ``ban_seconds`` and each further one doubles, up to 3 days;
  while banned every request gets 418 and counts no weight;
- orders are counted per account in a 10 s and a 1 min window (``X-MBX-ORDER-COUNT-10S`` / ``-1M`` on
  order responses); over either limit: HTTP 429, code -1015, nothing reaches the engine;
- the state is pure: every method takes ``now_ms`` (the exchange clock), nothing reads wall time, so
  windows, bans and ``Retry-After`` count seconds of the exchange clock (simulated under ``--speed``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from binfut.emulator._http import EXCHANGE_KEY, error_response
from binfut.emulator.auth import parse_request
from binfut.errors import IpBanned, RateLimited

__all__ = ["OrderCounter", "RateLimitState", "WeightVerdict", "ratelimit_middleware"]

_MINUTE_MS = 60_000
_MAX_BAN_S = 3 * 86_400

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class _IpWindow:
    start_ms: int = -1
    used: int = 0
    violations: int = 0
    banned_until_ms: int = 0
    bans: int = 0


@dataclass(frozen=True, slots=True)
class WeightVerdict:
    """Outcome of charging one request: ``status`` 200 (go on), 429 or 418, and the header values."""

    status: int
    used: int
    retry_after_s: int = 0


class RateLimitState:
    """Request weight per IP.

    Parameters
    ----------
    limit : REQUEST_WEIGHT per minute
    ban_after : 429s tolerated in one window before a ban
    ban_seconds : first ban length (doubles per ban, capped at 3 days)
    """

    __slots__ = ("_ips", "ban_after", "ban_seconds", "limit")

    def __init__(self, limit: int = 2400, *, ban_after: int = 5, ban_seconds: int = 120) -> None:
        self.limit = limit
        self.ban_after = ban_after
        self.ban_seconds = ban_seconds
        self._ips: dict[str, _IpWindow] = {}

    def used(self, ip: str, now_ms: int) -> int:
        """Weight used by ``ip`` in the current window."""
        state = self._ips.get(ip)
        if state is None or state.start_ms != now_ms - now_ms % _MINUTE_MS:
            return 0
        return state.used

    def charge(self, ip: str, weight: int, now_ms: int) -> WeightVerdict:
        """Count a request of ``weight`` from ``ip`` and say whether it may proceed."""
        state = self._ips.setdefault(ip, _IpWindow())
        start = now_ms - now_ms % _MINUTE_MS
        if state.start_ms != start:
            state.start_ms, state.used, state.violations = start, 0, 0
        if state.banned_until_ms > now_ms:
            return WeightVerdict(418, state.used, _ceil_s(state.banned_until_ms - now_ms))
        state.used += weight
        if state.used <= self.limit:
            return WeightVerdict(200, state.used)
        state.violations += 1
        if state.violations > self.ban_after:
            # Ignoring 429s gets the IP banned; the ban scales for repeat offenders.
            seconds = min(_MAX_BAN_S, self.ban_seconds * (2**state.bans))
            state.bans += 1
            state.banned_until_ms = now_ms + seconds * 1000
            return WeightVerdict(418, state.used, seconds)
        return WeightVerdict(429, state.used, _ceil_s(start + _MINUTE_MS - now_ms))

    def ban(self, ip: str, seconds: int, now_ms: int) -> None:
        """Ban ``ip`` for ``seconds`` (used by the 418-storm fault)."""
        state = self._ips.setdefault(ip, _IpWindow())
        state.banned_until_ms = max(state.banned_until_ms, now_ms + seconds * 1000)

    def reset(self) -> None:
        self._ips.clear()


class OrderCounter:
    """Orders per account in a 10 s and a 1 min fixed window."""

    __slots__ = ("_counts", "limit_10s", "limit_1m")

    def __init__(self, limit_10s: int = 300, limit_1m: int = 1200) -> None:
        self.limit_10s = limit_10s
        self.limit_1m = limit_1m
        self._counts: dict[str, list[int]] = {}  # account -> [start10, n10, start60, n60]

    def charge(self, account_id: str, orders: int, now_ms: int) -> tuple[int, int, RateLimited | None]:
        """Count ``orders`` for ``account_id``; returns (count 10 s, count 1 min, error or None)."""
        c = self._counts.setdefault(account_id, [-1, 0, -1, 0])
        s10, s60 = now_ms - now_ms % 10_000, now_ms - now_ms % _MINUTE_MS
        if c[0] != s10:
            c[0], c[1] = s10, 0
        if c[2] != s60:
            c[2], c[3] = s60, 0
        c[1] += orders
        c[3] += orders
        if c[1] > self.limit_10s:
            msg = f"Too many new orders; current limit is {self.limit_10s} orders per TEN_SECONDS."
            return c[1], c[3], RateLimited(-1015, msg, retry_after=_ceil_s(s10 + 10_000 - now_ms))
        if c[3] > self.limit_1m:
            msg = f"Too many new orders; current limit is {self.limit_1m} orders per MINUTE."
            return c[1], c[3], RateLimited(-1015, msg, retry_after=_ceil_s(s60 + _MINUTE_MS - now_ms))
        return c[1], c[3], None

    def counts(self, account_id: str, now_ms: int) -> tuple[int, int]:
        c = self._counts.get(account_id)
        if c is None:
            return 0, 0
        n10 = c[1] if c[0] == now_ms - now_ms % 10_000 else 0
        n60 = c[3] if c[2] == now_ms - now_ms % _MINUTE_MS else 0
        return n10, n60


def _ceil_s(ms: int) -> int:
    return max(1, -(-ms // 1000))


@web.middleware
async def ratelimit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp middleware (outermost): weight per IP, 429 / 418, and the weight header on every answer.

    The exchange is ``request.app[EXCHANGE_KEY]`` (see :mod:`binfut.emulator._http`).
    """
    exchange = request.app[EXCHANGE_KEY]
    limits = exchange.weights
    parsed = await parse_request(request, exchange.routes)
    ip = request.remote or "?"
    now = exchange.server_time_ms()
    if parsed.endpoint is None:
        weight = 1
    else:
        try:
            weight = parsed.endpoint.weight_for(parsed.params)
        except (ValueError, TypeError):  # a malformed limit: validation answers it, cost 1
            weight = 1
    verdict = limits.charge(ip, weight, now)
    header = {"X-MBX-USED-WEIGHT-1M": str(verdict.used)}
    if verdict.status == 418:
        err: RateLimited | IpBanned = IpBanned(
            -1003,
            f"Way too many requests; IP({ip}) banned until {now + verdict.retry_after_s * 1000}. "
            "Please use the websocket for live updates to avoid bans.",
            retry_after=verdict.retry_after_s,
        )
        return error_response(err, extra=header)
    if verdict.status == 429:
        msg = (
            f"Too many requests; current limit of IP({ip}) is {limits.limit} requests per minute. "
            "Please use the websocket for live updates to avoid polling the API."
        )
        return error_response(RateLimited(-1003, msg, retry_after=verdict.retry_after_s), extra=header)
    response = await handler(request)
    response.headers.update(header)
    return response
