"""The line rounding rule per currency: half-up per line to a whole minor unit, totals are sums of lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kanban.errors import ValidationError
from kanban.pricing import check_currency, decimal_of, display, exponent, line_totals, major


@pytest.mark.parametrize(("currency", "quantity", "price", "discount", "rate", "expected", "shown"), [
    # 3 × 19.99 EUR − 10 % = 53.973 → 53.97; 20 % tax of 53.97 = 10.794 → 10.79
    ("EUR", "3", 1999, "10", "20", (5397, 1079, 6476), "64.76"),
    # 1.5 × 333 JPY = 499.5 → 500 yen (no decimals); 10 % tax = 50
    ("JPY", "1.5", 333, "0", "10", (500, 50, 550), "550"),
    # 2.5 × 1.234 KWD = 3.085; 5 % tax = 0.15425 → 0.154 (three decimals)
    ("KWD", "2.5", 1234, "0", "5", (3085, 154, 3239), "3.239"),
    # halves go up: 0.5 × 1 cent = 0.5 → 1 cent; 50 % tax of 1 cent = 0.5 → 1
    ("USD", "0.5", 1, "0", "50", (1, 1, 2), "0.02"),
])
def test_line_totals_per_currency(currency, quantity, price, discount, rate, expected, shown):
    totals = line_totals(Decimal(quantity), price, Decimal(discount), Decimal(rate))
    assert (totals.net, totals.tax, totals.gross) == expected
    assert major(totals.gross, currency) == shown


def test_exponents_and_display():
    assert (exponent("JPY"), exponent("eur"), exponent("KWD")) == (0, 2, 3)
    assert display(123456789, "EUR") == "1,234,567.89 EUR"
    assert display(1500, "JPY") == "1,500 JPY"


def test_currency_codes_are_iso_4217():
    assert check_currency("eur") == "EUR"
    for bad in ("EUX", "EU", 12, None):
        with pytest.raises(ValidationError) as err:
            check_currency(bad)
        assert "currency" in err.value.fields


def test_decimal_inputs_are_checked():
    assert decimal_of("1.25", "q", places=3, low=Decimal(0), high=Decimal(10)) == Decimal("1.25")
    for bad in ("1.2345", "abc", True, 11, "NaN", "1e400"):
        with pytest.raises(ValidationError):
            decimal_of(bad, "q", places=3, low=Decimal(0), high=Decimal(10))
