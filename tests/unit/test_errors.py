"""The error tree: every documented code maps to a class; status and Retry-After are honoured."""

from __future__ import annotations

import copy
import errno
import importlib
import pickle
import pkgutil
import re
from decimal import Decimal
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


def _examples() -> list[E.BinfutError]:
    """One instance of every class of the tree, with its optional attributes set where it has some."""
    return [
        E.BinfutError("root"), E.ConfigError("no key"),
        E.TransportError("reset"), E.ConnectError("refused"), E.ConnectTimeout("slow"), E.ReadTimeout("no answer"),
        E.WebSocketClosed("closed by peer", code=1006),
        E.ProtocolError("odd"), E.LocalProtocolError("forbidden"),
        E.FilterViolation("price", Decimal("0.05"), "PRICE_FILTER tickSize=0.10", symbol="BTCUSDT"),
        E.RemoteProtocolError("bad frame", path="$.data[0].p"),
        E.SubscriptionError(2, "Invalid request"), E.ConsumerOverflow("behind"), E.RiskRefused("max position"),
        E.DataError("store"), E.StoreWriteError("/data/x.parquet", OSError(errno.ENOSPC, "No space left")),
        E.ChecksumMismatch("/data/a.zip", "ab" * 32, "cd" * 32), E.ArchiveFormatError("/data/b.zip", "no header"),
        E.ApiError(-1130, "Data sent for parameter 'side' is not valid.", status=400, endpoint="POST /fapi/v1/order",
                   headers={"x-mbx-used-weight-1m": "7"}),
        E.RateLimited(retry_after=12.5, endpoint="GET /fapi/v1/klines"), E.IpBanned(retry_after=60.0),
        E.BanInForce(30.0, endpoint="GET /fapi/v1/depth"), E.TimestampOutOfWindow(-1021, "Timestamp outside recvWindow."),
        E.AuthenticationError(-2015, "Invalid API-key."), E.BadSignature(-1022, "Signature invalid."),
        E.InvalidRequest(-1102, "Mandatory parameter 'price' was not sent."),
        E.OrderRejected(-2019, "Margin is insufficient.", endpoint="POST /fapi/v1/order"),
        E.UnknownOrder(-2011, "Unknown order sent."), E.ExecutionStatusUnknown(client_order_id="bf-1", status=503),
    ]


def test_every_error_survives_pickle_and_copy_whole() -> None:
    examples = _examples()
    assert {type(e) for e in examples} == _binfut_error_classes() | {E.BinfutError}  # a new class needs an example

    for err in examples:
        for back in (pickle.loads(pickle.dumps(err)), copy.copy(err), copy.deepcopy(err)):
            assert type(back) is type(err)
            assert (str(back), repr(back), back.args, vars(back)) == (str(err), repr(err), err.args, vars(err))
            if isinstance(err, E.ApiError):
                assert (back.code, back.msg, back.status, back.endpoint, dict(back.headers)) == (
                    err.code, err.msg, err.status, err.endpoint, dict(err.headers))
            if isinstance(err, OSError):
                assert (back.errno, back.strerror) == (err.errno, err.strerror)


def test_an_api_error_says_where_and_what_and_reprs_as_its_call() -> None:
    err = E.OrderRejected(-2019, "Margin is insufficient.", endpoint="POST /fapi/v1/order")

    assert str(err) == "[-2019] Margin is insufficient. (POST /fapi/v1/order, HTTP 400)"
    assert repr(err) == "OrderRejected(-2019, 'Margin is insufficient.')" and err.args == (-2019, "Margin is insufficient.")
    assert dict(err.headers) == {} and dict(E.UnknownOrder(-2011, "x", headers={"a": "1"}).headers) == {"a": "1"}
    assert str(E.ExecutionStatusUnknown(client_order_id="bf-1")).endswith("(HTTP 503); clientOrderId=bf-1")
