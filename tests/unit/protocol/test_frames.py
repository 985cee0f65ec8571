"""Series bodies to DataFrames: UTC index, dtypes, hand-checked values, every input form, tolerant paths."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pytest

from binfut.protocol import frames
from binfut.protocol.endpoints.market import MARKET
from binfut.protocol.frames import (
    FRAMES,
    KLINE_COLUMNS,
    agg_trades_frame,
    basis_frame,
    funding_rate_frame,
    klines_columns,
    klines_frame,
    open_interest_hist_frame,
    ratio_frame,
    taker_volume_frame,
    trades_frame,
)
from binfut.protocol.models.market import Kline

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"
SERIES = [ep for ep in MARKET if ep.frame]
UTC_MS = "datetime64[ms, UTC]"


def _fixture(name: str) -> bytes:
    return (FIXTURES / f"http_market_{name}.json").read_bytes()


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _synthetic_klines(n: int, seed: int = 7) -> bytes:
    """``n`` one-minute BTCUSDT-like bars with Binance's text formatting."""
    rng = random.Random(seed)
    rows: list[list[Any]] = []
    t, price = 1_700_000_000_000, 37_000.0
    for _ in range(n):
        high, low = price + rng.random() * 50, price - rng.random() * 50
        close = low + (high - low) * rng.random()
        vol = rng.random() * 500
        rows.append(
            [t, f"{price:.2f}", f"{high:.2f}", f"{low:.2f}", f"{close:.2f}", f"{vol:.3f}", t + 59_999,
             f"{vol * price:.5f}", rng.randint(100, 5000), f"{vol / 2:.3f}", f"{vol * price / 2:.5f}", "0"]
        )  # fmt: skip
        t, price = t + 60_000, close
    return json.dumps(rows, separators=(",", ":")).encode()


def _assert_utc_index(frame: pd.DataFrame, name: str) -> None:
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert str(frame.index.dtype) == UTC_MS
    assert frame.index.name == name


# -- klines ----------------------------------------------------------------------------------------------------


def test_klines_frame_hand_checked_row() -> None:
    # Arrange: the docs' example bar
    body = _fixture("klines")
    # Act
    df = klines_frame(body)
    # Assert
    _assert_utc_index(df, "open_time")
    assert list(df.columns) == [
        "open", "high", "low", "close", "volume", "close_time", "quote_volume", "trades",
        "taker_buy_base_volume", "taker_buy_quote_volume",
    ]  # fmt: skip
    row = df.iloc[0]
    assert df.index[0] == _ts("2017-07-03 00:00:00")  # 1499040000000 ms
    assert row["open"] == 0.0163479
    assert row["high"] == 0.8
    assert row["low"] == 0.015758
    assert row["close"] == 0.015771
    assert row["volume"] == 148976.11427815
    assert row["close_time"] == _ts("2017-07-09 23:59:59.999")  # 1499644799999 ms
    assert row["quote_volume"] == 2434.19055334
    assert row["trades"] == 308
    assert row["taker_buy_base_volume"] == 1756.87402397
    assert row["taker_buy_quote_volume"] == 28.46694368


def test_klines_frame_dtypes() -> None:
    df = klines_frame(_fixture("continuous_klines"))
    floats = [c for c in df.columns if c not in ("close_time", "trades")]
    assert all(df[c].dtype == np.float64 for c in floats)
    assert df["trades"].dtype == np.int64
    assert str(df["close_time"].dtype) == UTC_MS


def test_klines_1500_rows_match_python_float_parsing() -> None:
    # Arrange
    body = _synthetic_klines(1500)
    rows = json.loads(body)
    # Act
    df = klines_frame(body)
    # Assert: same numbers as float(text), bar for bar (no precision lost on the fast path)
    assert len(df) == 1500 and df.index.is_monotonic_increasing
    assert df["close"].tolist() == [float(r[4]) for r in rows]
    assert df["quote_volume"].tolist() == [float(r[7]) for r in rows]
    assert df["trades"].tolist() == [r[8] for r in rows]
    assert (df.index.asi8 == np.array([r[0] for r in rows])).all()


def test_klines_columns_without_pandas_types() -> None:
    cols = klines_columns(_fixture("klines"))
    assert tuple(cols) == KLINE_COLUMNS
    assert cols["open_time_ms"].dtype == cols["close_time_ms"].dtype == cols["trades"].dtype == np.int64
    assert cols["open_time_ms"][0] == 1499040000000
    assert cols["close"].dtype == np.float64 and cols["close"][0] == 0.015771


@pytest.mark.parametrize("form", ["bytes", "str", "bytearray", "memoryview", "json_lists", "structs"])
def test_klines_accept_every_input_form(form: str) -> None:
    body = _synthetic_klines(50)
    data: Any = {
        "bytes": body,
        "str": body.decode(),
        "bytearray": bytearray(body),
        "memoryview": memoryview(body),
        "json_lists": json.loads(body),
        "structs": msgspec.json.decode(body, type=list[Kline]),
    }[form]
    pd.testing.assert_frame_equal(klines_frame(data), klines_frame(body))


def test_index_and_mark_klines_with_padded_zero_take_the_tolerant_path() -> None:
    # The docs print the "ignore" volume of index/mark klines as "0  ", which a float decode rejects.
    for name in ("index_price_klines", "mark_price_klines"):
        df = klines_frame(_fixture(name))
        assert df["volume"].tolist() == [0.0]
        assert df["trades"].tolist() == [60]
    df = klines_frame(_fixture("index_price_klines"))
    assert df.index[0] == _ts("2020-06-04 07:40:00") and df["close"].iloc[0] == 9651.552


def test_klines_tolerate_an_appended_element_and_empty_numbers() -> None:
    rows = json.loads(_fixture("klines"))
    rows[0].append("future-field")
    assert klines_frame(json.dumps(rows)).shape == (1, 10)
    rows[0][5] = ""
    assert math.isnan(klines_frame(json.dumps(rows))["volume"].iloc[0])


def test_klines_reject_short_rows() -> None:
    with pytest.raises(msgspec.ValidationError):
        klines_columns(b'[[1499040000000, "1", "2"]]')
    with pytest.raises(msgspec.ValidationError):
        klines_columns(b'{"code": -1121, "msg": "Invalid symbol."}')


def test_empty_klines_give_an_empty_typed_frame() -> None:
    df = klines_frame(b"[]")
    assert df.empty and len(df.columns) == 10
    _assert_utc_index(df, "open_time")
    assert df["trades"].dtype == np.int64 and df["open"].dtype == np.float64


# -- object-shaped series ----------------------------------------------------------------------------------------


def test_funding_rate_frame() -> None:
    df = funding_rate_frame(_fixture("funding_rate_history"))
    _assert_utc_index(df, "funding_time")
    assert df.index[0] == _ts("2023-10-31 16:00:00")  # 1698768000000
    assert df["funding_rate"].tolist() == [0.0001, 0.0001]
    assert df["mark_price"].tolist() == [34287.54619963, 34651.4]
    assert df["symbol"].tolist() == ["BTCUSDT", "BTCUSDT"]
    old = b'[{"symbol":"BTCUSDT","fundingTime":1569024000000,"fundingRate":"0.00010000","markPrice":""}]'
    assert math.isnan(funding_rate_frame(old)["mark_price"].iloc[0])


def test_open_interest_hist_frame_reads_string_timestamps() -> None:
    df = open_interest_hist_frame(_fixture("open_interest_hist"))
    _assert_utc_index(df, "timestamp")
    assert df.index.tolist() == [_ts("2020-03-02 05:45:00"), _ts("2020-03-02 05:50:00")]
    assert df["sum_open_interest"].iloc[0] == 20403.637
    assert df["sum_open_interest_value"].dtype == np.float64
    assert df["cmc_circulating_supply"].iloc[1] == 165900.14853


@pytest.mark.parametrize(
    "name", ["top_long_short_position_ratio", "top_long_short_account_ratio", "global_long_short_account_ratio"]
)
def test_ratio_frame(name: str) -> None:
    body = _fixture(name)
    df = ratio_frame(body)
    _assert_utc_index(df, "timestamp")
    first = json.loads(body)[0]
    assert df["long_short_ratio"].iloc[0] == float(first["longShortRatio"])
    assert df["long_account"].iloc[0] == float(first["longAccount"])
    assert df["short_account"].iloc[0] == float(first["shortAccount"])
    assert df.index[0] == _ts("2020-03-02 09:00:00")  # 1583139600000


def test_taker_volume_frame() -> None:
    df = taker_volume_frame(_fixture("taker_long_short_ratio"))
    _assert_utc_index(df, "timestamp")
    assert list(df.columns) == ["buy_sell_ratio", "buy_vol", "sell_vol"]
    assert df.iloc[0].tolist() == [1.5586, 387.33, 248.503]


def test_basis_frame_perpetual_has_no_annualized_rate() -> None:
    df = basis_frame(_fixture("basis"))
    _assert_utc_index(df, "timestamp")
    assert df.index[0] == _ts("2023-10-31 09:00:00")  # 1698742800000
    assert df["basis"].iloc[0] == 13.94054945
    assert df["futures_price"].iloc[0] == 34414.1
    assert math.isnan(df["annualized_basis_rate"].iloc[0])
    assert df["contract_type"].iloc[0] == "PERPETUAL"


def test_agg_trades_frame() -> None:
    df = agg_trades_frame(_fixture("agg_trades"))
    _assert_utc_index(df, "time")
    assert df.index[0] == _ts("2017-06-30 03:35:09.153")  # 1498793709153
    assert df["agg_trade_id"].dtype == df["first_trade_id"].dtype == df["last_trade_id"].dtype == np.int64
    assert df["is_buyer_maker"].dtype == np.bool_
    assert df["agg_trade_id"].iloc[0] == 26129 and df["price"].iloc[0] == 0.01633102
    assert bool(df["is_buyer_maker"].iloc[0]) is True
    assert math.isnan(df["normal_quantity"].iloc[0])  # "nq" is newer than the docs example


def test_trades_frame() -> None:
    df = trades_frame(_fixture("trades"))
    _assert_utc_index(df, "time")
    assert df["id"].dtype == np.int64 and df["is_rpi_trade"].dtype == np.bool_
    assert df.iloc[0][["price", "qty", "quote_qty"]].tolist() == [4.000001, 12.0, 48.0]
    assert bool(trades_frame(_fixture("historical_trades"))["is_rpi_trade"].iloc[0]) is False


def test_empty_object_series_give_empty_typed_frames() -> None:
    df = agg_trades_frame(b"[]")
    assert df.empty
    _assert_utc_index(df, "time")
    assert df["agg_trade_id"].dtype == np.int64 and df["price"].dtype == np.float64


# -- the registry, over every series endpoint --------------------------------------------------------------------


@pytest.mark.parametrize("ep", SERIES, ids=lambda ep: ep.name)
def test_registry_converts_every_series_fixture(ep: Any) -> None:
    # Arrange
    body = _fixture(ep.name)
    # Act
    df = FRAMES[ep.frame](body)
    # Assert
    assert isinstance(df, pd.DataFrame) and len(df) == len(json.loads(body))
    assert str(df.index.dtype) == UTC_MS
    text_columns = {"symbol", "pair", "contract_type"}
    numeric = [name for name in df.columns if name not in text_columns]
    assert all(pd.api.types.is_numeric_dtype(df[n]) or str(df[n].dtype) == UTC_MS for n in numeric)


@pytest.mark.parametrize("ep", SERIES, ids=lambda ep: ep.name)
def test_decoded_models_give_the_same_frame_as_the_body(ep: Any) -> None:
    body = _fixture(ep.name)
    models = msgspec.json.decode(body, type=ep.returns)
    pd.testing.assert_frame_equal(FRAMES[ep.frame](models), FRAMES[ep.frame](body))
    pd.testing.assert_frame_equal(FRAMES[ep.frame](json.loads(body)), FRAMES[ep.frame](body))


def test_importing_frames_does_not_import_pandas_or_numpy() -> None:
    code = "import sys, binfut.protocol.frames; sys.exit(bool({'pandas', 'numpy'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    assert frames.__all__ == sorted(frames.__all__)
