"""Strategies: the hook interface, the context they act through, and the reference strategies.

A :class:`Strategy` receives closed bars, trades, book tops, order updates and timers through one
:class:`Context` (clock, portfolio, order manager, risk manager), identically in backtest, paper and
live trading.  :class:`MACross` (moving-average crossover) and :class:`MLStrategy` (a scikit-learn
classifier trained walk-forward on :mod:`binfut.strategy.features`) are the reference strategies.
"""

from binfut.strategy.base import Bar, BookTop, Strategy, Vectorized, follow_signal
from binfut.strategy.context import Context, StrategyDriver
from binfut.strategy.features import (
    LookAheadError,
    assert_no_lookahead,
    compute_features,
    feature_names,
    frame_features,
)
from binfut.strategy.ma_cross import MACross, MACrossConfig, ma_cross_signals
from binfut.strategy.ml import MLConfig, MLStrategy, make_labels, walk_forward_signals

__all__ = [
    "Bar",
    "BookTop",
    "Context",
    "LookAheadError",
    "MACross",
    "MACrossConfig",
    "MLConfig",
    "MLStrategy",
    "Strategy",
    "StrategyDriver",
    "Vectorized",
    "assert_no_lookahead",
    "compute_features",
    "feature_names",
    "follow_signal",
    "frame_features",
    "ma_cross_signals",
    "make_labels",
    "walk_forward_signals",
]
