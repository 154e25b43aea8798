"""Amounts as people read and type them, in the reader's locale: "8 750,00 €" (fr), "8.750,00 €" (it), "€8,750.00".

Amounts are stored as integers in the currency's minor unit; how many decimals a currency has comes from
kanban.pricing.exponent (ISO 4217: JPY 0, EUR 2, KWD 3), never from the locale. Formatting uses Babel's
CLDR currency pattern of the locale with exactly that many decimals.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal, InvalidOperation

from babel import Locale
from babel.numbers import NumberFormatError, get_decimal_symbol, parse_decimal

from kanban import company, i18n
from kanban.i18n import _
from kanban.pricing import exponent

MAX_MAJOR = Decimal(10) ** 13
_SPACES = re.compile(r"[\s\u00a0\u202f_']")
_NOT_NUMBER = re.compile(r"[^\d.,\-]")
_PLAIN = re.compile(r"^\d+(\.\d+)?$")
_CODE_THEN_DIGIT = re.compile(r"^([A-Z]{3})(?=[\d-])")


def reader_locale() -> str:
    """The request's language (kanban.i18n.current_language when it exists), else the company's; en|fr|it."""
    current = getattr(i18n, "current_language", None)
    language = current() if callable(current) else None
    if language not in company.LANGUAGES:
        language = company.cached().language
    return language if language in company.LANGUAGES else "en"


def _locale(locale: str | None) -> Locale:
    try:
        return Locale.parse(locale or reader_locale())
    except (ValueError, TypeError):
        return Locale.parse("en")


def format_money(amount: int | None, currency: str, locale: str | None = None) -> str:
    """Minor units as the locale writes money: 875000 EUR → "8 750,00 €" (fr), 1000 JPY → "¥1,000" (en)."""
    code = (currency or "").upper()
    places = exponent(code)
    value = Decimal(int(amount or 0)).scaleb(-places)
    where = _locale(locale)
    pattern = copy.copy(where.currency_formats["standard"])
    pattern.frac_prec = (places, places)
    text = pattern.apply(value, where, currency=code, currency_digits=False)
    # CLDR puts a space between a letter code and the digits ("KWD 1.500"); Babel does not.
    return _CODE_THEN_DIGIT.sub("\\1\u00a0", text)


def format_amount(amount: int | None, currency: str, locale: str | None = None) -> str:
    """Minor units as the number a person types back into a form, no grouping: "8750,00" (fr), "8750.00" (en)."""
    places = exponent((currency or "").upper())
    value = Decimal(int(amount or 0)).scaleb(-places)
    return f"{value:.{places}f}".replace(".", get_decimal_symbol(_locale(locale)))


def parse_money(raw: str, currency: str, locale: str | None = None) -> int:
    """A typed amount ("8 750,5" fr, "8.750,50" it, "8,750.50" en, or plain "8750.50") as minor units of the
    currency; ValueError with a message for people when it is not a non-negative amount with at most the
    currency's decimals."""
    cleaned = _SPACES.sub("", raw or "")
    if not cleaned:
        return 0
    code = (currency or "").upper()
    value: Decimal | None = None
    if _NOT_NUMBER.search(cleaned):
        cleaned = "?"  # letters, exponents, NaN: not an amount
    try:
        value = parse_decimal(cleaned, locale=_locale(locale), strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        if _PLAIN.match(cleaned):
            value = Decimal(cleaned)
    if cleaned.startswith("-") or (value is not None and value < 0):
        raise ValueError(_("the amount cannot be negative"))
    if value is None or not value.is_finite():
        raise ValueError(_("enter an amount like %(example)s", example=format_amount(123450, code or "EUR", locale)))
    if value > MAX_MAJOR:
        raise ValueError(_("the amount is too large"))
    places = exponent(code)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(_("at most %(places)d decimals for %(currency)s", places=places, currency=code)
                         if places else _("%(currency)s has no decimals", currency=code))
    return int(value.scaleb(places))
