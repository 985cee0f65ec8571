"""Report: metrics from known curves, round trips, the HTML with its embedded charts."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import numpy as np
import pytest

from binfut.strategy import MACross, MACrossConfig
from binfut.trading import BacktestConfig, compute_metrics, run_backtest, write_report
from binfut.trading.report import round_trips
from unit.trading.support import make_feed

D = Decimal


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="binfut")  # restored after the test


def result():  # noqa: ANN201
    return run_backtest(MACross(MACrossConfig(short_window=10, long_window=40, quantity=D("0.1"))), make_feed(1500, seed=4),
                        BacktestConfig())


def test_metrics_follow_from_the_curves() -> None:
    r = result()

    m = compute_metrics(r)

    equity = np.concatenate([[10000.0], r.equity])
    rets = np.diff(equity) / equity[:-1]
    per_year = 365 * 24 * 60
    assert abs(m.sharpe - rets.mean() / rets.std(ddof=1) * np.sqrt(per_year)) < 1e-9
    downside = np.sqrt(np.mean(np.minimum(rets, 0) ** 2))
    assert abs(m.sortino - rets.mean() / downside * np.sqrt(per_year)) < 1e-9
    peaks = np.maximum.accumulate(equity)
    assert abs(m.max_drawdown - ((peaks - equity) / peaks).max()) < 1e-12
    assert m.exposure == np.mean(r.positions["BTCUSDT"] != 0)
    assert (m.fees, m.funding, m.final_equity, m.fills) == (r.fees, r.funding, r.final_equity, len(r.fills))
    assert m.total_return == float(r.final_equity / D(10000) - 1)


def test_round_trips_add_up_to_the_pnl_of_closed_positions() -> None:
    r = result()

    trips = round_trips(r)

    assert len(trips) == len(r.fills) - (0 if r.positions["BTCUSDT"][-1] == 0 else 1)
    # a flip's whole fee is charged to the trip it closes, so every fee is in a closed trip here
    assert sum((t["pnl"] for t in trips), D(0)) == r.realized_pnl - r.fees


def test_write_report_makes_pngs_and_a_self_contained_html(tmp_path) -> None:  # noqa: ANN001
    r = result()

    files = write_report(r, tmp_path / "out")

    assert [p.name for p in files.pngs] == ["equity.png", "drawdown.png", "position.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in files.pngs)
    html = files.html.read_text()
    assert html.count('src="data:image/png;base64,') == 3 and "sharpe" in html
    summary = json.loads(files.summary_json.read_text())
    assert Decimal(summary["fees"]) == r.fees and summary["fills"] == len(r.fills)
    assert len(files.fills_csv.read_text().splitlines()) == len(r.fills) + 1
