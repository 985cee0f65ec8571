"""API keys and listenKeys of the local exchange: who may call, and which user stream is whose.

Rules kept here:
- an API key maps to exactly one engine account; its key type (HMAC / RSA / ED25519) is detected
  from the key material (a PEM public key names its algorithm, anything else is an HMAC secret);
- a listenKey lives 60 minutes after its creation or last keepalive; ``POST`` while a key is active
  returns the same key and extends it (Binance's rule), ``PUT`` extends it, ``DELETE`` removes it;
- expiry is evaluated on explicit ``now_ms`` (never a clock read here) and every expiry, natural or
  forced by the fault injector, is reported once to the ``on_expire`` callbacks.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from binfut.errors import ConfigError
from binfut.protocol.signing import verify_signature

__all__ = ["AccountRegistry", "ApiAccount", "ListenKeyRegistry", "detect_key_type"]

# Binance API keys are 64 alphanumerics; anything outside this shape is "API-key format invalid".
API_KEY_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_ALNUM = string.ascii_letters + string.digits


def detect_key_type(material: str) -> str:
    """``"RSA"`` / ``"ED25519"`` for a PEM public key, ``"HMAC"`` for anything else.

    Raises
    ------
    ConfigError
        A PEM block that is not an RSA or Ed25519 public key.
    """
    if "-----BEGIN" not in material:
        return "HMAC"
    try:
        key = serialization.load_pem_public_key(material.encode())
    except ValueError:
        raise ConfigError("API key material is a PEM block but not a public key (give the PUBLIC key)") from None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ED25519"
    raise ConfigError(f"unsupported public key type {type(key).__name__}; use RSA or Ed25519")


@dataclass(frozen=True, slots=True)
class ApiAccount:
    """One API key of the exchange and the engine account it trades for.

    Attributes
    ----------
    api_key : the ``X-MBX-APIKEY`` value
    account_id : the engine account id
    key_type : ``"HMAC"``, ``"RSA"`` or ``"ED25519"``
    """

    api_key: str
    account_id: str
    key_type: str
    _material: bytes = field(repr=False)

    def verify(self, payload: bytes, signature: str) -> bool:
        """True when ``signature`` signs ``payload`` with this key (hex HMAC or base64 RSA/Ed25519)."""
        return verify_signature(self.key_type, self._material, payload, signature)


class AccountRegistry:
    """API key -> :class:`ApiAccount`."""

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: dict[str, ApiAccount] = {}

    def add(self, api_key: str, material: str, account_id: str | None = None) -> ApiAccount:
        """Register ``api_key`` (HMAC secret or PEM public key) for ``account_id`` (default: a new one).

        Raises
        ------
        ConfigError
            Bad key format or unusable key material.
        """
        if not API_KEY_FORMAT.match(api_key):
            raise ConfigError("API key must be 1-128 letters, digits, '_' or '-'")
        kind = detect_key_type(material)
        account = ApiAccount(api_key, account_id or f"acct{len(self._by_key) + 1}", kind, material.encode())
        self._by_key[api_key] = account
        return account

    def by_api_key(self, api_key: str) -> ApiAccount | None:
        return self._by_key.get(api_key)

    def by_account_id(self, account_id: str) -> ApiAccount | None:
        for account in self._by_key.values():
            if account.account_id == account_id:
                return account
        return None

    def __iter__(self) -> Iterator[ApiAccount]:
        return iter(tuple(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)


ExpireCallback = Callable[[str, str], None]  # (listen_key, account_id)


class ListenKeyRegistry:
    """Creates, extends, closes and expires listenKeys.

    Parameters
    ----------
    rng : draws the 64-character keys
    ttl_ms : validity after creation / keepalive (Binance: 60 minutes)
    """

    __slots__ = ("_callbacks", "_expires", "_key_of", "_owner", "_rng", "ttl_ms")

    def __init__(self, rng: random.Random, ttl_ms: int = 3_600_000) -> None:
        self._rng = rng
        self.ttl_ms = ttl_ms
        self._owner: dict[str, str] = {}  # key -> account id
        self._key_of: dict[str, str] = {}  # account id -> key
        self._expires: dict[str, int] = {}  # key -> expiry ms
        self._callbacks: list[ExpireCallback] = []

    def create(self, account_id: str, now_ms: int) -> str:
        """Start a user stream: the account's active key (extended) or a new one."""
        self.expire_due(now_ms)
        key = self._key_of.get(account_id)
        if key is None:
            key = "".join(self._rng.choice(_ALNUM) for _ in range(64))
            self._owner[key] = account_id
            self._key_of[account_id] = key
        self._expires[key] = now_ms + self.ttl_ms
        return key

    def keepalive(self, account_id: str, now_ms: int) -> str | None:
        """Extend the account's key by ``ttl_ms``; None when it has no live key (answer -1125)."""
        self.expire_due(now_ms)
        key = self._key_of.get(account_id)
        if key is None:
            return None
        self._expires[key] = now_ms + self.ttl_ms
        return key

    def close(self, account_id: str) -> str | None:
        """Remove the account's key (no expiry event: the owner asked for it)."""
        key = self._key_of.pop(account_id, None)
        if key is not None:
            self._owner.pop(key, None)
            self._expires.pop(key, None)
        return key

    def account_for(self, key: str, now_ms: int) -> str | None:
        """The account of a live ``key`` (None when unknown or expired)."""
        expires = self._expires.get(key)
        if expires is None or expires <= now_ms:
            return None
        return self._owner.get(key)

    def key_for(self, account_id: str) -> str | None:
        return self._key_of.get(account_id)

    def on_expire(self, callback: ExpireCallback) -> Callable[[], None]:
        """Call ``callback(key, account_id)`` when a key expires; returns a remover."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def expire_due(self, now_ms: int) -> list[str]:
        """Expire every key whose time has come; returns the expired keys."""
        due = [key for key, at in self._expires.items() if at <= now_ms]
        for key in due:
            self._expire(key)
        return due

    def force_expire(self, key: str) -> bool:
        """Expire ``key`` now (the ``listen_key_expiry`` fault); False when it is not live."""
        if key not in self._owner:
            return False
        self._expire(key)
        return True

    def live_keys(self) -> dict[str, str]:
        """Live key -> account id."""
        return dict(self._owner)

    def _expire(self, key: str) -> None:
        account_id = self._owner.pop(key)
        self._expires.pop(key, None)
        if self._key_of.get(account_id) == key:
            del self._key_of[account_id]
        for callback in tuple(self._callbacks):
            callback(key, account_id)
