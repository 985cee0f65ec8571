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

__all__ = ["RateLimiter", "UsageSnapshot", "Window"]

_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


def _suffix(length_ms: int) -> str:
    """Window length -> Binance's header suffix, lower-case (60000 -> ``"1m"``, 10000 -> ``"10s"``)."""
    for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if length_ms % ms == 0:
            return f"{length_ms // ms}{unit}"
    return f"{length_ms}ms"


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
    _names: list[tuple[str, str, Window, bool]] = field(default_factory=list, repr=False)
    _names_key: tuple[int, ...] = field(default=(), repr=False)

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
        # Keep what is already used in windows of the same length: configuring is not a reset.
        for new, old in ((weight, self.weight), (orders, self.orders)):
            for length, window in new.items():
                if length in old:
                    window.start_ms, window.used = old[length].start_ms, old[length].used
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
        """Fold in ``X-MBX-USED-WEIGHT-*`` and ``X-MBX-ORDER-COUNT-*``.

        ``headers`` is case-insensitive (urllib3 / aiohttp) or has lower-case names; only the
        headers of the configured windows are looked up, so the cost does not grow with the
        response's header count.
        """
        weight: dict[str, int] = {}
        orders: dict[str, int] = {}
        for name, suffix, window, is_weight in self._header_windows():
            value = headers.get(name)
            if value is None:
                continue
            used = int(value)
            window.roll(now_ms)
            if used > window.used:
                window.used = used
            (weight if is_weight else orders)[suffix] = used
        if weight or orders:
            self.last = UsageSnapshot(weight, orders)

    def _header_windows(self) -> list[tuple[str, str, Window, bool]]:
        """(header name, suffix, window, is_weight) per configured window; rebuilt after configure()."""
        key = (id(self.weight), id(self.orders), len(self.weight), len(self.orders))
        if self._names_key != key:
            names: list[tuple[str, str, Window, bool]] = []
            for prefix, windows, is_weight in (("x-mbx-used-weight-", self.weight, True), ("x-mbx-order-count-", self.orders, False)):
                for length, window in windows.items():
                    suffix = _suffix(length)
                    names.append((prefix + suffix, suffix, window, is_weight))
            self._names, self._names_key = names, key
        return self._names

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
