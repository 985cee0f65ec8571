"""Dashboard: the panel fits 80 columns without cutting a header, stays compact on wide terminals, and its
last frame (after the streams closed) still shows the run's message totals."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from rich.console import Console

from binfut.protocol.streams import ConnectionHealth, ConnectionState
from binfut.strategy import BookTop
from binfut.stream import ManagerStats
from binfut.trading.dashboard import MAX_WIDTH, render_status
from binfut.trading.runner import OrderView, PositionView, RunnerStatus

D = Decimal


def health(label: str, streams: int, messages: int) -> ConnectionHealth:
    return ConnectionHealth(label=label, url="ws://x", state=ConnectionState.OPEN, streams=streams, messages=messages,
                            reconnects=0, rotations=0, last_message_age_s=0.1, connected_for_s=5.0)


def status(*, running: bool) -> RunnerStatus:
    """A live run in progress (a short position, an open order, two connections) or its end (flat, closed)."""
    open_conns = [health("market-0", 3, 4_469), health("public-0", 1, 4_912)]
    return RunnerStatus(
        mode="live", strategy="ma_cross", symbols=("BTCUSDT",), time_ms=1_700_000_000_000, running=running,
        books={"BTCUSDT": BookTop(symbol="BTCUSDT", bid_price=D("65081.6"), bid_qty=D("1.2"), ask_price=D("65084.8"),
                                  ask_qty=D("0.4"), time_ms=1_700_000_000_000)},
        last_prices={"BTCUSDT": D("65081.6")}, marks={"BTCUSDT": D("65068.11234567")},
        positions=[PositionView(symbol="BTCUSDT", position_side="BOTH", amount=D("-0.020"), entry_price=D("65139.2"),
                                mark_price=D("65068.11234567"), unrealized_pnl=D("1.42175320"))] if running else [],
        open_orders=[OrderView(symbol="BTCUSDT", side="BUY", type="LIMIT", price=D("64000.0"), quantity=D("0.020"),
                               filled=D("0"), client_order_id="lv-1")] if running else [],
        open_algos=0, wallet=D("9996.12806400"), equity=D("10012.06"), unrealized_pnl=D("-1.42"),
        realized_pnl=D("1.98400000"), fees=D("2.60457600"), funding=D("0"), bars=15, last_bar_ms=1_699_999_980_000,
        orders_sent=3, fills=3, rejections=0, stop_reason=None if running else "duration reached", kill_reason=None,
        rate_limit={"weight": {"60s": (211, 2400)}, "orders": {"60s": (1, 1200), "10s": (1, 300)}},
        streams=open_conns if running else [],
        stream_stats=ManagerStats(connections=2 if running else 0, streams=4, messages=9_381, reconnects=0,
                                  rotations=0, consumers=1 if running else 0, dropped=0, undecoded=0),
        user_stream="ACTIVE" if running else "CLOSED",
    )


def draw(running: bool, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(render_status(status(running=running)))
    return out.getvalue().splitlines()


@pytest.mark.parametrize("running", [True, False])
def test_the_panel_fits_80_columns_without_cutting_anything(running: bool) -> None:
    lines = draw(running, 80)

    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text  # no header or number cut short
    for header in ("reconnects", "last msg", "realized", "funding", "messages"):
        assert header in text
    assert len(lines) <= 30  # fits a 40-row terminal with the phase's title above it


def test_a_running_panel_shows_positions_orders_and_each_connection() -> None:
    text = "\n".join(draw(True, 80))

    assert "short" in text and "-0.020" in text and "65,139.20" in text and "65,068.11" in text
    assert "64,000.00" in text and "LIMIT" in text
    assert "market-0" in text and "4,469" in text and "9,381" in text and "active" in text
    assert "weight 211/2400 (60s)" in text


def test_the_last_frame_keeps_the_message_totals_and_says_the_streams_closed() -> None:
    text = "\n".join(draw(False, 80))

    total = next(line for line in text.splitlines() if "market total" in line)
    assert "closed" in total and "9,381" in total
    assert "flat" in text and "stopped: duration reached" in text
    assert "Decimal" not in text and "{}" not in text


def test_a_wide_terminal_gets_a_compact_panel() -> None:
    lines = draw(True, 200)

    assert max(len(line) for line in lines) == MAX_WIDTH
