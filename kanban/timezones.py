"""The one place that turns UTC instants into a user's local dates and times (UTC until users have a zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from kanban import clock


def zone_of(user: Any = None) -> tzinfo:
    """The user's time zone; every user is on UTC until the locale issue gives them one."""
    return UTC


def local_now(user: Any = None) -> datetime:
    """Now, in the user's time zone."""
    return clock.now().astimezone(zone_of(user))


def today(user: Any = None) -> date:
    """Today's date where the user is."""
    return local_now(user).date()


def to_local(instant: datetime, user: Any = None) -> datetime:
    """A stored (UTC) instant in the user's time zone."""
    return instant.astimezone(zone_of(user))


def due_at(due_date: date, due_time: time | None, user: Any = None) -> str:
    """An activity's due moment as ISO 8601: the date alone, or the local date and time with its offset."""
    if due_time is None:
        return due_date.isoformat()
    return datetime.combine(due_date, due_time, tzinfo=zone_of(user)).isoformat()


def activity_state(due_date: date, done: bool, on: date) -> str:
    """done | overdue (due before `on`) | today | upcoming — by date, in the assignee's zone."""
    if done:
        return "done"
    if due_date < on:
        return "overdue"
    return "today" if due_date == on else "upcoming"


def add_business_days(start: date, days: int) -> date:
    """The date `days` working days (Monday to Friday) after `start`."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def next_weekday(start: date, weekday: int) -> date:
    """The first date after `start` falling on `weekday` (0 = Monday … 6 = Sunday)."""
    return start + timedelta(days=(weekday - start.weekday() - 1) % 7 + 1)
