"""Strategies: the hook interface, the context they act through, and the reference strategies.

A :class:`Strategy` receives closed bars, trades, book tops, order updates and timers through one
:class:`Context` (clock, portfolio, order manager, risk manager), identically in backtest, paper and
live trading.  :class:`MACross` (moving-average crossover) and :class:`MLStrategy` (a scikit-learn
classifier trained walk-forward on :mod:`binfut.strategy.features`) are the reference strategies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binfut._lazy import lazy_exports

if TYPE_CHECKING:
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

# Imported on first use, so that ``binfut`` commands which never run a strategy do not pay for
# pandas, numpy and scikit-learn at start-up.
_WHERE: dict[str, str] = {
    "Bar": "binfut.strategy.base",
    "BookTop": "binfut.strategy.base",
    "Context": "binfut.strategy.context",
    "LookAheadError": "binfut.strategy.features",
    "MACross": "binfut.strategy.ma_cross",
    "MACrossConfig": "binfut.strategy.ma_cross",
    "MLConfig": "binfut.strategy.ml",
    "MLStrategy": "binfut.strategy.ml",
    "Strategy": "binfut.strategy.base",
    "StrategyDriver": "binfut.strategy.context",
    "Vectorized": "binfut.strategy.base",
    "assert_no_lookahead": "binfut.strategy.features",
    "compute_features": "binfut.strategy.features",
    "feature_names": "binfut.strategy.features",
    "follow_signal": "binfut.strategy.base",
    "frame_features": "binfut.strategy.features",
    "ma_cross_signals": "binfut.strategy.ma_cross",
    "make_labels": "binfut.strategy.ml",
    "walk_forward_signals": "binfut.strategy.ml",
}


__getattr__ = lazy_exports(__name__, _WHERE)
