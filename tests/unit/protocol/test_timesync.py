"""Time sync: best-round-trip offset, and clock-rate detection only when it is unmistakable."""

from __future__ import annotations

import random

from binfut.protocol.timesync import TimeSync


def test_offset_from_the_tightest_round_trip() -> None:
    sync = TimeSync()

    sync.add_sample(1_000, 6_050, 1_100)  # rtt 100, mid 1050 -> offset 5000
    sync.add_sample(2_000, 7_005, 2_010)  # rtt 10, mid 2005 -> offset 5000
    sync.add_sample(3_000, 8_400, 3_300)  # rtt 300: worse, ignored

    assert sync.offset_ms == 5_000 and sync.rate == 1.0
    assert sync.server_now(10_000) == 15_000


def test_reset_replaces_a_known_wrong_offset() -> None:
    sync = TimeSync()
    sync.add_sample(1_000, 1_000, 1_002)

    sync.add_sample(1_010, 21_010, 1_030, reset=True)

    assert sync.offset_ms == 20_000 - 10


def test_an_accelerated_server_clock_is_measured_and_extrapolated() -> None:
    sync = TimeSync()
    sync.add_sample(0, 1_000_000, 2)  # mid 1
    sync.add_sample(1_000, 1_000_000 + 60 * 1_000, 1_002)  # 60x: server moved 60 s in 1 s

    assert abs(sync.rate - 60.0) < 0.5
    # 500 ms of local time later the server is ~30 s further.
    assert abs(sync.server_now(1_501) - (1_000_000 + 60 * 1_500)) < 200


def test_jitter_against_a_real_server_never_looks_like_a_rate() -> None:
    rng = random.Random(3)
    sync = TimeSync()
    true_offset = 123_456
    local = 0
    for _ in range(200):
        local += rng.randint(200, 5_000)
        rtt = rng.randint(1, 400)  # internet round trips with heavy jitter
        server_at = local + rng.randint(0, rtt)  # the server answered somewhere inside the round trip
        sync.add_sample(local, server_at + true_offset, local + rtt)
        assert sync.rate == 1.0
    assert abs(sync.offset_ms - true_offset) <= 200
