"""mypy over code that uses the generated client methods: typed results, overloads, bad calls caught."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

GOOD = textwrap.dedent(
    """
    from decimal import Decimal
    from binfut import AsyncClient, Client

    def sync_use(client: Client) -> Decimal:
        one = client.ticker_price(symbol="BTCUSDT")
        every = client.ticker_price()
        order = client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.001"), price=30000.5)
        book = client.depth(symbol="BTCUSDT", limit=5)
        first: Decimal = every[0].price
        return one.price + order.orig_qty + book.bids[0][0] + first

    async def async_use(client: AsyncClient) -> int:
        server = await client.server_time()
        return server.server_time_ms
    """
)

BAD = textwrap.dedent(
    """
    from binfut import Client

    def misuse(client: Client) -> None:
        client.new_order(symbol="BTCUSDT", side="BUY")
        client.ticker_price(symbol="BTCUSDT").no_such_field
        client.depth(symbol="BTCUSDT", limit="five")
    """
)


def run_mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    path = tmp_path / "snippet.py"
    path.write_text(source)
    root = Path(__file__).resolve().parents[2]
    out, err, status = mypy_api.run(
        [str(path), "--strict", "--follow-imports=silent", "--cache-dir", str(root / ".mypy_cache"), "--no-error-summary"]
    )
    return out + err, status


@pytest.mark.slow
def test_generated_methods_type_check(tmp_path: Path) -> None:
    out, status = run_mypy(tmp_path, GOOD)

    assert status == 0, out


@pytest.mark.slow
def test_misuse_is_caught_by_the_type_checker(tmp_path: Path) -> None:
    out, status = run_mypy(tmp_path, BAD)

    assert status == 1
    assert 'Missing named argument "type"' in out
    assert '"PriceTicker" has no attribute "no_such_field"' in out
    assert 'incompatible type "str"; expected "int | None"' in out
