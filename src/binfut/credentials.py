"""API credentials: the key, and a signer built from the secret; nothing here ever prints a secret.

``Credentials.from_env`` reads ``BINFUT_API_KEY`` / ``BINFUT_API_SECRET`` (or ``BINFUT_API_KEY_FILE``
for a PEM private key) through :func:`binfut.config.load_env`, the only place binfut reads the
environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from binfut.errors import ConfigError
from binfut.protocol.signing import Ed25519Signer, HmacSigner, RsaSigner, load_signer

__all__ = ["Credentials"]


class Credentials:
    """An API key and its signer.

    Parameters
    ----------
    api_key : the public API key (sent as ``X-MBX-APIKEY``)
    secret : an HMAC secret, or a PEM private key (RSA or Ed25519), as text or bytes
    password : for an encrypted PEM key
    """

    __slots__ = ("_signer", "api_key")

    def __init__(self, api_key: str, secret: str | bytes, *, password: bytes | None = None) -> None:
        if not api_key:
            raise ConfigError("api_key is empty")
        if not secret:
            raise ConfigError("api secret is empty")
        self.api_key = api_key
        self._signer = load_signer(secret, password=password)

    @classmethod
    def from_key_file(cls, api_key: str, path: str | Path, *, password: bytes | None = None) -> Credentials:
        """Credentials whose private key (RSA / Ed25519 PEM) is read from ``path``."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from None
        return cls(api_key, data, password=password)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """Credentials from ``BINFUT_API_KEY`` and ``BINFUT_API_SECRET`` / ``BINFUT_API_KEY_FILE``."""
        key = env.get("BINFUT_API_KEY")
        if not key:
            return None
        if env.get("BINFUT_API_KEY_FILE"):
            return cls.from_key_file(key, env["BINFUT_API_KEY_FILE"])
        secret = env.get("BINFUT_API_SECRET")
        if not secret:
            raise ConfigError("BINFUT_API_KEY is set but neither BINFUT_API_SECRET nor BINFUT_API_KEY_FILE is")
        return cls(key, secret)

    @property
    def key_type(self) -> str:
        """``"HMAC"``, ``"RSA"`` or ``"ED25519"``, detected from the secret."""
        return self._signer.kind

    @property
    def signer(self) -> HmacSigner | RsaSigner | Ed25519Signer:
        return self._signer

    def sign(self, payload: bytes) -> str:
        return self._signer.sign(payload)

    def __repr__(self) -> str:
        shown = self.api_key[:4] + "…" if len(self.api_key) > 8 else "***"
        return f"Credentials(api_key={shown!r}, key_type={self.key_type}, secret=***)"

    __str__ = __repr__

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("Credentials cannot be pickled (they hold a secret)")
