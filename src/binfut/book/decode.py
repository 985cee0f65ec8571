"""The two wire shapes the local book consumes, and their fast msgspec decoders.

Owns ``DepthUpdate`` (the ``<symbol>@depth`` stream's ``depthUpdate`` event) and ``DepthSnapshot`` (the
``GET /fapi/v1/depth`` response). Rules kept here:

- Prices and quantities stay ``str``: the book turns them into ticks itself, never via ``float``.
- Readable snake_case attributes map to Binance's one-letter keys with ``msgspec.field(name=...)``; the
  event type ``e`` is the Struct tag, so decoding any other event fails instead of yielding junk.
- Structs are ``frozen`` and ``gc=False`` (they hold no cycles) and carry no behaviour.
- Decode failures surface as :class:`binfut.errors.RemoteProtocolError` carrying msgspec's message.

``binfut.protocol.events`` may re-export ``DepthUpdate``; it lives here so the book depends on nothing else.
"""

from __future__ import annotations

import msgspec

from binfut.errors import RemoteProtocolError

__all__ = ["DepthDecoder", "DepthSnapshot", "DepthUpdate"]

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


def _remote_error(what: str, exc: msgspec.DecodeError) -> RemoteProtocolError:
    """Wrap a msgspec error, keeping its location (``"... - at `$.b[0]`"``) as ``path``."""
    text = str(exc)
    _, sep, where = text.rpartition(" - at `")
    return RemoteProtocolError(f"{what}: {text}", path=where.rstrip("`") if sep else None)
