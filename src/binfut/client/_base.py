"""State shared by :class:`~binfut.client.Client` and :class:`~binfut.client.AsyncClient`.

Everything here is non-I/O: configuration, credentials, the time offset, the rate-limit budgets,
decoders, exchangeInfo filters and client-order-id generation. The two clients differ only in how
they drive :func:`binfut.protocol.flow.call_flow` (blocking or awaiting).
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from binfut.clock import Clock, SystemClock
from binfut.config import ClientConfig, Environment, Urls, load_env, urls_for
from binfut.credentials import Credentials
from binfut.errors import ConfigError
from binfut.protocol.filters import FilterBook, SymbolFilters
from binfut.protocol.ratelimit import RateLimiter
from binfut.protocol.response import DecoderCache
from binfut.protocol.timesync import TimeSync

__all__ = ["ClientBase"]

_ALPHABET = string.digits + string.ascii_lowercase


def _base36(n: int) -> str:
    out = []
    while True:
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
        if not n:
            return "".join(reversed(out))


class ClientBase:
    """Configuration and non-I/O state of a REST client.

    Parameters
    ----------
    api_key, api_secret : credentials (the secret may be an HMAC secret or a PEM private key); when
        both are omitted, ``BINFUT_API_KEY`` / ``BINFUT_API_SECRET`` / ``BINFUT_API_KEY_FILE`` are read
    env : ``mainnet``, ``testnet``, ``demo`` or ``local``
    base_url : REST base URL (for ``local``, the local exchange's URL; overrides ``env``'s URL)
    credentials : a ready :class:`Credentials` instead of key + secret
    config : timeouts, recvWindow, retry policy, filter validation
    clock : time source (a ManualClock in tests)
    rng : randomness for jitter and ids
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | bytes | None = None,
        *,
        env: Environment | str = Environment.MAINNET,
        base_url: str | None = None,
        credentials: Credentials | None = None,
        config: ClientConfig | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config or ClientConfig()
        if credentials is None and api_key is not None:
            if api_secret is None:
                raise ConfigError("api_key given without api_secret")
            credentials = Credentials(api_key, api_secret)
        elif credentials is None and api_secret is None:
            credentials = Credentials.from_env(load_env(environ))
        self.credentials = credentials
        self.env = Environment(env)
        self.urls: Urls = urls_for(self.env, base_url)
        if base_url is not None and self.env is not Environment.LOCAL:
            self.urls = Urls(**{**_urls_dict(self.urls), "rest": base_url.rstrip("/")})
        self.base_url = self.urls.rest
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.limiter = RateLimiter(headroom=self.config.weight_headroom)
        self.timesync = TimeSync()
        self.decoders = DecoderCache()
        self.filters: FilterBook | None = None
        self._ids = itertools.count(self.rng.randrange(36**3))
        # prefix + 4 random base-36 chars: ids from two processes started in the same ms differ.
        self._id_prefix = self.config.client_order_prefix + _base36(self.rng.randrange(36**4)).rjust(4, "0")

    # -- FlowContext -------------------------------------------------------------------------

    def local_ms(self) -> int:
        return self.clock.time_ns() // 1_000_000

    def new_client_order_id(self) -> str:
        """A unique id within Binance's rule ``^[.A-Z:/a-z0-9_-]{1,36}$`` (prefix, salt, ms, counter)."""
        return f"{self._id_prefix}{self.local_ms():x}{next(self._ids):x}"

    # -- conveniences that need no I/O ---------------------------------------------------------

    @property
    def server_time_offset_ms(self) -> int:
        """Estimated ``server time - local time`` in ms, now (0 until measured)."""
        now = self.local_ms()
        return self.timesync.server_now(now) - now

    def rate_limit_usage(self) -> dict[str, Any]:
        """Request weight and order counts used / allowed per window, and any ban in force."""
        return self.limiter.usage()

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        """The exchangeInfo filters of ``symbol`` (call ``load_filters()`` first)."""
        if self.filters is None:
            raise ConfigError("filters are not loaded yet; call load_filters() first")
        return self.filters[symbol]

    def round_price(self, symbol: str, price: Decimal | float | str, *, up: bool = False) -> Decimal:
        """``price`` snapped to ``symbol``'s tick size (down, or up)."""
        return self.symbol_filters(symbol).round_price(price, up=up)

    def round_quantity(self, symbol: str, qty: Decimal | float | str, *, market: bool = False) -> Decimal:
        """``qty`` snapped down to ``symbol``'s step size."""
        return self.symbol_filters(symbol).round_quantity(qty, market=market)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.env.value}, base_url={self.base_url!r}, credentials={self.credentials!r})"


def _urls_dict(urls: Urls) -> dict[str, str]:
    return {f: getattr(urls, f) for f in urls.__struct_fields__}
