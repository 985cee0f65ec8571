"""MA crossover: the vectorised signals are the bar-by-bar signals, exactly, on any prices."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binfut.strategy import MACross, MACrossConfig, ma_cross_signals

D = Decimal


def incremental(ticks: list[int], short: int, long: int, mode: str = "long_short") -> list[int]:
    strategy = MACross(MACrossConfig(short_window=short, long_window=long, mode=mode))
    return [strategy.update(D(t) * D("0.10")) for t in ticks]


@settings(max_examples=60, deadline=None)
@given(
    ticks=st.lists(st.integers(min_value=600_000, max_value=600_010), min_size=1, max_size=120),
    windows=st.tuples(st.integers(1, 8), st.integers(1, 12)).filter(lambda w: w[0] < w[1]),
    mode=st.sampled_from(["long_short", "long_only", "short_only"]),
)
def test_vectorised_signals_equal_the_bar_by_bar_signals(ticks: list[int], windows: tuple[int, int], mode: str) -> None:
    short, long = windows

    fast = ma_cross_signals(np.array(ticks, dtype=np.int64), short, long, mode)

    assert fast.tolist() == incremental(ticks, short, long, mode)


def test_no_signal_before_the_long_window_and_flat_when_the_averages_are_equal() -> None:
    ticks = [100] * 10 + [101, 99]  # equal averages until the last two bars

    signals = ma_cross_signals(np.array(ticks), 2, 5)

    assert signals[:4].tolist() == [0, 0, 0, 0]
    assert signals[4:10].tolist() == [0] * 6  # short average == long average exactly
    assert signals[10] == 1 and signals[11] == 0  # (101+99)/2 == 100 == long average


def test_modes_filter_the_direction() -> None:
    ticks = np.array([10, 11, 12, 13, 12, 11, 10, 9, 8, 9, 10, 11])

    both = ma_cross_signals(ticks, 2, 4)
    longs = ma_cross_signals(ticks, 2, 4, "long_only")
    shorts = ma_cross_signals(ticks, 2, 4, "short_only")

    assert set(both.tolist()) == {-1, 0, 1}
    assert longs.tolist() == [max(s, 0) for s in both.tolist()]
    assert shorts.tolist() == [min(s, 0) for s in both.tolist()]


@pytest.mark.parametrize("kw", [dict(short_window=5, long_window=5), dict(mode="sideways"),
                                dict(quantity=None, notional_fraction=None)])
def test_config_is_validated(kw: dict) -> None:
    with pytest.raises(ValueError):
        MACrossConfig(**kw)


@settings(max_examples=40, deadline=None)
@given(
    ticks=st.lists(st.integers(min_value=600_000, max_value=600_050), min_size=1, max_size=60),
    windows=st.tuples(st.integers(1, 8), st.integers(1, 12)).filter(lambda w: w[0] < w[1]),
)
def test_warmup_bars_are_the_bars_before_the_first_possible_signal(ticks: list[int], windows: tuple[int, int]) -> None:
    short, long = windows
    strategy = MACross(MACrossConfig(short_window=short, long_window=long))

    signals = incremental(ticks, short, long)
    rising = incremental(list(range(600_000, 600_000 + long)), short, long)

    assert strategy.warmup_bars == long - 1
    assert signals[:strategy.warmup_bars] == [0] * min(len(ticks), long - 1)  # replaying them never trades
    assert rising[strategy.warmup_bars] == 1  # the next close can
