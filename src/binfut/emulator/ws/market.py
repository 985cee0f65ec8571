"""Stream connections (``/ws``, ``/ws/<names>``, ``/stream?streams=``) and their control messages.

Rules kept here ("Websocket Market Streams", "Live Subscribing/Unsubscribing to streams"):
- ``/ws/...`` starts with ``combined=false`` (raw payloads), ``/stream`` with ``combined=true``
  (``{"stream":..,"data":..}``); SET_PROPERTY can change that later;
- control messages are JSON objects ``{"method","params","id"}`` with methods SUBSCRIBE, UNSUBSCRIBE,
  LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY; success answers ``{"result":..,"id":..}``, errors
  ``{"error":{"code","msg"},"id":..}`` with Binance's codes: 0 unknown property, 1 bad value type,
  2 invalid request, 3 invalid JSON;
- ``id`` must be an unsigned integer; a string id (at most 36 characters) is also accepted, because
  the official SDK sends UUIDs and fstream answers them;
- at most 1024 streams per connection and 10 incoming messages per second (then a disconnect);
- names in the URL that are not streams are ignored (the connection stays open, as on fstream).
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from binfut.emulator.ws.hub import MAX_STREAMS, WS_HUB_KEY, StreamHub
from binfut.emulator.ws.names import StreamSpec, parse_stream
from binfut.emulator.ws.session import Session

__all__ = ["ControlError", "handle_control", "stream_handler"]

_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class ControlError(Exception):
    """A control request Binance answers with ``{"error":{"code","msg"},"id"}``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _invalid(msg: str) -> ControlError:
    return ControlError(2, f"Invalid request: {msg}")


def _request_id(raw: Any) -> int | str:
    # bool is an int subclass in Python; JSON true/false is not an id.
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 2**64:
        return raw
    if isinstance(raw, str) and 0 < len(raw) <= 36:
        return raw
    raise _invalid("request ID must be an unsigned integer")


def _stream_names(params: Any) -> list[str]:
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise _invalid("params must be an array of stream names")
    return params


def parse_names(names: list[str]) -> tuple[list[StreamSpec], list[str]]:
    """Parse stream names; returns (valid specs, invalid names)."""
    specs: list[StreamSpec] = []
    bad: list[str] = []
    for name in names:
        spec = parse_stream(name)
        if spec is None:
            bad.append(name)
        else:
            specs.append(spec)
    return specs, bad


def handle_control(hub: StreamHub, session: Session, text: str | bytes) -> bytes:
    """Execute one control message; returns the JSON reply."""
    request_id: int | str | None = None
    try:
        try:
            message = _decode(text)
        except msgspec.DecodeError as exc:
            raise ControlError(3, f"Invalid JSON: {exc}") from None
        if not isinstance(message, dict):
            raise _invalid("expected a JSON object")
        if "method" not in message:
            raise _invalid("missing field `method`")
        method = message["method"]
        if method not in _METHODS:
            expected = ", ".join(f"`{m}`" for m in _METHODS)
            raise _invalid(f"unknown variant `{method}`, expected one of {expected}")
        request_id = _request_id(message.get("id"))
        result = _run(hub, session, method, message.get("params"))
        return _encode({"result": result, "id": request_id})
    except ControlError as exc:
        return _encode({"error": {"code": exc.code, "msg": exc.msg}, "id": request_id})


def _run(hub: StreamHub, session: Session, method: str, params: Any) -> Any:
    if method == "SUBSCRIBE":
        specs, bad = parse_names(_stream_names(params))
        if bad:
            raise _invalid(f"invalid stream name `{bad[0]}`")
        fresh = {s.name for s in specs} - session.streams.keys()
        if len(session.streams) + len(fresh) > MAX_STREAMS:
            raise _invalid(f"too many streams; at most {MAX_STREAMS} per connection")
        hub.subscribe(session, specs)
        return None
    if method == "UNSUBSCRIBE":
        specs, bad = parse_names(_stream_names(params))
        hub.unsubscribe(session, [s.name for s in specs])
        return None
    if method == "LIST_SUBSCRIPTIONS":
        return list(session.streams)
    # SET_PROPERTY / GET_PROPERTY: only the "combined" property exists.
    if not isinstance(params, list) or not params:
        raise _invalid("property name must be a string")
    name = params[0]
    if not isinstance(name, str):
        raise _invalid("property name must be a string")
    if method == "GET_PROPERTY":
        if len(params) > 1:
            raise _invalid("too many parameters")
        if name != "combined":
            raise ControlError(0, "Unknown property")
        return session.combined
    if len(params) > 2:
        raise _invalid("too many parameters")
    if name != "combined":
        raise ControlError(0, "Unknown property")
    if len(params) < 2 or not isinstance(params[1], bool):
        raise ControlError(1, "Invalid value type: expected Boolean")
    session.combined = params[1]
    return None


def _url_streams(request: web.Request, combined: bool) -> list[str]:
    names: list[str] = []
    if combined:
        raw = request.query.get("streams", "")
        names.extend(n for n in raw.split("/") if n)
    else:
        tail = request.match_info.get("streams", "")
        names.extend(n for n in tail.split("/") if n)
    listen_key = request.query.get("listenKey")
    if listen_key:
        names.append(listen_key)
    return names


def stream_handler(*, combined: bool) -> Any:
    """aiohttp handler for one stream endpoint (``/ws...`` when ``combined`` is False, ``/stream``).

    The hub is ``request.app[WS_HUB_KEY]``.
    """

    async def handler(request: web.Request) -> web.StreamResponse:
        hub = request.app[WS_HUB_KEY]
        names = _url_streams(request, combined)
        specs, _unknown = parse_names(names)
        if len(specs) > MAX_STREAMS:
            raise web.HTTPBadRequest(text=f"too many streams; at most {MAX_STREAMS} per connection")
        ws = web.WebSocketResponse(autoping=False, compress=False, timeout=5.0, max_msg_size=1 << 20)
        await ws.prepare(request)
        session = Session(
            ws,
            request,
            hub.timers,
            combined=combined,
            max_queue_bytes=hub.max_queue_bytes,
            on_closed=hub.remove_session,
        )
        events = request.query.get("events")
        # ``events=A/B`` filters a user-data stream by event type (Binance's 2025 /private URLs).
        session.event_filter = frozenset(e for e in events.replace(",", "/").split("/") if e) if events else None
        hub.add_session(session)
        session.start_limits()
        hub.subscribe(session, specs)
        try:
            await _read_loop(hub, session, ws)
        finally:
            session.finish("connection closed")
            await session.wait_closed()
        return ws

    return handler


async def _read_loop(hub: StreamHub, session: Session, ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if session.closed:
            break
        kind = msg.type
        if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
            if not session.note_incoming():
                # Binance: more than 10 incoming messages per second gets the connection dropped.
                session.close(WSCloseCode.POLICY_VIOLATION, "too many messages")
                break
            session.send_json_bytes(handle_control(hub, session, msg.data))
        elif kind is WSMsgType.PING:
            session.on_ping(msg.data)
        elif kind is WSMsgType.PONG:
            session.on_pong()
