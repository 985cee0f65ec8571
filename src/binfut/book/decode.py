"""The two wire shapes the local book consumes, their fast msgspec decoders, and the snapshot converter.

Owns ``DepthUpdate`` (the ``<symbol>@depth`` stream's ``depthUpdate`` event) and ``DepthSnapshot`` (the
``GET /fapi/v1/depth`` response), and :func:`depth_snapshot`, the one place any form of that response
(the REST client's model, a mapping, the raw body) becomes a ``DepthSnapshot``. Rules kept here:

- Prices and quantities stay ``str``: the book turns them into ticks itself, never via ``float``; a
  ``Decimal`` becomes its plain digits (``"0.00000001"``, never ``"1E-8"``), trailing zeros kept.
- Readable snake_case attributes map to Binance's one-letter keys with ``msgspec.field(name=...)``; the
  event type ``e`` is the Struct tag, so decoding any other event fails instead of yielding junk.
- Structs are ``frozen`` and ``gc=False`` (they hold no cycles) and carry no behaviour.
- Decode failures surface as :class:`binfut.errors.RemoteProtocolError` carrying msgspec's message.

``binfut.protocol.events`` may re-export ``DepthUpdate``; it lives here so the book depends on no stream
code. The book knows the REST response models (sans-IO data), never a client or transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias

import msgspec

from binfut.errors import RemoteProtocolError
from binfut.protocol.models.market import OrderBook as _DepthModel

__all__ = ["DepthDecoder", "DepthSnapshot", "DepthUpdate", "SnapshotLike", "depth_snapshot"]

PriceLevel = tuple[str, str]
"""One ``[price, qty]`` pair as Binance sends it."""


class DepthUpdate(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="e", tag="depthUpdate"):
    """A diff event of the ``<symbol>@depth[@100ms|@500ms|@0ms]`` stream.

    Attributes
    ----------
    event_time_ms : int
        ``E``, when Binance emitted the event.
    transaction_time_ms : int
        ``T``, the matching-engine time of the last update in it.
    symbol : str
        ``s``.
    first_update_id : int
        ``U``, first update id in the event.
    final_update_id : int
        ``u``, final update id in the event.
    prev_final_update_id : int
        ``pu``, the previous event's ``u``: the chain the local book checks.
    bids, asks : list of (price, qty)
        ``b`` / ``a``: absolute quantities; ``"0"`` removes the level.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Diff-Book-Depth-Streams
    """

    event_time_ms: int = msgspec.field(name="E")
    transaction_time_ms: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    first_update_id: int = msgspec.field(name="U")
    final_update_id: int = msgspec.field(name="u")
    prev_final_update_id: int = msgspec.field(name="pu")
    bids: list[PriceLevel] = msgspec.field(name="b")
    asks: list[PriceLevel] = msgspec.field(name="a")


class DepthSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The ``GET /fapi/v1/depth`` response.

    Attributes
    ----------
    last_update_id : int
        ``lastUpdateId``: the snapshot includes every update up to this id.
    event_time_ms, transaction_time_ms : int
        ``E`` and ``T`` (0 when absent).
    bids, asks : list of (price, qty)

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book
    """

    last_update_id: int = msgspec.field(name="lastUpdateId")
    event_time_ms: int = msgspec.field(name="E", default=0)
    transaction_time_ms: int = msgspec.field(name="T", default=0)
    bids: list[PriceLevel]
    asks: list[PriceLevel]


SnapshotLike: TypeAlias = DepthSnapshot | _DepthModel | Mapping[str, Any] | bytes | str
"""A ``GET /fapi/v1/depth`` answer in any form :func:`depth_snapshot` accepts."""


class _Combined(msgspec.Struct, frozen=True, gc=False):
    """The ``/stream?streams=...`` envelope around each event."""

    stream: str
    data: DepthUpdate


# Binance writes the envelope key first and without spaces; anything else takes the slower fallback.
_COMBINED_PREFIX = b'{"stream"'


class DepthDecoder:
    """Decode ``depthUpdate`` frames, raw or wrapped in the combined-stream envelope, and snapshots.

    One instance may be shared; it holds only msgspec decoders.
    """

    __slots__ = ("_combined", "_plain", "_snapshot")

    def __init__(self) -> None:
        self._plain = msgspec.json.Decoder(DepthUpdate)
        self._combined = msgspec.json.Decoder(_Combined)
        self._snapshot = msgspec.json.Decoder(DepthSnapshot)

    def decode(self, frame: bytes | str) -> DepthUpdate:
        """Decode one stream frame.

        Parameters
        ----------
        frame : bytes | str
            ``{"e":"depthUpdate",...}`` or ``{"stream":"btcusdt@depth","data":{...}}``.

        Returns
        -------
        DepthUpdate

        Raises
        ------
        RemoteProtocolError
            If the frame is not valid JSON or not a ``depthUpdate``.
        """
        try:
            if frame[:9] == (_COMBINED_PREFIX if isinstance(frame, bytes) else '{"stream"'):
                return self._combined.decode(frame).data
            try:
                return self._plain.decode(frame)
            except msgspec.ValidationError:
                return self._combined.decode(frame).data  # an envelope written with unusual spacing
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            raise _remote_error("bad depthUpdate frame", exc) from exc

    def decode_snapshot(self, body: bytes | str) -> DepthSnapshot:
        """Decode a ``GET /fapi/v1/depth`` response body.

        Raises
        ------
        RemoteProtocolError
            If the body is not a depth snapshot.
        """
        try:
            return self._snapshot.decode(body)
        except msgspec.DecodeError as exc:
            raise _remote_error("bad depth snapshot", exc) from exc


def depth_snapshot(answer: SnapshotLike, *, decoder: DepthDecoder | None = None) -> DepthSnapshot:
    """A ``GET /fapi/v1/depth`` answer as the book takes it.

    Parameters
    ----------
    answer : SnapshotLike
        A :class:`DepthSnapshot` (returned as is); what ``Client.depth`` / ``AsyncClient.depth`` return
        (:class:`binfut.protocol.models.OrderBook`, ``Decimal`` levels); a mapping with Binance's keys
        (``lastUpdateId``, ``E``, ``T``, ``bids``, ``asks``), e.g. ``json.loads`` of the body; or the raw
        response body as ``bytes`` / ``str``.
    decoder : DepthDecoder | None
        Decoder for a raw body; a new one when ``None``.

    Returns
    -------
    DepthSnapshot
        Prices and quantities as exact decimal strings (``Decimal("7.6110")`` gives ``"7.6110"``).

    Raises
    ------
    RemoteProtocolError
        If a raw body or a mapping is not a depth snapshot (msgspec's location as ``path``).
    TypeError
        If ``answer`` is none of the accepted types.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book
    """
    if isinstance(answer, DepthSnapshot):
        return answer
    if isinstance(answer, _DepthModel):
        # The client decoded the strings into Decimals exactly; turn them back without losing a digit.
        return DepthSnapshot(
            last_update_id=answer.last_update_id,
            event_time_ms=answer.event_time_ms,
            transaction_time_ms=answer.transaction_time_ms,
            bids=[(_text(price), _text(qty)) for price, qty in answer.bids],
            asks=[(_text(price), _text(qty)) for price, qty in answer.asks],
        )
    if isinstance(answer, bytes | str):
        return (decoder if decoder is not None else DepthDecoder()).decode_snapshot(answer)
    if isinstance(answer, Mapping):
        return _from_mapping(answer)
    kind = type(answer)
    raise TypeError(
        f"not a depth snapshot: {kind.__module__}.{kind.__qualname__}; expected a DepthSnapshot, the "
        "binfut.protocol.models.OrderBook that Client.depth returns, a mapping with Binance's keys "
        "or the raw bytes/str body"
    )


def _text(value: Decimal) -> str:
    """Plain digits: ``format(..., "f")`` never writes an exponent and keeps trailing zeros."""
    return format(value, "f")


def _from_mapping(answer: Mapping[str, Any]) -> DepthSnapshot:
    data = dict(answer)
    for side in ("bids", "asks"):
        levels = data.get(side)
        if isinstance(levels, list | tuple):
            # Only Decimals are rewritten; any other non-string (a float) is left for msgspec to refuse.
            data[side] = [
                [_text(v) if isinstance(v, Decimal) else v for v in level] if isinstance(level, list | tuple) else level
                for level in levels
            ]
    try:
        return msgspec.convert(data, DepthSnapshot)
    except msgspec.ValidationError as exc:
        raise _remote_error("bad depth snapshot", exc) from exc


def _remote_error(what: str, exc: msgspec.DecodeError) -> RemoteProtocolError:
    """Wrap a msgspec error, keeping its location (``"... - at `$.b[0]`"``) as ``path``."""
    text = str(exc)
    _, sep, where = text.rpartition(" - at `")
    return RemoteProtocolError(f"{what}: {text}", path=where.rstrip("`") if sep else None)
