"""Money arithmetic for line items: ISO 4217 minor units and the rounding rule of net, tax and gross totals.

Rounding rule (documented for users in the README): amounts are integers in the currency's minor unit (cents,
yen, fils). Each line is rounded on its own, half-up (0.5 goes away from zero), to a whole minor unit:

    net   = round_half_up(quantity × unit price × (1 − discount / 100))
    tax   = round_half_up(net × tax rate / 100)
    gross = net + tax

A deal's or document's totals are the sums of its lines' rounded values, so the printed lines always add up
to the printed total. The number of decimals of a currency (JPY 0, EUR 2, KWD 3) comes from the table below.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pycountry

from kanban.errors import ValidationError
from kanban.i18n import _

# ISO 4217 currencies whose minor unit is not 1/100 (every other currency has two decimals).
EXPONENTS = {"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
             "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
             "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3}
HUNDRED = Decimal(100)


def exponent(currency: str) -> int:
    """Decimals of a currency's minor unit: JPY 0, EUR 2, KWD 3."""
    return EXPONENTS.get((currency or "").upper(), 2)


def check_currency(value: object, field: str = "currency") -> str:
    """An ISO 4217 code, upper-cased; ValidationError (naming `field`) otherwise."""
    code = value.upper() if isinstance(value, str) else ""
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValidationError(_("%(value)s is not an ISO 4217 currency code", value=repr(value)),
                              {field: _("not an ISO 4217 code")})
    return code


def major(amount: int, currency: str) -> str:
    """Minor units as a plain decimal in the major unit: 125000 EUR -> "1250.00", 500 JPY -> "500"."""
    places = exponent(currency)
    return f"{Decimal(int(amount)).scaleb(-places):.{places}f}"


def display(amount: int, currency: str) -> str:
    """An amount for documents and pages: grouped thousands and the code, e.g. "1,250.00 EUR"."""
    places = exponent(currency)
    return f"{Decimal(int(amount)).scaleb(-places):,.{places}f} {currency.upper()}"


def round_half_up(value: Decimal) -> int:
    """Round to a whole minor unit, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class LineTotals:
    """The rounded totals of one line, in minor units."""

    net: int
    tax: int
    gross: int


def line_totals(quantity: Decimal, price: int, discount: Decimal, tax_rate: Decimal) -> LineTotals:
    """Apply the rounding rule (module docstring) to one line."""
    net = round_half_up(quantity * Decimal(price) * (1 - discount / HUNDRED))
    tax = round_half_up(Decimal(net) * tax_rate / HUNDRED)
    return LineTotals(net, tax, net + tax)


def decimal_of(value: object, field: str, *, places: int, low: Decimal, high: Decimal) -> Decimal:
    """A JSON number or numeric string as a Decimal with at most `places` decimals within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValidationError(_("%(field)s must be a number", field=field), {field: _("must be a number")})
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(_("%(field)s must be a number", field=field), {field: _("must be a number")}) from None
    if not number.is_finite() or not low <= number <= high:
        raise ValidationError(_("%(field)s must be between %(low)s and %(high)s", field=field, low=low, high=high),
                              {field: _("between %(low)s and %(high)s", low=low, high=high)})
    if number != number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise ValidationError(_("%(field)s has at most %(places)s decimals", field=field, places=places),
                              {field: _("at most %(places)s decimals", places=places)})
    return number
