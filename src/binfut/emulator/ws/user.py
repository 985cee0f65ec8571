"""User-data streams: a listenKey used as a stream name delivers that account's events.

Rules kept here ("User Data Streams"):
- a listenKey may be opened as ``/ws/<listenKey>``, inside ``/stream?streams=``, by SUBSCRIBE, or
  with ``?listenKey=`` (optionally ``&events=A/B`` to filter event types), under any URL prefix;
- events come from the exchange bus (``add_user_listener``), one listener per subscribed key; each
  event is encoded once with :func:`binfut.protocol.userevents.encode_user_event` and shared;
- a key lives 60 minutes of simulated time after its creation or last keepalive; when it expires
  (naturally, by a ``listen_key_expiry`` fault, or unknown when subscribed) the subscribers get
  ``{"e":"listenKeyExpired","E":..,"listenKey":..}`` and the stream ends: the connection is closed
  when it carried nothing else. ``E`` is sent as an integer (the official SDK's model requires one,
  although one page of the docs shows a string).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from binfut.emulator.ws.names import StreamSpec
from binfut.emulator.ws.session import text_frame
from binfut.protocol.userevents import ListenKeyExpired, encode_user_event

if TYPE_CHECKING:
    from binfut.emulator.ws.hub import StreamHub
    from binfut.emulator.ws.session import Session

__all__ = ["UserStreams", "event_type"]


def event_type(event: Any) -> str:
    """The ``"e"`` of a user event Struct (its msgspec tag)."""
    config = getattr(type(event), "__struct_config__", None)
    tag = getattr(config, "tag", None)
    return str(tag) if tag is not None else type(event).__name__


class _Key:
    __slots__ = ("account_id", "filtered", "remove")

    def __init__(self, account_id: str, remove: Callable[[], object]) -> None:
        self.account_id = account_id
        self.remove = remove
        self.filtered = 0  # subscribers with an ``events=`` filter


class UserStreams:
    """listenKey subscriptions of the hub."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self._keys: dict[str, _Key] = {}

    def stop(self) -> None:
        for key in self._keys.values():
            key.remove()
        self._keys.clear()

    @property
    def _registry(self) -> Any:
        return self.hub.exchange.listen_keys

    # --- subscriptions ----------------------------------------------------------------------------

    def activate(self, spec: StreamSpec, session: Session) -> None:
        """First subscriber of ``spec.name``: attach to the account's events (or report expiry)."""
        key = spec.name
        now = self.hub.now_ms()
        account_id = self._registry.account_for(key, now)
        if account_id is None:
            # Unknown or already expired: say so at once instead of leaving the client waiting.
            self._expired(key, now)
            return
        remove = self.hub.exchange.bus.add_user_listener(account_id, lambda event: self._on_event(key, event))
        self._keys[key] = _Key(account_id, remove)
        self.joined(spec, session)

    def joined(self, spec: StreamSpec, session: Session) -> None:
        event_filter = getattr(session, "event_filter", None)
        session.user[spec.name] = event_filter
        state = self._keys.get(spec.name)
        if state is not None and event_filter is not None:
            state.filtered += 1

    def left(self, spec: StreamSpec, session: Session) -> None:
        event_filter = session.user.pop(spec.name, None)
        state = self._keys.get(spec.name)
        if state is not None and event_filter is not None:
            state.filtered -= 1

    def deactivate(self, spec: StreamSpec) -> None:
        state = self._keys.pop(spec.name, None)
        if state is not None:
            state.remove()

    def account_of(self, key: str) -> str | None:
        state = self._keys.get(key)
        return state.account_id if state is not None else None

    # --- events -----------------------------------------------------------------------------------

    def _on_event(self, key: str, event: Any) -> None:
        payload = encode_user_event(event)
        state = self._keys.get(key)
        if state is None or state.filtered == 0:
            self.hub.publish(key, payload)
            return
        # Some subscribers filter by event type: they cannot share one frame list with the others.
        etype = event_type(event)
        for session in self.hub.subscribers(key):
            allowed = session.user.get(key)
            if allowed is None or etype in allowed:
                self._push_one(session, key, payload)

    def _push_one(self, session: Session, key: str, payload: bytes) -> None:
        if session.combined:
            session.push(text_frame(b'{"stream":"' + key.encode() + b'","data":' + payload + b"}"))
        else:
            session.push(text_frame(payload))

    def on_expire(self, key: str, account_id: str = "") -> None:
        """The registry expired ``key`` (on_expire callback): tell subscribers and end the stream."""
        if self.hub.has(key):
            self._expired(key, self.hub.now_ms())

    def _expired(self, key: str, now: int) -> None:
        self.hub.publish(key, encode_user_event(ListenKeyExpired(event_time_ms=now, listen_key=key)))
        for session in self.hub.subscribers(key):
            if all(spec.kind == "user" for spec in session.streams.values()) and len(session.streams) <= 1:
                session.close(1000, "listenKey expired")
            else:
                self.hub.unsubscribe(session, [key])

    def sweep(self, now: int) -> None:
        """Housekeeping: natural expiry and the ``listen_key_expiry`` fault for subscribed keys."""
        if not self._keys:
            return
        registry = self._registry
        faults = getattr(self.hub.exchange, "faults", None)
        if faults is not None and faults.has("listen_key_expiry"):
            for key in list(self._keys):
                if faults.should("listen_key_expiry", now, key) and not registry.force_expire(key):
                    self.on_expire(key)
        expire_due = getattr(registry, "expire_due", None)
        if expire_due is not None:
            expire_due(now)  # fires on_expire for every key that ran out
        for key in list(self._keys):
            if registry.account_for(key, now) is None:
                self.on_expire(key)
