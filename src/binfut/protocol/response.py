"""Decoding responses: bytes -> typed model, or the right :class:`~binfut.errors.ApiError`.

Successful bodies decode with a msgspec Decoder for the endpoint's return type; a body that does not
match raises :class:`~binfut.errors.RemoteProtocolError` carrying msgspec's path to the problem.
Error bodies (``{"code", "msg"}``) become the ApiError subclass the code maps to; ``Retry-After`` is
read for 429/418.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from binfut.errors import ApiError, RemoteProtocolError, error_from_payload
from binfut.protocol.request import RawResponse

__all__ = ["DecoderCache", "api_error", "retry_after"]

_error_decoder = msgspec.json.Decoder(dict[str, Any])


def retry_after(headers: Any) -> float | None:
    """The ``Retry-After`` header in seconds, if present and numeric."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def api_error(raw: RawResponse, endpoint: str, client_order_id: str | None = None) -> ApiError:
    """The ApiError for a non-2xx response (an unparsable body still gives a classified error)."""
    try:
        payload = _error_decoder.decode(raw.body) if raw.body else None
    except msgspec.DecodeError:
        payload = None
    return error_from_payload(
        raw.status,
        payload,
        endpoint=endpoint,
        headers=dict(raw.headers),
        retry_after=retry_after(raw.headers),
        client_order_id=client_order_id,
    )


class DecoderCache:
    """One msgspec Decoder per response type, built on first use (kept per client, not global)."""

    __slots__ = ("_decoders",)

    def __init__(self) -> None:
        self._decoders: dict[Any, Callable[[bytes], Any]] = {}

    def for_type(self, tp: Any) -> Callable[[bytes], Any]:
        decode = self._decoders.get(tp)
        if decode is None:
            decode = self._decoders[tp] = _checked(msgspec.json.Decoder(tp).decode)
        return decode


def _checked(decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def run(body: bytes) -> Any:
        try:
            return decode(body)
        except msgspec.ValidationError as exc:
            path = str(exc).rpartition(" - at ")[2] or None
            raise RemoteProtocolError(f"unexpected response shape: {exc}", path=path) from None
        except msgspec.DecodeError as exc:
            raise RemoteProtocolError(f"response is not valid JSON: {exc}") from None

    return run
