"""Company settings (one row: language, time zone, currency, business days) and admin-entered exchange rates.

The row may be missing (a fresh database): then the defaults below apply. `settings(session)` reads it once per
transaction; pages and helpers without a session (kanban.timezones for a reader without a zone of their own) use
the copy this process read last, `cached()`, which every signed-in request refreshes.

Exchange rates say what one unit of a currency is worth in the company currency they were entered against
(`base`): after the company currency changes, rates entered against the old one no longer apply.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kanban import clock
from kanban.clock import now
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Base

LANGUAGES = ("en", "fr", "it")
ROW_ID = 1
MAX_RATE = Decimal(10) ** 9


class CompanySettings(Base):
    """The single row (id 1) of company-wide locale settings."""

    __tablename__ = "company_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(5))
    time_zone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    business_days: Mapped[list[Any]] = mapped_column()  # ISO weekdays, 1 = Monday … 7 = Sunday
    updated_at: Mapped[datetime] = mapped_column(default=now)


class ExchangeRate(Base):
    """1 `currency` = `rate` `base` (the company currency when the admin entered it), a decimal string."""

    __tablename__ = "exchange_rates"
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    base: Mapped[str] = mapped_column(String(3))
    rate: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(default=now)


@dataclass(frozen=True)
class Settings:
    """The company's settings as plain values."""

    language: str = "en"
    time_zone: str = "UTC"
    currency: str = "USD"
    business_days: tuple[int, ...] = (1, 2, 3, 4, 5)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def view(self) -> dict[str, Any]:
        """The API shape."""
        return {"language": self.language, "time_zone": self.time_zone, "currency": self.currency,
                "business_days": list(self.business_days)}


def defaults() -> Settings:
    """The settings of a company that saved none (KANBAN_LANGUAGE may pick the language)."""
    language = os.environ.get("KANBAN_LANGUAGE", "en")
    return Settings(language=language if language in LANGUAGES else "en")


_last: Settings | None = None
_last_read = 0.0  # time.monotonic() of the read that gave _last
FRESH_FOR = 5.0  # seconds a process trusts its copy: a change saved by another process applies within this
_INFO_KEY = "company_settings"


def cached() -> Settings:
    """The settings this process read last (defaults before any read): for helpers without a session."""
    return _last or defaults()


def forget() -> None:
    """Drop the process copy (a new runtime, or a test on a fresh database)."""
    global _last, _last_read
    _last, _last_read = None, 0.0


def _of(row: CompanySettings | None) -> Settings:
    if row is None:
        return defaults()
    return Settings(row.language, row.time_zone, row.currency, tuple(int(d) for d in row.business_days or ()))


def settings(session: Session | None) -> Settings:
    """The company settings: this process's copy while it is under FRESH_FOR seconds old (a save in this
    process replaces it at once), else read again; one answer per transaction either way."""
    global _last, _last_read
    if session is None:
        return cached()
    found = session.info.get(_INFO_KEY)
    if found is None:
        if _last is not None and time.monotonic() - _last_read < FRESH_FOR:
            found = _last
        else:
            found = _of(session.get(CompanySettings, ROW_ID))
            _last, _last_read = found, time.monotonic()
        session.info[_INFO_KEY] = found
    return found


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every IANA zone name the system knows."""
    return frozenset(available_timezones())


def check_time_zone(value: object, field: str = "time_zone") -> str:
    """An IANA time zone name ("Europe/Paris"); ValidationError naming `field` otherwise."""
    if not isinstance(value, str) or value not in zone_names():
        raise ValidationError(_("%(value)s is not an IANA time zone", value=repr(value)),
                              {field: _("an IANA time zone name such as Europe/Paris")})
    return value


def _business_days(value: object, errors: dict[str, str]) -> tuple[int, ...]:
    ok = isinstance(value, list) and value and all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7
                                                   for d in value)
    if not ok or len(set(value)) != len(value):  # type: ignore[arg-type]
        errors["business_days"] = _("a list of distinct ISO weekdays, 1 (Monday) to 7 (Sunday), at least one")
        return ()
    return tuple(sorted(value))  # type: ignore[arg-type]


def update(session: Session, data: dict[str, Any]) -> Settings:
    """Change some settings (admin); ValidationError naming every bad field, nothing saved then."""
    from kanban.pricing import check_currency

    current = settings(session)
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - {"language", "time_zone", "currency", "business_days"})
    for name in unknown:
        errors[name] = _("unknown setting")
    new = current
    if "language" in data:
        if data["language"] not in LANGUAGES:
            errors["language"] = _("one of en, fr, it")
        else:
            new = replace(new, language=data["language"])
    if "time_zone" in data:
        try:
            new = replace(new, time_zone=check_time_zone(data["time_zone"]))
        except ValidationError as exc:
            errors.update(exc.fields or {})
    if "currency" in data:
        try:
            new = replace(new, currency=check_currency(data["currency"]))
        except ValidationError as exc:
            errors.update(exc.fields or {})
    if "business_days" in data:
        new = replace(new, business_days=_business_days(data["business_days"], errors))
    if errors:
        raise ValidationError(_("invalid settings"), errors)
    row = session.get(CompanySettings, ROW_ID)
    if row is None:
        row = CompanySettings(id=ROW_ID)
        session.add(row)
    row.language, row.time_zone, row.currency = new.language, new.time_zone, new.currency
    row.business_days = list(new.business_days)
    row.updated_at = clock.now()
    session.flush()
    global _last
    session.info[_INFO_KEY] = _last = new
    return new


# --- exchange rates ---------------------------------------------------------------------------------------------

def parse_rate(value: object, field: str = "rate") -> Decimal:
    """A positive decimal (a JSON number or a string such as "1.0842"); ValidationError otherwise."""
    try:
        rate = Decimal(str(value).strip().replace(",", ".")) if isinstance(value, (int, float, str)) \
            and not isinstance(value, bool) else None
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate <= 0 or rate > MAX_RATE or len(str(value)) > 30:
        raise ValidationError(_("the rate is a positive number"), {field: _("a positive number such as 1.0842")})
    return rate.normalize()


def rates(session: Session) -> dict[str, Decimal]:
    """Rates that apply now: 1 currency = rate company-currency (only those entered against it)."""
    base = settings(session).currency
    rows = session.scalars(select(ExchangeRate).where(ExchangeRate.base == base))
    return {row.currency: Decimal(row.rate) for row in rows}


def rate_rows(session: Session) -> list[ExchangeRate]:
    """Every stored rate, by currency."""
    return list(session.scalars(select(ExchangeRate).order_by(ExchangeRate.currency)))


def rate_view(row: ExchangeRate) -> dict[str, Any]:
    """The API shape of a rate."""
    return {"currency": row.currency, "base": row.base, "rate": row.rate, "updated_at": row.updated_at}


def set_rate(session: Session, currency: object, rate: object) -> ExchangeRate:
    """Enter (or replace) the rate of a currency against the company currency."""
    from kanban.pricing import check_currency

    errors: dict[str, str] = {}
    code, value = None, None
    try:
        code = check_currency(currency)
    except ValidationError as exc:
        errors.update(exc.fields or {})
    try:
        value = parse_rate(rate)
    except ValidationError as exc:
        errors.update(exc.fields or {})
    base = settings(session).currency
    if code is not None and code == base:
        errors["currency"] = _("this is the company currency (its rate is 1)")
    if errors or code is None or value is None:
        raise ValidationError(_("invalid exchange rate"), errors)
    row = session.get(ExchangeRate, code)
    if row is None:
        row = ExchangeRate(currency=code)
        session.add(row)
    row.base, row.rate, row.updated_at = base, format(value, "f"), clock.now()
    session.flush()
    return row


def delete_rate(session: Session, currency: str) -> None:
    """Remove a currency's rate; NotFoundError when there is none."""
    row = session.get(ExchangeRate, (currency or "").upper())
    if row is None:
        raise NotFoundError(_("no exchange rate for %(currency)s", currency=currency))
    session.delete(row)
    session.flush()


@dataclass(frozen=True)
class Converted:
    """A column's sums in the company currency: the total of what could be converted, and what could not."""

    currency: str
    total: int
    missing: tuple[str, ...]


def convert(sums: list[tuple[str, int]], currency: str, table: dict[str, Decimal]) -> Converted:
    """Per-currency sums (minor units) as one total in `currency` (minor units, half-up per currency)."""
    from kanban.pricing import exponent, round_half_up

    total, missing = 0, []
    for code, amount in sums:
        if code == currency:
            total += int(amount)
            continue
        rate = table.get(code)
        if rate is None:
            missing.append(code)
            continue
        major_amount = Decimal(int(amount)).scaleb(-exponent(code)) * rate
        total += round_half_up(major_amount.scaleb(exponent(currency)))
    return Converted(currency, total, tuple(missing))
