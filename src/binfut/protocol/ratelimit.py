"""Request-weight and order-count budgets, fed by Binance's X-MBX-* response headers.

Binance counts request weight per IP in fixed one-minute windows, and orders per account in 10 s and
1 min windows. The limiter keeps, per window, the larger of what the server last reported and what we
sent since (responses lag when many requests are in flight), and says how long to wait before a
request of a given cost fits under ``headroom`` × the limit. A 418 ban makes :meth:`ban_remaining`
positive until it ends; the caller refuses to send meanwhile. Pure: every method takes ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RateLimiter", "UsageSnapshot", "Window", "parse_interval"]

_UNIT_MS = {"S": 1_000, "M": 60_000, "H": 3_600_000, "D": 86_400_000}
_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


def parse_interval(suffix: str) -> int:
    """``"1M"`` / ``"10S"`` (the header suffix) -> window length in ms."""
    return int(suffix[:-1]) * _UNIT_MS[suffix[-1].upper()]


@dataclass(slots=True)
class Window:
    """One fixed window of a budget (e.g. REQUEST_WEIGHT per 1 minute)."""

    length_ms: int
    limit: int
    start_ms: int = 0
    used: int = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.length_ms
        if start != self.start_ms:
            self.start_ms = start
            self.used = 0

    def wait_ms(self, now_ms: int, cost: int, headroom: float) -> int:
        """ms to wait until ``cost`` more fits (0 when it fits now)."""
        self.roll(now_ms)
        if cost <= 0 or self.used + cost <= self.limit * headroom or self.used == 0:
            return 0
        return self.start_ms + self.length_ms - now_ms


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """What the server last reported: header name suffix -> count (e.g. ``{"1m": 37}``)."""

    weight: Mapping[str, int]
    orders: Mapping[str, int]


@dataclass(slots=True)
class RateLimiter:
    """Budgets for request weight and order counts.

    Defaults are Binance's published USD-M limits; :meth:`configure` replaces them with the
    ``rateLimits`` from exchangeInfo.
    """

    headroom: float = 0.95
    weight: dict[int, Window] = field(default_factory=lambda: {60_000: Window(60_000, 2400)})
    orders: dict[int, Window] = field(
        default_factory=lambda: {10_000: Window(10_000, 300), 60_000: Window(60_000, 1200)}
    )
    banned_until_ms: int = 0
    blocked_until_ms: int = 0
    last: UsageSnapshot = field(default_factory=lambda: UsageSnapshot({}, {}))

    def configure(self, rate_limits: Iterable[Mapping[str, Any] | Any]) -> None:
        """Take the limits from exchangeInfo's ``rateLimits`` (dicts or decoded Structs)."""
        weight: dict[int, Window] = {}
        orders: dict[int, Window] = {}
        for item in rate_limits:
            get = item.get if isinstance(item, Mapping) else lambda k, _i=item: getattr(_i, _snake(k), None)
            kind, interval, num, limit = get("rateLimitType"), get("interval"), get("intervalNum"), get("limit")
            if interval not in _INTERVAL_MS or num is None or limit is None:
                continue
            length = _INTERVAL_MS[str(interval)] * int(num)
            if kind == "REQUEST_WEIGHT":
                weight[length] = Window(length, int(limit))
            elif kind == "ORDERS":
                orders[length] = Window(length, int(limit))
        if weight:
            self.weight = weight
        if orders:
            self.orders = orders

    def ban_remaining(self, now_ms: int) -> float:
        """Seconds left of a 418 ban (0 when none)."""
        return max(0.0, (self.banned_until_ms - now_ms) / 1000)

    def delay_for(self, now_ms: int, weight: int, orders: int) -> float:
        """Seconds to wait before a request of this cost may be sent."""
        wait = max(0, self.blocked_until_ms - now_ms)
        for w in self.weight.values():
            wait = max(wait, w.wait_ms(now_ms, weight, self.headroom))
        if orders:
            for w in self.orders.values():
                wait = max(wait, w.wait_ms(now_ms, orders, self.headroom))
        return wait / 1000

    def on_send(self, now_ms: int, weight: int, orders: int) -> None:
        """Count a request we are about to send."""
        for w in self.weight.values():
            w.roll(now_ms)
            w.used += weight
        if orders:
            for w in self.orders.values():
                w.roll(now_ms)
                w.used += orders

    def on_headers(self, now_ms: int, headers: Mapping[str, str]) -> None:
        """Fold in ``X-MBX-USED-WEIGHT-*`` and ``X-MBX-ORDER-COUNT-*`` (names lower-cased)."""
        weight: dict[str, int] = {}
        orders: dict[str, int] = {}
        for name, value in headers.items():
            if name.startswith("x-mbx-used-weight-"):
                suffix = name[len("x-mbx-used-weight-") :]
                weight[suffix] = int(value)
                self._fold(self.weight, suffix, int(value), now_ms)
            elif name.startswith("x-mbx-order-count-"):
                suffix = name[len("x-mbx-order-count-") :]
                orders[suffix] = int(value)
                self._fold(self.orders, suffix, int(value), now_ms)
        if weight or orders:
            self.last = UsageSnapshot(weight, orders)

    def on_ban(self, now_ms: int, retry_after_s: float | None) -> None:
        """Record a 418 (Binance's bans last from 2 minutes up to 3 days)."""
        self.banned_until_ms = max(self.banned_until_ms, now_ms + int((retry_after_s or 120) * 1000))

    def on_rate_limited(self, now_ms: int, retry_after_s: float | None) -> None:
        """Record a 429: nothing more is sent until Retry-After (or, without it, the window's end)."""
        if retry_after_s is not None:
            self.blocked_until_ms = max(self.blocked_until_ms, now_ms + int(retry_after_s * 1000))
            return
        for w in self.weight.values():
            w.roll(now_ms)
            w.used = max(w.used, w.limit)

    @staticmethod
    def _fold(windows: dict[int, Window], suffix: str, value: int, now_ms: int) -> None:
        try:
            length = parse_interval(suffix)
        except (KeyError, ValueError):
            return
        window = windows.get(length)
        if window is None:
            return
        window.roll(now_ms)
        window.used = max(window.used, value)

    def usage(self) -> dict[str, Any]:
        """A readable summary for dashboards: used / limit per window."""
        return {
            "weight": {f"{k // 1000}s": (w.used, w.limit) for k, w in self.weight.items()},
            "orders": {f"{k // 1000}s": (w.used, w.limit) for k, w in self.orders.items()},
            "banned_until_ms": self.banned_until_ms,
        }


def _snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out)
