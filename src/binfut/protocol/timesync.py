"""Server-time offset estimation from (sent, server time, received) samples.

The offset is ``server_time - midpoint(sent, received)``; with several samples the one with the
smallest round trip wins (its midpoint is the tightest bound). Signed requests are stamped with
``local_now + offset`` so they pass Binance's ``timestamp < serverTime + 1000`` and recvWindow rule.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TimeSync"]


@dataclass(slots=True)
class TimeSync:
    """The current estimate; ``synced`` is False until the first sample."""

    offset_ms: int = 0
    rtt_ms: int = 0
    synced: bool = False
    samples: int = 0

    def add_sample(self, sent_ms: int, server_ms: int, received_ms: int, *, reset: bool = False) -> int:
        """Fold one measurement in and return the offset in use.

        ``reset`` discards the previous estimate (after a -1021 the old one is known to be wrong).
        """
        rtt = max(0, received_ms - sent_ms)
        offset = server_ms - (sent_ms + received_ms) // 2
        if reset or not self.synced or rtt <= self.rtt_ms:
            self.offset_ms, self.rtt_ms = offset, rtt
        self.synced = True
        self.samples += 1
        return self.offset_ms

    def server_now(self, local_ms: int) -> int:
        return local_ms + self.offset_ms
