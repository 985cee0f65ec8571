"""Fixtures for client behaviour tests: the scripted server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.scenario import ScenarioServer, running_server


@pytest.fixture
def server() -> Iterator[ScenarioServer]:
    yield from running_server()
