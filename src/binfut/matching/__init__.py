"""One sans-IO matching engine for the local exchange, backtests and paper trading.

:class:`SimulatedVenue` is the entry point: ``execute(account_id, command)`` for account commands and
``on_market(event)`` for market events.  Commands and market events are in
:mod:`binfut.matching.commands`, outputs in :mod:`binfut.matching.outputs` and the user-data event
Structs in :mod:`binfut.protocol.userevents`.

Rule kept by every module here: money never depends on the caller's decimal context (ccxt leaves
``ROUND_HALF_UP`` on its threads).  Each ``quantize`` / ``to_integral_value`` names its rounding
(``ROUND_HALF_EVEN`` unless another is meant), and ``execute``, ``on_market``, the queries and
``Result.value`` compute under :data:`binfut._money.MONEY` when the caller's precision or rounding
differ -- see :mod:`binfut._money`.
"""

from binfut.matching.builders import Result
from binfut.matching.commands import (
    BatchCancelOrders,
    BatchModifyOrders,
    BatchNewOrders,
    CancelAlgoOrder,
    CancelAllAlgoOrders,
    CancelAllOrders,
    CancelOrder,
    ChangeLeverage,
    ChangeMarginType,
    ChangeMultiAssetsMode,
    ChangePositionMode,
    Command,
    CountdownCancelAll,
    Deposit,
    Funding,
    MarketEvent,
    MarkPrice,
    ModifyIsolatedMargin,
    ModifyOrder,
    NewAlgoOrder,
    NewOrder,
    Tick,
    Trade,
    Withdraw,
)
from binfut.matching.instruments import DEFAULT_SYMBOLS, Bracket, SymbolSpec, default_specs
from binfut.matching.models import DefaultFeeModel, DefaultFillModel, FeeModel, FillModel
from binfut.matching.outputs import (
    AccountInfo,
    AlgoOrderSnapshot,
    Balance,
    BookDelta,
    CommissionRate,
    Envelope,
    ForceOrder,
    Income,
    OrderSnapshot,
    Output,
    PositionRisk,
    PublicTrade,
    SymbolBrackets,
    UserTrade,
)
from binfut.matching.venue import SimulatedVenue

__all__ = [
    "DEFAULT_SYMBOLS",
    "AccountInfo",
    "AlgoOrderSnapshot",
    "Balance",
    "BatchCancelOrders",
    "BatchModifyOrders",
    "BatchNewOrders",
    "BookDelta",
    "Bracket",
    "CancelAlgoOrder",
    "CancelAllAlgoOrders",
    "CancelAllOrders",
    "CancelOrder",
    "ChangeLeverage",
    "ChangeMarginType",
    "ChangeMultiAssetsMode",
    "ChangePositionMode",
    "Command",
    "CommissionRate",
    "CountdownCancelAll",
    "DefaultFeeModel",
    "DefaultFillModel",
    "Deposit",
    "Envelope",
    "FeeModel",
    "FillModel",
    "ForceOrder",
    "Funding",
    "Income",
    "MarkPrice",
    "MarketEvent",
    "ModifyIsolatedMargin",
    "ModifyOrder",
    "NewAlgoOrder",
    "NewOrder",
    "OrderSnapshot",
    "Output",
    "PositionRisk",
    "PublicTrade",
    "Result",
    "SimulatedVenue",
    "SymbolBrackets",
    "SymbolSpec",
    "Tick",
    "Trade",
    "UserTrade",
    "Withdraw",
    "default_specs",
]
