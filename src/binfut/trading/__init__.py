"""Trading on the one matching engine: gateway, portfolio, order management, risk, backtests, reports.

:func:`run_backtest` replays bars (:func:`prepare_feed`; :func:`load_feed` from a store, :func:`fetch_feed`
over REST) into a
:class:`~binfut.matching.SimulatedVenue` on a ``ManualClock`` and runs a strategy through the same
:class:`OrderGateway` / :class:`Portfolio` / :class:`OrderManager` / :class:`RiskManager` stack that
paper and live trading use; :func:`write_report` renders the result.  Paper and live runners
(``trading.paper``, ``trading.live``, on the shared ``trading.runner``) plug a live feed and a Binance
gateway into the same stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binfut._lazy import lazy_exports

if TYPE_CHECKING:
    from binfut.errors import RiskRefused
    from binfut.trading.backtest import BacktestConfig, BacktestResult, Session, build_session, run_backtest
    from binfut.trading.binance_gateway import BinanceGateway
    from binfut.trading.feed import BarFeed, FundingEvent, fetch_feed, load_feed, prepare_feed, synthetic_funding
    from binfut.trading.gateway import (
        AlgoAck,
        AlgoInfo,
        OrderAck,
        OrderGateway,
        OrderInfo,
        PositionInfo,
        SimulatedGateway,
        filters_from_specs,
    )
    from binfut.trading.liquidity import BookLiquidity, LiquidityConfig
    from binfut.trading.live import LiveConfig, LiveRunner
    from binfut.trading.oms import BracketOrder, ClientIdGenerator, OrderManager, ReconcileReport
    from binfut.trading.paper import PaperConfig, PaperRunner, bar_messages
    from binfut.trading.portfolio import Fill, FundingPayment, Portfolio
    from binfut.trading.report import Metrics, compute_metrics, write_report
    from binfut.trading.risk import Refusal, RiskConfig, RiskManager
    from binfut.trading.runner import BarGap, MarketRunner, OrderRecord, RunnerStatus, RunSummary
    from binfut.trading.vectorized import VectorizedUnsupported
    from binfut.trading.warmup import WarmupReport

__all__ = [
    "AlgoAck",
    "AlgoInfo",
    "BacktestConfig",
    "BacktestResult",
    "BarFeed",
    "BarGap",
    "BinanceGateway",
    "BookLiquidity",
    "BracketOrder",
    "ClientIdGenerator",
    "Fill",
    "FundingEvent",
    "FundingPayment",
    "LiquidityConfig",
    "LiveConfig",
    "LiveRunner",
    "MarketRunner",
    "Metrics",
    "OrderAck",
    "OrderGateway",
    "OrderInfo",
    "OrderManager",
    "OrderRecord",
    "PaperConfig",
    "PaperRunner",
    "Portfolio",
    "PositionInfo",
    "ReconcileReport",
    "Refusal",
    "RiskConfig",
    "RiskManager",
    "RiskRefused",
    "RunSummary",
    "RunnerStatus",
    "Session",
    "SimulatedGateway",
    "VectorizedUnsupported",
    "WarmupReport",
    "bar_messages",
    "build_session",
    "compute_metrics",
    "fetch_feed",
    "filters_from_specs",
    "load_feed",
    "prepare_feed",
    "run_backtest",
    "synthetic_funding",
    "write_report",
]

# Imported on first use, so that ``binfut`` commands which never run a strategy do not pay for
# pandas, numpy and scikit-learn at start-up.
_WHERE: dict[str, str] = {
    "AlgoAck": "binfut.trading.gateway",
    "AlgoInfo": "binfut.trading.gateway",
    "BacktestConfig": "binfut.trading.backtest",
    "BacktestResult": "binfut.trading.backtest",
    "BarFeed": "binfut.trading.feed",
    "BarGap": "binfut.trading.runner",
    "BinanceGateway": "binfut.trading.binance_gateway",
    "BookLiquidity": "binfut.trading.liquidity",
    "BracketOrder": "binfut.trading.oms",
    "ClientIdGenerator": "binfut.trading.oms",
    "Fill": "binfut.trading.portfolio",
    "FundingEvent": "binfut.trading.feed",
    "FundingPayment": "binfut.trading.portfolio",
    "LiquidityConfig": "binfut.trading.liquidity",
    "LiveConfig": "binfut.trading.live",
    "LiveRunner": "binfut.trading.live",
    "MarketRunner": "binfut.trading.runner",
    "Metrics": "binfut.trading.report",
    "OrderAck": "binfut.trading.gateway",
    "OrderGateway": "binfut.trading.gateway",
    "OrderInfo": "binfut.trading.gateway",
    "OrderManager": "binfut.trading.oms",
    "OrderRecord": "binfut.trading.runner",
    "PaperConfig": "binfut.trading.paper",
    "PaperRunner": "binfut.trading.paper",
    "Portfolio": "binfut.trading.portfolio",
    "PositionInfo": "binfut.trading.gateway",
    "ReconcileReport": "binfut.trading.oms",
    "Refusal": "binfut.trading.risk",
    "RiskConfig": "binfut.trading.risk",
    "RiskManager": "binfut.trading.risk",
    "RiskRefused": "binfut.errors",
    "RunSummary": "binfut.trading.runner",
    "RunnerStatus": "binfut.trading.runner",
    "Session": "binfut.trading.backtest",
    "SimulatedGateway": "binfut.trading.gateway",
    "VectorizedUnsupported": "binfut.trading.vectorized",
    "WarmupReport": "binfut.trading.warmup",
    "bar_messages": "binfut.trading.paper",
    "build_session": "binfut.trading.backtest",
    "compute_metrics": "binfut.trading.report",
    "fetch_feed": "binfut.trading.feed",
    "filters_from_specs": "binfut.trading.gateway",
    "load_feed": "binfut.trading.feed",
    "prepare_feed": "binfut.trading.feed",
    "run_backtest": "binfut.trading.backtest",
    "synthetic_funding": "binfut.trading.feed",
    "write_report": "binfut.trading.report",
}


__getattr__ = lazy_exports(__name__, _WHERE)
