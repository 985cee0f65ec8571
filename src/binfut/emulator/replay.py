"""Replay mode of the simulator: recorded Binance market data driven through the same engine.

Reads ``shared/realdata`` recordings: the hftbacktest collector format (``<recv ns> <json>`` lines,
gzip or not, with a bare REST snapshot) and the cryptofeed raw capture (``<ts>: <frame>`` lines, its
``.http.0.0`` depth snapshots and ``.0`` exchangeInfo alongside). Rules kept here:
- events replay in exchange event-time (``E``) order as the clock reaches them (the clock starts at
  the recording's first event);
- the book syncs as Binance's guide says: diffs wait for the snapshot, ``u < lastUpdateId`` dropped;
- each recorded level near the mid becomes a resting order of a simulated participant (one account
  per side); a changed level is cancelled and re-placed, and the participant first withdraws its own
  quotes the new level would cross, so the replay never prints trades that did not happen;
- recorded trades go to the public tape as they were and reach the engine as ``Trade`` market events
  (filling user orders the market traded through); mark = index = mid, once a second.
"""

from __future__ import annotations

import gzip
import heapq
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from binfut._money import E8, MONEY
from binfut.emulator.handlers.stats import MAKER_PREFIX
from binfut.emulator.marketdata import MarkPriceUpdate
from binfut.errors import ApiError, ConfigError
from binfut.matching import commands as c
from binfut.matching.instruments import SymbolSpec, default_specs, make_brackets
from binfut.matching.outputs import PublicTrade

if TYPE_CHECKING:
    from binfut.emulator.exchange import LocalExchange

__all__ = ["Recording", "ReplayDriver", "ReplayEvent", "open_replay", "spec_from_exchange_info"]

_GENERIC_BRACKETS = [
    (50, 50_000, "0.01"),
    (20, 250_000, "0.025"),
    (10, 1_000_000, "0.05"),
    (5, 5_000_000, "0.1"),
    (1, 50_000_000, "0.25"),
]
_decode = msgspec.json.Decoder().decode


@dataclass(slots=True, order=True)
class ReplayEvent:
    """One recorded event: ``kind`` is ``snapshot``, ``depth`` or ``trade``."""

    time_ms: int
    seq: int
    kind: str = field(compare=False)
    symbol: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, repr=False)


@dataclass(slots=True)
class Recording:
    """A parsed recording: instrument specs of its symbols, first event time and the events."""

    specs: dict[str, SymbolSpec]
    start_ms: int
    events: list[ReplayEvent]


def spec_from_exchange_info(info: dict[str, Any]) -> SymbolSpec | None:
    """A :class:`SymbolSpec` from one exchangeInfo ``symbols[]`` entry (None when unusable)."""
    f = {x["filterType"]: x for x in info.get("filters", [])}
    try:
        pf, lot = f["PRICE_FILTER"], f["LOT_SIZE"]
        mlot = f.get("MARKET_LOT_SIZE", lot)
        pp = f.get("PERCENT_PRICE", {"multiplierUp": "1.0500", "multiplierDown": "0.9500"})
        return SymbolSpec(
            symbol=info["symbol"],
            base_asset=info.get("baseAsset", info["symbol"][:-4]),
            quote_asset=info.get("quoteAsset", "USDT"),
            price_precision=int(info.get("pricePrecision", 8)),
            quantity_precision=int(info.get("quantityPrecision", 8)),
            tick_size=Decimal(pf["tickSize"]).normalize(MONEY),
            min_price=Decimal(pf["minPrice"]),
            max_price=Decimal(pf["maxPrice"]),
            step_size=Decimal(lot["stepSize"]).normalize(MONEY),
            min_qty=Decimal(lot["minQty"]),
            max_qty=Decimal(lot["maxQty"]),
            market_step_size=Decimal(mlot["stepSize"]).normalize(MONEY),
            market_min_qty=Decimal(mlot["minQty"]),
            market_max_qty=Decimal(mlot["maxQty"]),
            min_notional=Decimal(f.get("MIN_NOTIONAL", {}).get("notional", "5")),
            multiplier_up=Decimal(pp["multiplierUp"]),
            multiplier_down=Decimal(pp["multiplierDown"]),
            max_num_orders=int(f.get("MAX_NUM_ORDERS", {}).get("limit", 200)),
            max_num_algo_orders=int(f.get("MAX_NUM_ALGO_ORDERS", {}).get("limit", 10)),
            brackets=make_brackets(_GENERIC_BRACKETS),
            liquidation_fee=Decimal(info.get("liquidationFee", "0.0125")),
            trigger_protect=Decimal(info.get("triggerProtect", "0.05")),
            margin_asset=info.get("marginAsset", "USDT"),
        )
    except (KeyError, ValueError, ArithmeticError):
        return None


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace").splitlines()


def _frame_event(frame: dict[str, Any], seq: int) -> ReplayEvent | None:
    data = frame.get("data", frame)
    kind = data.get("e")
    if kind == "depthUpdate":
        return ReplayEvent(int(data["E"]), seq, "depth", data["s"], data)
    if kind in ("trade", "aggTrade"):
        return ReplayEvent(int(data.get("T") or data["E"]), seq, "trade", data["s"], data)
    return None  # bookTicker, kline, ...: the book and the engine produce their own


def _read_hftbacktest(lines: list[str]) -> tuple[list[ReplayEvent], set[str]]:
    events: list[ReplayEvent] = []
    symbols: set[str] = set()
    last_symbol = ""
    for seq, line in enumerate(lines):
        _, _, payload = line.partition(" ")
        if not payload.startswith("{"):
            continue
        frame = _decode(payload)
        if "lastUpdateId" in frame:  # the bare REST snapshot names no symbol: it is the stream's
            events.append(ReplayEvent(int(frame.get("E") or frame.get("T") or 0), seq, "snapshot", last_symbol, frame))
            continue
        ev = _frame_event(frame, seq)
        if ev is not None:
            events.append(ev)
            symbols.add(ev.symbol)
            last_symbol = ev.symbol
    return events, symbols


def _read_cryptofeed(path: Path, lines: list[str]) -> tuple[list[ReplayEvent], set[str], dict[str, SymbolSpec]]:
    events: list[ReplayEvent] = []
    symbols: set[str] = set()
    for seq, line in enumerate(lines[1:], start=1):
        _, sep, payload = line.partition(": ")
        if sep and payload.startswith("{"):
            ev = _frame_event(_decode(payload), seq)
            if ev is not None:
                events.append(ev)
                symbols.add(ev.symbol)
    stem = path.name.split(".ws.")[0]
    http = next(iter(sorted(path.parent.glob(f"{stem}.http.*"))), None)
    if http is not None:
        for seq, line in enumerate(_lines(http), start=len(lines)):
            url, _, rest = line.partition(" -> ")
            _, _, payload = rest.partition(": ")
            if "symbol=" in url and payload.startswith("{"):
                symbol = url.split("symbol=")[1].split("&")[0].upper()
                snap = _decode(payload)
                events.append(ReplayEvent(int(snap.get("E") or snap.get("T") or 0), seq, "snapshot", symbol, snap))
    specs: dict[str, SymbolSpec] = {}
    info_file = path.parent / f"{stem}.0"
    if info_file.is_file():
        first = _lines(info_file)[0]
        info = _decode(first.split(": ", 1)[1])
        for entry in info.get("symbols", []):
            if entry.get("symbol") in symbols:
                spec = spec_from_exchange_info(entry)
                if spec is not None:
                    specs[spec.symbol] = spec
    return events, symbols, specs


def open_replay(path: str | Path) -> Recording:
    """Parse a recording (format detected from its first line).

    Raises
    ------
    ConfigError
        Unreadable file, unknown format, or symbols without instrument specs.
    """
    p = Path(path)
    try:
        lines = _lines(p)
    except OSError as exc:
        raise ConfigError(f"cannot read replay file {p}: {exc.strerror}") from None
    if not lines:
        raise ConfigError(f"replay file {p} is empty")
    specs: dict[str, SymbolSpec] = {}
    if " <-> " in lines[0]:
        events, symbols, specs = _read_cryptofeed(p, lines)
    elif lines[0].split(" ", 1)[0].isdigit():
        events, symbols = _read_hftbacktest(lines)
    else:
        raise ConfigError(f"replay file {p}: unknown format (hftbacktest or cryptofeed capture expected)")
    known = default_specs()
    for symbol in symbols:
        if symbol not in specs and symbol in known:
            specs[symbol] = known[symbol]
    missing = sorted(symbols - specs.keys())
    if missing:
        raise ConfigError(f"replay file {p}: no instrument specs for {missing}")
    events = [e for e in events if e.symbol in specs]
    if not events:
        raise ConfigError(f"replay file {p}: no depth or trade events")
    events.sort()
    return Recording(specs, events[0].time_ms, events)


@dataclass(slots=True)
class _Side:
    account: str
    orders: dict[Decimal, int] = field(default_factory=dict)  # price -> order id


@dataclass(slots=True)
class _SymbolReplay:
    bids: _Side
    asks: _Side
    synced: bool = False
    diffs: int = 0
    last_update_id: int = 0
    pending: list[ReplayEvent] = field(default_factory=list)
    levels_bid: dict[Decimal, Decimal] = field(default_factory=dict)  # the recorded book
    levels_ask: dict[Decimal, Decimal] = field(default_factory=dict)


class ReplayDriver:
    """Feeds a :class:`Recording` into the exchange as its clock passes the recorded times.

    Parameters
    ----------
    exchange : the local exchange (built for the recording's symbols)
    recording : from :func:`open_replay`
    max_levels : resting orders per side and symbol (MAX_NUM_ORDERS is 200 per account)
    window_pct : only levels within this fraction of the mid are placed
    """

    def __init__(
        self,
        exchange: LocalExchange,
        recording: Recording,
        *,
        max_levels: int = 150,
        window_pct: Decimal = Decimal("0.02"),
    ) -> None:
        self.ex = exchange
        self.recording = recording
        self.max_levels = max_levels
        self.window = window_pct
        self.pos = 0
        self.applied = 0  # events applied (tests check that the recording reached the engine)
        self.trades = 0
        self._next_mark = 0
        self.state: dict[str, _SymbolReplay] = {}
        for symbol in recording.specs:
            if symbol not in exchange.symbol_set:
                continue
            sides = []
            for side in ("bids", "asks"):
                account = f"{MAKER_PREFIX}replay-{side}-{symbol}"
                exchange.venue.open_account(account, {"USDT": Decimal(10**9)}, unlimited=True, emit_events=False)
                sides.append(_Side(account))
            self.state[symbol] = _SymbolReplay(sides[0], sides[1])

    @property
    def finished(self) -> bool:
        return self.pos >= len(self.recording.events)

    def step(self, now_ms: int) -> None:
        """Apply every recorded event up to ``now_ms``; publish marks once per second."""
        events = self.recording.events
        while self.pos < len(events) and events[self.pos].time_ms <= now_ms:
            ev = events[self.pos]
            self.pos += 1
            st = self.state.get(ev.symbol)
            if st is None:
                continue
            if ev.kind == "trade":
                self._trade(ev)
            elif ev.kind == "snapshot":
                self._snapshot(ev, st)
            elif st.synced:
                self._diff(ev, st)
            else:
                heapq.heappush(st.pending, ev)
            if ev.time_ms >= self._next_mark:
                self._marks(ev.time_ms)
                self._next_mark = ev.time_ms - ev.time_ms % 1000 + 1000

    # --- book ---------------------------------------------------------------------------------------

    def _snapshot(self, ev: ReplayEvent, st: _SymbolReplay) -> None:
        snap = ev.data
        st.levels_bid = {Decimal(p): Decimal(q) for p, q in snap.get("bids", [])}
        st.levels_ask = {Decimal(p): Decimal(q) for p, q in snap.get("asks", [])}
        st.last_update_id = int(snap["lastUpdateId"])
        st.synced = True
        self.applied += 1
        pending, st.pending = sorted(st.pending), []
        for diff in pending:  # Binance's rule: drop what the snapshot already holds
            if int(diff.data["u"]) >= st.last_update_id:
                self._apply_levels(diff, st)
        self._reconcile(ev.symbol, st)

    def _diff(self, ev: ReplayEvent, st: _SymbolReplay) -> None:
        if int(ev.data["u"]) < st.last_update_id:
            return
        self._apply_levels(ev, st)
        self.applied += 1
        st.diffs += 1
        if st.diffs % 250 == 0:  # now and then a full pass moves the window with the mid
            self._reconcile(ev.symbol, st)
        else:
            self._changed(ev, st)

    def _changed(self, ev: ReplayEvent, st: _SymbolReplay) -> None:
        """Re-place only the levels this diff touched (the common, cheap path)."""
        symbol = ev.symbol
        if not st.levels_bid or not st.levels_ask:
            return
        mid = (max(st.levels_bid) + min(st.levels_ask)) / 2
        lo, hi = mid * (1 - self.window), mid * (1 + self.window)
        open_bids = self.ex.venue.accounts[st.bids.account].open_orders
        open_asks = self.ex.venue.accounts[st.asks.account].open_orders
        for key, side, other, book, opened, other_open, name in (
            ("b", st.bids, st.asks, st.levels_bid, open_bids, open_asks, "BUY"),
            ("a", st.asks, st.bids, st.levels_ask, open_asks, open_bids, "SELL"),
        ):
            for p, _ in ev.data.get(key, []):
                price = Decimal(p)
                oid = side.orders.pop(price, None)
                if oid is not None and oid in opened:
                    self._send(side.account, c.CancelOrder(symbol=symbol, order_id=oid))
                qty = book.get(price)
                if qty is None or not lo <= price <= hi or len(side.orders) >= self.max_levels:
                    continue
                # Withdraw our own quotes this level would cross (they are stale in the recording).
                for op, ooid in list(other.orders.items()):
                    if (op <= price) if name == "BUY" else (op >= price):
                        other.orders.pop(op)
                        if ooid in other_open:
                            self._send(other.account, c.CancelOrder(symbol=symbol, order_id=ooid))
                snap = self._send(side.account, c.NewOrder(symbol=symbol, side=name, type="LIMIT", time_in_force="GTC",
                                                            quantity=qty, price=price))  # fmt: skip
                if snap is not None:
                    side.orders[price] = snap.order_id

    @staticmethod
    def _apply_levels(ev: ReplayEvent, st: _SymbolReplay) -> None:
        for key, book in (("b", st.levels_bid), ("a", st.levels_ask)):
            for p, q in ev.data.get(key, []):
                price, qty = Decimal(p), Decimal(q)
                if qty:
                    book[price] = qty
                else:
                    book.pop(price, None)
        st.last_update_id = int(ev.data["u"])

    def _reconcile(self, symbol: str, st: _SymbolReplay) -> None:
        """Make the participants' resting orders match the recorded book near the mid."""
        if not st.levels_bid or not st.levels_ask:
            return
        best_bid, best_ask = max(st.levels_bid), min(st.levels_ask)
        mid = (best_bid + best_ask) / 2
        lo, hi = mid * (1 - self.window), mid * (1 + self.window)
        want_bids = dict(sorted(((p, q) for p, q in st.levels_bid.items() if p >= lo), reverse=True)[: self.max_levels])
        want_asks = dict(sorted((p, q) for p, q in st.levels_ask.items() if p <= hi)[: self.max_levels])
        venue = self.ex.venue
        # Withdraw first: stale levels on either side, so nothing placed below crosses our own quotes.
        for side, want in ((st.bids, want_bids), (st.asks, want_asks)):
            open_orders = venue.accounts[side.account].open_orders
            for price, oid in list(side.orders.items()):
                order = open_orders.get(oid)
                if order is None or price not in want or self._qty_of(symbol, order) != want[price]:
                    side.orders.pop(price)
                    if order is not None:
                        self._send(side.account, c.CancelOrder(symbol=symbol, order_id=oid))
        for name, side, want in (("BUY", st.bids, want_bids), ("SELL", st.asks, want_asks)):
            for price, qty in want.items():
                if price in side.orders:
                    continue
                snap = self._send(side.account, c.NewOrder(symbol=symbol, side=name, type="LIMIT", time_in_force="GTC",
                                                            quantity=qty, price=price))  # fmt: skip
                if snap is not None:
                    side.orders[price] = snap.order_id

    def _qty_of(self, symbol: str, order: Any) -> Decimal:
        spec = self.ex.venue.specs[symbol]
        return spec.qty(order.qty - order.filled)

    # --- trades and marks ---------------------------------------------------------------------------

    def _trade(self, ev: ReplayEvent) -> None:
        d = ev.data
        price, qty = Decimal(d["p"]), Decimal(d["q"])
        buyer_is_maker = bool(d.get("m"))
        self.trades += 1
        self.applied += 1
        tid = int(d.get("t") or d.get("a") or self.trades)
        self.ex.market.ingest(
            PublicTrade(
                symbol=ev.symbol, trade_id=tid, price=price, qty=qty, buyer_is_maker=buyer_is_maker, time_ms=ev.time_ms
            )
        )
        self._market(
            c.Trade(symbol=ev.symbol, price=price, quantity=qty, time_ms=ev.time_ms, buyer_is_maker=buyer_is_maker)
        )

    def _marks(self, t: int) -> None:
        nxt = t - t % 28_800_000 + 28_800_000
        for symbol, st in self.state.items():
            if not st.levels_bid or not st.levels_ask:
                continue
            mid = ((max(st.levels_bid) + min(st.levels_ask)) / 2).quantize(E8, ROUND_HALF_EVEN)
            self._market(c.MarkPrice(symbol=symbol, mark_price=mid, time_ms=t, index_price=mid))
            self.ex.market.on_mark(
                MarkPriceUpdate(
                    symbol=symbol, mark_price=mid, index_price=mid, estimated_settle_price=mid, premium_index=Decimal(0),
                    funding_rate=Decimal("0.00010000"), interest_rate=Decimal("0.00010000"), next_funding_time_ms=nxt, time_ms=t,
                )
            )  # fmt: skip

    def _send(self, account: str, command: c.Command) -> Any:
        try:
            return self.ex.execute(account, command)
        except ApiError as err:  # a level outside PERCENT_PRICE / the filters is simply not placed
            self.ex.log.debug("replay command refused: %s %s", err.code, err.msg)
            return None

    def _market(self, event: c.MarketEvent) -> None:
        try:
            self.ex.on_market(event)
        except ApiError as err:
            self.ex.log.debug("replay market event refused: %s %s", err.code, err.msg)
