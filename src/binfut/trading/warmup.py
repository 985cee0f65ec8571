"""Warm-up: the latest closed bars replayed through a strategy before a paper or live run goes live.

:func:`warmup_flow` (sans-IO) pages ``GET /fapi/v1/klines`` backwards from a cutoff and returns the
newest closed bars; :func:`fetch_warmup` drives it with a client; :class:`WarmupGate` sits in the order
path and refuses every command while history is replayed.  :class:`~binfut.trading.runner.MarketRunner`
wires the three together for both runners.

Rules kept here:

* a bar is replayed only if it closed before the cutoff, a server time read *after* the market streams
  were subscribed: a bar closing later reaches the runner through the stream, a bar closing earlier
  through REST, so nothing falls between the two; a bar that comes both ways is handled once (the
  runner drops a streamed bar whose open time it has already seen);
* while the gate is closed nothing reaches the venue: orders, cancels, amendments, algo orders,
  leverage, margin type and position mode are all refused (queries pass through);
* one klines request per symbol (plus one server-time request) when the warm-up fits in a page: the
  page asks for one bar more than wanted, so its weight is 1 up to 98 bars, 2 up to 498, 5 up to 999,
  10 up to 1499; longer warm-ups are paged backwards 1500 bars at a time, through the client's limiter.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from binfut.matching import ModifyOrder, NewAlgoOrder, NewOrder
from binfut.strategy.base import Bar, Strategy
from binfut.trading.gateway import REJECTED, AlgoAck, OrderAck, OrderGateway

__all__ = [
    "MAX_PAGE",
    "WARMUP_REFUSAL",
    "KlinesPage",
    "WarmupGate",
    "WarmupHistory",
    "WarmupReport",
    "ask",
    "bar_of_row",
    "fetch_warmup",
    "public_client",
    "resolve_warmup",
    "warmup_flow",
]

MAX_PAGE = 1500  # Binance's largest klines page
WARMUP_REFUSAL = "warm-up: history is being replayed, no order is sent for a historical bar"


class KlinesPage(msgspec.Struct, frozen=True, kw_only=True):
    """One ``GET /fapi/v1/klines`` request: the newest ``limit`` bars that opened at or before ``end_time_ms``."""

    symbol: str
    interval: str
    end_time_ms: int
    limit: int


class WarmupReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a warm-up replayed (``RunSummary.warmup``).

    Parameters
    ----------
    requested : bars asked for per symbol
    bars : bars replayed (every symbol; fewer than asked when the venue has less history)
    first_open_ms, last_open_ms : open times of the first and last replayed bar (None: none)
    cutoff_ms : server time the history ends at (every replayed bar closed before it)
    requests : REST requests made (klines pages and the server time)
    refused : commands the strategy tried while warming up, all refused
    overlap : streamed bars dropped because the warm-up had already replayed them
    """

    requested: int
    bars: int
    first_open_ms: int | None
    last_open_ms: int | None
    cutoff_ms: int | None
    requests: int = 0
    refused: int = 0
    overlap: int = 0


@dataclass(frozen=True, slots=True)
class WarmupHistory:
    """Closed bars fetched for a warm-up, in replay order (open time, then the runner's symbol order)."""

    bars: list[Bar]
    cutoff_ms: int
    requests: int


def resolve_warmup(configured: int | None, strategy: Strategy) -> int:
    """Bars to replay: ``configured`` when given, else what the strategy declares.

    Raises
    ------
    ValueError
        A negative count.
    """
    count = strategy.warmup_bars if configured is None else configured
    if not isinstance(count, int) or count < 0:
        raise ValueError(f"warm-up bars must be an int >= 0, got {count!r}")
    return count


def bar_of_row(symbol: str, interval: str, row: Any) -> Bar:
    """A :class:`Bar` of one ``client.klines`` row."""
    return Bar(symbol=symbol, interval=interval, open_time_ms=row.open_time_ms, close_time_ms=row.close_time_ms,
               open=row.open, high=row.high, low=row.low, close=row.close, volume=row.volume)


def warmup_flow(
    symbol: str, interval: str, count: int, cutoff_ms: int, *, page_limit: int = MAX_PAGE,
) -> Generator[KlinesPage, Sequence[Any], list[Bar]]:
    """The newest ``count`` bars of ``symbol`` that closed before ``cutoff_ms``, page by page (sans-IO).

    Yields :class:`KlinesPage` requests and is sent each answer (``Kline`` rows, any order); returns
    the bars oldest first.  Each page asks for one bar more than still missing, since the newest row
    may be the bar still open at the cutoff, which is never replayed.

    Parameters
    ----------
    symbol, interval : the series
    count : bars wanted
    cutoff_ms : a server time; only bars with ``close_time < cutoff_ms`` are kept
    page_limit : the largest page (Binance: 1500)

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Kline-Candlestick-Data
    """
    got: dict[int, Bar] = {}
    end = cutoff_ms - 1
    while len(got) < count:
        limit = min(count - len(got) + 1, page_limit)
        rows = yield KlinesPage(symbol=symbol, interval=interval, end_time_ms=end, limit=limit)
        for row in rows:
            if row.close_time_ms < cutoff_ms and row.open_time_ms <= end:
                got.setdefault(row.open_time_ms, bar_of_row(symbol, interval, row))
        if len(rows) < limit:
            break  # the venue's history starts here
        earliest = min(row.open_time_ms for row in rows)
        if earliest > end:
            break  # the venue ignored end_time: paging further would repeat this page
        end = earliest - 1
    return [got[t] for t in sorted(got)[-count:]] if count else []


async def ask(method: Any, **params: Any) -> Any:
    """Call a client method of an ``AsyncClient``, or of a blocking ``Client`` on a worker thread."""
    if inspect.iscoroutinefunction(method):
        return await method(**params)
    return await asyncio.to_thread(method, **params)


async def fetch_warmup(client: Any, symbols: Sequence[str], interval: str, count: int) -> WarmupHistory:
    """Fetch the newest ``count`` closed bars of each symbol for a warm-up.

    Call it once the market streams are subscribed: the cutoff is the server time read now, and
    every bar closing after it arrives through the streams (see the module docstring).

    Parameters
    ----------
    client : an ``AsyncClient`` (or a blocking ``Client``) of the environment the runner trades on
    symbols : the runner's symbols (ties in open time are replayed in this order)
    interval : the kline interval
    count : bars per symbol

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Check-Server-Time
    """
    cutoff = (await ask(client.server_time)).server_time_ms
    requests = 1
    merged: list[tuple[int, int, Bar]] = []
    for rank, symbol in enumerate(symbols):
        flow = warmup_flow(symbol, interval, count, cutoff)
        try:
            page = next(flow)
            while True:
                rows = await ask(client.klines, symbol=page.symbol, interval=page.interval, end_time=page.end_time_ms,
                                  limit=page.limit)
                requests += 1
                page = flow.send(rows)
        except StopIteration as done:
            merged.extend((bar.open_time_ms, rank, bar) for bar in done.value)
    merged.sort(key=lambda item: item[:2])
    return WarmupHistory(bars=[bar for _, _, bar in merged], cutoff_ms=cutoff, requests=requests)


def public_client(urls: Any, clock: Any) -> Any:
    """A credential-less ``AsyncClient`` for ``urls.rest`` (a paper run's warm-up; the caller closes it)."""
    from binfut.client import AsyncClient
    from binfut.config import Environment, urls_for

    known = (Environment.MAINNET, Environment.TESTNET, Environment.DEMO)
    env = next((e for e in known if urls_for(e).rest == urls.rest), Environment.LOCAL)
    return AsyncClient(env=env, base_url=urls.rest, clock=clock, environ={})


class WarmupGate:
    """An order gateway proxy that refuses every command while :attr:`closed` (queries pass through).

    The runners' order manager talks to the venue only through this gate, so a strategy cannot reach
    the venue during a warm-up by any path (order, bracket, cancel, amend, leverage, kill switch).

    Parameters
    ----------
    gateway : the real gateway
    log : where refusals are logged (at DEBUG: a warm-up may try an order on every bar)
    """

    def __init__(self, gateway: OrderGateway, log: logging.Logger | None = None) -> None:
        self.inner = gateway
        self.log = log or logging.getLogger("binfut.trading.warmup")
        self.closed = False
        self.refused: list[str] = []

    def __getattr__(self, name: str) -> Any:
        # queries (filters, open_orders, positions, ...) and runner-specific extras (ws_api, deliver);
        # never dunders or ``inner`` itself, so copy / pickle do not recurse into an unset proxy
        if name == "inner" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _refuse(self, what: str) -> None:
        self.refused.append(what)
        self.log.debug("refused during warm-up: %s", what)

    def refuse_order(self, order: NewOrder) -> OrderAck:
        """Record ``order`` as refused and return its REJECTED ack (the order manager's short cut)."""
        self._refuse(f"{order.type} {order.side} {order.quantity} {order.symbol}")
        return OrderAck(symbol=order.symbol, client_order_id=order.new_client_order_id or "", status=REJECTED,
                        reason=WARMUP_REFUSAL)

    def submit(self, order: NewOrder) -> OrderAck:
        return self.refuse_order(order) if self.closed else self.inner.submit(order)

    def cancel(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> OrderAck:
        if self.closed:
            self._refuse(f"cancel {symbol} {order_id or client_order_id}")
            return OrderAck(symbol=symbol, client_order_id=client_order_id or "", status=REJECTED, order_id=order_id,
                            reason=WARMUP_REFUSAL)
        return self.inner.cancel(symbol, order_id=order_id, client_order_id=client_order_id)

    def modify(self, order: ModifyOrder) -> OrderAck:
        if self.closed:
            self._refuse(f"modify {order.symbol} {order.order_id or order.orig_client_order_id}")
            return OrderAck(symbol=order.symbol, client_order_id=order.orig_client_order_id or "", status=REJECTED,
                            order_id=order.order_id, reason=WARMUP_REFUSAL)
        return self.inner.modify(order)

    def submit_algo(self, order: NewAlgoOrder) -> AlgoAck:
        if self.closed:
            self._refuse(f"{order.type} {order.side} {order.quantity} {order.symbol}")
            return AlgoAck(symbol=order.symbol, client_algo_id=order.client_algo_id or "", status=REJECTED,
                           reason=WARMUP_REFUSAL)
        return self.inner.submit_algo(order)

    def cancel_algo(self, *, algo_id: int | None = None, client_algo_id: str | None = None) -> AlgoAck:
        if self.closed:
            self._refuse(f"cancel algo {algo_id or client_algo_id}")
            return AlgoAck(symbol="", client_algo_id=client_algo_id or "", status=REJECTED, algo_id=algo_id,
                           reason=WARMUP_REFUSAL)
        return self.inner.cancel_algo(algo_id=algo_id, client_algo_id=client_algo_id)

    def cancel_all(self, symbol: str) -> None:
        if self.closed:
            self._refuse(f"cancel all {symbol}")
            return
        self.inner.cancel_all(symbol)

    def change_leverage(self, symbol: str, leverage: int) -> None:
        if self.closed:
            self._refuse(f"leverage {symbol} {leverage}")
            return
        self.inner.change_leverage(symbol, leverage)

    def change_margin_type(self, symbol: str, margin_type: str) -> None:
        if self.closed:
            self._refuse(f"margin type {symbol} {margin_type}")
            return
        self.inner.change_margin_type(symbol, margin_type)

    def change_position_mode(self, hedge: bool) -> None:
        if self.closed:
            self._refuse(f"position mode hedge={hedge}")
            return
        self.inner.change_position_mode(hedge)

