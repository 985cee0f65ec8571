"""Request signers: HMAC-SHA256, RSA (PKCS#1 v1.5, SHA-256) and Ed25519, and key-type detection.

A signer turns the exact bytes of the query string / body into the ``signature`` parameter. HMAC
gives lowercase hex; RSA and Ed25519 give base64 (which the request builder percent-encodes). The
secret material lives only inside the signer object and never appears in its repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from binfut.errors import ConfigError

__all__ = [
    "Ed25519Signer",
    "HmacSigner",
    "RsaSigner",
    "Signer",
    "load_signer",
    "verify_signature",
]


class Signer(Protocol):
    """Signs a payload; ``kind`` is ``"HMAC"``, ``"RSA"`` or ``"ED25519"``."""

    kind: str

    def sign(self, payload: bytes) -> str: ...


class HmacSigner:
    """HMAC-SHA256 over the payload, hex-encoded (Binance's classic API secret)."""

    __slots__ = ("_key",)
    kind = "HMAC"

    def __init__(self, secret: str | bytes) -> None:
        self._key = secret.encode() if isinstance(secret, str) else bytes(secret)

    def sign(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "HmacSigner(secret=***)"


class RsaSigner:
    """RSASSA-PKCS1-v1_5 with SHA-256, base64-encoded."""

    __slots__ = ("_key",)
    kind = "RSA"

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._key.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()

    def __repr__(self) -> str:
        return f"RsaSigner(bits={self._key.key_size}, key=***)"


class Ed25519Signer:
    """Ed25519 over the payload, base64-encoded (also used for WebSocket API ``session.logon``)."""

    __slots__ = ("_key",)
    kind = "ED25519"

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._key.sign(payload)).decode()

    def __repr__(self) -> str:
        return "Ed25519Signer(key=***)"


def load_signer(secret: str | bytes, *, password: bytes | None = None) -> HmacSigner | RsaSigner | Ed25519Signer:
    """Pick the signer from the key material itself.

    A PEM private key (``-----BEGIN ... PRIVATE KEY-----``) is loaded with ``cryptography`` and gives
    an RSA or Ed25519 signer by its type; anything else is an HMAC secret.

    Raises
    ------
    ConfigError
        The PEM could not be loaded or holds an unsupported key type (the message never echoes it).
    """
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if b"-----BEGIN" not in raw:
        return HmacSigner(raw)
    try:
        key = serialization.load_pem_private_key(raw, password=password)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"could not load the PEM private key ({type(exc).__name__})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigner(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Signer(key)
    raise ConfigError(f"unsupported private key type {type(key).__name__}; use HMAC, RSA or Ed25519")


def verify_signature(kind: str, key_material: str | bytes, payload: bytes, signature: str) -> bool:
    """Check ``signature`` over ``payload`` (the local exchange's side of :func:`load_signer`).

    ``key_material`` is the HMAC secret, or the PEM *public* key for RSA / Ed25519.
    """
    raw = key_material.encode() if isinstance(key_material, str) else bytes(key_material)
    if kind == "HMAC":
        return hmac.compare_digest(HmacSigner(raw).sign(payload), signature.lower())
    try:
        public = serialization.load_pem_public_key(raw)
        sig = base64.b64decode(signature, validate=True)
        if isinstance(public, rsa.RSAPublicKey) and kind == "RSA":
            public.verify(sig, payload, padding.PKCS1v15(), hashes.SHA256())
            return True
        if isinstance(public, ed25519.Ed25519PublicKey) and kind == "ED25519":
            public.verify(sig, payload)
            return True
    except Exception:  # any decode/verify failure is simply "not valid"
        return False
    return False
