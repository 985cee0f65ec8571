"""Stream-name grammar of USD-M market streams: which names exist and what each one carries.

Pure: a name is parsed into a :class:`StreamSpec` or rejected. Rules kept here (Binance's):
- a name is ``<symbol>@<suffix>``; the symbol part is case-insensitive (frames always show it in
  lower case), the suffix is case-sensitive (``kline_1m`` is a minute, ``kline_1M`` a month);
- diff depth exists at 250 ms (the default, ``@depth``), ``@100ms``, ``@500ms`` and ``@0ms``
  (real time); partial depth ``@depth5/10/20`` at 250 ms (default), ``@100ms`` or ``@500ms``;
- mark price is pushed every 3 s, or every 1 s with ``@1s``; all-market streams start with ``!``;
- a name without ``@`` made of letters and digits is a listenKey (a user-data stream).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from binfut.enums import KlineInterval

__all__ = ["StreamSpec", "parse_stream"]

_INTERVALS = frozenset(i.value for i in KlineInterval)
# Contract types accepted in continuous-kline names (lower case on the wire).
_CONTRACT_TYPES = frozenset({"perpetual", "current_quarter", "next_quarter", "tradifi_perpetual"})
_SYMBOL = re.compile(r"^[a-z0-9]{2,30}$")
_LISTEN_KEY = re.compile(r"^[A-Za-z0-9]{16,128}$")

# Update cadences in ms (documented "Update Speed" of each stream; 0 = real time).
DIFF_DEPTH_CADENCE = {"": 250, "@100ms": 100, "@500ms": 500, "@0ms": 0}
PARTIAL_DEPTH_CADENCE = {"": 250, "@100ms": 100, "@500ms": 500}
MARK_CADENCE = {"": 3000, "@1s": 1000}

# All-market streams: name -> (kind, cadence ms).
_ALL_MARKET = {
    "!markPrice@arr": ("allMarkPrice", 3000),
    "!markPrice@arr@1s": ("allMarkPrice", 1000),
    "!ticker@arr": ("allTicker", 1000),
    "!miniTicker@arr": ("allMiniTicker", 1000),
    # Binance throttled !bookTicker to one push per 5 s in December 2023.
    "!bookTicker": ("allBookTicker", 5000),
    "!forceOrder@arr": ("allForceOrder", 1000),
}

# Single-symbol streams without parameters: suffix -> (kind, cadence ms).
_SIMPLE = {
    "aggTrade": ("aggTrade", 0),
    "trade": ("trade", 0),
    "miniTicker": ("miniTicker", 500),
    "ticker": ("ticker", 2000),
    "bookTicker": ("bookTicker", 0),
    # Liquidation snapshots: the latest liquidation per symbol within each 1000 ms.
    "forceOrder": ("forceOrder", 1000),
}


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A parsed stream name.

    Attributes
    ----------
    name : the canonical name (as it appears in combined frames)
    kind : ``aggTrade``, ``trade``, ``markPrice``, ``kline``, ``continuousKline``, ``miniTicker``,
        ``ticker``, ``bookTicker``, ``forceOrder``, ``depth``, ``partialDepth``, ``allMarkPrice``,
        ``allTicker``, ``allMiniTicker``, ``allBookTicker``, ``allForceOrder`` or ``user``
    symbol : upper-case symbol (the pair for continuous klines; "" for all-market and user streams)
    cadence_ms : push period (0 = each change as it happens)
    levels : 5, 10 or 20 for partial depth
    interval : kline interval
    contract_type : upper-case contract type of a continuous kline
    """

    name: str
    kind: str
    symbol: str = ""
    cadence_ms: int = 0
    levels: int = 0
    interval: str = ""
    contract_type: str = ""


def parse_stream(raw: str) -> StreamSpec | None:
    """Parse one stream name; ``None`` when Binance has no such stream.

    Parameters
    ----------
    raw : the name as the client sent it (``btcusdt@depth@100ms``, ``!ticker@arr``, a listenKey)

    Returns
    -------
    StreamSpec or None
    """
    if raw in _ALL_MARKET:
        kind, cadence = _ALL_MARKET[raw]
        return StreamSpec(raw, kind, cadence_ms=cadence)
    head, sep, suffix = raw.partition("@")
    if not sep:
        return StreamSpec(raw, "user") if _LISTEN_KEY.match(raw) else None
    head = head.lower()
    if "_" in head:
        return _continuous(head, suffix)
    if not _SYMBOL.match(head):
        return None
    symbol = head.upper()
    name = f"{head}@{suffix}"
    if suffix in _SIMPLE:
        kind, cadence = _SIMPLE[suffix]
        return StreamSpec(name, kind, symbol, cadence)
    if suffix.startswith("markPrice"):
        mark_cadence = MARK_CADENCE.get(suffix[len("markPrice") :])
        return None if mark_cadence is None else StreamSpec(name, "markPrice", symbol, mark_cadence)
    if suffix.startswith("kline_"):
        interval = suffix[len("kline_") :]
        return StreamSpec(name, "kline", symbol, 250, interval=interval) if interval in _INTERVALS else None
    if suffix.startswith("depth"):
        return _depth(name, symbol, suffix[len("depth") :])
    return None


def _depth(name: str, symbol: str, rest: str) -> StreamSpec | None:
    levels, at, speed = rest.partition("@")
    speed = at + speed
    if not levels:
        cadence = DIFF_DEPTH_CADENCE.get(speed)
        return None if cadence is None else StreamSpec(name, "depth", symbol, cadence)
    if levels not in ("5", "10", "20"):
        return None
    cadence = PARTIAL_DEPTH_CADENCE.get(speed)
    return None if cadence is None else StreamSpec(name, "partialDepth", symbol, cadence, levels=int(levels))


def _continuous(head: str, suffix: str) -> StreamSpec | None:
    pair, _, contract = head.partition("_")
    if not _SYMBOL.match(pair) or contract not in _CONTRACT_TYPES or not suffix.startswith("continuousKline_"):
        return None
    interval = suffix[len("continuousKline_") :]
    if interval not in _INTERVALS:
        return None
    return StreamSpec(
        f"{head}@{suffix}", "continuousKline", pair.upper(), 250, interval=interval, contract_type=contract.upper()
    )
