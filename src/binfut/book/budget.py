"""How many depth snapshots may be requested now without exceeding the request-weight limit.

Owns the weight table of ``GET /fapi/v1/depth`` and the snapshot budget: a pure function of ``now_ms``, the
weight already used in the current window and the limit. Rules kept here:

- Binance counts request weight per IP in fixed one-minute windows that start on the minute, so weight
  used in an earlier window counts as zero.
- The caller's ``used_weight`` must include requests it has sent but not yet seen answered; ``reserve`` keeps
  weight back for everything that is not a snapshot (orders, account reads).
- Pure: no clock reads; time comes in as ``now_ms``.
"""

from __future__ import annotations

import msgspec

__all__ = ["DEPTH_WEIGHTS", "SnapshotBudget", "depth_weight", "snapshot_budget"]

#: ``limit`` of ``GET /fapi/v1/depth`` -> request weight (USD-M "Order Book" page).
DEPTH_WEIGHTS: dict[int, int] = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}

WINDOW_MS = 60_000


def depth_weight(limit: int) -> int:
    """Request weight of ``GET /fapi/v1/depth?limit=<limit>``.

    Raises
    ------
    ValueError
        If ``limit`` is not one Binance accepts.

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book
    """
    try:
        return DEPTH_WEIGHTS[limit]
    except KeyError:
        raise ValueError(f"depth limit must be one of {sorted(DEPTH_WEIGHTS)}, got {limit}") from None


class SnapshotBudget(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of :func:`snapshot_budget`.

    Attributes
    ----------
    allowed : int
        Snapshots that may be requested at ``now_ms``.
    next_at_ms : int
        Earliest time the next snapshot may go: ``now_ms`` when ``allowed > 0``, else ``window_end_ms``.
    window_end_ms : int
        When the current weight window ends and its count resets: snapshots beyond ``allowed`` wait for it.
    """

    allowed: int
    next_at_ms: int
    window_end_ms: int


def snapshot_budget(
    now_ms: int,
    used_weight: int,
    limit: int = 2400,
    *,
    weight: int = 20,
    used_at_ms: int | None = None,
    reserve: int = 0,
    window_ms: int = WINDOW_MS,
) -> SnapshotBudget:
    """Decide how many depth snapshots fit in the current request-weight window.

    Parameters
    ----------
    now_ms : int
        Current time (server time, ideally) in ms.
    used_weight : int
        Weight used in the window so far, e.g. the last ``X-MBX-USED-WEIGHT-1M`` plus everything sent since.
    limit : int
        ``REQUEST_WEIGHT`` limit per minute from ``exchangeInfo.rateLimits`` (2400 on USD-M).
    weight : int
        Weight of one snapshot; 20 for ``limit=1000`` (see :func:`depth_weight`).
    used_at_ms : int | None
        When ``used_weight`` was measured; a reading from an earlier window counts as zero.
    reserve : int
        Weight kept back for other requests.
    window_ms : int
        Length of the fixed weight window.

    Returns
    -------
    SnapshotBudget

    References
    ----------
    https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info#limits
    """
    if weight <= 0:
        raise ValueError(f"weight must be positive, got {weight}")
    window_end = now_ms - now_ms % window_ms + window_ms
    if used_at_ms is not None and used_at_ms < window_end - window_ms:
        used_weight = 0  # measured in an earlier window, which has since reset
    allowed = max(0, (limit - reserve - used_weight) // weight)
    return SnapshotBudget(allowed=allowed, next_at_ms=now_ms if allowed else window_end, window_end_ms=window_end)
