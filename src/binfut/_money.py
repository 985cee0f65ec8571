"""Decimal results that do not depend on the caller's decimal context: binfut's one rule for it.

``decimal`` rounds with the calling thread's (or task's) context, which others change: ccxt sets
``ROUND_HALF_UP`` and traps Underflow on every thread it formats a number on and never restores them;
a user may set ``prec``.  So, in every binfut module:

* each ``quantize`` / ``to_integral_value`` names its rounding, ``ROUND_HALF_EVEN`` (the default
  context's) unless another is meant -- positionally: the keyword form costs twice as much in C;
* a Decimal printed with fixed places goes through :func:`fmt`; ``normalize`` / ``scaleb`` get :data:`MONEY`;
* ``+ - * /`` round to the context's precision (28 digits: money sums and products are exact, quotients
  such as an average entry are rounded at the 28th digit), so the entry points doing such maths --
  the venue's ``execute`` / ``on_market`` / queries / ``Result.value`` and the local exchange's
  ``dispatch_now`` / ``advance`` / ``execute`` / ``on_market`` -- run under :data:`MONEY` when
  :func:`foreign` finds another precision or rounding (one ``getcontext()`` and two compares if not).
  Other traps (``Inexact``) and ``capitals`` are the caller's business and are not checked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    getcontext,
    localcontext,
)
from typing import Final, ParamSpec, TypeVar

__all__ = ["E8", "MONEY", "div_half_even", "fmt", "foreign", "pinned"]

MONEY: Final = Context(
    prec=28, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999, capitals=1, clamp=0, flags=[],
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
"""Python's default decimal context, spelt out (``decimal.DefaultContext`` itself may be changed).

Used through ``localcontext(MONEY)`` (a copy) or as the context argument of a single operation; the
flags such operations leave on it are never read.
"""

E8: Final = Decimal("0.00000001")
"""The quantum of wallet movements: commissions, PnL, funding, margins (8 decimal places)."""

# module constants (compiled: C statics, not a dict lookup per call)
_PREC: Final[int] = MONEY.prec
_HALF_EVEN: Final[str] = ROUND_HALF_EVEN
_getcontext: Final = getcontext

P = ParamSpec("P")
R = TypeVar("R")


def div_half_even(n: int, d: int) -> int:
    """``n / d`` (``d > 0``) rounded to an integer half to even, as ``ROUND_HALF_EVEN`` rounds."""
    q = n // d  # floor division: 0 <= r < d, so q + r / d is the exact value
    r = n % d  # (not divmod: compiled, that is a generic call returning a tuple; nor n - q * d: a
    # product with a negative factor takes the slow path)
    r2 = r + r
    if r2 > d or (r2 == d and q & 1):
        q += 1
    return q


def foreign() -> bool:
    """Whether the current decimal context's precision or rounding differ from :data:`MONEY`'s."""
    ctx = _getcontext()
    return ctx.prec != _PREC or ctx.rounding != _HALF_EVEN


def pinned(func: Callable[P, R]) -> Callable[P, R]:
    """``func`` run under :data:`MONEY` when the caller's context is :func:`foreign` (else as it is)."""

    @functools.wraps(func)
    def under_money(*args: P.args, **kwargs: P.kwargs) -> R:
        if foreign():
            with localcontext(MONEY):
                return func(*args, **kwargs)
        return func(*args, **kwargs)

    return under_money


def fmt(value: Decimal | float, spec: str) -> str:
    """``format(value, spec)`` rounded half to even whatever the context (``fmt(x, ",.2f")``)."""
    with localcontext(MONEY):
        return format(value, spec)
