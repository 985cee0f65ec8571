"""Helpers of the data-store unit tests: bulk files written exactly as data.binance.vision publishes them."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

MIN = 60_000
JAN1 = 1_704_067_200_000
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
)


def write_zip(directory: Path, name: str, rows: list[str], header: str | None = None, *, checksum: bool = True) -> Path:
    """A bulk file as Binance publishes it: ``NAME.zip`` holding ``NAME.csv``, and ``NAME.zip.CHECKSUM``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    body = "\n".join(([header] if header else []) + rows) + "\n"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name.replace(".zip", ".csv"), body)
    if checksum:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (directory / f"{name}.CHECKSUM").write_text(f"{digest}  {name}\n")
    return path


def kline_rows(start_ms: int, n: int) -> list[str]:
    return [
        f"{start_ms + i * MIN},42000.1,42010.5,41990.0,42005.2,12.345,{start_ms + i * MIN + 59999},518000.12345678,{100 + i},6.1,256000.5,0"
        for i in range(n)
    ]
