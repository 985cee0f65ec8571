"""Download state per series: covered ranges merge, gaps are replaced where a range is fetched again."""

from __future__ import annotations

from pathlib import Path

from binfut.data import Gap, Manifest, SeriesState


def test_covered_ranges_merge_and_refetched_ranges_replace_their_gaps(tmp_path: Path) -> None:
    # Arrange
    manifest = Manifest(tmp_path)
    state = manifest.load("klines", "BTCUSDT", "1m")
    assert state == SeriesState(kind="klines", symbol="BTCUSDT", series="1m")

    # Act
    state.add(0, 100, [Gap("klines", "BTCUSDT", "1m", 10, 20, 10)])
    state.add(100, 200, [Gap("klines", "BTCUSDT", "1m", 150, 160, 10)])
    state.add(0, 100, [])  # fetched again: Binance has the bars now
    manifest.save(state)

    # Assert
    loaded = manifest.load("klines", "BTCUSDT", "1m")
    assert loaded.covered == [(0, 200)]
    assert loaded.gaps == [(150, 160, 10)]
    assert manifest.path("klines", "BTCUSDT", "1m") == tmp_path / "_manifest/klines/BTCUSDT/1m.json"
    assert manifest.states() == [loaded]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_saving_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path)
    state = SeriesState(kind="funding_rate", symbol="ETHUSDT", covered=[(5, 9)])
    manifest.save(state)
    first = manifest.path("funding_rate", "ETHUSDT", None).read_bytes()

    manifest.save(manifest.load("funding_rate", "ETHUSDT", None))

    assert manifest.path("funding_rate", "ETHUSDT", None).read_bytes() == first
