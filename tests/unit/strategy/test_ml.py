"""The walk-forward classifier: no look-ahead in signals or fits, bar-by-bar == whole-history, any estimator."""

from __future__ import annotations

import logging
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from binfut.matching import default_specs
from binfut.strategy import Bar, MLConfig, MLStrategy, make_labels, walk_forward_signals
from binfut.strategy.ml import _train_rows
from binfut.trading import BacktestConfig, prepare_feed, run_backtest


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")  # restored after the test


CFG = MLConfig(train_window=120, retrain_every=40, min_train=80, n_estimators=8, max_depth=3, windows=(3, 8), rsi_window=6)


def bars(n: int = 320, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = np.round(65000 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 1)
    open_ = np.concatenate([[65000.0], close[:-1]])
    return pd.DataFrame({"open": open_, "close": close, "high": np.maximum(open_, close) + 5, "low": np.minimum(open_, close) - 5,
                         "volume": rng.uniform(1, 9, n).round(3)},
                        index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", name="open_time"))


def test_the_signal_at_t_does_not_change_when_later_bars_are_removed() -> None:
    df = bars()
    full = walk_forward_signals(df, CFG)

    for t in (80, 81, 119, 120, 121, 160, 200, 239, 240, 319):
        assert walk_forward_signals(df.iloc[: t + 1], CFG)[t] == full[t], t
    assert set(full[80:].tolist()) - {0} != set()  # it does trade


def test_a_fit_at_bar_t_only_uses_labels_known_at_t() -> None:
    for t in (80, 150, 400):
        a, b = _train_rows(t, CFG)
        assert b - 1 + CFG.horizon <= t  # the last training row's label ends at t
        assert b - a <= CFG.train_window
    labels = make_labels(np.array([1.0, 2.0, 1.0, 1.0]), 1, 0.0)
    assert labels[:3].tolist() == [1.0, -1.0, 0.0] and np.isnan(labels[3])


def test_bar_by_bar_strategy_gives_the_walk_forward_signals() -> None:
    df = bars()
    expected = walk_forward_signals(df, CFG)
    strategy = MLStrategy(CFG)

    got = [strategy.update(Bar(symbol="BTCUSDT", interval="1m", open_time_ms=0, close_time_ms=0, open=Decimal(repr(r.open)),
                               high=Decimal(repr(r.high)), low=Decimal(repr(r.low)), close=Decimal(repr(r.close)),
                               volume=Decimal(repr(r.volume)))) for r in df.itertuples()]

    assert got == expected.tolist()
    assert strategy.fits == len(range(CFG.min_train, len(df), CFG.retrain_every))


def test_any_estimator_is_accepted() -> None:
    df = bars()

    signals = walk_forward_signals(df, CFG, LogisticRegression(max_iter=200))

    assert set(signals.tolist()) <= {-1, 0, 1} and (signals[CFG.min_train:] != 0).any()


def test_the_ml_strategy_backtests_on_the_engine() -> None:
    df = bars()
    feed = prepare_feed(df, default_specs()["BTCUSDT"], interval="1m")

    result = run_backtest(MLStrategy(CFG), feed, BacktestConfig())

    assert result.engine == "events"
    assert result.fills and all(f.qty == Decimal("0.010") for f in result.fills[:1])


@pytest.mark.parametrize("kw", [dict(horizon=0), dict(min_train=5)])
def test_config_is_validated(kw: dict) -> None:
    with pytest.raises(ValueError):
        MLConfig(**kw)


def test_warmup_bars_are_the_bars_before_the_first_possible_signal() -> None:
    df = bars()
    short_train = MLConfig(train_window=40, retrain_every=10, min_train=12, n_estimators=4, max_depth=2)

    signals = walk_forward_signals(df, CFG)

    assert MLStrategy(CFG).warmup_bars == CFG.min_train  # the features' lookback is shorter
    assert MLStrategy(short_train).warmup_bars == 20  # here the features need longer (20-bar windows)
    assert not signals[:CFG.min_train].any() and signals[CFG.min_train:].any()
    assert not walk_forward_signals(df, short_train)[:20].any()
