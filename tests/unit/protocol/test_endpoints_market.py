"""The MARKET endpoint table against the Postman collection and the docs' weights; every response decodes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from binfut.enums import ContractType, KlineInterval, RatioPeriod, SecurityType
from binfut.protocol.endpoints.market import MARKET
from binfut.protocol.frames import FRAMES
from binfut.protocol.models.market import (
    Basis,
    ExchangeInfo,
    Kline,
    OpenInterestHist,
    OrderBook,
    SymbolFilter,
)
from binfut.protocol.spec import Endpoint, Kind

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"
POSTMAN = SHARED / "reference" / "postman" / "Binance Derivatives Trading USDS Futures API.json"
REALDATA = SHARED / "realdata"
DOC_BASE = "https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api"

BY_NAME = {ep.name: ep for ep in MARKET}
KLINE_NAMES = ("klines", "continuous_klines", "index_price_klines", "mark_price_klines", "premium_index_klines")
STATS_NAMES = (
    "open_interest_hist",
    "top_long_short_position_ratio",
    "top_long_short_account_ratio",
    "global_long_short_account_ratio",
    "taker_long_short_ratio",
)


def _fixture(name: str) -> bytes:
    return (FIXTURES / f"http_market_{name}.json").read_bytes()


def _decode(body: bytes, tp: Any) -> Any:
    # Strict, as the client's decoder cache decodes.
    return msgspec.json.Decoder(tp).decode(body)


def _postman_market() -> dict[tuple[str, str], tuple[str, list[tuple[str, bool]]]]:
    """(method, path) -> (request name, [(param, enabled)]) for the Postman "Market Data" folder."""
    if not POSTMAN.exists():
        pytest.skip("shared Postman collection not available")
    data = json.loads(POSTMAN.read_text(encoding="utf-8"))
    (folder,) = [item for item in data["item"] if item["name"] == "Market Data"]
    out: dict[tuple[str, str], tuple[str, list[tuple[str, bool]]]] = {}
    for item in folder["item"]:
        request = item["request"]
        path = "/" + "/".join(request["url"]["path"])
        query = [(q["key"], not q.get("disabled", False)) for q in request["url"].get("query", [])]
        out[(request["method"], path)] = (item["name"], query)
    return out


# -- the table against the Postman collection ----------------------------------------------------------


def test_table_is_exactly_the_postman_market_folder() -> None:
    # Arrange
    postman = _postman_market()
    # Act
    routes = {ep.key for ep in MARKET}
    # Assert
    assert len(postman) == 34
    assert routes == set(postman)
    assert len(MARKET) == len(routes) == len(BY_NAME)


def test_summaries_are_the_postman_names() -> None:
    postman = _postman_market()
    for ep in MARKET:
        assert ep.summary == postman[ep.key][0], ep.label


def test_params_match_postman_and_enabled_ones_are_mandatory() -> None:
    postman = _postman_market()
    for ep in MARKET:
        query = postman[ep.key][1]
        assert {p.name for p in ep.params} == {name for name, _ in query}, ep.label
        for name, enabled in query:
            param = ep.param(name)
            assert param is not None
            if enabled:
                assert param.required, f"{ep.label} {name}"
            elif param.required:
                # The docs mark basis' limit MANDATORY; Postman leaves it unticked.
                assert (ep.name, name) == ("basis", "limit")


# -- every record is complete ----------------------------------------------------------------------------


@pytest.mark.parametrize("ep", MARKET, ids=lambda ep: ep.name)
def test_every_endpoint_is_complete(ep: Endpoint) -> None:
    assert ep.name.isidentifier() and ep.name == ep.name.lower()
    assert ep.method == "GET" and ep.idempotent
    assert ep.path.startswith(("/fapi/v1/", "/fapi/v2/", "/futures/data/"))
    assert ep.security in (SecurityType.NONE, SecurityType.MARKET_DATA)
    assert ep.weight_for({}) >= 0 and ep.weight_for({"symbol": "BTCUSDT"}) >= 0
    assert ep.returns is not None
    assert ep.doc.startswith(DOC_BASE)
    assert ep.summary
    assert ep.orders == 0
    assert not {p.name for p in ep.params} & {"timestamp", "recvWindow", "signature"}


def test_only_historical_trades_needs_the_api_key() -> None:
    keyed = {ep.name for ep in MARKET if ep.security is not SecurityType.NONE}
    assert keyed == {"historical_trades"}
    assert BY_NAME["historical_trades"].security is SecurityType.MARKET_DATA


def test_names() -> None:
    assert BY_NAME["server_time"].path == "/fapi/v1/time"
    assert BY_NAME["mark_price"].path == "/fapi/v1/premiumIndex"
    assert BY_NAME["funding_rate_history"].path == "/fapi/v1/fundingRate"
    assert BY_NAME["ticker_price_v2"].path == "/fapi/v2/ticker/price"
    assert BY_NAME["book_ticker"].path == "/fapi/v1/ticker/bookTicker"
    assert BY_NAME["taker_long_short_ratio"].path == "/futures/data/takerlongshortRatio"
    assert BY_NAME["delivery_price"].path == "/futures/data/delivery-price"
    assert BY_NAME["index_constituents"].path == "/fapi/v1/constituents"
    assert BY_NAME["adl_risk"].path == "/fapi/v1/symbolAdlRisk"


# -- weights, as documented --------------------------------------------------------------------------------

CONSTANT_WEIGHTS = {
    "ping": 1,
    "server_time": 1,
    "exchange_info": 1,
    "rpi_depth": 20,
    "trades": 5,
    "historical_trades": 20,
    "agg_trades": 20,
    "funding_rate_history": 0,
    "funding_info": 0,
    "open_interest": 1,
    "delivery_price": 0,
    "open_interest_hist": 0,
    "top_long_short_position_ratio": 0,
    "top_long_short_account_ratio": 0,
    "global_long_short_account_ratio": 0,
    "taker_long_short_ratio": 0,
    "basis": 0,
    "index_constituents": 2,
    "insurance_balance": 1,
    "adl_risk": 1,
    "trading_schedule": 5,
}
SYMBOL_WEIGHTS = {  # (with symbol, without)
    "mark_price": (1, 10),
    "ticker_24hr": (1, 40),
    "ticker_price": (1, 2),
    "ticker_price_v2": (1, 2),
    "book_ticker": (2, 5),
    "index_info": (1, 10),
    "asset_index": (1, 10),
}


def test_every_endpoint_has_a_known_weight() -> None:
    assert set(CONSTANT_WEIGHTS) | set(SYMBOL_WEIGHTS) | {"depth", *KLINE_NAMES} == set(BY_NAME)


@pytest.mark.parametrize(("name", "weight"), sorted(CONSTANT_WEIGHTS.items()))
def test_constant_weights(name: str, weight: int) -> None:
    ep = BY_NAME[name]
    assert ep.weight_for({}) == weight
    assert ep.weight_for({"symbol": "BTCUSDT", "limit": 1000}) == weight


@pytest.mark.parametrize(("name", "weights"), sorted(SYMBOL_WEIGHTS.items()))
def test_weight_with_and_without_symbol(name: str, weights: tuple[int, int]) -> None:
    ep = BY_NAME[name]
    assert ep.weight_for({"symbol": "BTCUSDT"}) == weights[0]
    assert ep.weight_for({}) == weights[1]
    assert ep.weight_for({"symbol": None}) == weights[1]
    assert ep.weight_for({"symbol": ""}) == weights[1]


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(5, 2), (10, 2), (20, 2), (50, 2), (100, 5), (500, 10), (1000, 20), (None, 10), ("1000", 20)],
)
def test_depth_weight_by_limit(limit: int | str | None, weight: int) -> None:
    assert BY_NAME["depth"].weight_for({"symbol": "BTCUSDT", "limit": limit}) == weight


@pytest.mark.parametrize("name", KLINE_NAMES)
@pytest.mark.parametrize(
    ("limit", "weight"),
    [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10), (1500, 10), (None, 5), ("1500", 10)],
)
def test_kline_weight_by_limit(name: str, limit: int | str | None, weight: int) -> None:
    assert BY_NAME[name].weight_for({"limit": limit}) == weight


# -- parameters ------------------------------------------------------------------------------------------------


def _names(name: str) -> tuple[str, ...]:
    return tuple(p.name for p in BY_NAME[name].params)


def test_parameter_order_follows_the_docs() -> None:
    assert _names("depth") == ("symbol", "limit")
    assert _names("historical_trades") == ("symbol", "limit", "fromId")
    assert _names("agg_trades") == ("symbol", "fromId", "startTime", "endTime", "limit")
    assert _names("klines") == ("symbol", "interval", "startTime", "endTime", "limit")
    assert _names("continuous_klines") == ("pair", "contractType", "interval", "startTime", "endTime", "limit")
    assert _names("index_price_klines") == ("pair", "interval", "startTime", "endTime", "limit")
    assert _names("funding_rate_history") == ("symbol", "startTime", "endTime", "limit")
    for name in STATS_NAMES:
        assert _names(name) == ("symbol", "period", "limit", "startTime", "endTime")
    assert _names("basis") == ("pair", "contractType", "period", "limit", "startTime", "endTime")
    for name in ("ping", "server_time", "exchange_info", "funding_info", "trading_schedule"):
        assert _names(name) == ()


def test_parameter_kinds_and_enums() -> None:
    expected = {
        "symbol": (Kind.STR, None),
        "pair": (Kind.STR, None),
        "limit": (Kind.INT, None),
        "fromId": (Kind.INT, None),
        "startTime": (Kind.MILLIS, None),
        "endTime": (Kind.MILLIS, None),
        "interval": (Kind.ENUM, KlineInterval),
        "contractType": (Kind.ENUM, ContractType),
        "period": (Kind.ENUM, RatioPeriod),
    }
    for ep in MARKET:
        for p in ep.params:
            assert (p.kind, p.enum) == expected[p.name], f"{ep.label} {p.name}"


def test_mandatory_parameters() -> None:
    required = {ep.name: {p.name for p in ep.params if p.required} for ep in MARKET}
    assert required["klines"] == {"symbol", "interval"}
    assert required["continuous_klines"] == {"pair", "contractType", "interval"}
    assert required["index_price_klines"] == {"pair", "interval"}
    assert required["historical_trades"] == {"symbol"}
    assert required["funding_rate_history"] == set()
    assert required["basis"] == {"pair", "contractType", "period", "limit"}
    assert required["delivery_price"] == {"pair"}
    for name in STATS_NAMES:
        assert required[name] == {"symbol", "period"}
    for name in (*SYMBOL_WEIGHTS, "insurance_balance", "adl_risk"):
        assert required[name] == set(), name


# -- series endpoints name a DataFrame converter ------------------------------------------------------------


def test_series_endpoints_name_a_frame() -> None:
    framed = {ep.name: ep.frame for ep in MARKET if ep.frame}
    assert framed == {
        **dict.fromkeys(KLINE_NAMES, "klines"),
        "funding_rate_history": "funding_rate",
        "open_interest_hist": "open_interest_hist",
        "top_long_short_position_ratio": "ratio",
        "top_long_short_account_ratio": "ratio",
        "global_long_short_account_ratio": "ratio",
        "taker_long_short_ratio": "taker_volume",
        "basis": "basis",
        "agg_trades": "agg_trades",
        "trades": "trades",
        "historical_trades": "trades",
    }
    assert set(framed.values()) == set(FRAMES)


# -- every response type decodes its docs example ---------------------------------------------------------------


@pytest.mark.parametrize("ep", MARKET, ids=lambda ep: ep.name)
def test_returns_decodes_the_docs_example(ep: Endpoint) -> None:
    # Arrange
    body = _fixture(ep.name)
    # Act
    value = _decode(body, ep.returns_for({"symbol": "BTCUSDT", "pair": "BTCUSDT"}))
    # Assert: nothing of the example was dropped on the floor, and it survives an encode round trip
    expected = json.loads(body)
    if isinstance(expected, list):
        assert isinstance(value, list) and len(value) == len(expected)
    assert _decode(msgspec.json.encode(value), ep.returns) == value


@pytest.mark.parametrize("ep", [ep for ep in MARKET if ep.returns_all is not None], ids=lambda ep: ep.name)
def test_returns_all_decodes_the_list_answer(ep: Endpoint) -> None:
    body = _fixture(f"{ep.name}__all")
    value = _decode(body, ep.returns_for({}))
    assert isinstance(value, list) and len(value) == len(json.loads(body))
    assert ep.returns_for({}) is ep.returns_all


def test_every_fixture_belongs_to_an_endpoint() -> None:
    for path in FIXTURES.glob("http_market_*.json"):
        name, _, variant = path.stem.removeprefix("http_market_").partition("__")
        assert name in BY_NAME, path.name
        if variant == "all":
            assert BY_NAME[name].returns_all is not None, path.name


# -- field values and Binance quirks -------------------------------------------------------------------------------


def test_order_book_levels_are_decimal_pairs() -> None:
    book = _decode(_fixture("depth"), OrderBook)
    assert book.last_update_id == 1027024
    assert book.event_time_ms == 1589436922972
    assert book.transaction_time_ms == 1589436922959
    assert book.bids == [(Decimal("4.00000000"), Decimal("431.00000000"))]
    assert book.asks == [(Decimal("4.00000200"), Decimal("12.00000000"))]


def test_kline_is_the_twelve_element_array() -> None:
    (bar,) = _decode(_fixture("klines"), list[Kline])
    assert bar.open_time_ms == 1499040000000
    assert bar.open == Decimal("0.01634790")
    assert bar.close_time_ms == 1499644799999
    assert bar.trades == 308
    assert bar.taker_buy_quote_volume == Decimal("28.46694368")
    # The docs print index/mark kline volumes as "0  ": Decimal reads it as zero.
    (index_bar,) = _decode(_fixture("index_price_klines"), list[Kline])
    assert index_bar.volume == 0


def test_statistics_timestamp_documented_as_string_is_an_int() -> None:
    rows = _decode(_fixture("open_interest_hist"), list[OpenInterestHist])
    assert [r.timestamp_ms for r in rows] == [1583127900000, 1583128200000]
    assert rows[0].cmc_circulating_supply == Decimal("165880.538")
    # ... and the number Binance actually sends decodes the same way.
    live = b'[{"symbol":"BTCUSDT","sumOpenInterest":"1","sumOpenInterestValue":"2","timestamp":1583127900000}]'
    assert _decode(live, list[OpenInterestHist])[0].timestamp_ms == 1583127900000


def test_empty_decimal_strings_become_none() -> None:
    (row,) = _decode(_fixture("basis"), list[Basis])
    assert row.annualized_basis_rate is None
    assert row.basis_rate == Decimal("0.0004")
    quarter = _fixture("basis").replace(b'"annualizedBasisRate": ""', b'"annualizedBasisRate": "0.0412"')
    assert _decode(quarter, list[Basis])[0].annualized_basis_rate == Decimal("0.0412")
    funding = BY_NAME["funding_rate_history"].returns
    old = b'[{"symbol":"BTCUSDT","fundingTime":1569024000000,"fundingRate":"0.00010000","markPrice":""}]'
    assert _decode(old, funding)[0].mark_price is None


def test_delivery_price_numbers_stay_exact() -> None:
    rows = _decode(_fixture("delivery_price"), BY_NAME["delivery_price"].returns)
    assert str(rows[0].delivery_price) == "27103.00000000"
    assert rows[-1].delivery_time_ms == 1648166400000


def test_exchange_info_docs_example() -> None:
    info = _decode(_fixture("exchange_info"), ExchangeInfo)
    (blz,) = info.symbols
    assert info.rate_limits[0].rate_limit_type == "REQUEST_WEIGHT" and info.rate_limits[0].limit == 2400
    assert info.assets[2].auto_asset_exchange is None
    assert blz.price_filter is not None and blz.price_filter.tick_size == Decimal("0.0001")
    assert blz.lot_size is not None and blz.lot_size.step_size == Decimal("1")
    assert blz.market_lot_size is not None and blz.market_lot_size.max_qty == Decimal("590119")
    assert blz.max_num_orders is not None and blz.max_num_orders.limit == 200
    assert blz.max_num_algo_orders is not None and blz.max_num_algo_orders.limit == 100
    assert blz.min_notional is not None and blz.min_notional.notional == Decimal("5.0")
    assert blz.percent_price is not None and blz.percent_price.multiplier_decimal == 4
    assert blz.underlying_sub_type == ["STORAGE"]


def test_unknown_filter_type_and_unknown_fields_do_not_break_the_decode() -> None:
    # Arrange: a filter type Binance has not shipped yet, plus new keys at every level
    data = json.loads(_fixture("exchange_info"))
    data["brandNewTopLevel"] = {"anything": [1, 2]}
    symbol = data["symbols"][0]
    symbol["permissionSet"] = ["GRID", "COPY"]
    symbol["filters"].append({"filterType": "POSITION_RISK_CONTROL", "positionControlSide": "NONE", "limit": "7"})
    symbol["filters"][0]["newKnob"] = "1"
    # Act
    info = _decode(json.dumps(data).encode(), ExchangeInfo)
    # Assert
    unknown = info.symbols[0].filters[-1]
    assert unknown == SymbolFilter(filter_type="POSITION_RISK_CONTROL", limit=7)
    assert info.symbols[0].price_filter is not None and info.symbols[0].price_filter.max_price == Decimal("300")


def test_real_exchange_info_decodes() -> None:
    # Arrange: a full live exchangeInfo (cryptofeed sample data, 2021-07-21)
    body = _fixture("exchange_info__cryptofeed")
    # Act
    info = _decode(body, ExchangeInfo)
    # Assert
    assert info.server_time_ms == 1626858243909
    assert len(info.symbols) == 122
    assert info.rate_limits[0].limit == 2400
    assert info.assets[0].auto_asset_exchange == Decimal("-10000")  # a string here, 0 / null in the docs
    btc = next(s for s in info.symbols if s.symbol == "BTCUSDT")
    assert btc.contract_type == ContractType.PERPETUAL
    assert btc.price_filter is not None and btc.price_filter.tick_size == Decimal("0.01")
    assert btc.lot_size is not None and btc.lot_size.step_size == Decimal("0.001")
    assert btc.percent_price is not None and btc.percent_price.multiplier_decimal == 4  # sent as "4"
    assert btc.order_types[:2] == ["LIMIT", "MARKET"]
    assert all(len(s.filters) == 7 for s in info.symbols)


def test_real_trimmed_exchange_info_decodes() -> None:
    path = REALDATA / "http_futures_market_exchange_info.json"
    if not path.exists():
        pytest.skip("shared/realdata is not beside the repo")
    info = _decode(path.read_bytes(), ExchangeInfo)
    assert [s.symbol for s in info.symbols] == ["BTCUSDT", "ETHUSDT", "BTCUSDT_220325"]
    assert info.symbols[2].contract_type == "CURRENT_QUARTER"
    assert info.symbols[2].delivery_date_ms == 1648195200000


def test_real_depth_snapshot_decodes() -> None:
    book = _decode(_fixture("depth__sushiusdt"), OrderBook)
    assert book.last_update_id == 600859605926
    assert len(book.bids) == len(book.asks) == 1000
    assert book.bids[0] == (Decimal("7.6110"), Decimal("6"))
    assert all(b[0] > a[0] for b, a in zip(book.bids, book.bids[1:]))  # best first


def test_all_recorded_depth_snapshots_decode() -> None:
    path = REALDATA / "BINANCE_FUTURES.http.0.0"
    if not path.exists():
        pytest.skip("shared/realdata is not beside the repo")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    books = [_decode(line[line.index(": {") + 2 :].encode(), OrderBook) for line in lines]
    assert len(books) == 4
    for book in books:
        assert book.bids and book.asks and book.bids[0][0] < book.asks[0][0]
        assert book.event_time_ms >= book.transaction_time_ms > 0
