"""Configuration: environments and their URLs, client settings, retry policy; the one env reader.

Configs are frozen msgspec Structs with ``forbid_unknown_fields=True`` so a typo in a config file is
an error, not a silently ignored key. :func:`load_env` is the only function in binfut that reads
``os.environ``; everything else receives values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

import msgspec

from binfut.errors import ConfigError

__all__ = [
    "ClientConfig",
    "Environment",
    "RetryPolicy",
    "Urls",
    "load_env",
    "urls_for",
]


class Environment(StrEnum):
    """Where a client talks to."""

    MAINNET = "mainnet"
    TESTNET = "testnet"
    DEMO = "demo"
    LOCAL = "local"


class Urls(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base URLs of one environment.

    ``ws_public`` carries high-frequency book streams (depth, bookTicker), ``ws_market`` the other
    market streams, ``ws_private`` the user-data stream; ``ws_api`` is the WebSocket API endpoint.
    """

    rest: str
    ws_public: str
    ws_market: str
    ws_private: str
    ws_api: str

    @classmethod
    def local(cls, rest: str) -> Urls:
        """The URLs of a local exchange listening at ``rest`` (``http://127.0.0.1:PORT``)."""
        base = rest.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(
            rest=base,
            ws_public=f"{ws}/public",
            ws_market=f"{ws}/market",
            ws_private=f"{ws}/private",
            ws_api=f"{ws}/ws-fapi/v1",
        )


_URLS: dict[Environment, Urls] = {
    Environment.MAINNET: Urls(
        rest="https://fapi.binance.com",
        ws_public="wss://fstream.binance.com/public",
        ws_market="wss://fstream.binance.com/market",
        ws_private="wss://fstream.binance.com/private",
        ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",
    ),
    Environment.TESTNET: Urls(
        rest="https://testnet.binancefuture.com",
        ws_public="wss://fstream.binancefuture.com/public",
        ws_market="wss://fstream.binancefuture.com/market",
        ws_private="wss://fstream.binancefuture.com/private",
        ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",
    ),
    Environment.DEMO: Urls(
        rest="https://demo-fapi.binance.com",
        ws_public="wss://demo-fstream.binance.com/public",
        ws_market="wss://demo-fstream.binance.com/market",
        ws_private="wss://demo-fstream.binance.com/private",
        ws_api="wss://demo-ws-fapi.binance.com/ws-fapi/v1",
    ),
}

DEFAULT_LOCAL_URL = "http://127.0.0.1:8765"


def urls_for(env: Environment | str, local_url: str | None = None) -> Urls:
    """The URLs of ``env``; LOCAL uses ``local_url`` (default ``http://127.0.0.1:8765``)."""
    try:
        environment = Environment(env)
    except ValueError:
        raise ConfigError(f"unknown environment {env!r}; choose one of {[e.value for e in Environment]}") from None
    if environment is Environment.LOCAL:
        return Urls.local(local_url or DEFAULT_LOCAL_URL)
    return _URLS[environment]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Bounded exponential backoff with jitter, for requests that are safe to repeat.

    ``attempts`` counts all tries (1 = never retry). A backoff is ``base * 2**n`` seconds, capped at
    ``cap``, multiplied by a random factor in ``[1 - jitter, 1]``.
    """

    attempts: int = 3
    base: float = 0.2
    cap: float = 5.0
    jitter: float = 0.5
    max_wait: float = 60.0  # never sleep longer than this for Retry-After; raise instead

    def backoff(self, attempt: int, unit_random: float) -> float:
        """Delay before try ``attempt + 1`` (``attempt`` starts at 0) given a uniform [0, 1) draw."""
        raw = min(self.cap, self.base * float(2**attempt))
        return float(raw * (1.0 - self.jitter * unit_random))


class ClientConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of a REST client.

    Parameters
    ----------
    recv_window : ms a signed request stays valid (Binance default 5000, max 60000)
    timeout : seconds for a whole request
    retry : what to retry and how
    validate_filters : check price/quantity against exchangeInfo before sending orders
    sync_time : measure the server-time offset before the first signed call
    weight_headroom : fraction of the per-minute weight limit the client allows itself
    """

    recv_window: int = 5000
    timeout: float = 10.0
    retry: RetryPolicy = RetryPolicy()
    validate_filters: bool = True
    sync_time: bool = True
    weight_headroom: float = 0.95
    client_order_prefix: str = "binfut-"


def load_env(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The process environment (or ``env`` when given): the single place binfut reads it."""
    return os.environ if env is None else env
