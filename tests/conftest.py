"""Shared by every test: each one starts from Python's default decimal context.

Libraries change the calling thread's context and leave it so (ccxt sets ROUND_HALF_UP and traps
Underflow when it formats a number). binfut computes the same under any context (see
``binfut._money``, pinned by the decimal-context tests); this keeps the tests' own expected values,
computed with plain Decimal maths, independent of the tests that ran before them.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _default_decimal_context() -> Iterator[None]:
    with decimal.localcontext(decimal.Context()):
        yield
