"""Server-time estimation from (sent, server time, received) samples.

The offset is ``server_time - midpoint(sent, received)``; among samples the one with the smallest
round trip wins (its midpoint is the tightest bound). Signed requests are stamped with
:meth:`TimeSync.server_now` so they pass Binance's ``timestamp < serverTime + 1000`` and recvWindow
rule.

A server clock may also run at another *rate*: the local exchange's ``--speed 60`` runs 60 times
faster than wall time. Two samples far enough apart measure that rate; it is used only when it differs
from 1 by more than both 5 % and three times the measurement's own uncertainty (the round trips over
the span), so network jitter against Binance never makes a real server look accelerated.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TimeSync"]

MIN_RATE_SPAN_MS = 200  # shortest span between two samples that may measure a clock rate
RATE_TOLERANCE = 0.05  # a measured rate within 5 % of 1 is taken as exactly 1


@dataclass(slots=True)
class TimeSync:
    """The current estimate; ``synced`` is False until the first sample."""

    offset_ms: int = 0
    rtt_ms: int = 0
    synced: bool = False
    samples: int = 0
    rate: float = 1.0
    anchor_local_ms: int = 0
    anchor_server_ms: int = 0

    def add_sample(self, sent_ms: int, server_ms: int, received_ms: int, *, reset: bool = False) -> int:
        """Fold one measurement in and return the offset in use now.

        ``reset`` discards the previous offset (after a -1021 the old one is known to be wrong); the
        previous sample still serves to measure the clock rate.
        """
        rtt = max(0, received_ms - sent_ms)
        mid = (sent_ms + received_ms) // 2
        if self.synced:
            span = mid - self.anchor_local_ms
            if span >= MIN_RATE_SPAN_MS:
                rate = (server_ms - self.anchor_server_ms) / span
                uncertainty = (rtt + self.rtt_ms) / span
                accelerated = abs(rate - 1.0) > max(RATE_TOLERANCE, 3 * uncertainty)
                self.rate = rate if accelerated and rate > 0 else 1.0
        if reset or not self.synced or rtt <= self.rtt_ms or self.rate != 1.0:
            # With a rate other than 1 the newest sample is the best anchor: errors grow with age.
            self.anchor_local_ms, self.anchor_server_ms, self.rtt_ms = mid, server_ms, rtt
            self.offset_ms = server_ms - mid
        self.synced = True
        self.samples += 1
        return self.offset_ms

    def server_now(self, local_ms: int) -> int:
        """The server's time now, given the local time."""
        if self.rate == 1.0:
            return local_ms + self.offset_ms
        return self.anchor_server_ms + int((local_ms - self.anchor_local_ms) * self.rate)
