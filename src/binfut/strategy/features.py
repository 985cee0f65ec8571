"""Indicator features for models, and the harness that proves they do not look ahead.

:func:`compute_features` turns bar columns into a feature matrix: returns over several lengths,
close / moving-average ratios, rolling volatility, RSI, the bar's range and volume ratio.
:func:`assert_no_lookahead` recomputes any feature function on data truncated at chosen bars and
fails when a value at bar ``t`` changes once the bars after ``t`` are removed.

Rules kept here:

* a feature at bar ``t`` is a function of bars ``0..t`` only; every rolling statistic is computed on
  its own explicit window (no running sums), so the value at ``t`` depends only on the window's values:
  a buffer of the last bars gives bit-for-bit the same features as the whole history;
* warm-up rows are NaN, never filled from later rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LookAheadError", "assert_no_lookahead", "compute_features", "feature_names", "frame_features", "lookback"]


class LookAheadError(AssertionError):
    """A feature value at some bar depends on later bars."""


def _windows(x: np.ndarray, w: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, w)


def _rolling(x: np.ndarray, w: int, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` over each trailing window of length ``w``, NaN where the window is incomplete."""
    out = np.full(len(x), np.nan)
    if len(x) >= w:
        out[w - 1:] = fn(_windows(x, w))
    return out


def _ret(close: np.ndarray, k: int) -> np.ndarray:
    out = np.full(len(close), np.nan)
    if len(close) > k:
        out[k:] = close[k:] / close[:-k] - 1.0
    return out


def feature_names(windows: Sequence[int] = (5, 10, 20), rsi_window: int = 14) -> list[str]:
    """Column names :func:`compute_features` returns for these parameters."""
    names = ["ret_1"]
    for w in windows:
        names += [f"ret_{w}", f"ma_ratio_{w}", f"vol_{w}"]
    return [*names, f"rsi_{rsi_window}", "range", "volume_ratio"]


def lookback(windows: Sequence[int] = (5, 10, 20), rsi_window: int = 14) -> int:
    """Bars of history the last feature row needs (the longest window plus one return)."""
    return max([*windows, rsi_window, 20]) + 1


def compute_features(
    close: np.ndarray, high: np.ndarray, low: np.ndarray, volume: np.ndarray,
    windows: Sequence[int] = (5, 10, 20), rsi_window: int = 14,
) -> np.ndarray:
    """The feature matrix, one row per bar (float64, NaN during warm-up).

    Parameters
    ----------
    close, high, low, volume : bar columns (float)
    windows : lengths of the return, moving-average-ratio and volatility features
    rsi_window : RSI length (simple averages of gains and losses)

    Returns
    -------
    numpy.ndarray
        shape ``(len(close), len(feature_names(windows, rsi_window)))``.
    """
    close = np.asarray(close, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    volume = np.asarray(volume, dtype=np.float64)
    r1 = _ret(close, 1)
    cols = [r1]
    for w in windows:
        cols.append(_ret(close, w))
        cols.append(close / _rolling(close, w, lambda v: v.mean(axis=1)) - 1.0)
        vol = np.full(len(close), np.nan)
        if len(close) > w:
            vol[w:] = _rolling(r1[1:], w, lambda v: v.std(axis=1))[w - 1:]
        cols.append(vol)
    # RSI with simple averages: 100 - 100 / (1 + mean gain / mean loss) over the last rsi_window changes
    diff = np.full(len(close), np.nan)
    diff[1:] = np.diff(close)
    rsi = np.full(len(close), np.nan)
    if len(close) > rsi_window:
        win = _windows(diff[1:], rsi_window)
        gain = np.where(win > 0, win, 0.0).mean(axis=1)
        loss = np.where(win < 0, -win, 0.0).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rs = np.where(loss > 0, 100.0 - 100.0 / (1.0 + gain / np.where(loss > 0, loss, 1.0)), 100.0)
        rsi[rsi_window:] = rs
    cols.append(rsi)
    cols.append((high - low) / close)
    cols.append(volume / _rolling(volume, 20, lambda v: v.mean(axis=1)))
    out = np.column_stack(cols)
    out[~np.isfinite(out)] = np.nan
    return out


def frame_features(bars: pd.DataFrame, windows: Sequence[int] = (5, 10, 20), rsi_window: int = 14) -> pd.DataFrame:
    """:func:`compute_features` of a klines DataFrame, as a DataFrame on the same index."""
    values = compute_features(bars["close"].to_numpy(), bars["high"].to_numpy(), bars["low"].to_numpy(),
                              bars["volume"].to_numpy(), windows, rsi_window)
    return pd.DataFrame(values, index=bars.index, columns=feature_names(windows, rsi_window))


def assert_no_lookahead(
    fn: Callable[[pd.DataFrame], Any], bars: pd.DataFrame, points: Sequence[int] | None = None, *,
    rtol: float = 0.0, atol: float = 0.0,
) -> None:
    """Fail if ``fn(bars)`` at some bar ``t`` differs from ``fn(bars[: t + 1])`` at its last row.

    Parameters
    ----------
    fn : maps a bars DataFrame to a DataFrame / Series / array with one row per bar
    bars : the full history
    points : the bars ``t`` to truncate at (default: about 25 spread over the history)
    rtol, atol : tolerance (0: bit-for-bit, which the features of this module meet)

    Raises
    ------
    LookAheadError
        Naming the first column and bar whose value depends on later bars.
    """
    n = len(bars)
    if points is None:
        points = sorted(set(np.linspace(0, n - 1, 25).astype(int).tolist()))
    full = np.asarray(fn(bars), dtype=np.float64)
    full = full.reshape(n, -1)
    for t in points:
        part = np.asarray(fn(bars.iloc[: t + 1]), dtype=np.float64).reshape(t + 1, -1)
        a, b = full[t], part[-1]
        same = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True) if (rtol or atol) else ((a == b) | (np.isnan(a) & np.isnan(b)))
        if not same.all():
            col = int(np.flatnonzero(~same)[0])
            raise LookAheadError(f"column {col} at bar {t} is {a[col]!r} with the full history but {b[col]!r} "
                                 f"with bars up to {t} only: it uses data after bar {t}")
