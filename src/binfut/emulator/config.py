"""Configuration of the local exchange: one frozen :class:`EmulatorConfig`, and API-key generation.

Rules kept here: the config is data (a frozen msgspec Struct with ``forbid_unknown_fields``, so a typo
in a config file is an error), it is never read from the environment here (``binfut.config`` owns
that), and key generation takes its randomness from an injected ``random.Random`` for the key names
and HMAC secrets (RSA / Ed25519 key pairs come from ``cryptography``'s own CSPRNG).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from decimal import Decimal

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

__all__ = ["DEFAULT_EMULATOR_SYMBOLS", "EmulatorConfig", "GeneratedKey", "generate_api_key"]

DEFAULT_EMULATOR_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")

_ALNUM = string.ascii_letters + string.digits


class EmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of one local exchange.

    Parameters
    ----------
    host, port : where the REST / WebSocket server listens (port 0 picks a free port)
    api_keys : API key -> key material: an HMAC secret, or the PEM *public* key of an RSA or
        Ed25519 key pair (the type is detected from the PEM). Each key gets its own account.
    balance : initial USDT wallet balance of every API account
    seed : seed of the simulator, the fault injector and id generators
    speed : simulated seconds per real second (the ``ScaledClock`` factor)
    start_time_ms : simulated epoch ms at start (None: the real time when the clock is built)
    symbols : symbols listed by the exchange (a subset of the engine's instrument specs)
    faults_file : YAML or JSON fault rules (see :mod:`binfut.emulator.faults`)
    faults_log : file that every fired fault is appended to as one JSON line (None: memory only)
    weight_limit_1m : REQUEST_WEIGHT per IP per minute (Binance: 2400)
    order_limit_10s, order_limit_1m : ORDERS per account per 10 s / per minute (300 / 1200)
    ban_after : 429 answers tolerated inside one minute window before the IP is banned (418)
    ban_seconds : length of the first ban; each further ban doubles it, capped at 3 days
    simulate : run the synthetic market (liquidity providers and takers)
    sim_step_ms : simulated ms between two simulator steps
    replay_file : a recorded data file to replay instead of the synthetic market
    history_days : days of seeded market history (klines of every kind, funding, statistics) generated
        before the start, ending where the live simulator begins (see :mod:`binfut.emulator.history`)
    listen_key_ttl_ms : validity of a listenKey after its creation / last keepalive (60 min)
    max_recv_window_ms : largest ``recvWindow`` accepted (Binance: 60000)
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_keys: dict[str, str] = {}
    balance: Decimal = Decimal("100000")
    seed: int = 0
    speed: float = 1.0
    start_time_ms: int | None = None
    symbols: tuple[str, ...] = DEFAULT_EMULATOR_SYMBOLS
    faults_file: str | None = None
    faults_log: str | None = None
    weight_limit_1m: int = 2400
    order_limit_10s: int = 300
    order_limit_1m: int = 1200
    ban_after: int = 5
    ban_seconds: int = 120
    simulate: bool = True
    sim_step_ms: int = 250
    replay_file: str | None = None
    history_days: float = 0.0
    listen_key_ttl_ms: int = 3_600_000
    max_recv_window_ms: int = 60_000

    def with_keys(self, **extra: str) -> EmulatorConfig:
        """A copy with ``extra`` API keys (key=material) added."""
        return msgspec.structs.replace(self, api_keys={**self.api_keys, **extra})


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A freshly generated API key.

    Attributes
    ----------
    api_key : the public key name clients send as ``X-MBX-APIKEY``
    kind : ``"HMAC"``, ``"RSA"`` or ``"ED25519"``
    client_secret : what the client signs with (HMAC secret, or PEM private key)
    server_material : what the exchange verifies with (HMAC secret, or PEM public key); put it in
        :attr:`EmulatorConfig.api_keys`
    """

    api_key: str
    kind: str
    client_secret: str
    server_material: str

    def __repr__(self) -> str:
        return f"GeneratedKey(api_key={self.api_key[:6]}…, kind={self.kind}, secrets=***)"


def generate_api_key(kind: str = "HMAC", *, rng: random.Random) -> GeneratedKey:
    """Generate an API key of ``kind`` (HMAC, RSA or ED25519).

    Parameters
    ----------
    kind : key type; RSA keys are 2048-bit
    rng : names the key (64 alphanumerics, like Binance's) and draws the HMAC secret

    Returns
    -------
    GeneratedKey

    Raises
    ------
    ValueError
        ``kind`` is not one of the three types.
    """
    kind = kind.upper()
    api_key = "".join(rng.choice(_ALNUM) for _ in range(64))
    if kind == "HMAC":
        secret = "".join(rng.choice(_ALNUM) for _ in range(64))
        return GeneratedKey(api_key, kind, secret, secret)
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if kind == "RSA":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ED25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unknown key kind {kind!r}; use HMAC, RSA or ED25519")
    pem_private = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pem_public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return GeneratedKey(api_key, kind, pem_private, pem_public)
