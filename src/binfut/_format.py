"""Numbers and times as binfut prints them for people: the demo, the dashboard, CLI tables, reports.

One pair of formatters so every screen reads alike: an amount gets thousands separators and a fixed
number of places, a time is UTC wall time from epoch milliseconds, and a missing value prints as ``-``.
The strings are for reading only: nothing here rounds for trading, parses input or reads the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from binfut._money import fmt

__all__ = ["MISSING", "amount", "utc_time"]

MISSING = "-"
"""What a missing value prints as."""


def amount(value: Decimal | float | str | None, places: int = 2) -> str:
    """An amount of USDT, a price or a quantity, rounded for reading, with thousands separators.

    Parameters
    ----------
    value : a number, or a decimal string as Binance sends it (``"-1.62592000"``); ``None`` and ``""``
        are missing
    places : digits after the decimal point (rounded half to even)

    Returns
    -------
    str
        ``"9,996.13"`` for ``Decimal("9996.128064")``, ``"-"`` for a missing value.
    """
    if value is None or value == "":
        return MISSING
    # Strings and ints go through Decimal: exact (an int formatted with "f" would pass through float);
    # floats format as they are, so a NaN from pandas reads "nan" as it does everywhere else.
    number = Decimal(value) if isinstance(value, str | int) else value
    return fmt(number, f",.{places}f")  # half to even whatever the caller's decimal context (ccxt: HALF_UP)


def utc_time(ms: int | None, *, date: bool = True, seconds: bool = True) -> str:
    """Epoch milliseconds as UTC wall time: ``2023-11-14 22:13:20``.

    Parameters
    ----------
    ms : epoch milliseconds; ``None`` is missing
    date : lead with the date (``YYYY-MM-DD``); without it, only the time of day
    seconds : end with the seconds (``HH:MM:SS``); without them, ``HH:MM``

    Returns
    -------
    str
        ``"2023-11-14 22:13:20"``, ``"22:13"`` with ``date=False, seconds=False``, ``"-"`` for ``None``.
    """
    if ms is None:
        return MISSING
    fmt = ("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M")
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)
