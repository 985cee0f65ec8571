"""The local exchange's in-process event bus: engine and market outputs fanned out to listeners.

The REST side (order handlers, the market simulator) publishes; the WebSocket side (market streams,
user-data streams, the WebSocket API) listens. Listeners are plain callables run synchronously in
publish order, so a listener must only enqueue (never block or await). Pure: no I/O, no clock.

Market topics (``kind`` argument), each published once per engine output:

============== ==================================================================================
``trade``      one public trade (the engine's PublicTrade)
``depth``      one book change with its update ids (the engine's BookDelta)
``mark``       mark / index price and funding-rate update (a MarkPriceUpdate from marketdata)
``force``      a liquidation order (the engine's ForceOrder)
``kline``      a kline update (interval, bar) from marketdata, when a trade changes a bar
``ticker``     24 h rolling statistics changed (symbol)
============== ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EventBus", "MarketListener", "UserListener"]

MarketListener = Callable[[str, str, Any], None]  # (kind, symbol, payload)
UserListener = Callable[[Any], None]  # (event Struct from binfut.protocol.userevents)


class EventBus:
    """Publish/subscribe for market and per-account user events."""

    __slots__ = ("_market", "_user")

    def __init__(self) -> None:
        self._market: list[MarketListener] = []
        self._user: dict[str, list[UserListener]] = {}

    def add_market_listener(self, listener: MarketListener) -> Callable[[], None]:
        """Listen to every market event; returns a function that removes the listener."""
        self._market.append(listener)
        return lambda: self._market.remove(listener) if listener in self._market else None

    def add_user_listener(self, account_id: str, listener: UserListener) -> Callable[[], None]:
        """Listen to one account's user-data events; returns a remover."""
        listeners = self._user.setdefault(account_id, [])
        listeners.append(listener)
        return lambda: listeners.remove(listener) if listener in listeners else None

    def publish_market(self, kind: str, symbol: str, payload: Any) -> None:
        for listener in tuple(self._market):
            listener(kind, symbol, payload)

    def publish_user(self, account_id: str, event: Any) -> None:
        for listener in tuple(self._user.get(account_id, ())):
            listener(event)

    def user_listener_count(self, account_id: str) -> int:
        return len(self._user.get(account_id, ()))
