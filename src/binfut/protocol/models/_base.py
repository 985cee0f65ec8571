"""Base Struct for REST response models: camelCase wire keys, snake_case attributes, unknown keys tolerated."""

from __future__ import annotations

import msgspec

__all__ = ["Model"]


class Model(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Frozen, keyword-only, camelCase on the wire. Unknown fields are ignored (Binance adds fields)."""
