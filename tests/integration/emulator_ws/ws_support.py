"""Helpers of the WebSocket-side tests: a client with bounded waits, a local book, signed WS-API requests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec

TIMEOUT = 5.0
_decode = msgspec.json.decode

HMAC_KEY = "wsTestHmacKey0001"
HMAC_SECRET = "wsTestHmacSecret0001"
_ED_KEY: Any = None


def ed25519_key() -> Any:
    """The Ed25519 key pair of the test exchange (one per run; its private half signs logons)."""
    global _ED_KEY
    if _ED_KEY is None:
        import random

        from binfut.emulator.config import generate_api_key

        _ED_KEY = generate_api_key("ED25519", rng=random.Random(99))
    return _ED_KEY


class WsClient:
    """One aiohttp WebSocket client connection with bounded receives."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> WsClient:
        session = aiohttp.ClientSession()
        try:
            ws = await asyncio.wait_for(session.ws_connect(url, **kwargs), TIMEOUT)
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def send(self, obj: Any) -> None:
        await asyncio.wait_for(self.ws.send_str(msgspec.json.encode(obj).decode()), TIMEOUT)

    async def recv_msg(self, timeout: float = TIMEOUT) -> aiohttp.WSMessage:
        """The next message; a connection reset while reading (autopong on a closing socket) is CLOSED."""
        try:
            return await asyncio.wait_for(self.ws.receive(), timeout)
        except ConnectionError:
            return aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None)

    async def recv(self, timeout: float = TIMEOUT) -> Any:
        """The next text frame, decoded (fails on anything else)."""
        msg = await self.recv_msg(timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type} {msg.data!r}"
        return _decode(msg.data)

    async def request(self, obj: Any) -> Any:
        """Send a control / API request and return the frame answering its id (skips data frames)."""
        await self.send(obj)
        while True:
            frame = await self.recv()
            is_reply = isinstance(frame, dict) and ("result" in frame or "error" in frame or "status" in frame)
            if is_reply and frame.get("id") == obj.get("id"):
                return frame

    async def recv_until(self, predicate: Any, timeout: float = TIMEOUT) -> Any:
        """Receive frames until ``predicate(frame)`` is true; returns that frame."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError("no matching frame")
            frame = await self.recv(left)
            if predicate(frame):
                return frame

    async def first_per_stream(self, count: int, accept: Any = None) -> dict[str, Any]:
        """The ``data`` of the first combined frame of each stream, until ``count`` streams have one.

        ``accept(frame)``, when given, skips the frames it returns false for.
        """
        got: dict[str, Any] = {}
        while len(got) < count:
            frame = await self.recv()
            if accept is None or accept(frame):
                got.setdefault(frame["stream"], frame["data"])
        return got

    async def quiet(self, seconds: float = 0.2) -> list[Any]:
        """Everything that arrives within ``seconds`` (decoded text frames)."""
        out: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await asyncio.wait_for(self.ws.receive(), left)
            except TimeoutError:
                break
            if msg.type is aiohttp.WSMsgType.TEXT:
                out.append(_decode(msg.data))
            else:
                break
        return out

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), TIMEOUT)
        except (TimeoutError, ConnectionError, aiohttp.ClientError):
            pass
        finally:
            await self.session.close()

    async def __aenter__(self) -> WsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class LocalBook:
    """A book kept by Binance's documented procedure ("How to manage a local order book correctly")."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_update_id = 0
        self.prev_u: int | None = None
        self.synced = False
        self.gaps = 0

    def load_snapshot(self, snapshot: dict[str, Any]) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        self.last_update_id = snapshot["lastUpdateId"]
        self.prev_u = None
        self.synced = False

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one diff event; False means "gap: get a new snapshot" (step 6)."""
        if event["u"] < self.last_update_id:
            return True  # step 4: older than the snapshot
        if not self.synced:
            # step 5: the first processed event straddles lastUpdateId
            assert event["U"] <= self.last_update_id <= event["u"], (event["U"], self.last_update_id, event["u"])
            self.synced = True
        elif event["pu"] != self.prev_u:
            self.gaps += 1
            return False
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for p, q in levels:
                price, qty = Decimal(p), Decimal(q)
                if qty == 0:
                    side.pop(price, None)  # step 8 (and 9: removing an unknown level is fine)
                else:
                    side[price] = qty
        self.prev_u = event["u"]
        self.last_update_id = event["u"]
        return True

    def top(self, n: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks


def hmac_sign(secret: str, params: dict[str, Any]) -> str:
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def ed25519_sign(private_pem: str, params: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_pem.encode(), password=None)
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return base64.b64encode(key.sign(payload.encode())).decode()  # type: ignore[call-arg,union-attr]


def levels(rows: Iterable[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in rows]


# --- order flow on the exchange ------------------------------------------------------------------


def limit(exchange: Any, account: str, symbol: str, side: str, price: str, qty: str, tif: str = "GTC") -> Any:
    """Place a LIMIT order straight on the exchange (no HTTP)."""
    from binfut.matching import NewOrder

    return exchange.execute(
        account,
        NewOrder(
            symbol=symbol, side=side, type="LIMIT", quantity=Decimal(qty), price=Decimal(price), time_in_force=tif
        ),
    )


def market(exchange: Any, account: str, symbol: str, side: str, qty: str) -> Any:
    from binfut.matching import NewOrder

    return exchange.execute(account, NewOrder(symbol=symbol, side=side, type="MARKET", quantity=Decimal(qty)))


def cancel(exchange: Any, account: str, symbol: str, order_id: int) -> Any:
    from binfut.matching import CancelOrder

    return exchange.execute(account, CancelOrder(symbol=symbol, order_id=order_id))


def mark(exchange: Any, **values: Any) -> int:
    """Feed one BTCUSDT mark / index / funding update into the exchange (``values`` override); returns its time."""
    from binfut.emulator.marketdata import MarkPriceUpdate

    now = int(exchange.clock.time_ns()) // 1_000_000
    fields: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "mark_price": Decimal("50001.10000000"),
        "index_price": Decimal("50000.00000000"),
        "estimated_settle_price": Decimal("50000.50000000"),
        "premium_index": Decimal("0.00002"),
        "funding_rate": Decimal("0.00010000"),
        "interest_rate": Decimal("0.0001"),
        "next_funding_time_ms": now + 3_600_000,
        "time_ms": now,
    }
    exchange.market.on_mark(MarkPriceUpdate(**(fields | values)))
    return now


def liquidation(exchange: Any, **values: Any) -> None:
    """Feed one BTCUSDT liquidation (the docs' example order; ``values`` override) into the exchange."""
    from binfut.matching.outputs import ForceOrder

    fields: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "order_type": "LIMIT",
        "time_in_force": "IOC",
        "quantity": Decimal("0.014"),
        "price": Decimal("49000.0"),
        "average_price": Decimal("49010.0"),
        "status": "FILLED",
        "last_filled_quantity": Decimal("0.014"),
        "filled_accumulated_quantity": Decimal("0.014"),
        "trade_time_ms": int(exchange.clock.time_ns()) // 1_000_000,
    }
    exchange.market.ingest(ForceOrder(**(fields | values)))


class RandomFlow:
    """Seeded random book activity of two unlimited accounts around a mid price."""

    def __init__(self, exchange: Any, rng: Any, symbol: str = "BTCUSDT", mid: int = 50_000) -> None:
        self.exchange = exchange
        self.rng = rng
        self.symbol = symbol
        self.mid = mid
        self.open: list[int] = []

    def step(self) -> None:
        rng, ex, sym = self.rng, self.exchange, self.symbol
        roll = rng.random()
        if roll < 0.6 or not self.open:
            side = rng.choice(("BUY", "SELL"))
            offset = rng.randint(1, 40) / 10
            price = self.mid - offset if side == "BUY" else self.mid + offset
            qty = f"{rng.randint(3, 50) / 1000:.3f}"
            snap = limit(ex, "mm", sym, side, f"{price:.1f}", qty)
            self.open.append(snap.order_id)
        elif roll < 0.85:
            order_id = self.open.pop(rng.randrange(len(self.open)))
            with contextlib.suppress(Exception):  # already filled by a taker
                cancel(ex, "mm", sym, order_id)
        else:
            market(ex, "taker", sym, rng.choice(("BUY", "SELL")), f"{rng.randint(3, 30) / 1000:.3f}")


async def rest(
    http: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    api_key: str | None = None,
    secret: str | None = None,
    now_ms: int | None = None,
) -> tuple[int, Any]:
    """One REST call; signed (HMAC, ``timestamp`` = ``now_ms``) when ``secret`` is given."""
    from urllib.parse import urlencode

    query = dict(params or {})
    if secret is not None:
        query["timestamp"] = now_ms
        text = urlencode(query)
        query_text = text + "&signature=" + hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    else:
        query_text = urlencode(query)
    headers = {"X-MBX-APIKEY": api_key} if api_key else {}
    url = f"{base}{path}" + (f"?{query_text}" if query_text else "")
    async with http.request(method, url, headers=headers, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as resp:
        return resp.status, _decode(await resp.read())
