"""Friendly local times for pages: "today 14:05", "yesterday 09:12", "3 Dec", never seconds or "UTC"."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

from babel.dates import format_date

from kanban import clock, i18n, timezones
from kanban.i18n import _


def zone_of(user: Any) -> tzinfo:
    """The reader's time zone, as kanban.timezones (the one place that knows it) says."""
    return timezones.zone_of(user)


def local(value: datetime, zone: tzinfo) -> datetime:
    """An aware (or naive UTC, as SQLite returns it) datetime in the reader's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone)


def day_label(day: date, today: date) -> str:
    """"today", "tomorrow", "yesterday", "Mon 7 Dec" within a week, "3 Dec", or "3 Dec 2025" (month and day
    names in the current language, through Babel)."""
    delta = (day - today).days
    if delta == 0:
        return _("today")
    if delta == 1:
        return _("tomorrow")
    if delta == -1:
        return _("yesterday")
    locale = i18n.current_language()
    if 1 < delta < 7:
        return format_date(day, "EEE d MMM", locale=locale)
    return format_date(day, "d MMM" if day.year == today.year else "d MMM y", locale=locale)


def friendly(value: datetime | None, zone: tzinfo = UTC, now: datetime | None = None) -> str:
    """A timestamp as a person reads it: "today 14:05", "3 Dec 09:30", "3 Dec 2025"."""
    if value is None:
        return ""
    moment = local(value, zone)
    today = local(now or clock.now(), zone).date()
    label = day_label(moment.date(), today)
    if moment.year != today.year and not -1 <= (moment.date() - today).days < 7:
        return label  # an old date: the time of day no longer matters
    return f"{label} {moment:%H:%M}"


def friendly_date(value: date | None, now: datetime | None = None, zone: tzinfo = UTC) -> str:
    """A due date: "today", "tomorrow", "Fri 6 Dec", "3 Dec"."""
    if value is None:
        return ""
    return day_label(value, local(now or clock.now(), zone).date())


def iso(value: datetime | None) -> str:
    """The machine-readable form for <time datetime=...>."""
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def due(value: str | date | datetime | None, zone: tzinfo = UTC, now: datetime | None = None) -> str:
    """An activity's due moment (an ISO date, or date and time): "today", "today 14:30", "3 Dec"."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return friendly(value, zone, now)
    return friendly_date(value, now, zone)
