"""REST client benchmark: binfut (sync and async) against python-binance, ccxt and the official SDK.

Scenarios (each against ``bench/_restserver.py``, a fast Binance stand-in in its own process on
127.0.0.1, so its CPU never counts):

* signed ``POST /fapi/v1/order`` (LIMIT GTC BUY 0.001 BTCUSDT @ 30000): sync sequential, async
  sequential and async with 50 in flight;
* unsigned ``GET /fapi/v1/ticker/bookTicker?symbol=BTCUSDT``: sync and async, sequential;
* ``GET /fapi/v1/klines?limit=1500`` into usable columns: binfut's ``klines_df`` and its numpy-column
  path; the anchors' call plus the conversion a user writes (``pd.DataFrame(rows, columns=...)``,
  numeric dtypes, UTC datetimes, indexed by open time).

Printed per scenario: client, calls/s (wall), client CPU µs per call (median of 5 interleaved batches,
from ``time.process_time()``), spread between batches, the ratio to binfut's CPU, and the issue's target
with PASS/MISS for binfut's rows. An anchor that cannot run shows its error in its row.

Usage: ``.venv/bin/python bench/bench_rest.py [--seconds 0.9] [--quick] [--only SUBSTR]``
``[--scenario KEY] [--profile KEY]`` (``--profile`` runs binfut's hot path of one scenario under
cProfile and prints where the CPU goes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import os
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import contextlib

from _common import (  # noqa: E402
    Result,
    ameasure_interleaved,
    format_table,
    machine_note,
    measure_interleaved,
    short_error,
)
from _restserver import RestServer  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SYMBOL = "BTCUSDT"
CCXT_SYMBOL = "BTC/USDT:USDT"
KLINES_LIMIT = 1500

# -- scenarios and targets ------------------------------------------------------------------------------

SCENARIOS: dict[str, str] = {
    "order_sync": "Signed POST /fapi/v1/order — sync, sequential",
    "order_async": "Signed POST /fapi/v1/order — async, sequential",
    "order_async_50": "Signed POST /fapi/v1/order — async, 50 in flight (gather + semaphore)",
    "book_sync": "Unsigned GET /fapi/v1/ticker/bookTicker — sync, sequential",
    "book_async": "Unsigned GET /fapi/v1/ticker/bookTicker — async, sequential",
    "klines_sync": "GET /fapi/v1/klines limit=1500 -> usable columns / DataFrame — sync",
    "klines_async": "GET /fapi/v1/klines limit=1500 -> usable columns / DataFrame — async",
}

# Rows of binfut judged against the issue's CPU targets (µs per call).
TARGETS: dict[str, dict[str, float]] = {
    "order_sync": {"binfut sync (urllib3)": 460},
    "order_async": {"binfut async (aiohttp)": 320},
    "order_async_50": {"binfut async (aiohttp)": 200},
    "klines_sync": {"binfut sync klines_df": 2000, "binfut sync klines -> numpy columns": 2000},
    "klines_async": {"binfut async klines_df": 2000},
}

# The binfut row every other row of a table is compared with.
REFERENCE: dict[str, str] = {
    "order_sync": "binfut sync (urllib3)",
    "book_sync": "binfut sync (urllib3)",
    "klines_sync": "binfut sync klines_df",
    "order_async": "binfut async (aiohttp)",
    "order_async_50": "binfut async (aiohttp)",
    "book_async": "binfut async (aiohttp)",
    "klines_async": "binfut async klines_df",
}

ANCHOR_NOTES: dict[str, str] = {
    "order_sync": "issue: target <= 460 µs; anchors 930–1,030 µs",
    "order_async": "issue: target <= 320 µs; python-binance async ~407 µs, raw aiohttp floor ~277 µs",
    "order_async_50": "issue: target <= 200 µs per call",
    "klines_sync": "issue: target <= 2,000 µs; anchors ~3,950 µs and up",
    "klines_async": "issue: target <= 2,000 µs; anchors ~3,950 µs and up",
}

# The issue's anchor numbers, to re-scale each target to this machine: factor = this run's anchor CPU /
# the issue's (median over the listed anchors; "min" where the issue says "~X and up", i.e. the best).
# order_async_50 has no anchor of its own and borrows order_async's factor.
ISSUE_ANCHORS: dict[str, tuple[str, str, list[tuple[str, float]]]] = {
    "order_sync": ("order_sync", "median", [
        ("python-binance Client (requests)", 980),
        ("ccxt binanceusdm (requests)", 980),
        ("binance-sdk-derivatives-trading-usds-futures (requests)", 980),
    ]),
    "order_async": ("order_async", "median", [
        ("python-binance AsyncClient (aiohttp)", 407),
        ("raw aiohttp floor (no client)", 277),
    ]),
    "order_async_50": ("order_async", "median", [
        ("python-binance AsyncClient (aiohttp)", 407),
        ("raw aiohttp floor (no client)", 277),
    ]),
    "klines_sync": ("klines_sync", "min", [
        ("python-binance futures_klines + DataFrame", 3950),
        ("ccxt fapiPublicGetKlines + DataFrame", 3950),
        ("official SDK kline_candlestick_data + DataFrame", 3950),
    ]),
    "klines_async": ("klines_async", "min", [
        ("python-binance async futures_klines + DataFrame", 3950),
        ("ccxt async fapiPublicGetKlines + DataFrame", 3950),
    ]),
}  # fmt: skip

# -- the user-side kline conversion the anchors need -------------------------------------------------------

KLINE_COLS = [
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "trades",
    "taker_buy_base_volume", "taker_buy_quote_volume", "ignore",
]  # fmt: skip
KLINE_FLOATS = [
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
]


def rows_to_frame(rows: Any) -> Any:
    """Binance kline rows (lists of strings/ints) to a DataFrame the way a user writes it."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=KLINE_COLS).drop(columns="ignore")
    df[KLINE_FLOATS] = df[KLINE_FLOATS].astype("float64")
    df["trades"] = df["trades"].astype("int64")
    df["open_time"] = pd.to_datetime(df["open_time"], unit="ms", utc=True)
    df["close_time"] = pd.to_datetime(df["close_time"], unit="ms", utc=True)
    return df.set_index("open_time")


def ohlcv_to_frame(rows: Any) -> Any:
    """ccxt's ``fetch_ohlcv`` answer (``[ms, o, h, l, c, v]`` floats) to a DataFrame."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=["open_time", "open", "high", "low", "close", "volume"])
    df["open_time"] = pd.to_datetime(df["open_time"], unit="ms", utc=True)
    return df.set_index("open_time")


def _check_frame(df: Any) -> None:
    if len(df) != KLINES_LIMIT:
        raise AssertionError(f"expected {KLINES_LIMIT} rows, got {len(df)}")


def _check_ohlcv(df: Any) -> None:
    # ccxt caps fetch_ohlcv's limit at 1000 for binance (paginating needs `since`): it gets 1000 rows.
    if len(df) != 1000:
        raise AssertionError(f"expected ccxt's 1000-row cap, got {len(df)}")


def _check_columns(cols: Any) -> None:
    if len(cols["close"]) != KLINES_LIMIT:
        raise AssertionError(f"expected {KLINES_LIMIT} rows, got {len(cols['close'])}")


# -- contenders --------------------------------------------------------------------------------------


@dataclass
class Contender:
    """One client (or client variant): callables per scenario and how to close it.

    ``calls`` maps a scenario key to ``(row name, callable, check)``; several rows per scenario are
    allowed (binfut's klines variants). Async contenders hold coroutine functions.
    """

    name: str
    calls: dict[str, list[tuple[str, Callable[[], Any], Callable[[Any], None] | None]]] = field(default_factory=dict)
    close: Callable[[], Any] | None = None
    note: str = ""

    def add(
        self,
        scenario: str,
        fn: Callable[[], Any],
        *,
        row: str | None = None,
        check: Callable[[Any], None] | None = None,
    ) -> None:
        self.calls.setdefault(scenario, []).append((row or self.name, fn, check))


def _sign(query: str) -> str:
    return hmac.new(API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()


def _check_order(prefix: str | None = None) -> Callable[[Any], None]:
    def check(order: Any) -> None:
        if isinstance(order, dict):
            cid = order.get("clientOrderId") or (order.get("info") or {}).get("clientOrderId")
        else:
            cid = getattr(order, "client_order_id", None)
        if not cid:
            raise AssertionError(f"order answer without a client order id: {order!r:.120}")
        if prefix and not str(cid).startswith(prefix):
            raise AssertionError(f"client order id {cid!r} was not echoed")

    return check


# ---- sync


def binfut_sync(
    url: str, *, transport: Any = None, name: str = "binfut sync (urllib3)", variants: bool = True
) -> Contender:
    from binfut.client import Client
    from binfut.protocol.endpoints import BY_NAME
    from binfut.protocol.frames import klines_columns

    client = Client(API_KEY, API_SECRET, env="local", base_url=url, transport=transport)
    client.load_filters()  # the bench server's raised rateLimits: the limiter counts but never waits
    c = Contender(name, close=client.close)
    c.add(
        "order_sync",
        lambda: client.new_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.001", price="30000"
        ),
        check=_check_order("binfut-"),
    )
    c.add("book_sync", lambda: client.book_ticker(symbol=SYMBOL))
    kl = name.replace("(urllib3)", "").replace(" (", " [").replace(")", "]").strip()
    c.add(
        "klines_sync",
        lambda: client.klines_df(symbol=SYMBOL, interval="1m", limit=KLINES_LIMIT),
        row=f"{kl} klines_df",
        check=_check_frame,
    )
    if variants:
        ep = BY_NAME["klines"]
        params = {"symbol": SYMBOL, "interval": "1m", "limit": KLINES_LIMIT}
        c.add(
            "klines_sync",
            lambda: client._call(ep, params, klines_columns),
            row=f"{kl} klines -> numpy columns",
            check=_check_columns,
        )
        c.add(
            "klines_sync",
            lambda: client.klines(symbol=SYMBOL, interval="1m", limit=KLINES_LIMIT),
            row=f"{kl} klines() -> list[Kline]",
        )
    return c


class HttpxTransport:
    """binfut's ``HttpTransport`` seam on httpx (bench-only, to compare with the urllib3 default)."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        import httpx

        self._httpx = httpx
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def handle(self, request: Any) -> Any:
        from binfut.errors import ConnectError, ConnectTimeout, ReadTimeout, TransportError
        from binfut.protocol.request import RawResponse

        httpx = self._httpx
        try:
            resp = self._client.request(request.method, request.url, headers=request.headers, content=request.body)
        except httpx.ConnectTimeout as exc:
            raise ConnectTimeout(f"connect timeout: {request!r}") from exc
        except httpx.ConnectError as exc:
            raise ConnectError(f"cannot connect: {request!r}") from exc
        except httpx.ReadTimeout as exc:
            raise ReadTimeout(f"read timeout: {request!r}") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {request!r}") from exc
        return RawResponse(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)

    def close(self) -> None:
        self._client.close()


def binfut_sync_httpx(url: str) -> Contender:
    return binfut_sync(url, transport=HttpxTransport(), name="binfut sync (httpx adapter)", variants=False)


def raw_urllib3(url: str) -> Contender:
    import msgspec
    import urllib3

    parts = urlsplit(url)
    pool = urllib3.HTTPConnectionPool(parts.hostname, parts.port, maxsize=1, retries=False)
    headers = {"X-MBX-APIKEY": API_KEY}
    decode = msgspec.json.decode
    ids = itertools.count()

    def order() -> Any:
        q = (
            f"symbol={SYMBOL}&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=30000"
            f"&newClientOrderId=raw{next(ids)}&recvWindow=5000&timestamp={time.time_ns() // 1_000_000}"
        )
        r = pool.request("POST", f"/fapi/v1/order?{q}&signature={_sign(q)}", headers=headers)
        return decode(r.data)

    def book() -> Any:
        return decode(pool.request("GET", f"/fapi/v1/ticker/bookTicker?symbol={SYMBOL}").data)

    c = Contender("raw urllib3 floor (no client)", close=pool.close)
    c.add("order_sync", order, check=_check_order("raw"))
    c.add("book_sync", book)
    return c


def python_binance_sync(url: str) -> Contender:
    from binance.client import Client as BClient

    client = BClient(API_KEY, API_SECRET, ping=False)
    client.FUTURES_URL = f"{url}/fapi"
    client.API_URL = f"{url}/api"
    c = Contender("python-binance Client (requests)", close=client.close_connection)
    c.add(
        "order_sync",
        lambda: client.futures_create_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="30000"
        ),
        check=_check_order(),
    )
    c.add("book_sync", lambda: client.futures_orderbook_ticker(symbol=SYMBOL))
    c.add(
        "klines_sync",
        lambda: rows_to_frame(client.futures_klines(symbol=SYMBOL, interval="1m", limit=KLINES_LIMIT)),
        row="python-binance futures_klines + DataFrame",
        check=_check_frame,
    )
    return c


def _point_ccxt(exchange: Any, url: str) -> None:
    api = exchange.urls["api"]
    for key, value in list(api.items()):
        if isinstance(value, str):
            api[key] = url + urlsplit(value).path


def ccxt_sync(url: str) -> Contender:
    import ccxt

    ex = ccxt.binanceusdm({"apiKey": API_KEY, "secret": API_SECRET, "enableRateLimit": False, "timeout": 10_000})
    _point_ccxt(ex, url)
    ex.load_markets()
    c = Contender("ccxt binanceusdm (requests)", close=getattr(ex, "close", None))
    c.add("order_sync", lambda: ex.create_order(CCXT_SYMBOL, "limit", "buy", 0.001, 30000), check=_check_order())
    c.add("book_sync", lambda: ex.fapiPublicGetTickerBookTicker({"symbol": SYMBOL}))
    params = {"symbol": SYMBOL, "interval": "1m", "limit": KLINES_LIMIT}
    c.add(
        "klines_sync",
        lambda: rows_to_frame(ex.fapiPublicGetKlines(params)),
        row="ccxt fapiPublicGetKlines + DataFrame",
        check=_check_frame,
    )
    c.add(
        "klines_sync",
        lambda: ohlcv_to_frame(ex.fetch_ohlcv(CCXT_SYMBOL, "1m", limit=KLINES_LIMIT)),
        row="ccxt fetch_ohlcv + DataFrame (1000 rows*)",
        check=_check_ohlcv,
    )
    return c


def official_sdk(url: str) -> Contender:
    from binance_common.configuration import ConfigurationRestAPI
    from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
        DerivativesTradingUsdsFutures,
    )
    from binance_sdk_derivatives_trading_usds_futures.rest_api.models import (
        KlineCandlestickDataIntervalEnum,
        NewOrderSideEnum,
        NewOrderTimeInForceEnum,
        NewOrderTypeEnum,
    )

    cfg = ConfigurationRestAPI(api_key=API_KEY, api_secret=API_SECRET, base_path=url, timeout=10_000)
    rest = DerivativesTradingUsdsFutures(config_rest_api=cfg).rest_api
    c = Contender("binance-sdk-derivatives-trading-usds-futures (requests)")

    def order() -> Any:
        return rest.new_order(
            symbol=SYMBOL,
            side=NewOrderSideEnum.BUY,
            type=NewOrderTypeEnum.LIMIT,
            time_in_force=NewOrderTimeInForceEnum.GTC,
            quantity=0.001,
            price=30000.0,
        ).data()

    def klines() -> Any:
        data = rest.kline_candlestick_data(
            symbol=SYMBOL, interval=KlineCandlestickDataIntervalEnum.INTERVAL_1m, limit=KLINES_LIMIT
        ).data()
        rows = getattr(data, "actual_instance", None) or data
        return rows_to_frame([list(r) if not isinstance(r, list) else r for r in rows])

    def check_order(o: Any) -> None:
        if not getattr(o, "client_order_id", None):
            raise AssertionError(f"unexpected order answer: {o!r:.120}")

    c.add("order_sync", order, check=check_order)
    c.add("book_sync", lambda: rest.symbol_order_book_ticker(symbol=SYMBOL).data())
    c.add("klines_sync", klines, row="official SDK kline_candlestick_data + DataFrame", check=_check_frame)
    c.close = getattr(getattr(rest, "_session", None), "close", None)
    return c


SYNC_CONTENDERS: list[tuple[str, Callable[[str], Contender]]] = [
    ("binfut sync (urllib3)", binfut_sync),
    ("binfut sync (httpx adapter)", binfut_sync_httpx),
    ("raw urllib3 floor (no client)", raw_urllib3),
    ("python-binance Client (requests)", python_binance_sync),
    ("ccxt binanceusdm (requests)", ccxt_sync),
    ("binance-sdk-derivatives-trading-usds-futures (requests)", official_sdk),
]

# ---- async


async def binfut_async(url: str) -> Contender:
    from binfut.client import AsyncClient
    from binfut.protocol.endpoints import BY_NAME
    from binfut.protocol.frames import klines_columns

    client = AsyncClient(API_KEY, API_SECRET, env="local", base_url=url)
    await client.load_filters()
    c = Contender("binfut async (aiohttp)", close=client.aclose)

    def order() -> Awaitable[Any]:
        return client.new_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.001", price="30000"
        )

    c.add("order_async", order, check=_check_order("binfut-"))
    c.add("order_async_50", order)
    c.add("book_async", lambda: client.book_ticker(symbol=SYMBOL))
    c.add(
        "klines_async",
        lambda: client.klines_df(symbol=SYMBOL, interval="1m", limit=KLINES_LIMIT),
        row="binfut async klines_df",
        check=_check_frame,
    )
    ep = BY_NAME["klines"]
    params = {"symbol": SYMBOL, "interval": "1m", "limit": KLINES_LIMIT}
    c.add(
        "klines_async",
        lambda: client._call(ep, params, klines_columns),
        row="binfut async klines -> numpy columns",
        check=_check_columns,
    )
    return c


async def python_binance_async(url: str) -> Contender:
    from binance.async_client import AsyncClient as BAsyncClient

    client = BAsyncClient(API_KEY, API_SECRET)
    client.FUTURES_URL = f"{url}/fapi"
    client.API_URL = f"{url}/api"
    c = Contender("python-binance AsyncClient (aiohttp)", close=client.close_connection)

    def order() -> Awaitable[Any]:
        return client.futures_create_order(
            symbol=SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="30000"
        )

    async def klines() -> Any:
        return rows_to_frame(await client.futures_klines(symbol=SYMBOL, interval="1m", limit=KLINES_LIMIT))

    c.add("order_async", order, check=_check_order())
    c.add("order_async_50", order)
    c.add("book_async", lambda: client.futures_orderbook_ticker(symbol=SYMBOL))
    c.add("klines_async", klines, row="python-binance async futures_klines + DataFrame", check=_check_frame)
    return c


async def ccxt_async(url: str) -> Contender:
    import ccxt.async_support as accxt

    ex = accxt.binanceusdm({"apiKey": API_KEY, "secret": API_SECRET, "enableRateLimit": False, "timeout": 10_000})
    _point_ccxt(ex, url)
    try:
        await ex.load_markets()
    except BaseException:
        await ex.close()
        raise
    c = Contender("ccxt.async_support binanceusdm (aiohttp)", close=ex.close)

    def order() -> Awaitable[Any]:
        return ex.create_order(CCXT_SYMBOL, "limit", "buy", 0.001, 30000)

    params = {"symbol": SYMBOL, "interval": "1m", "limit": KLINES_LIMIT}

    async def klines() -> Any:
        return rows_to_frame(await ex.fapiPublicGetKlines(params))

    async def ohlcv() -> Any:
        return ohlcv_to_frame(await ex.fetch_ohlcv(CCXT_SYMBOL, "1m", limit=KLINES_LIMIT))

    c.add("order_async", order, check=_check_order())
    c.add("order_async_50", order)
    c.add("book_async", lambda: ex.fapiPublicGetTickerBookTicker({"symbol": SYMBOL}))
    c.add("klines_async", klines, row="ccxt async fapiPublicGetKlines + DataFrame", check=_check_frame)
    c.add("klines_async", ohlcv, row="ccxt async fetch_ohlcv + DataFrame (1000 rows*)", check=_check_ohlcv)
    return c


async def raw_aiohttp(url: str) -> Contender:
    import aiohttp
    import msgspec
    from yarl import URL

    session = aiohttp.ClientSession()
    headers = {"X-MBX-APIKEY": API_KEY}
    decode = msgspec.json.decode
    ids = itertools.count()
    book_url = URL(f"{url}/fapi/v1/ticker/bookTicker?symbol={SYMBOL}", encoded=True)

    async def order() -> Any:
        q = (
            f"symbol={SYMBOL}&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=30000"
            f"&newClientOrderId=raw{next(ids)}&recvWindow=5000&timestamp={time.time_ns() // 1_000_000}"
        )
        async with session.post(
            URL(f"{url}/fapi/v1/order?{q}&signature={_sign(q)}", encoded=True), headers=headers
        ) as r:
            return decode(await r.read())

    async def book() -> Any:
        async with session.get(book_url) as r:
            return decode(await r.read())

    c = Contender("raw aiohttp floor (no client)", close=session.close)
    c.add("order_async", order, check=_check_order("raw"))
    c.add("order_async_50", order)
    c.add("book_async", book)
    return c


ASYNC_CONTENDERS: list[tuple[str, Callable[[str], Awaitable[Contender]]]] = [
    ("binfut async (aiohttp)", binfut_async),
    ("raw aiohttp floor (no client)", raw_aiohttp),
    ("python-binance AsyncClient (aiohttp)", python_binance_async),
    ("ccxt.async_support binanceusdm (aiohttp)", ccxt_async),
]

# -- running ----------------------------------------------------------------------------------------


@dataclass
class Options:
    seconds: float
    only: str | None
    scenarios: set[str]


def _wanted(name: str, opts: Options) -> bool:
    return opts.only is None or opts.only.lower() in name.lower() or name.startswith("binfut")


def _cell_kwargs(scenario: str, opts: Options) -> dict[str, Any]:
    slow = scenario.startswith("klines")
    return {"seconds": opts.seconds, "warmup": 5 if slow else 30, "min_n": 10 if slow else 50}


def _collect(
    key: str, contenders: list[Contender | Result], results: dict[str, list[Result]]
) -> list[tuple[int, str, Callable[[], Any], Callable[[Any], None] | None]]:
    """The cells of scenario ``key`` in contender order; setup failures become error rows now."""
    cells = []
    for c in contenders:
        if isinstance(c, Result):  # the contender could not be built
            results[key].append(Result(c.name, error=c.error))
            continue
        for row, fn, check in c.calls.get(key, ()):
            results[key].append(Result(row, error="not measured"))
            cells.append((len(results[key]) - 1, row, fn, check))
    return cells


def run_sync(url: str, opts: Options, results: dict[str, list[Result]]) -> None:
    """Build every sync contender, then measure each scenario with their batches interleaved."""
    keys = [k for k in SCENARIOS if k.endswith("_sync") and k in opts.scenarios]
    if not keys:
        return
    contenders: list[Contender | Result] = []
    for name, factory in SYNC_CONTENDERS:
        if _wanted(name, opts):
            try:
                contenders.append(factory(url))
            except Exception as exc:  # an anchor that cannot even be built gets an error row per scenario
                contenders.append(Result(name, error=f"setup: {short_error(exc)}"))
    try:
        for key in keys:
            cells = _collect(key, contenders, results)
            live = []
            for index, row, fn, check in cells:
                try:
                    if check is not None:
                        check(fn())
                    live.append((index, row, fn))
                except Exception as exc:
                    results[key][index] = Result(row, error=short_error(exc))
            measured = measure_interleaved([(row, fn) for _, row, fn in live], **_cell_kwargs(key, opts))
            for (index, _, _), result in zip(live, measured):
                results[key][index] = result
            print(f"  measured {key}", file=sys.stderr, flush=True)
    finally:
        for c in contenders:
            if isinstance(c, Contender) and c.close is not None:
                with contextlib.suppress(Exception):
                    c.close()


async def run_async(url: str, opts: Options, results: dict[str, list[Result]]) -> None:
    """Build every async contender, then measure each scenario with their batches interleaved."""
    keys = [k for k in SCENARIOS if "_async" in k and k in opts.scenarios]
    if not keys:
        return
    contenders: list[Contender | Result] = []
    for name, factory in ASYNC_CONTENDERS:
        if _wanted(name, opts):
            try:
                contenders.append(await factory(url))
            except Exception as exc:
                contenders.append(Result(name, error=f"setup: {short_error(exc)}"))
    try:
        for key in keys:
            inflight = 50 if key.endswith("_50") else 1
            cells = _collect(key, contenders, results)
            live = []
            for index, row, fn, check in cells:
                try:
                    if check is not None:
                        check(await fn())
                    live.append((index, row, fn))
                except Exception as exc:
                    results[key][index] = Result(row, error=short_error(exc))
            measured = await ameasure_interleaved(
                [(row, fn) for _, row, fn in live], inflight=inflight, **_cell_kwargs(key, opts)
            )
            for (index, _, _), result in zip(live, measured):
                results[key][index] = result
            print(f"  measured {key}", file=sys.stderr, flush=True)
    finally:
        for c in contenders:
            if isinstance(c, Contender) and c.close is not None:
                with contextlib.suppress(Exception):
                    await c.close()


def render(key: str, rows: list[Result]) -> str:
    ref_name = REFERENCE.get(key)
    ref = next((r for r in rows if r.name == ref_name and r.ok), None)
    targets = TARGETS.get(key, {})
    table_rows = []
    for r in rows:
        if not r.ok:
            table_rows.append([r.name, "-", "-", "-", "-", f"ERROR {r.error}"])
            continue
        assert r.cpu_us is not None
        ratio = f"{r.cpu_us / ref.cpu_us:.2f}x" if ref is not None and ref.cpu_us else "-"
        verdict = ""
        if r.name in targets:
            t = targets[r.name]
            verdict = f"{'PASS' if r.cpu_us <= t else 'MISS'} (<= {t:,.0f})"
        table_rows.append(
            [
                r.name,
                f"{r.rate:,.0f}" if r.rate else "-",
                f"{r.cpu_us:,.0f}",
                f"±{r.spread * 50:.0f}%" if r.spread is not None else "",
                ratio,
                verdict,
            ]
        )
    title = SCENARIOS[key]
    if key in ANCHOR_NOTES:
        title += f"\n  ({ANCHOR_NOTES[key]})"
    return format_table(
        title,
        ["client", "calls/s", "CPU µs/call", "spread", "CPU vs binfut", "target"],
        table_rows,
        right=[False, True, True, True, True, False],
    )


def _short(name: str) -> str:
    if name.startswith(("binance-sdk", "official SDK")):
        return "SDK"
    if name.startswith("raw"):
        return "raw floor"
    return name.split(" ")[0]


def _anchor_factor(key: str, results: dict[str, list[Result]]) -> tuple[float | None, str]:
    source, how, anchors = ISSUE_ANCHORS[key]
    by = {r.name: r for r in results.get(source, []) if r.ok}
    ratios = [(name, by[name].cpu_us / issue) for name, issue in anchors if name in by and by[name].cpu_us]
    if not ratios:
        return None, "no anchor measured"
    values = [v for _, v in ratios]
    factor = min(values) if how == "min" else statistics.median(values)
    detail = ", ".join(f"{_short(name)} {by[name].cpu_us:,.0f}" for name, _ in ratios)
    return factor, f"{how} of {detail}"


def targets_summary(results: dict[str, list[Result]]) -> str:
    """Every judged binfut row against the absolute target and the target re-scaled by the anchors."""
    rows = []
    for key, targets in TARGETS.items():
        by = {r.name: r for r in results.get(key, [])}
        factor, detail = _anchor_factor(key, results) if key in ISSUE_ANCHORS else (None, "")
        for name, target in targets.items():
            r = by.get(name)
            if r is None:
                continue
            if not r.ok or r.cpu_us is None:
                rows.append([key, name, "-", f"{target:,.0f}", "-", "-", "ERROR"])
                continue
            absolute = "PASS" if r.cpu_us <= target else "MISS"
            if factor is not None:
                scaled = target * factor
                rel = "PASS" if r.cpu_us <= scaled else "MISS"
                scaled_txt = f"{scaled:,.0f} (x{factor:.2f})"
            else:
                rel, scaled_txt = "-", "-"
            rows.append([key, name, f"{r.cpu_us:,.0f}", f"{target:,.0f} {absolute}", scaled_txt, rel, detail])
    return format_table(
        "Targets: absolute = the issue's µs; scaled = target x (this run's anchor CPU / the issue's anchor CPU)",
        ["scenario", "binfut row", "CPU µs", "abs target", "scaled target", "scaled", "anchors used (µs here)"],
        rows,
        right=[False, False, True, True, True, False, False],
    )


def transport_verdict(results: dict[str, list[Result]]) -> str | None:
    lines = []
    for key in ("order_sync", "book_sync", "klines_sync"):
        by = {r.name: r for r in results.get(key, []) if r.ok}
        if key == "klines_sync":
            u, h = by.get("binfut sync klines_df"), by.get("binfut sync [httpx adapter] klines_df")
        else:
            u, h = by.get("binfut sync (urllib3)"), by.get("binfut sync (httpx adapter)")
        if u and h and u.cpu_us and h.cpu_us:
            lines.append(
                f"  {key:12s} urllib3 {u.cpu_us:7,.0f} µs   httpx {h.cpu_us:7,.0f} µs   httpx/urllib3 = {h.cpu_us / u.cpu_us:.2f}x"
            )
    if not lines:
        return None
    return "urllib3 vs httpx as binfut's sync transport (client CPU per call):\n" + "\n".join(lines)


def profile(url: str, key: str, calls: int) -> None:
    """Run binfut's call for ``key`` under cProfile and print the top functions by own and cumulative time."""
    import cProfile
    import pstats

    prof = cProfile.Profile(time.process_time)  # CPU time, like the tables, not wall time
    if key.endswith("_sync"):
        contender = binfut_sync(url)
        _, fn, _ = contender.calls[key][0]
        for _ in range(50):
            fn()
        prof.enable()
        for _ in range(calls):
            fn()
        prof.disable()
        contender.close and contender.close()
    else:

        async def go() -> None:
            contender = await binfut_async(url)
            _, fn, _ = contender.calls[key][0]
            inflight = 50 if key.endswith("_50") else 1
            sem = asyncio.Semaphore(inflight)

            async def one() -> None:
                async with sem:
                    await fn()

            async def batch(n: int) -> None:
                if inflight == 1:
                    for _ in range(n):
                        await fn()
                else:
                    await asyncio.gather(*(one() for _ in range(n)))

            await batch(100)
            prof.enable()
            await batch(calls)
            prof.disable()
            if contender.close is not None:
                await contender.close()

        asyncio.run(go())
    stats = pstats.Stats(prof).strip_dirs()
    print(f"cProfile of binfut, scenario {key}, {calls} calls (times are totals; divide by {calls} for per call)")
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="binfut REST benchmark against python-binance, ccxt and the official SDK")
    ap.add_argument(
        "--seconds", type=float, default=0.9, help="measured seconds per cell (split in 5 interleaved batches)"
    )
    ap.add_argument("--quick", action="store_true", help="0.3 s per cell: a smoke run")
    ap.add_argument("--only", help="run binfut plus the contenders whose name contains this")
    ap.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="run only these scenarios (repeatable)"
    )
    ap.add_argument("--profile", choices=list(SCENARIOS), help="profile binfut's hot path of one scenario instead")
    ap.add_argument("--profile-calls", type=int, default=3000)
    args = ap.parse_args(argv)

    opts = Options(
        seconds=0.3 if args.quick else args.seconds, only=args.only, scenarios=set(args.scenario or SCENARIOS)
    )
    started = time.perf_counter()
    with RestServer() as server:
        if args.profile:
            calls = args.profile_calls if not args.profile.startswith("klines") else max(50, args.profile_calls // 20)
            profile(server.url, args.profile, calls)
            return 0
        print(f"binfut REST benchmark — server {server.url} (own process) — {machine_note()}")
        print(
            "CPU µs/call = client process CPU time per call, median of 5 batches interleaved across clients; spread = ±half the batch range."
        )
        results: dict[str, list[Result]] = {k: [] for k in SCENARIOS}
        run_sync(server.url, opts, results)
        asyncio.run(run_async(server.url, opts, results))
        try:
            stats = server.stats()
        except Exception as exc:
            stats = {"error": short_error(exc)}
    misses = 0
    for key in SCENARIOS:
        if key not in opts.scenarios or not results[key]:
            continue
        print()
        print(render(key, results[key]))
        for r in results[key]:
            t = TARGETS.get(key, {}).get(r.name)
            if t is not None and (not r.ok or (r.cpu_us or 0) > t):
                misses += 1
    print()
    print(targets_summary(results))
    verdict = transport_verdict(results)
    if verdict:
        print()
        print(verdict)
    unknown = stats.get("unknown") if isinstance(stats, dict) else None
    print()
    print(f"server: unknown paths answered minimally during setup: {unknown or 'none'}")
    print(f"binfut targets missed: {misses}; total time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
