"""The engine's answers: wire Decimals, lazily built REST answers, the command's :class:`Result`, events.

* :func:`plain` / :func:`wire` make Decimals that msgspec encodes without an exponent, as Binance writes them.
* :class:`Result` is what :meth:`SimulatedVenue.execute` returns: the REST answer (built on first read,
  through :class:`Lazy` / :class:`LazyOrder`) plus the outputs.
* :func:`order_event`, :func:`trade_lite` and :func:`order_snapshot` turn an engine ``Order`` (integer
  ticks and lots) into the wire Structs of :mod:`binfut.matching.outputs` and
  :mod:`binfut.protocol.userevents`.

Kept apart from the Struct definitions so that it compiles with the engine (``make compiled``): this
runs for every command, the Structs are built by msgspec.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Final, cast

from binfut._money import div_half_even, pinned
from binfut.matching.outputs import OrderSnapshot, Output
from binfut.protocol.userevents import OrderTradeUpdate, OrderUpdate, TradeLite

if TYPE_CHECKING:
    from binfut.matching.instruments import SymbolSpec
    from binfut.matching.orderbook import Order

__all__ = [
    "Lazy", "LazyOrder", "Result", "avg_price", "order_event", "order_snapshot", "plain", "trade_lite", "wire", "wire_e8",
]

ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
# Decimal.adjusted called as a function: compiled, a method call looks the name up at each call
_adjusted: Final = Decimal.adjusted


def plain(value: Decimal) -> Decimal:
    """``value`` in a form whose ``str`` is plain (no exponent) whenever Decimal allows it.

    msgspec encodes Decimal with ``str``; a zero carrying many decimals (``0E-8``) or an integral
    value with a positive exponent would come out in scientific notation.  Non-zero magnitudes below
    1e-6 cannot be written plainly by ``str`` at all: :func:`wire` handles those.  The result is a
    Decimal, fit for further arithmetic.
    """
    if not value:
        return ZERO
    if _adjusted(value) > 0 and "E" in str(value):  # a positive exponent (adjusted() >= exponent)
        return value.quantize(_ONE, ROUND_HALF_EVEN)
    return value


def wire(value: Decimal) -> Decimal:
    """``value`` for a wire Struct field: :func:`plain`, or fixed-point text below 1e-6.

    Binance never sends ``"1E-7"``; no Decimal's ``str`` can spell 0.0000001 plainly, so such a
    value goes into the (Decimal-typed) field as the string ``"0.00000010"``, which msgspec encodes
    exactly like a Decimal and decodes back into one.  Typed ``Decimal`` for the Structs' sake: use
    it only for a field value, never in arithmetic again.
    """
    if not value:
        return ZERO
    adjusted = _adjusted(value)
    if adjusted < -6:
        return cast(Decimal, format(value, "f"))  # a str, encoded like the Decimal it spells
    if adjusted > 0 and "E" in str(value):
        return value.quantize(_ONE, ROUND_HALF_EVEN)
    return value



def wire_e8(value: Decimal) -> Decimal:
    """:func:`wire` of a value without a positive exponent, or of ``ZERO``: a value quantized to 8
    decimal places (PnL), or a price of a symbol whose tick has none (``SymbolSpec.plain_prices``).

    Only the tiny ones need the fixed-point text; the ``str`` that :func:`wire` reads for any value of
    10 or more is skipped.
    """
    if not value:
        return ZERO
    if _adjusted(value) < -6:
        return cast(Decimal, format(value, "f"))
    return value



# --- answers ---------------------------------------------------------------------------------------


class Lazy:
    """A REST answer built on first read (most callers of a backtest never read it)."""

    __slots__ = ("args", "func")

    def __init__(self, func: Any, *args: Any) -> None:
        self.func = func
        self.args = args

    def build(self) -> Any:
        return self.func(*self.args)


class LazyOrder:
    """``order_snapshot(spec, order, ack)`` built on first read (the order commands' answer).

    A :class:`Lazy` specialised for the hot path: no argument tuple, one allocation.
    """

    __slots__ = ("ack", "order", "spec")

    def __init__(self, spec: SymbolSpec, order: Order, ack: bool = False) -> None:
        self.spec = spec
        self.order = order
        self.ack = ack

    def build(self) -> OrderSnapshot:
        return order_snapshot(self.spec, self.order, self.ack)


@pinned
def _build(lazy: Lazy | LazyOrder) -> Any:
    """A lazy answer built in binfut's decimal context (it is read after ``execute`` returned)."""
    return lazy.build()


class Result:
    """The outcome of one command: the REST answer (``value``) and every output it caused, in order.

    ``value`` of an order command is built when first read, from the order as it is then: read it
    before executing further commands if the exact post-command state matters (an ACK answer does
    not depend on later changes, only a RESULT answer does).
    """

    __slots__ = ("_value", "outputs")

    def __init__(self, value: Any, outputs: list[Output]) -> None:
        self._value = value
        self.outputs = outputs

    @property
    def value(self) -> Any:
        v = self._value
        t = type(v)
        if t is LazyOrder or t is Lazy:
            v = self._value = _build(v)
        return v

    def __repr__(self) -> str:
        return f"Result(value={self.value!r}, outputs={self.outputs!r})"


# --- event and snapshot builders -------------------------------------------------------------------


def avg_price(spec: SymbolSpec, order: Order) -> Decimal:
    """Average fill price: cum quote / executed quantity, to 1/10 000 of a tick."""
    filled = order.filled
    if not filled:
        return spec.zero_price
    # (tick x cum_quote / filled).quantize(tick x 0.0001, ROUND_HALF_EVEN) in integers (see
    # SymbolSpec.avg_quantum), rounded once where the Decimal quotient was rounded twice
    return spec.avg_quantum * div_half_even(order.cum_quote * spec.avg_steps, filled)


def order_event(
    spec: SymbolSpec,
    order: Order,
    exec_type: str,
    now: int,
    bids_notional: Decimal,
    asks_notional: Decimal,
    last_lots: int = 0,
    last_ticks: int = 0,
    commission: Decimal | None = None,
    trade_id: int = 0,
    is_maker: bool = False,
    realized: Decimal = ZERO,
    qty: Callable[[int], Decimal] | None = None,
    price: Callable[[int], Decimal] | None = None,
) -> OrderTradeUpdate:
    """ORDER_TRADE_UPDATE for ``order`` after a transition (fill fields set for TRADE / CALCULATED).

    ``qty`` / ``price`` convert lots / ticks (default the spec's; the engine passes cached ones).
    """
    if qty is None:
        qty = spec.qty
    if price is None:
        price = spec.price
    trailing = order.callback_rate is not None
    filled = order.filled
    return OrderTradeUpdate(
        event_time_ms=now,
        transaction_time_ms=now,
        order=OrderUpdate(
            symbol=spec.symbol,
            client_order_id=order.client_order_id,
            side=order.side,
            order_type=order.type,
            time_in_force=order.tif,
            original_quantity=qty(order.qty),
            original_price=price(order.price),
            average_price=avg_price(spec, order) if filled else spec.zero_price,
            stop_price=order.stop_price if order.stop_price is not None else spec.zero_price,
            execution_type=exec_type,
            order_status=order.status,  # type: ignore[arg-type]
            order_id=order.order_id,
            last_filled_quantity=qty(last_lots),
            filled_accumulated_quantity=qty(filled),
            last_filled_price=price(last_ticks),
            commission_asset=spec.margin_asset if commission is not None else None,
            commission=wire(commission) if commission is not None else None,
            order_trade_time_ms=now,
            trade_id=trade_id,
            bids_notional=bids_notional,
            asks_notional=asks_notional,
            is_maker=is_maker,
            is_reduce_only=order.reduce_only,
            working_type=order.working_type,
            original_order_type=order.orig_type,
            position_side=order.position_side,
            close_position=order.close_position,
            activation_price=order.activate_price if trailing else None,
            callback_rate=order.callback_rate if trailing else None,
            price_protect=order.price_protect,
            strategy_id=0,
            strategy_sub_id=0,
            realized_profit=wire(realized),
            stp_mode=order.stp,
            price_match=order.price_match,
            good_till_date_ms=order.good_till_date,
        ),
    )


def trade_lite(
    spec: SymbolSpec, order: Order, now: int, lots: int, ticks: int, trade_id: int, is_maker: bool,
    qty: Callable[[int], Decimal] | None = None, price: Callable[[int], Decimal] | None = None,
) -> TradeLite:
    """TRADE_LITE for one fill of ``order``."""
    if qty is None:
        qty = spec.qty
    if price is None:
        price = spec.price
    return TradeLite(
        event_time_ms=now,
        transaction_time_ms=now,
        symbol=spec.symbol,
        original_quantity=qty(order.qty),
        original_price=price(order.price),
        is_maker=is_maker,
        client_order_id=order.client_order_id,
        side=order.side,
        last_filled_price=price(ticks),
        last_filled_quantity=qty(lots),
        trade_id=trade_id,
        order_id=order.order_id,
    )


def order_snapshot(spec: SymbolSpec, order: Order, ack: bool = False) -> OrderSnapshot:
    """The REST body of ``order``; ``ack`` gives the state at acceptance (newOrderRespType=ACK)."""
    trailing = order.callback_rate is not None
    filled = 0 if ack else order.filled
    executed = spec.qty(filled)
    return OrderSnapshot(
        order_id=order.order_id,
        symbol=spec.symbol,
        status="NEW" if ack else order.status,  # type: ignore[arg-type]
        client_order_id=order.client_order_id,
        price=spec.price(order.price),
        avg_price=spec.zero_price if ack else avg_price(spec, order),
        orig_qty=spec.qty(order.qty),
        executed_qty=executed,
        cum_qty=executed,
        cum_quote=spec.notional(0 if ack else order.cum_quote),
        time_in_force=order.tif,
        type=order.type,
        reduce_only=order.reduce_only,
        close_position=order.close_position,
        side=order.side,
        position_side=order.position_side,
        stop_price=order.stop_price if order.stop_price is not None else spec.zero_price,
        working_type=order.working_type,
        price_protect=order.price_protect,
        orig_type=order.orig_type,
        price_match=order.price_match,
        self_trade_prevention_mode=order.stp,
        good_till_date=order.good_till_date,
        time=order.time,
        update_time=order.time if ack else order.update_time,
        activate_price=order.activate_price if trailing else None,
        price_rate=order.callback_rate if trailing else None,
    )
