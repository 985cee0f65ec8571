"""Trading on the one matching engine: gateway, portfolio, order management, risk, backtests, reports.

:func:`run_backtest` replays bars (:func:`prepare_feed` / :func:`load_feed`) into a
:class:`~binfut.matching.SimulatedVenue` on a ``ManualClock`` and runs a strategy through the same
:class:`OrderGateway` / :class:`Portfolio` / :class:`OrderManager` / :class:`RiskManager` stack that
paper and live trading use; :func:`write_report` renders the result.  Paper and live runners
(``trading.paper``, ``trading.live``) plug a live feed and a Binance gateway into the same stack.
"""

from binfut.trading.backtest import BacktestConfig, BacktestResult, Session, build_session, run_backtest
from binfut.trading.feed import BarFeed, FundingEvent, load_feed, prepare_feed, synthetic_funding
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
from binfut.trading.oms import BracketOrder, ClientIdGenerator, OrderManager, ReconcileReport
from binfut.trading.portfolio import Fill, FundingPayment, Portfolio
from binfut.trading.report import Metrics, compute_metrics, write_report
from binfut.trading.risk import Refusal, RiskConfig, RiskManager, RiskRefused
from binfut.trading.vectorized import VectorizedUnsupported

__all__ = [
    "AlgoAck",
    "AlgoInfo",
    "BacktestConfig",
    "BacktestResult",
    "BarFeed",
    "BookLiquidity",
    "BracketOrder",
    "ClientIdGenerator",
    "Fill",
    "FundingEvent",
    "FundingPayment",
    "LiquidityConfig",
    "Metrics",
    "OrderAck",
    "OrderGateway",
    "OrderInfo",
    "OrderManager",
    "Portfolio",
    "PositionInfo",
    "ReconcileReport",
    "Refusal",
    "RiskConfig",
    "RiskManager",
    "RiskRefused",
    "Session",
    "SimulatedGateway",
    "VectorizedUnsupported",
    "build_session",
    "compute_metrics",
    "filters_from_specs",
    "load_feed",
    "prepare_feed",
    "run_backtest",
    "synthetic_funding",
    "write_report",
]
