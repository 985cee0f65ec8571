"""Features at bar t use only bars up to t; the harness catches a feature that peeks ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from binfut.strategy import LookAheadError, assert_no_lookahead, compute_features, feature_names, frame_features


def bars(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 65000 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    return pd.DataFrame({"close": close, "high": close * 1.001, "low": close * 0.999, "volume": rng.uniform(1, 9, n)},
                        index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC"))


def test_features_at_every_bar_ignore_later_bars_bit_for_bit() -> None:
    df = bars()

    assert_no_lookahead(frame_features, df, points=range(0, len(df), 3))


def test_a_feature_using_the_next_bars_return_is_caught() -> None:
    df = bars()

    def leaky(b: pd.DataFrame) -> pd.DataFrame:
        f = frame_features(b)
        f["next_return"] = b["close"].shift(-1) / b["close"] - 1  # the label, smuggled in
        return f

    with pytest.raises(LookAheadError, match="uses data after bar"):
        assert_no_lookahead(leaky, df)


def test_a_centred_moving_average_is_caught_too() -> None:
    df = bars()

    with pytest.raises(LookAheadError):
        assert_no_lookahead(lambda b: b["close"].rolling(5, center=True).mean(), df)


def test_a_recent_buffer_gives_the_same_features_as_the_full_history() -> None:
    df = bars(600)
    full = frame_features(df).to_numpy()

    for t in range(60, 600, 41):
        part = frame_features(df.iloc[t - 30:t + 1]).to_numpy()[-1]
        assert ((full[t] == part) | (np.isnan(full[t]) & np.isnan(part))).all()


def test_columns_and_warm_up() -> None:
    df = bars(50)

    x = compute_features(df["close"], df["high"], df["low"], df["volume"], windows=(3, 7), rsi_window=5)

    assert x.shape == (50, len(feature_names((3, 7), 5)))
    assert np.isnan(x[0]).all() or np.isnan(x[0, 0])
    assert np.isfinite(x[25:]).all()
