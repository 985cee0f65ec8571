"""The order- and algo-status transition tables, walked exhaustively."""

from __future__ import annotations

import itertools

import pytest

from binfut.enums import AlgoStatus, ExecutionType, OrderStatus
from binfut.matching.lifecycle import (
    ALGO_TERMINAL,
    ALGO_TRANSITIONS,
    ORDER_TRANSITIONS,
    TERMINAL,
    AlgoTransition,
    Transition,
    advance,
    advance_algo,
)

ORDER_STATES: list[OrderStatus | None] = [None, *OrderStatus]


def test_every_pair_is_either_in_the_table_or_refused() -> None:
    for status, transition in itertools.product(ORDER_STATES, Transition):
        if (status, transition) in ORDER_TRANSITIONS:
            new, exec_type = advance(status, transition)
            assert isinstance(new, OrderStatus) and isinstance(exec_type, ExecutionType)
        else:
            with pytest.raises(KeyError):
                advance(status, transition)


def test_terminal_statuses_have_no_way_out() -> None:
    for status in TERMINAL:
        assert not [t for (s, t) in ORDER_TRANSITIONS if s == status]


def test_every_status_but_rejected_is_reachable_from_acceptance() -> None:
    seen: set[OrderStatus] = set()
    frontier: list[OrderStatus | None] = [None]
    while frontier:
        s = frontier.pop()
        for (frm, _), (to, _) in ORDER_TRANSITIONS.items():
            if frm == s and to not in seen:
                seen.add(to)
                frontier.append(to)
    assert seen == set(OrderStatus) - {OrderStatus.REJECTED}  # rejections raise, no order exists


@pytest.mark.parametrize(
    ("status", "transition", "expected"),
    [
        (None, Transition.ACCEPT, (OrderStatus.NEW, ExecutionType.NEW)),
        (OrderStatus.NEW, Transition.PARTIAL_FILL, (OrderStatus.PARTIALLY_FILLED, ExecutionType.TRADE)),
        (OrderStatus.PARTIALLY_FILLED, Transition.FILL, (OrderStatus.FILLED, ExecutionType.TRADE)),
        (OrderStatus.PARTIALLY_FILLED, Transition.EXPIRE, (OrderStatus.EXPIRED, ExecutionType.EXPIRED)),
        (OrderStatus.NEW, Transition.EXPIRE_IN_MATCH, (OrderStatus.EXPIRED_IN_MATCH, ExecutionType.EXPIRED)),
        (OrderStatus.NEW, Transition.AMEND, (OrderStatus.NEW, ExecutionType.AMENDMENT)),
        (None, Transition.LIQUIDATE, (OrderStatus.FILLED, ExecutionType.CALCULATED)),
    ],
)
def test_binance_lifecycle_rows(status: OrderStatus | None, transition: Transition, expected: tuple[OrderStatus, ExecutionType]) -> None:
    assert advance(status, transition) == expected


def test_algo_table_walk() -> None:
    states: list[AlgoStatus | None] = [None, *AlgoStatus]
    for status, transition in itertools.product(states, AlgoTransition):
        if (status, transition) in ALGO_TRANSITIONS:
            assert isinstance(advance_algo(status, transition), AlgoStatus)
        else:
            with pytest.raises(KeyError):
                advance_algo(status, transition)
    for status in ALGO_TERMINAL:
        assert not [t for (s, t) in ALGO_TRANSITIONS if s == status]
    # the happy path of a conditional order
    s = advance_algo(None, AlgoTransition.ACCEPT)
    for t, expected in [(AlgoTransition.TRIGGER, "TRIGGERING"), (AlgoTransition.PLACED, "TRIGGERED"), (AlgoTransition.FINISH, "FINISHED")]:
        s = advance_algo(s, t)
        assert s == expected
