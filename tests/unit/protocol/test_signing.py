"""Signing: the doc's HMAC vector, RSA and Ed25519 verified with cryptography, key-type detection."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from binfut.credentials import Credentials
from binfut.errors import ConfigError
from binfut.protocol.signing import load_signer, verify_signature

# From the USD-M docs, "SIGNED Endpoint Examples for POST /fapi/v1/order - HMAC Keys".
DOC_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_PAYLOAD = b"symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"
DOC_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _public_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_hmac_reproduces_the_documented_signature() -> None:
    creds = Credentials(DOC_KEY, DOC_SECRET)

    assert creds.key_type == "HMAC"
    assert creds.sign(DOC_PAYLOAD) == DOC_SIGNATURE
    assert verify_signature("HMAC", DOC_SECRET, DOC_PAYLOAD, DOC_SIGNATURE)
    assert not verify_signature("HMAC", DOC_SECRET, DOC_PAYLOAD + b"&x=1", DOC_SIGNATURE)


def test_rsa_pkcs1v15_sha256_verifies_with_cryptography() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = load_signer(_pem(key).decode())

    signature = signer.sign(DOC_PAYLOAD)

    assert signer.kind == "RSA"
    key.public_key().verify(base64.b64decode(signature), DOC_PAYLOAD, padding.PKCS1v15(), hashes.SHA256())
    assert verify_signature("RSA", _public_pem(key), DOC_PAYLOAD, signature)
    assert not verify_signature("RSA", _public_pem(key), DOC_PAYLOAD[:-1], signature)


def test_ed25519_verifies_with_cryptography() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    creds = Credentials("k" * 64, _pem(key))

    signature = creds.sign(DOC_PAYLOAD)

    assert creds.key_type == "ED25519"
    key.public_key().verify(base64.b64decode(signature), DOC_PAYLOAD)
    assert verify_signature("ED25519", _public_pem(key), DOC_PAYLOAD, signature)
    assert not verify_signature("RSA", _public_pem(key), DOC_PAYLOAD, signature)


def test_broken_pem_is_a_config_error_that_does_not_echo_the_key() -> None:
    bad = "-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n"

    with pytest.raises(ConfigError) as info:
        load_signer(bad)

    assert "TOPSECRETMATERIAL" not in str(info.value)
