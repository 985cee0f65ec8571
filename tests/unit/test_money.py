"""binfut._money: the integer half-to-even division the engine's fee and average price use."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from hypothesis import example, given
from hypothesis import strategies as hst

from binfut._money import MONEY, div_half_even


@given(hst.integers(min_value=-(10**40), max_value=10**40), hst.integers(min_value=1, max_value=10**20))
@example(5, 2)
@example(7, 2)
@example(-5, 2)
@example(-7, 2)
@example(2**62 + 1, 3)  # past the tagged (63-bit) ints of the compiled build
def test_div_half_even_rounds_the_exact_quotient_half_to_even(n: int, d: int) -> None:
    # Arrange: the exact quotient, rounded by Decimal (precision wide enough for every example)
    with localcontext(MONEY) as ctx:
        ctx.prec = 100
        expected = int((Decimal(n) / Decimal(d)).to_integral_value(rounding=ROUND_HALF_EVEN))
    # Act / Assert
    assert div_half_even(n, d) == expected
