"""Secrets never appear in reprs, strings, logs, pickles or exceptions."""

from __future__ import annotations

import logging
import pickle

import pytest

from binfut.credentials import Credentials
from binfut.errors import ConfigError

SECRET = "S3CR3T-2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"


def test_repr_and_str_hide_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    creds = Credentials("my-api-key-123456", SECRET)

    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("creds %s %r", creds, creds)

    for text in (repr(creds), str(creds), repr(creds.signer), caplog.text, f"{creds}"):
        assert SECRET not in text
        assert "S3CR3T" not in text
    assert "HMAC" in repr(creds)


def test_credentials_refuse_pickling() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Credentials("k" * 10, SECRET))


def test_from_env_reads_binfut_variables() -> None:
    creds = Credentials.from_env({"BINFUT_API_KEY": "abc", "BINFUT_API_SECRET": SECRET})

    assert creds is not None and creds.api_key == "abc"
    assert Credentials.from_env({}) is None
    with pytest.raises(ConfigError, match="BINFUT_API_SECRET"):
        Credentials.from_env({"BINFUT_API_KEY": "abc"})


def test_empty_secret_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="secret"):
        Credentials("abc", "")
