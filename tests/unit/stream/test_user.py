"""UserDataStreamThread without an exchange: a start that fails ends its thread and closes its client."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from binfut.client.async_client import AsyncClient
from binfut.protocol.request import PreparedRequest, RawResponse
from binfut.stream.user import UserDataStreamThread


class SilentTransport:
    """An exchange that never answers; records that it was closed, and on which thread."""

    def __init__(self) -> None:
        self.closed_on: str | None = None

    async def handle(self, request: PreparedRequest) -> RawResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        self.closed_on = threading.current_thread().name


def _alive() -> bool:
    return any(t.name == "binfut-userstream" for t in threading.enumerate())


def test_a_start_that_times_out_raises_and_leaves_no_thread_or_open_client() -> None:
    transport = SilentTransport()
    made = lambda: AsyncClient("k", "s", env="local", transport=transport)  # noqa: E731
    stream = UserDataStreamThread(made)

    with pytest.raises(RuntimeError, match="did not start") as failed:
        stream.start(timeout=0.3)

    assert isinstance(failed.value.__cause__, TimeoutError)
    assert transport.closed_on == "binfut-userstream" and not _alive()
    assert stream.get(timeout=0) is None  # iteration ends
    stream.stop()  # idempotent


def test_a_client_factory_that_fails_fails_the_start_at_once() -> None:
    def made() -> AsyncClient:
        raise ValueError("no credentials")

    began = time.monotonic()
    with pytest.raises(RuntimeError, match="did not start") as failed:
        UserDataStreamThread(made).start(timeout=5)

    assert isinstance(failed.value.__cause__, ValueError) and time.monotonic() - began < 2 and not _alive()
