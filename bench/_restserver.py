"""A minimal, fast Binance USD-M REST stand-in for the REST benchmarks (not a test fixture).

It runs in **its own process** (see :class:`RestServer`), so the CPU it spends never shows up in
the client's ``time.process_time()``. It is a raw ``asyncio.Protocol`` with a hand-rolled HTTP/1.1
parser and pre-built bodies, so per request it costs a small fraction of what any client costs and
is never the bottleneck.

What it answers (keep-alive HTTP/1.1, ``Content-Type: application/json``, ``X-MBX-USED-WEIGHT-1M``
on every answer and ``X-MBX-ORDER-COUNT-10S`` / ``-1M`` on orders, like Binance):

* ``GET /fapi/v1/time``, ``/api/v3/time`` -> ``{"serverTime": now}``; ``/fapi/v1/ping``, ``/api/v3/ping`` -> ``{}``
* ``GET /fapi/v1/exchangeInfo`` -> the real exchangeInfo in ``shared/realdata`` (BTCUSDT, ETHUSDT, ...),
  with ``serverTime`` refreshed and the ``rateLimits`` raised (a local exchange may grant more; with
  the real 300 orders / 10 s every client that honours the limits would sleep most of the run)
* ``POST /fapi/v1/order`` (parameters from the query string and/or a form body) -> a realistic
  ``NEW`` LIMIT order echoing symbol / side / type / price / quantity / ``newClientOrderId``
  (signatures are never checked)
* ``GET /fapi/v1/ticker/bookTicker`` -> one ticker (a list of all symbols without ``symbol``)
* ``GET /fapi/v1/klines`` -> a deterministic random-walk BTCUSDT 1m series with realistic string
  prices, ``limit`` respected (default 500, max 1500)
* ``GET /__stats`` -> per-path request counts and the unknown paths seen (for the bench's setup notes)
* anything else -> ``200 {}`` (``[]`` for a few list-shaped paths), logged once to stderr as
  ``UNKNOWN <method> <path>`` so anchors' setup calls can be found and answered properly

Run standalone: ``python bench/_restserver.py [--port 0]`` prints ``LISTENING http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

__all__ = ["RestServer", "kline_body", "main"]

EXCHANGE_INFO_PATH = Path(
    os.environ.get("BINFUT_EXCHANGE_INFO", "/work/shared/realdata/http_futures_market_exchange_info.json")
)
_RAISED_LIMIT = 100_000_000

# -- pre-built bodies -------------------------------------------------------------------------------------


def _exchange_info_template() -> dict:
    try:
        info = json.loads(EXCHANGE_INFO_PATH.read_text())
    except OSError:
        # Keep the bench usable without the shared data: a BTCUSDT-only exchangeInfo of the same shape.
        info = {
            "timezone": "UTC",
            "serverTime": 0,
            "futuresType": "U_MARGINED",
            "rateLimits": [],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [_fallback_symbol()],
        }
    info["rateLimits"] = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": _RAISED_LIMIT},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": _RAISED_LIMIT},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": _RAISED_LIMIT},
    ]
    return info


def _fallback_symbol() -> dict:
    return {
        "symbol": "BTCUSDT",
        "pair": "BTCUSDT",
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": "BTC",
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"minPrice": "402", "maxPrice": "1246396.60", "filterType": "PRICE_FILTER", "tickSize": "0.10"},
            {"stepSize": "0.001", "filterType": "LOT_SIZE", "maxQty": "1000", "minQty": "0.001"},
            {"stepSize": "0.001", "filterType": "MARKET_LOT_SIZE", "maxQty": "1000", "minQty": "0.001"},
            {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
            {"notional": "100", "filterType": "MIN_NOTIONAL"},
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def kline_body(limit: int, *, seed: int = 1500, end_ms: int = 1_721_260_800_000) -> bytes:
    """``limit`` 1m BTCUSDT klines as Binance sends them (12-element arrays, numbers as strings)."""
    rng = random.Random(seed)
    start = end_ms - limit * 60_000
    price = 64_250.0
    rows = []
    for i in range(limit):
        open_ = price
        close = max(1000.0, open_ + rng.gauss(0, 25.0))
        high = max(open_, close) + abs(rng.gauss(0, 8.0))
        low = min(open_, close) - abs(rng.gauss(0, 8.0))
        volume = abs(rng.gauss(180.0, 70.0)) + 1.0
        buy = volume * rng.uniform(0.35, 0.65)
        mid = (open_ + close) / 2
        trades = int(volume * rng.uniform(8, 14))
        t = start + i * 60_000
        rows.append(
            f'[{t},"{open_:.2f}","{high:.2f}","{low:.2f}","{close:.2f}","{volume:.3f}",{t + 59_999},'
            f'"{volume * mid:.5f}",{trades},"{buy:.3f}","{buy * mid:.5f}","0"]'
        )
        price = close
    return ("[" + ",".join(rows) + "]").encode()


_ORDER_TEMPLATE = (
    '{{"orderId":{oid},"symbol":"{symbol}","status":"NEW","clientOrderId":"{cid}","price":"{price}",'
    '"avgPrice":"0.00","origQty":"{qty}","executedQty":"0.000","cumQty":"0.000","cumQuote":"0.00000",'
    '"timeInForce":"{tif}","type":"{type}","reduceOnly":false,"closePosition":false,"side":"{side}",'
    '"positionSide":"BOTH","stopPrice":"0.00","workingType":"CONTRACT_PRICE","priceProtect":false,'
    '"origType":"{type}","priceMatch":"NONE","selfTradePreventionMode":"EXPIRE_MAKER","goodTillDate":0,'
    '"updateTime":{now}}}'
)

_BOOK = {
    "BTCUSDT": ("64250.10", "4.812", "64250.20", "2.137"),
    "ETHUSDT": ("3435.17", "51.409", "3435.18", "12.770"),
    "BCHUSDT": ("381.25", "39.114", "381.26", "8.020"),
}

# Unknown paths that anchors treat as lists.
_LIST_PATHS = ("/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs", "/fapi/v1/openOrders")

_WEIGHT = {
    "/fapi/v1/order": 0,  # new order: 0 on the IP weight, 1 on the order counts
    "/fapi/v1/ticker/bookTicker": 2,
    "/fapi/v1/exchangeInfo": 1,
    "/fapi/v1/time": 1,
    "/fapi/v1/ping": 1,
}

_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}


def _kline_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def _fixed(text: str, places: int) -> str:
    """``"30000"`` -> ``"30000.00"``, as Binance formats prices and quantities to the symbol's precision."""
    try:
        return f"{float(text):.{places}f}"
    except ValueError:
        return text


def _parse_qs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split("&"):
        k, _, v = part.partition("=")
        out[k] = unquote(v.replace("+", " ")) if ("%" in v or "+" in v) else v
    return out


class _State:
    """Counters shared by every connection of the server process."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.unknown: dict[str, int] = {}
        self.minute = 0
        self.weight = 0
        self.orders10 = self.orders60 = 0
        self.sec10 = 0
        self.next_order_id = 4_077_856_420
        self.exchange_info = _exchange_info_template()
        self.klines: dict[int, bytes] = {}
        full = kline_body(1500)
        self.klines[1500] = full

    def kline(self, limit: int) -> bytes:
        body = self.klines.get(limit)
        if body is None:
            body = self.klines[limit] = kline_body(limit) if limit > 0 else b"[]"
        return body


class _Http(asyncio.Protocol):
    __slots__ = ("buf", "state", "transport")

    def __init__(self, state: _State) -> None:
        self.state = state
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            length = 0
            lower = head.lower()
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 2)
                length = int(lower[i + 17 : j if j >= 0 else len(lower)].strip() or b"0")
            total = end + 4 + length
            if len(buf) < total:
                break
            body = buf[end + 4 : total]
            buf = buf[total:]
            close = b"\r\nconnection: close" in lower
            self._respond(head, body, close)
            if close:
                self.buf = b""
                return
        self.buf = buf

    def _respond(self, head: bytes, body: bytes, close: bool) -> None:
        line_end = head.find(b"\r\n")
        request_line = (head if line_end < 0 else head[:line_end]).decode("latin-1")
        method, _, rest = request_line.partition(" ")
        target = rest.rpartition(" ")[0]
        path, _, query = target.partition("?")
        st = self.state
        st.counts[path] = st.counts.get(path, 0) + 1
        now = int(time.time() * 1000)
        minute = now // 60_000
        if minute != st.minute:
            st.minute, st.weight, st.orders60 = minute, 0, 0
        sec10 = now // 10_000
        if sec10 != st.sec10:
            st.sec10, st.orders10 = sec10, 0
        status = 200
        extra = b""
        if path == "/fapi/v1/order" and method == "POST":
            params = _parse_qs(query)
            if body:
                params.update(_parse_qs(body.decode("latin-1")))
            st.orders10 += 1
            st.orders60 += 1
            st.next_order_id += 1
            cid = params.get("newClientOrderId") or f"autogen{st.next_order_id:015d}"
            payload = _ORDER_TEMPLATE.format(
                oid=st.next_order_id,
                symbol=params.get("symbol", "BTCUSDT"),
                cid=cid,
                price=_fixed(params.get("price", "0"), 2),
                qty=_fixed(params.get("quantity", "0"), 3),
                tif=params.get("timeInForce", "GTC"),
                type=params.get("type", "LIMIT"),
                side=params.get("side", "BUY"),
                now=now,
            ).encode()
            extra = b"X-MBX-ORDER-COUNT-10S: %d\r\nX-MBX-ORDER-COUNT-1M: %d\r\n" % (st.orders10, st.orders60)
            weight = 0
        elif path == "/fapi/v1/ticker/bookTicker":
            symbol = _parse_qs(query).get("symbol") if query else None
            if symbol:
                b = _BOOK.get(symbol, _BOOK["BTCUSDT"])
                payload = (
                    f'{{"symbol":"{symbol}","bidPrice":"{b[0]}","bidQty":"{b[1]}","askPrice":"{b[2]}",'
                    f'"askQty":"{b[3]}","time":{now},"lastUpdateId":{now * 1000 + 17}}}'
                ).encode()
                weight = 2
            else:
                payload = (
                    "["
                    + ",".join(
                        f'{{"symbol":"{s}","bidPrice":"{b[0]}","bidQty":"{b[1]}","askPrice":"{b[2]}",'
                        f'"askQty":"{b[3]}","time":{now},"lastUpdateId":{now * 1000 + 17}}}'
                        for s, b in _BOOK.items()
                    )
                    + "]"
                ).encode()
                weight = 5
        elif path == "/fapi/v1/klines":
            params = _parse_qs(query)
            try:
                limit = min(1500, max(1, int(params.get("limit", "500"))))
            except ValueError:
                limit = 500
            payload = st.kline(limit)
            weight = _kline_weight(limit)
        elif path in ("/fapi/v1/time", "/api/v3/time"):
            payload = b'{"serverTime":%d}' % now
            weight = 1
        elif path in ("/fapi/v1/ping", "/api/v3/ping"):
            payload = b"{}"
            weight = 1
        elif path == "/fapi/v1/exchangeInfo":
            st.exchange_info["serverTime"] = now
            payload = json.dumps(st.exchange_info, separators=(",", ":")).encode()
            weight = 1
        elif path == "/__stats":
            payload = json.dumps({"counts": st.counts, "unknown": st.unknown}).encode()
            weight = 0
        else:
            key = f"{method} {path}"
            if key not in st.unknown:
                print(f"UNKNOWN {key}", file=sys.stderr, flush=True)
            st.unknown[key] = st.unknown.get(key, 0) + 1
            payload = b"[]" if path in _LIST_PATHS else b"{}"
            weight = 1
        st.weight += weight
        head_out = (
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\n"
            b"X-MBX-USED-WEIGHT-1M: %d\r\n%s%s\r\n"
            % (status, _REASONS[status], len(payload), st.weight, extra, b"Connection: close\r\n" if close else b"")
        )
        assert self.transport is not None
        self.transport.write(head_out + payload)
        if close:
            self.transport.close()


async def _serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    state = _State()
    server = await loop.create_server(lambda: _Http(state), host, port, backlog=1024, reuse_address=True)
    sock = server.sockets[0]
    print(f"LISTENING http://{host}:{sock.getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    gc.disable()  # short-lived garbage only; keeps the server's latency flat
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(args.host, args.port))


class RestServer:
    """Start the server in a child process; ``with RestServer() as srv: srv.url``.

    Parameters
    ----------
    cpu : pin the server process to this CPU (``None``: leave scheduling to the OS)
    """

    def __init__(self, *, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> RestServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=None,  # UNKNOWN paths go straight to the bench's stderr
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"bench REST server failed to start: {line!r}")
        self.url = line.split(" ", 1)[1]
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.proc.pid, {self.cpu})
        return self

    def stats(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/__stats", timeout=5) as resp:  # noqa: S310 (127.0.0.1 only)
            return json.loads(resp.read())

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    main()
