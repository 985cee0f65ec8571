"""The local exchange answers the same whatever decimal context the thread serving it has.

The server may share its thread (and so its decimal context) with a client such as ccxt, which sets
``ROUND_HALF_UP`` and the Underflow trap and never restores them; a user may change ``prec``.  The
same seeded exchange -- the synthetic market warming up, market orders (one taker fee falls exactly
half-way at the 9th decimal), the account and market answers -- must produce the same bytes under
such a context as under the default one.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import pytest

from binfut.clock import ManualClock
from binfut.emulator import EmulatorConfig, build_exchange
from helpers.decimal_context import ccxt_context
from integration.emulator.support import START_NS

KEY = "CtxKey00000000000000000000000000000000000000000000000000000000000001"
SYMBOL = "BTCUSDT"


def answers() -> list[tuple[int, bytes]]:
    """Warm a seeded exchange up, trade on it and read it back; every (status, body), in order."""
    ex = build_exchange(EmulatorConfig(seed=5, api_keys={KEY: "secret"}, symbols=(SYMBOL, "XRPUSDT")), clock=ManualClock(START_NS))
    ex.advance(ex.clock.time_ms())
    ex.run_for(30_000)
    account = ex.accounts.by_api_key(KEY)
    out: list[tuple[int, bytes]] = []

    def call(name: str, **params: str) -> None:
        status, body, _ = ex.dispatch_now(name, {"timestamp": str(ex.server_time_ms()), **params}, account)
        out.append((status, body))

    call("new_order", symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.013", newOrderRespType="RESULT")
    # XRPUSDT's first sale fills at 0.6001 (seed 5): a taker fee exactly half-way at the 9th decimal
    for side, qty in (("SELL", "36.5"), ("BUY", "777.7"), ("SELL", "1234.5")):
        call("new_order", symbol="XRPUSDT", side=side, type="MARKET", quantity=qty, newOrderRespType="RESULT")
        ex.run_for(1_000)
    for name in ("position_risk", "account", "balance", "user_trades", "income"):
        call(name, **({"symbol": SYMBOL} if name == "user_trades" else {}))
    for name in ("exchange_info", "ticker_24hr", "mark_price", "depth", "book_ticker"):
        call(name, **({"symbol": SYMBOL} if name in ("depth", "ticker_24hr") else {}))
    return out


def test_the_answers_are_successes_and_a_fee_falls_half_way() -> None:
    with decimal.localcontext(decimal.Context()):
        got = answers()

    assert [status for status, _ in got] == [200] * 14
    # 36.5 XRP sold into the 0.6001 bid: 21.90365 x 0.0005 = 0.010951825, half to even
    assert b'"incomeType":"COMMISSION","income":"-0.01095182"' in got[8][1]  # GET /fapi/v1/income


@pytest.mark.parametrize(
    "make_context", [ccxt_context, lambda: decimal.Context(prec=10)], ids=["ccxt: HALF_UP + Underflow trap", "prec=10"]
)
def test_rest_answers_are_the_same_under_a_foreign_context(make_context: Callable[[], decimal.Context]) -> None:
    with decimal.localcontext(decimal.Context()):
        expected = answers()

    with decimal.localcontext(make_context()):
        got = answers()

    for (status, body), (want_status, want) in zip(got, expected, strict=True):
        assert (status, body) == (want_status, want)
