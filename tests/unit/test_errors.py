"""The error tree: every documented code maps to a class; status and Retry-After are honoured."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from binfut import errors as E

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seeds" / "002_8904406b9a7a041b.txt"


def test_every_code_in_the_usdm_docs_maps_to_a_class() -> None:
    if not SEED.exists():
        pytest.skip("shared/seeds is not beside the repo")
    text = SEED.read_text()
    section = text[text.rindex("Error Codes") :]
    documented = {int(m) for m in re.findall(r"^(-\d{4}) [A-Za-z_]+", section, re.M)}

    assert len(documented) > 150
    missing = documented - set(E.API_ERRORS)
    assert not missing, f"codes without a class: {sorted(missing)}"


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, -2019, E.OrderRejected),
        (400, -1021, E.TimestampOutOfWindow),
        (400, -1022, E.BadSignature),
        (401, -2015, E.AuthenticationError),
        (400, -1102, E.InvalidRequest),
        (400, -2013, E.UnknownOrder),
        (429, -1003, E.RateLimited),
        (418, -1003, E.IpBanned),
        (503, -1000, E.ExecutionStatusUnknown),
        (400, -1006, E.ExecutionStatusUnknown),
        (400, -4120, E.OrderRejected),
    ],
)
def test_payloads_become_the_right_class(status: int, code: int, cls: type[E.ApiError]) -> None:
    err = E.error_from_payload(status, {"code": code, "msg": "m"}, endpoint="POST /fapi/v1/order", retry_after=7)

    assert type(err) is cls
    assert err.code == code and err.status == status and err.endpoint == "POST /fapi/v1/order"
    assert f"[{code}]" in str(err) and "POST /fapi/v1/order" in str(err)
    if isinstance(err, E.RateLimited | E.IpBanned):
        assert err.retry_after == 7


def test_the_exchange_side_answers_with_the_status_the_client_classifies() -> None:
    for code, cls in E.API_ERRORS.items():
        status = E.http_status_for(code)
        back = E.error_from_payload(status, {"code": code, "msg": E.default_message(code)})
        assert isinstance(back, E.ApiError)
        if cls in (E.RateLimited, E.IpBanned):
            continue
        assert isinstance(back, cls), (code, cls, type(back))


def test_transport_errors_are_a_separate_branch() -> None:
    assert issubclass(E.ConnectTimeout, E.ConnectError)
    assert issubclass(E.ConnectError, E.TransportError)
    assert issubclass(E.ReadTimeout, TimeoutError)
    assert not issubclass(E.TransportError, E.ApiError)
    assert issubclass(E.FilterViolation, E.LocalProtocolError)


def _binfut_error_classes() -> set[type[E.BinfutError]]:
    """Every subclass of ``BinfutError`` that a binfut module defines (after importing them all)."""
    import binfut

    for info in pkgutil.walk_packages(binfut.__path__, "binfut."):
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            # A module behind a missing optional extra (pandas, typer, ...) is skipped, a broken one is not.
            if (exc.name or "").partition(".")[0] == "binfut":
                raise
    found: set[type[E.BinfutError]] = set()
    todo: list[type[E.BinfutError]] = [E.BinfutError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return {cls for cls in found if cls.__module__.partition(".")[0] == "binfut"}


def test_every_binfut_error_is_defined_in_binfut_errors() -> None:
    classes = _binfut_error_classes()

    assert {E.SubscriptionError, E.ConsumerOverflow, E.RiskRefused, E.DataError, E.StoreWriteError} <= classes
    strays = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in classes if cls.__module__ != "binfut.errors")
    assert not strays, f"define these in binfut/errors.py (and re-export them where they are raised): {strays}"
    undocumented = sorted(cls.__name__ for cls in classes if cls.__name__ not in (E.__doc__ or ""))
    assert not undocumented, f"add these to the tree in binfut.errors' docstring: {undocumented}"
    unexported = sorted(cls.__name__ for cls in classes if cls.__name__ not in E.__all__)
    assert not unexported, f"add these to binfut.errors.__all__: {unexported}"


def test_the_moved_errors_are_still_importable_where_they_are_raised() -> None:
    from binfut import data, stream, trading
    from binfut.data import errors as data_errors
    from binfut.stream import connection, manager
    from binfut.trading import risk

    for module, name in [
        (stream, "SubscriptionError"), (connection, "SubscriptionError"), (stream, "ConsumerOverflow"),
        (manager, "ConsumerOverflow"), (risk, "RiskRefused"), (trading, "RiskRefused"),
        (data, "DataError"), (data, "StoreWriteError"), (data, "ChecksumMismatch"), (data, "ArchiveFormatError"),
        (data_errors, "DataError"), (data_errors, "StoreWriteError"), (data_errors, "ChecksumMismatch"),
        (data_errors, "ArchiveFormatError"),
    ]:
        assert name in module.__all__, f"{module.__name__}.__all__ lacks {name}"
        assert getattr(module, name) is getattr(E, name)
