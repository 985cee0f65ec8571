"""How the local exchange spells numbers in market-stream payloads, and the one encoder for them.

The payload shapes are the protocol's own event Structs (:mod:`binfut.protocol.events`): the exchange
encodes exactly what the client decodes, so each Binance payload is described once. Rules kept here:
- every price and quantity goes out as a JSON string spelt like ``format(value, "f")`` (the text of the
  REST answers): never a float and never an exponent, although ``str`` writes ``0E-8`` for a zero with
  eight decimals, ``5.0E-7`` below 1e-6 and ``1E+1`` for a normalised ten; ``str`` is only the fast path;
- ``str``-typed fields (depth, trades, book ticker) take :func:`text`, ``Decimal``-typed ones (mark
  price, klines, liquidations) :func:`number`, tickers the REST ticker's own strings; ids and times
  stay integers.

References: "Websocket Market Streams" of the USD-M futures API docs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import msgspec

__all__ = ["encode", "number", "text", "text_levels"]


def text(value: Decimal) -> str:
    """``value`` as Binance writes it: ``str`` when that has no exponent (the common case), else fixed-point."""
    spelt = str(value)
    return spelt if "E" not in spelt else format(value, "f")


def number(value: Decimal) -> Decimal:
    """``value`` for a ``Decimal``-typed field: itself when ``str`` writes it plainly, else its :func:`text`.

    The text goes into the field as a ``str``, which msgspec encodes exactly like the Decimal it spells
    (the convention of :func:`binfut.matching.builders.wire`); the Struct is encoded, never read again.
    """
    return value if "E" not in str(value) else cast(Decimal, format(value, "f"))


def text_levels(rows: list[tuple[Decimal, Decimal]]) -> list[tuple[str, str]]:
    """``[price, qty]`` pairs of a depth payload, in the order given (sort the Decimals first)."""
    # The hottest feed: the builtin spells, an exponent (rare) sends the whole list to text().
    out = []
    for price, qty in rows:
        price_text, qty_text = str(price), str(qty)
        if "E" in price_text or "E" in qty_text:
            return [(text(p), text(q)) for p, q in rows]
        out.append((price_text, qty_text))
    return out


_ENCODER = msgspec.json.Encoder()
encode = _ENCODER.encode
"""Encode a payload Struct (or a list of them, for the ``!..@arr`` streams) to JSON bytes."""
