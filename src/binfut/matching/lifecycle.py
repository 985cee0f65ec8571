"""All order-status and algo-status transitions live here, as tables.

``ORDER_TRANSITIONS`` maps ``(current status, transition)`` to ``(new status, execution type)``: the
status goes into ``X`` and the execution type into ``x`` of ORDER_TRADE_UPDATE.  ``None`` as the
current status is an order being accepted.  Anything not in the table is a bug and raises
``KeyError`` -- the engine never invents a transition.  ``ALGO_TRANSITIONS`` does the same for the
conditional orders of the Algo Order API (NEW -> TRIGGERING -> TRIGGERED -> FINISHED, or CANCELED /
EXPIRED / REJECTED).  Tests walk both tables.

References: "Order Status", "Execution Type" and "Algo Order" enums in the USD-M API docs.
"""

from __future__ import annotations

from enum import Enum

from binfut.enums import AlgoStatus, ExecutionType, OrderStatus

__all__ = [
    "ALGO_TERMINAL",
    "ALGO_TRANSITIONS",
    "ORDER_STEPS",
    "ORDER_TRANSITIONS",
    "TERMINAL",
    "AlgoTransition",
    "Transition",
    "advance",
    "advance_algo",
]


class Transition(Enum):
    """What happened to an order."""

    ACCEPT = "accept"  # placed: NEW
    PARTIAL_FILL = "partial_fill"  # traded, quantity left
    FILL = "fill"  # traded, nothing left
    CANCEL = "cancel"  # cancelled by the user, cancel-all, countdown, liquidation
    EXPIRE = "expire"  # IOC/MARKET remainder, FOK, GTD, reduce-only no longer reducing
    EXPIRE_IN_MATCH = "expire_in_match"  # self-trade prevention
    AMEND = "amend"  # modified price / quantity
    LIQUIDATE = "liquidate"  # the venue's liquidation order, filled in one go


_S = OrderStatus
_X = ExecutionType
_T = Transition

ORDER_TRANSITIONS: dict[tuple[OrderStatus | None, Transition], tuple[OrderStatus, ExecutionType]] = {
    (None, _T.ACCEPT): (_S.NEW, _X.NEW),
    (None, _T.LIQUIDATE): (_S.FILLED, _X.CALCULATED),
    (_S.NEW, _T.PARTIAL_FILL): (_S.PARTIALLY_FILLED, _X.TRADE),
    (_S.NEW, _T.FILL): (_S.FILLED, _X.TRADE),
    (_S.NEW, _T.CANCEL): (_S.CANCELED, _X.CANCELED),
    (_S.NEW, _T.EXPIRE): (_S.EXPIRED, _X.EXPIRED),
    (_S.NEW, _T.EXPIRE_IN_MATCH): (_S.EXPIRED_IN_MATCH, _X.EXPIRED),
    (_S.NEW, _T.AMEND): (_S.NEW, _X.AMENDMENT),
    (_S.PARTIALLY_FILLED, _T.PARTIAL_FILL): (_S.PARTIALLY_FILLED, _X.TRADE),
    (_S.PARTIALLY_FILLED, _T.FILL): (_S.FILLED, _X.TRADE),
    (_S.PARTIALLY_FILLED, _T.CANCEL): (_S.CANCELED, _X.CANCELED),
    (_S.PARTIALLY_FILLED, _T.EXPIRE): (_S.EXPIRED, _X.EXPIRED),
    (_S.PARTIALLY_FILLED, _T.EXPIRE_IN_MATCH): (_S.EXPIRED_IN_MATCH, _X.EXPIRED),
    (_S.PARTIALLY_FILLED, _T.AMEND): (_S.PARTIALLY_FILLED, _X.AMENDMENT),
}

#: ``ORDER_TRANSITIONS`` regrouped per transition: ``ORDER_STEPS[transition][status]`` (the engine's
#: hot path; a lookup keyed by the status alone avoids hashing the Enum on every order event).
ORDER_STEPS: dict[Transition, dict[OrderStatus | None, tuple[OrderStatus, ExecutionType]]] = {
    t: {s: v for (s, t2), v in ORDER_TRANSITIONS.items() if t2 is t} for t in Transition
}

#: Statuses from which no transition leaves (the order is closed and moves to history).
TERMINAL: frozenset[OrderStatus] = frozenset(
    {_S.FILLED, _S.CANCELED, _S.EXPIRED, _S.EXPIRED_IN_MATCH, _S.REJECTED}
)


def advance(status: OrderStatus | None, transition: Transition) -> tuple[OrderStatus, ExecutionType]:
    """Next ``(status, execution type)`` of an order.

    Raises
    ------
    KeyError
        The transition is not allowed from ``status`` (an engine bug, never a user error).
    """
    return ORDER_TRANSITIONS[status, transition]


class AlgoTransition(Enum):
    """What happened to an algo (conditional) order."""

    ACCEPT = "accept"
    TRIGGER = "trigger"  # condition met, the order is being sent to the matching engine
    PLACED = "placed"  # the matching engine accepted the spawned order
    FINISH = "finish"  # the spawned order is closed (filled, cancelled or expired)
    CANCEL = "cancel"
    EXPIRE = "expire"  # GTD of the algo order reached
    REJECT = "reject"  # the spawned order was rejected (reduce-only, margin, ...)


_A = AlgoStatus
_AT = AlgoTransition

ALGO_TRANSITIONS: dict[tuple[AlgoStatus | None, AlgoTransition], AlgoStatus] = {
    (None, _AT.ACCEPT): _A.NEW,
    (_A.NEW, _AT.TRIGGER): _A.TRIGGERING,
    (_A.NEW, _AT.CANCEL): _A.CANCELED,
    (_A.NEW, _AT.EXPIRE): _A.EXPIRED,
    (_A.TRIGGERING, _AT.PLACED): _A.TRIGGERED,
    (_A.TRIGGERING, _AT.REJECT): _A.REJECTED,
    (_A.TRIGGERED, _AT.FINISH): _A.FINISHED,
}

ALGO_TERMINAL: frozenset[AlgoStatus] = frozenset(
    {_A.CANCELED, _A.EXPIRED, _A.REJECTED, _A.FINISHED}
)


def advance_algo(status: AlgoStatus | None, transition: AlgoTransition) -> AlgoStatus:
    """Next status of an algo order (``KeyError`` if not allowed)."""
    return ALGO_TRANSITIONS[status, transition]
