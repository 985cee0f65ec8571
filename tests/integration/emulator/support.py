"""Helpers of the REST-side local-exchange tests: keys made with ``cryptography``, a signing HTTP client.

The client signs exactly as Binance documents (HMAC-SHA256 hex, RSA PKCS#1 v1.5 SHA-256 base64,
Ed25519 base64 over the query string / body) with its own code, independent of binfut's signers, so
the tests check the server against the protocol rather than against itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import msgspec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from yarl import URL

from binfut.protocol.endpoints import BY_NAME

START_NS = 1_720_000_000_000_000_000  # 2024-07-03 09:46:40 UTC
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class TestKey:
    """An API key: ``material`` goes into the exchange config, ``private`` signs requests."""

    api_key: str
    kind: str
    material: str
    private: Any  # HMAC secret (str) or a cryptography private key

    def sign(self, payload: str) -> str:
        data = payload.encode()
        if self.kind == "HMAC":
            return hmac.new(self.private.encode(), data, hashlib.sha256).hexdigest()
        if self.kind == "RSA":
            return base64.b64encode(self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()
        return base64.b64encode(self.private.sign(data)).decode()


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(64))


def make_key(kind: str, seed: int) -> TestKey:
    rng = random.Random(seed)
    if kind == "HMAC":
        secret = _name(rng)
        return TestKey(_name(rng), kind, secret, secret)
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RSA"
        else ed25519.Ed25519PrivateKey.generate()
    )
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return TestKey(_name(rng), kind, pem, private)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class Api:
    """Signed HTTP calls against a local exchange.

    Parameters
    ----------
    base : ``http://127.0.0.1:PORT``
    http : the aiohttp session
    key : the API key used for keyed endpoints
    now_ms : the server time to stamp ``timestamp`` with
    """

    def __init__(self, base: str, http: aiohttp.ClientSession, key: TestKey, now_ms: Any) -> None:
        self.base = base
        self.http = http
        self.key = key
        self.now_ms = now_ms

    def query(self, params: dict[str, Any], *, signed: bool, timestamp: int | None = None, recv_window: int | None = None,
              tamper: bool = False) -> str:  # fmt: skip
        wire = {k: _wire(v) for k, v in params.items() if v is not None}
        if signed:
            if recv_window is not None:
                wire["recvWindow"] = str(recv_window)
            wire["timestamp"] = str(self.now_ms() if timestamp is None else timestamp)
        text = urlencode(wire)
        if signed:
            sig = self.key.sign(text)
            if tamper:  # the payload changes after signing: the signature no longer matches
                text = f"{text}&tampered=1"
            text = f"{text}&signature={quote(sig, safe='')}"
        return text

    async def raw(self, method: str, path: str, query: str = "", body: str | None = None, *, key: str | None = "default",
                  headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
        hdrs = dict(headers or {})
        if key == "default":
            hdrs["X-MBX-APIKEY"] = self.key.api_key
        elif key is not None:
            hdrs["X-MBX-APIKEY"] = key
        if body is not None:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        url = f"{self.base}{path}?{query}" if query else f"{self.base}{path}"
        # encoded=True: send the query exactly as signed (yarl would otherwise re-normalise it)
        async with self.http.request(method, URL(url, encoded=True), data=body, headers=hdrs, timeout=TIMEOUT) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, await resp.read())

    async def call(
        self, name: str, params: dict[str, Any] | None = None, *, in_body: bool = False, **sign: Any
    ) -> Reply:
        """Call endpoint ``name`` of the table, signed when its security says so."""
        ep = BY_NAME[name]
        text = self.query(params or {}, signed=ep.security.signed, **sign)
        key = "default" if ep.security.needs_key else None
        if in_body and ep.method != "GET":
            return await self.raw(ep.method, ep.path, "", text, key=key)
        return await self.raw(ep.method, ep.path, text, key=key)


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return msgspec.json.encode(value).decode()
    return str(value)


def assert_error(reply: Reply, code: int | None = None, status: int | None = None) -> dict[str, Any]:
    """The reply is a Binance error body (and has ``code`` / ``status`` when given)."""
    body = reply.json
    assert isinstance(body, dict) and set(body) == {"code", "msg"}, body
    assert isinstance(body["code"], int) and body["code"] < 0 and isinstance(body["msg"], str) and body["msg"], body
    if code is not None:
        assert body["code"] == code, body
    if status is not None:
        assert reply.status == status, (reply.status, body)
    return body  # type: ignore[no-any-return]
