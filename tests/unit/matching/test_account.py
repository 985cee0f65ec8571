"""Account maths, computed by hand with Decimal: margin, PnL, fees, funding, liquidation."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN
from decimal import Decimal as D
from typing import Any

import pytest

from binfut.errors import ApiError, OrderRejected
from binfut.matching import (
    CancelOrder,
    ChangeLeverage,
    ChangeMarginType,
    ChangeMultiAssetsMode,
    ChangePositionMode,
    Deposit,
    ForceOrder,
    Funding,
    ModifyIsolatedMargin,
    NewOrder,
    SimulatedVenue,
    Withdraw,
)
from binfut.protocol.userevents import AccountConfigUpdate, AccountUpdate, MarginCall, OrderTradeUpdate

E8 = D("0.00000001")


def wallet(v: SimulatedVenue, acct: str) -> D:
    return v.accounts[acct].balances["USDT"]


def open_long(v: SimulatedVenue, h: Any, qty: str = "0.5", price: str = "30000", leverage: int = 10, isolated: bool = False) -> None:
    v.execute("alice", ChangeLeverage(symbol="BTCUSDT", leverage=leverage))
    if isolated:
        v.execute("alice", ChangeMarginType(symbol="BTCUSDT", margin_type="ISOLATED"))
    h.place(v, "mm", "SELL", qty, price)
    h.place(v, "alice", "BUY", qty, price)  # taker


def test_long_with_leverage_10_im_mm_upnl_and_close(venue: SimulatedVenue, h: Any) -> None:
    # Arrange: buy 0.5 BTC at 30 000 as taker with 10x
    open_long(venue, h)
    taker_fee = D("30000") * D("0.5") * D("0.0005")  # 7.5
    assert wallet(venue, "alice") == D(10_000) - taker_fee
    # Act: mark moves to 31 000
    h.mark(venue, "31000")
    (row,) = venue.position_risk("alice")
    # Assert: IM = notional / leverage, MM = notional x 0.4 % - 0 (bracket 1), uPnL = 0.5 x 1000
    notional = D("0.5") * D("31000")
    assert row.notional == notional
    assert row.position_initial_margin == notional / 10
    assert row.maint_margin == notional * D("0.004")
    assert row.un_realized_profit == D("500")
    assert row.entry_price == D("30000") and row.leverage == "10"
    assert row.break_even_price == D("30000") + taker_fee / D("0.5")
    info = venue.account_info("alice")
    assert info.total_margin_balance == D(10_000) - taker_fee + 500
    assert info.available_balance == D(10_000) - taker_fee + 500 - notional / 10
    # Act: close with a maker order at 31 000
    h.place(venue, "alice", "SELL", "0.5", "31000")
    h.place(venue, "mm", "BUY", "0.5", "31000")
    maker_fee = D("31000") * D("0.5") * D("0.0002")  # 3.1
    assert wallet(venue, "alice") == D(10_000) - taker_fee + D(500) - maker_fee  # 10 489.4
    kinds = [(i.income_type, i.income) for i in venue.income("alice")]
    assert kinds == [("COMMISSION", -taker_fee), ("REALIZED_PNL", D(500)), ("COMMISSION", -maker_fee)]
    trades = venue.user_trades("alice", "BTCUSDT")
    assert [(t.maker, t.commission, t.realized_pnl) for t in trades] == [(False, taker_fee, 0), (True, maker_fee, D(500))]


def test_fees_configurable_per_account(venue: SimulatedVenue, h: Any) -> None:
    venue.open_account("vip", {"USDT": D(10_000)}, maker_rate=D("0"), taker_rate=D("0.0001"))
    h.place(venue, "mm", "SELL", "1", "30000")
    h.place(venue, "vip", "BUY", "1", "30000")
    assert wallet(venue, "vip") == D(10_000) - D(3)
    assert venue.commission_rate("vip", "BTCUSDT").taker_commission_rate == D("0.0001")


def test_funding_paid_and_received(venue: SimulatedVenue, h: Any) -> None:
    open_long(venue, h)
    before_a, before_m = wallet(venue, "alice"), wallet(venue, "mm")
    out = venue.on_market(Funding(symbol="BTCUSDT", funding_rate=D("0.0001"), mark_price=D("30000"), time_ms=venue.now))
    fee = D("0.5") * D("30000") * D("0.0001")  # 1.5
    assert wallet(venue, "alice") == before_a - fee
    assert wallet(venue, "mm") == before_m + fee
    (inc,) = [i for i in venue.income("alice") if i.income_type == "FUNDING_FEE"]
    assert inc.income == -fee
    (au,) = h.events(out, "alice", AccountUpdate)
    assert au.data.reason == "FUNDING_FEE"
    # a negative rate pays the long
    venue.on_market(Funding(symbol="BTCUSDT", funding_rate=D("-0.0002"), mark_price=D("30000"), time_ms=venue.now))
    assert wallet(venue, "alice") == before_a - fee + D(3)


def test_liquidation_price_isolated_one_way(venue: SimulatedVenue, h: Any) -> None:
    open_long(venue, h, qty="1", isolated=True)
    # WB = isolated wallet = 30000 / 10; bracket 1: MMR 0.004, cum 0; TMM1 = UPNL1 = 0
    wb = D(3000)
    lp = (wb - 0 + 0 + 0 - 1 * D(1) * D(30000)) / (D(1) * D("0.004") - 1 * D(1))
    (row,) = venue.position_risk("alice")
    assert row.isolated_wallet == wb
    assert row.liquidation_price == lp.quantize(E8, ROUND_HALF_EVEN) == D("27108.43373494")


def test_liquidation_price_cross_one_way_and_short(venue: SimulatedVenue, h: Any) -> None:
    open_long(venue, h, qty="1")
    wb = D(10_000) - D(15)  # cross wallet after the taker fee
    lp = (wb - 0 + 0 + 0 - D(1) * D(30000)) / (D("0.004") - 1)
    assert venue.position_risk("alice")[0].liquidation_price == lp.quantize(E8, ROUND_HALF_EVEN)
    # a short: Side1 = -1
    h.place(venue, "mm", "BUY", "1", "30000")
    h.place(venue, "bob", "SELL", "1", "30000")
    wb_b = D(10_000) - D(15)
    lp_b = (wb_b + D(1) * D(30000)) / (D("0.004") + 1)
    assert venue.position_risk("bob")[0].liquidation_price == lp_b.quantize(E8, ROUND_HALF_EVEN)


def test_cross_liquidation_price_counts_other_positions(venue: SimulatedVenue, h: Any) -> None:
    open_long(venue, h, qty="1")
    h.place(venue, "mm", "SELL", "10", "3000", symbol="ETHUSDT")
    h.place(venue, "alice", "BUY", "1", "3000", symbol="ETHUSDT")
    h.mark(venue, "2900", symbol="ETHUSDT")
    wb = D(10_000) - D(15) - D("1.5")
    tmm = D(2900) * D("0.004")  # ETH bracket 1
    upnl = D(-100)
    lp = (wb - tmm + upnl - D(30000)) / (D("0.004") - 1)
    assert venue.position_risk("alice", "BTCUSDT")[0].liquidation_price == lp.quantize(E8, ROUND_HALF_EVEN)


def test_isolated_liquidation_at_the_formula_price(venue: SimulatedVenue, h: Any) -> None:
    # Arrange: 1 BTC long, 10x isolated, LP = 27108.43373494
    open_long(venue, h, qty="1", isolated=True)
    lp = D("27108.43373494")
    h.place(venue, "alice", "SELL", "1", "31000")  # an open order, cancelled by the liquidation
    # Act / Assert: above LP nothing happens, a margin call comes first
    assert h.events(h.mark(venue, "27200"), "alice") == []
    calls = h.events(h.mark(venue, "27120"), "alice", MarginCall)
    assert len(calls) == 1 and calls[0].positions[0].margin_type == "ISOLATED"
    assert h.events(h.mark(venue, "27115"), "alice", MarginCall) == []  # once per episode
    out = h.mark(venue, "27100")
    # the position is closed at the liquidation price, the margin left goes to the insurance fund
    assert venue.position_risk("alice") == []
    orders = h.events(out, "alice", OrderTradeUpdate)
    assert [(e.order.execution_type, e.order.order_status) for e in orders] == [("CANCELED", "CANCELED"), ("CALCULATED", "FILLED")]
    liq = orders[-1].order
    assert liq.order_type == "LIQUIDATION" and liq.last_filled_price == lp and liq.client_order_id.startswith("autoclose-")
    realized = (lp - D(30000)) * 1
    assert liq.realized_profit == realized
    left = D(3000) + realized  # = maintenance margin at LP
    assert left == (lp * D("0.004")).quantize(E8, ROUND_HALF_EVEN)
    assert venue.insurance_fund == left
    assert wallet(venue, "alice") == D(10_000) - D(15) - D(3000)  # lost the isolated margin and the fee
    (force,) = [o for o in out if isinstance(o, ForceOrder)]
    assert force.side == "SELL" and force.price == lp
    kinds = [i.income_type for i in venue.income("alice")]
    assert kinds[-2:] == ["REALIZED_PNL", "INSURANCE_CLEAR"]


def test_cross_liquidation(venue: SimulatedVenue, h: Any) -> None:
    open_long(venue, h, qty="1")
    lp = ((D(9985) - D(30000)) / (D("0.004") - 1)).quantize(E8, ROUND_HALF_EVEN)
    h.mark(venue, str(lp + 1))
    assert venue.position_risk("alice")
    out = h.mark(venue, str(lp - 1))
    assert venue.position_risk("alice") == []
    (liq,) = [e.order for e in h.events(out, "alice", OrderTradeUpdate)]
    assert liq.last_filled_price == lp and liq.execution_type == "CALCULATED"
    assert wallet(venue, "alice") >= 0


def test_unlimited_accounts_are_never_liquidated(venue: SimulatedVenue, h: Any) -> None:
    open_long(venue, h, qty="1")
    h.mark(venue, "100000")  # the mm is short 1 BTC with a huge loss
    assert venue.position_risk("mm")[0].position_amt == D(-1)


def test_margin_check_2019_changes_nothing(venue: SimulatedVenue, h: Any) -> None:
    h.place(venue, "mm", "SELL", "20", "30000")
    before = (wallet(venue, "bob"), venue.depth("BTCUSDT"))
    with pytest.raises(OrderRejected) as exc:
        h.place(venue, "bob", "BUY", "7", "30000")  # 210 000 / 20 = 10 500 > 10 000
    assert exc.value.code == -2019 and exc.value.msg == "Margin is insufficient."
    assert (wallet(venue, "bob"), venue.depth("BTCUSDT")) == before
    assert h.place(venue, "bob", "BUY", "6", "30000").value.status == "FILLED"  # 9 000 fits


def test_open_orders_hold_margin_larger_side_only(venue: SimulatedVenue, h: Any) -> None:
    venue.execute("bob", ChangeLeverage(symbol="BTCUSDT", leverage=10))
    h.place(venue, "bob", "BUY", "2", "29000")  # 5 800
    h.place(venue, "bob", "SELL", "1", "31000")  # 3 100 (one-way: the larger side counts)
    info = venue.account_info("bob")
    assert info.total_open_order_initial_margin == D(5800)
    with pytest.raises(OrderRejected):
        h.place(venue, "bob", "BUY", "1.5", "29000")  # 4 350 more > 4 200 available


def test_leverage_rules(venue: SimulatedVenue, h: Any) -> None:
    r = venue.execute("alice", ChangeLeverage(symbol="BTCUSDT", leverage=125))
    assert r.value == {"leverage": 125, "maxNotionalValue": "50000", "symbol": "BTCUSDT"}
    assert h.events(r.outputs, "alice", AccountConfigUpdate)[0].leverage.leverage == 125
    with pytest.raises(OrderRejected) as bad:
        venue.execute("alice", ChangeLeverage(symbol="BTCUSDT", leverage=126))
    assert bad.value.code == -4028
    venue.execute("mm", ChangeLeverage(symbol="BTCUSDT", leverage=125))
    h.place(venue, "alice", "SELL", "1", "30000")
    h.place(venue, "mm", "BUY", "2", "30000")  # mm long 2 BTC = 60 000 > 50 000 cap at 125x
    h.place(venue, "bob", "SELL", "1", "30000")
    venue.execute("mm", ChangeLeverage(symbol="BTCUSDT", leverage=20))
    assert venue.position_risk("mm")[0].position_amt == D(2)
    with pytest.raises(OrderRejected) as cap:  # 60 000 notional does not fit under 125x
        venue.execute("mm", ChangeLeverage(symbol="BTCUSDT", leverage=125))
    assert cap.value.code == -2027


def test_the_leverage_cap_counts_what_an_order_would_open_not_what_it_closes(venue: SimulatedVenue, h: Any) -> None:
    # Arrange: at 125x BTCUSDT allows 50 000 USDT of position; alice is short 1.5 BTC at 30 000 = 45 000
    venue.execute("alice", ChangeLeverage(symbol="BTCUSDT", leverage=125))
    h.place(venue, "mm", "BUY", "1.5", "30000")
    h.place(venue, "alice", "SELL", "1.5", "30000")
    h.mark(venue, "30000")
    assert venue.position_risk("alice")[0].position_amt == D("-1.5")

    # a plain buy of 1 only reduces the short (-45 000 + 29 000): it fits although 45 000 + 29 000 would not
    reduce = h.place(venue, "alice", "BUY", "1", "29000")
    venue.execute("alice", CancelOrder(symbol="BTCUSDT", order_id=reduce.value.order_id))
    # a buy of 3 reverses to long 1.5: -45 000 + 87 000 = 42 000 <= 50 000
    flip = h.place(venue, "alice", "BUY", "3", "29000")
    venue.execute("alice", CancelOrder(symbol="BTCUSDT", order_id=flip.value.order_id))
    # a buy of 3.3 would end long 1.8: -45 000 + 95 700 = 50 700 > 50 000
    with pytest.raises(OrderRejected) as cap:
        h.place(venue, "alice", "BUY", "3.3", "29000")
    assert cap.value.code == -2027
    # on the short side the position counts in full: 45 000 + 6 000 > 50 000
    with pytest.raises(OrderRejected) as more:
        h.place(venue, "alice", "SELL", "0.2", "30000")
    assert more.value.code == -2027


def test_margin_type_rules(venue: SimulatedVenue, h: Any) -> None:
    with pytest.raises(OrderRejected) as same:
        venue.execute("alice", ChangeMarginType(symbol="BTCUSDT", margin_type="CROSSED"))
    assert same.value.code == -4046
    h.place(venue, "alice", "BUY", "0.01", "29000")
    with pytest.raises(OrderRejected) as orders:
        venue.execute("alice", ChangeMarginType(symbol="BTCUSDT", margin_type="ISOLATED"))
    assert orders.value.code == -4047
    h.place(venue, "mm", "SELL", "0.01", "29000")
    with pytest.raises(OrderRejected) as pos:
        venue.execute("alice", ChangeMarginType(symbol="BTCUSDT", margin_type="ISOLATED"))
    assert pos.value.code == -4048


def test_position_mode_rules(venue: SimulatedVenue, h: Any) -> None:
    with pytest.raises(OrderRejected) as same:
        venue.execute("alice", ChangePositionMode(dual_side_position=False))
    assert same.value.code == -4059
    h.place(venue, "alice", "BUY", "0.01", "29000")
    with pytest.raises(OrderRejected) as orders:
        venue.execute("alice", ChangePositionMode(dual_side_position=True))
    assert orders.value.code == -4067
    h.place(venue, "mm", "SELL", "0.01", "29000")
    with pytest.raises(OrderRejected) as pos:
        venue.execute("alice", ChangePositionMode(dual_side_position=True))
    assert pos.value.code == -4068
    assert venue.position_mode("alice") == {"dualSidePosition": False}


def test_isolated_margin_add_and_reduce(venue: SimulatedVenue, h: Any) -> None:
    open_long(venue, h, qty="1", isolated=True)
    venue.execute("alice", ModifyIsolatedMargin(symbol="BTCUSDT", amount=D(500), type=1))
    assert venue.position_risk("alice")[0].isolated_wallet == D(3500)
    lp = ((D(3500) - D(30000)) / (D("0.004") - 1)).quantize(E8, ROUND_HALF_EVEN)
    assert venue.position_risk("alice")[0].liquidation_price == lp
    venue.execute("alice", ModifyIsolatedMargin(symbol="BTCUSDT", amount=D(400), type=2))
    assert venue.position_risk("alice")[0].isolated_wallet == D(3100)
    with pytest.raises(OrderRejected) as too_much:
        venue.execute("alice", ModifyIsolatedMargin(symbol="BTCUSDT", amount=D(200), type=2))
    assert too_much.value.code == -4051
    with pytest.raises(OrderRejected) as none:
        venue.execute("alice", ModifyIsolatedMargin(symbol="ETHUSDT", amount=D(1), type=1))
    assert none.value.code == -4049


def test_multi_assets_mode_is_single_asset(venue: SimulatedVenue) -> None:
    with pytest.raises(OrderRejected) as same:
        venue.execute("alice", ChangeMultiAssetsMode(multi_assets_margin=False))
    assert same.value.code == -4171
    with pytest.raises(ApiError):
        venue.execute("alice", ChangeMultiAssetsMode(multi_assets_margin=True))
    assert venue.multi_assets_mode("alice") == {"multiAssetsMargin": False}


def test_deposit_and_withdraw(venue: SimulatedVenue, h: Any) -> None:
    r = venue.execute("alice", Deposit(asset="USDT", amount=D(100)))
    (au,) = h.events(r.outputs, "alice", AccountUpdate)
    assert au.data.reason == "DEPOSIT" and au.data.balances[0].wallet_balance == D(10_100)
    with pytest.raises(OrderRejected) as exc:
        venue.execute("alice", Withdraw(asset="USDT", amount=D(20_000)))
    assert exc.value.code == -2018
    venue.execute("alice", Withdraw(asset="USDT", amount=D(10_100)))
    assert wallet(venue, "alice") == 0


def test_balances_and_brackets_queries(venue: SimulatedVenue) -> None:
    (bal,) = venue.balances("alice")
    assert bal.asset == "USDT" and bal.balance == D(10_000) and bal.available_balance == D(10_000)
    (br,) = venue.leverage_brackets("BTCUSDT")
    assert br.brackets[1].cum == D(50) and br.brackets[0].initial_leverage == 125


def test_unknown_account_is_2015(venue: SimulatedVenue) -> None:
    with pytest.raises(ApiError) as exc:
        venue.execute("nobody", NewOrder(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D(1)))
    assert exc.value.code == -2015


def test_account_update_balance_row_cross_wallet_excludes_isolated_margin(venue: SimulatedVenue, h: Any) -> None:
    # Arrange: alice opens 0.5 BTC at 30 000 isolated 10x (1 500 moves into the isolated wallet); bob cross
    open_long(venue, h, isolated=True)
    h.place(venue, "mm", "SELL", "0.1", "30000")
    # Act: one more fill each; read their ACCOUNT_UPDATE balance rows
    alice = h.events(h.place(venue, "alice", "BUY", "0.1", "30000").outputs, "alice", AccountUpdate)[-1]
    h.place(venue, "mm", "SELL", "0.1", "30000")
    bob = h.events(h.place(venue, "bob", "BUY", "0.1", "30000").outputs, "bob", AccountUpdate)[-1]
    # Assert: wb is the wallet; cw leaves out the isolated wallet (1 500 + 300), exactly as Account.cross_wallet
    (row,) = alice.data.balances
    fees = D("30000") * D("0.6") * D("0.0005")
    assert row.wallet_balance == wallet(venue, "alice") == D(10_000) - fees
    assert row.cross_wallet_balance == venue.accounts["alice"].cross_wallet() == D(10_000) - fees - D(1_800)
    (row,) = bob.data.balances
    assert str(row.wallet_balance) == str(row.cross_wallet_balance) == str(wallet(venue, "bob")) == "9998.50000000"
