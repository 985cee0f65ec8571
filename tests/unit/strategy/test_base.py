"""The Strategy base: hooks default to nothing, warm-up defaults to none."""

from __future__ import annotations

from binfut.strategy import Strategy


class Declares(Strategy):
    @property
    def warmup_bars(self) -> int:
        return 30


def test_a_strategy_needs_no_warmup_unless_it_declares_one() -> None:
    assert Strategy().warmup_bars == 0
    assert Declares().warmup_bars == 30
