"""A scikit-learn classifier on indicator features, trained walk-forward: long / flat / short.

The model (a ``RandomForestClassifier`` by default, any estimator with ``fit`` / ``predict`` accepted)
learns the direction of the next ``horizon`` bars' return from :mod:`binfut.strategy.features`, and is
refitted every ``retrain_every`` bars on the last ``train_window`` labelled rows.

Rules kept here (no look-ahead):

* the label of row ``t`` is the return from ``close[t]`` to ``close[t + horizon]``, so at bar ``T``
  only rows with ``t + horizon <= T`` are labelled: a fit at ``T`` never sees a later close;
* the signal at bar ``T`` uses the model fitted at the latest retraining bar ``<= T`` and the features
  of row ``T``; :func:`walk_forward_signals` (the whole history at once) and :class:`MLStrategy` (bar by
  bar, from a bounded buffer) compute the same numbers, and a test truncates the data at many bars to
  prove the signal at ``T`` does not depend on bars after ``T``;
* every fit starts from a fresh clone of the estimator (``sklearn.base.clone``), so fits are reproducible.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from binfut.strategy.base import Bar, Strategy, follow_signal
from binfut.strategy.features import compute_features, lookback

if TYPE_CHECKING:
    from binfut.strategy.context import Context

__all__ = ["MLConfig", "MLStrategy", "default_estimator", "fit_model", "make_labels", "walk_forward_signals"]


class MLConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Parameters of :class:`MLStrategy` and :func:`walk_forward_signals`.

    Parameters
    ----------
    symbol : the traded symbol
    horizon : bars ahead the label looks (the return from close ``t`` to close ``t + horizon``)
    threshold : returns within +-threshold are labelled 0 (flat)
    train_window : labelled rows per fit
    retrain_every : bars between fits
    min_train : first bar at which a model is fitted (no signal before)
    windows, rsi_window : feature parameters
    mode : ``long_short``, ``long_only`` or ``short_only``
    min_proba : below this predicted-class probability the signal is flat (needs ``predict_proba``)
    quantity, notional_fraction, leverage : sizing as in :class:`~binfut.strategy.ma_cross.MACrossConfig`
    n_estimators, max_depth, random_state : the default RandomForest's parameters
    """

    symbol: str = "BTCUSDT"
    horizon: int = 1
    threshold: float = 0.0
    train_window: int = 500
    retrain_every: int = 100
    min_train: int = 200
    windows: tuple[int, ...] = (5, 10, 20)
    rsi_window: int = 14
    mode: str = "long_short"
    min_proba: float = 0.0
    quantity: Decimal | None = Decimal("0.01")
    notional_fraction: Decimal | None = None
    leverage: int | None = None
    n_estimators: int = 50
    max_depth: int | None = 5
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.train_window < 10 or self.retrain_every < 1:
            raise ValueError("need horizon >= 1, train_window >= 10, retrain_every >= 1")
        if self.min_train < self.horizon + 10:
            raise ValueError("min_train must leave at least 10 labelled rows")


def default_estimator(config: MLConfig) -> Any:
    """The default model: a seeded ``RandomForestClassifier``."""
    from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]

    return RandomForestClassifier(n_estimators=config.n_estimators, max_depth=config.max_depth,
                                  random_state=config.random_state, n_jobs=1)


def make_labels(close: np.ndarray, horizon: int, threshold: float) -> np.ndarray:
    """Label per row: sign of the ``horizon``-bar forward return beyond ``threshold``; NaN when unknown."""
    close = np.asarray(close, dtype=np.float64)
    out = np.full(len(close), np.nan)
    if len(close) > horizon:
        fwd = close[horizon:] / close[:-horizon] - 1.0
        out[:-horizon] = np.where(fwd > threshold, 1.0, np.where(fwd < -threshold, -1.0, 0.0))
    return out


def fit_model(estimator: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """A fresh clone of ``estimator`` fitted on the finite rows of ``(x, y)``; None if nothing to learn."""
    from sklearn.base import clone  # type: ignore[import-untyped]

    ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
    if ok.sum() < 10:
        return None
    model = clone(estimator)
    model.fit(x[ok], y[ok].astype(np.int64))
    return model


def _predict(model: Any, row: np.ndarray, config: MLConfig) -> int:
    if model is None or not np.isfinite(row).all():
        return 0
    x = row.reshape(1, -1)
    if config.min_proba > 0 and hasattr(model, "predict_proba"):
        proba = model.predict_proba(x)[0]
        k = int(np.argmax(proba))
        if proba[k] < config.min_proba:
            return 0
        signal = int(model.classes_[k])
    else:
        signal = int(model.predict(x)[0])
    if config.mode == "long_only":
        return max(signal, 0)
    if config.mode == "short_only":
        return min(signal, 0)
    return signal


def _train_rows(t_end: int, config: MLConfig) -> tuple[int, int]:
    """Global row range ``[a, b)`` a fit at bar ``t_end`` may use: labelled by closes up to ``t_end``."""
    b = t_end - config.horizon + 1
    return max(0, b - config.train_window), b


def walk_forward_signals(bars: Any, config: MLConfig, estimator: Any = None) -> np.ndarray:
    """Signals (-1, 0, 1) for every bar of a klines DataFrame, walk-forward (see the module docstring).

    Parameters
    ----------
    bars : DataFrame with ``close``, ``high``, ``low``, ``volume``
    config : the parameters
    estimator : the model (default :func:`default_estimator`)

    Returns
    -------
    numpy.ndarray
        int8 per bar; 0 before ``min_train`` and where features are incomplete.
    """
    estimator = estimator if estimator is not None else default_estimator(config)
    close = bars["close"].to_numpy(dtype=np.float64)
    x = compute_features(close, bars["high"].to_numpy(), bars["low"].to_numpy(), bars["volume"].to_numpy(),
                         config.windows, config.rsi_window)
    y = make_labels(close, config.horizon, config.threshold)
    out = np.zeros(len(close), dtype=np.int8)
    model = None
    for t in range(config.min_train, len(close)):
        if (t - config.min_train) % config.retrain_every == 0:
            a, b = _train_rows(t, config)
            ylab = y[a:b].copy()
            # labels of rows whose horizon ends after t are unknown at t (they are NaN only at the
            # very end of the data; mask them explicitly so truncation cannot change a fit)
            ylab[np.arange(a, b) + config.horizon > t] = np.nan
            model = fit_model(estimator, x[a:b], ylab)
        out[t] = _predict(model, x[t], config)
    return out


class MLStrategy(Strategy):
    """The walk-forward classifier as a bar-by-bar strategy (same signals as :func:`walk_forward_signals`).

    Parameters
    ----------
    config : the parameters (default :class:`MLConfig`)
    estimator : any classifier with ``fit`` / ``predict`` (default :func:`default_estimator`)
    """

    name = "ml"

    def __init__(self, config: MLConfig | None = None, estimator: Any = None) -> None:
        self.config = cfg = config or MLConfig()
        self.estimator = estimator if estimator is not None else default_estimator(cfg)
        self.symbols = (cfg.symbol,)
        self._need = lookback(cfg.windows, cfg.rsi_window)
        size = cfg.train_window + cfg.horizon + self._need + 1
        self._buf: dict[str, deque[float]] = {k: deque(maxlen=size) for k in ("close", "high", "low", "volume")}
        self._seen = 0
        self.model: Any = None
        self.fits = 0
        self.last_signal = 0

    @property
    def warmup_bars(self) -> int:
        """``min_train`` (no model before it), or the features' lookback when that is longer."""
        return max(self.config.min_train, self._need - 1)

    def on_start(self, ctx: Context) -> None:
        if self.config.leverage is not None:
            ctx.orders.set_leverage(self.config.symbol, self.config.leverage)

    def update(self, bar: Bar) -> int:
        """Add one bar; refit when due; return the signal at this bar."""
        cfg = self.config
        buf = self._buf
        buf["close"].append(float(bar.close))
        buf["high"].append(float(bar.high))
        buf["low"].append(float(bar.low))
        buf["volume"].append(float(bar.volume))
        t = self._seen
        self._seen += 1
        if t < cfg.min_train:
            return 0
        start = t - len(buf["close"]) + 1  # global index of the buffer's first row
        if (t - cfg.min_train) % cfg.retrain_every == 0:
            x = self._features(len(buf["close"]))
            y = make_labels(np.fromiter(buf["close"], np.float64), cfg.horizon, cfg.threshold)
            a, b = _train_rows(t, cfg)
            self.model = fit_model(self.estimator, x[a - start:b - start], y[a - start:b - start])
            self.fits += 1
        row = self._features(min(self._need + 1, len(buf["close"])))[-1]
        self.last_signal = _predict(self.model, row, cfg)
        return self.last_signal

    def _features(self, last: int) -> np.ndarray:
        cfg = self.config
        close, high, low, volume = (np.fromiter(self._buf[k], np.float64)[-last:] for k in ("close", "high", "low", "volume"))
        return compute_features(close, high, low, volume, cfg.windows, cfg.rsi_window)

    def on_kline(self, ctx: Context, bar: Bar) -> None:
        if bar.symbol != self.config.symbol:
            return
        self.act(ctx, bar, self.update(bar))

    def act(self, ctx: Context, bar: Bar, signal: int) -> None:
        cfg = self.config
        follow_signal(ctx, cfg.symbol, signal, bar.close, quantity=cfg.quantity, notional_fraction=cfg.notional_fraction)
