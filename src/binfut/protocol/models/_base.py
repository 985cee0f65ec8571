"""Base Struct for REST response models: camelCase wire keys, snake_case attributes, unknown keys tolerated."""

from __future__ import annotations

import msgspec

__all__ = ["Model"]


class Model(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """Frozen, keyword-only, camelCase on the wire. Unknown fields are ignored (Binance adds fields).

    ``gc=False``: decoded responses are trees of frozen Structs and can never form a reference cycle,
    so the garbage collector need not track them (measurably cheaper with many calls in flight).
    """
