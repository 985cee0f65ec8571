"""Download state per series: which time ranges are on disk, and the gaps Binance left in them.

One small JSON file per (kind, symbol, interval) under ``<root>/_manifest/``, replaced atomically
after the rows it describes are durably in the dataset, so it can only lag the data, never lead it:
a crash between the two makes a rerun fetch a stretch again, and merging on the primary key makes
that harmless. No wall time is written, so two runs over the same data leave identical manifests.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from binfut.data._atomic import atomic_write_bytes, ensure_dir
from binfut.data.backfill import Gap, merge_ranges

__all__ = ["Manifest", "SeriesState"]


class SeriesState(msgspec.Struct, kw_only=True):
    """What a download has durably stored for one series.

    Attributes
    ----------
    covered : ``[start_ms, end_ms)`` ranges fetched and written (merged, sorted)
    gaps : ``[start_ms, end_ms, missing]`` stretches inside ``covered`` where Binance returned nothing
    last_id, last_time_ms : aggTrades only: the last aggregate trade at the end of ``covered``, so
        the id check continues across runs
    """

    kind: str
    symbol: str
    series: str | None = None
    covered: list[tuple[int, int]] = []
    gaps: list[tuple[int, int, int]] = []
    last_id: int | None = None
    last_time_ms: int | None = None

    def add(self, start_ms: int, end_ms: int, gaps: list[Gap]) -> None:
        """Record ``[start_ms, end_ms)`` as covered, replacing earlier gaps inside it with ``gaps``."""
        kept = [g for g in self.gaps if g[1] <= start_ms or g[0] >= end_ms]
        self.gaps = sorted(kept + [(g.start_ms, g.end_ms, g.missing) for g in gaps])
        self.covered = merge_ranges([*self.covered, (start_ms, end_ms)])


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(SeriesState)


class Manifest:
    """The ``_manifest`` directory of a dataset.

    Parameters
    ----------
    root : the dataset root
    fsync : make every update durable
    """

    def __init__(self, root: str | Path, *, fsync: bool = True) -> None:
        self.dir = Path(root) / "_manifest"
        self.fsync = fsync

    def path(self, kind: str, symbol: str, series: str | None) -> Path:
        return self.dir / kind / symbol / f"{series or 'all'}.json"

    def load(self, kind: str, symbol: str, series: str | None) -> SeriesState:
        """The stored state, or an empty one."""
        path = self.path(kind, symbol, series)
        if not path.exists():
            return SeriesState(kind=kind, symbol=symbol, series=series)
        return _DECODER.decode(path.read_bytes())

    def save(self, state: SeriesState) -> None:
        """Replace the state file atomically.

        Raises
        ------
        StoreWriteError
            The disk refused the write.
        """
        path = self.path(state.kind, state.symbol, state.series)
        ensure_dir(path.parent)
        atomic_write_bytes(path, msgspec.json.format(_ENCODER.encode(state)) + b"\n", fsync=self.fsync)

    def states(self) -> list[SeriesState]:
        """Every stored state."""
        return [_DECODER.decode(p.read_bytes()) for p in sorted(self.dir.glob("*/*/*.json"))]
